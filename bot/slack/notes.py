"""Short notes from the bot outside an answer: in a thread, to one person there, or by DM."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from slack_sdk.web.async_client import AsyncWebClient

logger = logging.getLogger(__name__)


class Notes:
    """Posts notes; `later` runs one after Slack's request is acknowledged, not before."""

    def __init__(self, slack: AsyncWebClient) -> None:
        self.slack = slack
        self._pending: set[asyncio.Task[None]] = set()

    async def in_thread(self, channel: str, thread_ts: str, text: str) -> None:
        """A note everyone in the thread sees."""
        await self.slack.chat_postMessage(channel=channel, thread_ts=thread_ts, markdown_text=text)

    async def to_person(self, channel: str, user_id: str, thread_ts: str, text: str) -> None:
        """A note only `user_id` sees, in the thread."""
        await self.slack.chat_postEphemeral(
            channel=channel, user=user_id, thread_ts=thread_ts, text=text
        )

    async def direct(self, user_id: str, text: str) -> None:
        """A DM from the bot (a user id as the channel opens the DM: chat:write is enough)."""
        try:
            await self.slack.chat_postMessage(channel=user_id, markdown_text=text)
        except Exception:
            logger.warning("could not DM %s", user_id, exc_info=True)

    def later(self, note: Awaitable[None], what: str) -> None:
        """Post `note` in the background; a failure is logged, never raised."""

        async def post() -> None:
            try:
                await note
            except Exception:
                logger.warning("could not post %s", what, exc_info=True)

        task = asyncio.create_task(post())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
