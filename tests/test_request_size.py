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
