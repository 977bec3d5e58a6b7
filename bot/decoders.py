"""Decode files in a few worker processes, each file within a time limit that really ends it."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from pebble import ProcessExpired, ProcessPool

from bot.errors import FileRefused
from bot.media import locate
from bot.media import prepare as media

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Worker processes are forked from a server process that imported the main module, Pillow,
# libheif and pypdf once: a worker (or the replacement of one that was killed) is ready in
# milliseconds, instead of importing the bot's command line and its SDKs again.
_PRELOAD = ["__main__", "bot.media.prepare", "bot.media.locate"]


class Decoders:
    """A few pre-started worker processes that prepare and draw on files.

    A Python thread can't be stopped, so a file that decodes for too long would hold its
    thread (and its memory) for as long as it takes. A worker process can: past the time
    limit it is killed, its memory goes back to the system, a fresh one takes its place,
    and the file is refused with a note. A file that crashes or exhausts its worker costs
    only that worker, never the bot's process and the answers in flight on it.
    """

    def __init__(self, workers: int, timeout: float) -> None:
        self.timeout = timeout
        self.workers = workers
        # A worker is replaced after a hundred files: whatever a decoder leaked goes with it.
        self._pool = ProcessPool(max_workers=workers, max_tasks=100, context=_context())
        # Starts the workers now, not on the first file; done once they can take work.
        self._started = self._pool.schedule(os.getpid)

    async def ready(self) -> None:
        """Wait until the workers take work (the first start imports the decoders: seconds)."""
        await asyncio.wrap_future(self._started)

    async def prepare(
        self, name: str, data: bytes, limits: media.MediaLimits
    ) -> media.PreparedFile:
        """`media.prepare` in a worker: the file's parts, or FileRefused (timeouts included)."""
        return await self.run(name, media.prepare, name, data, limits)

    async def draw(self, name: str, original: bytes, boxes: list[locate.Box]) -> bytes:
        """`locate.draw` in a worker, within the same time limit."""
        return await self.run(name, locate.draw, original, boxes)

    async def run(self, name: str, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` in a worker; FileRefused naming `name` if it overruns or crashes."""
        future = self._pool.schedule(function, args=args, timeout=self.timeout)
        try:
            return await asyncio.wrap_future(future)
        except FutureTimeout:
            # The worker is already killed and replaced: the time limit is the pool's own.
            logger.warning("gave up on %s after %.0f s: its worker was stopped", name, self.timeout)
            raise FileRefused(
                name,
                f"reading it took longer than {self.timeout:g} seconds, so I stopped. "
                "A simpler export (a PNG or JPEG, or only the pages that matter) would work.",
            ) from None
        except ProcessExpired as exc:
            logger.error("decoding %s ended its worker (exit code %s)", name, exc.exitcode)
            raise FileRefused(
                name, "reading it made my decoder fail. Exporting it as PNG would work."
            ) from None
        except asyncio.CancelledError:
            future.cancel()  # type: ignore[no-untyped-call]  # its worker is stopped too
            raise

    async def close(self) -> None:
        """Stop the workers (files still being prepared are abandoned)."""
        self._pool.stop()  # type: ignore[no-untyped-call]
        await asyncio.to_thread(self._pool.join)


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where the platform has it (never fork: the bot's threads and sockets)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def usable_cpus() -> int:
    """The CPUs this process may run on (sched_getaffinity is Linux-only)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 2
