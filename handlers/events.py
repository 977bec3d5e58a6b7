"""Slack event listeners: hand each message to the intake, nothing more."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.intake import Intake
from handlers.identity import identity


def register(app: AsyncApp, intake: Intake) -> None:
    """Listen to every event the manifest subscribes to, so none is answered 404."""

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await intake.offer(event, identity(context), mentioned=True)

    @app.event("message")
    async def on_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await intake.offer(event, identity(context))
