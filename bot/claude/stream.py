"""Stream an answer from Claude, passing its words on as they arrive."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anthropic
from anthropic.lib.streaming import ParsedMessageStreamEvent
from anthropic.types import Message

from bot.claude.citations import PageCitation, page_citations
from bot.claude.errors import translate_error
from bot.errors import ClaudeUnavailable

if TYPE_CHECKING:
    from bot.claude.client import ClaudeClient

logger = logging.getLogger(__name__)

BROKEN_OFF = "My connection to Claude broke off before the answer was complete. Please ask again."


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
            events = aiter(stream)
            while (event := await _next_event(events)) is not None:
                if event.type == "message_start" and on_start is not None:
                    await on_start()  # Claude has read the request and begins to answer
                elif event.type == "text":
                    parts.append(event.text)
                    await on_text(event.text)
            final = await stream.get_final_message()
    except anthropic.APIError as exc:
        raise translate_error(exc) from exc
    if final.stop_reason is None:
        # The body ended before `message_stop` (a proxy or load balancer cut it short): the
        # SDK returns what came, which is not the whole answer.
        logger.warning("Claude's stream ended without a stop reason after %d parts", len(parts))
        raise ClaudeUnavailable(BROKEN_OFF)
    return Streamed("".join(parts), _usage(final), page_citations(final))


def _usage(final: Message) -> Usage:
    usage = final.usage
    return Usage(
        input_tokens=usage.input_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens or 0,
        cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
        output_tokens=usage.output_tokens,
    )


async def _next_event(
    events: AsyncIterator[ParsedMessageStreamEvent[Any]],
) -> ParsedMessageStreamEvent[Any] | None:
    """The stream's next event, None at its end; a broken stream is a user-facing error."""
    try:
        return await anext(events)
    except StopAsyncIteration:
        return None
    except anthropic.APIError:
        raise
    except Exception as exc:
        # The connection dropped mid-body, or an event didn't parse: the SDK raises its HTTP
        # library's error or the JSON decoder's, not an APIError, and retries nothing.
        logger.warning("Claude's stream broke off: %s: %s", type(exc).__name__, exc)
        raise ClaudeUnavailable(BROKEN_OFF) from exc
