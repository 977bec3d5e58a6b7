"""`vision-bot serve` processes for the load benchmark: start them, read their logs, and
measure their memory and CPU (and the driver's) from /proc (Linux)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.fakes import FakeClaude, FakeSlack
from tests.harness import SIGNING_SECRET
from tests.processes import bot_env, spawn, wait_healthy
from tests.redis_topologies import free_port

Result = dict[str, float]


def _pids(root: int) -> list[int]:
    """`root` and its descendants (the decoder workers), from /proc."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{pid}/task"):
                todo += map(int, Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    return found


def _status(pid: int, field_name: str) -> int:
    """A /proc/PID/status (or smaps_rollup for Pss) field in bytes; 0 for a gone process."""
    path = f"/proc/{pid}/{'smaps_rollup' if field_name == 'Pss' else 'status'}"
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children."""
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return 0.0


@dataclass
class Replica:
    """One `vision-bot serve` process and the tail of its log."""

    process: asyncio.subprocess.Process
    url: str
    log: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    warnings: int = 0
    warned: list[str] = field(default_factory=list)  # the first few

    def tree(self) -> list[int]:
        """Its pid and its decoder workers'."""
        return _pids(self.process.pid)

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        """Read its output (a full pipe would stop the bot) and count warnings and errors."""
        while stream is not None and (line := await stream.readline()):
            text = line.decode(errors="replace").rstrip()
            self.log.append(text)
            if any(level in text for level in ("WARNING", "ERROR", "CRITICAL")):
                self.warnings += 1
                if len(self.warned) < 3:
                    self.warned.append(text[:200])


@contextlib.asynccontextmanager
async def replicas(
    slack: FakeSlack,
    claude: FakeClaude,
    redis_url: str,
    count: int,
    code: Path,
    extra: dict[str, str],
) -> AsyncIterator[list[Replica]]:
    """`count` healthy bot processes running `code`'s bot package; stopped on exit."""
    env = bot_env(slack, claude, SLACK_SIGNING_SECRET=SIGNING_SECRET, REDIS_URL=redis_url)
    env |= {"PYTHONPATH": str(code), **extra}
    bots: list[Replica] = []
    drains: list[asyncio.Task[None]] = []
    with tempfile.TemporaryDirectory() as cwd:  # no .env to pick up
        try:
            async with aiohttp.ClientSession() as http:
                for _ in range(count):
                    port = free_port()
                    process = await spawn("serve", "--port", str(port), env=env, cwd=Path(cwd))
                    bot = Replica(process, f"http://127.0.0.1:{port}")
                    bots.append(bot)
                    drains += [asyncio.create_task(bot.drain(process.stdout))]
                    drains += [asyncio.create_task(bot.drain(process.stderr))]
                for bot in bots:
                    await wait_healthy(http, bot.url, timeout=60)
            yield bots
        finally:
            for bot in bots:
                if bot.process.returncode is None:
                    bot.process.terminate()
            for bot in bots:
                try:
                    await asyncio.wait_for(bot.process.wait(), 60)
                except TimeoutError:
                    bot.process.kill()
                    await bot.process.wait()
            await asyncio.gather(*drains, return_exceptions=True)


class Meter:
    """CPU of the driver and of the bot processes over a window, and the bots' peak memory."""

    def __init__(self, bots: list[Replica]) -> None:
        self.bots = bots
        self.peak_rss = 0  # all processes, summed at one sample
        self.peak_pss = 0  # the largest replica (server and workers, shared pages split)
        self.peak_pss_all = 0  # every replica, at one sample
        self.wall = self.driver_cpu = self.bots_cpu = 0.0
        self._start, self._cpu_start = 0.0, (0.0, 0.0)

    def pss(self) -> list[int]:
        """Proportional set size of each replica now (its server and decoder workers)."""
        return [sum(_status(pid, "Pss") for pid in bot.tree()) for bot in self.bots]

    def _cpu(self) -> tuple[float, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        bots = sum(_cpu_seconds(pid) for bot in self.bots for pid in bot.tree())
        return usage.ru_utime + usage.ru_stime, bots

    def __enter__(self) -> Meter:
        self._start, self._cpu_start = time.monotonic(), self._cpu()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.monotonic() - self._start
        driver, bots = self._cpu()
        self.driver_cpu, self.bots_cpu = driver - self._cpu_start[0], bots - self._cpu_start[1]

    async def sample(self, interval: float = 0.1) -> None:
        """Sample memory until cancelled."""
        while True:
            trees = [bot.tree() for bot in self.bots]
            self.peak_rss = max(self.peak_rss, sum(_status(p, "VmRSS") for t in trees for p in t))
            pss = [sum(_status(p, "Pss") for p in tree) for tree in trees]
            self.peak_pss = max(self.peak_pss, *pss)
            self.peak_pss_all = max(self.peak_pss_all, sum(pss))
            await asyncio.sleep(interval)

    def cpu(self) -> Result:
        """The window's CPU figures for a result."""
        return {"wall": self.wall, "driver_cpu": self.driver_cpu, "bots_cpu": self.bots_cpu}
