"""Feedback buttons under answers: count each verdict, offer another template after a 👎."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.slack.blocks import REDO_OFFER_TEXT, feedback_verdict, redo_offer
from bot.store.feedback import FeedbackCounts
from bot.templates import Templates

logger = logging.getLogger(__name__)

OTHER = "other"  # a template this process doesn't know: counted, but not under its own label


@dataclass(frozen=True)
class Click:
    """One click on a feedback button under one answer."""

    team_id: str
    user_id: str
    channel_id: str
    message_ts: str  # the answer's
    thread_ts: str
    value: str  # the button's: "positive:debug"


class Feedback:
    """Records verdicts per template (metric and Redis) and follows up on a thumbs-down."""

    def __init__(
        self,
        slack: AsyncWebClient,
        counts: FeedbackCounts,
        templates: Templates,
        metrics: Metrics,
    ) -> None:
        self.slack = slack
        self.store = counts
        self.templates = templates
        self.metrics = metrics

    async def record(self, click: Click) -> None:
        """Count the click once per person and answer; offer other templates after a 👎."""
        parsed = feedback_verdict(click.value)
        if parsed is None:
            logger.warning("ignored a feedback value that isn't ours: %r", click.value[:40])
            return
        verdict, template = parsed
        # Labels stay bounded: only templates this process knows get their own.
        template = template if template in self.templates else OTHER
        counted = await self.store.vote(
            click.team_id,
            template,
            verdict,
            channel_id=click.channel_id,
            message_ts=click.message_ts,
            user_id=click.user_id,
        )
        if not counted:
            return  # the same verdict again: a double click, or a redelivery
        self.metrics.feedback.labels(template, verdict).inc()
        logger.info(
            "feedback %s on %s in %s/%s", verdict, template, click.team_id, click.channel_id
        )
        if verdict == "negative":
            await self._offer_other_templates(click, template)

    async def counts(self, team_id: str, *, days: int = 30) -> dict[str, dict[str, int]]:
        """Verdicts per template over the last `days` days, for the admin views."""
        return await self.store.counts(team_id, days=days)

    async def _offer_other_templates(self, click: Click, template: str) -> None:
        """Privately, in the answer's thread: the other templates, to answer again with one."""
        try:
            await self.slack.chat_postEphemeral(
                channel=click.channel_id,
                user=click.user_id,
                thread_ts=click.thread_ts,
                text=REDO_OFFER_TEXT,
                blocks=redo_offer(self.templates, template, click.thread_ts),
            )
        except SlackApiError as exc:
            logger.warning("could not offer another template: %s", exc.response.get("error"))
