"""Requests stay within what the API takes: 32 MB of body (base64 files) and the context window."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.store import keys
from tests import samples
from tests.fakes import FakeClaude
from tests.harness import Harness

BASE64 = {"claude_transport": "base64"}


def documents(request: dict[str, Any]) -> list[bytes]:
    """The PDFs a request carries inline."""
    blocks = [b for b in FakeClaude.blocks(request) if b.get("type") == "document"]
    return [base64.b64decode(b["source"]["data"]) for b in blocks]


@pytest.mark.parametrize("settings_overrides", [BASE64])
async def test_a_file_no_request_could_carry_is_refused_at_once_and_not_kept(
    harness: Harness, redis: Redis
) -> None:
    huge = samples.heavy_pdf(19)  # 25 MB once base64-encoded: past any request's budget
    shared = harness.slack.add_file("F1", "scan.pdf", huge, "application/pdf")
    msg = await harness.mention("summarise this", files=[shared])

    (reply,) = await harness.replies(msg["ts"])
    assert reply.startswith("I couldn't use *scan.pdf*: it is 19 MB, and on this Claude ")
    assert "at most 18 MB" in reply and "split in parts" in reply
    assert [k async for k in redis.scan_iter(f"{keys.PREFIX}:media:*")] == []
    assert harness.claude.requests == []


@pytest.mark.parametrize("settings_overrides", [BASE64])
async def test_a_thread_of_heavy_pdfs_sends_the_newest_that_fit_in_32_mb(
    harness: Harness,
) -> None:
    first, second = samples.heavy_pdf(13), samples.heavy_pdf(13)  # 17 MB each in base64
    shared = harness.slack.add_file("F1", "q1.pdf", first, "application/pdf")
    msg = await harness.mention("summarise q1", files=[shared])
    await harness.replies(msg["ts"])
    shared = harness.slack.add_file("F2", "q2.pdf", second, "application/pdf")
    await harness.mention("and q2?", files=[shared], thread_ts=msg["ts"])

    replies = await harness.replies(msg["ts"])
    assert len(replies) == 2
    assert replies[1].startswith("I see 0 image(s) and 1 document(s). **Answer 2.**")
    assert "I left out the oldest: q1.pdf" in replies[1]
    assert documents(harness.claude.requests[1]) == [second]
    assert all("too_large" not in r for r in harness.claude.requests)


# A small model, so a few images fill it: 12,000 tokens, answers of up to 1,024.
SMALL_WINDOW = {"claude_context_tokens": 12_000, "claude_max_tokens": 1024}


@pytest.mark.parametrize("settings_overrides", [SMALL_WINDOW])
async def test_a_thread_past_the_context_window_leaves_its_oldest_images_out(
    harness: Harness,
) -> None:
    harness.claude.context_window = 12_000
    colors = iter(["red", "green", "blue", "white", "black", "gray", "pink", "navy", "teal"])

    def shots(prefix: str) -> list[dict[str, Any]]:
        # 1000 x 1000: 1,296 tokens each; three questions of three are past the window.
        return [
            harness.slack.add_file(
                f"F{prefix}{i}", f"{prefix}{i}.png", samples.png(next(colors), (1000, 1000))
            )
            for i in range(3)
        ]

    msg = await harness.mention("what are these?", files=shots("a"))
    await harness.replies(msg["ts"])
    await harness.mention("and these?", files=shots("b"), thread_ts=msg["ts"])
    await harness.replies(msg["ts"])
    await harness.mention("and these three?", files=shots("c"), thread_ts=msg["ts"])
    replies = await harness.replies(msg["ts"])
    await harness.message("which was brightest?", thread_ts=msg["ts"])
    replies = await harness.replies(msg["ts"])

    # Every question answered, the oldest image left out once nine no longer fit, and every
    # request within the window with room for the answer.
    assert [r.split(" **")[0] for r in replies] == [
        "I see 3 image(s).",
        "I see 6 image(s).",
        "I see 8 image(s).",
        "I see 8 image(s).",
    ]
    assert replies[2].endswith("at once) I left out the oldest: a0.png._")
    assert all(tokens <= 12_000 - 1024 for tokens in harness.claude.prompt_tokens)
    assert len(harness.claude.requests) == 4


PDF_WINDOW = {"claude_context_tokens": 30_000, "claude_max_tokens": 1024}


@pytest.mark.parametrize("settings_overrides", [PDF_WINDOW])
async def test_when_claude_counts_more_than_estimated_the_oldest_is_left_out_and_asked_again(
    harness: Harness,
) -> None:
    harness.claude.context_window = 30_000
    harness.claude.pdf_page_tokens = 4_000  # dense pages: more than the bot's estimate
    one = harness.slack.add_file("F1", "q1.pdf", samples.pdf_pages(4), "application/pdf")
    msg = await harness.mention("summarise", files=[one])
    await harness.replies(msg["ts"])
    two = harness.slack.add_file("F2", "q2.pdf", samples.pdf_pages(4), "application/pdf")
    await harness.mention("and this one?", files=[two], thread_ts=msg["ts"])
    await harness.replies(msg["ts"])
    await harness.message("which is longer?", thread_ts=msg["ts"])
    replies = await harness.replies(msg["ts"])

    assert [r.split(" **")[0] for r in replies] == ["I see 0 image(s) and 1 document(s)."] * 3
    assert replies[1].endswith("at once) I left out the oldest: q1.pdf._")
    # Each follow-up: refused as too long once (both PDFs), then answered with the newest.
    refused = [tokens > 30_000 for tokens in harness.claude.prompt_tokens]
    assert refused == [False, True, False, True, False]


@pytest.mark.parametrize("settings_overrides", [PDF_WINDOW])
async def test_a_question_too_large_for_the_model_on_its_own_says_what_would_work(
    harness: Harness,
) -> None:
    harness.claude.context_window = 30_000
    harness.claude.pdf_page_tokens = 4_000
    big = harness.slack.add_file("F1", "manual.pdf", samples.pdf_pages(10), "application/pdf")
    msg = await harness.mention("summarise", files=[big])

    (reply,) = await harness.replies(msg["ts"])
    assert reply.startswith("This question and what it needs from the thread are more than")
    assert "fewer files or pages at a time" in reply
    assert len(harness.claude.requests) == 1  # nothing left to leave out: not asked twice
