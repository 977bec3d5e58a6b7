"""Slack's agent messaging experience: the Messages tab, its prompts, what people view."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.agent.prompts import TITLE, Pick, SuggestedPrompts
from bot.agent.viewing import Viewing
from bot.models import Job
from bot.slack.assistant import ThreadTitles, suggest_prompts
from bot.store.viewing import ViewingStore
from bot.templates import Templates

logger = logging.getLogger(__name__)


class AgentSurfaces:
    """What the agent view adds around the conversation: prompts, titles, the viewed channel."""

    def __init__(self, slack: AsyncWebClient, templates: Templates, viewing: ViewingStore) -> None:
        self.slack = slack
        self.prompts = SuggestedPrompts(templates)
        self.viewing = Viewing(slack, viewing)
        self.titles = ThreadTitles(slack)

    async def messages_tab_opened(
        self, team_id: str, user_id: str, channel_id: str, context: Any = None
    ) -> None:
        """Someone opened the app's Messages tab: offer the templates as suggested prompts."""
        if context is not None:  # sent along when the app subscribes to app_context_changed
            await self.viewing.remember(team_id, user_id, context)
        await suggest_prompts(self.slack, channel_id, TITLE, self.prompts.prompts())

    async def context_changed(self, team_id: str, user_id: str, context: Any) -> None:
        """Someone views something else now (the event's `context`; `{}` for nothing)."""
        await self.viewing.remember(team_id, user_id, context)

    def picked(self, job: Job) -> tuple[Job, Pick | None]:
        """A DM that is a picked suggested prompt asks with its template, minus the marker."""
        pick = self.prompts.picked(job.text) if job.is_dm and job.action == "answer" else None
        if pick is None:
            return job, None
        logger.info("suggested prompt picked: %s %s", pick.template.name, job.ids)
        return job.model_copy(update={"template": pick.template.name, "text": pick.question}), pick
