"""Workers that take queued turns from Redis and answer them, a bounded number at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import ResponseError

from bot.store.queue import QueuedJob, TurnQueue

logger = logging.getLogger(__name__)

# Told in the thread of a turn given up after crashing MAX_DELIVERIES workers.
# Tells the job's thread it was given up (the queue and the workers know nothing of Slack).
OnDropped = Callable[[QueuedJob], Awaitable[None]]


class Workers:
    """Reads the turn stream, runs up to `concurrency` turns, reclaims abandoned ones."""

    def __init__(
        self,
        queue: TurnQueue,
        handle: Callable[[QueuedJob], Awaitable[None]],
        *,
        concurrency: int,
        claim_timeout: float,
        block_ms: int = 1000,
        on_dropped: OnDropped | None = None,
    ) -> None:
        self.queue = queue
        self.handle = handle
        self.on_dropped = on_dropped
        self.concurrency = concurrency
        self.claim_timeout = claim_timeout
        self.block_ms = block_ms
        self._slots = asyncio.Semaphore(concurrency)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Begin reading the queue in the background."""
        await self.queue.ensure_group()
        self._loops = [
            asyncio.create_task(self._read_loop(), name="turns-read"),
            asyncio.create_task(self._maintenance_loop(), name="turns-maintenance"),
        ]

    async def stop(self, grace_seconds: float) -> None:
        """Stop taking turns and let those in flight finish, up to `grace_seconds`."""
        # Turns still running after that are cancelled and stay pending in Redis, where
        # another process reclaims them.
        self._stopping.set()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        if self._running:
            logger.info(
                "waiting up to %g s for %d answers in flight", grace_seconds, len(self._running)
            )
            # The grace may outlast the claim timeout: without fresh claims another process
            # would take over (and answer again) a turn still being answered here.
            keeper = asyncio.create_task(self._keep_claims(), name="turns-keep-claims")
            try:
                _, late = await asyncio.wait(list(self._running.values()), timeout=grace_seconds)
            finally:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
            if late:
                logger.warning(
                    "%d answers still running after %g s: left pending for another process",
                    len(late),
                    grace_seconds,
                )
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        try:
            await self.queue.leave()
        except Exception:
            logger.warning("could not leave the consumer group", exc_info=True)

    @property
    def in_flight(self) -> int:
        """How many turns this process is answering now."""
        return len(self._running)

    async def _read_loop(self) -> None:
        while not self._stopping.is_set():
            await self._slots.acquire()
            free = self.concurrency - len(self._running)
            try:
                jobs = await self.queue.read(count=max(free, 1), block_ms=self.block_ms)
            except ResponseError as exc:
                self._slots.release()
                if "NOGROUP" in str(exc):
                    # Redis lost the stream (restarted without persistence, or flushed).
                    logger.warning("the turn queue is gone from Redis; creating it again")
                    await self.queue.ensure_group()
                else:
                    logger.exception("reading the turn queue failed; retrying")
                    await asyncio.sleep(1)
                continue
            except Exception:
                self._slots.release()
                logger.exception("reading the turn queue failed; retrying")
                await asyncio.sleep(1)
                continue
            self._slots.release()
            for queued in jobs:
                await self._spawn(queued)

    async def _maintenance_loop(self) -> None:
        idle_ms = int(self.claim_timeout * 1000)
        while not self._stopping.is_set():
            await asyncio.sleep(self.claim_timeout / 3)
            try:
                await self.queue.touch(list(self._running))
                # Only as many as can start now: waiting here for a slot would stop the
                # touches above, and other processes would take over turns running here.
                free = self.concurrency - len(self._running)
                if free <= 0:
                    continue
                for queued in await self.queue.reclaim(idle_ms, count=free):
                    if queued.exhausted:
                        await self._give_up(queued)
                        continue
                    logger.info("reclaimed an abandoned turn: %s", queued.job.ids)
                    await self._spawn(queued)
            except Exception:
                logger.exception("turn queue maintenance failed")

    async def _keep_claims(self) -> None:
        """Keep the running turns' claims fresh while stopping (no reclaiming any more)."""
        while self._running:
            await asyncio.sleep(self.claim_timeout / 3)
            try:
                await self.queue.touch(list(self._running))
            except Exception:
                logger.warning("could not refresh the claims of the turns in flight", exc_info=True)

    async def _give_up(self, queued: QueuedJob) -> None:
        """Drop a job that keeps crashing workers, and say so in its thread."""
        logger.error("dropping a job after %d deliveries: %s", queued.deliveries, queued.job.ids)
        if self.on_dropped is not None:
            try:
                # Bounded: this loop also keeps the running turns' claims fresh.
                async with asyncio.timeout(self.claim_timeout / 3):
                    await self.on_dropped(queued)
            except Exception:
                logger.warning("could not tell the thread: %s", queued.job.ids, exc_info=True)
        # Acknowledged even if the thread wasn't told: another try would crash again.
        await self.queue.ack(queued.entry_id)

    async def _spawn(self, queued: QueuedJob) -> None:
        if queued.entry_id in self._running:
            return
        await self._slots.acquire()
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
            await self.queue.ack(queued.entry_id)
        finally:
            self._running.pop(queued.entry_id, None)
            self._slots.release()
