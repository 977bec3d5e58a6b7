"""Run `vision-bot` as a real process, configured for the loopback fakes."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.fakes import FakeClaude, FakeSlack


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
