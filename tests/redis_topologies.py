"""Real Redis Sentinel and Cluster processes, started for a test and stopped after it."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import TEST_REDIS_URL

REDIS_SERVER = shutil.which("redis-server") or "redis-server"
REDIS_CLI = shutil.which("redis-cli") or "redis-cli"


def free_port(below: int = 55000) -> int:
    """A free loopback port low enough for its cluster bus port (port + 10000)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < below:
            return port


async def _cli(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [REDIS_CLI, *args], capture_output=True, text=True, check=check
    )


async def _wait_for_ping(port: int, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await _cli("-p", str(port), "ping")
        if result.stdout.strip() == "PONG":
            return
        if asyncio.get_running_loop().time() > deadline:
            raise RuntimeError(f"redis on port {port} did not start: {result.stderr}")
        await asyncio.sleep(0.05)


def _start(args: list[str], workdir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [REDIS_SERVER, *args], cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


@asynccontextmanager
async def sentinel(workdir: Path, primary: str = TEST_REDIS_URL) -> AsyncIterator[str]:
    """A Sentinel watching the tests' Redis as `vision`; yields the bot's REDIS_URL (same db)."""
    url = urlsplit(primary)
    host, primary_port = url.hostname or "127.0.0.1", url.port or 6379
    db = url.path.strip("/") or "0"
    port = free_port()
    conf = workdir / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
        f"sentinel monitor vision {host} {primary_port} 1\n"
        "sentinel down-after-milliseconds vision 60000\n"
    )
    processes = [_start([str(conf), "--sentinel"], workdir)]
    try:
        await _wait_for_ping(port)
        await _cli("-h", host, "-p", str(primary_port), "-n", db, "flushdb", check=True)
        yield f"redis+sentinel://127.0.0.1:{port}/vision/{db}"
    finally:
        _stop(processes)


@asynccontextmanager
async def cluster(workdir: Path, nodes: int = 3) -> AsyncIterator[str]:
    """A fresh Redis Cluster of `nodes` primaries; yields the bot's REDIS_URL."""
    ports = [free_port() for _ in range(nodes)]
    processes = []
    for port in ports:
        node_dir = workdir / str(port)
        node_dir.mkdir()
        processes.append(
            _start(
                [
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                node_dir,
            )
        )
    try:
        for port in ports:
            await _wait_for_ping(port)
        await _cli(
            "--cluster",
            "create",
            *(f"127.0.0.1:{p}" for p in ports),
            "--cluster-replicas",
            "0",
            "--cluster-yes",
            check=True,
        )
        for _ in range(200):
            info = (await _cli("-p", str(ports[0]), "cluster", "info")).stdout
            if "cluster_state:ok" in info:
                break
            await asyncio.sleep(0.05)
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    finally:
        _stop(processes)


class StandaloneRedis:
    """A redis-server of the test's own, to stop and start again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        """Start it (empty: no persistence) and wait until it answers."""
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        self._process = _start([*args, "no"], self.workdir)
        await _wait_for_ping(self.port)

    def stop(self) -> None:
        """Stop it: connections are refused until `start`."""
        if self._process is not None:
            _stop([self._process])
            self._process = None


@asynccontextmanager
async def standalone(workdir: Path) -> AsyncIterator[StandaloneRedis]:
    """A running redis-server of the test's own, stopped at the end."""
    server = StandaloneRedis(workdir)
    await server.start()
    try:
        yield server
    finally:
        server.stop()
