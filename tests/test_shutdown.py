"""SIGTERM on a real `vision-bot serve` process: answers in flight get the grace, then it exits."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from redis.asyncio import Redis

from bot.store import keys
from tests import samples
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import CHANNEL, eventually
from tests.processes import serving


async def test_sigterm_finishes_the_answer_in_flight_then_exits(
    slack: FakeSlack, claude: FakeClaude, redis: object, tmp_path: Path
) -> None:
    claude.reply = "A long answer, streamed slowly. " * 8
    claude.chunk_delay = 0.05  # about 2.5 s of streaming
    async with serving(slack, claude, tmp_path) as (process, harness):
        shot = slack.add_file("F1", "a.png", samples.png())
        msg = await harness.mention("explain", files=[shot])
        await eventually(lambda: _streaming(slack, msg["ts"]))
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=40)

    assert process.returncode == 0, stderr.decode()[-2000:]
    (reply,) = slack.reply_texts(CHANNEL, msg["ts"])
    assert reply.startswith(claude.reply)  # finished, footer and all
    assert slack.messages(CHANNEL, msg["ts"])[0].stopped


async def test_sigterm_leaves_an_answer_outlasting_the_grace_pending_for_another_process(
    slack: FakeSlack, claude: FakeClaude, redis: Redis, tmp_path: Path
) -> None:
    claude.reply = "word " * 2000
    claude.chunk_delay = 0.05  # minutes of streaming
    async with serving(slack, claude, tmp_path, SHUTDOWN_GRACE_SECONDS="1") as (process, harness):
        shot = slack.add_file("F1", "a.png", samples.png())
        msg = await harness.mention("explain", files=[shot])
        await eventually(lambda: _streaming(slack, msg["ts"]))
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
        elapsed = time.monotonic() - started

    assert process.returncode == 0, stderr.decode()[-2000:]
    # The 1 s grace, plus starting and closing: nowhere near the answer's length.
    assert elapsed < 6, stderr.decode()[-2000:]
    assert not slack.reply_texts(CHANNEL, msg["ts"])[0].startswith(claude.reply)
    pending = await redis.xpending(keys.STREAM, keys.GROUP)
    assert pending["pending"] == 1  # another process reclaims it and answers
    assert "left pending for another process" in stderr.decode()


async def _streaming(slack: FakeSlack, ts: str) -> bool:
    return bool(slack.reply_texts(CHANNEL, ts))
