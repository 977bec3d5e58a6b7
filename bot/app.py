"""Wiring: build the clients, stores and pipeline from settings, and the Bolt app on top."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass

import aiohttp
from redis.asyncio import Redis
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.acks import AcksFirst
from bot.agent.feedback import Feedback
from bot.agent.surfaces import AgentSurfaces
from bot.claude.client import ClaudeClient, claude_client, transport
from bot.commands import VisionCommand
from bot.config import Settings
from bot.decoders import Decoders, usable_cpus
from bot.fairness import AnswerSlots
from bot.governance.admins import Admins
from bot.governance.budget import Budget, WorkspaceLimits
from bot.governance.gate import Gate
from bot.governance.home import HomeTab
from bot.governance.reports import Reports
from bot.intake import Intake
from bot.metrics import Metrics
from bot.options import PipelineOptions, Stores
from bot.pipeline import Conversation
from bot.slack.files import SlackFileFetcher
from bot.slack.notes import Notes
from bot.slack.people import SlackPeople
from bot.store.admission import OneStepAdmission
from bot.store.audit import AuditLog
from bot.store.channels import ChannelSettings
from bot.store.connection import connect, is_cluster
from bot.store.feedback import FeedbackCounts
from bot.store.history import ThreadHistory
from bot.store.queue import TurnQueue
from bot.store.rate import QuestionRate
from bot.store.spend import SpendLedger
from bot.store.thread_order import ThreadOrder
from bot.store.viewing import ViewingStore
from bot.store.waiting import QueuedQuestions
from bot.templates import Templates
from bot.workers import Workers
from handlers import register_all

logger = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything one bot process runs on, built once at startup."""

    settings: Settings
    redis: Redis
    slack: AsyncWebClient
    http: aiohttp.ClientSession
    claude: ClaudeClient
    templates: Templates
    channels: ChannelSettings
    queue: TurnQueue
    intake: Intake
    command: VisionCommand
    home: HomeTab
    conversation: Conversation
    workers: Workers
    metrics: Metrics
    agent: AgentSurfaces
    feedback: Feedback
    decoders: Decoders
    acks: AcksFirst

    async def close(self) -> None:
        """Release network resources and decoding processes (workers must be stopped first)."""
        await self.decoders.close()
        await self.http.close()
        await self.claude.close()
        await self.redis.aclose()


def build_services(
    settings: Settings,
    *,
    templates: Templates | None = None,
    redis: Redis | None = None,
    claude: ClaudeClient | None = None,
    consumer: str | None = None,
) -> Services:
    """Create the process's clients and the conversation pipeline (nothing runs yet)."""
    settings.require_prices()
    templates = templates or Templates.load(settings.templates_file)
    # Answers hold a connection only per command, but a full process mustn't queue its acks.
    redis = redis or connect(settings.redis_url, max_connections=redis_connections(settings))
    http = aiohttp.ClientSession()
    slack = _slack_client(settings, http)
    claude = claude or claude_client(settings)
    stores = _stores(settings, redis)
    queue = TurnQueue(redis, consumer or _consumer_name())
    fetcher = SlackFileFetcher(
        http,
        slack,
        token=settings.bot_token,
        allowed_hosts=settings.slack_file_hosts,
        max_bytes=settings.max_file_bytes,
        timeout_seconds=settings.download_timeout_seconds,
    )
    metrics = Metrics()
    admins = Admins(settings.admin_users, SlackPeople(slack))
    notes = Notes(slack)
    ledger = SpendLedger(redis)
    limits = WorkspaceLimits.from_settings(settings)
    budget = Budget(
        ledger,
        stores.channels,
        price=settings.price,
        limits=limits,
        admins=admins,
        notes=notes,
        metrics=metrics,
    )
    agent = AgentSurfaces(slack, templates, ViewingStore(redis))
    # One decoding process per core, started now: a file's decoding never blocks the loop.
    decoders = Decoders(usable_cpus(), settings.prepare_timeout_seconds)
    slots = AnswerSlots(settings.max_concurrent_turns)
    conversation = Conversation(
        slack=slack,
        fetcher=fetcher,
        claude=claude,
        transport=transport(settings, claude, redis),
        stores=stores,
        templates=templates,
        options=PipelineOptions.from_settings(settings),
        metrics=metrics,
        budget=budget,
        agent=agent,
        decoders=decoders,
        slots=slots,
    )
    waiting = QueuedQuestions(redis, settings.user_queued_questions)
    acks = AcksFirst()
    workers = Workers(
        queue,
        # A turn that ends, one way or another, frees its place under the asker's cap; it
        # starts once the server's acks due are sent.
        waiting.releasing(acks.first(conversation.handle)),
        slots=slots,
        claim_timeout=settings.turn_claim_timeout_seconds,
        on_dropped=waiting.releasing(conversation.give_up),
        on_unreadable=metrics.unreadable_turns.inc,
    )
    metrics.in_flight.set_function(lambda: workers.in_flight)
    rate = QuestionRate(redis, settings.user_questions_per_minute)
    gate = Gate(
        stores.channels, rate, notes, admins, command=settings.slash_command, waiting=waiting
    )
    intake = Intake(
        stores.history,
        stores.order,
        queue,
        stores.channels,
        follow_ups=settings.follow_ups,
        gate=gate,
        # One round trip before Slack's ack, where every key lives on one server.
        one_step=None
        if is_cluster(redis)
        else OneStepAdmission(
            redis,
            settings.history_ttl_seconds,
            per_minute=settings.user_questions_per_minute,
            cap=settings.user_queued_questions,
        ),
    )
    feedback_counts = FeedbackCounts(redis)
    reports = Reports(ledger, limits, feedback_counts)
    _log_policy(settings)
    return Services(
        settings=settings,
        redis=redis,
        slack=slack,
        http=http,
        claude=claude,
        templates=templates,
        channels=stores.channels,
        queue=queue,
        intake=intake,
        command=VisionCommand(
            settings.slash_command,
            templates,
            stores.channels,
            reports=reports,
            admins=admins,
            audit=AuditLog(redis),
            prices_known=settings.price is not None,
        ),
        home=HomeTab(slack, templates, reports, admins, command=settings.slash_command),
        conversation=conversation,
        workers=workers,
        metrics=metrics,
        agent=agent,
        feedback=Feedback(slack, feedback_counts, templates, metrics),
        decoders=decoders,
        acks=acks,
    )


def redis_connections(settings: Settings) -> int:
    """Connections in the Redis pool: enough for every answer slot and the acks beside them."""
    return max(50, settings.max_concurrent_turns + 25)


def _slack_client(settings: Settings, http: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """The Web API client, retrying dropped connections and one 429 (after Retry-After)."""
    # On the process's one HTTP session: without one, slack_sdk opens a session, and a new
    # TLS connection, for every call (a turn makes a dozen).
    return AsyncWebClient(
        token=settings.bot_token,
        base_url=settings.slack_api_url,
        session=http,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
        ],
    )


def _stores(settings: Settings, redis: Redis) -> Stores:
    """Everything the pipeline keeps in Redis."""
    ttl = settings.history_ttl_seconds
    history, order = ThreadHistory(redis, ttl), ThreadOrder(redis, ttl)
    return Stores(history, order, ChannelSettings(redis))


def _log_policy(settings: Settings) -> None:
    """Say at startup who may change settings, and whether costs can be counted."""
    if not settings.admin_users:
        logger.warning(
            "ADMIN_USERS is not set: anyone may change the bot's settings (/vision auto, "
            "limit, off, on); set it to Slack user ids to keep that to admins"
        )
    if settings.price is None:
        logger.warning(
            "no price known for CLAUDE_MODEL=%s: tokens are counted, costs are not; set "
            "CLAUDE_PRICES to count them",
            settings.claude_model,
        )


def build_bolt(services: Services, *, socket_mode: bool = False) -> AsyncApp:
    """The Bolt app with every listener registered."""
    secret = services.settings.slack_signing_secret
    app = AsyncApp(
        # Its own client, without the shared session: Bolt deep-copies each request (with
        # its client) for lazy listeners, and a session can't be copied.
        client=_slack_client(services.settings),
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
