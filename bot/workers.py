"""Workers that take queued turns from Redis and answer them, a bounded number at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import ResponseError

from bot.fairness import AnswerSlots
from bot.store.queue import Batch, QueuedJob, TurnQueue

logger = logging.getLogger(__name__)

# Turns held per answer slot, most of them parked behind their thread's earlier turn.
HELD_PER_SLOT = 4
RETRY_SECONDS = 1.0

# Told in the thread of a turn given up after crashing MAX_DELIVERIES workers.
# Tells the job's thread it was given up (the queue and the workers know nothing of Slack).
OnDropped = Callable[[QueuedJob], Awaitable[None]]


class Workers:
    """Reads the turn stream as answer slots come free, and reclaims abandoned turns."""

    def __init__(
        self,
        queue: TurnQueue,
        handle: Callable[[QueuedJob], Awaitable[None]],
        *,
        slots: AnswerSlots,
        claim_timeout: float,
        block_ms: int = 1000,
        on_dropped: OnDropped | None = None,
        on_unreadable: Callable[[int], None] | None = None,
    ) -> None:
        self.queue = queue
        self.handle = handle
        self.on_dropped = on_dropped
        self.on_unreadable = on_unreadable
        self.claim_timeout = claim_timeout
        self.block_ms = block_ms
        # Shared with the pipeline, which parks a turn waiting for its thread and takes a
        # slot only to answer; a `handle` that does neither holds its slot throughout.
        self.slots = slots
        # Parked turns hold no slot, but each is a task polling its thread: bounded too.
        self.max_held = self.slots.capacity * HELD_PER_SLOT
        self._running: dict[str, asyncio.Task[None]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._claims: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Begin reading the queue in the background."""
        await self.queue.ensure_group()
        self._loops = [
            asyncio.create_task(self._read_loop(), name="turns-read"),
            asyncio.create_task(self._reclaim_loop(), name="turns-reclaim"),
        ]
        self._claims = asyncio.create_task(self._claims_loop(), name="turns-claims")

    @property
    def alive(self) -> bool:
        """Whether every loop is still running (false once one has ended, until stopped)."""
        loops = [*self._loops, *([self._claims] if self._claims else [])]
        return self._stopping.is_set() or all(not task.done() for task in loops)

    async def stop(self, grace_seconds: float) -> None:
        """Stop taking turns and let those in flight finish, up to `grace_seconds`."""
        # Turns still running after that are cancelled and stay pending in Redis, where
        # another process reclaims them. Claims stay fresh meanwhile: the grace may outlast
        # the claim timeout, and another process would answer again a turn still running.
        self._stopping.set()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._running:
            logger.info(
                "waiting up to %g s for %d answers in flight", grace_seconds, len(self._running)
            )
            _, late = await asyncio.wait(list(self._running.values()), timeout=grace_seconds)
            if late:
                logger.warning(
                    "%d answers still running after %g s: left pending for another process",
                    len(late),
                    grace_seconds,
                )
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._claims:
            self._claims.cancel()
            await asyncio.gather(self._claims, return_exceptions=True)
        try:
            await self.queue.leave()
        except Exception:
            logger.warning("could not leave the consumer group", exc_info=True)

    @property
    def in_flight(self) -> int:
        """How many turns this process holds now (answering, or waiting for their thread)."""
        return len(self._running)

    async def _read_loop(self) -> None:
        # Nothing may end this loop but stopping: while it is down nothing new is answered.
        while not self._stopping.is_set():
            free = min(self.slots.free, self.max_held - len(self._running))
            if free <= 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(RETRY_SECONDS):
                        await self.slots.changed()
                continue
            try:
                batch = await self.queue.read(count=free, block_ms=self.block_ms)
            except Exception as exc:
                await self._recover(exc)
                continue
            self._count_unreadable(batch)
            for queued in batch.jobs:
                self._spawn(queued)

    async def _recover(self, exc: Exception) -> None:
        """After a failed read: create the queue again if Redis lost it, else pause."""
        try:
            if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                # Redis lost the stream (restarted without persistence, or flushed).
                logger.warning("the turn queue is gone from Redis; creating it again")
                await self.queue.ensure_group()
                return
            logger.error(
                "reading the turn queue failed (%s: %s); retrying", type(exc).__name__, exc
            )
        except Exception:
            logger.exception("could not create the turn queue again; retrying")
        await asyncio.sleep(RETRY_SECONDS)

    async def _claims_loop(self) -> None:
        """Keep the claims of the turns held here fresh, so no other process takes them."""
        # Its own loop, never waiting on anything else: a slow reclaim or a full process
        # must not let another replica steal a turn still being answered here.
        while True:
            await asyncio.sleep(self.claim_timeout / 3)
            try:
                await self.queue.touch(list(self._running))
            except Exception:
                logger.warning("could not refresh the claims of the turns held", exc_info=True)

    async def _reclaim_loop(self) -> None:
        idle_ms = int(self.claim_timeout * 1000)
        while not self._stopping.is_set():
            await asyncio.sleep(self.claim_timeout / 3)
            try:
                free = self.slots.free
                if free <= 0:
                    continue
                batch = await self.queue.reclaim(idle_ms, count=free)
                self._count_unreadable(batch)
                for queued in batch.jobs:
                    if queued.exhausted:
                        await self._give_up(queued)
                        continue
                    logger.info("reclaimed an abandoned turn: %s", queued.job.ids)
                    self._spawn(queued)
            except Exception:
                logger.exception("reclaiming abandoned turns failed")

    def _count_unreadable(self, batch: Batch) -> None:
        if batch.unreadable and self.on_unreadable is not None:
            self.on_unreadable(batch.unreadable)

    async def _give_up(self, queued: QueuedJob) -> None:
        """Drop a job that keeps crashing workers, and say so in its thread."""
        logger.error("dropping a job after %d deliveries: %s", queued.deliveries, queued.job.ids)
        if self.on_dropped is not None:
            try:
                async with asyncio.timeout(self.claim_timeout / 3):
                    await self.on_dropped(queued)
            except Exception:
                logger.warning("could not tell the thread: %s", queued.job.ids, exc_info=True)
        # Acknowledged even if the thread wasn't told: another try would crash again.
        await self.queue.ack(queued.entry_id)

    def _spawn(self, queued: QueuedJob) -> None:
        """Start the turn now: it waits for its thread and a slot inside its own task."""
        # Never awaits: what was read is held (and its claim kept fresh) from this moment.
        if queued.entry_id in self._running:
            return
        self.slots.enter()
        task = asyncio.create_task(self._run(queued), name=f"turn-{queued.entry_id}")
        self._running[queued.entry_id] = task

    async def _run(self, queued: QueuedJob) -> None:
        try:
            await self.handle(queued)
        except asyncio.CancelledError:
            raise  # left pending: another process picks it up
        except Exception:
            # Not acknowledged: after the claim timeout it is retried, a bounded number of times.
            logger.exception("turn failed and will be retried: %s", queued.job.ids)
        else:
            try:
                await self.queue.ack(queued.entry_id)
            except Exception as exc:
                # Reclaimed after the claim timeout, then skipped: it was answered.
                logger.warning("could not acknowledge %s (%s)", queued.job.ids, _named(exc))
        finally:
            self._running.pop(queued.entry_id, None)
            self.slots.leave()


def _named(exc: Exception) -> str:
    """An error's type and message, for a log line without its traceback."""
    return f"{type(exc).__name__}: {exc}"
