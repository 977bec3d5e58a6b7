"""The bot on Redis Sentinel and Redis Cluster: real processes, a whole conversation each.

On a Cluster, any operation whose keys span hash slots fails with CROSSSLOT, so these runs
check the key layout (one hash tag per thread) as well as the connection code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import aiohttp
import pytest

from bot.errors import ConfigError
from bot.models import ThreadRef
from bot.store import keys
from bot.store.connection import connect
from tests import redis_topologies, samples
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import CHANNEL, TEAM, USER, Harness, answer, make_settings, start_bot


@pytest.fixture(params=["sentinel", "cluster"])
async def topology_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    start: Callable[[Path], AbstractAsyncContextManager[str]] = getattr(
        redis_topologies, request.param
    )
    async with start(tmp_path) as url:
        yield url


async def test_a_conversation_runs_on_sentinel_and_cluster(
    topology_url: str, slack: FakeSlack, claude: FakeClaude
) -> None:
    settings = make_settings(slack, claude, topology_url, claude_transport="base64")
    async with aiohttp.ClientSession() as http:
        harness = Harness(slack, claude, settings, http)
        harness.bots += [await start_bot(settings), await start_bot(settings)]
        try:
            redis = harness.bot.services.redis
            shot = slack.add_file("F1", "a.png", samples.png())
            msg = await harness.mention("what?", files=[shot])
            await harness.deliver({"type": "app_mention", **msg}, to=harness.bots[1])
            await harness.replies(msg["ts"])
            await harness.message("and?", thread_ts=msg["ts"], to_bot=1)
            await harness.settle()
            await harness.command("use ocr")
            await harness.message("ocr it", thread_ts=msg["ts"])
            assert await harness.replies(msg["ts"]) == [
                answer(1, 1),
                answer(1, 2),
                answer(1, 3, "ocr"),
            ]
            thread = ThreadRef(team_id=TEAM, channel_id=CHANNEL, thread_ts=msg["ts"])
            assert await redis.llen(keys.turns(thread)) == 6
            # Each question counted under its asker's cap, and freed when answered.
            assert await redis.zcard(keys.waiting(TEAM, USER)) == 0
            await harness.mention("forget", thread_ts=msg["ts"])
            await harness.settle()
            assert await redis.llen(keys.turns(thread)) == 0
            assert (await harness.command("usage"))["text"].count("input") >= 2
        finally:
            for bot in harness.bots:
                await bot.stop()


async def test_a_burst_on_sentinel_waits_for_a_connection_instead_of_failing(
    tmp_path: Path,
) -> None:
    async with redis_topologies.sentinel(tmp_path) as url:
        client = connect(url, max_connections=2)
        try:
            # Each BLPOP holds its connection for 0.1 s: ten of them need five turns of two.
            results = await asyncio.gather(*(client.blpop([f"none{i}"], 0.1) for i in range(10)))
        finally:
            await client.aclose()
    assert results == [None] * 10


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis+sentinel://127.0.0.1/vision", "needs a port"),
        ("redis+sentinel://127.0.0.1:26379", "names the service"),
        ("redis+cluster://127.0.0.1:7000?max_connections=5", "take no ?options"),
        ("http://127.0.0.1:6379", "REDIS_URL is invalid"),
    ],
)
def test_a_malformed_redis_url_is_named_in_one_line(url: str, named: str) -> None:
    with pytest.raises(ConfigError) as error:
        connect(url)
    assert str(error.value).startswith("REDIS_URL is invalid") and named in str(error.value)


@pytest.mark.parametrize(
    "url", ["redis://:s3cr/et@redis.internal:6379/0", "redis+sentinel://:s3cr/et@h:26379/svc"]
)
def test_a_malformed_redis_url_never_quotes_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as error:
        connect(url)
    assert "s3cr" not in str(error.value) and "%2F" in str(error.value)
