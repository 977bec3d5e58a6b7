"""USER_QUEUED_QUESTIONS: past it a person's new question waits for nothing, with one note."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.models import Job
from bot.store import keys
from bot.store.queue import TurnQueue
from bot.store.waiting import member
from tests import samples
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import (
    CHANNEL,
    TEAM,
    USER,
    Harness,
    answer,
    eventually,
    make_settings,
    start_bot,
)

CAP = 2


@pytest.fixture
async def queued_only(slack: FakeSlack, claude: FakeClaude, redis: Redis) -> AsyncIterator[Harness]:
    """A bot that queues questions but doesn't answer them until a worker process joins."""
    settings = make_settings(slack, claude, TEST_REDIS_URL, user_queued_questions=CAP)
    async with aiohttp.ClientSession() as http:
        harness = Harness(slack, claude, settings, http)
        harness.bots.append(await start_bot(settings, run_workers=False))
        try:
            yield harness
        finally:
            for bot in harness.bots:
                await bot.stop()


async def test_past_the_cap_a_question_is_not_queued_and_its_asker_is_told_once(
    queued_only: Harness,
) -> None:
    harness = queued_only
    asked = [await _ask(harness, n) for n in range(CAP)]
    over = await _ask(harness, CAP)
    retry = {"type": "app_mention", **over}
    await harness.deliver(retry, retry_num=1)  # Slack's retry is no second question either

    async def told() -> bool:
        return bool(harness.slack.ephemerals)

    await eventually(told)
    (note,) = harness.slack.ephemerals
    assert note["user"] == USER and note["channel"] == CHANNEL
    assert note["thread_ts"] == over["ts"]
    assert note["text"].startswith(f"You already have {CAP} questions waiting for an answer")

    # Someone else is not held up by Alice's cap.
    bob = await _ask(harness, 9, user="U0BOB")
    # Answers come once a worker runs; each one frees its place under the cap.
    harness.bots.append(await start_bot(harness.settings))
    for n, message in enumerate([*asked, bob]):
        assert len(await harness.replies(message["ts"])) == 1, n
    assert await harness.replies(over["ts"]) == []
    questions = [r["messages"][-1]["content"][-1]["text"] for r in harness.claude.requests]
    assert sorted(questions) == ["q0?", "q1?", "q9?"]  # Claude never saw the capped one

    again = await _ask(harness, 3)
    assert await harness.replies(again["ts"]) == [answer(1, 4)]
    assert len(harness.slack.ephemerals) == 1


@pytest.mark.parametrize("settings_overrides", [{"user_queued_questions": CAP}])
async def test_questions_left_by_a_dead_process_stop_counting(
    harness: Harness, redis: Redis
) -> None:
    # A process that died left two of Alice's questions counted, 16 minutes ago.
    stale = (time.time() - keys.WAITING_STALE_SECONDS - 60) * 1000
    await redis.zadd(keys.waiting(TEAM, USER), {"C0CHAN:1.0:1.0": stale, "C0CHAN:2.0:2.0": stale})

    asked = await _ask(harness, 0)

    assert len(await harness.replies(asked["ts"])) == 1
    assert harness.slack.ephemerals == []
    assert await redis.zcard(keys.waiting(TEAM, USER)) == 0  # released when answered


async def test_the_one_step_entry_is_the_one_the_queue_writes(queued_only: Harness) -> None:
    harness = queued_only
    asked = await _ask(harness, 0)
    redis = harness.bot.services.redis
    ((_, one_step),) = await redis.xrange(keys.STREAM)
    job = Job.model_validate_json(one_step["job"])
    await TurnQueue(redis, "test").push(job, int(one_step["ticket"]))
    (_, pushed) = (await redis.xrange(keys.STREAM))[-1]

    assert pushed == one_step
    assert job.message_ts == asked["ts"]
    assert await redis.zrange(keys.waiting(TEAM, USER), 0, -1) == [member(job)]


async def _ask(harness: Harness, n: int, *, user: str = USER) -> dict[str, object]:
    """A mention with a screenshot, delivered twice as Slack does; its event."""
    shot = harness.slack.add_file(f"F{n}{user}", f"{n}.png", samples.png())
    return await harness.mention(f"q{n}?", files=[shot], user=user)
