"""A fake Claude API (/v1/files, /v1/messages) on a real loopback socket, for tests."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import io
import json
import math
import re
import secrets
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import BodyPartReader, web
from PIL import Image
from pypdf import PdfReader

from tests.fakes import claude_citations as citations

Json = dict[str, Any]
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
REMOVED_FIELDS = ("temperature", "top_p", "top_k")
KNOWN_FIELDS = {"model", "max_tokens", "messages", "system", "stream", "stop_sequences", "metadata"}
KNOWN_FIELDS |= {"tools", "tool_choice", "thinking", "cache_control", "container", "diagnostics"}
KNOWN_FIELDS |= {"inference_geo", "output_config", "service_tier", "speed", "context_management"}
BLOCK_TYPES = ["text", "image", "document", "search_result", "thinking", "redacted_thinking"]
BLOCK_TYPES += ["tool_use", "tool_result", "server_tool_use", "web_search_tool_result"]
BLOCK_TYPES += ["web_fetch_tool_result", "code_execution_tool_result", "container_upload"]
BLOCK_TYPES += ["bash_code_execution_tool_result", "text_editor_code_execution_tool_result"]
BLOCK_TYPES += ["tool_search_tool_result"]
MAX_IMAGE_B64 = 5 * 1024 * 1024  # 5 MB, counted on the base64 form, however the image is sent
MAX_REQUEST_BYTES = 32 * 1024 * 1024  # the Messages API refuses bigger bodies with a 413
FILE_ID = re.compile(r"file_[A-Za-z0-9]+")
PDF_PAGE_TOKENS = 1600  # a page's image and text, for the context window (docs: 1,500-3,000)
STREAM_BREAKS = ("eof", "reset", "garbage")
DEFAULT_MESSAGES = {"overloaded_error": "Overloaded", "api_error": "Internal server error"}


def _rand_id(prefix: str, n: int = 22) -> str:
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def sniff_image(data: bytes) -> str | None:
    """The image media type the magic numbers say, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "image/webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None


def _decoded_size(data: bytes) -> tuple[int, int] | None:
    """Width and height if the image fully decodes (truncated data does not)."""
    with contextlib.suppress(Exception), Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.size
    return None


@dataclass
class Upload:
    """One recorded POST /v1/files."""

    file_id: str
    filename: str
    media_type: str
    data: bytes
    expires_in_seconds: int | None
    headers: dict[str, str]


@dataclass
class _Stored:
    meta: Json
    data: bytes
    expired: bool = False


@dataclass
class _Scan:
    images: int = 0
    documents: int = 0
    pdf_pages: int = 0
    dims: list[tuple[str, int, int]] = field(default_factory=list)
    docs: list[citations.Document] = field(default_factory=list)


class ApiError(Exception):
    """An error answer in the API's shape (also what fail_next queues)."""

    def __init__(self, status: int, error_type: str, message: str, **kw: Any) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message
        self.code: str | None = kw.get("code")
        self.details: Json = kw.get("details") or {}
        self.headers: dict[str, str] = kw.get("headers") or {}


def _too_big(encoded: int) -> str:
    return f"image exceeds 5 MB maximum: {encoded} bytes > {MAX_IMAGE_B64} bytes"


def _bad(message: str, **kw: Any) -> ApiError:
    return ApiError(400, "invalid_request_error", message, **kw)


class FakeClaude:
    """Fake Claude API: file upload/metadata/delete and messages (JSON or SSE)."""

    def __init__(self, api_key: str = "sk-ant-test") -> None:
        self.api_key = api_key
        self.uploads: list[Upload] = []
        self.requests: list[Json] = []
        self.request_headers: list[dict[str, str]] = []
        self.responses: list[Json] = []
        self.reply: Callable[[Json], str] | str | None = None
        self.chunk_size = 8
        self.chunk_delay = 0.0
        # Seconds from a valid request to the answer's first words (Claude's time to first
        # token): a stream sends message_start at once and its first text after this long.
        self.first_token_delay = 0.0
        self.min_cache_tokens = 1024
        self.unreachable_urls: set[str] = set()  # url sources Claude can't download
        self.enforce_max_tokens = False  # True: cut replies at max_tokens (4 chars a token)
        self.strict_alternation = True  # the real API merges consecutive same-role turns
        # Pages cited when documents ask for citations: (document_index, start, end
        # exclusive); None cites each citable document's first page with text.
        self.cite: list[tuple[int, int, int]] | None = None
        self.context_window: int | None = None  # tokens; None: never "prompt is too long"
        self.pdf_page_tokens = PDF_PAGE_TOKENS  # what a page counts (dense pages count more)
        self.prompt_tokens: list[int] = []  # what each request counted against the window
        self.streaming = 0  # answers being streamed now
        self.most_streaming = 0  # the most streamed at once
        self._files: dict[str, _Stored] = {}
        self._cache: set[tuple[str, ...]] = set()
        self._failures: dict[str, list[ApiError]] = {"messages": [], "files": []}
        self._mid_stream: list[tuple[str, str, int]] = []
        self._breaks: list[tuple[str, int]] = []
        self._answers = 0
        self._runner: web.AppRunner | None = None
        self._port = 0

    async def start(self) -> None:
        """Bind to a free loopback port."""
        app = web.Application(middlewares=[self._middleware], client_max_size=2 * MAX_REQUEST_BYTES)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{file_id}", self._file_meta)
        app.router.add_delete("/v1/files/{file_id}", self._delete_file)
        app.router.add_get("/v1/files/{file_id}/content", self._file_content)
        app.router.add_post("/v1/messages", self._messages)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        """Stop the server."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeClaude:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """Base URL for AsyncAnthropic(base_url=...)."""
        return f"http://127.0.0.1:{self._port}"

    # ----- test controls and inspection -----
    def expire(self, file_id: str) -> None:
        """Make later uses of the file answer 404 with error_code file_expired."""
        self._files[file_id].expired = True
        self._files[file_id].meta["expires_at"] = _iso(datetime.now(UTC))

    def forget(self, file_id: str) -> None:
        """Make the file unknown (404 not_found_error, no error_code)."""
        self._files.pop(file_id, None)

    def has_file(self, file_id: str) -> bool:
        """Whether the file is stored (expired ones included)."""
        return file_id in self._files

    def fail_next(
        self,
        status: int,
        error_type: str,
        message: str | None = None,
        *,
        times: int = 1,
        retry_after: float | None = None,
        error_code: str | None = None,
        endpoint: str = "messages",
    ) -> None:
        """Answer the next `times` requests to /v1/messages (or "files" uploads) with an error."""
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        msg = message or DEFAULT_MESSAGES.get(error_type, error_type.replace("_", " "))
        err = ApiError(status, error_type, msg, code=error_code, headers=headers)
        self._failures[endpoint] += [err] * times

    def fail_mid_stream(
        self,
        error_type: str = "overloaded_error",
        after_chunks: int = 2,
        message: str = "Overloaded",
    ) -> None:
        """Make the next streamed answer send some deltas, then an error event, then close."""
        self._mid_stream.append((error_type, message, after_chunks))

    def break_stream(self, how: str = "eof", after_chunks: int = 2) -> None:
        """Make the next streamed answer stop after some deltas without `message_stop`.

        "eof" ends the body cleanly there (a proxy cutting the stream short), "reset" drops
        the connection, "garbage" sends an event whose data is not JSON.
        """
        if how not in STREAM_BREAKS:
            raise ValueError(f"how must be one of {STREAM_BREAKS}")
        self._breaks.append((how, after_chunks))

    @staticmethod
    def blocks(request: Json) -> list[Json]:
        """Every content block of a request's messages (tool_result contents included)."""
        out: list[Json] = []
        for msg in request.get("messages") or []:
            content = msg.get("content") if isinstance(msg, dict) else None
            for block in content if isinstance(content, list) else []:
                inner = block.get("content") if isinstance(block, dict) else None
                out += [block, *(inner if isinstance(inner, list) else [])]
        return [b for b in out if isinstance(b, dict)]

    @staticmethod
    def image_blocks(request: Json) -> list[Json]:
        """Every image block of a request."""
        return [b for b in FakeClaude.blocks(request) if b.get("type") == "image"]

    def message_requests_with_file(self, file_id: str) -> list[Json]:
        """Recorded message requests with a block whose source is this file."""
        used = [
            [(b.get("source") or {}).get("file_id") for b in self.blocks(r)] for r in self.requests
        ]
        return [r for r, ids in zip(self.requests, used, strict=True) if file_id in ids]

    # ----- plumbing -----
    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            key, bearer = request.headers.get("x-api-key"), request.headers.get("Authorization")
            if key != self.api_key and bearer != f"Bearer {self.api_key}":  # SDK 2.x sends Bearer
                raise ApiError(401, "authentication_error", "invalid x-api-key")
            if not request.headers.get("anthropic-version"):
                raise _bad("anthropic-version: header is required")
            resp = await handler(request)
        except ApiError as err:
            body: Json = {"type": err.error_type, "message": err.message}
            if err.code:
                body["details"] = {"error_code": err.code, **err.details}
            rid = _rand_id("req_011", 21)
            payload = {"type": "error", "error": body, "request_id": rid}
            return web.json_response(
                payload, status=err.status, headers={"request-id": rid, **err.headers}
            )
        except web.HTTPException as exc:
            etype = "not_found_error" if exc.status == 404 else "invalid_request_error"
            payload = {"type": "error", "error": {"type": etype, "message": exc.reason}}
            return web.json_response(
                payload, status=exc.status, headers={"request-id": _rand_id("req_011", 21)}
            )
        if not resp.prepared:
            resp.headers.setdefault("request-id", _rand_id("req_011", 21))
        return resp

    def _take_failure(self, endpoint: str) -> None:
        if self._failures[endpoint]:
            raise self._failures[endpoint].pop(0)

    def _stored(self, file_id: Any) -> _Stored:
        stored = self._files.get(file_id) if isinstance(file_id, str) else None
        if stored is None:
            raise ApiError(404, "not_found_error", f"File not found: {file_id}")
        if stored.expired:
            raise ApiError(
                404, "not_found_error", f"File has expired: {file_id}", code="file_expired"
            )
        return stored

    # ----- /v1/files -----
    async def _upload(self, request: web.Request) -> web.Response:
        self._take_failure("files")
        if not request.content_type.startswith("multipart/form-data"):
            raise _bad("Content-Type must be multipart/form-data")
        file_part: tuple[str, str | None, bytes] | None = None
        expires_raw: str | None = None
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                raise _bad("nested multipart bodies are not supported")
            if part.name == "file":
                file_part = (
                    part.filename or "",
                    part.headers.get("Content-Type"),
                    await part.read(),
                )
            elif part.name == "expires_in_seconds":
                expires_raw = await part.text()
            else:
                raise _bad(f"{part.name}: Extra inputs are not permitted")
        if file_part is None:
            raise _bad("file: Field required")
        filename, ctype, data = file_part
        if not ctype:
            raise _bad("file: the file part needs its own Content-Type")
        expires = None
        if expires_raw is not None:
            if not expires_raw.strip().isdigit():
                raise _bad("expires_in_seconds: Input should be a valid integer")
            if not 3600 <= (expires := int(expires_raw)) <= 7_776_000:
                raise _bad("expires_in_seconds: must be between 3600 and 7776000")
        now, file_id = datetime.now(UTC), _rand_id("file_011", 21)
        meta: Json = {
            "id": file_id,
            "type": "file",
            "filename": filename.rsplit("/", 1)[-1] or "unnamed",
        }
        meta.update(mime_type=ctype, size_bytes=len(data), created_at=_iso(now), downloadable=False)
        if expires is not None:
            meta["expires_at"] = _iso(now + timedelta(seconds=expires))
        self._files[file_id] = _Stored(meta, data)
        headers = dict(request.headers)
        self.uploads.append(Upload(file_id, meta["filename"], ctype, data, expires, headers))
        return web.json_response(meta)

    async def _file_meta(self, request: web.Request) -> web.Response:
        if (stored := self._files.get(request.match_info["file_id"])) is None:
            raise ApiError(
                404, "not_found_error", f"File not found: {request.match_info['file_id']}"
            )
        return web.json_response(stored.meta)

    async def _delete_file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if self._files.pop(file_id, None) is None:
            raise ApiError(404, "not_found_error", f"File not found: {file_id}")
        return web.json_response({"id": file_id, "type": "file_deleted"})

    async def _file_content(self, request: web.Request) -> web.Response:
        self._stored(request.match_info["file_id"])
        raise _bad("This file is not downloadable", code="file_not_downloadable")

    # ----- /v1/messages: validation -----
    def _validate(self, body: Json) -> _Scan:
        for key in [*REMOVED_FIELDS, *sorted(set(body) - KNOWN_FIELDS)]:
            if key in body:
                raise _bad(f"{key}: Extra inputs are not permitted")
        for key in ("model", "max_tokens", "messages"):
            if key not in body:
                raise _bad(f"{key}: Field required")
        if not isinstance(body["model"], str) or not body["model"]:
            raise _bad("model: Input should be a valid string")
        if type(body["max_tokens"]) is not int or body["max_tokens"] < 1:
            raise _bad("max_tokens: Input should be greater than or equal to 1")
        if not isinstance(body.get("stream", False), bool):
            raise _bad("stream: Input should be a valid boolean")
        if (cc := body.get("cache_control")) is not None and (
            not isinstance(cc, dict) or cc.get("type") != "ephemeral"
        ):
            raise _bad("cache_control.type: Input should be 'ephemeral'")
        system = body.get("system")
        if isinstance(system, list) and any(
            not isinstance(b, dict) or b.get("type") != "text" for b in system
        ):
            raise _bad("system: Input should be a valid list of text blocks")
        if not isinstance(msgs := body["messages"], list) or not msgs:
            raise _bad("messages: at least one message is required")
        scan, prev = _Scan(), None
        for i, msg in enumerate(msgs):
            role = msg.get("role") if isinstance(msg, dict) else None
            if role not in ("user", "assistant"):
                raise _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
            if i == 0 and role != "user":
                raise _bad('messages: first message must use the "user" role')
            if role == prev and self.strict_alternation:
                raise _bad(
                    'messages: roles must alternate between "user" and "assistant", '
                    f'but found multiple "{role}" roles in a row'
                )
            prev, content = role, msg.get("content")
            if not isinstance(content, str | list):
                raise _bad(f"messages.{i}.content: Input should be a valid string or list")
            if not content and not (role == "assistant" and i == len(msgs) - 1):
                raise _bad(
                    f"messages.{i}: all messages must have non-empty content except "
                    "for the optional final assistant message"
                )
            for j, block in enumerate(content if isinstance(content, list) else []):
                self._check_block(block, f"messages.{i}.content.{j}", scan)
        if scan.images + scan.documents > 100:
            raise _bad(
                f"messages: too many images and documents: {scan.images + scan.documents} > 100"
            )
        if scan.pdf_pages > 100:
            raise _bad("A maximum of 100 PDF pages may be provided.")
        citations.check_all_or_none(scan.docs, _bad)
        limit = 2000 if scan.images > 20 else 8000
        if over := [p for p, w, h in scan.dims if max(w, h) > limit]:
            what = "for many-image requests" if scan.images > 20 else ""
            raise _bad(
                f"{over[0]}: At least one of the image dimensions exceed max allowed size "
                f"{what}: {limit} pixels".replace("  ", " "),
                code="image_dimensions_too_large",
                details={"max_side_length_pixels": limit, "paths": over},
            )
        return scan

    def _check_block(self, block: Any, path: str, scan: _Scan) -> None:
        btype = block.get("type") if isinstance(block, dict) else None
        if btype not in BLOCK_TYPES:
            raise _bad(
                f"{path}: Input tag '{btype}' found using 'type' does not match any of the "
                f"expected tags: {', '.join(repr(t) for t in BLOCK_TYPES)}"
            )
        if (cc := block.get("cache_control")) is not None and (
            not isinstance(cc, dict) or cc.get("type") != "ephemeral"
        ):
            raise _bad(f"{path}.cache_control.type: Input should be 'ephemeral'")
        if btype == "text" and (not isinstance(block.get("text"), str) or not block["text"]):
            raise _bad("messages: text content blocks must be non-empty")
        if btype == "document":
            src = block.get("source") if isinstance(block.get("source"), dict) else {}
            doc = citations.Document(scan.documents, citations.check_fields(block, path, _bad))
            doc.title, doc.file_id = block.get("title"), src.get("file_id")
            scan.docs.append(doc)
        if btype in ("image", "document"):
            self._check_source(block, btype, path, scan)
        if btype == "tool_result" and isinstance(block.get("content"), list):
            for k, inner in enumerate(block["content"]):
                self._check_block(inner, f"{path}.content.{k}", scan)

    def _check_source(self, block: Json, btype: str, path: str, scan: _Scan) -> None:
        src: Json = block["source"] if isinstance(block.get("source"), dict) else {}
        stype = src.get("type")
        where = f"{path}.{btype}.source.{stype}"
        allowed = ("base64", "url", "file") + (("text", "content") if btype == "document" else ())
        if stype not in allowed:
            raise _bad(
                f"{path}.{btype}.source: Input tag '{stype}' does not match any of: {allowed}"
            )
        scan.images += btype == "image"
        scan.documents += btype == "document"
        if stype == "url" and not str(src.get("url")).startswith("https://"):
            raise _bad(f"{where}.url: Only HTTPS URLs are supported")
        if stype == "url" and src.get("url") in self.unreachable_urls:
            raise _bad("Unable to download the file. Please verify the URL and try again.")
        if stype in ("url", "text", "content"):
            return
        if stype == "base64":
            media_type, raw = src.get("media_type"), src.get("data")
            if btype == "image" and media_type not in IMAGE_TYPES:
                raise _bad(
                    f"{where}.media_type: Input should be " + " or ".join(map(repr, IMAGE_TYPES))
                )
            if not isinstance(raw, str):
                raise _bad(f"{where}.data: Field required")
            if btype == "image" and len(raw) > MAX_IMAGE_B64:
                raise _bad(_too_big(len(raw)))
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise _bad(f"{where}.data: Invalid base64 data") from None
        else:
            file_id = src.get("file_id")
            if file_id is None:
                raise _bad(f"{where}.file_id: Field required")
            if not isinstance(file_id, str) or not FILE_ID.fullmatch(file_id):
                # Only a well-formed id that names no file is a 404.
                raise _bad(f"{where}.file_id: Invalid file id: {file_id!r}")
            stored = self._stored(file_id)
            media_type, data = stored.meta["mime_type"], stored.data
        if btype == "document":
            if media_type == "application/pdf" and not data.startswith(b"%PDF-"):
                raise _bad(f"{where}: The PDF specified was not valid.")
            if media_type not in ("application/pdf", "text/plain"):
                raise _bad(
                    f"{where}: documents must be application/pdf or text/plain, not {media_type}"
                )
            if media_type == "application/pdf":
                scan.pdf_pages += len(PdfReader(io.BytesIO(data)).pages)
                scan.docs[-1].pages = citations.page_texts(data)
            return
        if (encoded := 4 * math.ceil(len(data) / 3)) > MAX_IMAGE_B64:
            raise _bad(_too_big(encoded))  # by file_id too: the API counts the base64 form
        if sniff_image(data) is None or (size := _decoded_size(data)) is None:
            raise _bad("Could not process image")
        if sniff_image(data) != media_type:
            raise _bad(f"{where}: Image does not match the provided media type {media_type}")
        scan.dims.append((path, *size))

    def _check_context(self, body: Json, scan: _Scan) -> None:
        """Refuse a prompt past the context window, in the API's words."""
        text = [body.get("system") or "", *(m.get("content") for m in body["messages"])]
        tokens = sum(self._tokens(t) for t in text) - 1000 * (scan.images + scan.documents)
        tokens += sum(math.ceil(w / 28) * math.ceil(h / 28) for _, w, h in scan.dims)
        tokens += self.pdf_page_tokens * scan.pdf_pages + 3 * len(body["messages"])
        self.prompt_tokens.append(tokens)
        window = self.context_window
        if window is None:
            return
        if tokens > window:
            raise _bad(f"prompt is too long: {tokens} tokens > {window} maximum")
        if tokens + body["max_tokens"] > window:
            raise _bad(
                f"input length and `max_tokens` exceed context limit: {tokens} + "
                f"{body['max_tokens']} > {window}, decrease input length or `max_tokens` "
                "and try again"
            )

    # ----- /v1/messages: usage, caching, answers -----
    @staticmethod
    def _tokens(content: Any) -> int:
        """Rough input tokens: 1 per 4 characters of text, 1000 per image or document."""
        if isinstance(content, str):
            return math.ceil(len(content) / 4)
        if isinstance(content, list):
            return sum(map(FakeClaude._tokens, content))
        if isinstance(content, dict) and content.get("type") in ("image", "document"):
            return 1000
        if isinstance(content, dict) and content.get("type") == "text":
            return FakeClaude._tokens(content.get("text", ""))
        if isinstance(content, dict) and isinstance(content.get("content"), list | str):
            return FakeClaude._tokens(content["content"])
        return math.ceil(len(json.dumps(content)) / 4)

    @staticmethod
    def _strip_cc(value: Any) -> Any:
        """The value without cache_control markers (they do not change the cached prefix)."""
        if isinstance(value, dict):
            return {k: FakeClaude._strip_cc(v) for k, v in value.items() if k != "cache_control"}
        return [FakeClaude._strip_cc(v) for v in value] if isinstance(value, list) else value

    def _usage(self, body: Json) -> Json:
        """Usage with prompt caching: reuse the longest cached prefix (model+system, messages)."""
        head = {k: body.get(k) for k in ("model", "system", "tools")}
        segments = [(head, 3 + self._tokens(body.get("system") or ""))]
        segments += [(m, 3 + self._tokens(m.get("content"))) for m in body["messages"]]
        keys = [json.dumps(self._strip_cc(s), sort_keys=True) for s, _ in segments]
        total = sum(t for _, t in segments)
        usage: Json = {"input_tokens": total, "output_tokens": 0}
        usage.update(cache_creation_input_tokens=0, cache_read_input_tokens=0)
        if body.get("cache_control") and total >= self.min_cache_tokens:
            hit = max((len(p) for p in self._cache if tuple(keys[: len(p)]) == p), default=0)
            read = sum(t for _, t in segments[:hit])
            usage.update(
                input_tokens=0,
                cache_read_input_tokens=read,
                cache_creation_input_tokens=total - read,
            )
            self._cache.add(tuple(keys))
        return usage

    def _reply_text(self, body: Json, scan: _Scan) -> str:
        if callable(self.reply):
            return self.reply(body)
        if isinstance(self.reply, str):
            return self.reply
        docs = f" and {scan.documents} document(s)" if scan.documents else ""
        return f"I see {scan.images} image(s){docs}. **Answer {self._answers}.**"

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        if len(await request.read()) > MAX_REQUEST_BYTES:
            self.requests.append({"too_large": request.content_length})
            raise ApiError(
                413, "request_too_large", "Request exceeds the maximum allowed number of bytes."
            )
        try:
            body = await request.json()
        except ValueError:
            raise _bad("There was an error parsing the body of your request") from None
        if not isinstance(body, dict):
            raise _bad("Input should be a valid dictionary")
        self.requests.append(body)
        self.request_headers.append(dict(request.headers))
        self._take_failure("messages")
        scan = self._validate(body)
        self._check_context(body, scan)
        self._answers += 1  # numbers every answer begun, interrupted streams included
        text, stop = self._reply_text(body, scan), "end_turn"
        if self.enforce_max_tokens and math.ceil(len(text) / 4) > body["max_tokens"]:
            text, stop = text[: body["max_tokens"] * 4], "max_tokens"
        usage = {**self._usage(body), "output_tokens": max(1, math.ceil(len(text) / 4))}
        message: Json = {"id": _rand_id("msg_01"), "type": "message", "role": "assistant"}
        message.update(
            model=body["model"], content=citations.cited_blocks(text, scan.docs, self.cite)
        )
        message.update(stop_reason=stop, stop_sequence=None, usage=usage)
        if body.get("stream"):
            self.streaming += 1
            self.most_streaming = max(self.most_streaming, self.streaming)
            try:
                return await self._stream(request, message)
            finally:
                self.streaming -= 1
        if self.first_token_delay:
            await asyncio.sleep(self.first_token_delay)
        self.responses.append(message)
        return web.json_response(message)

    async def _stream(self, request: web.Request, message: Json) -> web.StreamResponse:
        rid = _rand_id("req_011", 21)
        headers = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
        resp = web.StreamResponse(headers={**headers, "request-id": rid})
        await resp.prepare(request)

        async def send(event: str, data: Json) -> None:
            await resp.write(
                f"event: {event}\ndata: {json.dumps({'type': event, **data})}\n\n".encode()
            )

        usage, fail = message["usage"], self._mid_stream.pop(0) if self._mid_stream else None
        deltas = 0  # text deltas sent, for fail_mid_stream
        broken = self._breaks.pop(0) if self._breaks and fail is None else None
        with contextlib.suppress(ConnectionResetError):  # the client went away mid-stream
            start = {
                **message,
                "content": [],
                "stop_reason": None,
                "usage": {**usage, "output_tokens": 1},
            }
            await send("message_start", {"message": start})
            for index, block in enumerate(message["content"]):
                opening: Json = {"type": "text", "text": ""}
                if "citations" in block:
                    opening["citations"] = []
                await send("content_block_start", {"index": index, "content_block": opening})
                if index == 0:
                    await send("ping", {})
                    if self.first_token_delay:
                        await asyncio.sleep(self.first_token_delay)
                for citation in block.get("citations", []):
                    delta = {"type": "citations_delta", "citation": citation}
                    await send("content_block_delta", {"index": index, "delta": delta})
                for piece in self._pieces(block["text"]):
                    if broken is not None and deltas == broken[1]:
                        await self._break(request, resp, broken[0])
                        return resp
                    if fail is not None and deltas == fail[2]:
                        error = {"type": fail[0], "message": fail[1]}
                        await send("error", {"error": error, "request_id": rid})
                        return resp
                    delta = {"type": "text_delta", "text": piece}
                    await send("content_block_delta", {"index": index, "delta": delta})
                    deltas += 1
                    if self.chunk_delay:
                        await asyncio.sleep(self.chunk_delay)
                if broken is not None and index == len(message["content"]) - 1:
                    await self._break(request, resp, broken[0])
                    return resp
                if fail is not None and index == len(message["content"]) - 1:
                    error = {"type": fail[0], "message": fail[1]}
                    await send("error", {"error": error, "request_id": rid})
                    return resp
                await send("content_block_stop", {"index": index})
            delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
            await send("message_delta", {"delta": delta, "usage": usage})
            await send("message_stop", {})
            await resp.write_eof()
            self.responses.append(message)
        return resp

    def _pieces(self, text: str) -> list[str]:
        size = max(1, self.chunk_size)
        return [text[i : i + size] for i in range(0, len(text), size)]

    @staticmethod
    async def _break(request: web.Request, resp: web.StreamResponse, how: str) -> None:
        """End a stream the way a broken connection or proxy would."""
        if how == "garbage":
            await resp.write(b'event: content_block_delta\ndata: {"type": "content_blo\n\n')
            await resp.write_eof()
        elif how == "reset" and request.transport is not None:
            request.transport.abort()  # mid-body: the chunked encoding never ends
        else:
            await resp.write_eof()
