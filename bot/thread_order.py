"""One turn at a time per thread, in arrival order, across every bot process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

from redis.asyncio import Redis
from redis.asyncio.lock import Lock

from bot import keys
from bot.history import ThreadHistory
from bot.models import ThreadRef

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.05


@contextlib.asynccontextmanager
async def turn_slot(
    redis: Redis,
    history: ThreadHistory,
    thread: ThreadRef,
    ticket: int,
    *,
    lock_seconds: float,
    order_wait_seconds: float,
) -> AsyncIterator[None]:
    """Hold the thread's lock for the turn with `ticket`, after the turns before it.

    A ticket whose job never reached the queue is skipped once its enqueue lease is over
    (see `Intake.enqueue`); a turn whose predecessor never shows up for another reason waits
    at most `order_wait_seconds`, so one lost job cannot stall a thread forever.
    """
    lock = redis.lock(keys.lock(thread), timeout=lock_seconds, sleep=POLL_SECONDS)
    deadline = time.monotonic() + order_wait_seconds
    while True:
        await lock.acquire()
        try:
            due = await history.is_due(thread, ticket) or time.monotonic() > deadline
        except BaseException:
            # Don't make the thread's next turn wait out the lock for this one's failure.
            with contextlib.suppress(Exception):
                await lock.release()
            raise
        if due:
            break
        await lock.release()
        await asyncio.sleep(POLL_SECONDS)
    keeper = asyncio.create_task(_keep(lock, lock_seconds))
    try:
        yield
    finally:
        keeper.cancel()
        try:
            await history.mark_served(thread, ticket)
        finally:
            with contextlib.suppress(Exception):  # an expired lock is released already
                await lock.release()


async def _keep(lock: Lock, lock_seconds: float) -> None:
    """Extend the lock while a long answer streams, so it never lapses mid-turn."""
    while True:
        await asyncio.sleep(lock_seconds / 3)
        try:
            await lock.extend(lock_seconds, replace_ttl=True)
        except Exception:
            logger.warning("could not extend a thread lock", exc_info=True)
            return
