"""Queueing a turn: a failure or a crash between its steps neither loses it nor stalls a thread."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from redis.asyncio import Redis

from bot.models import ThreadRef
from bot.store import keys
from bot.store.thread_order import ThreadOrder
from tests import samples
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import (
    CHANNEL,
    TEAM,
    USER,
    Harness,
    eventually,
    make_settings,
    next_ts,
    start_bot,
)

# The harness's TURN_CLAIM_TIMEOUT_SECONDS is 3, so a turn waits up to 6 s for a missing one.
ORDER_WAIT_SECONDS = 6.0


async def test_a_failed_enqueue_neither_stalls_the_thread_nor_drops_slacks_retry(
    harness: Harness, redis: Redis
) -> None:
    first = await _first_answer(harness)
    # A stream that can't take entries (WRONGTYPE): XADD fails after the ticket is taken.
    await redis.delete(keys.STREAM)
    await redis.set(keys.STREAM, "not a stream")
    two = _reply("two", first["ts"])

    failed = await harness.deliver(two)
    assert failed.status != 200  # Slack will retry
    await redis.delete(keys.STREAM)
    await harness.bot.services.queue.ensure_group()

    started = time.monotonic()
    await harness.deliver(_reply("three", first["ts"]))
    await eventually(lambda: _answers(harness, first["ts"], 2))
    assert time.monotonic() - started < ORDER_WAIT_SECONDS / 2  # ticket 2 was not waited for
    retried = await harness.deliver(two, retry_num=1)
    assert retried.status == 200

    await harness.replies(first["ts"])
    assert _questions(harness) == ["one", "three", "two"]


async def test_slacks_retry_queues_a_turn_a_dead_process_had_half_queued(
    harness: Harness, redis: Redis
) -> None:
    first = await _first_answer(harness)
    two = _reply("two", first["ts"])
    # A process took the turn's ticket and died before the stream had the job.
    order = ThreadOrder(redis, harness.settings.history_ttl_seconds)
    await order.admit(_thread(first["ts"]), two["ts"], accept=True)

    started = time.monotonic()
    retried = await harness.deliver(two, retry_num=1)
    assert retried.status == 200
    assert time.monotonic() - started < 3  # inside Slack's ack timeout
    await harness.deliver(_reply("three", first["ts"]))

    await harness.replies(first["ts"])
    assert _questions(harness) == ["one", "two", "three"]  # the same ticket: order kept


async def test_a_turn_a_dead_process_half_queued_does_not_stall_the_thread(
    harness: Harness, redis: Redis
) -> None:
    first = await _first_answer(harness)
    # A menu choice whose process died after taking the ticket: Slack never retries those.
    order = ThreadOrder(redis, harness.settings.history_ttl_seconds)
    await order.admit(_thread(first["ts"]), "redo:1700000000.999", accept=False)

    started = time.monotonic()
    await harness.deliver(_reply("two", first["ts"]))
    await eventually(lambda: _answers(harness, first["ts"], 2))

    assert time.monotonic() - started < ORDER_WAIT_SECONDS / 2
    assert _questions(harness) == ["one", "two"]


async def test_a_duplicate_delivered_while_the_first_is_queueing_is_answered_once(
    harness: Harness,
) -> None:
    first = await _first_answer(harness)
    two = _reply("two", first["ts"])

    responses = await asyncio.gather(*(harness.deliver(two, retry_num=n) for n in (None, 1, 2)))
    statuses = [r.status for r in responses]

    await harness.replies(first["ts"])
    assert statuses == [200, 200, 200]
    assert _questions(harness) == ["one", "two"]


async def _first_answer(harness: Harness) -> dict[str, Any]:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    first = await harness.mention("one", files=[shot])
    await harness.replies(first["ts"])
    return first


def _reply(text: str, thread_ts: str) -> dict[str, Any]:
    """A follow-up in the thread, no mention needed."""
    return {
        "type": "message",
        "user": USER,
        "text": text,
        "ts": next_ts(),
        "thread_ts": thread_ts,
        "channel": CHANNEL,
        "channel_type": "channel",
        "team": TEAM,
    }


def _thread(thread_ts: str) -> ThreadRef:
    return ThreadRef(team_id=TEAM, channel_id=CHANNEL, thread_ts=thread_ts)


async def _answers(harness: Harness, thread_ts: str, count: int) -> bool:
    return len(harness.slack.reply_texts(CHANNEL, thread_ts)) >= count


def _questions(harness: Harness) -> list[str]:
    return [r["messages"][-1]["content"][-1]["text"] for r in harness.claude.requests]


async def test_slacks_second_copy_is_dropped_by_the_process_that_queued_the_first(
    slack: FakeSlack, claude: FakeClaude, redis: Redis
) -> None:
    settings = make_settings(slack, claude, TEST_REDIS_URL)
    async with aiohttp.ClientSession() as http:
        harness = Harness(slack, claude, settings, http)
        harness.bots.append(await start_bot(settings, run_workers=False))
        try:
            mention = await harness.mention("one", both_events=False)
            # Even with Redis's mark gone, the process that queued it knows the copy.
            await redis.delete(keys.seen(_thread(mention["ts"]), mention["ts"]))
            copy = {"type": "message", "channel_type": "channel", **mention}
            assert (await harness.deliver(copy)).status == 200
            assert await redis.xlen(keys.STREAM) == 1
        finally:
            await harness.bot.stop()
