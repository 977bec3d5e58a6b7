"""Read a channel's latest messages once, on demand: the newest image someone posted there."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import UserFacingError
from bot.models import SlackFile

logger = logging.getLogger(__name__)

# Non-Marketplace apps get one conversations.history call a minute and 15 messages per call:
# one page is what the bot reads.
PAGE = 15
NOT_IN_CHANNEL = (
    "I'm not in that channel, so I can't see its images. Add me there (type /invite in the "
    "channel and pick me), then ask again, or share the screenshot here."
)
NO_IMAGE = (
    "I didn't find an image among the latest {page} messages of that channel. Share the "
    "screenshot here, or mention me in its thread."
)


@dataclass(frozen=True)
class PostedImage:
    """An image someone posted in a channel, and where."""

    file: SlackFile
    channel_id: str
    message_ts: str
    user_id: str | None
    permalink: str | None


async def newest_image(
    slack: AsyncWebClient, channel_id: str, *, bot_user_id: str | None
) -> PostedImage:
    """The newest image in the channel's latest messages (not the bot's own)."""
    try:
        response = await slack.conversations_history(channel=channel_id, limit=PAGE)
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        logger.warning("conversations.history failed in %s: %s", channel_id, error)
        if error in ("not_in_channel", "channel_not_found"):
            raise UserFacingError(NOT_IN_CHANNEL) from None
        raise UserFacingError(f"Slack wouldn't let me read that channel (`{error}`).") from None
    messages: list[dict[str, Any]] = response.get("messages", [])
    for message in messages:  # newest first
        if bot_user_id and message.get("user") == bot_user_id:
            continue
        images = [f for f in message.get("files", []) if f.get("id") and _is_image(f)]
        if images:
            ts = str(message["ts"])
            return PostedImage(
                file=SlackFile.model_validate(images[-1]),
                channel_id=channel_id,
                message_ts=ts,
                user_id=message.get("user"),
                permalink=await _permalink(slack, channel_id, ts),
            )
    raise UserFacingError(NO_IMAGE.format(page=PAGE))


async def _permalink(slack: AsyncWebClient, channel_id: str, ts: str) -> str | None:
    try:
        response = await slack.chat_getPermalink(channel=channel_id, message_ts=ts)
    except SlackApiError as exc:
        logger.info("chat.getPermalink failed: %s", exc.response.get("error"))
        return None
    link = response.get("permalink")
    return str(link) if link else None


def _is_image(file: dict[str, Any]) -> bool:
    """Whether Slack says the file is an image (SVG drawings aren't screenshots)."""
    mimetype = str(file.get("mimetype") or "").lower()
    return mimetype.startswith("image/") and "svg" not in mimetype
