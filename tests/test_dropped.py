"""A turn that keeps crashing workers is given up, and its thread is told so."""

from __future__ import annotations

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.models import ThreadRef
from bot.pipeline import GAVE_UP
from bot.store import keys
from bot.store.queue import MAX_DELIVERIES
from tests import samples
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import CHANNEL, TEAM, Harness, eventually, make_settings, start_bot


async def test_a_turn_that_crashes_every_worker_is_dropped_with_a_reply_in_its_thread(
    slack: FakeSlack, claude: FakeClaude, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(slack, claude, TEST_REDIS_URL, turn_claim_timeout_seconds=1.0)
    async with aiohttp.ClientSession() as http:
        harness = Harness(slack, claude, settings, http)
        # Only queue the turn for now: nothing may work on it before the thread is broken.
        harness.bots.append(await start_bot(settings, run_workers=False))
        try:
            shot = slack.add_file("F1", "a.png", samples.png())
            msg = await harness.mention("what is this?", files=[shot])
            # The thread's state is no longer a hash: every worker that takes the turn
            # fails before answering, outside the pipeline's own error replies.
            meta = keys.meta(ThreadRef(team_id=TEAM, channel_id=CHANNEL, thread_ts=msg["ts"]))
            await redis.delete(meta)
            await redis.set(meta, "not a hash")
            harness.bots.append(await start_bot(settings))

            async def told() -> bool:
                return bool(slack.reply_texts(CHANNEL, msg["ts"]))

            await eventually(told, timeout=12)
            await harness.settle()
        finally:
            for bot in harness.bots:
                await bot.stop()

    assert slack.reply_texts(CHANNEL, msg["ts"]) == [GAVE_UP]
    assert claude.requests == []
    assert await redis.xlen(keys.STREAM) == 0  # given up, not retried forever
    failures = [r for r in caplog.records if r.getMessage().startswith("turn failed")]
    assert len(failures) == MAX_DELIVERIES
