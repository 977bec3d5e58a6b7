"""SIGTERM on a real `vision-bot serve` process: answers in flight get the grace, then it exits."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from bot import keys
from tests import samples
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import CHANNEL, SIGNING_SECRET, Harness, eventually, make_settings
from tests.processes import bot_env, spawn, wait_healthy
from tests.redis_topologies import free_port


async def test_sigterm_finishes_the_answer_in_flight_then_exits(
    slack: FakeSlack, claude: FakeClaude, redis: object, tmp_path: Path
) -> None:
    port = free_port()
    env = bot_env(slack, claude, SLACK_SIGNING_SECRET=SIGNING_SECRET, REDIS_URL=TEST_REDIS_URL)
    process = await spawn("serve", "--port", str(port), env=env, cwd=tmp_path)
    claude.reply = "A long answer, streamed slowly. " * 8
    claude.chunk_delay = 0.05  # about 2.5 s of streaming
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(slack, claude, TEST_REDIS_URL)
    async with aiohttp.ClientSession() as http:
        harness = Harness(slack, claude, settings, http, url=url)

        try:
            await wait_healthy(http, url)
            shot = slack.add_file("F1", "a.png", samples.png())
            msg = await harness.mention("explain", files=[shot])

            async def streaming() -> bool:
                return bool(slack.reply_texts(CHANNEL, msg["ts"]))

            await eventually(streaming)
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=40)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    assert process.returncode == 0, stderr.decode()[-2000:]
    (reply,) = slack.reply_texts(CHANNEL, msg["ts"])
    assert reply.startswith(claude.reply)  # finished, footer and all
    assert slack.messages(CHANNEL, msg["ts"])[0].stopped


async def test_sigterm_leaves_an_answer_outlasting_the_grace_pending_for_another_process(
    slack: FakeSlack, claude: FakeClaude, redis: Redis, tmp_path: Path
) -> None:
    port = free_port()
    env = bot_env(
        slack,
        claude,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        REDIS_URL=TEST_REDIS_URL,
        SHUTDOWN_GRACE_SECONDS="1",
    )
    process = await spawn("serve", "--port", str(port), env=env, cwd=tmp_path)
    claude.reply = "word " * 2000
    claude.chunk_delay = 0.05  # minutes of streaming
    url = f"http://127.0.0.1:{port}"
    settings = make_settings(slack, claude, TEST_REDIS_URL)
    async with aiohttp.ClientSession() as http:
        harness = Harness(slack, claude, settings, http, url=url)
        try:
            await wait_healthy(http, url)
            shot = slack.add_file("F1", "a.png", samples.png())
            msg = await harness.mention("explain", files=[shot])

            async def streaming() -> bool:
                return bool(slack.reply_texts(CHANNEL, msg["ts"]))

            await eventually(streaming)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
            elapsed = time.monotonic() - started
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    assert process.returncode == 0, stderr.decode()[-2000:]
    # The 1 s grace, plus starting and closing: nowhere near the answer's length.
    assert elapsed < 6, stderr.decode()[-2000:]
    assert not slack.reply_texts(CHANNEL, msg["ts"])[0].startswith(claude.reply)
    pending = await redis.xpending(keys.STREAM, keys.GROUP)
    assert pending["pending"] == 1  # another process reclaims it and answers
    assert "left pending for another process" in stderr.decode()
