"""Startup checks that stop `vision-bot` with one line instead of a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.fakes import FakeSlack
from tests.processes import bot_env, run


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("mode", ["serve", "socket"])
async def test_an_unreachable_redis_stops_startup_with_one_line(
    slack: FakeSlack, tmp_path: Path, mode: str
) -> None:
    port = closed_port()
    env = bot_env(
        slack,
        SLACK_SIGNING_SECRET="s",
        SLACK_APP_TOKEN=slack.app_token,
        ANTHROPIC_API_KEY="k",
        REDIS_URL=f"redis://:hunter2@127.0.0.1:{port}/0",
    )
    code, _, stderr = await run(mode, env=env, cwd=tmp_path)

    assert code == 2
    (line,) = stderr.strip().splitlines()
    assert line.startswith(f"vision-bot: REDIS_URL redis://127.0.0.1:{port}/0 is unreachable (")
    assert "start Redis there" in line
    assert "hunter2" not in stderr
