"""A fake Slack Web API and private file host on real loopback sockets, for tests."""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FILE_HOSTS = {"primary": "127.0.0.1", "origin": "127.0.0.2", "evil": "127.0.0.3"}
JSON_STRING_FIELDS = ("blocks", "chunks", "attachments", "metadata", "loading_messages")
CHUNK_TYPES = frozenset({"markdown_text", "plan_update", "task_update", "blocks"})
MARKDOWN_LIMIT = 12_000
TEXT_LIMIT = 40_000
FILETYPES = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
    "text/plain": "text",
}
LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en-US" class="no-touch">
<head><meta charset="utf-8"><title>Slack</title>
<meta name="robots" content="noindex, nofollow"></head>
<body class="index">
<div id="page"><div id="page_contents">
<h1>Sign in to Slack</h1>
<p>We suggest using the <strong>email address you use at work.</strong></p>
<form id="signin_form" action="/" method="post"><input type="hidden" name="signin" value="1">
<input type="email" name="email" placeholder="name@work-email.com">
<button type="submit" id="signin_btn">Sign In with Email</button></form>
</div></div></body></html>
"""


@dataclass
class SlackCall:
    """One recorded Web API call (query, form and JSON arguments merged)."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]


@dataclass
class PostedMessage:
    """A message the bot posted, as a Slack user would see it."""

    ts: str
    channel: str
    thread_ts: str | None
    text: str = ""
    blocks: list[Json] | None = None
    streamed: bool = False
    stopped: bool = False
    updates: int = 0
    markdown: bool = False
    chunks: list[Json] = field(default_factory=list)


@dataclass
class FileRequest:
    """One recorded request to a file host."""

    host_name: str
    path: str
    authorization: str | None


@dataclass
class _HostedFile:
    """A file registered with add_file."""

    obj: Json
    event_obj: Json
    data: bytes
    mimetype: str
    host: str
    redirect_to: str | None
    chunk_delay: float
    chunk_size: int
    send_content_length: bool


class _Fail(Exception):
    """An `ok: false` answer."""

    def __init__(self, error: str, *, status: int = 200, headers: dict[str, str] | None = None):
        super().__init__(error)
        self.error, self.status, self.headers = error, status, headers or {}


def _need(args: Json, *names: str) -> None:
    """Fail with invalid_arguments when a required argument is missing or empty."""
    if [n for n in names if args.get(n) in (None, "")]:
        raise _Fail("invalid_arguments")


def _blocks_text(blocks: Any) -> str:
    """Collect the visible text of Block Kit blocks (section, markdown, header, context...)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(out)


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of image bytes, if Pillow can read them."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:
        return None


class FakeSlack:
    """Fake Slack: Web API at POST/GET /api/{method} plus private file hosts on 3 addresses."""

    def __init__(
        self,
        bot_token: str = "xoxb-test",
        *,
        team_id: str = "T0TEST",
        team: str = "Test Team",
        team_domain: str = "test",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A0TEST",
    ) -> None:
        self.bot_token, self.team_id, self.team, self.team_domain = bot_token, team_id, team, team_domain
        self.bot_user_id, self.bot_id, self.app_id = bot_user_id, bot_id, app_id
        self.calls: list[SlackCall] = []
        self.file_requests: list[FileRequest] = []
        self.delays: dict[str, float] = {}
        self.streaming_enabled = True
        self.status_enabled = True
        self.status_error = "not_allowed_token_type"
        self.replies_rate_limit = True
        self.replies_window = 60.0
        self.replies_page_size = 15
        self.users: dict[str, Json] = {}
        self.reactions: set[tuple[str, str, str]] = set()
        self.statuses: list[tuple[str, str, str]] = []
        self._status: dict[tuple[str, str], str] = {}
        self._messages: dict[str, PostedMessage] = {}
        self._threads: dict[tuple[str, str], list[Json]] = {}
        self._files: dict[str, _HostedFile] = {}
        self._replies_last: dict[str, float] = {}
        self._clock_offset = 0.0
        self._seq = 0
        self._runners: list[web.AppRunner] = []
        self._ports: dict[str, int] = {}

    # ----- lifecycle -----
    async def start(self) -> None:
        """Bind the Web API and the three file hosts to free loopback ports."""
        api = web.Application()
        api.router.add_route("*", "/api/{method}", self._handle_api)
        self._ports["api"] = await self._serve(api, "127.0.0.1")
        for name, ip in FILE_HOSTS.items():
            app = web.Application()
            app.router.add_get("/files-pri/{team_file}/{rest:.*}", self._file_handler(name))
            self._ports[name] = await self._serve(app, ip)

    async def close(self) -> None:
        """Stop every server."""
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, app: web.Application, host: str) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, 0).start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    @property
    def api_url(self) -> str:
        """Base URL for AsyncWebClient(base_url=...), with the trailing slash."""
        return f"http://127.0.0.1:{self._ports['api']}/api/"

    def file_host(self, name: str = "primary") -> str:
        """`ip:port` of a file host: primary, origin or evil."""
        return f"{FILE_HOSTS[name]}:{self._ports[name]}"

    def file_hostname(self, name: str = "primary") -> str:
        """IP of a file host (what a host allowlist would contain)."""
        return FILE_HOSTS[name]

    # ----- test controls and inspection -----
    def advance_clock(self, seconds: float) -> None:
        """Move the rate limiter's clock forward."""
        self._clock_offset += seconds

    def set_thread(self, channel: str, thread_ts: str, messages: list[Json]) -> None:
        """Define a thread for conversations.replies; the parent message comes first."""
        msgs = [dict(m) for m in messages]
        if msgs:
            msgs[0].setdefault("ts", thread_ts)
            msgs[0].setdefault("reply_count", len(msgs) - 1)
        for m in msgs:
            m.setdefault("type", "message")
            m.setdefault("thread_ts", thread_ts)
        self._threads[(channel, thread_ts)] = msgs

    def add_thread_message(self, channel: str, thread_ts: str, message: Json) -> None:
        """Append a (user) reply to a thread defined with set_thread."""
        self._threads[(channel, thread_ts)].append(
            {"type": "message", "thread_ts": thread_ts, **message}
        )

    def calls_to(self, method: str) -> list[SlackCall]:
        """The recorded calls of one Web API method."""
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str, thread_ts: str | None = None) -> list[PostedMessage]:
        """Bot messages in a channel (all of them, or one thread's), oldest first."""
        return [
            m
            for m in self._messages.values()
            if m.channel == channel and (thread_ts is None or m.thread_ts == thread_ts)
        ]

    def message(self, ts: str) -> PostedMessage:
        """The bot message with this ts."""
        return self._messages[ts]

    def reply_texts(self, channel: str, thread_ts: str) -> list[str]:
        """Rendered texts of the bot's replies in a thread."""
        return [m.text for m in self.messages(channel, thread_ts)]

    def status(self, channel: str, thread_ts: str) -> str | None:
        """Current assistant status of a thread (cleared to "" when the bot replies)."""
        return self._status.get((channel, thread_ts))

    def end_stream(self, ts: str) -> None:
        """Simulate a stream that expired server-side: later appends fail."""
        self._messages[ts].stopped = True

    def file_requests_to(self, host_name: str) -> list[FileRequest]:
        """The recorded requests to one file host."""
        return [r for r in self.file_requests if r.host_name == host_name]

    def add_file(
        self,
        file_id: str,
        name: str,
        data: bytes,
        mimetype: str = "image/png",
        *,
        host: str = "primary",
        file_access: str | None = None,
        redirect_to: str | None = None,
        chunk_delay: float = 0.0,
        chunk_size: int = 64 * 1024,
        reported_size: int | None = None,
        send_content_length: bool = True,
        user: str = "U0USER",
    ) -> Json:
        """Host a private file; returns its object as it appears in a message event."""
        if not self._ports:
            raise RuntimeError("call start() before add_file()")
        base = f"http://{self.file_host(host)}/files-pri/{self.team_id}-{file_id}"
        qname = quote(name)
        filetype = FILETYPES.get(mimetype) or (name.rsplit(".", 1)[-1] if "." in name else "")
        obj: Json = {
            "id": file_id,
            "created": 1700000000,
            "timestamp": 1700000000,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": user,
            "user_team": self.team_id,
            "editable": False,
            "size": len(data) if reported_size is None else reported_size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base}/{qname}",
            "url_private_download": f"{base}/download/{qname}",
            "permalink": f"https://{self.team_domain}.slack.com/files/{user}/{file_id}/{qname}",
            "has_rich_preview": False,
        }
        if mimetype.startswith("image/") and (size := _image_size(data)):
            obj["original_w"], obj["original_h"] = size
        event_obj = dict(obj)
        if file_access is not None:
            event_obj["file_access"] = file_access
            if file_access == "check_file_info":
                event_obj = {"id": file_id, "file_access": file_access}
            else:
                obj["file_access"] = file_access
        self._files[file_id] = _HostedFile(
            obj, event_obj, data, mimetype, host, redirect_to, chunk_delay, chunk_size,
            send_content_length,
        )  # fmt: skip
        return dict(event_obj)

    # ----- Web API -----
    async def _read_args(self, request: web.Request) -> Json:
        args: Json = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _Fail("invalid_json") from None
                if not isinstance(body, dict):
                    raise _Fail("invalid_json")
                args.update(body)
            else:
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
        for key in JSON_STRING_FIELDS:
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError:
                    pass  # left as a string; the validators answer invalid_*
        return args

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        try:
            args = await self._read_args(request)
        except _Fail as fail:
            args = {}
            self.calls.append(SlackCall(method, args, dict(request.headers)))
            return web.json_response({"ok": False, "error": fail.error})
        self.calls.append(SlackCall(method, args, dict(request.headers)))
        if delay := self.delays.get(method):
            await asyncio.sleep(delay)
        auth = request.headers.get("Authorization")
        handler = self._methods.get(method)
        try:
            if not auth:
                raise _Fail("not_authed")
            if auth != f"Bearer {self.bot_token}":
                raise _Fail("invalid_auth")
            if handler is None:
                raise _Fail("unknown_method")
            body = handler(args)
        except _Fail as fail:
            return web.json_response(
                {"ok": False, "error": fail.error}, status=fail.status, headers=fail.headers
            )
        return web.json_response({"ok": True, **body})

    @property
    def _methods(self) -> dict[str, Callable[[Json], Json]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
            "assistant.threads.setStatus": self._set_status,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "conversations.replies": self._replies,
            "files.info": self._files_info,
            "users.info": self._users_info,
            "bots.info": self._bots_info,
        }

    def _next_ts(self) -> str:
        self._seq += 1
        return f"{1700000100 + self._seq // 1_000_000}.{self._seq % 1_000_000:06d}"

    def _message_json(self, m: PostedMessage) -> Json:
        out: Json = {"type": "message", "user": self.bot_user_id, "bot_id": self.bot_id}
        out.update(app_id=self.app_id, team=self.team_id, text=m.text, ts=m.ts)
        if m.thread_ts:
            out["thread_ts"] = m.thread_ts
        if m.blocks is not None:
            out["blocks"] = m.blocks
        return out

    def _content(self, args: Json) -> tuple[str, list[Json] | None, bool]:
        """Validate text/blocks/markdown_text; return (rendered text, blocks, is_markdown)."""
        md, text, blocks = args.get("markdown_text"), args.get("text"), args.get("blocks")
        if md is not None:
            if text is not None or blocks is not None:
                raise _Fail("invalid_arguments")
            if not isinstance(md, str) or not md:
                raise _Fail("no_text")
            if len(md) > MARKDOWN_LIMIT:
                raise _Fail("msg_too_long")
            return md, None, True
        if blocks is not None and (
            not isinstance(blocks, list)
            or len(blocks) > 50
            or not all(isinstance(b, dict) and b.get("type") for b in blocks)
        ):
            raise _Fail("invalid_blocks")
        if text is not None and len(str(text)) > TEXT_LIMIT:
            raise _Fail("msg_too_long")
        if not text and not blocks:
            raise _Fail("no_text")
        return (_blocks_text(blocks) if blocks else "") or str(text or ""), blocks, False

    def _replied(self, channel: str, thread_ts: str | None) -> None:
        if thread_ts and (channel, thread_ts) in self._status:
            self._status[(channel, thread_ts)] = ""

    def _auth_test(self, args: Json) -> Json:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team,
            "user": "vision-bot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, args: Json) -> Json:
        _need(args, "channel")
        text, blocks, md = self._content(args)
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        msg = PostedMessage(self._next_ts(), str(args["channel"]), thread_ts, text, blocks)
        msg.markdown = md
        self._messages[msg.ts] = msg
        self._replied(msg.channel, thread_ts)
        return {"channel": msg.channel, "ts": msg.ts, "message": self._message_json(msg)}

    def _update(self, args: Json) -> Json:
        _need(args, "channel", "ts")
        msg = self._messages.get(str(args["ts"]))
        if msg is None or msg.channel != args["channel"]:
            raise _Fail("message_not_found")
        msg.text, msg.blocks, msg.markdown = self._content(args)
        msg.updates += 1
        return {"channel": msg.channel, "ts": msg.ts, "text": msg.text,
                "message": self._message_json(msg)}  # fmt: skip

    def _stream_content(self, args: Json) -> tuple[str, list[Json]]:
        """Validate markdown_text/chunks of a streaming call; return (text, chunks)."""
        md, chunks = args.get("markdown_text"), args.get("chunks")
        parts: list[str] = []
        if md is not None:
            if not isinstance(md, str):
                raise _Fail("invalid_arguments")
            parts.append(md)
        if chunks is not None:
            if not isinstance(chunks, list):
                raise _Fail("invalid_chunks")
            for chunk in chunks:
                if not isinstance(chunk, dict) or chunk.get("type") not in CHUNK_TYPES:
                    raise _Fail("invalid_chunks")
                if chunk["type"] == "markdown_text":
                    if not isinstance(chunk.get("text"), str):
                        raise _Fail("invalid_chunks")
                    parts.append(chunk["text"])
        text = "".join(parts)
        if len(text) > MARKDOWN_LIMIT:
            raise _Fail("msg_too_long")
        return text, list(chunks or [])

    def _streaming(self, args: Json) -> PostedMessage:
        _need(args, "channel", "ts")
        msg = self._messages.get(str(args["ts"]))
        if msg is None or msg.channel != args["channel"] or not msg.streamed or msg.stopped:
            raise _Fail("message_not_in_streaming_state")
        return msg

    def _start_stream(self, args: Json) -> Json:
        if not self.streaming_enabled:
            raise _Fail("not_allowed_token_type")
        _need(args, "channel", "thread_ts")
        channel = str(args["channel"])
        if not channel.startswith("D"):
            if not args.get("recipient_team_id"):
                raise _Fail("missing_recipient_team_id")
            if not args.get("recipient_user_id"):
                raise _Fail("missing_recipient_user_id")
        text, chunks = self._stream_content(args)
        msg = PostedMessage(self._next_ts(), channel, str(args["thread_ts"]), text)
        msg.streamed, msg.markdown, msg.chunks = True, True, chunks
        self._messages[msg.ts] = msg
        self._replied(channel, msg.thread_ts)
        return {"channel": channel, "ts": msg.ts}

    def _append_stream(self, args: Json) -> Json:
        msg = self._streaming(args)
        if args.get("markdown_text") is None and not args.get("chunks"):
            raise _Fail("invalid_arguments")
        text, chunks = self._stream_content(args)
        msg.text += text
        msg.chunks += chunks
        return {"channel": msg.channel, "ts": msg.ts}

    def _stop_stream(self, args: Json) -> Json:
        msg = self._streaming(args)
        text, chunks = self._stream_content(args)
        blocks = args.get("blocks")
        if blocks is not None and not isinstance(blocks, list):
            raise _Fail("invalid_blocks")
        msg.text += text
        msg.chunks += chunks
        msg.blocks, msg.stopped = blocks, True
        return {"channel": msg.channel, "ts": msg.ts, "message": self._message_json(msg)}

    def _set_status(self, args: Json) -> Json:
        _need(args, "channel_id", "thread_ts")
        if not isinstance(args.get("status"), str):
            raise _Fail("invalid_arguments")
        if not self.status_enabled:
            raise _Fail(self.status_error)
        key = (str(args["channel_id"]), str(args["thread_ts"]))
        self.statuses.append((*key, args["status"]))
        self._status[key] = args["status"]
        return {}

    def _reaction_key(self, args: Json) -> tuple[str, str, str]:
        _need(args, "channel", "timestamp", "name")
        if ":" in str(args["name"]):
            raise _Fail("invalid_name")
        return str(args["channel"]), str(args["timestamp"]), str(args["name"])

    def _reactions_add(self, args: Json) -> Json:
        key = self._reaction_key(args)
        if key in self.reactions:
            raise _Fail("already_reacted")
        self.reactions.add(key)
        return {}

    def _reactions_remove(self, args: Json) -> Json:
        key = self._reaction_key(args)
        if key not in self.reactions:
            raise _Fail("no_reaction")
        self.reactions.discard(key)
        return {}

    def _replies(self, args: Json) -> Json:
        _need(args, "channel", "ts")
        channel, ts = str(args["channel"]), str(args["ts"])
        if self.replies_rate_limit:
            now, last = time.monotonic() + self._clock_offset, self._replies_last.get(channel)
            if last is not None and now - last < self.replies_window:
                wait = max(1, math.ceil(self.replies_window - (now - last)))
                raise _Fail("ratelimited", status=429, headers={"Retry-After": str(wait)})
            self._replies_last[channel] = now
        thread = self._threads.get((channel, ts)) or next(
            (t for (c, _), t in self._threads.items() if c == channel and
             any(m.get("ts") == ts for m in t)),
            None,
        )  # fmt: skip
        if not thread:
            raise _Fail("thread_not_found")
        parent_ts = thread[0]["ts"]
        mine = [self._message_json(m) for m in self.messages(channel, parent_ts)]
        replies = sorted(thread[1:] + mine, key=lambda m: float(m["ts"]))
        msgs = [thread[0], *replies]
        start = 0
        if cursor := args.get("cursor"):
            try:
                start = int(base64.b64decode(cursor).decode().removeprefix("next_ts:offset="))
            except (binascii.Error, ValueError):
                raise _Fail("invalid_cursor") from None
        limit = min(int(args.get("limit") or self.replies_page_size), self.replies_page_size)
        page, end = msgs[start : start + max(limit, 1)], start + max(limit, 1)
        next_cursor = base64.b64encode(f"next_ts:offset={end}".encode()).decode()
        has_more = end < len(msgs)
        return {"messages": page, "has_more": has_more,
                "response_metadata": {"next_cursor": next_cursor if has_more else ""}}  # fmt: skip

    def _files_info(self, args: Json) -> Json:
        _need(args, "file")
        hosted = self._files.get(str(args["file"]))
        if hosted is None:
            raise _Fail("file_not_found")
        return {"file": dict(hosted.obj), "comments": [],
                "response_metadata": {"next_cursor": ""}}  # fmt: skip

    def _users_info(self, args: Json) -> Json:
        _need(args, "user")
        uid = str(args["user"])
        if uid in self.users:
            return {"user": self.users[uid]}
        name = "vision-bot" if uid == self.bot_user_id else f"user-{uid.lower()}"
        profile = {"display_name": name, "real_name": name.title()}
        return {"user": {"id": uid, "team_id": self.team_id, "name": name, "deleted": False,
                         "real_name": name.title(), "tz": "UTC", "is_bot": uid == self.bot_user_id,
                         "profile": profile}}  # fmt: skip

    def _bots_info(self, args: Json) -> Json:
        _need(args, "bot")
        return {"bot": {"id": str(args["bot"]), "deleted": False, "name": "vision-bot",
                        "updated": 1700000000, "app_id": self.app_id,
                        "user_id": self.bot_user_id, "icons": {}}}  # fmt: skip

    # ----- file hosts -----
    def _file_handler(self, host_name: str) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle_file(host_name, request)

        return handle

    async def _handle_file(self, host_name: str, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization")
        self.file_requests.append(FileRequest(host_name, request.path, auth))
        hosted = self._files.get(request.match_info["team_file"].partition("-")[2])
        target = hosted.redirect_to if hosted else None
        if hosted and target and host_name == hosted.host and target != host_name:
            location = f"http://{self.file_host(target)}{request.rel_url}"
            return web.Response(status=302, headers={"Location": location})
        if auth != f"Bearer {self.bot_token}":
            return web.Response(text=LOGIN_PAGE, content_type="text/html", charset="utf-8")
        if hosted is None:
            return web.Response(status=404, text="<!DOCTYPE html><h1>File not found</h1>",
                                content_type="text/html", charset="utf-8")  # fmt: skip
        resp = web.StreamResponse(headers={"Content-Type": hosted.mimetype})
        if hosted.send_content_length:
            resp.content_length = len(hosted.data)
        await resp.prepare(request)
        try:
            data, step = hosted.data, max(1, hosted.chunk_size)
            for i in range(0, len(data), step):
                await resp.write(data[i : i + step])
                if hosted.chunk_delay:
                    await asyncio.sleep(hosted.chunk_delay)
            await resp.write_eof()
        except ConnectionResetError:
            pass  # the client gave up (e.g. a size cap); nothing to do
        return resp
