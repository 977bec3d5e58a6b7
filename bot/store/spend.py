"""What each workspace spends on Claude: counters by day and month, and reservations for the
answers still running, checked against the limits in one atomic step across every process."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Literal, cast

from redis.asyncio import Redis

from bot.store import keys

# Which limit a question ran into, the one that lasts longest first: a question blocked by
# several is told about the one that still blocks it after the others reset.
LimitName = Literal["month", "day", "channel", "person"]
RANKINGS = ("channel", "person", "template")

# Drop expired reservations, add up the live ones (all, this person's, this channel's), check
# every limit against spent + reserved, and reserve this answer's estimate if all pass.
# KEYS: holds, day totals, month totals, day's person ranking, day's channel ranking.
# ARGV: now ms, hold id, person, channel, default estimate µ$, hold TTL ms, then the limits
# in µ$ (-1: none): month, day, channel, person.
_RESERVE = """
local now = tonumber(ARGV[1])
local all, mine, here = 0, 0, 0
local holds = redis.call('HGETALL', KEYS[1])
for i = 1, #holds, 2 do
  local amount, person, channel, expires =
    string.match(holds[i + 1], '^(%d+) (%S*) (%S*) (%d+)$')
  if (not amount) or tonumber(expires) <= now then
    redis.call('HDEL', KEYS[1], holds[i])
  else
    amount = tonumber(amount)
    all = all + amount
    if person == ARGV[3] then mine = mine + amount end
    if channel == ARGV[4] then here = here + amount end
  end
end
local month = redis.call('HMGET', KEYS[3], 'cost', 'answers')
local month_cost = tonumber(month[1] or '0')
local answers = tonumber(month[2] or '0')
local checks = {
  {'month', month_cost + all, ARGV[7]},
  {'day', tonumber(redis.call('HGET', KEYS[2], 'cost') or '0') + all, ARGV[8]},
  {'channel', tonumber(redis.call('ZSCORE', KEYS[5], ARGV[4]) or '0') + here, ARGV[9]},
  {'person', tonumber(redis.call('ZSCORE', KEYS[4], ARGV[3]) or '0') + mine, ARGV[10]},
}
for _, check in ipairs(checks) do
  local limit = tonumber(check[3])
  if limit >= 0 and check[2] >= limit then
    return {check[1], string.format('%d', check[2]), string.format('%d', limit)}
  end
end
local estimate = tonumber(ARGV[5])
if answers > 0 then estimate = math.max(1, math.floor(month_cost / answers)) end
redis.call('HSET', KEYS[1], ARGV[2],
  string.format('%d %s %s %d', estimate, ARGV[3], ARGV[4], now + tonumber(ARGV[6])))
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {'ok', string.format('%d', estimate), '0'}
"""

# Replace the reservation by the answer's real cost in every counter; the new day and month
# totals.
# KEYS: holds, day totals, month totals, day rankings (channel, person, template), month
# rankings (the same), the person's day, the person's month.
# ARGV: hold id, cost µ$, channel, person ('' for none), template, day TTL s, month TTL s,
# then token kind, count pairs.
_SETTLE = """
redis.call('HDEL', KEYS[1], ARGV[1])
local cost, person, template = ARGV[2], ARGV[4], ARGV[5]
local members = {ARGV[3], person, template}
for p = 0, 1 do
  local totals = KEYS[2 + p]
  redis.call('HINCRBY', totals, 'cost', cost)
  redis.call('HINCRBY', totals, 'answers', 1)
  for j = 8, #ARGV, 2 do redis.call('HINCRBY', totals, ARGV[j], ARGV[j + 1]) end
  for r = 1, 3 do
    if members[r] ~= '' then redis.call('ZINCRBY', KEYS[4 + 3 * p + r - 1], cost, members[r]) end
  end
  if person ~= '' then
    local own = KEYS[10 + p]
    redis.call('HINCRBY', own, template .. ':cost', cost)
    redis.call('HINCRBY', own, template .. ':answers', 1)
    for j = 8, #ARGV, 2 do redis.call('HINCRBY', own, template .. ':' .. ARGV[j], ARGV[j + 1]) end
  end
  local ttl = ARGV[6 + p]
  for _, key in ipairs({totals, KEYS[4 + 3 * p], KEYS[5 + 3 * p], KEYS[6 + 3 * p], KEYS[10 + p]}) do
    redis.call('EXPIRE', key, ttl)
  end
end
return {redis.call('HGET', KEYS[2], 'cost'), redis.call('HGET', KEYS[3], 'cost')}
"""


@dataclass(frozen=True)
class Limits:
    """The limits a question is checked against, in µ$ (None: no such limit)."""

    month: int | None = None
    day: int | None = None
    channel: int | None = None
    person: int | None = None


@dataclass(frozen=True)
class Periods:
    """The UTC day (YYYY-MM-DD) and month (YYYY-MM) spend is counted in."""

    day: str
    month: str


@dataclass(frozen=True)
class Hold:
    """An answer's reservation: what it was checked against and counts under."""

    team_id: str
    hold_id: str
    channel: str
    person: str
    periods: Periods
    estimate: int


@dataclass(frozen=True)
class Refused:
    """The limit a question ran into: its name, the spend counted against it, the limit."""

    limit: LimitName
    spent: int
    cap: int


@dataclass(frozen=True)
class Totals:
    """A period's totals: cost (µ$), answers and tokens by kind."""

    cost: int = 0
    answers: int = 0
    tokens: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Ranked:
    """Top spenders of a period by channel, person and template: (id, µ$), largest first."""

    channel: list[tuple[str, int]] = field(default_factory=list)
    person: list[tuple[str, int]] = field(default_factory=list)
    template: list[tuple[str, int]] = field(default_factory=list)


class SpendLedger:
    """Spend counters and reservations of every workspace, in Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._reserve = redis.register_script(_RESERVE)
        self._settle = redis.register_script(_SETTLE)

    async def reserve(
        self,
        team_id: str,
        *,
        channel: str,
        person: str,
        periods: Periods,
        limits: Limits,
        default_estimate: int,
    ) -> Hold | Refused:
        """Check every limit against spend plus reservations and, if none is reached, reserve
        an answer's estimated cost (the month's mean so far), atomically."""
        hold_id = uuid.uuid4().hex
        now_ms = int(time.time() * 1000)
        args: list[str | int] = [now_ms, hold_id, person, channel, default_estimate]
        args.append(keys.HOLD_TTL_SECONDS * 1000)
        args += [-1 if v is None else v for v in (limits.month, limits.day)]
        args += [-1 if v is None else v for v in (limits.channel, limits.person)]
        outcome, amount, cap = await self._reserve(
            keys=[
                keys.spend_holds(team_id),
                keys.spend(team_id, periods.day),
                keys.spend(team_id, periods.month),
                keys.spend_ranking(team_id, periods.day, "person"),
                keys.spend_ranking(team_id, periods.day, "channel"),
            ],
            args=args,
        )
        if outcome != "ok":
            return Refused(cast(LimitName, str(outcome)), int(amount), int(cap))
        return Hold(team_id, hold_id, channel, person, periods, int(amount))

    async def release(self, hold: Hold) -> None:
        """Drop a reservation whose answer failed or was cut short: it cost nothing counted."""
        await self.redis.hdel(keys.spend_holds(hold.team_id), hold.hold_id)

    async def settle(
        self, hold: Hold, *, cost: int, template: str, tokens: dict[str, int]
    ) -> tuple[int, int]:
        """Count a finished answer's real cost instead of its reservation; the workspace's
        new day and month totals (µ$)."""
        team, day, month = hold.team_id, hold.periods.day, hold.periods.month
        rankings = [keys.spend_ranking(team, p, by) for p in (day, month) for by in RANKINGS]
        args: list[str | int] = [hold.hold_id, cost, hold.channel, hold.person, template]
        args += [keys.SPEND_DAY_TTL_SECONDS, keys.SPEND_MONTH_TTL_SECONDS]
        for kind, count in tokens.items():
            args += [kind, count]
        day_total, month_total = await self._settle(
            keys=[
                keys.spend_holds(team),
                keys.spend(team, day),
                keys.spend(team, month),
                *rankings,
                keys.spend_person(team, day, hold.person or "-"),
                keys.spend_person(team, month, hold.person or "-"),
            ],
            args=args,
        )
        return int(day_total or 0), int(month_total or 0)

    async def first_warning(self, team_id: str, period: str, percent: int) -> bool:
        """True for the one caller, of all processes, that is to warn about this threshold."""
        ttl = keys.SPEND_MONTH_TTL_SECONDS
        marked = await self.redis.set(
            keys.spend_warned(team_id, period, percent), 1, nx=True, ex=ttl
        )
        return bool(marked)

    async def totals(self, team_id: str, period: str) -> Totals:
        """A workspace's totals for a day or month."""
        return _totals(cast(dict[str, str], await self.redis.hgetall(keys.spend(team_id, period))))

    async def top(self, team_id: str, period: str, count: int = 10) -> Ranked:
        """The `count` largest spenders of a period by channel, person and template."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for by in RANKINGS:
                pipe.zrevrange(
                    keys.spend_ranking(team_id, period, by), 0, count - 1, withscores=True
                )
            found = await pipe.execute()
        ranked = [[(str(m), int(s)) for m, s in rows] for rows in found]
        return Ranked(*ranked)

    async def person(self, team_id: str, period: str, user_id: str) -> dict[str, Totals]:
        """One person's use over a period, by template."""
        key = keys.spend_person(team_id, period, user_id)
        fields = cast(dict[str, str], await self.redis.hgetall(key))
        by_template: dict[str, dict[str, str]] = {}
        for name, value in fields.items():
            template, _, what = str(name).rpartition(":")
            by_template.setdefault(template, {})[what] = value
        return {t: _totals(values) for t, values in by_template.items()}

    async def reserved(self, team_id: str) -> int:
        """What the answers running now have reserved (µ$), expired reservations left out."""
        now_ms = int(time.time() * 1000)
        total = 0
        for value in (await self.redis.hgetall(keys.spend_holds(team_id))).values():
            amount, _, _, expires = str(value).split(" ")
            if int(expires) > now_ms:
                total += int(amount)
        return total


def _totals(fields: dict[str, str]) -> Totals:
    tokens = {k: int(v) for k, v in fields.items() if k not in ("cost", "answers")}
    return Totals(int(fields.get("cost", 0)), int(fields.get("answers", 0)), tokens)
