"""Threads: earlier images, follow-ups, DMs, and what the bot must not answer."""

from __future__ import annotations

from typing import Any

import pytest

from tests import samples
from tests.harness import CHANNEL, Harness, answer, next_ts


def image_ids(request: dict[str, Any]) -> list[str]:
    """The Files API ids of every image a request carries, in order."""
    return [
        block["source"]["file_id"]
        for message in request["messages"]
        for block in message["content"]
        if block["type"] == "image"
    ]


async def test_a_mention_in_a_thread_uses_the_screenshot_above_it(harness: Harness) -> None:
    parent_ts = next_ts()
    shot = harness.slack.add_file("F1", "crash.png", samples.png())
    harness.slack.set_thread(
        CHANNEL,
        parent_ts,
        [{"user": "U0BOB", "text": "prod is down after deploy", "ts": parent_ts, "files": [shot]}],
    )
    mention = await harness.mention("what does this mean?", thread_ts=parent_ts)

    replies = await harness.replies(parent_ts)

    assert replies == [answer(1, 1)]
    assert len(harness.slack.calls_to("conversations.replies")) == 1
    (request,) = harness.claude.requests
    question = request["messages"][0]["content"][-1]["text"]
    assert "prod is down after deploy" in question
    assert question.endswith("what does this mean?")
    assert mention["thread_ts"] == parent_ts


async def test_a_thread_slack_wont_let_the_bot_read_is_explained(harness: Harness) -> None:
    parent_ts = next_ts()
    shot = harness.slack.add_file("F1", "crash.png", samples.png())
    harness.slack.set_thread(
        CHANNEL, parent_ts, [{"user": "U0BOB", "text": "down", "ts": parent_ts, "files": [shot]}]
    )
    harness.slack.errors["conversations.replies"] = "missing_scope"

    await harness.mention("what does this mean?", thread_ts=parent_ts)
    (reply,) = await harness.replies(parent_ts)

    assert reply.startswith(
        "I couldn't read the earlier messages of this thread (`missing_scope`): the app "
        "needs the channels:history"
    )
    assert harness.claude.requests == []


async def test_follow_ups_reuse_uploaded_images_without_a_mention(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "graph.png", samples.png())
    first = await harness.mention("what is this graph?", files=[shot])
    await harness.replies(first["ts"])
    downloads = len(harness.slack.file_requests)

    await harness.message("and the spike at noon?", thread_ts=first["ts"])
    await harness.message("thanks, anything else?", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])

    assert len(replies) == 3
    assert len(harness.claude.uploads) == 1
    assert len(harness.slack.file_requests) == downloads
    assert len(harness.slack.calls_to("conversations.replies")) == 0
    last = harness.claude.requests[-1]
    assert [m["role"] for m in last["messages"]] == ["user", "assistant"] * 2 + ["user"]
    assert image_ids(last) == [harness.claude.uploads[0].file_id]
    assert last["messages"][1]["content"][0]["text"] == "I see 1 image(s). **Answer 1.**"
    assert last["messages"][-1]["content"] == [{"type": "text", "text": "thanks, anything else?"}]
    assert last["cache_control"] == {"type": "ephemeral"}


async def test_a_follow_up_reads_the_first_turn_from_the_prompt_cache(harness: Harness) -> None:
    harness.claude.min_cache_tokens = 10  # the fake counts a file block as a few tokens
    shot = harness.slack.add_file("F1", "graph.png", samples.png())
    first = await harness.mention("what is this graph?", files=[shot])
    await harness.replies(first["ts"])

    await harness.message("and the spike at noon?", thread_ts=first["ts"])
    await harness.replies(first["ts"])

    first_usage, second_usage = (r["usage"] for r in harness.claude.responses)
    assert first_usage["cache_read_input_tokens"] == 0
    # The earlier exchange is sent byte for byte as before, so Claude reads it from cache.
    assert second_usage["cache_read_input_tokens"] >= first_usage["cache_creation_input_tokens"]
    usage = (await harness.command("usage"))["text"]
    assert f"{second_usage['cache_read_input_tokens']:,} cached" in usage


async def test_new_images_in_the_thread_join_the_conversation(harness: Harness) -> None:
    first_shot = harness.slack.add_file("F1", "before.png", samples.png("red"))
    first = await harness.mention("what is this?", files=[first_shot])
    await harness.replies(first["ts"])

    second_shot = harness.slack.add_file("F2", "after.png", samples.png("blue"))
    await harness.message("and now?", thread_ts=first["ts"], files=[second_shot])
    await harness.replies(first["ts"])

    last = harness.claude.requests[-1]
    assert image_ids(last) == [u.file_id for u in harness.claude.uploads]
    assert len(harness.claude.uploads) == 2


@pytest.mark.parametrize("settings_overrides", [{"follow_ups": False}])
async def test_follow_ups_can_require_a_mention(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    first = await harness.mention("what is this?", files=[shot])
    await harness.replies(first["ts"])

    await harness.message("and this?", thread_ts=first["ts"])
    await harness.mention("and with a mention?", thread_ts=first["ts"])

    assert len(await harness.replies(first["ts"])) == 2


@pytest.mark.parametrize("settings_overrides", [{"follow_ups": False}])
async def test_without_follow_ups_images_posted_between_mentions_join_the_next(
    harness: Harness,
) -> None:
    before = harness.slack.add_file("F1", "before.png", samples.png("red"))
    first = await harness.mention("what is this?", files=[before])
    await harness.replies(first["ts"])
    after = harness.slack.add_file("F2", "after.png", samples.png("blue"))
    await harness.message("here is the new one", thread_ts=first["ts"], files=[after])
    await harness.settle()
    assert len(harness.claude.requests) == 1  # shared, not asked about: no answer

    await harness.mention("compare them", thread_ts=first["ts"])
    await harness.mention("and now?", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])

    assert replies == [answer(1, 1), answer(2, 2), answer(2, 3)]
    second = harness.claude.requests[1]
    assert image_ids(second) == [u.file_id for u in harness.claude.uploads]
    assert len(harness.claude.uploads) == 2  # the third turn reuses both, nothing pending


async def test_another_bots_chart_in_the_thread_joins_the_next_question(harness: Harness) -> None:
    first = await harness.mention(
        "what is this?", files=[harness.slack.add_file("F1", "a.png", samples.png())]
    )
    await harness.replies(first["ts"])
    chart = harness.slack.add_file("F2", "latency.png", samples.png("green"))
    await harness.message(
        "latency last hour",
        thread_ts=first["ts"],
        user="U0GRAFANA",
        files=[chart],
        extra={"bot_id": "B0GRAFANA", "subtype": "bot_message"},
    )
    await harness.settle()
    assert len(harness.claude.requests) == 1  # bots are answered only when they mention it

    await harness.message("does the chart match?", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])

    assert replies == [answer(1, 1), answer(2, 2)]


async def test_a_thread_the_bot_could_not_answer_takes_no_follow_ups(harness: Harness) -> None:
    first = await harness.mention("")
    (reply,) = await harness.replies(first["ts"])
    assert reply.startswith("I don't see anything to look at here")

    await harness.message("ok, so what do we do?", thread_ts=first["ts"])
    await harness.settle()

    assert harness.slack.reply_texts(CHANNEL, first["ts"]) == [reply]
    assert harness.claude.requests == []


async def test_any_direct_message_is_answered(harness: Harness) -> None:
    dm = "D0DIRECT"
    text_only = await harness.message("hello there", channel=dm, channel_type="im")
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    with_image = await harness.message("what's this?", channel=dm, channel_type="im", files=[shot])

    assert await harness.replies(text_only["ts"], channel=dm) == [answer(0, 1)]
    assert await harness.replies(with_image["ts"], channel=dm) == [answer(1, 2)]


async def test_images_shared_without_a_mention_go_nowhere(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "secret.png", samples.png())
    await harness.message("look at this", files=[shot])
    await harness.message("and a reply", thread_ts=next_ts())
    await harness.settle()

    assert harness.slack.file_requests == []
    assert harness.claude.uploads == []
    assert harness.claude.requests == []


async def test_the_bot_ignores_itself_edits_and_other_bots(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    first = await harness.mention("what is this?", files=[shot])
    await harness.replies(first["ts"])
    bot = harness.slack.bot_user_id

    # Its own reply coming back, an edit of it, and another bot chatting in the thread.
    await harness.message(
        "my answer", thread_ts=first["ts"], user=bot, extra={"bot_id": harness.slack.bot_id}
    )
    await harness.message(
        "", thread_ts=first["ts"], extra={"subtype": "message_changed", "user": None}
    )
    await harness.message(
        "I am another bot", thread_ts=first["ts"], user="U0OTHERBOT", extra={"bot_id": "B0OTHER"}
    )
    assert len(await harness.replies(first["ts"])) == 1

    await harness.message(
        f"<@{bot}> summarise please",
        thread_ts=first["ts"],
        user="U0OTHERBOT",
        extra={"bot_id": "B0OTHER", "subtype": "bot_message"},
    )
    assert len(await harness.replies(first["ts"])) == 2


async def test_one_thread_never_sees_another_threads_images(harness: Harness) -> None:
    a = await harness.mention(
        "a?", files=[harness.slack.add_file("F1", "a.png", samples.png("red"))]
    )
    b = await harness.mention(
        "b?", files=[harness.slack.add_file("F2", "b.png", samples.png("blue"))]
    )
    await harness.replies(a["ts"])
    await harness.message("more on a", thread_ts=a["ts"])
    await harness.message("more on b", thread_ts=b["ts"])
    await harness.settle()

    upload_of = {u.filename: u.file_id for u in harness.claude.uploads}
    follow_ups = harness.claude.requests[2:]
    by_question = {r["messages"][-1]["content"][-1]["text"]: image_ids(r) for r in follow_ups}
    assert by_question == {"more on a": [upload_of["a.png"]], "more on b": [upload_of["b.png"]]}


async def test_a_follow_up_sent_during_the_first_answer_is_answered_after_it(
    harness: Harness,
) -> None:
    harness.claude.reply = "A slow, careful first answer. " * 10
    harness.claude.chunk_delay = 0.05  # the first answer streams for about a second
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    first = await harness.mention("what is this?", files=[shot])

    await harness.message("and the red part?", thread_ts=first["ts"])  # no mention
    replies = await harness.replies(first["ts"])

    assert len(replies) == 2
    assert harness.claude.requests[0]["messages"][-1]["content"][-1]["text"] == "what is this?"
    follow_up = harness.claude.requests[1]["messages"]
    assert [m["role"] for m in follow_up] == ["user", "assistant", "user"]
    assert follow_up[-1]["content"] == [{"type": "text", "text": "and the red part?"}]


@pytest.mark.parametrize("settings_overrides", [{"follow_ups": False}])
async def test_without_follow_ups_a_reply_during_the_first_answer_is_left_alone(
    harness: Harness,
) -> None:
    harness.claude.chunk_delay = 0.05
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    first = await harness.mention("what is this?", files=[shot])

    await harness.message("and the red part?", thread_ts=first["ts"])

    assert len(await harness.replies(first["ts"])) == 1
    assert len(harness.claude.requests) == 1


async def test_a_thread_whose_files_were_all_refused_takes_no_follow_ups(
    harness: Harness,
) -> None:
    logs = harness.slack.add_file("F1", "logs.zip", samples.zip_archive(), "application/zip")
    first = await harness.mention("what's wrong?", files=[logs])
    (refusal,) = await harness.replies(first["ts"])
    assert "logs.zip" in refusal

    await harness.message("ok, I'll export a screenshot", thread_ts=first["ts"])
    await harness.settle()

    assert harness.slack.reply_texts(CHANNEL, first["ts"]) == [refusal]
    assert len(harness.slack.file_requests) == 1  # not downloaded again


@pytest.mark.parametrize("settings_overrides", [{"follow_ups": False}])
async def test_a_waiting_file_that_is_gone_is_refused_once_not_forever(harness: Harness) -> None:
    first = await harness.mention(
        "what is this?", files=[harness.slack.add_file("F1", "a.png", samples.png())]
    )
    await harness.replies(first["ts"])
    oops = harness.slack.add_file("F2", "oops.png", samples.png("blue"))
    await harness.message("oops, wrong one", thread_ts=first["ts"], files=[oops])
    await harness.settle()
    harness.slack.delete_file("F2")  # the poster took it back

    await harness.mention("what was the first image?", thread_ts=first["ts"])
    await harness.mention("and the colour?", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])

    assert sum("oops.png" in r for r in replies) == 1  # refused once
    assert len(harness.claude.requests) == 3  # both questions answered from the history
