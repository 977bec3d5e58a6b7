"""Stream an answer from Claude and translate its failures into words for the thread."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anthropic

from bot.errors import ClaudeRejected, ClaudeUnavailable, LinkUnreachable

if TYPE_CHECKING:
    from bot.claude_platform import ClaudeClient

logger = logging.getLogger(__name__)

_BUSY = "Claude is overloaded or rate-limited right now. Please try again in a minute."
_UNREACHABLE = "I couldn't reach Claude just now. Please try again in a minute."
_KEY = (
    "Claude refused my credentials. Whoever runs this bot should check ANTHROPIC_API_KEY "
    "and the workspace's access."
)


class FileGone(Exception):
    """Claude no longer has a file the request refers to (expired or deleted)."""


@dataclass(frozen=True)
class Usage:
    """Token counts of one answer."""

    input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    output_tokens: int = 0


async def stream_answer(
    client: ClaudeClient,
    request: dict[str, Any],
    on_text: Callable[[str], Awaitable[None]],
) -> tuple[str, Usage]:
    """Send `request`, passing text to `on_text` as it arrives; the full text and usage."""
    parts: list[str] = []
    try:
        async with client.messages.stream(**request) as stream:
            async for text in stream.text_stream:
                parts.append(text)
                await on_text(text)
            final = await stream.get_final_message()
    except anthropic.APIError as exc:
        raise translate_error(exc) from exc
    usage = final.usage
    return "".join(parts), Usage(
        input_tokens=usage.input_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens or 0,
        cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
        output_tokens=usage.output_tokens,
    )


def translate_error(exc: anthropic.APIError) -> Exception:
    """The user-facing error (or FileGone) for a failed Claude API call."""
    if isinstance(exc, anthropic.APIConnectionError):
        return ClaudeUnavailable(_UNREACHABLE)
    if not isinstance(exc, anthropic.APIStatusError):
        return ClaudeUnavailable(_UNREACHABLE)
    if isinstance(exc, anthropic.NotFoundError) and "file" in (exc.api_message or "").lower():
        return FileGone(exc.api_message or "file not found")
    if isinstance(exc, anthropic.NotFoundError) and exc.error_code == "file_expired":
        return FileGone("file expired")
    # A mid-stream `error` event arrives on a 200 response; its type says what happened.
    if exc.status_code == 429 or exc.status_code >= 500 or exc.type in _TRANSIENT:
        return ClaudeUnavailable(_BUSY)
    if isinstance(exc, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
        return ClaudeRejected(_KEY)
    if exc.status_code == 413:
        return ClaudeRejected(
            "This conversation has grown too large for one request. Start a new thread "
            "with just the images you need."
        )
    detail = exc.api_message or "no reason given"
    if exc.status_code == 400 and "download" in detail.lower():
        return LinkUnreachable(
            f"Claude couldn't download an image link ({detail}). Upload the image to Slack instead."
        )
    return ClaudeRejected(f"Claude couldn't process this request: {detail}")


_TRANSIENT = {"overloaded_error", "rate_limit_error", "api_error", "timeout_error"}
