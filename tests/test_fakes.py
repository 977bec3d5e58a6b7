"""The fakes speak the protocols the real SDKs expect (driven by the real clients)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import pytest
from anthropic.types import FileExpiredError
from PIL import Image
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes import FakeClaude, FakeSlack
from tests.fakes.slack_api import UploadedFile

MODEL = "claude-sonnet-5-5"
Json = dict[str, Any]


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 30)) -> bytes:
    """A small solid image in the given format."""
    buf = io.BytesIO()
    Image.new("RGB", size, "red").save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
async def claude() -> AsyncIterator[FakeClaude]:
    async with FakeClaude() as fake:
        yield fake


@pytest.fixture
async def client(claude: FakeClaude) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=claude.base_url) as c:
        yield c


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token="xoxb-test") as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=slack.api_url)


def image_turn(file_id: str, question: str = "What is this?") -> Any:
    image = {"type": "image", "source": {"type": "file", "file_id": file_id}}
    return {"role": "user", "content": [image, {"type": "text", "text": question}]}


# ----- Claude -----
async def test_upload_then_stream_with_file(
    claude: FakeClaude, client: anthropic.AsyncAnthropic
) -> None:
    meta = await client.files.upload(
        file=("a.png", image_bytes(), "image/png"), expires_in_seconds=3600
    )
    assert meta.id.startswith("file_") and meta.mime_type == "image/png"
    assert meta.filename == "a.png" and meta.expires_at is not None and not meta.downloadable
    assert claude.uploads[0].media_type == "image/png"
    assert claude.uploads[0].expires_in_seconds == 3600
    assert (await client.files.retrieve_metadata(meta.id)).size_bytes == meta.size_bytes

    async with client.messages.stream(
        model=MODEL, max_tokens=500, messages=[image_turn(meta.id)]
    ) as stream:
        pieces = [t async for t in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == "I see 1 image(s). **Answer 1.**"
    assert final.stop_reason == "end_turn" and final.usage.input_tokens > 1000
    assert final.usage.output_tokens > 0 and final.usage.cache_read_input_tokens == 0
    assert claude.message_requests_with_file(meta.id) == claude.requests
    assert len(claude.image_blocks(claude.requests[0])) == 1

    deleted = await client.files.delete(meta.id)
    assert deleted.type == "file_deleted"
    with pytest.raises(anthropic.NotFoundError):
        await client.files.retrieve_metadata(meta.id)


async def test_expired_and_unknown_files(
    claude: FakeClaude, client: anthropic.AsyncAnthropic
) -> None:
    meta = await client.files.upload(file=("a.png", image_bytes(), "image/png"))
    claude.expire(meta.id)
    with pytest.raises(FileExpiredError) as expired:
        await client.messages.create(model=MODEL, max_tokens=50, messages=[image_turn(meta.id)])
    assert expired.value.error_code == "file_expired" and expired.value.request_id
    claude.forget(meta.id)
    with pytest.raises(anthropic.NotFoundError) as unknown:
        await client.messages.create(model=MODEL, max_tokens=50, messages=[image_turn(meta.id)])
    assert unknown.value.error_code is None and not isinstance(unknown.value, FileExpiredError)


async def test_image_checks(client: anthropic.AsyncAnthropic) -> None:
    jpeg = await client.files.upload(file=("a.png", image_bytes("JPEG"), "image/png"))
    with pytest.raises(anthropic.BadRequestError, match="does not match the provided media type"):
        await client.messages.create(model=MODEL, max_tokens=50, messages=[image_turn(jpeg.id)])
    html = b"<!DOCTYPE html><html><title>Sign in to Slack</title></html>"
    page = await client.files.upload(file=("a.png", html, "image/png"))
    with pytest.raises(anthropic.BadRequestError, match="Could not process image"):
        await client.messages.create(model=MODEL, max_tokens=50, messages=[image_turn(page.id)])
    bare = await client.files.upload(file=image_bytes())  # bare bytes: octet-stream
    with pytest.raises(anthropic.BadRequestError, match="application/octet-stream"):
        await client.messages.create(model=MODEL, max_tokens=50, messages=[image_turn(bare.id)])
    data = base64.b64encode(image_bytes("JPEG")).decode()
    source: Any = {"type": "base64", "media_type": "image/jpeg", "data": data}
    ok = await client.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[{"role": "user", "content": [{"type": "image", "source": source}]}],
    )
    assert ok.content[0].type == "text" and "1 image(s)" in ok.content[0].text
    big = base64.b64encode(image_bytes("PNG", (8100, 10))).decode()
    source = {"type": "base64", "media_type": "image/png", "data": big}
    with pytest.raises(anthropic.BadRequestError) as too_big:
        await client.messages.create(
            model=MODEL,
            max_tokens=50,
            messages=[{"role": "user", "content": [{"type": "image", "source": source}]}],
        )
    assert too_big.value.error_code == "image_dimensions_too_large"


async def test_images_over_5_mb_are_refused_by_file_id_and_by_base64(
    client: anthropic.AsyncAnthropic,
) -> None:
    # 3,932,161 raw bytes are 5,242,884 once base64-encoded: 4 over the API's cap.
    over = image_bytes("PNG") + b"\x00" * (3_932_161 - len(image_bytes("PNG")))
    uploaded = await client.files.upload(file=("big.png", over, "image/png"))
    inline: Any = {"type": "base64", "media_type": "image/png", "data": base64.b64encode(over)}
    inline["data"] = inline["data"].decode()
    message = "image exceeds 5 MB maximum: 5242884 bytes > 5242880 bytes"
    for block in ({"type": "file", "file_id": uploaded.id}, inline):
        turn: Any = {"role": "user", "content": [{"type": "image", "source": block}]}
        with pytest.raises(anthropic.BadRequestError, match=message):
            await client.messages.create(model=MODEL, max_tokens=50, messages=[turn])
    fits = image_bytes("PNG") + b"\x00" * (3_932_160 - len(image_bytes("PNG")))
    uploaded = await client.files.upload(file=("fits.png", fits, "image/png"))
    turn = {
        "role": "user",
        "content": [{"type": "image", "source": {"type": "file", "file_id": uploaded.id}}],
    }
    await client.messages.create(model=MODEL, max_tokens=50, messages=[turn])


async def test_request_validation(client: anthropic.AsyncAnthropic) -> None:
    hello: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(anthropic.BadRequestError, match="temperature"):
        await client.messages.create(
            model=MODEL, max_tokens=50, messages=hello, extra_body={"temperature": 0.2}
        )
    with pytest.raises(anthropic.BadRequestError, match="alternate"):
        await client.messages.create(model=MODEL, max_tokens=50, messages=hello + hello)
    with pytest.raises(anthropic.BadRequestError, match="first message"):
        await client.messages.create(
            model=MODEL, max_tokens=50, messages=[{"role": "assistant", "content": "x"}]
        )
    bad_block: Any = [{"role": "user", "content": [{"type": "picture"}]}]
    with pytest.raises(anthropic.BadRequestError, match="Input tag 'picture'"):
        await client.messages.create(model=MODEL, max_tokens=50, messages=bad_block)


async def test_a_missing_or_malformed_file_id_is_a_bad_request_not_a_gone_file(
    client: anthropic.AsyncAnthropic,
) -> None:
    missing: Any = {"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}
    with pytest.raises(anthropic.BadRequestError, match="file_id: Field required"):
        await client.messages.create(model=MODEL, max_tokens=50, messages=[missing])
    for malformed in ("", "F0123", "file_ab/../cd", 42):
        with pytest.raises(anthropic.BadRequestError, match="Invalid file id"):
            await client.messages.create(
                model=MODEL,
                max_tokens=50,
                messages=[image_turn(malformed)],  # type: ignore[arg-type]
            )
    with pytest.raises(anthropic.NotFoundError):  # well-formed, but no such file
        await client.messages.create(
            model=MODEL, max_tokens=50, messages=[image_turn("file_011NoSuchFile")]
        )


async def test_a_request_over_32_mb_is_refused_whole(
    claude: FakeClaude, client: anthropic.AsyncAnthropic
) -> None:
    text = "x" * (33 * 1024 * 1024)
    with pytest.raises(anthropic.APIStatusError) as err:
        await client.messages.create(
            model=MODEL, max_tokens=50, messages=[{"role": "user", "content": text}]
        )
    assert err.value.status_code == 413 and err.value.type == "request_too_large"
    assert claude.responses == []


async def test_a_prompt_past_the_context_window_is_refused_in_the_apis_words(
    claude: FakeClaude, client: anthropic.AsyncAnthropic
) -> None:
    claude.context_window = 1000
    fits: Any = [{"role": "user", "content": "x" * 2000}]  # ~500 tokens
    await client.messages.create(model=MODEL, max_tokens=100, messages=fits)
    with pytest.raises(anthropic.BadRequestError) as over:
        await client.messages.create(
            model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "x" * 8000}]
        )
    assert over.value.type == "invalid_request_error"
    assert re.fullmatch(r"prompt is too long: \d+ tokens > 1000 maximum", over.value.api_message)
    with pytest.raises(anthropic.BadRequestError, match=r"input length and `max_tokens` exceed"):
        await client.messages.create(model=MODEL, max_tokens=600, messages=fits)
    data = base64.b64encode(image_bytes("PNG", (1400, 1400))).decode()  # 2,500 tokens
    picture: Any = {"type": "image", "source": {"type": "base64", "media_type": "image/png"}}
    picture["source"]["data"] = data
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
        await client.messages.create(
            model=MODEL, max_tokens=100, messages=[{"role": "user", "content": [picture]}]
        )


@pytest.mark.parametrize("how", ["eof", "reset", "garbage"])
async def test_a_broken_stream_never_ends_in_message_stop(
    claude: FakeClaude, client: anthropic.AsyncAnthropic, how: str
) -> None:
    claude.break_stream(how, after_chunks=2)
    seen: list[str] = []
    final = None
    with contextlib.suppress(Exception):
        async with client.messages.stream(
            model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            async for text in stream.text_stream:
                seen.append(text)
            final = await stream.get_final_message()
    assert len(seen) == 2
    # Cut short cleanly the SDK finishes without a stop reason; otherwise it raises.
    assert (final is not None and final.stop_reason is None) is (how == "eof")
    assert claude.responses == []


async def test_first_token_delay_holds_the_first_words_not_the_checks(
    claude: FakeClaude, client: anthropic.AsyncAnthropic
) -> None:
    claude.first_token_delay = 0.3
    loop = asyncio.get_running_loop()
    seen: dict[str, float] = {"request": loop.time()}
    async with client.messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        async for event in stream:
            seen.setdefault(event.type, loop.time())
    # message_start comes first, as Claude's does; the words wait (a lower bound only).
    assert list(seen)[:2] == ["request", "message_start"]
    assert seen["text"] - seen["request"] >= 0.3
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        await client.messages.create(  # still checked, delay or not
            model=MODEL, max_tokens=0, messages=[{"role": "user", "content": "hi"}]
        )
    reply = await client.messages.create(
        model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.stop_reason == "end_turn"


async def test_auth(claude: FakeClaude) -> None:
    async with anthropic.AsyncAnthropic(api_key="wrong", base_url=claude.base_url) as bad:
        with pytest.raises(anthropic.AuthenticationError):
            await bad.messages.create(
                model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "hi"}]
            )


async def test_mid_stream_error(claude: FakeClaude, client: anthropic.AsyncAnthropic) -> None:
    claude.fail_mid_stream("overloaded_error", after_chunks=2)
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as err:
        async with client.messages.stream(
            model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            async for text in stream.text_stream:
                seen.append(text)
    assert err.value.status_code == 200 and err.value.type == "overloaded_error"
    assert len(seen) == 2


async def test_fail_next_is_retried(claude: FakeClaude, client: anthropic.AsyncAnthropic) -> None:
    claude.fail_next(529, "overloaded_error", retry_after=0.01)
    reply = await client.messages.create(
        model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert len(claude.requests) == 2 and "Answer 1." in reply.content[0].text  # type: ignore[union-attr]
    claude.fail_next(529, "overloaded_error", times=3)
    with pytest.raises(anthropic.OverloadedError) as err:
        await client.with_options(max_retries=0).messages.create(
            model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        )
    assert err.value.type == "overloaded_error"


async def test_prompt_caching(claude: FakeClaude, client: anthropic.AsyncAnthropic) -> None:
    meta = await client.files.upload(file=("a.png", image_bytes(), "image/png"))
    turn1 = [image_turn(meta.id, "What is this? " * 20)]
    first = await client.messages.create(
        model=MODEL, max_tokens=100, messages=turn1, cache_control={"type": "ephemeral"}
    )
    assert first.usage.cache_read_input_tokens == 0
    assert (
        first.usage.cache_creation_input_tokens and first.usage.cache_creation_input_tokens > 1000
    )
    turn2: Any = [
        *turn1,
        {"role": "assistant", "content": first.content[0].text},  # type: ignore[union-attr]
        {"role": "user", "content": "And now?"},
    ]
    second = await client.messages.create(
        model=MODEL, max_tokens=100, messages=turn2, cache_control={"type": "ephemeral"}
    )
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert 0 < (second.usage.cache_creation_input_tokens or 0) < 100
    plain = await client.messages.create(model=MODEL, max_tokens=100, messages=turn2)
    assert plain.usage.cache_read_input_tokens == 0 and plain.usage.cache_creation_input_tokens == 0


# ----- Slack Web API -----
async def test_auth_test_and_tokens(slack: FakeSlack, web: AsyncWebClient) -> None:
    me = await web.auth_test()
    assert me["user_id"] == "UBOT" and me["bot_id"] == "BBOT"
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()
    with pytest.raises(SlackApiError, match="not_authed"):
        await AsyncWebClient(base_url=slack.api_url).auth_test()
    with pytest.raises(SlackApiError, match="unknown_method"):
        await web.api_call("chat.nope")
    assert [c.method for c in slack.calls][:3] == ["auth.test"] * 3


async def test_post_and_update(slack: FakeSlack, web: AsyncWebClient) -> None:
    posted = await web.chat_postMessage(channel="C1", thread_ts="1700000000.000100", text="hi")
    with pytest.raises(SlackApiError, match="markdown_text_conflict"):
        await web.chat_postMessage(channel="C1", text="x", markdown_text="**x**")
    with pytest.raises(SlackApiError, match="markdown_text_conflict"):
        await web.chat_postMessage(channel="C1", markdown_text="**x**", blocks=[])
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await web.chat_postMessage(channel="C1", markdown_text="x" * 12_001)
    with (
        pytest.raises(SlackApiError, match="no_text"),
        pytest.warns(UserWarning, match="`text` argument is missing"),
    ):
        await web.chat_postMessage(channel="C1")
    await web.chat_update(channel="C1", ts=posted["ts"], markdown_text="**done**")
    blocks = '[{"type": "section", "text": {"type": "mrkdwn", "text": "as blocks"}}]'
    await web.api_call("chat.update", data={"channel": "C1", "ts": posted["ts"], "blocks": blocks})
    with pytest.raises(SlackApiError, match="message_not_found"):
        await web.chat_update(channel="C1", ts="1.2", text="x")
    [msg] = slack.messages("C1", "1700000000.000100")
    assert msg.text == "as blocks" and msg.updates == 2 and msg.blocks is not None
    assert slack.calls_to("chat.update")[1].args["blocks"][0]["type"] == "section"


async def test_native_streaming(slack: FakeSlack, web: AsyncWebClient) -> None:
    thread = "1700000000.000100"
    with pytest.raises(SlackApiError, match="missing_recipient_team_id"):
        await web.chat_startStream(channel="C1", thread_ts=thread)
    started = await web.chat_startStream(
        channel="C1", thread_ts=thread, recipient_team_id="T0TEST", recipient_user_id="U1"
    )
    await web.chat_appendStream(channel="C1", ts=started["ts"], markdown_text="Hello ")
    chunk = {"type": "markdown_text", "text": "**world**"}
    await web.chat_appendStream(channel="C1", ts=started["ts"], chunks=[chunk])
    await web.chat_stopStream(channel="C1", ts=started["ts"], markdown_text="!")
    with pytest.raises(SlackApiError, match="message_not_in_streaming_state"):
        await web.chat_appendStream(channel="C1", ts=started["ts"], markdown_text="late")
    assert slack.reply_texts("C1", thread) == ["Hello **world**!"]
    assert slack.messages("C1")[0].streamed and slack.messages("C1")[0].stopped

    helper = await web.chat_stream(channel="D1", thread_ts=thread, buffer_size=5)
    for word in ("one ", "two ", "three"):
        await helper.append(markdown_text=word)
    await helper.stop()
    assert slack.reply_texts("D1", thread) == ["one two three"]

    slack.streaming_enabled = False
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await web.chat_startStream(channel="D1", thread_ts=thread)


async def test_status_and_reactions(slack: FakeSlack, web: AsyncWebClient) -> None:
    await web.assistant_threads_setStatus(channel_id="C1", thread_ts="1.1", status="is looking...")
    assert slack.status("C1", "1.1") == "is looking..."
    await web.chat_postMessage(channel="C1", thread_ts="1.1", markdown_text="answer")
    assert slack.status("C1", "1.1") == ""
    await web.reactions_add(channel="C1", timestamp="1.1", name="eyes")
    with pytest.raises(SlackApiError, match="already_reacted"):
        await web.reactions_add(channel="C1", timestamp="1.1", name="eyes")
    await web.reactions_remove(channel="C1", timestamp="1.1", name="eyes")
    assert not slack.reactions
    slack.status_enabled = False
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await web.assistant_threads_setStatus(channel_id="C1", thread_ts="1.1", status="x")


async def test_replies_paging_and_rate_limit(slack: FakeSlack, web: AsyncWebClient) -> None:
    parent = "1700000000.000000"
    msgs = [{"ts": f"1700000000.{i:06d}", "user": "U1", "text": f"m{i}"} for i in range(20)]
    slack.set_thread("C1", parent, msgs)
    await web.chat_postMessage(channel="C1", thread_ts=parent, text="bot reply")
    first = await web.conversations_replies(channel="C1", ts=parent, limit=100)
    assert len(first["messages"]) == 15 and first["has_more"]
    assert first["messages"][0]["ts"] == parent
    with pytest.raises(SlackApiError) as limited:
        await web.conversations_replies(channel="C1", ts=parent, cursor="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "60"
    slack.advance_clock(60)
    cursor = first["response_metadata"]["next_cursor"]
    second = await web.conversations_replies(channel="C1", ts=parent, cursor=cursor)
    assert [m["text"] for m in second["messages"]][-1] == "bot reply"
    assert len(second["messages"]) == 6 and not second["has_more"]
    slack.replies_rate_limit = False
    with pytest.raises(SlackApiError, match="thread_not_found"):
        await web.conversations_replies(channel="C1", ts="1.0")


# ----- Slack file host -----
async def test_file_download_and_login_page_trap(slack: FakeSlack, web: AsyncWebClient) -> None:
    png = image_bytes()
    event_file = slack.add_file("F1", "shot.png", png)
    url = event_file["url_private_download"]
    assert url.startswith(f"http://{slack.file_host()}/files-pri/")
    auth = {"Authorization": "Bearer xoxb-test"}
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=auth) as resp:
            assert resp.status == 200 and resp.content_type == "image/png"
            assert await resp.read() == png
        for headers in ({}, {"Authorization": "Bearer xoxb-wrong"}):
            async with http.get(url, headers=headers) as resp:
                body = await resp.text()
                assert resp.status == 200 and resp.content_type == "text/html"
                assert body.startswith("<!DOCTYPE html>") and "Sign in to Slack" in body
    seen = [r.authorization for r in slack.file_requests]
    assert seen == ["Bearer xoxb-test", None, "Bearer xoxb-wrong"]


async def test_redirect_to_origin(slack: FakeSlack) -> None:
    png = image_bytes()
    url = slack.add_file("F2", "a.png", png, redirect_to="origin")["url_private_download"]
    auth = {"Authorization": "Bearer xoxb-test"}
    async with aiohttp.ClientSession() as http:
        async with http.get(url, headers=auth) as resp:  # aiohttp drops the token cross-origin
            assert resp.status == 200 and resp.content_type == "text/html"
        async with http.get(url, headers=auth, allow_redirects=False) as resp:
            assert resp.status == 302
            location = resp.headers["Location"]
        assert location.startswith(f"http://{slack.file_host('origin')}/")
        async with http.get(location, headers=auth) as resp:
            assert await resp.read() == png
    assert [r.host_name for r in slack.file_requests] == ["primary", "origin", "primary", "origin"]
    assert slack.file_requests_to("origin")[0].authorization is None
    assert slack.file_hostname("evil") == "127.0.0.3"


async def test_check_file_info_and_slow_download(slack: FakeSlack, web: AsyncWebClient) -> None:
    data = b"%PDF-1.4\n" + b"0" * 50_000
    event_file = slack.add_file(
        "F3",
        "doc.pdf",
        data,
        "application/pdf",
        file_access="check_file_info",
        chunk_size=10_000,
        chunk_delay=0.001,
    )
    assert event_file == {"id": "F3", "file_access": "check_file_info"}
    info = await web.files_info(file="F3")
    assert info["file"]["mimetype"] == "application/pdf" and info["file"]["size"] == len(data)
    with pytest.raises(SlackApiError, match="file_not_found"):
        await web.files_info(file="F404")
    auth = {"Authorization": "Bearer xoxb-test"}
    url = info["file"]["url_private_download"]
    async with aiohttp.ClientSession() as http, http.get(url, headers=auth) as resp:
        chunks = [c async for c in resp.content.iter_chunked(10_000)]
    assert b"".join(chunks) == data
    async with aiohttp.ClientSession() as http, http.get(url, headers=auth) as resp:
        assert resp.content_length == len(data)
        assert len(await resp.content.read(10_000)) <= 10_000  # a size cap gives up early
    assert len(slack.file_requests) == 2


# ----- Slack uploads, modals, ephemerals, blocks, deletes -----
async def test_files_upload_v2(slack: FakeSlack, web: AsyncWebClient) -> None:
    png = image_bytes()
    done = await web.files_upload_v2(
        channel="C1",
        thread_ts="1.2",
        file=png,
        filename="a.png",
        title="Annotated",
        initial_comment="Here it is",
    )
    [up] = slack.uploaded_to("C1", "1.2")
    assert isinstance(up, UploadedFile) and up.data == png
    assert (up.filename, up.title, up.initial_comment) == ("a.png", "Annotated", "Here it is")
    assert done["file"]["id"] == up.file_id and up.file_id.startswith("F")
    assert done["files"][0]["title"] == "Annotated" and done["files"][0]["name"] == "a.png"
    assert slack.uploaded_to("C1") == [up] and not slack.uploaded_to("C1", "9.9")
    assert [c.method for c in slack.calls] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert slack.calls[0].args["length"] == str(len(png))
    info = await web.files_info(file=up.file_id)
    assert info["file"]["mimetype"] == "image/png" and info["file"]["original_w"] == 40
    auth = {"Authorization": "Bearer xoxb-test"}
    url = info["file"]["url_private_download"]
    async with aiohttp.ClientSession() as http, http.get(url, headers=auth) as resp:
        assert await resp.read() == png

    private = await web.files_upload_v2(content="notes", filename="n.txt")
    assert slack.uploaded_files[-1].channel_id is None and private["file"]["title"] == "n.txt"


async def test_upload_steps_by_hand(slack: FakeSlack, web: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError, match="missing_argument"):
        await web.files_getUploadURLExternal(filename="a.png", length=0)
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        await web.api_call("files.getUploadURLExternal", params={"length": 3})
    got = await web.files_getUploadURLExternal(filename="a.bin", length=3, alt_txt="bytes")
    url, file_id = got["upload_url"], got["file_id"]
    assert url.startswith(f"http://{slack.file_host()}/upload/v1/")
    with pytest.raises(SlackApiError, match="file_not_found"):  # bytes not sent yet
        await web.files_completeUploadExternal(files=[{"id": file_id}], channel_id="C1")
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=b"toolong") as resp:
            assert resp.status == 400
        form = aiohttp.FormData()
        form.add_field("filename", b"abc", filename="a.bin")
        async with http.post(url, data=form) as resp:  # multipart is accepted too
            assert resp.status == 200 and await resp.text() == "OK - 3"
        async with http.post(url.rsplit("/", 1)[0] + "/nope", data=b"abc") as resp:
            assert resp.status == 404
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        await web.files_completeUploadExternal(files=[{"id": file_id}], thread_ts="1.2")
    with pytest.raises(SlackApiError, match="file_not_found"):
        await web.files_completeUploadExternal(files=[{"id": "F404"}], channel_id="C1")
    done = await web.files_completeUploadExternal(files=[{"id": file_id, "title": "B"}])
    assert done["files"][0]["id"] == file_id and done["files"][0]["alt_txt"] == "bytes"
    assert slack.uploaded_files[0].data == b"abc" and slack.uploaded_files[0].title == "B"
    with pytest.raises(SlackApiError, match="file_not_found"):  # completed once only
        await web.files_completeUploadExternal(files=[{"id": file_id}])


def modal(title: str = "Ask about an image", **extra: Any) -> dict[str, Any]:
    """A small valid modal view."""
    block = {"type": "section", "text": {"type": "mrkdwn", "text": "Pick one"}}
    view = {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": [block]}
    return {**view, **extra}


def _select_with_initial(value: str) -> dict[str, Any]:
    def option(v: str) -> dict[str, Any]:
        return {"text": {"type": "plain_text", "text": v}, "value": v}

    select = {"type": "static_select", "action_id": "pick", "options": [option("a")]}
    select["initial_option"] = option(value)
    return {"type": "actions", "elements": [select]}


async def test_views_open_and_update(slack: FakeSlack, web: AsyncWebClient) -> None:
    opened = await web.views_open(trigger_id="t1", view=modal(callback_id="ask"))
    view = opened["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "ask"
    assert slack.views == [view] and view["title"]["text"] == "Ask about an image"
    with pytest.raises(SlackApiError, match="expired_trigger_id"):
        await web.views_open(trigger_id="t1", view=modal())
    with pytest.raises(SlackApiError, match="invalid_arguments") as long_title:
        await web.views_open(trigger_id="t2", view=modal("x" * 25))
    assert (
        "less than 25 characters" in long_title.value.response["response_metadata"]["messages"][0]
    )
    for bad in (
        {**modal(), "type": "home"},
        {"type": "modal", "title": {"type": "plain_text", "text": "T"}},
        {**modal(), "title": {"type": "mrkdwn", "text": "T"}},
        modal(private_metadata="x" * 3001),
        modal(blocks=[_select_with_initial("b")]),  # initial_option must be an option
    ):
        with pytest.raises(SlackApiError, match="invalid_arguments"):
            await web.views_open(trigger_id="t3", view=bad)
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        await web.views_open(trigger_id="", view=modal())
    as_string = await web.views_open(trigger_id="t4", view=json.dumps(modal(external_id="e1")))
    assert len(slack.views) == 2 and as_string["view"]["external_id"] == "e1"

    updated = await web.views_update(view_id=view["id"], view=modal("Done"))
    assert updated["view"]["id"] == view["id"] and slack.views[0]["title"]["text"] == "Done"
    await web.views_update(external_id="e1", view=modal("Again", external_id="e1"))
    assert slack.views[1]["title"]["text"] == "Again" and len(slack.views) == 2
    with pytest.raises(SlackApiError, match="not_found"):
        await web.views_update(external_id="nope", view=modal())
    with pytest.raises(SlackApiError, match="hash_conflict"):
        await web.views_update(view_id=view["id"], view=modal(), hash="stale")
    await web.views_open(trigger_id="t5", view=modal(blocks=[_select_with_initial("a")]))


def home(*blocks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A small valid Home tab view."""
    block = {"type": "section", "text": {"type": "mrkdwn", "text": "Hello"}}
    return {"type": "home", "blocks": list(blocks) or [block], **extra}


async def test_views_publish_validates_home_views(slack: FakeSlack, web: AsyncWebClient) -> None:
    published = await web.views_publish(user_id="U1", view=home(callback_id="home"))
    view = published["view"]
    assert view["type"] == "home" and slack.home_views["U1"] == view
    again = await web.views_publish(user_id="U1", view=home(), hash=view["hash"])
    assert again["view"]["id"] == view["id"]
    with pytest.raises(SlackApiError, match="hash_conflict"):
        await web.views_publish(user_id="U1", view=home(), hash="stale")
    header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    many = [{"type": "divider"}] * 101
    for bad in (
        modal(),  # a modal is not a Home tab
        home(header),
        home(long_section),
        home(*many),
        home(private_metadata="x" * 3001),
        {"type": "home"},
    ):
        with pytest.raises(SlackApiError, match="invalid_arguments"):
            await web.views_publish(user_id="U1", view=bad)
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        await web.views_publish(user_id="", view=home())
    assert len(slack.home_views) == 1


async def test_users_info_roles_and_dms(slack: FakeSlack, web: AsyncWebClient) -> None:
    plain = (await web.users_info(user="U1"))["user"]
    assert plain["is_admin"] is False and plain["is_owner"] is False
    slack.add_user("U2", "Olive", primary_owner=True)
    owner = (await web.users_info(user="U2"))["user"]
    assert owner["is_admin"] and owner["is_owner"] and owner["is_primary_owner"]
    assert owner["profile"]["display_name"] == "Olive"

    sent = await web.chat_postMessage(channel="U2", markdown_text="a DM")
    assert sent["channel"] == slack.dm_channel("U2") and slack.dms("U2") == ["a DM"]


async def test_post_ephemeral(slack: FakeSlack, web: AsyncWebClient) -> None:
    sent = await web.chat_postEphemeral(channel="C1", user="U1", text="only you", thread_ts="1.1")
    md = [{"type": "markdown", "text": "**only** you"}]
    with pytest.warns(UserWarning, match="`text` argument is missing"):
        await web.chat_postEphemeral(channel="C1", user="U1", blocks=md)
    await web.chat_postEphemeral(channel="C1", user="U2", markdown_text="_hi_")
    assert slack.ephemerals[0] == {
        "channel": "C1",
        "user": "U1",
        "text": "only you",
        "blocks": None,
        "thread_ts": "1.1",
        "message_ts": sent["message_ts"],
    }
    assert slack.ephemerals[1]["text"] == "**only** you" and slack.ephemerals[1]["blocks"] == md
    assert slack.ephemerals[2]["text"] == "_hi_" and not slack.messages("C1")
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        await web.api_call("chat.postEphemeral", json={"channel": "C1", "text": "no user"})
    with pytest.raises(SlackApiError, match="no_text"):
        await web.api_call("chat.postEphemeral", json={"channel": "C1", "user": "U1"})


async def test_blocks_keep_text_and_markdown_blocks(slack: FakeSlack, web: AsyncWebClient) -> None:
    thread = "1700000000.000100"
    md = {"type": "markdown", "text": "**Answer**"}
    button = {"type": "button", "text": {"type": "plain_text", "text": "Retry"}, "value": "r"}
    actions = {"type": "actions", "elements": [button]}
    both = await web.chat_postMessage(
        channel="C1", thread_ts=thread, text="Answer", blocks=[md, actions]
    )
    assert slack.message(both["ts"]).text == "Answer"
    assert slack.message(both["ts"]).blocks == [md, actions]
    assert both["message"]["text"] == "Answer" and both["message"]["blocks"][0] == md
    fields = {"type": "section", "fields": [{"type": "mrkdwn", "text": "*a*"}]}
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "more"}}
    with pytest.warns(UserWarning, match="`text` argument is missing"):
        only = await web.chat_postMessage(
            channel="C1", thread_ts=thread, blocks=[md, section, fields]
        )
    assert slack.message(only["ts"]).text == "**Answer**\nmore\n*a*"
    await web.chat_update(channel="C1", ts=only["ts"], text="fallback", blocks=[md])
    assert slack.message(only["ts"]).text == "fallback"
    assert slack.message(only["ts"]).blocks == [md]
    assert slack.reply_texts("C1", thread) == ["Answer", "fallback"]
    for bad in ([{"type": "markdown"}], [{"type": "markdown", "text": "x" * 12_001}], [{}]):
        with pytest.raises(SlackApiError, match="invalid_blocks"):
            await web.chat_postMessage(channel="C1", text="x", blocks=bad)

    stream = await web.chat_stream(channel="D1", thread_ts=thread)
    await stream.append(markdown_text="Streamed")
    await stream.stop(blocks=[actions])
    [streamed] = slack.messages("D1", thread)
    assert streamed.text == "Streamed" and streamed.blocks == [actions] and streamed.stopped
    started = await web.chat_startStream(channel="D1", thread_ts="2.0")
    await web.chat_stopStream(channel="D1", ts=started["ts"], blocks=json.dumps([md]))
    assert slack.message(started["ts"]).blocks == [md]
    assert slack.reply_texts("D1", "2.0") == ["**Answer**"]  # only blocks: their text


async def test_block_kit_limits_are_checked_as_slack_checks_them(web: AsyncWebClient) -> None:
    def select(options: list[Any], action_id: str = "pick") -> Json:
        return {"type": "static_select", "action_id": action_id, "options": options}

    def option(text: str, value: str = "v") -> Json:
        return {"text": {"type": "plain_text", "text": text}, "value": value}

    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3000}}
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}}
    ok = [section, header, {"type": "actions", "elements": [select([option("o" * 75, "v" * 150)])]}]
    await web.chat_postMessage(channel="C1", text="fits", blocks=ok)
    too_long = [
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
        [{"type": "actions", "elements": [select([option("o" * 76)])]}],
        [{"type": "actions", "elements": [select([option("o", "v" * 151)])]}],
        [{"type": "actions", "elements": [select([option("a")]), select([option("b")])]}],
    ]
    for blocks in too_long:
        with pytest.raises(SlackApiError, match="invalid_blocks") as err:
            await web.chat_postMessage(channel="C1", text="x", blocks=blocks)
        assert err.value.response["response_metadata"]["messages"]


async def test_mentions_that_notify_are_found_wherever_they_are_posted(
    slack: FakeSlack, web: AsyncWebClient
) -> None:
    await web.chat_postMessage(channel="C1", markdown_text="plain <#C1> and a@here.com")
    assert slack.notified() == []
    stream = await web.chat_startStream(channel="D1", thread_ts="1.0", markdown_text="hey <!cha")
    await web.chat_appendStream(channel="D1", ts=stream["ts"], markdown_text="nnel> and @here")
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "ping <@U0BOB|bob>"}}
    await web.chat_postMessage(channel="C1", text="<!subteam^S0OPS>", blocks=[section])
    assert slack.notified() == ["<!channel>", "@here", "<!subteam^S0OPS>", "<@U0BOB|bob>"]


async def test_chat_delete(slack: FakeSlack, web: AsyncWebClient) -> None:
    first = await web.chat_postMessage(channel="C1", thread_ts="1.1", text="one")
    second = await web.chat_postMessage(channel="C1", thread_ts="1.1", text="two")
    with pytest.raises(SlackApiError, match="message_not_found"):
        await web.chat_delete(channel="C2", ts=first["ts"])
    deleted = await web.chat_delete(channel="C1", ts=first["ts"])
    assert deleted["ts"] == first["ts"] and deleted["channel"] == "C1"
    assert [m.ts for m in slack.messages("C1")] == [second["ts"]]
    assert slack.reply_texts("C1", "1.1") == ["two"]
    with pytest.raises(SlackApiError, match="message_not_found"):
        await web.chat_delete(channel="C1", ts=first["ts"])


# ----- Slack Socket Mode -----
async def test_socket_mode_envelopes_and_acks(slack: FakeSlack, web: AsyncWebClient) -> None:
    client = SocketModeClient(app_token="xapp-1-test", web_client=web, ping_interval=0.2)
    messages: list[dict[str, Any]] = []
    requests: list[SocketModeRequest] = []

    async def on_message(_: Any, message: dict[str, Any], raw: str | None) -> None:
        messages.append(message)

    async def on_request(c: Any, req: SocketModeRequest) -> None:
        requests.append(req)
        if req.type == "slash_commands":
            await c.send_socket_mode_response(SocketModeResponse(req.envelope_id, "On it"))
        elif req.payload.get("event", {}).get("type") != "ignored":
            await c.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    client.message_listeners.append(on_message)
    client.socket_mode_request_listeners.append(on_request)
    try:
        await client.connect()
        assert await slack.wait_socket_connected(5) and slack.socket_connected
        [opened] = slack.calls_to("apps.connections.open")
        assert opened.headers["Authorization"] == "Bearer xapp-1-test"

        event = {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "ts": "1.1"}
        payload = slack.event_callback(event, event_id="Ev1")
        eid = await slack.socket_send("events_api", payload)
        assert await slack.socket_ack(eid) == {"envelope_id": eid}
        assert messages[0]["type"] == "hello" and messages[0]["num_connections"] == 1
        assert messages[0]["connection_info"] == {"app_id": "A0TEST"}
        assert set(messages[0]["debug_info"]) >= {"host", "approximate_connection_time"}
        req = requests[0]
        assert (req.type, req.envelope_id, req.payload) == ("events_api", eid, payload)
        assert (req.retry_attempt, req.retry_reason, req.accepts_response_payload) == (0, "", False)
        assert payload["event"] == event and payload["type"] == "event_callback"
        assert payload["api_app_id"] == "A0TEST" and payload["event_id"] == "Ev1"

        retry = await slack.socket_send(
            "events_api", payload, envelope_id="e-2", retry_attempt=1, retry_reason="timeout"
        )
        assert retry == "e-2" and await slack.socket_ack("e-2") == {"envelope_id": "e-2"}
        assert (requests[1].retry_attempt, requests[1].retry_reason) == (1, "timeout")
        ignored = await slack.socket_send("events_api", slack.event_callback({"type": "ignored"}))
        assert await slack.socket_ack(ignored, timeout=0.2) is None

        form = {"command": "/vision", "text": "help", "user_id": "U1", "channel_id": "C1"}
        cmd = await slack.socket_send("slash_commands", form, accepts_response_payload=True)
        assert await slack.socket_ack(cmd) == {"envelope_id": cmd, "payload": {"text": "On it"}}
        assert (
            requests[-1].accepts_response_payload
            and "retry_attempt" not in (slack.socket_envelopes[-1])
        )
        assert [m["envelope_id"] for m in slack.socket_messages] == [eid, "e-2", cmd]
        with pytest.raises(ValueError, match="event_callback"):
            await slack.socket_send("events_api", event)
        with pytest.raises(ValueError, match="envelope type"):
            await slack.socket_send("hello", {})

        async def ponged() -> bool:
            return slack.socket_pings > 0 and client.last_ping_pong_time is not None

        for _ in range(200):  # the SDK pings on connect; the fake's pong echoes the data
            if await ponged():
                break
            await asyncio.sleep(0.01)
        assert await ponged()

        await slack.socket_disconnect()  # the SDK reconnects with a new URL
        assert await slack.wait_socket_connected(5, connections=2)
        assert len(slack.calls_to("apps.connections.open")) == 2
        for _ in range(200):
            if len(slack.sockets) == 1:
                break
            await asyncio.sleep(0.01)
        assert len(slack.sockets) == 1  # the client closed the old connection
        again = await slack.socket_send("events_api", payload)
        assert await slack.socket_ack(again) == {"envelope_id": again}
    finally:
        await client.close()
    for _ in range(200):
        if not slack.socket_connected:
            break
        await asyncio.sleep(0.01)
    assert not slack.socket_connected
    with pytest.raises(RuntimeError, match="no Socket Mode client"):
        await slack.socket_disconnect()


async def test_socket_mode_tokens_and_tickets(slack: FakeSlack, web: AsyncWebClient) -> None:
    wrong = SocketModeClient(app_token="xapp-1-wrong", web_client=web)
    try:
        with pytest.raises(SlackApiError, match="invalid_auth"):
            await wrong.issue_new_wss_url()
    finally:
        await wrong.close()
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        await web.apps_connections_open(app_token="xoxb-test")
    with pytest.raises(SlackApiError, match="not_authed"):
        await AsyncWebClient(base_url=slack.api_url).api_call("apps.connections.open")
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):  # xapp only there
        await AsyncWebClient(token="xapp-1-test", base_url=slack.api_url).auth_test()
    assert [c.method for c in slack.calls][:3] == ["apps.connections.open"] * 3

    url = (await web.apps_connections_open(app_token="xapp-1-test"))["url"]
    assert url.startswith(f"ws://127.0.0.1:{slack.api_url.split(':')[2].split('/')[0]}/socket/")
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["type"] == "hello" and hello["connection_info"]["app_id"] == "A0TEST"
            await ws.send_str("not json")
            await ws.send_json({"envelope_id": "unknown"})
            with pytest.raises(aiohttp.WSServerHandshakeError):  # one connection per URL
                await http.ws_connect(url)
            eid = await slack.socket_send("interactive", {"type": "block_actions"})
            envelope = await ws.receive_json(timeout=5)
            assert envelope == {
                "envelope_id": eid,
                "payload": {"type": "block_actions"},
                "type": "interactive",
                "accepts_response_payload": False,
            }
            await ws.send_json({"envelope_id": eid, "payload": {"ignored": True}})
            assert await slack.socket_ack(eid) == {"envelope_id": eid, "payload": {"ignored": True}}
            await slack.socket_disconnect("warning")
            disconnect = await ws.receive_json(timeout=5)
            assert disconnect["type"] == "disconnect" and disconnect["reason"] == "warning"
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(url.rsplit("/", 1)[0] + "/made-up")
    assert slack.socket_messages[:2] == ["not json", {"envelope_id": "unknown"}]


async def test_socket_mode_with_bolt(slack: FakeSlack, web: AsyncWebClient) -> None:
    app = AsyncApp(client=web, signing_secret="", request_verification_enabled=False)
    mentions: list[str] = []

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any]) -> None:
        mentions.append(event["text"])

    handler = AsyncSocketModeHandler(app, "xapp-1-test", ping_interval=0.5)
    await handler.connect_async()
    try:
        event = {"type": "app_mention", "user": "U1", "text": "<@UBOT> hi", "ts": "1.1"}
        eid = await slack.socket_send("events_api", slack.event_callback(event))
        assert await slack.socket_ack(eid) == {"envelope_id": eid}
        assert mentions == ["<@UBOT> hi"]
        unhandled = await slack.socket_send("events_api", slack.event_callback({"type": "x"}))
        assert await slack.socket_ack(unhandled, timeout=0.3) is None  # Bolt: 404, no ack
    finally:
        await handler.close_async()
