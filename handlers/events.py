"""Slack event listeners: hand each message to the intake, nothing more."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.intake import Identity, Intake


def register(app: AsyncApp, intake: Intake) -> None:
    """Listen to every event the manifest subscribes to, so none is answered 404."""

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await intake.offer(event, _identity(context), mentioned=True)

    @app.event("message")
    async def on_message(event: dict[str, Any], context: AsyncBoltContext) -> None:
        await intake.offer(event, _identity(context))


def _identity(context: AsyncBoltContext) -> Identity:
    return Identity(
        team_id=context.team_id or context.enterprise_id or "",
        bot_user_id=context.bot_user_id,
        bot_id=context.bot_id,
        enterprise_id=context.enterprise_id,
    )
