"""Per-thread conversation history in Redis: turns, engagement, template and answer order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot import keys
from bot.models import FileRef, ThreadRef, Turn

# How long a process may take to put an admitted turn on the stream (normally milliseconds).
# Past it, the process is taken for dead: a redelivery takes over the turn, and later turns
# stop waiting for it. Well under Slack's 3 s ack timeout, so a retry that waits it out is
# still acknowledged in time.
ENQUEUE_LEASE_MS = 1500

# Mark the request seen and take its ticket in one step, in the thread's hash slot. The
# mark holds the ticket until the job is on the stream ("queued"); a meta field
# `enqueuing:TICKET` holds the lease's deadline (server clock, ms) meanwhile.
# KEYS: seen mark, meta. ARGV: mark TTL s, meta TTL s, accept (0/1), lease ms.
_ADMIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local mark = redis.call('GET', KEYS[1])
if mark == 'queued' then return {'duplicate', 0} end
local ticket
if mark then
  ticket = tonumber(mark)
  local lease = tonumber(redis.call('HGET', KEYS[2], 'enqueuing:' .. ticket) or '0')
  if lease > now then return {'busy', ticket} end
else
  ticket = redis.call('HINCRBY', KEYS[2], 'tickets', 1)
  redis.call('SET', KEYS[1], ticket, 'EX', ARGV[1])
end
if ARGV[3] == '1' then redis.call('HSET', KEYS[2], 'accepted', 1) end
redis.call('HSET', KEYS[2], 'enqueuing:' .. ticket, string.format('%d', now + tonumber(ARGV[4])))
redis.call('EXPIRE', KEYS[2], ARGV[2])
if mark then return {'resumed', ticket} end
return {'new', ticket}
"""

# The highest ticket the turn with ARGV[1] need not wait for: served, then any tickets
# right after it whose enqueue lease ran out (their job never reached the stream).
# KEYS: meta. ARGV: the waiting turn's ticket.
_SETTLED = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local settled = tonumber(redis.call('HGET', KEYS[1], 'served') or '0')
local ticket = tonumber(ARGV[1])
while settled + 1 < ticket do
  local lease = redis.call('HGET', KEYS[1], 'enqueuing:' .. (settled + 1))
  if not lease or tonumber(lease) > now then break end
  settled = settled + 1
end
return settled
"""


Outcome = Literal["new", "resumed", "duplicate", "busy"]


@dataclass(frozen=True)
class Admission:
    """What taking a request's ticket found: a new turn, a duplicate, or an unfinished one."""

    # new: first delivery; resumed: an earlier delivery took the ticket and never queued the
    # job (so this one queues it); busy: an earlier delivery is queueing it right now.
    outcome: Outcome
    ticket: int


class ThreadHistory:
    """What the bot remembers of each thread, kept for `ttl_seconds` after the last turn."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self._admit = redis.register_script(_ADMIT)
        self._settled = redis.register_script(_SETTLED)

    async def turns(self, thread: ThreadRef) -> list[Turn]:
        """The thread's turns, oldest first."""
        raw = await self.redis.lrange(keys.turns(thread), 0, -1)
        return [Turn.model_validate_json(item) for item in raw]

    async def record_exchange(
        self, thread: ThreadRef, question: Turn, answer: Turn, *, answered: str
    ) -> None:
        """Save a question and its answer together and refresh the thread's TTL."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(keys.turns(thread), question.model_dump_json(), answer.model_dump_json())
            self._answered(pipe, thread, answered)
            await pipe.execute()
        await self._remember_uploads(thread, question)

    async def replace(
        self, thread: ThreadRef, turns: list[Turn], *, answered: str | None = None
    ) -> None:
        """Rewrite the thread's turns (a re-answer, or files re-uploaded under new ids)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.turns(thread))
            if turns:
                pipe.rpush(keys.turns(thread), *(t.model_dump_json() for t in turns))
            self._answered(pipe, thread, answered)
            await pipe.execute()
        for turn in turns:
            await self._remember_uploads(thread, turn)

    def _answered(self, pipe: Pipeline, thread: ThreadRef, answered: str | None) -> None:
        pipe.hset(keys.meta(thread), mapping={"engaged": 1, "seeded": 1})
        if answered:
            pipe.hset(keys.meta(thread), f"answered:{answered}", 1)
        for key in keys.thread_keys(thread):
            pipe.expire(key, self.ttl)

    async def _remember_uploads(self, thread: ThreadRef, turn: Turn) -> None:
        """Note which uploads the thread uses, so forgetting it can delete the unshared ones."""
        for ref in turn.files:
            if ref.url:
                continue  # a link: nothing stored anywhere
            key = keys.upload_threads(thread.team_id, ref.sha256)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.sadd(key, keys.thread_tag(thread))
                pipe.expire(key, self.ttl)
                await pipe.execute()

    async def is_engaged(self, thread: ThreadRef) -> bool:
        """Whether the bot has answered in this thread."""
        return bool(await self.redis.hexists(keys.meta(thread), "engaged"))

    async def takes_follow_ups(self, thread: ThreadRef) -> bool:
        """Whether messages in this thread need no mention: answered, or a turn accepted."""
        values = await self.redis.hmget(keys.meta(thread), ["engaged", "accepted"])
        return any(values)

    async def unaccept(self, thread: ThreadRef) -> None:
        """Stop taking follow-ups in a thread where the bot has not answered after all."""
        if not await self.is_engaged(thread):
            await self.redis.hdel(keys.meta(thread), "accepted")

    async def is_seeded(self, thread: ThreadRef) -> bool:
        """Whether the thread's earlier Slack messages have already been read (or forgotten)."""
        return bool(await self.redis.hexists(keys.meta(thread), "seeded"))

    async def was_answered(self, thread: ThreadRef, key: str) -> bool:
        """Whether this request already has its answer (a redelivered job is then a no-op)."""
        return bool(await self.redis.hexists(keys.meta(thread), f"answered:{key}"))

    async def template(self, thread: ThreadRef) -> str | None:
        """The template chosen in the thread, if any."""
        value = await self.redis.hget(keys.meta(thread), "template")
        return str(value) if value else None

    async def set_template(self, thread: ThreadRef, name: str) -> None:
        """Make `name` the thread's template for follow-ups."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.meta(thread), "template", name)
            pipe.expire(keys.meta(thread), self.ttl)
            await pipe.execute()

    async def admit(self, thread: ThreadRef, request_key: str, *, accept: bool) -> Admission:
        """Mark the request seen and take its turn's ticket, atomically.

        `accept` opens the thread to follow-ups at once. The caller puts the job on the
        stream, then calls `queued`, or `abandon` if it could not.
        """
        # Accepting now, not when the answer is saved, queues a reply posted while the first
        # answer is still being written behind it, instead of dropping it.
        marks = [keys.seen(thread, request_key), keys.meta(thread)]
        args = [keys.SEEN_TTL_SECONDS, self.ttl, int(accept), ENQUEUE_LEASE_MS]
        outcome, ticket = await self._admit(keys=marks, args=args)
        return Admission(outcome=cast(Outcome, str(outcome)), ticket=int(ticket))

    async def queued(self, thread: ThreadRef, request_key: str, ticket: int) -> None:
        """Record that the admitted job is on the stream: its redeliveries are duplicates."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.seen(thread, request_key), "queued", ex=keys.SEEN_TTL_SECONDS)
            pipe.hdel(keys.meta(thread), f"enqueuing:{ticket}")
            await pipe.execute()

    async def abandon(self, thread: ThreadRef, request_key: str, ticket: int) -> None:
        """Drop an admitted job that could not be queued: let redeliveries in, skip its ticket."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.seen(thread, request_key))
            pipe.hset(keys.meta(thread), f"enqueuing:{ticket}", 0)  # a lease already over
            await pipe.execute()

    async def is_due(self, thread: ThreadRef, ticket: int) -> bool:
        """Whether every earlier turn of the thread is done or will never be queued."""
        settled = await self._settled(keys=[keys.meta(thread)], args=[ticket])
        return ticket <= int(settled) + 1

    async def served(self, thread: ThreadRef) -> int:
        """The highest ticket whose turn has been handled."""
        return int(await self.redis.hget(keys.meta(thread), "served") or 0)

    async def mark_served(self, thread: ThreadRef, ticket: int) -> None:
        """Record that the turn with this ticket is done (only the lock holder calls this)."""
        if ticket > await self.served(thread):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(keys.meta(thread), "served", ticket)
                pipe.expire(keys.meta(thread), self.ttl)
                await pipe.execute()

    async def forget(self, thread: ThreadRef, *, answered: str) -> list[FileRef]:
        """Delete the thread's turns and choices; the stored files no thread uses now.

        The thread stays marked as read, so what was posted before is not read again, and
        its ticket counters stay, so turns queued behind this one keep their order.
        """
        refs = {r.sha256: r for t in await self.turns(thread) for r in t.files if not r.url}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.turns(thread))
            pipe.hdel(keys.meta(thread), "engaged", "accepted", "template")
            pipe.hset(keys.meta(thread), mapping={"seeded": 1, f"answered:{answered}": 1})
            pipe.expire(keys.meta(thread), self.ttl)
            await pipe.execute()
        unused = []
        for sha, ref in sorted(refs.items()):
            if not await self._still_used(thread, sha):
                unused.append(ref)
        return unused

    async def _still_used(self, forgotten: ThreadRef, sha256: str) -> bool:
        key = keys.upload_threads(forgotten.team_id, sha256)
        await self.redis.srem(key, keys.thread_tag(forgotten))
        for tag in await self.redis.smembers(key):
            if await self.redis.exists(keys.turns_by_tag(str(tag))):
                return True
            await self.redis.srem(key, tag)  # that thread has expired
        return False
