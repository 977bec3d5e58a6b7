"""The thread's status line follows the work: downloading, reading, looking, writing."""

from __future__ import annotations

import time

from tests import samples
from tests.harness import CHANNEL, Harness, eventually


def statuses(harness: Harness, thread_ts: str) -> list[str]:
    """Every status the bot set in the thread, in order."""
    calls = harness.slack.calls_to("assistant.threads.setStatus")
    return [c.args["status"] for c in calls if c.args["thread_ts"] == thread_ts]


async def test_the_status_says_what_the_bot_is_doing_in_order(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "checkout-500.png", samples.png())
    msg = await harness.mention("why?", files=[shot])
    await harness.replies(msg["ts"])

    assert statuses(harness, msg["ts"]) == [
        "is downloading checkout-500.png…",
        "is looking at the image…",
        "is writing…",
    ]
    # Where Slack rotates loading messages instead, they say the same.
    loading = [
        c.args["loading_messages"] for c in harness.slack.calls_to("assistant.threads.setStatus")
    ]
    assert loading == [["Downloading checkout-500.png…"], ["Looking at the image…"], ["Writing…"]]


async def test_pages_and_images_are_counted_in_the_status(harness: Harness) -> None:
    report = harness.slack.add_file("F1", "q3-report.pdf", samples.pdf_pages(12), "application/pdf")
    shots = [
        harness.slack.add_file(f"F{n}", f"s{n}.png", samples.png(c))
        for n, c in [(2, "red"), (3, "blue"), (4, "green")]
    ]
    msg = await harness.mention("summarise", files=[report, *shots])
    await harness.replies(msg["ts"])

    assert statuses(harness, msg["ts"]) == [
        "is downloading 4 files…",
        "is reading 12 pages and looking at 3 images…",
        "is writing…",
    ]


async def test_a_pdf_alone_is_read(harness: Harness) -> None:
    report = harness.slack.add_file("F1", "q3.pdf", samples.pdf_pages(12), "application/pdf")
    msg = await harness.mention("summarise", files=[report])
    await harness.replies(msg["ts"])

    assert statuses(harness, msg["ts"])[1] == "is reading 12 pages…"


async def test_a_follow_up_without_files_starts_with_thinking(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    msg = await harness.mention("what?", files=[shot])
    await harness.replies(msg["ts"])
    await harness.message("and then?", thread_ts=msg["ts"])
    await harness.replies(msg["ts"])

    assert statuses(harness, msg["ts"])[3:] == [
        "is thinking…",
        "is looking at the image…",
        "is writing…",
    ]


async def test_where_the_status_is_refused_the_eyes_fallback_stays_and_nothing_more_is_tried(
    harness: Harness,
) -> None:
    harness.slack.status_enabled = False  # not_allowed_token_type: no assistant feature here
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    msg = await harness.mention("what?", files=[shot])
    replies = await harness.replies(msg["ts"])

    assert len(harness.slack.calls_to("assistant.threads.setStatus")) == 1
    assert (CHANNEL, msg["ts"], "eyes") not in harness.slack.reactions  # removed when done
    assert harness.slack.calls_to("reactions.add")[0].args["timestamp"] == msg["ts"]
    assert replies[0].startswith("I see 1 image(s)")


async def test_a_slow_status_update_does_not_hold_the_answer_up(harness: Harness) -> None:
    slow_download = samples.png()
    shot = harness.slack.add_file("F1", "a.png", slow_download, chunk_size=16, chunk_delay=0.05)
    msg = await harness.mention("what?", files=[shot])

    async def first_status_shown() -> bool:
        return bool(harness.slack.calls_to("assistant.threads.setStatus"))

    await eventually(first_status_shown)
    harness.slack.delays["assistant.threads.setStatus"] = 5.0  # from the next update on
    started = time.monotonic()
    await harness.settle(timeout=12)

    # Three later updates, each given up after a second: not 15 s of waiting.
    assert time.monotonic() - started < 8
    assert harness.slack.reply_texts(CHANNEL, msg["ts"])[0].startswith("I see 1 image(s)")


async def test_a_shortcuts_file_known_by_id_only_is_not_named_by_its_id(harness: Harness) -> None:
    from tests.test_interactions import open_shortcut, submit

    shot = harness.slack.add_file("F1", "dash.png", samples.png())
    message = {"type": "message", "user": "U0BOB", "ts": "1700000123.000100", "files": [shot]}
    view = await open_shortcut(harness, message)
    await submit(harness, view, "describe", "what is it?")
    await harness.replies(message["ts"])

    assert statuses(harness, message["ts"])[0] == "is downloading a file…"
