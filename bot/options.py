"""What a turn works with: the model, its limits and timings, and the Redis stores."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.claude.client import media_limits
from bot.config import Settings
from bot.media import prepare as media
from bot.store.channels import ChannelSettings
from bot.store.history import ThreadHistory
from bot.store.thread_order import ThreadOrder


@dataclass(frozen=True)
class PipelineOptions:
    """The model and the timing the pipeline works with."""

    model: str
    max_tokens: int
    media: media.MediaLimits = field(default_factory=media.MediaLimits)
    # Inline (base64) bytes per request: well under the API's 32 MB request limit.
    inline_budget: int = 24 * 1024 * 1024
    # Base64 bytes all requests in flight may hold at once (memory, not a count, bounds them).
    inline_in_flight: int = 256 * 1024 * 1024
    context_tokens: int = 200_000  # the model's context window
    url_sources: bool = True  # Bedrock and Vertex take no `url` image sources
    automatic_cache: bool = True  # top-level cache_control: the Claude API's own
    # PDF page citations: on the Claude API and Vertex AI. Bedrock documents them for its
    # Converse API only, not for the InvokeModel body the SDK sends.
    citations: bool = True
    lock_seconds: float = 60.0
    order_wait_seconds: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineOptions:
        """The model, limits and timings for the configured platform."""
        direct = settings.claude_platform == "anthropic"
        return cls(
            model=settings.claude_model,
            max_tokens=settings.claude_max_tokens,
            inline_in_flight=int(settings.max_inline_mb_in_flight * 1024 * 1024),
            context_tokens=settings.claude_context_tokens,
            media=media_limits(settings),
            url_sources=direct,
            automatic_cache=direct,
            citations=settings.claude_platform != "bedrock",
            lock_seconds=settings.turn_claim_timeout_seconds,
            order_wait_seconds=settings.turn_claim_timeout_seconds * 2,
        )


@dataclass(frozen=True)
class Stores:
    """The Redis-backed state the pipeline reads and writes."""

    history: ThreadHistory
    order: ThreadOrder
    channels: ChannelSettings
