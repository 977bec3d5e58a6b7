"""Wiring: build the clients, stores and pipeline from settings, and the Bolt app on top."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass

import aiohttp
from anthropic import AsyncAnthropic
from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.claude_files import ClaudeFiles
from bot.config import Settings
from bot.history import ThreadHistory
from bot.intake import Intake
from bot.media import MediaLimits, native_long_edge
from bot.pipeline import Conversation, PipelineOptions
from bot.queue import TurnQueue
from bot.redis_conn import connect
from bot.slack_files import SlackFileFetcher
from bot.upload_cache import UploadCache
from bot.workers import Workers

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything one bot process runs on, built once at startup."""

    settings: Settings
    redis: Redis
    slack: AsyncWebClient
    http: aiohttp.ClientSession
    claude: AsyncAnthropic
    history: ThreadHistory
    queue: TurnQueue
    intake: Intake
    conversation: Conversation
    workers: Workers

    async def close(self) -> None:
        """Release network resources (workers must be stopped first)."""
        await self.http.close()
        await self.claude.close()
        await self.redis.aclose()


def build_services(
    settings: Settings,
    *,
    redis: Redis | None = None,
    claude: AsyncAnthropic | None = None,
    consumer: str | None = None,
) -> Services:
    """Create the process's clients and the conversation pipeline (nothing runs yet)."""
    redis = redis or connect(settings.redis_url)
    slack = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
        ],
    )
    api_key = settings.anthropic_api_key
    claude = claude or AsyncAnthropic(
        api_key=api_key.get_secret_value() if api_key else None,
        base_url=settings.anthropic_base_url,
        max_retries=settings.claude_max_retries,
    )
    http = aiohttp.ClientSession()
    history = ThreadHistory(redis, settings.history_ttl_seconds)
    queue = TurnQueue(redis, consumer or _consumer_name())
    fetcher = SlackFileFetcher(
        http,
        slack,
        token=settings.slack_bot_token.get_secret_value(),
        allowed_hosts=settings.slack_file_hosts,
        max_bytes=settings.max_file_bytes,
        timeout_seconds=settings.download_timeout_seconds,
    )
    files = ClaudeFiles(
        claude,
        UploadCache(redis, settings.history_ttl_seconds),
        expires_in=settings.history_ttl_seconds,
    )
    conversation = Conversation(
        redis=redis,
        slack=slack,
        fetcher=fetcher,
        claude=claude,
        files=files,
        history=history,
        options=PipelineOptions(
            model=settings.claude_model,
            max_tokens=settings.claude_max_tokens,
            media=MediaLimits(long_edge=native_long_edge(settings.claude_model)),
            lock_seconds=settings.turn_claim_timeout_seconds,
            order_wait_seconds=settings.turn_claim_timeout_seconds * 2,
        ),
    )
    workers = Workers(
        queue,
        conversation.handle,
        concurrency=settings.max_concurrent_turns,
        claim_timeout=settings.turn_claim_timeout_seconds,
    )
    intake = Intake(history, queue, follow_ups=settings.follow_ups)
    return Services(
        settings, redis, slack, http, claude, history, queue, intake, conversation, workers
    )


def build_bolt(services: Services, *, socket_mode: bool = False) -> AsyncApp:
    """The Bolt app with every listener registered."""
    from handlers import register_all

    secret = services.settings.slack_signing_secret
    app = AsyncApp(
        client=services.slack,
        signing_secret=secret.get_secret_value() if secret else "",
        # Listeners only write the turn to Redis (milliseconds), so Slack's ack waits for
        # that: an acknowledged turn is always on the durable queue.
        process_before_response=True,
        request_verification_enabled=not socket_mode,
    )
    register_all(app, services)
    return app


def _consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
