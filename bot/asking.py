"""Ask Claude one question: a request that fits, its answer streamed, and what it cost."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.agent import progress
from bot.claude import window
from bot.claude.errors import ContextTooLong, FileGone, MediaGone
from bot.claude.request import Plan, build_request, plan, system_prompt
from bot.claude.stream import Streamed, Usage, stream_answer
from bot.claude.transport import Transport
from bot.errors import LinkUnreachable
from bot.fairness import ByteBudget
from bot.governance.budget import Spend
from bot.materials import Materials
from bot.media import locate
from bot.metrics import Metrics
from bot.models import Job, Turn
from bot.options import PipelineOptions
from bot.prices import Tokens
from bot.slack.reply import ThreadReply
from bot.store.history import ThreadHistory
from bot.templates import Template

if TYPE_CHECKING:
    from bot.claude.client import ClaudeClient

logger = logging.getLogger(__name__)


class Asking:
    """Streams Claude's answer to a question with the thread's history, within its limits."""

    def __init__(
        self,
        claude: ClaudeClient,
        transport: Transport,
        history: ThreadHistory,
        materials: Materials,
        options: PipelineOptions,
        metrics: Metrics,
    ) -> None:
        self.claude = claude
        self.transport = transport
        self.history = history
        self.materials = materials
        self.options = options
        self.metrics = metrics
        self.inline_in_flight = ByteBudget(options.inline_in_flight)

    async def ask(
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
        # From reading the bytes out of Redis to the end of the answer, on base64.
        async with self.inline_in_flight.hold(sent.inline_bytes() if self.transport.inline else 0):
            return await self._stream_held(job, sent, template, reply)

    async def _stream_held(
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

    async def count(self, job: Job, usage: Usage, template: Template, spend: Spend) -> None:
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
