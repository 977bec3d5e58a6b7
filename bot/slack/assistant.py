"""Slack's agent surfaces: suggested prompts in the Messages tab and thread titles."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.reply import STATUS_UNAVAILABLE

logger = logging.getLogger(__name__)

TITLE_LIMIT = 60  # what the DM history shows of a thread title without cutting it
# Errors that mean this workspace's app can't title threads at all (no agent feature, an
# older Slack, a token without assistant:write): don't ask again in this process. The same
# as for the thread status, except a bad thread, which is only this thread's.
TITLES_UNAVAILABLE = STATUS_UNAVAILABLE - {"invalid_arguments"}


async def suggest_prompts(
    slack: AsyncWebClient, channel_id: str, title: str, prompts: list[dict[str, str]]
) -> None:
    """Pin `prompts` ({title, message}, up to four) to the top of a person's Messages tab."""
    # No thread_ts: that is for the legacy assistant experience, and makes the call fail
    # silently for an agent app.
    try:
        await slack.assistant_threads_setSuggestedPrompts(
            channel_id=channel_id, title=title, prompts=prompts
        )
    except SlackApiError as exc:
        logger.info("setSuggestedPrompts refused in %s: %s", channel_id, exc.response.get("error"))


class ThreadTitles:
    """Names DM threads after their first question, where Slack lets the app."""

    def __init__(self, slack: AsyncWebClient) -> None:
        self.slack = slack
        self._unavailable: set[str] = set()  # workspaces where Slack refused titles

    async def name(self, team_id: str, channel_id: str, thread_ts: str, text: str) -> None:
        """Set the thread's title from `text`, cut to fit; a refusal is logged, not raised."""
        title = short_title(text)
        if not title or team_id in self._unavailable:
            return
        try:
            await self.slack.assistant_threads_setTitle(
                channel_id=channel_id, thread_ts=thread_ts, title=title
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            logger.info("setTitle refused in %s: %s", channel_id, error)
            if error in TITLES_UNAVAILABLE:
                self._unavailable.add(team_id)


def short_title(text: str) -> str:
    """The first line of `text`, at most TITLE_LIMIT characters, cut at a word."""
    line = " ".join(text.strip().split("\n", 1)[0].split())
    if len(line) <= TITLE_LIMIT:
        return line
    cut = line.rfind(" ", 0, TITLE_LIMIT - 1)
    return line[: cut if cut > TITLE_LIMIT // 2 else TITLE_LIMIT - 1].rstrip(" ,.;:") + "…"
