"""The conversation suite under both transports: the Files API and base64 kept in Redis."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.store import keys
from tests import samples
from tests.harness import Harness, answer, start_bot


@pytest.fixture(params=["files", "base64"])
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    return {"claude_transport": request.param}


def sent_media(harness: Harness, request: dict[str, Any]) -> list[tuple[str, str, bytes]]:
    """(block type, media type, bytes) of every file a request carries, however it travels."""
    uploads = {u.file_id: u for u in harness.claude.uploads}
    media = []
    for block in harness.claude.blocks(request):
        source = block.get("source") or {}
        if source.get("type") == "file":
            upload = uploads[source["file_id"]]
            media.append((block["type"], upload.media_type, upload.data))
        elif source.get("type") == "base64":
            media.append((block["type"], source["media_type"], base64.b64decode(source["data"])))
    return media


def transport_of(harness: Harness) -> str:
    return harness.settings.transport


def requests_kinds(harness: Harness) -> Iterator[set[str]]:
    for request in harness.claude.requests:
        yield {b["source"]["type"] for b in harness.claude.blocks(request) if "source" in b}


async def test_mention_with_several_images_in_order(harness: Harness) -> None:
    images = [samples.png("red"), samples.jpeg(), samples.webp()]
    files = [
        harness.slack.add_file("F1", "a.png", images[0]),
        harness.slack.add_file("F2", "b.jpg", images[1], "image/jpeg"),
        harness.slack.add_file("F3", "c.webp", images[2], "image/webp"),
    ]
    msg = await harness.mention("compare", files=files)

    assert await harness.replies(msg["ts"]) == [answer(3, 1)]
    media = sent_media(harness, harness.claude.requests[0])
    assert [m[2] for m in media] == images
    assert [m[1] for m in media] == ["image/png", "image/jpeg", "image/webp"]
    expected = {"files": {"file"}, "base64": {"base64"}}[transport_of(harness)]
    assert list(requests_kinds(harness)) == [expected]


async def test_follow_ups_carry_the_images_without_downloading_again(harness: Harness) -> None:
    shot = samples.png()
    msg = await harness.mention("what?", files=[harness.slack.add_file("F1", "a.png", shot)])
    await harness.replies(msg["ts"])
    for question in ("and?", "then?", "why?"):
        await harness.message(question, thread_ts=msg["ts"])
    replies = await harness.replies(msg["ts"])

    assert len(replies) == 4
    assert len(harness.slack.file_requests) == 1
    assert all(
        sent_media(harness, r) == [("image", "image/png", shot)] for r in harness.claude.requests
    )
    uploads = {"files": 1, "base64": 0}[transport_of(harness)]
    assert len(harness.claude.uploads) == uploads


async def test_a_pdf_is_a_document_under_either_transport(harness: Harness) -> None:
    pdf = samples.pdf(3)
    msg = await harness.mention(
        "summarise", files=[harness.slack.add_file("F1", "r.pdf", pdf, "application/pdf")]
    )
    await harness.replies(msg["ts"])
    await harness.message("page 2?", thread_ts=msg["ts"])
    await harness.settle()

    for request in harness.claude.requests:
        assert sent_media(harness, request) == [("document", "application/pdf", pdf)]


async def test_a_restarted_process_continues_the_thread(harness: Harness) -> None:
    shot = samples.png()
    msg = await harness.mention("what?", files=[harness.slack.add_file("F1", "a.png", shot)])
    await harness.replies(msg["ts"])

    await harness.bot.stop()
    harness.bots[0] = await start_bot(harness.settings)
    await harness.message("still with me?", thread_ts=msg["ts"])

    assert len(await harness.replies(msg["ts"])) == 2
    assert sent_media(harness, harness.claude.requests[-1]) == [("image", "image/png", shot)]
    assert len(harness.slack.file_requests) == 1


async def test_lost_media_is_fetched_from_slack_again(harness: Harness, redis: Redis) -> None:
    shot = samples.png()
    msg = await harness.mention("what?", files=[harness.slack.add_file("F1", "a.png", shot)])
    await harness.replies(msg["ts"])
    if transport_of(harness) == "files":
        harness.claude.forget(harness.claude.uploads[0].file_id)
    else:
        (key,) = [k async for k in redis.scan_iter(f"{keys.PREFIX}:media:*")]
        await redis.delete(key)

    await harness.message("again?", thread_ts=msg["ts"])
    replies = await harness.replies(msg["ts"])

    assert replies[-1].startswith("I see 1 image(s)")
    assert len(harness.slack.file_requests) == 2
    assert sent_media(harness, harness.claude.requests[-1]) == [("image", "image/png", shot)]


async def test_inline_bytes_live_in_redis_with_the_threads_ttl(
    harness: Harness, redis: Redis
) -> None:
    msg = await harness.mention(
        "what?", files=[harness.slack.add_file("F1", "a.png", samples.png())]
    )
    await harness.replies(msg["ts"])

    stored = [k async for k in redis.scan_iter(f"{keys.PREFIX}:media:*")]
    if transport_of(harness) == "files":
        assert stored == []
    else:
        (key,) = stored
        assert 29 * 86400 < await redis.ttl(key) <= 30 * 86400


async def test_image_links_are_url_sources_and_never_fetched(harness: Harness) -> None:
    link = "https://example.com/status/outage.png"
    msg = await harness.mention(f"what does <{link}|this> show?")

    assert await harness.replies(msg["ts"]) == [answer(1, 1)]
    (block,) = harness.claude.image_blocks(harness.claude.requests[0])
    assert block["source"] == {"type": "url", "url": link}
    assert harness.slack.file_requests == []
