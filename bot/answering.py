"""Answer one question in its thread: gather its files, stream the answer, save the exchange."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.agent import progress
from bot.agent.prompts import Pick, invitation
from bot.agent.surfaces import AgentSurfaces
from bot.asking import Asking
from bot.claude.citations import sources_line
from bot.claude.request import MAX_IMAGES
from bot.claude.transport import Transport
from bot.errors import FileRefused, NothingToAnswer
from bot.governance.budget import Spend
from bot.materials import Materials, Prepared
from bot.media import locate
from bot.media import prepare as media
from bot.models import FileRef, Job, SlackFile, Turn
from bot.options import PipelineOptions, Stores
from bot.slack.annotate import Annotator
from bot.slack.blocks import feedback_buttons, template_select
from bot.slack.reply import ThreadReply
from bot.slack.thread import read_earlier
from bot.store.history import Pending
from bot.templates import Template, Templates

logger = logging.getLogger(__name__)

NOTHING_TO_READ = (
    "I don't see anything to look at here. Share a screenshot, photo or PDF and mention me "
    "with a question, or reply in a thread that has one."
)
NO_LINKS = (
    "links to images aren't supported on this Claude platform (Amazon Bedrock or Google "
    "Vertex). Upload the image to Slack instead."
)
FORGOTTEN = (
    "Done: I've forgotten this thread, its images and my answers. Mention me to start "
    "again; I won't read what was posted here before."
)


@dataclass(frozen=True)
class NewMaterial:
    """What a question brings: files, earlier words, why the thread couldn't be read."""

    files: list[SlackFile]
    context: str = ""
    problem: str | None = None
    pending: Pending | None = None  # the files that were waiting for a question
    unread: int = 0  # files shared before it that no question will read (the waiting cap)


class Answering:
    """A question's answer, a re-answer with another template, or forgetting the thread."""

    def __init__(
        self,
        slack: AsyncWebClient,
        *,
        stores: Stores,
        templates: Templates,
        agent: AgentSurfaces,
        materials: Materials,
        annotator: Annotator,
        asking: Asking,
        transport: Transport,
        options: PipelineOptions,
    ) -> None:
        self.slack = slack
        self.history = stores.history
        self.channels = stores.channels
        self.templates = templates
        self.agent = agent
        self.materials = materials
        self.annotator = annotator
        self.asking = asking
        self.transport = transport
        self.options = options

    async def answer(self, job: Job, reply: ThreadReply, spend: Spend) -> str:
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

    async def redo(self, job: Job, reply: ThreadReply, spend: Spend) -> None:
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

    async def forget(self, job: Job, reply: ThreadReply) -> None:
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
        answer, sent = await self.asking.ask(job, history, question, template, reply, notes)
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
            await self.asking.count(job, answer.usage, template, spend)
        except Exception:
            # Usage counters are bookkeeping: the answer still goes into the history.
            logger.exception("counting usage failed: %s", job.ids)

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
