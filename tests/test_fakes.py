"""The fakes speak the protocols the real SDKs expect (driven by the real clients)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import pytest
from anthropic.types import FileExpiredError
from PIL import Image
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes import FakeClaude, FakeSlack
from tests.fakes.slack_api import UploadedFile

MODEL = "claude-sonnet-5-5"


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
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        await web.chat_postMessage(channel="C1", text="x", markdown_text="**x**")
    with pytest.raises(SlackApiError, match="msg_too_long"):
        await web.chat_postMessage(channel="C1", markdown_text="x" * 12_001)
    with pytest.raises(SlackApiError, match="no_text"):
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
