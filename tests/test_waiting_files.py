"""Files shared without a question: capped while they wait, and read only as many as a request
carries when the question comes."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from bot.claude.request import MAX_IMAGES
from bot.models import ThreadRef
from bot.store import keys
from tests import odd_files, samples
from tests.fakes import FakeClaude
from tests.harness import CHANNEL, TEAM, Harness, eventually

GRAFANA = {"bot_id": "B0GRAFANA", "subtype": "bot_message"}
NOT_READ = "I didn't read the {} oldest of the files shared here"


def shots(harness: Harness, first: int, count: int) -> list[dict[str, Any]]:
    """`count` distinct small screenshots, F{first}…, hosted by the fake Slack."""
    return [
        harness.slack.add_file(f"F{n:02d}", f"shot{n:02d}.png", samples.png("red", (40 + n, 30)))
        for n in range(first, first + count)
    ]


def downloaded(harness: Harness) -> set[str]:
    """The Slack file ids whose bytes the bot downloaded."""
    return {
        r.path.split("/")[2].removeprefix(f"{harness.slack.team_id}-")
        for r in harness.slack.file_requests
    }


async def answered_thread(harness: Harness) -> str:
    """A thread the bot has answered in (about one image); its ts."""
    first = await harness.mention("what is this?", files=shots(harness, 0, 1))
    await harness.replies(first["ts"])
    return str(first["ts"])


async def chart_bot_posts(harness: Harness, thread_ts: str, files: list[dict[str, Any]]) -> None:
    """Another bot shares files in the thread: they wait for its next question."""
    for start in range(0, len(files), 10):  # Slack carries at most 10 files a message
        await harness.message(
            "charts",
            thread_ts=thread_ts,
            user="U0GRAFANA",
            files=files[start : start + 10],
            extra=GRAFANA,
        )
    await harness.settle()


def waiting_key(thread_ts: str) -> str:
    return keys.pending(ThreadRef(team_id=TEAM, channel_id=CHANNEL, thread_ts=thread_ts))


async def test_thirty_files_shared_without_a_question_wait_as_the_newest_twenty(
    harness: Harness, redis: Redis
) -> None:
    thread = await answered_thread(harness)
    await chart_bot_posts(harness, thread, shots(harness, 1, 30))

    assert await redis.llen(waiting_key(thread)) == MAX_IMAGES  # what one request carries
    await harness.message("which chart is widest?", thread_ts=thread)
    replies = await harness.replies(thread)

    # Only the newest 20 are looked up, downloaded, uploaded and sent; the answer says so.
    newest = {f"F{n:02d}" for n in range(11, 31)}
    assert downloaded(harness) == {"F00"} | newest
    assert len(harness.claude.uploads) == 1 + 20
    assert len(FakeClaude.image_blocks(harness.claude.requests[1])) == MAX_IMAGES
    assert replies[1].startswith("I see 20 image(s).")
    assert NOT_READ.format(10) in replies[1]
    assert await redis.llen(waiting_key(thread)) == 0

    # Said once: the next question has nothing unread to report.
    await harness.message("and the narrowest?", thread_ts=thread)
    replies = await harness.replies(thread)
    assert "didn't read" not in replies[2]


async def test_a_question_with_its_own_files_reads_them_first_then_the_newest_waiting(
    harness: Harness,
) -> None:
    thread = await answered_thread(harness)
    await chart_bot_posts(harness, thread, shots(harness, 1, 20))

    await harness.message("compare with mine", thread_ts=thread, files=shots(harness, 21, 5))
    replies = await harness.replies(thread)

    # Five of its own, then the newest 15 of the 20 waiting: the 5 oldest are never fetched.
    assert downloaded(harness) == {"F00"} | {f"F{n:02d}" for n in range(6, 26)}
    assert len(FakeClaude.image_blocks(harness.claude.requests[1])) == MAX_IMAGES
    assert NOT_READ.format(5) in replies[1]


async def test_image_links_in_the_question_count_among_its_own(harness: Harness) -> None:
    thread = await answered_thread(harness)
    await chart_bot_posts(harness, thread, shots(harness, 1, 20))

    links = "<https://example.com/a.png> <https://example.com/b.png>"
    await harness.message(f"compare with {links}", thread_ts=thread)
    replies = await harness.replies(thread)

    assert downloaded(harness) == {"F00"} | {f"F{n:02d}" for n in range(3, 21)}
    assert len(FakeClaude.image_blocks(harness.claude.requests[1])) == MAX_IMAGES
    assert NOT_READ.format(2) in replies[1]


async def test_long_pages_waiting_are_read_only_as_far_as_their_parts_fit(
    harness: Harness,
) -> None:
    thread = await answered_thread(harness)
    page = odd_files.long_page((1000, 8000))  # sent as 4 parts: 5 pages fill a request
    pages = [harness.slack.add_file(f"P{n}", f"page{n}.png", page) for n in range(10)]
    await chart_bot_posts(harness, thread, pages)

    await harness.message("what do the logs say?", thread_ts=thread)
    replies = await harness.replies(thread)

    assert downloaded(harness) == {"F00"} | {f"P{n}" for n in range(5, 10)}
    assert len(FakeClaude.image_blocks(harness.claude.requests[1])) == MAX_IMAGES
    assert NOT_READ.format(5) in replies[1]


async def test_files_shared_while_a_question_is_answered_wait_for_the_next_one(
    harness: Harness, redis: Redis
) -> None:
    thread = await answered_thread(harness)
    await chart_bot_posts(harness, thread, shots(harness, 1, 20))
    harness.claude.chunk_delay = 0.2  # the answer streams for a while

    await harness.message("what do these show?", thread_ts=thread)
    await eventually(lambda: _asked(harness, 2))
    # The waiting list is full: this one pushes the oldest (already taken) out.
    await chart_bot_posts(harness, thread, shots(harness, 40, 1))
    harness.claude.chunk_delay = 0.0
    await harness.replies(thread)

    assert await redis.lrange(waiting_key(thread), 0, -1) != []
    await harness.message("and the last chart?", thread_ts=thread)
    replies = await harness.replies(thread)
    assert "F40" in downloaded(harness)
    assert "didn't read" not in replies[2]


async def _asked(harness: Harness, requests: int) -> bool:
    return len(harness.claude.requests) >= requests


def test_the_waiting_cap_is_what_one_request_carries() -> None:
    assert keys.PENDING_MAX_FILES == MAX_IMAGES
