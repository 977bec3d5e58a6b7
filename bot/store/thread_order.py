"""One turn at a time per thread, in arrival order, across every bot process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal, cast

from redis.asyncio import Redis
from redis.asyncio.lock import Lock

from bot.models import ThreadRef
from bot.store import keys

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.05

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


# KEYS: meta. ARGV: ticket, meta TTL s.
_SERVED = """
if tonumber(redis.call('HGET', KEYS[1], 'served') or '0') < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'served', ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
"""

Outcome = Literal["new", "resumed", "duplicate", "busy"]


@dataclass(frozen=True)
class Admission:
    """What taking a request's ticket found: a new turn, a duplicate, or an unfinished one."""

    # new: first delivery; resumed: an earlier delivery took the ticket and never queued the
    # job (so this one queues it); busy: an earlier delivery is queueing it right now.
    outcome: Outcome
    ticket: int


class ThreadOrder:
    """Each thread's arrival tickets: which requests were seen, and whose turn it is."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self._admit = redis.register_script(_ADMIT)
        self._settled = redis.register_script(_SETTLED)
        self._served = redis.register_script(_SERVED)

    async def admit(self, thread: ThreadRef, request_key: str, *, accept: bool) -> Admission:
        """Mark the request seen and take its turn's ticket, atomically."""
        # `accept` opens the thread to follow-ups at once. The caller puts the job on the
        # stream, then calls `queued`, or `abandon` if it could not.
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
        """Record that the turn with this ticket is done; `served` never goes back."""
        # One script: a given-up turn (no lock held) must not undo a later turn's mark.
        await self._served(keys=[keys.meta(thread)], args=[ticket, self.ttl])


@contextlib.asynccontextmanager
async def turn_slot(
    order: ThreadOrder,
    thread: ThreadRef,
    ticket: int,
    *,
    lock_seconds: float,
    order_wait_seconds: float,
    parked: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
) -> AsyncIterator[None]:
    """Hold the thread's lock for the turn with `ticket`, after the turns before it."""
    # A ticket whose job never reached the queue is skipped once its enqueue lease is
    # over (see `Intake.enqueue`); a turn whose predecessor never shows up for another
    # reason waits at most `order_wait_seconds`, so one lost job can't stall a thread.
    # While it waits for another turn of its thread, the turn is `parked`: it holds none
    # of its process's answer slots.
    lock = order.redis.lock(keys.lock(thread), timeout=lock_seconds, sleep=POLL_SECONDS)
    deadline = time.monotonic() + order_wait_seconds
    if not await _take_if_due(order, lock, thread, ticket, deadline):
        with parked():
            while True:  # the lock and the tickets live in Redis, shared by processes: polled
                await asyncio.sleep(POLL_SECONDS)
                if await _take_if_due(order, lock, thread, ticket, deadline):
                    break
    keeper = asyncio.create_task(_keep(lock, lock_seconds))
    served = True
    try:
        yield
    except asyncio.CancelledError:
        # Shutting down mid-turn: the job stays pending and another process answers it
        # with this ticket, so the turns behind it must keep waiting for that answer.
        served = False
        raise
    finally:
        keeper.cancel()
        try:
            if served:
                await order.mark_served(thread, ticket)
        finally:
            with contextlib.suppress(Exception):  # an expired lock is released already
                await lock.release()


async def _take_if_due(
    order: ThreadOrder, lock: Lock, thread: ThreadRef, ticket: int, deadline: float
) -> bool:
    """Take the thread's lock if it is free and the turn's due; True if it is now held."""
    if not await lock.acquire(blocking=False):
        return False
    try:
        due = await order.is_due(thread, ticket) or time.monotonic() > deadline
    except BaseException:
        # Don't make the thread's next turn wait out the lock for this one's failure.
        with contextlib.suppress(Exception):
            await lock.release()
        raise
    if not due:
        await lock.release()
    return due


async def _keep(lock: Lock, lock_seconds: float) -> None:
    """Extend the lock while a long answer streams, so it never lapses mid-turn."""
    while True:
        await asyncio.sleep(lock_seconds / 3)
        try:
            await lock.extend(lock_seconds, replace_ttl=True)
        except Exception:
            logger.warning("could not extend a thread lock", exc_info=True)
            return
