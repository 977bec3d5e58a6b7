"""Stream an answer from Claude, passing its words on as they arrive."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anthropic

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
