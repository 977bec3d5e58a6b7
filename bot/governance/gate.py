"""Before a request is queued: is the bot on in its channel, and is the asker within their rate."""

from __future__ import annotations

import logging

from bot.governance.admins import Admins
from bot.models import Job
from bot.slack.notes import Notes
from bot.store.channels import ChannelSettings
from bot.store.rate import QuestionRate

logger = logging.getLogger(__name__)


class Gate:
    """Turns away requests in channels where the bot is off, and people asking too fast."""

    def __init__(
        self,
        channels: ChannelSettings,
        rate: QuestionRate,
        notes: Notes,
        admins: Admins,
        *,
        command: str,
    ) -> None:
        self.channels = channels
        self.rate = rate
        self.notes = notes
        self.admins = admins
        self.command = command

    async def admits(self, job: Job) -> bool:
        """Whether to queue the job; a turned-away one is told why (once) after the ack."""
        if job.action == "forget":
            return True  # forgetting always works, whatever else is switched off
        if not job.is_dm and await self.channels.is_off(job.team_id, job.channel_id):
            logger.info("off in this channel, not queued: %s", job.ids)
            if await self.channels.first_off_note(job.thread):
                self.notes.later(self._tell_off(job), f"the off note in {job.ids}")
            return False
        if job.user_id is None:
            return True  # another bot, asking by mention: its own rate is its business
        verdict = await self.rate.take(job.team_id, job.user_id, job.request_key)
        if verdict == "ok":
            return True
        logger.info("over the question rate, not queued: %s user=%s", job.ids, job.user_id)
        if verdict == "warn":
            text = (
                f"Slow down a little: that's more than {self.rate.per_minute} questions in a "
                "minute, so I've skipped this one. Ask again in a minute."
            )
            note = self.notes.to_person(job.channel_id, job.user_id, job.thread_ts, text)
            self.notes.later(note, f"the slow-down note in {job.ids}")
        return False

    async def _tell_off(self, job: Job) -> None:
        if self.admins.restricted:
            who = f"Ask an admin ({await self.admins.names()}) to turn me back on"
        else:
            who = "Anyone here can turn me back on"
        text = (
            f"I'm switched off in this channel, so I won't answer here. {who} with "
            f"`{self.command} on`."
        )
        await self.notes.in_thread(job.channel_id, job.thread_ts, text)
