"""A thread's turns in arrival order, each answered once, whatever the queue does meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from redis.asyncio import Redis

from bot.store import keys
from bot.store.queue import TurnQueue
from tests import samples
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import CHANNEL, Harness, bot_on, eventually
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


async def test_a_turn_reclaimed_from_a_dead_process_is_answered_before_the_turns_after_it(
    proxied: Harness, proxy: RespProxy, redis: Redis
) -> None:
    # A process takes the thread's first question off the queue and dies; its follow-up
    # reaches a live worker first, which must wait until the first is reclaimed and answered.
    proxy.rules["XREADGROUP"] = Rule(delay=1.5)  # the live bot reads late
    await asyncio.sleep(1.2)  # its blocking read already at Redis (1 s) has returned
    shot = proxied.slack.add_file("F1", "a.png", samples.png())
    first = await proxied.mention("first", files=[shot], both_events=False)
    dead = TurnQueue(redis, "dead")
    assert [q.job.text for q in (await dead.read(count=1, block_ms=500)).jobs] == ["first"]
    proxy.rules.clear()
    await proxied.message("second", thread_ts=first["ts"])
    await proxied.settle(timeout=20)

    assert _asked(proxied) == ["first", "second"]
    assert len(proxied.slack.reply_texts(CHANNEL, first["ts"])) == 2


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
