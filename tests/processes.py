"""Run `vision-bot` as a real process, configured for the loopback fakes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp

from tests.fakes import FakeClaude, FakeSlack
from tests.harness import eventually


def bot_env(
    slack: FakeSlack | None = None, claude: FakeClaude | None = None, **extra: str
) -> dict[str, str]:
    """A clean environment pointing the bot at the fakes given, plus `extra` variables."""
    env = {"PATH": os.environ["PATH"]}
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
