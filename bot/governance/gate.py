"""Before a request is queued: is the bot on in its channel, is the asker within their rate and
their cap of queued questions."""

from __future__ import annotations

import logging

from bot.governance.admins import Admins
from bot.models import Job
from bot.slack.notes import Notes
from bot.store.admission import Checks
from bot.store.channels import ChannelSettings
from bot.store.rate import QuestionRate
from bot.store.waiting import QueuedQuestions

logger = logging.getLogger(__name__)


class Gate:
    """Turns away requests in channels where the bot is off, and people asking too fast or
    with too many questions waiting."""

    def __init__(
        self,
        channels: ChannelSettings,
        rate: QuestionRate,
        notes: Notes,
        admins: Admins,
        *,
        command: str,
        waiting: QueuedQuestions,
    ) -> None:
        self.channels = channels
        self.rate = rate
        self.waiting = waiting
        self.notes = notes
        self.admins = admins
        self.command = command

    def checks(self, job: Job) -> Checks:
        """What to check before the job is queued (in the same round trip as queueing it)."""
        if job.action == "forget":
            return Checks(channel_off=False, asker=None)  # forgetting always works
        # Another bot asking by mention has no rate or cap: its own pace is its business.
        return Checks(channel_off=not job.is_dm, asker=job.user_id)

    async def admits(self, job: Job) -> bool:
        """Whether to queue the job, one check at a time (the Redis Cluster path)."""
        # On Cluster the keys of the checks live in other hash slots than the thread's.
        checks = self.checks(job)
        if checks.channel_off and await self.channels.is_off(job.team_id, job.channel_id):
            self.turned_away(job, "off", tell=await self.channels.first_off_note(job.thread))
            return False
        if checks.asker is None:
            return True
        verdict = await self.rate.take(job.team_id, checks.asker, job.request_key)
        if verdict == "ok":
            verdict = await self.waiting.take(job)
            if verdict != "ok":
                self.turned_away(job, "capped", tell=verdict == "warn")
                return False
            return True
        self.turned_away(job, "rate", tell=verdict == "warn")
        return False

    def turned_away(self, job: Job, why: str, *, tell: bool) -> None:
        """Log why the job was not queued; tell the asker (once) after the ack."""
        if why == "off":
            logger.info("off in this channel, not queued: %s", job.ids)
            if tell:
                self.notes.later(self._tell_off(job), f"the off note in {job.ids}")
            return
        what = "over the question rate" if why == "rate" else "over the queued questions cap"
        logger.info("%s, not queued: %s user=%s", what, job.ids, job.user_id)
        if not tell or job.user_id is None:
            return
        if why == "rate":
            text = (
                f"Slow down a little: that's more than {self.rate.per_minute} questions in a "
                "minute, so I've skipped this one. Ask again in a minute."
            )
        else:
            text = (
                f"You already have {self.waiting.cap} questions waiting for an answer, so I've "
                "skipped this one. Ask again once one of them is answered."
            )
        note = self.notes.to_person(job.channel_id, job.user_id, job.thread_ts, text)
        self.notes.later(note, f"the {why} note in {job.ids}")

    async def release(self, job: Job) -> None:
        """A job the gate admitted could not be queued after all: it stops counting."""
        await self.waiting.release(job)

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
