"""Stream an answer from Claude, passing its words on as they arrive."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anthropic
from anthropic.types import Message

from bot.claude.citations import PageCitation, page_citations
from bot.claude.errors import translate_error

if TYPE_CHECKING:
    from bot.claude.client import ClaudeClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Usage:
    """Token counts of one answer."""

    input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class Streamed:
    """Claude's whole answer: its text, what it cost, and the PDF pages it cites."""

    text: str
    usage: Usage
    pages: tuple[PageCitation, ...] = ()


async def stream_answer(
    client: ClaudeClient,
    request: dict[str, Any],
    on_text: Callable[[str], Awaitable[None]],
    *,
    on_start: Callable[[], Awaitable[None]] | None = None,
) -> Streamed:
    """Send `request`, passing text to `on_text` as it arrives (`on_start` first, once)."""
    parts: list[str] = []
    try:
        async with client.messages.stream(**request) as stream:
            async for event in stream:
                if event.type == "message_start" and on_start is not None:
                    await on_start()  # Claude has read the request and begins to answer
                elif event.type == "text":
                    parts.append(event.text)
                    await on_text(event.text)
            final = await stream.get_final_message()
    except anthropic.APIError as exc:
        raise translate_error(exc) from exc
    return Streamed("".join(parts), _usage(final), page_citations(final))


def _usage(final: Message) -> Usage:
    usage = final.usage
    return Usage(
        input_tokens=usage.input_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens or 0,
        cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
        output_tokens=usage.output_tokens,
    )
