"""Slack event listeners: hand each message to the intake, nothing more."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse

from bot.agent.surfaces import AgentSurfaces
from bot.intake import Intake
from bot.metrics import Metrics
from bot.outage import OutageNotices
from bot.store.connection import is_unreachable
from handlers.identity import identity

logger = logging.getLogger(__name__)

RATE_LIMIT_NOTICES_KEPT = 1000  # (workspace, minute) pairs remembered to log each once


def register(app: AsyncApp, intake: Intake, agent: AgentSurfaces, metrics: Metrics) -> None:
    """Listen to every event the manifest subscribes to, so none is answered 404."""
    outage = OutageNotices(app.client)

    async def offer(event: dict[str, Any], context: AsyncBoltContext, *, mentioned: bool) -> None:
        me = identity(context)
        try:
            await intake.offer(event, me, mentioned=mentioned)
        except Exception as exc:
            if not is_unreachable(exc):
                raise  # a 500: Slack retries it
            # Acknowledged once the asker is told: a retry would only tell them again, and
            # Slack turns off an app's events when too many deliveries fail.
            await outage.tell(event, me, mentioned=mentioned)

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await offer(event, context, mentioned=True)

    @app.event("message")
    async def on_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if "app_context" in event and event.get("user"):
            # In the agent view a DM says what its sender is looking at: fresher than the
            # last app_context_changed, so remembered before the question is queued.
            me = identity(context)
            try:
                await agent.context_changed(me.team_id, event["user"], event["app_context"])
            except Exception as exc:  # a nicety: the question itself still goes to intake
                logger.warning("could not remember what %s views: %s", event["user"], exc)
        await offer(event, context, mentioned=False)

    app.middleware(_rate_limit_notices(metrics))


def _rate_limit_notices(
    metrics: Metrics,
) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Acknowledge `app_rate_limited` (sent unsubscribed, and not an event_callback)."""
    seen: dict[tuple[str, str], None] = {}

    async def app_rate_limited(
        body: dict[str, Any], next_: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        if body.get("type") != "app_rate_limited":
            await next_()
            return None
        notice = (str(body.get("team_id")), str(body.get("minute_rate_limited")))
        if notice not in seen:
            # Once per workspace and minute, however often Slack sends it.
            seen[notice] = None
            if len(seen) > RATE_LIMIT_NOTICES_KEPT:
                del seen[next(iter(seen))]
            metrics.slack_rate_limited.inc()
            logger.warning(
                "Slack is dropping events for workspace %s (app_rate_limited since minute %s): "
                "over 30,000 events an hour reach this app there",
                *notice,
            )
        return BoltResponse(status=200, body="")

    return app_rate_limited
