"""Run `vision-bot` as a real process, configured for the loopback fakes."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from bot.config import Settings
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import SIGNING_SECRET, Harness, eventually, make_settings
from tests.redis_topologies import free_port


def bot_env(
    slack: FakeSlack | None = None, claude: FakeClaude | None = None, **extra: str
) -> dict[str, str]:
    """A clean environment pointing the bot at the fakes given, plus `extra` variables."""
    # No /metrics unless a test asks: the default port may be taken on a shared machine.
    env = {"PATH": os.environ["PATH"], "METRICS_PORT": "0"}
    if slack is not None:
        env["SLACK_BOT_TOKEN"] = slack.bot_token
        env["SLACK_API_URL"] = slack.api_url
        env["SLACK_FILE_HOSTS"] = slack.file_hostname("primary")
    if claude is not None:
        env["ANTHROPIC_API_KEY"] = claude.api_key
        env["ANTHROPIC_BASE_URL"] = claude.base_url
    env.update(extra)
    return env


async def spawn(*args: str, env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """Start `python -m bot ARGS...` (no .env: `cwd` is the test's own folder)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """Run `python -m bot ARGS...` to the end: exit code, stdout, stderr."""
    process = await spawn(*args, env=env, cwd=cwd)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def wait_healthy(http: aiohttp.ClientSession, url: str, timeout: float = 30) -> None:
    """Wait until the process at `url` answers GET /healthz with 200."""

    async def healthy() -> bool:
        try:
            async with http.get(f"{url}/healthz") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    await eventually(healthy, timeout=timeout)


@asynccontextmanager
async def serving(
    slack: FakeSlack, claude: FakeClaude, cwd: Path, settings: Settings | None = None, **env: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, Harness]]:
    """A healthy `vision-bot serve` process and a Harness delivering to it; killed on exit."""
    port = free_port()
    extra = {"SLACK_SIGNING_SECRET": SIGNING_SECRET, "REDIS_URL": TEST_REDIS_URL, **env}
    process = await spawn(
        "serve", "--port", str(port), env=bot_env(slack, claude, **extra), cwd=cwd
    )
    url = f"http://127.0.0.1:{port}"
    settings = settings or make_settings(slack, claude, TEST_REDIS_URL)
    try:
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, url)
            yield process, Harness(slack, claude, settings, http, url=url)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
