"""Questions asked while Redis is out of reach: the asker hears so at once, once per message."""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.intake import Identity, Intake
from bot.slack.reply import ThreadReply

logger = logging.getLogger(__name__)

CANT_ANSWER_NOW = (
    "I can't answer right now: the store I keep conversations in isn't reachable. "
    "Please ask again in a minute."
)
TOLD_SECONDS = 15 * 60  # longer than Slack's retries of one delivery (about 6 minutes)
TOLD_KEPT = 10_000


class OutageNotices:
    """Replies straight into the thread (no queue: it lives in Redis) that the bot can't answer."""

    def __init__(self, slack: AsyncWebClient) -> None:
        self.slack = slack
        # In this process only (Redis is what is down): each message is told once however
        # often Slack retries it here; the ack that follows stops Slack's retries anyway.
        self._told: dict[tuple[str, str, str], float] = {}

    async def tell(self, event: dict[str, Any], me: Identity, *, mentioned: bool) -> None:
        """Tell whoever clearly asked the bot that it can't answer; let the rest go."""
        # Without Redis a follow-up can't be told from chatter: only a mention, or a DM,
        # gets the reply. A mention also arrives as a `message` event: the app_mention speaks.
        if not Intake.is_addressed(event, me, mentioned=mentioned):
            logger.info("Redis unreachable: left a message unanswered (ts=%s)", event.get("ts"))
            return
        key = (me.team_id, str(event["channel"]), str(event["ts"]))
        now = time.monotonic()
        if now - self._told.get(key, -TOLD_SECONDS) < TOLD_SECONDS:
            return
        reply = ThreadReply(
            self.slack,
            channel=key[1],
            thread_ts=str(event.get("thread_ts") or event["ts"]),
            message_ts=key[2],
            team_id=me.team_id,
            user_id=event.get("user"),
        )
        await reply.post(CANT_ANSWER_NOW)  # raises if Slack refused: its retry tries again
        self._told[key] = now
        if len(self._told) > TOLD_KEPT:
            self._told = {k: t for k, t in self._told.items() if now - t < TOLD_SECONDS}
        logger.warning("Redis unreachable: told team=%s channel=%s ts=%s to ask again", *key)
