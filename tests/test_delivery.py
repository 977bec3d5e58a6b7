"""Delivery: one answer per message, fast acks, order, and no turn lost across processes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.models import ThreadRef
from bot.pipeline import INTERRUPTED
from bot.store import keys
from bot.store.thread_order import ThreadOrder
from tests import samples
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import (
    CHANNEL,
    TEAM,
    Harness,
    eventually,
    make_settings,
    next_ts,
    start_bot,
)
from tests.processes import serving


async def test_a_mention_delivered_twice_and_retried_is_answered_once(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    msg = await harness.mention("what is this?", files=[shot])  # app_mention + message
    event = {"type": "app_mention", **msg}
    for attempt in (1, 2, 3):
        response = await harness.deliver(event, event_id="Ev00000001", retry_num=attempt)
        assert response.status == 200

    assert len(await harness.replies(msg["ts"])) == 1
    assert len(harness.claude.requests) == 1


async def test_two_replicas_answer_a_message_once(harness: Harness) -> None:
    other = await start_bot(harness.settings)
    harness.bots.append(other)
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    ts = next_ts()
    event = {
        "type": "app_mention",
        "user": "U0ALICE",
        "text": f"<@{harness.slack.bot_user_id}> hi",
        "ts": ts,
        "channel": CHANNEL,
        "files": [shot],
    }

    await asyncio.gather(
        harness.deliver(event, to=harness.bots[0]),
        harness.deliver({**event, "type": "message"}, to=other),
        harness.deliver(event, to=other, retry_num=1),
    )

    assert len(await harness.replies(ts)) == 1


async def test_slack_gets_its_ack_before_claude_answers(harness: Harness) -> None:
    harness.claude.chunk_delay = 0.2  # a slow answer: ~1 s of streaming
    shot = harness.slack.add_file("F1", "a.png", samples.png())

    started = time.monotonic()
    response = await harness.deliver(
        {
            "type": "app_mention",
            "user": "U0ALICE",
            "text": f"<@{harness.slack.bot_user_id}> explain",
            "ts": (ts := next_ts()),
            "channel": CHANNEL,
            "files": [shot],
        }
    )
    acked_after = time.monotonic() - started

    assert response.status == 200
    assert harness.slack.reply_texts(CHANNEL, ts) == []  # nothing answered yet at ack time
    assert acked_after < 1.0
    assert len(await harness.replies(ts)) == 1


async def test_turns_in_one_thread_are_answered_in_arrival_order(harness: Harness) -> None:
    harness.claude.chunk_delay = 0.02
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    first = await harness.mention("one", files=[shot])
    await harness.replies(first["ts"])

    for word in ("two", "three", "four"):
        await harness.message(word, thread_ts=first["ts"])
    await harness.settle()

    questions = [r["messages"][-1]["content"][-1]["text"] for r in harness.claude.requests]
    assert questions == ["one", "two", "three", "four"]
    last = harness.claude.requests[-1]["messages"]
    assert [m["content"][-1]["text"] for m in last if m["role"] == "user"] == [
        "one",
        "two",
        "three",
        "four",
    ]


async def test_history_lives_in_redis_with_a_ttl_and_survives_a_restart(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    first = await harness.mention("what is this?", files=[shot])
    await harness.replies(first["ts"])

    await harness.bot.stop()
    harness.bots[0] = await start_bot(harness.settings)
    await harness.message("and after a restart?", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])

    assert len(replies) == 2
    last = harness.claude.requests[-1]
    assert len(last["messages"]) == 3
    assert len(harness.claude.uploads) == 1
    thread = ThreadRef(team_id=TEAM, channel_id=CHANNEL, thread_ts=first["ts"])
    redis = harness.bot.services.redis
    ttl = await redis.ttl(keys.turns(thread))
    assert 29 * 86400 < ttl <= 30 * 86400
    assert await redis.llen(keys.turns(thread)) == 4


async def test_every_key_expires_and_each_turn_renews_its_threads(
    harness: Harness, redis: Redis
) -> None:
    history_ttl = harness.settings.history_ttl_seconds
    first = await harness.mention(
        "what?", files=[harness.slack.add_file("F1", "a.png", samples.png())]
    )
    await harness.replies(first["ts"])
    await harness.message("and?", thread_ts=first["ts"])
    await harness.replies(first["ts"])

    ttls = {key: await redis.ttl(key) async for key in redis.scan_iter(f"{keys.PREFIX}:*")}
    # Only the queue itself lives on (and channel settings, kept until changed: none here).
    assert {k for k, ttl in ttls.items() if ttl < 0} == {keys.STREAM}
    seen = {k: ttl for k, ttl in ttls.items() if ":seen:" in k}
    assert len(seen) == 2 and all(0 < ttl <= keys.SEEN_TTL_SECONDS for ttl in seen.values())
    # Spend counters outlive the thread: a month's are kept 62 days.
    spend = {k: ttl for k, ttl in ttls.items() if k.startswith(f"{keys.PREFIX}:spend:")}
    assert spend and all(ttl <= keys.SPEND_MONTH_TTL_SECONDS for ttl in spend.values())
    rest = {k: ttl for k, ttl in ttls.items() if k not in {keys.STREAM, *seen, *spend}}
    assert rest and all(ttl <= history_ttl for ttl in rest.values()), rest

    # Days later (here: the TTLs run low), another turn gives the thread its full TTL again.
    thread = ThreadRef(team_id=TEAM, channel_id=CHANNEL, thread_ts=first["ts"])
    for key in (keys.turns(thread), keys.meta(thread)):
        await redis.expire(key, 60)
    await harness.message("still there?", thread_ts=first["ts"])
    assert len(await harness.replies(first["ts"])) == 3
    for key in (keys.turns(thread), keys.meta(thread)):
        assert history_ttl - 60 < await redis.ttl(key) <= history_ttl, key


async def test_two_processes_serve_one_thread_interchangeably(harness: Harness) -> None:
    other = await start_bot(harness.settings)
    harness.bots.append(other)
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    first = await harness.mention("what is this?", files=[shot])
    await harness.replies(first["ts"])

    await harness.message("second", thread_ts=first["ts"])
    await harness.settle()
    # The other process answers the third turn with everything the first one saw.
    await harness.bot.stop()
    harness.bots.remove(harness.bot)
    await harness.message("third", thread_ts=first["ts"])

    assert len(await harness.replies(first["ts"])) == 3
    assert [m["role"] for m in harness.claude.requests[-1]["messages"]] == [
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]


@pytest.mark.parametrize("settings_overrides", [{"shutdown_grace_seconds": 1.0}])
async def test_a_turn_cut_off_by_shutdown_is_closed_and_answered_again_elsewhere(
    harness: Harness, redis: Redis
) -> None:
    harness.claude.reply = "A long and careful answer. " * 20
    harness.claude.chunk_delay = 0.05  # ~3 s of streaming: longer than the grace
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    msg = await harness.mention("what is this?", files=[shot])
    await eventually(lambda: _streaming(harness, msg["ts"]))
    await harness.message("and then?", thread_ts=msg["ts"])

    stopping = harness.bots.pop(0)
    await stopping.stop()  # SIGTERM's path: 1 s of grace, then the turn is cancelled

    (cut,) = harness.slack.messages(CHANNEL, msg["ts"])
    assert cut.stopped and cut.text.endswith(f"_{INTERRUPTED}_")  # not left hanging
    thread = ThreadRef(team_id=TEAM, channel_id=CHANNEL, thread_ts=msg["ts"])
    assert await redis.xlen(keys.STREAM) == 2  # both turns still queued
    assert await ThreadOrder(redis, 60).served(thread) == 0  # the follow-up must still wait

    harness.bots.append(await start_bot(harness.settings))
    replies = await harness.replies(msg["ts"])

    assert len(replies) == 3
    assert replies[1].startswith(harness.claude.reply)  # the whole answer, from the start
    questions = [r["messages"][-1]["content"][-1]["text"] for r in harness.claude.requests]
    assert questions == ["what is this?", "what is this?", "and then?"]  # in order


async def test_a_turn_left_by_a_killed_process_is_finished_by_another(
    slack: FakeSlack, claude: FakeClaude, redis: object, tmp_path: Path
) -> None:
    claude.reply = "A long and careful answer. " * 20
    claude.chunk_delay = 0.05  # ~3.4 s of streaming
    settings = make_settings(slack, claude, TEST_REDIS_URL, turn_claim_timeout_seconds=2.0)
    serve = serving(slack, claude, tmp_path, settings, TURN_CLAIM_TIMEOUT_SECONDS="2")
    async with serve as (doomed, harness):
        shot = slack.add_file("F1", "a.png", samples.png())
        msg = await harness.mention("what is this?", files=[shot])
        await eventually(lambda: _streaming(harness, msg["ts"]))
        # No shutdown at all: no finally block releases the thread lock, marks the turn
        # served or acknowledges the queue entry.
        doomed.kill()
        await doomed.wait()
        (partial,) = slack.reply_texts(CHANNEL, msg["ts"])
        assert not partial.startswith(claude.reply)
        harness.bots.append(await start_bot(settings))
        try:
            await harness.settle(timeout=12)
        finally:
            await harness.bot.stop()

    replies = slack.messages(CHANNEL, msg["ts"])
    assert len(replies) == 2  # the dead process's partial answer, then the whole one
    assert replies[-1].text.startswith(claude.reply)
    assert replies[-1].stopped
    assert len(claude.requests) == 2


async def _streaming(harness: Harness, ts: str) -> bool:
    return bool(harness.slack.reply_texts(CHANNEL, ts))


async def test_a_thread_the_bot_cannot_post_in_is_given_up_not_retried(harness: Harness) -> None:
    harness.slack.not_a_member.add("C0OUTSIDE")
    shot = harness.slack.add_file("F1", "a.png", samples.png())

    msg = await harness.mention("what?", channel="C0OUTSIDE", files=[shot])
    await harness.settle()  # the turn left the queue: acknowledged, not pending for a retry

    assert len(harness.claude.requests) == 1
    assert harness.slack.reply_texts("C0OUTSIDE", msg["ts"]) == []
    assert await harness.bot.services.redis.xlen(keys.STREAM) == 0
