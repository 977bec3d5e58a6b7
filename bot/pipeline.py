"""The conversation pipeline: from a queued request to a streamed answer in its thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.agent import progress
from bot.agent.prompts import Pick, invitation
from bot.agent.surfaces import AgentSurfaces
from bot.claude import window
from bot.claude.citations import sources_line
from bot.claude.client import media_limits
from bot.claude.errors import ContextTooLong, FileGone, MediaGone
from bot.claude.request import MAX_IMAGES, Plan, build_request, plan, system_prompt
from bot.claude.stream import Streamed, Usage, stream_answer
from bot.claude.transport import Transport
from bot.config import Settings
from bot.decoders import Decoders
from bot.errors import FileRefused, LinkUnreachable, NothingToAnswer, OverBudget, UserFacingError
from bot.governance.budget import Budget, Spend
from bot.materials import Materials, Prepared
from bot.media import locate
from bot.media import prepare as media
from bot.metrics import Metrics
from bot.models import FileRef, Job, SlackFile, Turn
from bot.prices import Tokens
from bot.slack.annotate import Annotator
from bot.slack.blocks import feedback_buttons, template_select
from bot.slack.files import SlackFileFetcher
from bot.slack.reply import ThreadReply, cannot_post
from bot.slack.thread import read_earlier
from bot.store.channels import ChannelSettings
from bot.store.history import Pending, ThreadHistory
from bot.store.queue import QueuedJob
from bot.store.thread_order import ThreadOrder, turn_slot
from bot.templates import Template, Templates

if TYPE_CHECKING:
    from bot.claude.client import ClaudeClient

logger = logging.getLogger(__name__)

GENERIC_FAILURE = (
    "Something went wrong on my side while answering. Please try again; if it keeps "
    "happening, tell whoever runs this bot."
)
NOTHING_TO_READ = (
    "I don't see anything to look at here. Share a screenshot, photo or PDF and mention me "
    "with a question, or reply in a thread that has one."
)
NO_LINKS = (
    "links to images aren't supported on this Claude platform (Amazon Bedrock or Google "
    "Vertex). Upload the image to Slack instead."
)
CANNOT_POST = (
    "I can't post in that conversation, so I couldn't answer there. Add me to the channel "
    "(mention me there, or /invite me) and ask again."
)
INTERRUPTED = "Interrupted: I'm restarting. A complete answer follows in a moment."
INTERRUPT_SECONDS = 3.0
GAVE_UP = "I couldn't answer this after several tries; please ask again."
FORGOTTEN = (
    "Done: I've forgotten this thread, its images and my answers. Mention me to start "
    "again; I won't read what was posted here before."
)


@dataclass(frozen=True)
class PipelineOptions:
    """The model and the timing the pipeline works with."""

    model: str
    max_tokens: int
    media: media.MediaLimits = field(default_factory=media.MediaLimits)
    # Inline (base64) bytes per request: well under the API's 32 MB request limit.
    inline_budget: int = 24 * 1024 * 1024
    context_tokens: int = 200_000  # the model's context window
    url_sources: bool = True  # Bedrock and Vertex take no `url` image sources
    automatic_cache: bool = True  # top-level cache_control: the Claude API's own
    # PDF page citations: on the Claude API and Vertex AI. Bedrock documents them for its
    # Converse API only, not for the InvokeModel body the SDK sends.
    citations: bool = True
    lock_seconds: float = 60.0
    order_wait_seconds: float = 120.0

    @classmethod
    def from_settings(cls, settings: Settings) -> PipelineOptions:
        """The model, limits and timings for the configured platform."""
        direct = settings.claude_platform == "anthropic"
        return cls(
            model=settings.claude_model,
            max_tokens=settings.claude_max_tokens,
            context_tokens=settings.claude_context_tokens,
            media=media_limits(settings),
            url_sources=direct,
            automatic_cache=direct,
            citations=settings.claude_platform != "bedrock",
            lock_seconds=settings.turn_claim_timeout_seconds,
            order_wait_seconds=settings.turn_claim_timeout_seconds * 2,
        )


@dataclass(frozen=True)
class NewMaterial:
    """What a question brings: files, earlier words, why the thread couldn't be read."""

    files: list[SlackFile]
    context: str = ""
    problem: str | None = None
    pending: Pending | None = None  # the files that were waiting for a question
    unread: int = 0  # files shared before it that no question will read (the waiting cap)


@dataclass(frozen=True)
class Stores:
    """The Redis-backed state the pipeline reads and writes."""

    history: ThreadHistory
    order: ThreadOrder
    channels: ChannelSettings


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
    ) -> None:
        self.slack = slack
        self.agent = agent
        self.claude = claude
        self.transport = transport
        self.history = stores.history
        self.order = stores.order
        self.channels = stores.channels
        self.budget = budget
        self.templates = templates
        self.options = options
        self.metrics = metrics
        self.materials = Materials(
            fetcher,
            transport,
            options.media,
            metrics,
            decoders,
            inline_budget=options.inline_budget,
        )
        # Drawing boxes downloads and decodes the original again: within the same bounds.
        self.annotator = Annotator(
            slack, fetcher, in_flight=self.materials.in_flight, draw=decoders.draw
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
        ):
            if await self.history.was_answered(job.thread, job.request_key):
                logger.info("already answered, skipping: %s", job.ids)
                self.metrics.turns.labels(job.action, "duplicate").inc()
                return
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
                    await self._forget(job, reply)
                else:
                    # Checked and reserved before anything is downloaded or sent to Claude.
                    async with self.budget.hold(job) as spend:
                        if job.action == "redo":
                            await self._redo(job, reply, spend)
                        else:
                            outcome = await self._answer(job, reply, spend)
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

    async def _answer(self, job: Job, reply: ThreadReply, spend: Spend) -> str:
        """Answer the job's question in its thread; the turn's outcome."""
        await reply.show_progress(
            progress.downloading(job.files) if job.files else progress.THINKING
        )
        history = await self.history.turns(job.thread)
        job, pick = self.agent.picked(job)
        template = await self._template(job)
        new, viewed = await self._material(job, history)
        if pick and not new.files and not any(t.files for t in history):
            return await self._invite(job, reply, pick)
        context, problem = new.context, new.problem
        if new.files:
            # No more than a request carries, newest first (see Materials.prepare_all).
            await reply.progress(progress.downloading(new.files[-MAX_IMAGES:]))
        links = len(job.links) if self.options.url_sources else 0  # images, sent as they are
        prepared = await self.materials.prepare_all(
            job.team_id, new.files, unread=new.unread, taken=links
        )
        prepared.notes.extend(viewed)
        self._add_links(job, prepared)
        if problem and not prepared.refs and not prepared.refused:
            # The question is most likely about an image up-thread that the bot can't see.
            raise NothingToAnswer(f"{problem}.")
        if problem:
            prepared.notes.append(problem)
        if prepared.refused:
            await reply.post("\n".join(r.message for r in prepared.refused))
            own_refused = bool(job.files or job.links)
            if not prepared.refs and (own_refused or not any(t.files for t in history)):
                # The question was about files none of which could be read: the notes say
                # why, and an answer without them would only mislead. Files that were
                # waiting for a question have had theirs: don't refuse them again.
                await self.history.drop_pending(job.thread, new.pending)
                await reply.finish()
                return "refused"
        if not prepared.refs and not job.text and not any(t.files for t in history):
            raise NothingToAnswer(NOTHING_TO_READ)
        question = Turn(
            role="user",
            text=context + (job.text or template.question),
            files=prepared.refs,
            message_ts=job.message_ts,
            user_id=job.user_id,
        )
        # The first answer in a thread offers the other templates under it.
        select = None
        if not await self.history.is_engaged(job.thread):
            select = template_select(self.templates, template.name)

        async def save(answer: Turn) -> None:
            await self.history.record_exchange(
                job.thread, question, answer, answered=job.request_key, pending=new.pending
            )

        await self._respond(
            job,
            reply,
            history,
            question,
            template,
            prepared.notes,
            save=save,
            spend=spend,
            blocks=select,
        )
        files = ", ".join(f.display_name for f in job.files)
        await self._title(job, job.text or files or template.question)
        return "answered"

    async def _material(self, job: Job, history: list[Turn]) -> tuple[NewMaterial, list[str]]:
        """What the question brings, with the viewed channel's image it asks for; its note."""
        new = await self._new_material(job, history)
        seen = bool(new.files) or any(t.files for t in history)
        viewed = await self.agent.viewing.requested(job, thread_has_files=seen)
        if viewed is None:
            return new, []
        context = viewed.context + new.context
        with_image = replace(new, files=[*new.files, viewed.file], context=context)
        return with_image, [viewed.note]

    async def _invite(self, job: Job, reply: ThreadReply, pick: Pick) -> str:
        """A suggested prompt picked with nothing to look at yet: ask for the file, not Claude."""
        await reply.post(invitation(pick.template))
        await self.history.mark_answered(job.thread, job.request_key)
        await self._title(job, pick.question)
        return "answered"

    async def _title(self, job: Job, text: str) -> None:
        """Name a DM thread after its first question (Slack lists them by title)."""
        if job.is_dm and job.thread_ts == job.message_ts:
            await self.agent.titles.name(job.team_id, job.channel_id, job.thread_ts, text)

    async def _redo(self, job: Job, reply: ThreadReply, spend: Spend) -> None:
        """Answer the thread's last question again, with the newly chosen template."""
        history = await self.history.turns(job.thread)
        last = max((i for i, t in enumerate(history) if t.role == "user"), default=None)
        template = await self._template(job)
        if last is None:
            raise NothingToAnswer("There is no question in this thread to answer again yet.")
        await reply.show_progress()
        earlier, question = history[:last], history[last]

        async def save(answer: Turn) -> None:
            turns = [*earlier, question, answer]
            await self.history.replace(job.thread, turns, answered=job.request_key)

        await self._respond(job, reply, earlier, question, template, [], save=save, spend=spend)

    async def _forget(self, job: Job, reply: ThreadReply) -> None:
        for ref in await self.history.forget(job.thread, answered=job.request_key):
            await self.transport.delete(job.team_id, ref)
        await reply.post(FORGOTTEN)

    async def _respond(
        self,
        job: Job,
        reply: ThreadReply,
        history: list[Turn],
        question: Turn,
        template: Template,
        notes: list[str],
        *,
        save: Callable[[Turn], Awaitable[None]],
        spend: Spend,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """Stream Claude's answer to `question` into the thread, then `save` the answer turn."""
        answer, sent = await self._ask(job, history, question, template, reply, notes)
        text = answer.text
        if names := sent.left_out_names():
            notes.append(
                "To stay within what one request may carry "
                f"({MAX_IMAGES} images, {media.MAX_PDF_PAGES} PDF pages, what the model reads "
                f"at once) I left out the oldest: {', '.join(names)}."
            )
        if sent.oldest_dropped:
            notes.append(
                f"To fit what the model reads at once I left out the oldest {sent.oldest_dropped}"
                " messages of this thread."
            )
        if sent.dropped_messages:
            notes.append(
                f"I left out {sent.dropped_messages} messages from the middle of this thread."
            )
        images = sent.sent_images()
        located = locate.parse(text, images) if template.name == "locate" else None
        if located and located.dropped:
            notes.append(
                f"I left out {located.dropped} region(s) that were malformed or off-image."
            )
        footer = " · ".join([f"_Template: {template.name}_", *(f"_{n}_" for n in notes)])
        documents = [ref.name for ref in sent.sent_files() if ref.kind == "document"]
        if sources := sources_line(answer.pages, documents):
            footer = f"{sources}\n\n{footer}"  # the text itself stays what is saved
        # Feedback buttons under every answer, below the template menu of a first one.
        blocks = [*(blocks or []), *feedback_buttons(template.name)]
        await reply.finish(footer=footer, blocks=blocks)
        # Saved before the extras: once the answer is in the thread, a shutdown or a failed
        # drawing must not leave it unsaved (another process would answer it all again).
        await save(Turn(role="assistant", text=text))
        if located and located.boxes:
            problems = await self.annotator.post(job, images, located)
            if problems:
                await reply.post("\n".join(problems))
        try:
            await self._count(job, answer.usage, template, spend)
        except Exception:
            # Usage counters are bookkeeping: the answer still goes into the history.
            logger.exception("counting usage failed: %s", job.ids)

    async def _template(self, job: Job) -> Template:
        """The template for this request: explicit choice, thread's, channel's, default."""
        if job.template and job.template in self.templates:
            await self.history.set_template(job.thread, job.template)
            return self.templates.get(job.template)
        name = await self.history.template(job.thread)
        name = name or await self.channels.template(job.team_id, job.channel_id)
        return self.templates.get(name)

    def _add_links(self, job: Job, prepared: Prepared) -> None:
        """Image links go to Claude as `url` sources, where the platform takes them."""
        for url in job.links:
            if not self.options.url_sources:
                prepared.refused.append(FileRefused(url, NO_LINKS))
                continue
            ref = FileRef(
                slack_file_id="", name=url, media_type="", sha256="", claude_file_id="", url=url
            )
            prepared.refs.append(ref)

    async def _new_material(self, job: Job, history: list[Turn]) -> NewMaterial:
        """This message's files, plus what came before it."""
        # The thread's earlier messages when the bot joins it, else the files posted since
        # the last question.
        if history or await self.history.is_seeded(job.thread):
            pending = await self.history.pending(job.thread)
            # A file both waiting and in the message (a retried delivery's) counts once.
            files = list({f.id: f for f in [*pending.files, *job.files]}.values())
            return NewMaterial(files, pending=pending, unread=pending.dropped)
        earlier = await read_earlier(self.slack, job)
        context = ""
        if earlier.lines:
            context = "Earlier in this thread:\n" + "\n".join(earlier.lines) + "\n\n"
        # Anything waiting is in what was just read: taken, so recording clears it.
        waiting = await self.history.pending(job.thread)
        files = [*earlier.files, *job.files]
        return NewMaterial(files, context, earlier.problem, pending=waiting)

    async def _ask(
        self,
        job: Job,
        history: list[Turn],
        question: Turn,
        template: Template,
        reply: ThreadReply,
        notes: list[str],
    ) -> tuple[Streamed, Plan]:
        """Claude's answer (text, usage, citations) and what the request carried."""
        try:
            return await self._stream_fitting(job, history, question, template, reply)
        except (FileGone, MediaGone):
            # The Files API (or Redis) lost a file: fetch it from Slack again and retry
            # once, so the user sees an answer rather than an error.
            logger.info("a referenced file is gone; storing it again: %s", job.ids)
            if lost := await self.materials.refresh_gone(job.team_id, [*history, question]):
                notes.append(f"No longer in Slack, so left out: {', '.join(lost)}")
        except LinkUnreachable:
            # An earlier question's link (a presigned URL, say) went dead: leave it out from
            # now on. When the question has links of its own, it may be one of them: the
            # asker hears why, and the history keeps its links.
            if any(ref.url for ref in question.files) or not (dead := _drop_links(history)):
                raise
            logger.info("left out %d dead image link(s): %s", len(dead), job.ids)
            notes.append(f"Image links that no longer download were left out: {', '.join(dead)}")
        if job.action != "redo":  # a re-answer rewrites the whole history when it is done
            await self.history.replace(job.thread, history)
        return await self._stream_fitting(job, history, question, template, reply)

    @property
    def _budget(self) -> int | None:
        return self.options.inline_budget if self.transport.inline else None

    async def _stream_fitting(
        self, job: Job, history: list[Turn], question: Turn, template: Template, reply: ThreadReply
    ) -> tuple[Streamed, Plan]:
        """Stream from a request planned to fit the context window, by estimate and, if the
        API still counts it too long, once more by the API's own count."""
        options, system = self.options, system_prompt(template.prompt)
        tokens = window.window_budget(options.context_tokens, options.max_tokens, system)
        sent = plan(history, question, self._budget, tokens)
        try:
            return await self._stream(job, sent, template, reply)
        except ContextTooLong as exc:
            estimated = window.text_tokens(system) + sent.tokens()
            fewer = window.replan_budget(exc.counted, estimated, options.max_tokens, system)
            again = plan(history, question, self._budget, fewer)
            if again.tokens() >= sent.tokens():
                raise  # only the question is left: the asker hears it is too much at once
            logger.info(
                "prompt too long (%d > %d tokens): leaving more out and retrying: %s",
                exc.counted.tokens,
                exc.counted.window,
                job.ids,
            )
            return await self._stream(job, again, template, reply)

    async def _stream(
        self, job: Job, sent: Plan, template: Template, reply: ThreadReply
    ) -> tuple[Streamed, Plan]:
        locating = template.name == "locate"
        request = build_request(
            model=self.options.model,
            max_tokens=self.options.max_tokens,
            plan=sent,
            template_prompt=template.prompt,
            sources=await self.transport.sources(job.team_id, sent.sent_files()),
            label_images=locating,
            automatic_cache=self.options.automatic_cache,
            citations=self.options.citations,
        )
        await reply.progress(progress.reading(sent.sent_files()))

        async def writing() -> None:
            await reply.progress(progress.WRITING)

        if not locating:
            return await stream_answer(self.claude, request, reply.append, on_start=writing), sent
        shown = locate.HideBoxes(reply.append)
        answer = await stream_answer(self.claude, request, shown, on_start=writing)
        await shown.flush()
        return answer, sent

    async def _count(self, job: Job, usage: Usage, template: Template, spend: Spend) -> None:
        logger.info(
            "answered %s input=%d cache_read=%d cache_write=%d output=%d",
            job.ids,
            usage.input_tokens,
            usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens,
            usage.output_tokens,
        )
        tokens = Tokens(
            input=usage.input_tokens,
            output=usage.output_tokens,
            cache_write=usage.cache_creation_input_tokens,
            cache_read=usage.cache_read_input_tokens,
        )
        for kind, value in tokens.as_dict().items():
            self.metrics.tokens.labels(kind).inc(value)
        await spend.settle(tokens, template.name)


def _cause(exc: BaseException) -> str:
    """What lay behind a user-facing error, for the log: type, message, request id."""
    cause = exc.__cause__
    if cause is None:
        return type(exc).__name__
    request_id = getattr(cause, "request_id", None)
    suffix = f" request_id={request_id}" if request_id else ""
    return f"{type(cause).__name__}: {cause}{suffix}"


def _drop_links(turns: list[Turn]) -> list[str]:
    """Take every image link out of `turns`, with a note in its place; the links."""
    dropped: list[str] = []
    for turn in turns:
        links = [ref.url for ref in turn.files if ref.url]
        if links:
            turn.files = [ref for ref in turn.files if not ref.url]
            gone = " ".join(f"[The image at {url} no longer downloads.]" for url in links)
            turn.text = f"{gone}\n{turn.text}"
            dropped += links
    return dropped
