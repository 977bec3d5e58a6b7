"""A process's answer slots: turns taken off the queue share them fairly between people."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field


@dataclass(order=True)
class _Waiter:
    """A turn waiting for an answer slot; the lowest sorts first."""

    active: int  # its owner's answers running: fewer goes first
    last_turn: int  # then whoever's last answer started longest ago (taking turns)
    order: int  # then first come, first served
    owner: str = field(compare=False)
    granted: asyncio.Future[None] = field(compare=False)


# How many owners' last turns are remembered before the idle ones are forgotten.
FORGET_AFTER = 10_000


class AnswerSlots:
    """Bounds answers in flight; when they are all taken, the person with fewest goes next."""

    # A turn is "wanting" from the moment it is taken off the queue until it is done, except
    # while it is parked: waiting for its thread's earlier turn, which needs no slot. The
    # reader takes new turns only while wanting turns leave slots free, so a process never
    # reads more than it can start, and the rest of the queue stays for other replicas.

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._active: dict[str, int] = {}
        self._waiting: list[_Waiter] = []
        self._counter = itertools.count()
        self._turns = itertools.count(1)
        self._last_turn: dict[str, int] = {}
        self._wanting = 0
        self._changed = asyncio.Event()

    @property
    def running(self) -> int:
        """Answers holding a slot now."""
        return sum(self._active.values())

    @property
    def free(self) -> int:
        """How many more turns the reader may take now."""
        return max(0, self.capacity - self._wanting)

    def enter(self) -> None:
        """Count a turn just taken off the queue."""
        self._wanting += 1

    def leave(self) -> None:
        """Stop counting a turn that is done."""
        self._wanting -= 1
        self._changed.set()

    async def changed(self) -> None:
        """Wait until a slot may have come free."""
        self._changed.clear()
        await self._changed.wait()

    @contextlib.contextmanager
    def parked(self) -> Iterator[None]:
        """While a turn waits for its thread, it doesn't count against reading."""
        self._wanting -= 1
        self._changed.set()
        try:
            yield
        finally:
            self._wanting += 1

    @contextlib.asynccontextmanager
    async def answering(self, owner: str) -> AsyncIterator[None]:
        """Hold one answer slot for `owner` (a person) while the answer is written."""
        if self.running >= self.capacity or self._waiting:
            waiter = _Waiter(
                self._active.get(owner, 0),
                self._last_turn.get(owner, 0),
                next(self._counter),
                owner,
                asyncio.get_running_loop().create_future(),
            )
            self._waiting.append(waiter)
            try:
                await waiter.granted
            except BaseException:
                if waiter in self._waiting:
                    self._waiting.remove(waiter)
                elif waiter.granted.done() and not waiter.granted.cancelled():
                    self._release(owner)  # granted as it was cancelled: pass the slot on
                raise
        else:
            self._start(owner)
        try:
            yield
        finally:
            self._release(owner)

    def _release(self, owner: str) -> None:
        left = self._active.get(owner, 0) - 1
        if left > 0:
            self._active[owner] = left
        else:
            self._active.pop(owner, None)
        self._grant()

    def _grant(self) -> None:
        """Give free slots to the waiters whose owners have the fewest answers running."""
        while self._waiting and self.running < self.capacity:
            # Ranked now, not when they asked: someone's earlier answers may have finished.
            for waiter in self._waiting:
                waiter.active = self._active.get(waiter.owner, 0)
                waiter.last_turn = self._last_turn.get(waiter.owner, 0)
            chosen = min(self._waiting)
            self._waiting.remove(chosen)
            self._start(chosen.owner)
            chosen.granted.set_result(None)

    def _start(self, owner: str) -> None:
        self._active[owner] = self._active.get(owner, 0) + 1
        # Remembered while it matters only: owners with an answer running or waiting.
        self._last_turn[owner] = next(self._turns)
        if len(self._last_turn) > FORGET_AFTER:
            keep = set(self._active) | {w.owner for w in self._waiting}
            self._last_turn = {o: t for o, t in self._last_turn.items() if o in keep}


class ByteBudget:
    """Bounds the base64 bytes held by requests in flight; a request over it goes alone."""

    # On the base64 transport each request carries its files (up to 24 MB) and the SDK
    # serializes a second copy: what answers in flight cost in memory is their bytes, not
    # their number. First come, first served, so a big request isn't overtaken forever.

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0
        self._turn = asyncio.Condition()
        self._queue: list[object] = []

    @contextlib.asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        """Hold `size` bytes of the budget while the request is sent and answered."""
        me = object()
        async with self._turn:
            self._queue.append(me)
            try:
                await self._turn.wait_for(lambda: self._queue[0] is me and self._fits(size))
            finally:
                self._queue.remove(me)
                self._turn.notify_all()
            self.in_use += size
        try:
            yield
        finally:
            async with self._turn:
                self.in_use -= size
                self._turn.notify_all()

    def _fits(self, size: int) -> bool:
        return self.in_use == 0 or self.in_use + size <= self.capacity
