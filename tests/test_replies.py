"""Replies: progress at once, streamed Markdown, fallbacks, long answers, errors."""

from __future__ import annotations

import itertools
import logging

import pytest

from bot.models import ThreadRef
from bot.store import keys
from tests import samples
from tests.harness import CHANNEL, TEAM, Harness, next_ts

FOOTER = "_Template: describe_"


async def ask(harness: Harness, question: str = "what is this?") -> str:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    msg = await harness.mention(question, files=[shot])
    await harness.settle()
    return str(msg["ts"])


async def test_progress_shows_at_once_then_the_answer_streams(harness: Harness) -> None:
    harness.claude.reply = "The build failed because **tests** timed out. " * 20
    ts = await ask(harness)

    methods = [c.method for c in harness.slack.calls if c.method.startswith(("chat.", "assist"))]
    assert methods[0] == "assistant.threads.setStatus"
    assert harness.slack.calls_to("assistant.threads.setStatus")[0].args["status"]
    start = harness.slack.calls_to("chat.startStream")[0].args
    assert start["thread_ts"] == ts
    assert (start["recipient_team_id"], start["recipient_user_id"]) == ("T0TEAM", "U0ALICE")
    # The first words go out as soon as Claude sends them, not after a buffer fills.
    assert start["markdown_text"] == harness.claude.reply[: harness.claude.chunk_size]
    assert methods[-1] == "chat.stopStream"
    (message,) = harness.slack.messages(CHANNEL, ts)
    assert message.text == f"{harness.claude.reply}\n\n{FOOTER}"
    assert message.streamed and message.stopped


async def test_without_streaming_it_posts_then_edits(harness: Harness) -> None:
    harness.slack.streaming_enabled = False
    harness.slack.status_enabled = False
    harness.claude.reply = "Line one.\n\nLine two with `code`."
    ts = await ask(harness)

    assert harness.slack.calls_to("reactions.add")[0].args["name"] == "eyes"
    assert harness.slack.calls_to("reactions.remove")
    assert harness.slack.calls_to("chat.postMessage")[0].args["markdown_text"]
    assert harness.slack.reply_texts(CHANNEL, ts) == [f"{harness.claude.reply}\n\n{FOOTER}"]


async def test_without_streaming_edits_come_at_most_once_a_second(harness: Harness) -> None:
    harness.slack.streaming_enabled = False
    harness.claude.reply = "Words arriving slowly. " * 12
    harness.claude.chunk_delay = 0.08  # about 2.8 s of answer
    ts = await ask(harness)

    edits = [c.at for c in harness.slack.calls_to("chat.update")]
    assert len(edits) >= 2  # the answer grew in place while Claude wrote it
    gaps = [later - earlier for earlier, later in itertools.pairwise(edits)]
    # The final edit (footer and template menu) may follow at once; the others wait.
    assert all(gap >= 0.95 for gap in gaps[:-1]), gaps
    assert harness.slack.reply_texts(CHANNEL, ts) == [f"{harness.claude.reply}\n\n{FOOTER}"]


async def test_a_long_answer_continues_in_further_messages(harness: Harness) -> None:
    paragraph = ("A fairly long line of explanation about the screenshot. " * 4).strip() + "\n"
    harness.claude.reply = paragraph * 120  # ~27,000 characters
    harness.claude.chunk_size = 2000
    ts = await ask(harness)

    texts = harness.slack.reply_texts(CHANNEL, ts)
    assert len(texts) >= 3
    assert all(len(t) <= 12000 for t in texts)
    shown = "\n".join(texts).replace("\n", "")
    assert shown == (harness.claude.reply + FOOTER).replace("\n", "")


async def test_claude_overloaded_tells_the_thread_to_try_again(harness: Harness) -> None:
    harness.claude.fail_next(529, "overloaded_error")
    ts = await ask(harness)

    (reply,) = harness.slack.reply_texts(CHANNEL, ts)
    assert "try again in a minute" in reply

    # The process keeps serving.
    shot = harness.slack.add_file("F2", "b.png", samples.png("blue"))
    msg = await harness.mention("again?", files=[shot])
    assert "Answer" in (await harness.replies(msg["ts"]))[0]


async def test_an_error_mid_answer_keeps_the_partial_text_and_says_what_happened(
    harness: Harness,
) -> None:
    harness.claude.reply = "Here is the first part of a long answer that gets cut."
    harness.claude.fail_mid_stream("overloaded_error", after_chunks=2)
    ts = await ask(harness)

    (reply,) = harness.slack.reply_texts(CHANNEL, ts)
    assert reply.startswith(harness.claude.reply[:16])
    assert "try again in a minute" in reply


@pytest.mark.parametrize("how", ["eof", "reset", "garbage"])
async def test_a_stream_that_breaks_off_is_not_taken_for_the_whole_answer(
    harness: Harness, how: str
) -> None:
    harness.claude.reply = "Here is the first part of a long answer that gets cut."
    harness.claude.break_stream(how, after_chunks=2)
    ts = await ask(harness)

    (reply,) = harness.slack.reply_texts(CHANNEL, ts)
    assert reply.startswith(harness.claude.reply[:16])
    assert reply.endswith(
        "_My connection to Claude broke off before the answer was complete. Please ask again._"
    )
    assert FOOTER not in reply
    # Not remembered as an answer, so no later question builds on half of one.
    thread = ThreadRef(team_id=TEAM, channel_id=CHANNEL, thread_ts=ts)
    assert await harness.bot.services.redis.llen(keys.turns(thread)) == 0


async def test_a_bad_api_key_is_reported_without_the_key(harness: Harness) -> None:
    harness.claude.api_key = "sk-ant-other"
    ts = await ask(harness)

    (reply,) = harness.slack.reply_texts(CHANNEL, ts)
    assert "ANTHROPIC_API_KEY" in reply
    assert "sk-ant" not in reply


async def test_usage_is_logged_per_turn(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.asking")
    ts = await ask(harness)

    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("answered")]
    assert f"ts={ts}" in line
    assert "input=" in line and "cache_read=" in line and "output=" in line


async def ask_again(harness: Harness, file_id: str) -> str:
    """Another question in a new thread, about a new image."""
    shot = harness.slack.add_file(file_id, f"{file_id}.png", samples.png())
    msg = await harness.mention("and this?", files=[shot])
    await harness.settle()
    return str(msg["ts"])


async def test_a_transient_status_error_falls_back_for_that_turn_only(harness: Harness) -> None:
    harness.slack.status_enabled = False
    harness.slack.status_error = "ratelimited"
    first = await ask(harness)
    assert harness.slack.calls_to("reactions.add")[0].args["timestamp"] == first

    harness.slack.status_enabled = True
    second = await ask_again(harness, "F2")

    threads = [c.args["thread_ts"] for c in harness.slack.calls_to("assistant.threads.setStatus")]
    assert threads.count(first) == 1  # refused once: no more status updates in that turn
    assert threads.count(second) >= 1  # the next turn tries again
    assert harness.slack.statuses[-1][:2] == (CHANNEL, second)
    assert len(harness.slack.calls_to("reactions.add")) == 1


async def test_a_workspace_without_the_assistant_feature_is_not_asked_again(
    harness: Harness,
) -> None:
    harness.slack.status_enabled = False  # not_allowed_token_type
    await ask(harness)
    harness.slack.status_enabled = True  # would now work, but this process stopped asking
    await ask_again(harness, "F2")

    assert len(harness.slack.calls_to("assistant.threads.setStatus")) == 1
    assert len(harness.slack.calls_to("reactions.add")) == 2


async def test_a_rate_limited_stream_holds_its_words_and_finishes_whole(harness: Harness) -> None:
    harness.claude.reply = "Words that keep coming. " * 10
    harness.claude.chunk_delay = 0.06  # about 1.8 s of answer
    # The client retries a 429 once by itself; the second one reaches the bot.
    harness.slack.rate_limited["chat.appendStream"] = 2

    ts = await ask(harness)

    (message,) = harness.slack.messages(CHANNEL, ts)
    assert message.text == f"{harness.claude.reply}\n\n{FOOTER}"
    assert message.stopped
    assert harness.slack.rate_limited["chat.appendStream"] == 0  # it did hit the limit


async def test_a_slack_connect_asker_gets_the_stream_in_their_own_workspace(
    harness: Harness,
) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    ts = next_ts()
    event = {
        "type": "app_mention",
        "user": "U0PARTNER",
        "user_team": "T0PARTNER",  # from another organisation, in a shared channel
        "text": f"<@{harness.slack.bot_user_id}> what is this?",
        "ts": ts,
        "channel": CHANNEL,
        "team": "T0PARTNER",
        "files": [shot],
    }
    await harness.deliver(event)
    await harness.settle()

    start = harness.slack.calls_to("chat.startStream")[0].args
    assert (start["recipient_team_id"], start["recipient_user_id"]) == ("T0PARTNER", "U0PARTNER")
    assert harness.slack.reply_texts(CHANNEL, ts)[0].endswith(FOOTER)


async def test_an_answer_ending_while_rate_limited_waits_to_post_its_last_words(
    harness: Harness,
) -> None:
    harness.claude.reply = "Short, but streamed in pieces. " * 3
    harness.claude.chunk_delay = 0.05
    # Two 429s reach the bot (the client retries once itself), then one more for the very
    # next call: the end of the answer must wait for Slack, not fail.
    harness.slack.rate_limited["chat.appendStream"] = 3

    ts = await ask(harness)

    (message,) = harness.slack.messages(CHANNEL, ts)
    assert message.text == f"{harness.claude.reply}\n\n{FOOTER}" and message.stopped
