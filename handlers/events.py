"""Slack event listeners: hand each message to the intake, nothing more."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.agent import AgentSurfaces
from bot.intake import Intake
from handlers.identity import identity


def register(app: AsyncApp, intake: Intake, agent: AgentSurfaces) -> None:
    """Listen to every event the manifest subscribes to, so none is answered 404."""

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await intake.offer(event, identity(context), mentioned=True)

    @app.event("message")
    async def on_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if "app_context" in event and event.get("user"):
            # In the agent view a DM says what its sender is looking at: fresher than the
            # last app_context_changed, so remembered before the question is queued.
            me = identity(context)
            await agent.context_changed(me.team_id, event["user"], event["app_context"])
        await intake.offer(event, identity(context))
