"""USER_QUESTIONS_PER_MINUTE: past it, one "slow down" note, and the question isn't queued."""

from __future__ import annotations

import pytest

from bot.store import keys
from tests import samples
from tests.harness import CHANNEL, TEAM, USER, Harness, answer, eventually


@pytest.mark.parametrize("settings_overrides", [{"user_questions_per_minute": 3}])
async def test_past_the_rate_a_person_is_told_once_and_not_queued(harness: Harness) -> None:
    asked = []
    for n in range(6):
        image = harness.slack.add_file(f"F{n}", "a.png", samples.png())
        asked.append(await harness.mention(f"question {n}?", files=[image]))  # each sent twice

    async def told() -> bool:
        return bool(harness.slack.ephemerals)

    await eventually(told)
    replies = [await harness.replies(m["ts"]) for m in asked]

    assert [len(r) for r in replies] == [1, 1, 1, 0, 0, 0]
    assert len(harness.claude.requests) == 3
    (note,) = harness.slack.ephemerals
    assert note["user"] == USER and note["channel"] == CHANNEL
    assert note["thread_ts"] == asked[3]["ts"]
    assert note["text"].startswith("Slow down a little: that's more than 3 questions in a minute")

    # Someone else asks at their own pace.
    image = harness.slack.add_file("FB", "b.png", samples.png("blue"))
    bob = await harness.mention("mine?", files=[image], user="U0BOB")
    assert await harness.replies(bob["ts"]) == [answer(1, 4)]


@pytest.mark.parametrize("settings_overrides", [{"user_questions_per_minute": 2}])
async def test_the_rate_counts_a_minute_and_follow_ups_across_threads(harness: Harness) -> None:
    first = await harness.mention(
        "one?", files=[harness.slack.add_file("F1", "a.png", samples.png())]
    )
    await harness.replies(first["ts"])
    await harness.message("two?", thread_ts=first["ts"])  # a follow-up is a question too
    await harness.settle()
    third = await harness.mention(
        "three?", files=[harness.slack.add_file("F2", "b.png", samples.png())]
    )
    assert await harness.replies(third["ts"]) == []

    # A minute later the earlier questions no longer count (and the note may come again).
    redis = harness.bot.services.redis
    key = keys.question_rate(TEAM, USER)
    earlier = await redis.zrange(key, 0, -1, withscores=True)
    await redis.zadd(key, {member: score - 61_000 for member, score in earlier})
    await redis.delete(keys.rate_warned(TEAM, USER))
    fourth = await harness.mention(
        "four?", files=[harness.slack.add_file("F3", "c.png", samples.png())]
    )
    assert len(await harness.replies(fourth["ts"])) == 1


@pytest.mark.parametrize(
    "settings_overrides", [{"user_questions_per_minute": 0, "user_queued_questions": 0}]
)
async def test_a_rate_of_zero_means_no_limit(harness: Harness) -> None:
    for n in range(12):
        await harness.mention(
            f"q{n}?", files=[harness.slack.add_file(f"F{n}", "a.png", samples.png())]
        )
    await harness.settle(timeout=60)
    assert len(harness.claude.requests) == 12
