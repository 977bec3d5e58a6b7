"""Queue a request in one Redis round trip: the gate's checks, its ticket, the stream, the mark."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from redis.asyncio import Redis

from bot.models import Job
from bot.store import keys
from bot.store.rate import WINDOW_MS
from bot.store.thread_order import ENQUEUE_LEASE_MS
from bot.store.waiting import CAP_ADD, CAP_CHECK, lua, member

# Everything ThreadOrder.admit, TurnQueue.push and ThreadOrder.queued do, with Gate's checks
# first (the bot off in the channel, the question rate, the asker's cap), as one script. Its
# keys span several hash slots, so it serves a single Redis server (or Sentinel's primary)
# only; on Redis Cluster, Intake takes the recoverable two-step path instead.
# Nothing is written before the XADD succeeds (a script's writes are not undone when a later
# command fails), so a failed XADD leaves no ticket and no mark: Slack's retry gets in.
# A mark holding a ticket is a two-step delivery's (a process that died, or one on
# Cluster before a migration): taken over once its lease is over, as ThreadOrder.admit does.
# The stream entry's fields are TurnQueue.push's: `job` (JSON) and `ticket`.
_ADMIT = (
    """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local mark = redis.call('GET', KEYS[1])
if mark == 'queued' then return {'duplicate', 0} end
local ticket
local asker = ARGV[7] ~= ''
if mark then
  ticket = tonumber(mark)
  local lease = tonumber(redis.call('HGET', KEYS[2], 'enqueuing:' .. ticket) or '0')
  if lease > now then return {'busy', ticket} end
  asker = false  -- the earlier delivery passed the gate and counted the question
else
  if ARGV[5] == '1' and redis.call('HGET', KEYS[4], 'off') == '1' then
    if redis.call('SET', KEYS[5], 1, 'NX', 'EX', ARGV[6]) then return {'off', 1} end
    return {'off', 0}
  end
  if asker and tonumber(ARGV[9]) > 0 then
    local window = tonumber(ARGV[10])
    redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now - window)
    if not redis.call('ZSCORE', KEYS[6], ARGV[8])
        and redis.call('ZCARD', KEYS[6]) >= tonumber(ARGV[9]) then
      if redis.call('SET', KEYS[7], 1, 'NX', 'PX', window) then return {'rate', 1} end
      return {'rate', 0}
    end
  end
  if asker then
"""
    + lua(CAP_CHECK, WAITING=8, TOLD=9, CAP=11, MEMBER=12, STALE_MS=13, TOLD_TTL=14)
    + """
    if capped then
      -- Asked, so counted in the rate: a flood of capped questions stays bounded in notes.
      if tonumber(ARGV[9]) > 0 then
        redis.call('ZADD', KEYS[6], 'NX', now, ARGV[8])
        redis.call('PEXPIRE', KEYS[6], ARGV[10])
      end
      return {'capped', told and 1 or 0}
    end
  end
  ticket = tonumber(redis.call('HGET', KEYS[2], 'tickets') or '0') + 1
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[15], '*', 'job', ARGV[16], 'ticket', ticket)
redis.call('SET', KEYS[1], 'queued', 'EX', ARGV[1])
if mark then
  redis.call('HDEL', KEYS[2], 'enqueuing:' .. ticket)
else
  redis.call('HSET', KEYS[2], 'tickets', ticket)
end
if ARGV[3] == '1' then redis.call('HSET', KEYS[2], 'accepted', 1) end
redis.call('EXPIRE', KEYS[2], ARGV[2])
if asker then
  if tonumber(ARGV[9]) > 0 then
    redis.call('ZADD', KEYS[6], 'NX', now, ARGV[8])
    redis.call('PEXPIRE', KEYS[6], ARGV[10])
  end
"""
    + lua(CAP_ADD, WAITING=8, CAP=11, MEMBER=12, STALE_MS=13)
    + """
end
if mark then return {'resumed', ticket} end
return {'new', ticket}
"""
)

# new, resumed: queued now (see thread_order.Admission); duplicate: queued before; busy:
# another delivery is queueing it; off, rate, capped: turned away by the gate's checks.
Outcome = Literal["new", "resumed", "duplicate", "busy", "off", "rate", "capped"]


@dataclass(frozen=True)
class Checks:
    """What the gate wants checked before a job is queued."""

    channel_off: bool  # whether the bot is off in the job's channel
    asker: str | None  # whose question rate and cap to count, if anyone's


@dataclass(frozen=True)
class Admitted:
    """What queueing found: the outcome, and the ticket or whether to tell the asker."""

    outcome: Outcome
    ticket: int = 0
    tell: bool = False


class OneStepAdmission:
    """Intake's round trip on a single Redis server: checks, ticket, stream entry, mark."""

    def __init__(self, redis: Redis, ttl_seconds: int, *, per_minute: int, cap: int) -> None:
        self.ttl = ttl_seconds
        self.per_minute = per_minute
        self.cap = cap
        self._admit = redis.register_script(_ADMIT)

    async def admit(self, job: Job, checks: Checks, *, accept: bool) -> Admitted:
        """Queue the job unless a check turns it away or it was queued before."""
        thread, user = job.thread, checks.asker or ""
        script_keys = [
            keys.seen(thread, job.request_key),
            keys.meta(thread),
            keys.STREAM,
            keys.channel(job.team_id, job.channel_id),
            keys.off_note(thread),
            keys.question_rate(job.team_id, user),
            keys.rate_warned(job.team_id, user),
            keys.waiting(job.team_id, user),
            keys.waiting_told(job.team_id, user, job.request_key),
        ]
        args: list[str | int] = [
            keys.SEEN_TTL_SECONDS,
            self.ttl,
            int(accept),
            ENQUEUE_LEASE_MS,
            int(checks.channel_off),
            keys.SEEN_TTL_SECONDS,
            user,
            job.request_key,
            self.per_minute,
            WINDOW_MS,
            self.cap,
            member(job),
            keys.WAITING_STALE_SECONDS * 1000,
            keys.WAITING_TOLD_TTL_SECONDS,
            keys.STREAM_MAXLEN,
            job.model_dump_json(),
        ]
        outcome, detail = await self._admit(keys=script_keys, args=args)
        outcome = cast(Outcome, str(outcome))
        if outcome in ("off", "rate", "capped"):
            return Admitted(outcome, tell=bool(int(detail)))
        return Admitted(outcome, ticket=int(detail))
