"""Slack's acks before new turns: a turn starts once the deliveries in flight are answered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

# A turn waits this long at most: under a steady flood of deliveries it still starts.
MAX_WAIT_SECONDS = 0.5
# A burst's requests reach the server over some milliseconds, not all at once: a turn starts
# once no delivery was in flight for this long.
QUIET_SECONDS = 0.01


class AcksFirst:
    """Counts Slack's deliveries in flight; new turns wait for them on the one event loop."""

    # One event loop serves both: a burst of deliveries arrives as the turns it queued start,
    # and every step of those turns (reading the stream, the thread's lock, downloads, the
    # status line) would take its turn on the loop between the acks still due.

    def __init__(self, max_wait: float = MAX_WAIT_SECONDS, quiet: float = QUIET_SECONDS) -> None:
        self.max_wait = max_wait
        self.quiet = quiet
        self.in_flight = 0
        self._last = 0.0  # when the last delivery was answered (the loop's clock)
        self._idle = asyncio.Event()
        self._idle.set()

    @contextlib.contextmanager
    def delivery(self) -> Iterator[None]:
        """Around one of Slack's requests, until its response is ready."""
        self.in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            self._last = asyncio.get_running_loop().time()
            if self.in_flight == 0:
                self._idle.set()

    async def wait(self) -> None:
        """Until no delivery was in flight for `quiet` seconds, or `max_wait` seconds."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.max_wait):
                while True:
                    await self._idle.wait()
                    calm = self._last + self.quiet - loop.time()
                    if calm <= 0 and self._idle.is_set():
                        return
                    await asyncio.sleep(max(calm, 0))

    def first(self, handle: Callable[[T], Awaitable[None]]) -> Callable[[T], Awaitable[None]]:
        """`handle`, started once the deliveries in flight are acknowledged."""

        async def after_acks(item: T) -> None:
            await self.wait()
            await handle(item)

        return after_acks
