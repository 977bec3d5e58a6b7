"""A loopback proxy in front of the real Redis that can delay, fail or rewrite chosen commands.

It speaks just enough RESP to find where each command and each reply ends, and forwards a
connection's commands one at a time, so a rule applies to exactly the command it names.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field


def _value_end(buf: bytes, start: int = 0) -> int | None:
    """Where the RESP value at `start` ends, or None if `buf` doesn't hold all of it yet."""
    line_end = buf.find(b"\r\n", start)
    if line_end < 0:
        return None
    kind, head = buf[start : start + 1], buf[start + 1 : line_end]
    after = line_end + 2
    if kind in (b"+", b"-", b":", b"_", b"#", b",", b"("):
        return after
    if kind in (b"$", b"=", b"!"):
        size = int(head)
        if size < 0:
            return after
        return after + size + 2 if len(buf) >= after + size + 2 else None
    if kind in (b"*", b"~", b">", b"%"):  # RESP3 maps hold a key and a value per entry
        count = int(head) * (2 if kind == b"%" else 1)
        end: int | None = after
        for _ in range(max(count, 0)):
            assert end is not None
            end = _value_end(buf, end)
            if end is None:
                return None
        return end
    raise ValueError(f"not RESP: {buf[start : start + 20]!r}")


def _command_name(request: bytes) -> str:
    """The command a RESP array request names (`*N $len NAME …`), upper case."""
    first = request.index(b"\r\n") + 2
    size_end = request.index(b"\r\n", first)
    size = int(request[first + 1 : size_end])
    return request[size_end + 2 : size_end + 2 + size].decode().upper()


@dataclass
class Rule:
    """What to do with one command: wait first, answer an error instead, or edit the reply."""

    delay: float = 0.0
    error: str | None = None  # e.g. "READONLY You can't write against a read only replica."
    times: int | None = None  # how many commands it applies to (None: all)
    rewrite: Callable[[bytes], bytes] | None = None


@dataclass
class RespProxy:
    """Forwards loopback connections to Redis at `target`, applying `rules` by command name."""

    target: tuple[str, int]
    rules: dict[str, Rule] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """A redis:// URL for clients to use instead of the real server's (database 15)."""
        return f"redis://127.0.0.1:{self.port}"

    def _rule(self, name: str) -> Rule | None:
        rule = self.rules.get(name, self.rules.get("*"))  # "*": every command
        if rule is None or rule.times == 0:
            return None
        if rule.times is not None:
            rule.times -= 1
        return rule

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        pending = b""
        try:
            while True:
                end = _value_end(pending) if pending else None
                if end is None:
                    chunk = await reader.read(65536)
                    if not chunk:
                        return
                    pending += chunk
                    continue
                request, pending = pending[:end], pending[end:]
                name = _command_name(request)
                self.seen.append(name)
                rule = self._rule(name)
                if rule and rule.delay:
                    await asyncio.sleep(rule.delay)
                if rule and rule.error is not None:
                    writer.write(f"-{rule.error}\r\n".encode())
                    await writer.drain()
                    continue
                up_writer.write(request)
                await up_writer.drain()
                reply = await self._reply(up_reader)
                if rule and rule.rewrite:
                    reply = rule.rewrite(reply)
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(Exception):
                    await w.wait_closed()

    @staticmethod
    async def _reply(up_reader: asyncio.StreamReader) -> bytes:
        reply = b""
        while (end := _value_end(reply) if reply else None) is None:
            chunk = await up_reader.read(65536)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            reply += chunk
        assert end == len(reply), "one reply per command"
        return reply


@contextlib.asynccontextmanager
async def resp_proxy(host: str = "127.0.0.1", port: int = 6379) -> AsyncIterator[RespProxy]:
    """A running proxy to the Redis at host:port."""
    proxy = RespProxy((host, port))
    server = await asyncio.start_server(proxy._serve, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    proxy._server = server
    try:
        yield proxy
    finally:
        server.close()
        # Connections still open (a pool's idle ones) end with the test's loop.


def as_redis_6_2_xautoclaim(reply: bytes) -> bytes:
    """XAUTOCLAIM's reply as Redis 6.2 gives it: no third element (the deleted ids)."""
    # Entries are arrays in RESP2 and RESP3 alike, so only the outer count changes.
    assert reply.startswith(b"*3\r\n"), reply[:20]
    body_end = _value_end(reply, 4)  # the cursor
    assert body_end is not None
    entries_end = _value_end(reply, body_end)
    assert entries_end is not None
    return b"*2\r\n" + reply[4:entries_end]
