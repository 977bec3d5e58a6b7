"""One turn of a conversation: its thread's order, an answer slot, and what the thread is told."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.agent.surfaces import AgentSurfaces
from bot.answering import Answering
from bot.asking import Asking
from bot.claude.transport import Transport
from bot.decoders import Decoders
from bot.errors import OverBudget, UserFacingError
from bot.fairness import AnswerSlots
from bot.governance.budget import Budget
from bot.materials import Materials
from bot.metrics import Metrics
from bot.models import Job
from bot.options import PipelineOptions, Stores
from bot.slack.annotate import Annotator
from bot.slack.files import SlackFileFetcher
from bot.slack.reply import ThreadReply, cannot_post
from bot.store.queue import QueuedJob
from bot.store.thread_order import turn_slot
from bot.templates import Templates

if TYPE_CHECKING:
    from bot.claude.client import ClaudeClient

logger = logging.getLogger(__name__)

GENERIC_FAILURE = (
    "Something went wrong on my side while answering. Please try again; if it keeps "
    "happening, tell whoever runs this bot."
)
CANNOT_POST = (
    "I can't post in that conversation, so I couldn't answer there. Add me to the channel "
    "(mention me there, or /invite me) and ask again."
)
INTERRUPTED = "Interrupted: I'm restarting. A complete answer follows in a moment."
INTERRUPT_SECONDS = 3.0
GAVE_UP = "I couldn't answer this after several tries; please ask again."


class Conversation:
    """Answers one queued request at a time per thread, with the thread's history."""

    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        fetcher: SlackFileFetcher,
        claude: ClaudeClient,
        transport: Transport,
        stores: Stores,
        templates: Templates,
        options: PipelineOptions,
        metrics: Metrics,
        budget: Budget,
        agent: AgentSurfaces,
        decoders: Decoders,
        slots: AnswerSlots,
    ) -> None:
        self.slots = slots
        self.slack = slack
        self.history = stores.history
        self.order = stores.order
        self.budget = budget
        self.options = options
        self.metrics = metrics
        materials = Materials(
            fetcher,
            transport,
            options.media,
            metrics,
            decoders,
            inline_budget=options.inline_budget,
        )
        # Drawing boxes downloads and decodes the original again: within the same bounds.
        annotator = Annotator(slack, fetcher, in_flight=materials.in_flight, draw=decoders.draw)
        self.asking = Asking(claude, transport, stores.history, materials, options, metrics)
        self.answering = Answering(
            slack,
            stores=stores,
            templates=templates,
            agent=agent,
            materials=materials,
            annotator=annotator,
            asking=self.asking,
            transport=transport,
            options=options,
        )
        self._no_status: set[str] = set()  # see ThreadReply.show_progress

    async def handle(self, queued: QueuedJob) -> None:
        """Carry out the job unless an earlier delivery already did."""
        job = queued.job
        async with turn_slot(
            self.order,
            job.thread,
            queued.ticket,
            lock_seconds=self.options.lock_seconds,
            order_wait_seconds=self.options.order_wait_seconds,
            parked=self.slots.parked,
        ):
            if await self.history.was_answered(job.thread, job.request_key):
                logger.info("already answered, skipping: %s", job.ids)
                self.metrics.turns.labels(job.action, "duplicate").inc()
                return
            async with self.slots.answering(f"{job.team_id}:{job.user_id or job.channel_id}"):
                await self._carry_out(job)

    async def _carry_out(self, job: Job) -> None:
        """Answer, redo or forget, and say in the thread whatever went wrong."""
        started = time.monotonic()
        reply = ThreadReply(
            self.slack,
            channel=job.channel_id,
            thread_ts=job.thread_ts,
            message_ts=job.message_ts,
            team_id=job.team_id,
            user_id=job.user_id,
            user_team_id=job.user_team_id,
            no_status=self._no_status,
        )
        outcome = "answered"
        try:
            if job.action == "forget":
                await self.answering.forget(job, reply)
            else:
                # Checked and reserved before anything is downloaded or sent to Claude.
                async with self.budget.hold(job) as spend:
                    if job.action == "redo":
                        await self.answering.redo(job, reply, spend)
                    else:
                        outcome = await self.answering.answer(job, reply, spend)
        except asyncio.CancelledError:
            # Shutting down before the answer was done: close the half-streamed message
            # so it doesn't hang; another process answers again from the start.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(INTERRUPT_SECONDS):
                    await reply.interrupt(INTERRUPTED)
            raise
        except OverBudget as exc:
            outcome = "over_limit"
            if not job.auto:  # nobody asked about an auto share: no note under every image
                outcome = await self._tell(job, reply, exc.message, outcome)
        except UserFacingError as exc:
            # The thread says what happened; the log says why, for whoever runs the bot.
            logger.warning("told %s: %s (%s)", job.ids, exc.message, _cause(exc))
            outcome = await self._tell(job, reply, exc.message, "user_error")
        except Exception as exc:
            if cannot_post(exc):
                outcome = await self._undeliverable(job, exc)
            else:
                logger.exception("answering failed: %s", job.ids)
                outcome = await self._tell(job, reply, GENERIC_FAILURE, "failed")
        if outcome != "answered" and job.action == "answer":
            # "Nothing to look at here" must not open the thread to every later reply.
            await self.history.unaccept(job.thread)
        self._observe(job, reply, outcome, started)

    async def _tell(self, job: Job, reply: ThreadReply, text: str, outcome: str) -> str:
        """Say in the thread what went wrong; the outcome, once we know if that worked."""
        try:
            await reply.fail(text)
        except Exception as exc:
            if not cannot_post(exc):
                raise  # maybe transient: the job is retried
            return await self._undeliverable(job, exc)
        return outcome

    async def _undeliverable(self, job: Job, exc: Exception) -> str:
        """Give up on a thread the bot can't post in; tell the asker privately if we can."""
        logger.warning("cannot post in %s (%s): giving up", job.ids, exc)
        if job.response_url:  # a shortcut's: Slack delivers it even where the bot isn't
            try:
                await AsyncWebhookClient(job.response_url).send(
                    text=CANNOT_POST, response_type="ephemeral", replace_original=False
                )
            except Exception:
                logger.warning("could not tell the asker either: %s", job.ids, exc_info=True)
        return "undeliverable"

    async def give_up(self, queued: QueuedJob) -> None:
        """Tell the thread a turn that kept crashing workers was given up; let later turns go."""
        job = queued.job
        try:
            await self.order.mark_served(job.thread, queued.ticket)
        except Exception:
            logger.warning("could not mark a given-up turn served: %s", job.ids, exc_info=True)
        self.metrics.turns.labels(job.action, "given_up").inc()
        await self.slack.chat_postMessage(
            channel=job.channel_id, thread_ts=job.thread_ts, markdown_text=GAVE_UP
        )

    def _observe(self, job: Job, reply: ThreadReply, outcome: str, started: float) -> None:
        self.metrics.turns.labels(job.action, outcome).inc()
        if reply.first_words_at is not None:
            self.metrics.first_words.observe(reply.first_words_at - started)
        if outcome == "answered" and job.action != "forget":
            self.metrics.answer.observe(time.monotonic() - started)


def _cause(exc: BaseException) -> str:
    """What lay behind a user-facing error, for the log: type, message, request id."""
    cause = exc.__cause__
    if cause is None:
        return type(exc).__name__
    request_id = getattr(cause, "request_id", None)
    suffix = f" request_id={request_id}" if request_id else ""
    return f"{type(cause).__name__}: {cause}{suffix}"
