"""The slash command listener: run `/vision …` and answer in the ack."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.commands import VisionCommand
from bot.outage import CANT_ANSWER_NOW
from bot.store.connection import is_unreachable


def register(app: AsyncApp, command: VisionCommand) -> None:
    """Answer the configured slash command (SLASH_COMMAND, default /vision)."""

    @app.command(command.name)
    async def on_command(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        try:
            reply = await command.run(
                team_id=context.team_id or body.get("team_id", ""),
                channel_id=body.get("channel_id", ""),
                user_id=body.get("user_id", ""),
                text=body.get("text", ""),
            )
        except Exception as exc:
            if not is_unreachable(exc):
                raise
            await ack(response_type="ephemeral", text=CANT_ANSWER_NOW)  # not Slack's error
            return
        await ack(response_type="in_channel" if reply.in_channel else "ephemeral", text=reply.text)
