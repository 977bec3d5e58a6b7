"""Read what was said in a thread before the bot joined it (once per thread)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.models import Job, SlackFile
from bot.slack.text import strip_mentions

logger = logging.getLogger(__name__)

# Non-Marketplace apps get one conversations.replies call a minute and 15 messages per call:
# one page is what the bot reads, and it includes the parent, where screenshots usually are.
PAGE = 15
SCOPE_HINT = (
    ": the app needs the channels:history, groups:history, im:history and mpim:history "
    "scopes (see deploy/manifest.yml; reinstall the app after adding them)"
)


@dataclass
class EarlierMessages:
    """Files and words from the thread before the message being answered."""

    files: list[SlackFile] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    problem: str | None = None  # why they could not be read, for the reader


async def read_earlier(slack: AsyncWebClient, job: Job) -> EarlierMessages:
    """The thread's messages before `job`'s, skipping the bot's own."""
    earlier = EarlierMessages()
    if job.thread_ts == job.message_ts:
        return earlier
    try:
        response = await slack.conversations_replies(
            channel=job.channel_id, ts=job.thread_ts, limit=PAGE
        )
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown_error")
        logger.warning("conversations.replies failed (%s) for %s", error, job.ids)
        hint = SCOPE_HINT if error == "missing_scope" else ""
        earlier.problem = f"I couldn't read the earlier messages of this thread (`{error}`){hint}"
        return earlier
    messages: list[dict[str, Any]] = response.get("messages", [])
    for message in messages:
        if float(message.get("ts", "0")) >= float(job.message_ts):
            break
        if job.bot_user_id and message.get("user") == job.bot_user_id:
            continue
        earlier.files.extend(SlackFile.model_validate(f) for f in message.get("files", []))
        text = strip_mentions(message.get("text", ""), job.bot_user_id)
        if text:
            earlier.lines.append(f"<@{message.get('user', 'someone')}>: {text}")
    return earlier
