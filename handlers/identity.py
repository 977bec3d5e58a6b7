"""Who the bot is, from Bolt's context (the same for events, commands and interactions)."""

from __future__ import annotations

from slack_bolt.context.async_context import AsyncBoltContext

from bot.intake import Identity


def identity(context: AsyncBoltContext) -> Identity:
    """The bot's identity in the workspace the request came from."""
    return Identity(
        team_id=context.team_id or context.enterprise_id or "",
        bot_user_id=context.bot_user_id,
        bot_id=context.bot_id,
        enterprise_id=context.enterprise_id,
    )
