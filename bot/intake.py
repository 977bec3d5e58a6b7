"""Decide which Slack requests the bot answers, and queue each one exactly once."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from bot.governance.gate import Gate
from bot.models import Job, SlackFile, ThreadRef
from bot.slack.text import encodable, image_links, strip_mentions
from bot.store.admission import Checks, OneStepAdmission
from bot.store.channels import ChannelSettings
from bot.store.history import ThreadHistory
from bot.store.queue import TurnQueue
from bot.store.thread_order import ENQUEUE_LEASE_MS, ThreadOrder

logger = logging.getLogger(__name__)

# Message subtypes that are a person (or bot) saying something; edits, deletions,
# joins and the like are not questions.
_ANSWERABLE_SUBTYPES = {None, "file_share", "thread_broadcast", "bot_message", "me_message"}
# Slack's `filetype` of the images and PDFs the bot reads, for files without a useful mimetype.
_VISUAL_FILETYPES = {
    *("png", "jpg", "jpeg", "gif", "webp", "heic", "heif", "avif", "tiff", "tif", "bmp", "ico"),
    "pdf",
}
# Slack's own system user: its notices arrive in the bot's DM as plain messages, no bot_id.
SYSTEM_SENDERS = {"USLACKBOT"}
BUSY_POLL_SECONDS = 0.02
FORGET_WORDS = {"forget", "forget this", "forget this thread", "forget everything"}
# Messages this process queued, remembered so Slack's second copy of a mention (and its
# retries) is dropped without a Redis round trip; the mark in Redis catches the rest.
QUEUED_HERE_KEPT = 10_000
NO_CHECKS = Checks(channel_off=False, asker=None)


@dataclass(frozen=True)
class Identity:
    """Who the bot is in the workspace an event came from."""

    team_id: str
    bot_user_id: str | None
    bot_id: str | None
    enterprise_id: str | None = None


class Intake:
    """Turns Slack events and interactions into queued jobs."""

    def __init__(
        self,
        history: ThreadHistory,
        order: ThreadOrder,
        queue: TurnQueue,
        channels: ChannelSettings,
        *,
        follow_ups: bool,
        gate: Gate | None = None,
        one_step: OneStepAdmission | None = None,
    ) -> None:
        self.history = history
        self.order = order
        self.queue = queue
        self.channels = channels
        self.follow_ups = follow_ups
        self.gate = gate
        # None on Redis Cluster: the checks, the ticket and the stream are separate steps.
        self.one_step = one_step
        self._queued_here: dict[tuple[str, str, str], None] = {}

    async def offer(self, event: dict[str, Any], me: Identity, *, mentioned: bool = False) -> bool:
        """Queue the message if the bot should answer it; True if it was queued now."""
        if (me.team_id, event.get("channel"), event.get("ts")) in self._queued_here:
            logger.debug("duplicate delivery ignored: ts=%s", event.get("ts"))
            return False
        event = encodable(event)
        if not self._is_from_someone_else(event, me):
            return False
        job = self._job(event, me)
        if not mentioned:
            unprompted = await self._unprompted(event, job, me)
            if unprompted is None:
                return False
            job = unprompted
        if job.text.strip().lower().rstrip(".!") in FORGET_WORDS:
            job = job.model_copy(update={"action": "forget"})
        return await self.enqueue(job)

    async def enqueue(self, job: Job) -> bool:
        """Queue a job unless the same request was queued before; True if queued now."""
        if self.one_step is not None:
            queued = await self._enqueue_at_once(job)
        else:
            queued = await self._enqueue_in_two_steps(job)
        if queued is not False and not job.key:  # an event's: its copies share the ts
            self._queued_here[(job.team_id, job.channel_id, job.message_ts)] = None
            if len(self._queued_here) > QUEUED_HERE_KEPT:
                del self._queued_here[next(iter(self._queued_here))]
        return bool(queued)

    async def _enqueue_at_once(self, job: Job) -> bool | None:
        """One round trip: checks, ticket, stream, mark; None if it was queued before."""
        assert self.one_step is not None
        checks = self.gate.checks(job) if self.gate else NO_CHECKS
        # Any accepted question (not `forget`) opens the thread to follow-ups at once.
        accept = self.follow_ups and job.action == "answer"
        deadline = time.monotonic() + ENQUEUE_LEASE_MS / 1000 + 1
        admitted = await self.one_step.admit(job, checks, accept=accept)
        while admitted.outcome == "busy":
            # A delivery on the two-step path is queueing it, or died doing so.
            if time.monotonic() > deadline:
                raise RuntimeError(f"another delivery is still queueing {job.ids}")
            await asyncio.sleep(BUSY_POLL_SECONDS)
            admitted = await self.one_step.admit(job, checks, accept=accept)
        if admitted.outcome in ("off", "rate", "capped"):
            assert self.gate is not None
            self.gate.turned_away(job, admitted.outcome, tell=admitted.tell)
            return False
        if admitted.outcome == "duplicate":
            logger.debug("duplicate delivery ignored: %s", job.ids)
            return None
        if admitted.outcome == "resumed":
            logger.warning("queued a turn an earlier delivery had left half-queued: %s", job.ids)
        logger.info("queued %s", job.ids)
        return True

    async def _enqueue_in_two_steps(self, job: Job) -> bool | None:
        """The Redis Cluster path: checks, then ticket, then stream; None if queued before."""
        if self.gate and not await self.gate.admits(job):
            return False  # the bot is off in the channel, or the asker is asking too fast
        # The request's seen mark and the thread's ticket counter share the thread's hash
        # slot, so marking and ticketing are one atomic script even on Redis Cluster; the
        # stream is one global key in another slot, so the XADD is a second step, made
        # recoverable instead: until the job is on the stream the mark holds the ticket under
        # a short lease. If the XADD fails, `abandon` drops the mark (Slack's retry gets in)
        # and frees the ticket (later turns don't wait for it). If this process dies first,
        # the lease runs out: a redelivery takes the turn over with the same ticket, and
        # later turns in the thread skip the ticket instead of waiting for it.
        key = job.request_key
        # Any accepted question (not `forget`) opens the thread to follow-ups at once.
        accept = self.follow_ups and job.action == "answer"
        deadline = time.monotonic() + ENQUEUE_LEASE_MS / 1000 + 1
        admission = await self.order.admit(job.thread, key, accept=accept)
        while admission.outcome == "busy":
            # Another delivery is queueing it this instant, or died doing so: wait to see
            # which, rather than drop a turn a dead process had taken.
            if time.monotonic() > deadline:
                raise RuntimeError(f"another delivery is still queueing {job.ids}")
            await asyncio.sleep(BUSY_POLL_SECONDS)
            admission = await self.order.admit(job.thread, key, accept=accept)
        if admission.outcome == "duplicate":
            logger.debug("duplicate delivery ignored: %s", job.ids)
            return None
        try:
            await self.queue.push(job, admission.ticket)
        except Exception:
            # Let Slack's retry try again rather than lose the request.
            await self.order.abandon(job.thread, key, admission.ticket)
            if self.gate:
                await self.gate.release(job)
            raise
        try:
            await self.order.queued(job.thread, key, admission.ticket)
        except Exception:
            # The job is on the stream, so Slack gets its ack. A copy of the event arriving
            # after the lease could queue it again; the worker's was_answered check skips it.
            logger.warning("could not mark %s queued", job.ids, exc_info=True)
        if admission.outcome == "resumed":
            logger.warning("queued a turn an earlier delivery had left half-queued: %s", job.ids)
        logger.info("queued %s", job.ids)
        return True

    async def template_for(self, me: Identity, *, channel_id: str, thread_ts: str) -> str | None:
        """The template a question in this thread would get: the thread's, else the channel's."""
        thread = ThreadRef(team_id=me.team_id, channel_id=channel_id, thread_ts=thread_ts)
        chosen = await self.history.template(thread)
        return chosen or await self.channels.template(me.team_id, channel_id)

    async def offer_redo(
        self,
        me: Identity,
        *,
        channel_id: str,
        thread_ts: str,
        message_ts: str,
        user_id: str,
        template: str,
        action_ts: str,
    ) -> bool:
        """Queue answering the thread's last question again with `template`."""
        job = _interaction_job(
            me,
            action="redo",
            key=f"redo:{action_ts}",
            template=template,
            channel_id=channel_id,
            message_ts=message_ts,
            thread_ts=thread_ts,
            user_id=user_id,
        )
        return await self.enqueue(job)

    async def offer_shortcut(
        self,
        me: Identity,
        *,
        view_id: str,
        channel_id: str,
        message_ts: str,
        thread_ts: str,
        user_id: str,
        file_ids: list[str],
        template: str | None,
        question: str,
        message_text: str = "",
        default_question: str = "",
        response_url: str = "",
    ) -> bool:
        """Queue a question asked from the message shortcut's modal about one message."""
        text = question.strip()
        # The message's own words come first: a pasted stack trace may be all there is to
        # look at. Verbatim, since a trace's indentation matters.
        if about := strip_mentions(message_text, me.bot_user_id):  # as written, unescaped
            text = f"The message asked about:\n{about}\n\n{text or default_question}".strip()
        job = _interaction_job(
            me,
            key=f"view:{view_id}",
            template=template,
            channel_id=channel_id,
            message_ts=message_ts,
            thread_ts=thread_ts,
            user_id=user_id,
            text=text,
            files=[SlackFile(id=file_id) for file_id in file_ids],
            response_url=response_url or None,
        )
        return await self.enqueue(job)

    @staticmethod
    def is_addressed(event: dict[str, Any], me: Identity, *, mentioned: bool) -> bool:
        """Whether a person clearly asked the bot (a mention, or a DM), without reading Redis."""
        if not Intake._is_from_someone_else(event, me):
            return False
        from_bot = bool(event.get("bot_id")) or event.get("subtype") == "bot_message"
        in_dm = event.get("channel_type") == "im" or str(event.get("channel")).startswith("D")
        # Slack sends no app_mention in a DM: there the message event is the one to answer.
        return mentioned or (in_dm and not from_bot)

    @staticmethod
    def _is_from_someone_else(event: dict[str, Any], me: Identity) -> bool:
        if event.get("subtype") not in _ANSWERABLE_SUBTYPES or "ts" not in event:
            return False
        if not event.get("channel"):
            # Nowhere to answer: Slack would refuse the post after Claude was paid for it.
            logger.info("dropped an event without a channel: %s", event.get("type"))
            return False
        if not event.get("user") and not event.get("bot_id"):
            return False  # nobody: neither a person nor an app said it
        if event.get("user") in SYSTEM_SENDERS:
            return False  # Slackbot's notices ("You have been removed from #…") are no question
        if me.bot_id and event.get("bot_id") == me.bot_id:
            return False
        return not (me.bot_user_id and event.get("user") == me.bot_user_id)

    async def _unprompted(self, event: dict[str, Any], job: Job, me: Identity) -> Job | None:
        """The job to answer for a message that reached the bot without a mention event."""
        if me.bot_user_id and f"<@{me.bot_user_id}>" in event.get("text", ""):
            return job
        from_bot = bool(event.get("bot_id")) or event.get("subtype") == "bot_message"
        if job.is_dm and not from_bot:
            return job
        # Nobody asked: only images and PDFs are looked at, so a shared log archive is
        # neither downloaded nor answered with a refusal.
        visual = {f["id"] for f in event.get("files", []) if f.get("id") and _is_visual(f)}
        files = [f for f in job.files if f.id in visual]
        is_reply = event.get("thread_ts") not in (None, event["ts"])
        if is_reply and await self.history.takes_follow_ups(job.thread):
            if self.follow_ups and not from_bot:
                return job
            if files:
                # Not a question (follow-ups are off, or another bot posted it: bots only by
                # mention, so two bots never loop), but the next question sees these.
                await self.history.add_pending(job.thread, files)
            return None
        if from_bot:
            return None
        # Only a visual file share costs a Redis read for the channel's auto mode.
        if files and await self.channels.answers_shares(job.team_id, job.channel_id):
            return job.model_copy(update={"files": files, "auto": True})
        return None

    @staticmethod
    def _job(event: dict[str, Any], me: Identity) -> Job:
        channel = event.get("channel", "")
        files = [SlackFile.model_validate(f) for f in event.get("files", []) if f.get("id")]
        return Job(
            team_id=me.team_id,
            channel_id=channel,
            message_ts=event["ts"],
            thread_ts=event.get("thread_ts") or event["ts"],
            user_id=event.get("user"),
            user_team_id=event.get("user_team"),
            text=strip_mentions(event.get("text", ""), me.bot_user_id),
            files=files,
            links=image_links(event.get("text", ""), event.get("attachments")),
            is_dm=event.get("channel_type") == "im" or channel.startswith("D"),
            bot_user_id=me.bot_user_id,
            enterprise_id=me.enterprise_id,
        )


def _is_visual(file: dict[str, Any]) -> bool:
    """Whether Slack says the file is an image or a PDF (SVG drawings are refused anyway)."""
    mimetype = str(file.get("mimetype") or "").lower()
    filetype = str(file.get("filetype") or "").lower()
    if mimetype.startswith("image/") and "svg" not in mimetype:
        return True
    return mimetype == "application/pdf" or filetype in _VISUAL_FILETYPES


def _interaction_job(me: Identity, *, channel_id: str, **fields: Any) -> Job:
    """A job for a button, menu or modal: no event to read, the bot's identity instead."""
    return Job(
        team_id=me.team_id,
        channel_id=channel_id,
        is_dm=channel_id.startswith("D"),
        bot_user_id=me.bot_user_id,
        enterprise_id=me.enterprise_id,
        **encodable(fields),
    )
