"""Files: safe downloads with the bot token, and each image uploaded to Claude once."""

from __future__ import annotations

import asyncio
import logging
import socket

import aiohttp
import aiohttp.abc
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import FileRefused
from bot.models import SlackFile
from bot.slack.files import SlackFileFetcher
from tests import samples
from tests.fakes import FakeSlack
from tests.harness import CHANNEL, Harness, answer


async def test_the_token_goes_only_to_allowlisted_hosts(harness: Harness) -> None:
    slack = harness.slack
    grid = slack.add_file("F1", "grid.png", samples.png("red"), redirect_to="origin")
    leak = slack.add_file("F2", "leak.png", samples.png("blue"), redirect_to="evil")
    elsewhere = slack.add_file("F3", "far.png", samples.png("green"), host="evil")
    msg = await harness.mention("what are these?", files=[grid, leak, elsewhere])

    replies = await harness.replies(msg["ts"])

    # Enterprise Grid's redirect to the origin host keeps working, with the token.
    assert [r.authorization for r in slack.file_requests_to("origin")] == [
        f"Bearer {slack.bot_token}"
    ]
    # The host outside SLACK_FILE_HOSTS never sees a request, let alone the token.
    assert slack.file_requests_to("evil") == []
    notes, answered = replies
    assert "leak.png" in notes and "far.png" in notes and "SLACK_FILE_HOSTS" in notes
    assert answered == answer(1, 1)


async def test_an_html_sign_in_page_is_explained(harness: Harness) -> None:
    # The API accepts the token, but the file host wants another one: what Slack does
    # when the app lacks files:read.
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    harness.slack.file_token = "xoxb-other"
    msg = await harness.mention("what is this?", files=[shot])

    (reply,) = await harness.replies(msg["ts"])

    assert "a.png" in reply and "files:read" in reply and "reinstall" in reply
    assert harness.claude.uploads == []


async def test_slack_connect_files_are_resolved_with_files_info(harness: Harness) -> None:
    shared = harness.slack.add_file("F1", "a.png", samples.png(), file_access="check_file_info")
    msg = await harness.mention("what is this?", files=[shared])

    assert await harness.replies(msg["ts"]) == [answer(1, 1)]
    assert harness.slack.calls_to("files.info")[0].args["file"] == "F1"


async def test_a_refused_slack_connect_file_is_named_as_files_info_names_it(
    harness: Harness,
) -> None:
    archive = samples.zip_archive()
    shared = harness.slack.add_file(
        "F0CONNECT", "q3-logs.zip", archive, "application/zip", file_access="check_file_info"
    )
    assert "name" not in shared  # the event lists only the id
    msg = await harness.mention("what is in here?", files=[shared])

    (reply,) = await harness.replies(msg["ts"])
    assert reply.startswith("I couldn't use *q3-logs.zip*: it is a ZIP archive")
    assert "F0CONNECT" not in reply


async def test_the_same_picture_in_two_threads_is_uploaded_once(harness: Harness) -> None:
    data = samples.png()
    one = await harness.mention("a?", files=[harness.slack.add_file("F1", "a.png", data)])
    two = await harness.mention("b?", files=[harness.slack.add_file("F2", "copy.png", data)])
    await harness.settle()

    assert len(harness.claude.uploads) == 1
    ids = {r["messages"][0]["content"][0]["source"]["file_id"] for r in harness.claude.requests}
    assert ids == {harness.claude.uploads[0].file_id}
    assert len(await harness.replies(one["ts"])) == len(await harness.replies(two["ts"])) == 1


async def test_concurrent_shares_of_the_same_bytes_upload_once(harness: Harness) -> None:
    data = samples.png("orange")
    files = [harness.slack.add_file(f"F{i}", f"{i}.png", data) for i in range(6)]

    # Six people: one person's sixth question at once would be over USER_QUEUED_QUESTIONS.
    await asyncio.gather(
        *(harness.mention(f"q{i}?", files=[f], user=f"U{i}") for i, f in enumerate(files))
    )
    await harness.settle()

    assert len(harness.claude.requests) == 6
    assert len(harness.claude.uploads) == 1


async def test_a_file_gone_from_claude_and_slack_is_left_out_and_the_thread_goes_on(
    harness: Harness,
) -> None:
    crash = harness.slack.add_file("F1", "crash.png", samples.png("red"))
    first = await harness.mention("what is this?", files=[crash])
    await harness.replies(first["ts"])
    await harness.message(
        "and this?",
        thread_ts=first["ts"],
        files=[harness.slack.add_file("F2", "log.png", samples.png("blue"))],
    )
    await harness.replies(first["ts"])
    harness.claude.expire(harness.claude.uploads[0].file_id)
    harness.slack.delete_file("F1")

    await harness.message("still there?", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])

    assert replies[-1].startswith("I see 1 image(s)")
    assert "No longer in Slack, so left out: crash.png" in replies[-1]
    request = harness.claude.requests[-1]
    assert len(harness.claude.image_blocks(request)) == 1
    first_question = request["messages"][0]["content"][-1]["text"]
    assert first_question.startswith("[crash.png was shared here but is no longer available.]")
    # The history no longer refers to it: the next turn needs no retry and says nothing.
    await harness.message("and now?", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])
    assert "No longer in Slack" not in replies[-1] and "Answer" in replies[-1]


async def test_the_same_image_twice_in_a_thread_is_uploaded_again_once(
    harness: Harness,
) -> None:
    data = samples.png("green")
    first = await harness.mention("one?", files=[harness.slack.add_file("F1", "a.png", data)])
    await harness.replies(first["ts"])
    await harness.message(
        "two?", thread_ts=first["ts"], files=[harness.slack.add_file("F2", "a2.png", data)]
    )
    await harness.replies(first["ts"])
    assert len(harness.claude.uploads) == 1
    harness.claude.expire(harness.claude.uploads[0].file_id)

    await harness.message("three?", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])

    assert len(replies) == 3 and replies[-1].startswith("I see 2 image(s)")
    assert len(harness.claude.uploads) == 2


async def test_an_expired_file_is_fetched_again_and_the_turn_retried(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    first = await harness.mention("what is this?", files=[shot])
    await harness.replies(first["ts"])
    old = harness.claude.uploads[0].file_id
    harness.claude.expire(old)

    await harness.message("still there?", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])

    assert len(replies) == 2 and "Answer" in replies[1]
    assert len(harness.claude.uploads) == 2
    new = harness.claude.uploads[1].file_id
    assert harness.claude.requests[-1]["messages"][0]["content"][0]["source"]["file_id"] == new

    # The history now refers to the new upload: the next turn needs no retry.
    await harness.message("and again?", thread_ts=first["ts"])
    await harness.settle()
    assert len(harness.claude.uploads) == 2
    assert harness.slack.reply_texts(CHANNEL, first["ts"])[-1].startswith("I see 1 image(s)")


@pytest.mark.parametrize("settings_overrides", [{"download_timeout_seconds": 0.5}])
async def test_a_download_that_takes_too_long_is_refused_and_the_rest_answered(
    harness: Harness,
) -> None:
    slow = harness.slack.add_file(
        "F1", "slow.png", samples.screenshot((400, 300)), chunk_size=256, chunk_delay=0.1
    )
    quick = harness.slack.add_file("F2", "quick.png", samples.png())
    msg = await harness.mention("what are these?", files=[slow, quick])

    notes, answered = await harness.replies(msg["ts"])

    assert "slow.png" in notes and "timed out" in notes
    assert answered == answer(1, 1)


async def test_a_broken_file_host_answer_never_puts_the_token_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def garbled(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(4096)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nxx")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbled, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    token = "xoxb-never-log-me"
    caplog.set_level(logging.DEBUG)
    try:
        async with aiohttp.ClientSession() as http:
            fetcher = SlackFileFetcher(
                http,
                AsyncWebClient(token=token),
                token=token,
                allowed_hosts=("127.0.0.1",),
                max_bytes=1_000_000,
                timeout_seconds=5,
            )
            url = f"http://127.0.0.1:{port}/files-pri/T1-F1/download/a.png"
            with pytest.raises(FileRefused, match="download from Slack failed"):
                await fetcher.fetch(SlackFile(id="F1", name="a.png", url_private_download=url))
    finally:
        server.close()
        await server.wait_closed()

    assert "download of F1 failed: ClientResponseError" in caplog.text
    assert token not in caplog.text


class _NamesToLoopback(aiohttp.abc.AbstractResolver):
    """A resolver that sends every name to 127.0.0.1: a host on the network, as far as the
    fetcher can tell from its name, but reaching the fake file host."""

    async def resolve(
        self, host: str, port: int = 0, family: int = socket.AF_INET
    ) -> list[aiohttp.abc.ResolveResult]:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        pass


async def test_the_token_never_travels_over_plain_http_beyond_this_machine(
    slack: FakeSlack,
) -> None:
    hosted = slack.add_file("F1", "a.png", samples.png())
    port = slack.file_host().rpartition(":")[2]
    plain = f"http://files.example.test:{port}/files-pri/{slack.team_id}-F1/download/a.png"
    connector = aiohttp.TCPConnector(resolver=_NamesToLoopback())
    async with aiohttp.ClientSession(connector=connector) as http:
        fetcher = SlackFileFetcher(
            http,
            AsyncWebClient(token=slack.bot_token, base_url=slack.api_url),
            token=slack.bot_token,
            allowed_hosts=("files.example.test",),  # an allowed host, but not over https
            max_bytes=1_000_000,
            timeout_seconds=5,
        )
        file = SlackFile(id="F1", name="a.png", url_private_download=plain)
        with pytest.raises(FileRefused, match="not a Slack file host I trust"):
            await fetcher.fetch(file)
        # The same host by its loopback address is a local fake: plain http is fine there.
        local = SlackFile(id="F1", name="a.png", url_private_download=hosted["url_private"])
        fetcher.allowed_hosts.add(slack.file_hostname())
        assert await fetcher.fetch(local) == samples.png()

    assert [r.path for r in slack.file_requests] == [f"/files-pri/{slack.team_id}-F1/a.png"]
