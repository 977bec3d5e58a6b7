"""A fake Slack Web API and private file host on real loopback sockets, for tests."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import web
from PIL import Image

Json = dict[str, Any]
FILE_HOSTS = {"primary": "127.0.0.1", "origin": "127.0.0.2", "evil": "127.0.0.3"}
JSON_STRING_FIELDS = ("blocks", "chunks", "attachments", "metadata", "loading_messages")
CHUNK_TYPES = ("markdown_text", "plan_update", "task_update", "blocks")
MARKDOWN_LIMIT, TEXT_LIMIT = 12_000, 40_000
LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en-US"><head><meta charset="utf-8"><title>Slack</title></head>
<body><div id="page_contents"><h1>Sign in to Slack</h1>
<p>We suggest using the <strong>email address you use at work.</strong></p>
<form id="signin_form" method="post"><input type="email" name="email"></form></div></body></html>
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
class _Hosted:
    obj: Json
    data: bytes
    host: str
    redirect_to: str | None
    chunk_delay: float
    chunk_size: int
    send_content_length: bool


class _Fail(Exception):
    def __init__(self, error: str, *, status: int = 200, headers: dict[str, str] | None = None):
        super().__init__(error)
        self.error, self.status, self.headers = error, status, headers or {}


def _need(args: Json, *names: str) -> None:
    if any(args.get(n) in (None, "") for n in names):
        raise _Fail("invalid_arguments")


def _blocks_text(node: Any) -> str:
    """The visible text of Block Kit blocks: every string `text` field, one per line."""
    if isinstance(node, list):
        return "\n".join(t for t in map(_blocks_text, node) if t)
    if isinstance(node, dict):
        parts = [
            v if k == "text" and isinstance(v, str) else _blocks_text(v) for k, v in node.items()
        ]
        return "\n".join(p for p in parts if p)
    return ""


class FakeSlack:
    """Fake Slack: Web API at /api/{method} plus private file hosts on three addresses."""

    def __init__(
        self,
        bot_token: str = "xoxb-test",
        *,
        team_id: str = "T0TEST",
        team_domain: str = "test",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A0TEST",
    ) -> None:
        self.bot_token, self.team_id, self.team_domain = bot_token, team_id, team_domain
        self.bot_user_id, self.bot_id, self.app_id = bot_user_id, bot_id, app_id
        self.file_token: str | None = None  # token the file host wants; None: bot_token
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
        self._files: dict[str, _Hosted] = {}
        self._replies_last: dict[str, float] = {}
        self._clock_offset = 0.0
        self._seq = 0
        self._runners: list[web.AppRunner] = []
        self._ports: dict[str, int] = {}

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
        """Base URL for AsyncWebClient(base_url=...), trailing slash included."""
        return f"http://127.0.0.1:{self._ports['api']}/api/"

    def file_host(self, name: str = "primary") -> str:
        """`ip:port` of a file host: "primary", "origin" or "evil"."""
        return f"{FILE_HOSTS[name]}:{self._ports[name]}"

    def file_hostname(self, name: str = "primary") -> str:
        """IP of a file host (what a host allowlist would hold)."""
        return FILE_HOSTS[name]

    # ----- test controls and inspection -----
    def advance_clock(self, seconds: float) -> None:
        """Move the conversations.replies rate limiter's clock forward."""
        self._clock_offset += seconds

    def set_thread(self, channel: str, thread_ts: str, messages: list[Json]) -> None:
        """Define a thread for conversations.replies; the parent message comes first."""
        msgs = [{"type": "message", "thread_ts": thread_ts, **m} for m in messages]
        if msgs:
            msgs[0] = {"ts": thread_ts, "reply_count": len(msgs) - 1, **msgs[0]}
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
        """Bot messages in a channel (all, or one thread's), oldest first."""
        msgs = self._messages.values()
        return [m for m in msgs if m.channel == channel and thread_ts in (None, m.thread_ts)]

    def message(self, ts: str) -> PostedMessage:
        """The bot message with this ts."""
        return self._messages[ts]

    def reply_texts(self, channel: str, thread_ts: str) -> list[str]:
        """Rendered texts of the bot's replies in a thread."""
        return [m.text for m in self.messages(channel, thread_ts)]

    def status(self, channel: str, thread_ts: str) -> str | None:
        """Current assistant status of a thread ("" once the bot replied there)."""
        return self._status.get((channel, thread_ts))

    def end_stream(self, ts: str) -> None:
        """Simulate a stream that ended server-side: later appends fail."""
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
        """Host a private file; return its object as a message event carries it."""
        if not self._ports:
            raise RuntimeError("call start() before add_file()")
        qname = quote(name)
        base = f"http://{self.file_host(host)}/files-pri/{self.team_id}-{file_id}"
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        obj: Json = {"id": file_id, "created": 1700000000, "timestamp": 1700000000, "name": name}
        filetype = {"jpeg": "jpg", "txt": "text"}.get(ext, ext)
        obj.update(title=name, mimetype=mimetype, filetype=filetype, pretty_type=filetype.upper())
        obj.update(user=user, user_team=self.team_id, mode="hosted", is_external=False)
        obj.update(size=len(data) if reported_size is None else reported_size, is_public=False)
        obj.update(url_private=f"{base}/{qname}", url_private_download=f"{base}/download/{qname}")
        obj["permalink"] = f"https://{self.team_domain}.slack.com/files/{user}/{file_id}/{qname}"
        if mimetype.startswith("image/"):
            with contextlib.suppress(Exception), Image.open(io.BytesIO(data)) as img:
                obj["original_w"], obj["original_h"] = img.size
        hosted = _Hosted(obj, data, host, redirect_to, chunk_delay, chunk_size, send_content_length)
        self._files[file_id] = hosted
        if file_access == "check_file_info":
            return {"id": file_id, "file_access": file_access}
        if file_access is not None:
            obj["file_access"] = file_access
        return dict(obj)

    # ----- Web API -----
    async def _read_args(self, request: web.Request) -> Json:
        args: Json = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    raise _Fail("invalid_json")
                args.update(body)
            else:
                form = await request.post()
                args.update({k: v for k, v in form.items() if isinstance(v, str)})
        for key in JSON_STRING_FIELDS:
            if isinstance(args.get(key), str):
                with contextlib.suppress(ValueError):  # else left as is: invalid_blocks etc.
                    args[key] = json.loads(args[key])
        return args

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method, headers = request.match_info["method"], dict(request.headers)
        call = SlackCall(method, {}, headers)
        self.calls.append(call)
        try:
            call.args = await self._read_args(request)
            if delay := self.delays.get(method):
                await asyncio.sleep(delay)
            auth = request.headers.get("Authorization")
            if not auth:
                raise _Fail("not_authed")
            if auth != f"Bearer {self.bot_token}":
                raise _Fail("invalid_auth")
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                raise _Fail("unknown_method")
            body = handler(call.args)
        except _Fail as fail:
            answer = {"ok": False, "error": fail.error}
            return web.json_response(answer, status=fail.status, headers=fail.headers)
        return web.json_response({"ok": True, **body})

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

    def _add(self, msg: PostedMessage) -> PostedMessage:
        self._messages[msg.ts] = msg
        if msg.thread_ts and (msg.channel, msg.thread_ts) in self._status:
            self._status[(msg.channel, msg.thread_ts)] = ""  # Slack clears it on reply
        return msg

    def _m_auth_test(self, args: Json) -> Json:
        out = {"url": f"https://{self.team_domain}.slack.com/", "team": "Test Team"}
        out.update(user="vision-bot", team_id=self.team_id, user_id=self.bot_user_id)
        return {**out, "bot_id": self.bot_id, "is_enterprise_install": False}

    def _m_chat_postMessage(self, args: Json) -> Json:
        _need(args, "channel")
        text, blocks, md = self._content(args)
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        msg = self._add(
            PostedMessage(self._next_ts(), str(args["channel"]), thread_ts, text, blocks)
        )
        msg.markdown = md
        return {"channel": msg.channel, "ts": msg.ts, "message": self._message_json(msg)}

    def _m_chat_update(self, args: Json) -> Json:
        _need(args, "channel", "ts")
        msg = self._messages.get(str(args["ts"]))
        if msg is None or msg.channel != args["channel"]:
            raise _Fail("message_not_found")
        msg.text, msg.blocks, msg.markdown = self._content(args)
        msg.updates += 1
        return {
            "channel": msg.channel,
            "ts": msg.ts,
            "text": msg.text,
            "message": self._message_json(msg),
        }

    def _stream_content(self, args: Json) -> tuple[str, list[Json]]:
        """Validate markdown_text/chunks of a streaming call; return (text, chunks)."""
        md, chunks = args.get("markdown_text"), args.get("chunks")
        if (md is not None and not isinstance(md, str)) or (
            chunks is not None and not isinstance(chunks, list)
        ):
            raise _Fail("invalid_arguments")
        parts = [md] if md else []
        for chunk in chunks or []:
            if not isinstance(chunk, dict) or chunk.get("type") not in CHUNK_TYPES:
                raise _Fail("invalid_chunks")
            if chunk["type"] == "markdown_text":
                if not isinstance(chunk.get("text"), str):
                    raise _Fail("invalid_chunks")
                parts.append(chunk["text"])
        if len(text := "".join(parts)) > MARKDOWN_LIMIT:
            raise _Fail("msg_too_long")
        return text, list(chunks or [])

    def _streaming(self, args: Json) -> PostedMessage:
        _need(args, "channel", "ts")
        msg = self._messages.get(str(args["ts"]))
        if msg is None or msg.channel != args["channel"] or not msg.streamed or msg.stopped:
            raise _Fail("message_not_in_streaming_state")
        return msg

    def _m_chat_startStream(self, args: Json) -> Json:
        if not self.streaming_enabled:
            raise _Fail("not_allowed_token_type")
        _need(args, "channel", "thread_ts")
        channel = str(args["channel"])
        for key in ("recipient_team_id", "recipient_user_id"):
            if not channel.startswith("D") and not args.get(key):
                raise _Fail(f"missing_{key}")
        text, chunks = self._stream_content(args)
        msg = self._add(PostedMessage(self._next_ts(), channel, str(args["thread_ts"]), text))
        msg.streamed, msg.markdown, msg.chunks = True, True, chunks
        return {"channel": channel, "ts": msg.ts}

    def _m_chat_appendStream(self, args: Json) -> Json:
        msg = self._streaming(args)
        if args.get("markdown_text") is None and not args.get("chunks"):
            raise _Fail("invalid_arguments")
        text, chunks = self._stream_content(args)
        msg.text, msg.chunks = msg.text + text, msg.chunks + chunks
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_stopStream(self, args: Json) -> Json:
        msg = self._streaming(args)
        text, chunks = self._stream_content(args)
        if (blocks := args.get("blocks")) is not None and not isinstance(blocks, list):
            raise _Fail("invalid_blocks")
        msg.text, msg.chunks, msg.blocks, msg.stopped = (
            msg.text + text,
            msg.chunks + chunks,
            blocks,
            True,
        )
        return {"channel": msg.channel, "ts": msg.ts, "message": self._message_json(msg)}

    def _m_assistant_threads_setStatus(self, args: Json) -> Json:
        _need(args, "channel_id", "thread_ts")
        if not isinstance(args.get("status"), str):
            raise _Fail("invalid_arguments")
        if not self.status_enabled:
            raise _Fail(self.status_error)
        key = (str(args["channel_id"]), str(args["thread_ts"]))
        self.statuses.append((*key, args["status"]))
        self._status[key] = args["status"]
        return {}

    def _reaction(self, args: Json, *, present: bool) -> Json:
        _need(args, "channel", "timestamp", "name")
        if ":" in str(args["name"]):
            raise _Fail("invalid_name")
        key = (str(args["channel"]), str(args["timestamp"]), str(args["name"]))
        if (key in self.reactions) == present:
            raise _Fail("already_reacted" if present else "no_reaction")
        (self.reactions.add if present else self.reactions.discard)(key)
        return {}

    def _m_reactions_add(self, args: Json) -> Json:
        return self._reaction(args, present=True)

    def _m_reactions_remove(self, args: Json) -> Json:
        return self._reaction(args, present=False)

    def _m_conversations_replies(self, args: Json) -> Json:
        _need(args, "channel", "ts")
        channel, ts = str(args["channel"]), str(args["ts"])
        if self.replies_rate_limit:
            now, last = time.monotonic() + self._clock_offset, self._replies_last.get(channel)
            if last is not None and now - last < self.replies_window:
                wait = str(max(1, math.ceil(self.replies_window - (now - last))))
                raise _Fail("ratelimited", status=429, headers={"Retry-After": wait})
            self._replies_last[channel] = now
        threads = [t for (c, _), t in self._threads.items() if c == channel]
        thread = next((t for t in threads if any(m.get("ts") == ts for m in t)), None)
        if not thread:
            raise _Fail("thread_not_found")
        mine = [self._message_json(m) for m in self.messages(channel, thread[0]["ts"])]
        msgs = [thread[0], *sorted(thread[1:] + mine, key=lambda m: float(m["ts"]))]
        try:
            start = int(base64.b64decode(args.get("cursor") or "").decode().partition(":")[2] or 0)
        except (binascii.Error, ValueError):
            raise _Fail("invalid_cursor") from None
        end = start + max(1, min(int(args.get("limit") or 1000), self.replies_page_size))
        cursor = base64.b64encode(f"next_ts:{end}".encode()).decode() if end < len(msgs) else ""
        meta = {"next_cursor": cursor}
        return {"messages": msgs[start:end], "has_more": bool(cursor), "response_metadata": meta}

    def _m_files_info(self, args: Json) -> Json:
        _need(args, "file")
        if (hosted := self._files.get(str(args["file"]))) is None:
            raise _Fail("file_not_found")
        return {"file": dict(hosted.obj), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _m_users_info(self, args: Json) -> Json:
        _need(args, "user")
        uid = str(args["user"])
        name = "vision-bot" if uid == self.bot_user_id else f"user-{uid.lower()}"
        profile = {"display_name": name, "real_name": name.title()}
        user: Json = {"id": uid, "team_id": self.team_id, "name": name, "real_name": name.title()}
        user.update(deleted=False, tz="UTC", is_bot=uid == self.bot_user_id, profile=profile)
        return {"user": self.users.get(uid, user)}

    def _m_bots_info(self, args: Json) -> Json:
        _need(args, "bot")
        bot = {
            "id": str(args["bot"]),
            "deleted": False,
            "name": "vision-bot",
            "app_id": self.app_id,
        }
        return {"bot": {**bot, "user_id": self.bot_user_id, "updated": 1700000000, "icons": {}}}

    # ----- file hosts -----
    def _file_handler(
        self, host_name: str
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
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
        if auth != f"Bearer {self.file_token or self.bot_token}":
            return web.Response(text=LOGIN_PAGE, content_type="text/html", charset="utf-8")
        if hosted is None:
            return web.Response(
                status=404, text="<!DOCTYPE html><h1>File not found</h1>", content_type="text/html"
            )
        resp = web.StreamResponse(headers={"Content-Type": hosted.obj["mimetype"]})
        if hosted.send_content_length:
            resp.content_length = len(hosted.data)
        await resp.prepare(request)
        data, step = hosted.data, max(1, hosted.chunk_size)
        with contextlib.suppress(ConnectionResetError):  # the client gave up, e.g. a size cap
            for i in range(0, len(data), step):
                await resp.write(data[i : i + step])
                if hosted.chunk_delay:
                    await asyncio.sleep(hosted.chunk_delay)
            await resp.write_eof()
        return resp
