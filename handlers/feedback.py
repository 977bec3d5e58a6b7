"""The feedback buttons under answers."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.agent.feedback import Click, Feedback
from bot.slack import blocks
from handlers.identity import identity


def register(app: AsyncApp, feedback: Feedback) -> None:
    """Listen to clicks on the feedback buttons (a 👍 or 👎 under an answer)."""

    @app.action(blocks.FEEDBACK)
    async def on_feedback(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext) -> None:
        await ack()
        container, message = body.get("container", {}), body.get("message", {})
        message_ts = container.get("message_ts") or message.get("ts", "")
        click = Click(
            team_id=identity(context).team_id,
            user_id=body["user"]["id"],
            channel_id=container.get("channel_id") or body["channel"]["id"],
            message_ts=message_ts,
            thread_ts=container.get("thread_ts") or message.get("thread_ts") or message_ts,
            value=str(body["actions"][0].get("value") or ""),
        )
        await feedback.record(click)
