"""A fake Slack Web API, private file host and Socket Mode server on real loopback sockets."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import json
import math
import mimetypes
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn
from urllib.parse import quote

from aiohttp import WSCloseCode, WSMsgType, web
from PIL import Image

from tests.fakes.slack_agent import AgentSurfaces, feedback_blocks_ok

Json = dict[str, Any]
FILE_HOSTS = {"primary": "127.0.0.1", "origin": "127.0.0.2", "evil": "127.0.0.3"}
JSON_STRING_FIELDS = (
    "blocks",
    "chunks",
    "attachments",
    "metadata",
    "loading_messages",
    "view",
    "files",
)
CHUNK_TYPES = ("markdown_text", "plan_update", "task_update", "blocks")
MARKDOWN_LIMIT, TEXT_LIMIT = 12_000, 40_000
# Block Kit's documented limits (characters), checked the way Slack checks them.
SECTION_TEXT_LIMIT, FIELD_TEXT_LIMIT, HEADER_TEXT_LIMIT = 3000, 2000, 150
OPTION_TEXT_LIMIT, OPTION_VALUE_LIMIT, PLACEHOLDER_LIMIT, ACTION_ID_LIMIT = 75, 150, 150, 255
# What notifies people when Slack renders a message: special and user mentions in Slack's
# markup, and (conservatively) the bare words Slack links with link_names.
NOTIFYING = re.compile(
    r"<!(?:here|channel|everyone|group)(?:\|[^>]*)?>|<!subteam\^[A-Za-z0-9]+(?:\|[^>]*)?>"
    r"|<@[UWB][A-Za-z0-9]+(?:\|[^>]*)?>|(?<![\w\u2060])@(?:here|channel|everyone)\b"
)
VIEW_TITLE_LIMIT, VIEW_BLOCKS_LIMIT, MESSAGE_BLOCKS_LIMIT = 24, 100, 50
CONTEXT_ELEMENTS_LIMIT = 10
LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en-US"><head><meta charset="utf-8"><title>Slack</title></head>
<body><div id="page_contents"><h1>Sign in to Slack</h1>
<p>We suggest using the <strong>email address you use at work.</strong></p>
<form id="signin_form" method="post"><input type="email" name="email"></form></div></body></html>
"""
# What a bot may do only in channels it is a member of.
MEMBER_METHODS = {
    "chat.postMessage",
    "chat.startStream",
    "chat.appendStream",
    "chat.stopStream",
    "chat.update",
    "chat.postEphemeral",
    "conversations.replies",
    "reactions.add",
    "reactions.remove",
    "assistant.threads.setStatus",
    "conversations.history",
}
ENVELOPE_TYPES = ("events_api", "slash_commands", "interactive")
SOCKET_HOST = "applink-fake-0"  # debug_info.host of hello/disconnect messages


@dataclass
class SlackCall:
    """One recorded Web API call (query, form and JSON arguments merged)."""

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)  # when it arrived


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
class UploadedFile:
    """A file the bot uploaded (files.getUploadURLExternal, POST, files.completeUploadExternal)."""

    file_id: str
    filename: str
    title: str
    data: bytes
    channel_id: str | None
    thread_ts: str | None
    initial_comment: str | None


@dataclass
class _PendingUpload:
    file_id: str
    filename: str
    length: int
    alt_txt: str | None
    snippet_type: str | None
    data: bytes | None = None


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
    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        messages: list[str] | None = None,
    ):
        super().__init__(error)
        self.error, self.status, self.headers = error, status, headers or {}
        self.messages = messages or []


def _need(args: Json, *names: str) -> None:
    if any(args.get(n) in (None, "") for n in names):
        raise _Fail("invalid_arguments")


def _text_of(obj: Any) -> str:
    """The `text` of a text object ({"type": "mrkdwn", "text": ...}), else ""."""
    return obj["text"] if isinstance(obj, dict) and isinstance(obj.get("text"), str) else ""


def _blocks_text(blocks: list[Json]) -> str:
    """The text of the markdown and section blocks (section text, then fields), one per line."""
    parts: list[str] = []
    for block in blocks:
        if block.get("type") == "markdown":
            parts.append(str(block.get("text") or ""))
        elif block.get("type") == "section":
            parts.append(_text_of(block.get("text")))
            fields = block.get("fields")
            parts.extend(_text_of(f) for f in (fields if isinstance(fields, list) else []))
    return "\n".join(p for p in parts if p)


def _check_blocks(blocks: Any, limit: int = MESSAGE_BLOCKS_LIMIT) -> list[Json]:
    """Validate a Block Kit list (loosely: shapes this bot could get wrong)."""
    if (
        not isinstance(blocks, list)
        or len(blocks) > limit
        or not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks)
    ):
        raise _Fail("invalid_blocks")
    markdown = 0
    problems: list[str] = []
    for i, block in enumerate(blocks):
        if block["type"] == "markdown":
            if not isinstance(block.get("text"), str) or not block["text"]:
                raise _Fail("invalid_blocks")
            markdown += len(block["text"])
        elif block["type"] == "section":
            text, fields = block.get("text"), block.get("fields")
            if not _text_of(text) and not (isinstance(fields, list) and fields):
                raise _Fail("invalid_blocks")
            problems += _too_long(_text_of(text), SECTION_TEXT_LIMIT, f"/blocks/{i}/text/text")
            for j, item in enumerate(fields if isinstance(fields, list) else []):
                where = f"/blocks/{i}/fields/{j}/text"
                problems += _too_long(_text_of(item), FIELD_TEXT_LIMIT, where)
        elif block["type"] == "header":
            text = block.get("text")
            if not isinstance(text, dict) or text.get("type") != "plain_text" or not _text_of(text):
                raise _Fail("invalid_blocks")
            problems += _too_long(_text_of(text), HEADER_TEXT_LIMIT, f"/blocks/{i}/text/text")
        elif block["type"] == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 0 < len(elements) <= CONTEXT_ELEMENTS_LIMIT:
                raise _Fail("invalid_blocks")
    if markdown > MARKDOWN_LIMIT:  # cumulative limit of markdown blocks in one payload
        raise _Fail("invalid_blocks")
    if not feedback_blocks_ok(blocks):
        raise _Fail("invalid_blocks")
    for select in _elements(blocks, "static_select"):
        options = select.get("options")
        if not isinstance(options, list) or not 0 < len(options) <= 100:
            raise _Fail("invalid_blocks")
        if "initial_option" in select and select["initial_option"] not in options:
            raise _Fail("invalid_blocks")  # Slack: must match one of the options exactly
        for option in [*options, select.get("initial_option")]:
            if isinstance(option, dict):
                problems += _too_long(_text_of(option.get("text")), OPTION_TEXT_LIMIT, "option")
                problems += _too_long(str(option.get("value", "")), OPTION_VALUE_LIMIT, "value")
        placeholder = _text_of(select.get("placeholder"))
        problems += _too_long(placeholder, PLACEHOLDER_LIMIT, "placeholder")
    problems += _action_id_problems(blocks)
    if problems:
        raise _Fail("invalid_blocks", messages=problems)
    return blocks


def _too_long(text: str, limit: int, pointer: str) -> list[str]:
    if len(text) <= limit:
        return []
    return [f"[ERROR] must be less than {limit + 1} characters [json-pointer:{pointer}]"]


def _action_id_problems(blocks: list[Json]) -> list[str]:
    """Slack refuses two interactive elements with one action_id in a message or view."""
    seen: set[str] = set()
    problems: list[str] = []
    for block in blocks:
        candidates = [block.get("accessory"), block.get("element"), *block.get("elements", [])]
        for element in candidates:
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if not isinstance(action_id, str):
                continue
            if action_id in seen:
                problems.append(f"[ERROR] duplicate action_id: {action_id}")
            seen.add(action_id)
            problems += _too_long(action_id, ACTION_ID_LIMIT, "action_id")
    return problems


def notifications(text: str) -> list[str]:
    """The mentions in `text` that would notify someone."""
    return NOTIFYING.findall(text)


def _notifying_text(blocks: list[Json] | None) -> str:
    """The text of blocks Slack parses for mentions: mrkdwn text objects, markdown blocks."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") in ("mrkdwn", "markdown") and isinstance(value.get("text"), str):
                found.append(value["text"])
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(blocks or [])
    return "\n".join(found)


def _elements(blocks: list[Json], kind: str) -> list[Json]:
    """The interactive elements of type `kind` in blocks (accessories, actions, inputs)."""
    found = []
    for block in blocks:
        candidates = [block.get("accessory"), block.get("element"), *block.get("elements", [])]
        found += [e for e in candidates if isinstance(e, dict) and e.get("type") == kind]
    return found


def _view_errors(args: Json, kind: str) -> tuple[Json, list[str]]:
    """The `view` argument and what any view of `kind` (modal, home) gets wrong."""
    view = args.get("view")
    if not isinstance(view, dict):
        raise _Fail("invalid_arguments", messages=["[ERROR] must be a JSON object"])
    errors: list[str] = []
    if view.get("type") != kind:
        errors.append(f"[ERROR] must be '{kind}' [json-pointer:/view/type]")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        errors.append("[ERROR] must provide an array [json-pointer:/view/blocks]")
    else:
        try:
            _check_blocks(blocks, VIEW_BLOCKS_LIMIT)
        except _Fail as fail:
            errors += fail.messages or ["[ERROR] invalid blocks [json-pointer:/view/blocks]"]
    if len(str(view.get("private_metadata", ""))) > 3000:
        errors.append(
            "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"
        )
    return view, errors


def _plain_text(obj: Any, pointer: str, limit: int) -> list[str]:
    """Errors of a plain_text object of a view (title, submit, close)."""
    if not isinstance(obj, dict) or obj.get("type") != "plain_text":
        return [f"[ERROR] must be a plain_text object [json-pointer:{pointer}]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"[ERROR] must be provided [json-pointer:{pointer}/text]"]
    if len(text) > limit:
        return [f"[ERROR] must be less than {limit + 1} characters [json-pointer:{pointer}/text]"]
    return []


async def _poll(check: Callable[[], bool], timeout: float) -> bool:
    """Wait until check() is true; False if it still is not after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.005)
    return True


class FakeSlack(AgentSurfaces):
    """Fake Slack: Web API at /api/{method}, private file hosts on three addresses and a
    Socket Mode WebSocket server (URLs from apps.connections.open, app-level token)."""

    def __init__(
        self,
        bot_token: str = "xoxb-test",
        *,
        team_id: str = "T0TEST",
        team_domain: str = "test",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        app_id: str = "A0TEST",
        app_token: str = "xapp-1-test",
    ) -> None:
        self.bot_token, self.team_id, self.team_domain = bot_token, team_id, team_domain
        self.app_token = app_token
        self.bot_user_id, self.bot_id, self.app_id = bot_user_id, bot_id, app_id
        self.file_token: str | None = None  # token the file host wants; None: bot_token
        self.calls: list[SlackCall] = []
        self.file_requests: list[FileRequest] = []
        self.most_downloads_at_once = 0
        self._downloading = 0
        self.delays: dict[str, float] = {}
        self.errors: dict[str, str] = {}  # method → the error it answers with (e.g. missing_scope)
        self.rate_limited: dict[str, int] = {}  # method → how many next calls get a 429
        self.streaming_enabled = True
        self.status_enabled = True
        self.status_error = "not_allowed_token_type"
        self.replies_rate_limit = True
        self.replies_window = 60.0
        self.replies_page_size = 15
        self.users: dict[str, Json] = {}
        self.reactions: set[tuple[str, str, str]] = set()
        self.statuses: list[tuple[str, str, str]] = []
        self.uploaded_files: list[UploadedFile] = []
        self.views: list[Json] = []
        self.home_views: dict[str, Json] = {}  # user id → the Home tab views.publish gave them
        self.ephemerals: list[Json] = []
        self.not_a_member: set[str] = set()  # channels the bot was never added to
        self.hook_posts: list[tuple[str, Json]] = []  # (path, JSON) posted to response URLs
        self._status: dict[tuple[str, str], str] = {}
        self._messages: dict[str, PostedMessage] = {}
        self._threads: dict[tuple[str, str], list[Json]] = {}
        self._files: dict[str, _Hosted] = {}
        self._replies_last: dict[str, float] = {}
        self._uploads: dict[str, _PendingUpload] = {}  # by upload URL token
        self._used_triggers: set[str] = set()
        self._ids = 0
        self._clock_offset = 0.0
        self._seq = 0
        self._runners: list[web.AppRunner] = []
        self._ports: dict[str, int] = {}
        # Socket Mode
        self.sockets: list[web.WebSocketResponse] = []  # connected, oldest first
        self.socket_connections = 0  # WebSocket connections ever accepted
        self.socket_messages: list[Any] = []  # what clients sent: parsed JSON (bytes if binary)
        self.socket_envelopes: list[Json] = []  # what socket_send pushed
        self.socket_pings = 0  # WebSocket pings answered
        self._tickets: set[str] = set()  # unused apps.connections.open URLs
        self._acks: dict[str, Json] = {}  # first ack per envelope_id
        self._socket_closing = False
        self._init_agent()

    async def start(self) -> None:
        """Bind the Web API and the three file hosts to free loopback ports."""
        api = web.Application()
        api.router.add_route("*", "/api/{method}", self._handle_api)
        api.router.add_get("/socket/{ticket}", self._handle_socket)
        api.router.add_post("/hooks/{path:.*}", self._handle_hook)
        self._ports["api"] = await self._serve(api, "127.0.0.1")
        for name, ip in FILE_HOSTS.items():
            # Slack takes uploads up to 1 GB; aiohttp's own default would stop them at 1 MB.
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_get("/files-pri/{team_file}/{rest:.*}", self._file_handler(name))
            if name == "primary":
                app.router.add_post("/upload/v1/{token}", self._handle_upload)
            self._ports[name] = await self._serve(app, ip)

    async def close(self) -> None:
        """Stop every server (closing Socket Mode connections with 1001 first)."""
        self._socket_closing = True
        for ws in list(self.sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
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

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        admin: bool = False,
        owner: bool = False,
        primary_owner: bool = False,
    ) -> Json:
        """A workspace member as users.info describes them (roles: admin, owner)."""
        profile = {"display_name": name, "real_name": name}
        user: Json = {"id": user_id, "team_id": self.team_id, "name": name.lower()}
        user.update(real_name=name, deleted=False, tz="UTC", is_bot=False, profile=profile)
        user.update(is_admin=admin or owner or primary_owner, is_owner=owner or primary_owner)
        user.update(is_primary_owner=primary_owner)
        self.users[user_id] = user
        return user

    def dm_channel(self, user_id: str) -> str:
        """The id of the bot's DM with a user (what posting to the user's id posts into)."""
        return f"D{user_id}"

    def dms(self, user_id: str) -> list[str]:
        """Texts of the bot's DMs to a user, oldest first."""
        return [m.text for m in self.messages(self.dm_channel(user_id))]

    def notified(self) -> list[str]:
        """Every mention in what the bot posted that would notify someone in Slack."""
        found: list[str] = []
        for m in self._messages.values():
            found += notifications(f"{m.text}\n{_notifying_text(m.blocks)}")  # chunks in text
        for _, body in self.hook_posts:
            found += notifications(str(body.get("text", "")) + _notifying_text(body.get("blocks")))
        return found

    def reply_texts(self, channel: str, thread_ts: str) -> list[str]:
        """Rendered texts of the bot's replies in a thread."""
        return [m.text for m in self.messages(channel, thread_ts)]

    def status(self, channel: str, thread_ts: str) -> str | None:
        """Current assistant status of a thread ("" once the bot replied there)."""
        return self._status.get((channel, thread_ts))

    def end_stream(self, ts: str) -> None:
        """Simulate a stream that ended server-side: later appends fail."""
        self._messages[ts].stopped = True

    def uploaded_to(self, channel: str, thread_ts: str | None = None) -> list[UploadedFile]:
        """Files the bot shared in a channel (all, or one thread's), oldest first."""
        return [
            f
            for f in self.uploaded_files
            if f.channel_id == channel and thread_ts in (None, f.thread_ts)
        ]

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

    def delete_file(self, file_id: str) -> None:
        """A user (or retention) deleted the file: files.info and its URLs find nothing."""
        del self._files[file_id]

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
            bot, app = f"Bearer {self.bot_token}", f"Bearer {self.app_token}"
            if auth not in (bot, app):
                raise _Fail("invalid_auth")
            if (auth == app) != (method == "apps.connections.open"):
                raise _Fail("not_allowed_token_type")  # app-level token only there, and only it
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            if handler is None:
                raise _Fail("unknown_method")
            if error := self.errors.get(method):
                raise _Fail(error)
            if self.rate_limited.get(method, 0) > 0:
                self.rate_limited[method] -= 1
                raise _Fail("ratelimited", status=429, headers={"Retry-After": "0"})
            channel = call.args.get("channel") or call.args.get("channel_id")
            if channel in self.not_a_member and method in MEMBER_METHODS:
                raise _Fail("not_in_channel")
            body = handler(call.args)
        except _Fail as fail:
            answer: Json = {"ok": False, "error": fail.error}
            if fail.messages:
                answer["response_metadata"] = {"messages": fail.messages}
            return web.json_response(answer, status=fail.status, headers=fail.headers)
        return web.json_response({"ok": True, **body})

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}0{self._ids:08d}"

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
                raise _Fail("markdown_text_conflict")
            if not isinstance(md, str) or not md:
                raise _Fail("no_text")
            if len(md) > MARKDOWN_LIMIT:
                raise _Fail("msg_too_long")
            return md, None, True
        if blocks is not None:
            blocks = _check_blocks(blocks)
        if text is not None and len(str(text)) > TEXT_LIMIT:
            raise _Fail("msg_too_long")
        if not text and not blocks:
            raise _Fail("no_text")
        # `text` is the message text (with blocks: the notification fallback); blocks alone
        # render as the text of their markdown/section blocks
        return str(text or "") or _blocks_text(blocks or []), blocks, False

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
        channel = str(args["channel"])
        if channel[:1] in ("U", "W"):  # a user id: Slack opens the bot's DM with them
            channel = self.dm_channel(channel)
        msg = self._add(PostedMessage(self._next_ts(), channel, thread_ts, text, blocks))
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

    def _m_chat_delete(self, args: Json) -> Json:
        _need(args, "channel", "ts")
        msg = self._messages.get(str(args["ts"]))
        if msg is None or msg.channel != args["channel"]:
            raise _Fail("message_not_found")
        del self._messages[msg.ts]
        return {"channel": msg.channel, "ts": msg.ts}

    def _m_chat_postEphemeral(self, args: Json) -> Json:
        _need(args, "channel", "user")
        text, blocks, _ = self._content(args)
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        ts = self._next_ts()
        entry: Json = {"channel": str(args["channel"]), "user": str(args["user"]), "text": text}
        entry.update(blocks=blocks, thread_ts=thread_ts, message_ts=ts)
        self.ephemerals.append(entry)
        return {"message_ts": ts}

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
        blocks = args.get("blocks")
        if blocks is not None:
            blocks = _check_blocks(blocks)
        msg.text, msg.chunks, msg.stopped = msg.text + text, msg.chunks + chunks, True
        if blocks is not None:
            msg.blocks = blocks
            msg.text = msg.text or _blocks_text(blocks)
        return {"channel": msg.channel, "ts": msg.ts, "message": self._message_json(msg)}

    def _m_assistant_threads_setStatus(self, args: Json) -> Json:
        _need(args, "channel_id", "thread_ts")
        if not isinstance(args.get("status"), str):
            raise _Fail("invalid_arguments")
        if not self.loading_messages_ok(args.get("loading_messages")):
            raise _Fail("invalid_arguments")
        if not self.status_enabled:
            raise _Fail(self.status_error)
        key = (str(args["channel_id"]), str(args["thread_ts"]))
        self.statuses.append((*key, args["status"]))
        self._status[key] = args["status"]
        return {}

    def _refuse(self, error: str, *, status: int = 200, retry_after: str = "") -> NoReturn:
        raise _Fail(
            error, status=status, headers={"Retry-After": retry_after} if retry_after else None
        )

    def _bot_messages_json(self, channel: str) -> list[Json]:
        return [self._message_json(m) for m in self.messages(channel) if m.thread_ts is None]

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

    def _m_files_getUploadURLExternal(self, args: Json) -> Json:
        _need(args, "filename", "length")
        try:
            length = int(str(args["length"]))
        except ValueError:
            raise _Fail("invalid_arguments") from None
        if length <= 0:
            raise _Fail("missing_argument")
        alt_txt = args.get("alt_txt")
        if alt_txt is not None and len(str(alt_txt)) > 1000:
            raise _Fail("alt_txt_too_large")
        snippet = args.get("snippet_type")
        file_id, token = self._next_id("F"), secrets.token_urlsafe(12)
        self._uploads[token] = _PendingUpload(
            file_id,
            str(args["filename"]),
            length,
            None if alt_txt is None else str(alt_txt),
            None if snippet is None else str(snippet),
        )
        url = f"http://{self.file_host()}/upload/v1/{token}"
        return {"upload_url": url, "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: Json) -> Json:
        files = args.get("files")
        if (
            not isinstance(files, list)
            or not files
            or not all(isinstance(f, dict) and isinstance(f.get("id"), str) for f in files)
            or len({f["id"] for f in files}) != len(files)
        ):
            raise _Fail("invalid_arguments")
        channel = args.get("channel_id") or str(args.get("channels") or "").split(",")[0]
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        if thread_ts and not channel:
            raise _Fail("invalid_arguments")
        by_id = {u.file_id: (token, u) for token, u in self._uploads.items()}
        done = [by_id.get(f["id"]) for f in files]
        if any(d is None or d[1].data is None for d in done):
            raise _Fail("file_not_found")
        comment = args.get("initial_comment")
        out: list[Json] = []
        for f, (token, up) in zip(files, [d for d in done if d], strict=True):
            del self._uploads[token]
            title = str(f.get("title") or up.filename)
            data = up.data or b""
            mimetype = mimetypes.guess_type(up.filename)[0] or "application/octet-stream"
            obj = self.add_file(up.file_id, up.filename, data, mimetype, user=self.bot_user_id)
            obj["title"] = self._files[up.file_id].obj["title"] = title
            if up.alt_txt:
                obj["alt_txt"] = self._files[up.file_id].obj["alt_txt"] = up.alt_txt
            self.uploaded_files.append(
                UploadedFile(
                    up.file_id,
                    up.filename,
                    title,
                    data,
                    str(channel) if channel else None,
                    thread_ts,
                    None if comment is None else str(comment),
                )
            )
            out.append(obj)
        return {"files": out}

    def _view(self, args: Json, *, view_id: str | None = None) -> Json:
        """Validate the `view` argument of views.open/update; return the view Slack stores."""
        view, errors = _view_errors(args, "modal")
        errors += _plain_text(view.get("title"), "/view/title", VIEW_TITLE_LIMIT)
        for key in ("submit", "close"):
            if key in view:
                errors += _plain_text(view[key], f"/view/{key}", VIEW_TITLE_LIMIT)
        blocks = view.get("blocks")
        inputs = isinstance(blocks, list) and any(b.get("type") == "input" for b in blocks)
        if inputs and "submit" not in view:
            errors.append("[ERROR] must provide a submit property when using input blocks")
        callback_id = view.get("callback_id", "")
        if not isinstance(callback_id, str) or len(callback_id) > 255:
            errors.append("[ERROR] must be at most 255 characters [json-pointer:/view/callback_id]")
        external_id = view.get("external_id", "")
        if external_id and any(
            v["external_id"] == external_id and v["id"] != view_id for v in self.views
        ):
            raise _Fail("duplicate_external_id")
        if errors:
            raise _Fail("invalid_arguments", messages=errors)
        view_id = view_id or self._next_id("V")
        stored: Json = {"id": view_id, "team_id": self.team_id, "type": "modal"}
        stored.update(title=view["title"], blocks=blocks, close=view.get("close"))
        stored.update(submit=view.get("submit"), callback_id=callback_id)
        stored.update(private_metadata=str(view.get("private_metadata", "")))
        stored.update(external_id=external_id, state={"values": {}})
        stored.update(hash=f"{int(time.time())}.{secrets.token_hex(4)}")
        stored.update(clear_on_close=bool(view.get("clear_on_close", False)))
        stored.update(notify_on_close=bool(view.get("notify_on_close", False)))
        stored.update(root_view_id=view_id, previous_view_id=None)
        stored.update(app_id=self.app_id, bot_id=self.bot_id)
        return stored

    def check_view(self, view: Json) -> None:
        """Validate a view as views.open does (one sent back as response_action "update")."""
        try:
            self._view({"view": view})
        except _Fail as fail:
            raise ValueError(f"Slack would refuse the view: {fail.error} {fail.messages}") from None

    def _m_views_open(self, args: Json) -> Json:
        trigger = args.get("trigger_id") or args.get("interactivity_pointer")
        if not isinstance(trigger, str) or not trigger:
            raise _Fail("invalid_arguments")
        if trigger in self._used_triggers:
            raise _Fail("expired_trigger_id")
        view = self._view(args)
        self._used_triggers.add(trigger)
        self.views.append(view)
        return {"view": view}

    def _m_views_update(self, args: Json) -> Json:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if not view_id and not external_id:
            raise _Fail("invalid_arguments")
        index = next(
            (
                i
                for i, v in enumerate(self.views)
                if (view_id and v["id"] == view_id)
                or (not view_id and v["external_id"] == external_id)
            ),
            None,
        )
        if index is None:
            raise _Fail("not_found")
        old = self.views[index]
        if args.get("hash") and args["hash"] != old["hash"]:
            raise _Fail("hash_conflict")
        view = self._view(args, view_id=old["id"])
        view["root_view_id"] = old["root_view_id"]
        self.views[index] = view
        return {"view": view}

    def _m_users_info(self, args: Json) -> Json:
        _need(args, "user")
        uid = str(args["user"])
        name = "vision-bot" if uid == self.bot_user_id else f"user-{uid.lower()}"
        profile = {"display_name": name, "real_name": name.title()}
        user: Json = {"id": uid, "team_id": self.team_id, "name": name, "real_name": name.title()}
        user.update(deleted=False, tz="UTC", is_bot=uid == self.bot_user_id, profile=profile)
        user.update(is_admin=False, is_owner=False, is_primary_owner=False)
        return {"user": self.users.get(uid, user)}

    def _m_views_publish(self, args: Json) -> Json:
        """A Home tab: a `home` view of at most 100 blocks, published for one user."""
        _need(args, "user_id")
        view, errors = _view_errors(args, "home")
        if errors:
            raise _Fail("invalid_arguments", messages=errors)
        blocks = view["blocks"]
        user_id = str(args["user_id"])
        old = self.home_views.get(user_id)
        if old and args.get("hash") and args["hash"] != old["hash"]:
            raise _Fail("hash_conflict")
        stored: Json = {"id": old["id"] if old else self._next_id("V"), "team_id": self.team_id}
        stored.update(type="home", blocks=blocks, callback_id=view.get("callback_id", ""))
        stored.update(private_metadata=str(view.get("private_metadata", "")))
        stored.update(hash=f"{int(time.time())}.{secrets.token_hex(4)}", state={"values": {}})
        stored.update(app_id=self.app_id, bot_id=self.bot_id)
        self.home_views[user_id] = stored
        return {"view": stored}

    def _m_bots_info(self, args: Json) -> Json:
        _need(args, "bot")
        bot = {
            "id": str(args["bot"]),
            "deleted": False,
            "name": "vision-bot",
            "app_id": self.app_id,
        }
        return {"bot": {**bot, "user_id": self.bot_user_id, "updated": 1700000000, "icons": {}}}

    def _m_apps_connections_open(self, args: Json) -> Json:
        ticket = secrets.token_urlsafe(16)
        self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self._ports['api']}/socket/{ticket}"}

    def response_url(self, name: str) -> str:
        """A response_url (as in shortcut and command payloads) served by this fake."""
        return f"http://127.0.0.1:{self._ports['api']}/hooks/{name}"

    async def _handle_hook(self, request: web.Request) -> web.StreamResponse:
        if request.content_type != "application/json":
            return web.Response(status=400, text="invalid_payload")
        self.hook_posts.append((request.match_info["path"], await request.json()))
        return web.Response(text="ok")

    # ----- Socket Mode -----
    def event_callback(
        self, event: Json, *, event_id: str | None = None, event_time: int | None = None
    ) -> Json:
        """The Events API `event_callback` body that carries `event` (an events_api payload)."""
        auth: Json = {"enterprise_id": None, "team_id": self.team_id, "user_id": self.bot_user_id}
        auth.update(is_bot=True, is_enterprise_install=False)
        body: Json = {"token": "legacy-verification-token", "team_id": self.team_id}
        body.update(context_team_id=self.team_id, context_enterprise_id=None)
        body.update(api_app_id=self.app_id, event=event, type="event_callback")
        body.update(event_id=event_id or self._next_id("Ev"))
        body.update(event_time=int(time.time()) if event_time is None else event_time)
        body.update(authorizations=[auth], is_ext_shared_channel=False)
        body["event_context"] = f"4-{secrets.token_urlsafe(24)}"
        return body

    @property
    def socket_connected(self) -> bool:
        """Whether a Socket Mode client is connected (and was sent its hello)."""
        return any(not ws.closed for ws in self.sockets)

    async def wait_socket_connected(self, timeout: float = 5.0, *, connections: int = 1) -> bool:
        """Wait until a client is connected and `connections` WebSocket connections were
        accepted in all (reconnects count); False on timeout."""
        return await _poll(
            lambda: self.socket_connected and self.socket_connections >= connections, timeout
        )

    async def socket_send(
        self,
        type_: str,
        payload: Json,
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        accepts_response_payload: bool = False,
    ) -> str:
        """Push an envelope to the oldest connected client (waiting up to 5 s for one);
        return its envelope_id. events_api payloads are event_callback bodies (see
        event_callback()); slash_commands payloads are the command's form fields."""
        if type_ not in ENVELOPE_TYPES:
            raise ValueError(f"envelope type must be one of {ENVELOPE_TYPES}, not {type_!r}")
        if type_ == "events_api" and payload.get("type") != "event_callback":
            raise ValueError("an events_api payload is an event_callback body: event_callback()")
        if not await self.wait_socket_connected():
            raise RuntimeError("no Socket Mode client connected")
        ws = next(ws for ws in self.sockets if not ws.closed)
        envelope: Json = {"envelope_id": envelope_id or str(uuid.uuid4()), "payload": payload}
        envelope.update(type=type_, accepts_response_payload=accepts_response_payload)
        if type_ == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        self.socket_envelopes.append(envelope)
        await ws.send_json(envelope)
        return str(envelope["envelope_id"])

    async def socket_ack(self, envelope_id: str, timeout: float = 5.0) -> Json | None:
        """The client's (first) ack of an envelope, `{"envelope_id": ..., ["payload": ...]}`;
        None if none came within `timeout`."""
        await _poll(lambda: envelope_id in self._acks, timeout)
        return self._acks.get(envelope_id)

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Send the oldest connected client a `disconnect` message (it should reconnect with
        a new apps.connections.open URL; the old connection stays open until it closes it)."""
        ws = next((ws for ws in self.sockets if not ws.closed), None)
        if ws is None:
            raise RuntimeError("no Socket Mode client connected")
        await ws.send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": SOCKET_HOST}}
        )

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        ticket = request.match_info["ticket"]
        if self._socket_closing or ticket not in self._tickets:
            return web.Response(status=401, text="invalid or used ticket")  # one use each
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=False, timeout=2.0)
        await ws.prepare(request)
        self.socket_connections += 1
        hello: Json = {"type": "hello", "num_connections": len(self.sockets) + 1}
        hello["debug_info"] = {
            "host": SOCKET_HOST,
            "build_number": 1,
            "approximate_connection_time": 18060,
        }
        hello["connection_info"] = {"app_id": self.app_id}
        await ws.send_json(hello)
        self.sockets.append(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.PING:
                    self.socket_pings += 1
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self.socket_messages.append(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    try:
                        data = json.loads(msg.data)
                    except ValueError:
                        data = msg.data
                    self.socket_messages.append(data)
                    if isinstance(data, dict) and isinstance(data.get("envelope_id"), str):
                        self._acks.setdefault(data["envelope_id"], data)
        finally:
            self.sockets.remove(ws)
        return ws

    # ----- file hosts -----
    def _file_handler(
        self, host_name: str
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle_file(host_name, request)

        return handle

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """The upload URL of files.getUploadURLExternal: a raw body (what slack_sdk sends) or
        a multipart form with one file part."""
        upload = self._uploads.get(request.match_info["token"])
        if upload is None:
            return web.Response(status=404, text="Not found")
        data = b""
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            parts = [v for v in form.values() if isinstance(v, web.FileField)]
            if len(parts) != 1:
                return web.Response(status=400, text="expected one file part")
            data = parts[0].file.read()
        else:
            data = await request.read()
        if len(data) != upload.length:
            return web.Response(
                status=400, text=f"length mismatch: got {len(data)}, expected {upload.length}"
            )
        upload.data = data
        return web.Response(text=f"OK - {len(data)}")

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
        self._downloading += 1
        self.most_downloads_at_once = max(self.most_downloads_at_once, self._downloading)
        try:
            with contextlib.suppress(ConnectionResetError):  # the client gave up, e.g. a cap
                for i in range(0, len(data), step):
                    await resp.write(data[i : i + step])
                    if hosted.chunk_delay:
                        await asyncio.sleep(hosted.chunk_delay)
                await resp.write_eof()
        finally:
            self._downloading -= 1
        return resp
