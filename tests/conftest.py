"""Shared fixtures: the real Redis (a test database flushed per test), fakes, a running bot."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from tests.fakes import FakeClaude, FakeSlack
from tests.harness import Harness, make_settings, start_bot

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """The real Redis server, test database emptied before and after."""
    client = Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    try:
        await client.ping()
    except Exception as exc:  # pragma: no cover - the message is the point
        pytest.fail(f"tests need Redis at {TEST_REDIS_URL} ({exc}); start redis-server")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    """The fake Slack Web API and file host."""
    fake = FakeSlack(bot_token="xoxb-test-token", team_id="T0TEAM")
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def claude() -> AsyncIterator[FakeClaude]:
    """The fake Claude API."""
    fake = FakeClaude()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Per-test settings; override this fixture in a module to change them."""
    return {}


@pytest.fixture
async def harness(
    redis: Redis, slack: FakeSlack, claude: FakeClaude, settings_overrides: dict[str, object]
) -> AsyncIterator[Harness]:
    """One running bot process wired to the fakes."""
    settings = make_settings(slack, claude, TEST_REDIS_URL, **settings_overrides)
    async with aiohttp.ClientSession() as http:
        h = Harness(slack, claude, settings, http)
        h.bots.append(await start_bot(settings))
        yield h
        for bot in h.bots:
            await bot.stop()
