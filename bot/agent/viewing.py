"""What a person is looking at in Slack, and "the last screenshot here" in their DM question."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import NothingToAnswer
from bot.models import Job, SlackFile
from bot.slack.channel import newest_image
from bot.store.viewing import ViewingStore

logger = logging.getLogger(__name__)

CHANNEL_ENTITY = "slack#/types/channel_id"
MESSAGE_ENTITY = "slack#/types/message_context"
# "the last screenshot here", "latest image", "most recent chart", "newest pic"…
ASKS_FOR_LATEST = re.compile(
    r"\b(last|latest|newest|most recent|recent)\s+"
    r"(screen ?shots?|images?|pictures?|pics?|photos?|charts?|graphs?|diagrams?)\b",
    re.IGNORECASE,
)
UNKNOWN_CHANNEL = (
    "I don't know which channel you mean. Open me from that channel (the button in Slack's "
    "top bar) and ask again, or share the screenshot here."
)


@dataclass(frozen=True)
class Viewed:
    """An image from the channel the person is viewing, for their question."""

    file: SlackFile
    context: str  # for Claude, before the question
    note: str  # for the person, under the answer


def viewed_channel(context: Any) -> str | None:
    """The most relevant channel in an app context ({"entities": [...]}), if any."""
    entities = context.get("entities") if isinstance(context, dict) else None
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict):
            continue
        value = entity.get("value")
        if entity.get("type") == CHANNEL_ENTITY and isinstance(value, str):
            return value
        if entity.get("type") == MESSAGE_ENTITY and isinstance(value, dict):
            channel = value.get("channel_id")
            if isinstance(channel, str):
                return channel
    return None


class Viewing:
    """Remembers what people view, and reads the channel's newest image when asked to."""

    def __init__(self, slack: AsyncWebClient, store: ViewingStore) -> None:
        self.slack = slack
        self.store = store

    async def remember(self, team_id: str, user_id: str, context: Any) -> None:
        """Note what `user_id` views now (an empty context: nothing, so forget it)."""
        await self.store.set(team_id, user_id, viewed_channel(context))

    async def requested(self, job: Job, *, thread_has_files: bool) -> Viewed | None:
        """The image a DM question means by "the last screenshot here", if it means one."""
        if not job.is_dm or job.files or thread_has_files or not job.user_id:
            return None
        if not ASKS_FOR_LATEST.search(job.text):
            return None
        channel_id = await self.store.get(job.team_id, job.user_id)
        if channel_id is None:
            raise NothingToAnswer(UNKNOWN_CHANNEL)
        image = await newest_image(self.slack, channel_id, bot_user_id=job.bot_user_id)
        logger.info("using %s from %s for %s", image.file.id, channel_id, job.ids)
        name = image.file.display_name.replace("[", "(").replace("]", ")")  # the link's text
        shown = f"[{name}]({image.permalink})" if image.permalink else f"*{name}*"
        by = f" by <@{image.user_id}>" if image.user_id else ""
        return Viewed(
            file=image.file,
            context=f"[The image is the newest one posted{by} in the channel the person is "
            "looking at.]\n\n",
            note=f"I looked at {shown}, the newest image in the channel you're viewing.",
        )
