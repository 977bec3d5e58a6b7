"""A thread's turns in arrival order, each answered once, whatever the queue does meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from bot.store import keys
from tests import samples
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import CHANNEL, Harness, bot_on, eventually, next_ts
from tests.resp_proxy import RespProxy, Rule, resp_proxy

_REAL = urlsplit(TEST_REDIS_URL)


@pytest.fixture
async def proxy(redis: Redis) -> AsyncIterator[RespProxy]:
    """A proxy in front of the test Redis, which the bot talks to."""
    async with resp_proxy(_REAL.hostname or "127.0.0.1", _REAL.port or 6379) as running:
        yield running


@pytest.fixture
async def proxied(proxy: RespProxy, slack: FakeSlack, claude: FakeClaude) -> AsyncIterator[Harness]:
    """One bot process whose Redis traffic goes through the proxy."""
    url = f"{proxy.url}{_REAL.path}"
    async with bot_on(slack, claude, url, turn_claim_timeout_seconds=1.5) as harness:
        yield harness


def _asked(harness: Harness) -> list[str]:
    return [r["messages"][-1]["content"][-1]["text"] for r in harness.claude.requests]


async def test_a_turn_queued_late_is_still_answered_before_the_turns_after_it(
    proxied: Harness, proxy: RespProxy
) -> None:
    # The first question's write to the stream is slow, so its follow-up reaches the
    # stream (and a worker) first: the follow-up must wait for it.
    proxy.rules["XADD"] = Rule(delay=0.8, times=1)
    shot = proxied.slack.add_file("F1", "a.png", samples.png())
    thread_ts = next_ts()
    first = asyncio.create_task(
        proxied.mention("first", files=[shot], ts=thread_ts, both_events=False)
    )
    await eventually(lambda: _used(proxy.rules["XADD"]), timeout=5)
    await proxied.message("second", thread_ts=thread_ts)
    await first
    await proxied.settle(timeout=20)

    assert _asked(proxied) == ["first", "second"]
    assert len(proxied.slack.reply_texts(CHANNEL, thread_ts)) == 2


async def test_a_turn_answered_but_never_acknowledged_is_not_answered_again(
    proxied: Harness, proxy: RespProxy
) -> None:
    # As if the process died after saving the answer, before acknowledging the entry:
    # another worker reclaims it after the claim timeout and must see it was answered.
    proxy.rules["XACK"] = Rule(error="ERR connection lost", times=1)
    proxy.rules["XDEL"] = Rule(error="ERR connection lost", times=1)
    shot = proxied.slack.add_file("F1", "a.png", samples.png())
    asked = await proxied.mention("what is this?", files=[shot])
    await eventually(lambda: _used(proxy.rules["XACK"]), timeout=10)
    redis = proxied.bot.services.redis
    await eventually(lambda: _nothing_pending(redis), timeout=15)

    assert len(proxied.claude.requests) == 1
    assert len(proxied.slack.reply_texts(CHANNEL, asked["ts"])) == 1
    assert proxy.seen.count("XAUTOCLAIM") >= 1


async def _used(rule: Rule) -> bool:
    return rule.times == 0


async def _nothing_pending(redis: Redis) -> bool:
    pending = await redis.xpending(keys.STREAM, keys.GROUP)
    return await redis.xlen(keys.STREAM) == 0 and pending["pending"] == 0
