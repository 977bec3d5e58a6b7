"""The conversation pipeline: from a queued Slack message to a streamed answer in its thread."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anthropic
from anthropic import AsyncAnthropic
from redis.asyncio import Redis
from slack_sdk.web.async_client import AsyncWebClient

from bot import media
from bot.claude_files import ClaudeFiles
from bot.claude_request import DEFAULT_QUESTION, MAX_IMAGES, build_request, left_out_names
from bot.claude_stream import FileGone, Usage, stream_answer
from bot.errors import FileRefused, NothingToAnswer, UserFacingError
from bot.history import ThreadHistory
from bot.models import FileRef, Job, SlackFile, Turn
from bot.queue import QueuedJob
from bot.slack_files import SlackFileFetcher
from bot.slack_reply import ThreadReply
from bot.slack_thread import read_earlier
from bot.thread_order import turn_slot

logger = logging.getLogger(__name__)

GENERIC_FAILURE = (
    "Something went wrong on my side while answering. Please try again; if it keeps "
    "happening, tell whoever runs this bot."
)
NOTHING_TO_READ = (
    "I don't see anything to look at here. Share a screenshot, photo or PDF and mention me "
    "with a question, or reply in a thread that has one."
)


@dataclass(frozen=True)
class PipelineOptions:
    """The model and the timing the pipeline works with."""

    model: str
    max_tokens: int
    media: media.MediaLimits = field(default_factory=media.MediaLimits)
    lock_seconds: float = 60.0
    order_wait_seconds: float = 120.0


@dataclass
class Prepared:
    """The files of one turn: ready for Claude, refused, and what to tell the reader."""

    refs: list[FileRef] = field(default_factory=list)
    refused: list[FileRefused] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Conversation:
    """Answers one queued message at a time per thread, with the thread's history."""

    def __init__(
        self,
        *,
        redis: Redis,
        slack: AsyncWebClient,
        fetcher: SlackFileFetcher,
        claude: AsyncAnthropic,
        files: ClaudeFiles,
        history: ThreadHistory,
        options: PipelineOptions,
    ) -> None:
        self.redis = redis
        self.slack = slack
        self.fetcher = fetcher
        self.claude = claude
        self.files = files
        self.history = history
        self.options = options
        # Decoding is CPU- and memory-bound: at most one image per core at a time.
        self._decoding = asyncio.Semaphore(os.cpu_count() or 2)

    async def handle(self, queued: QueuedJob) -> None:
        """Answer the job's message unless an earlier delivery already did."""
        job = queued.job
        async with turn_slot(
            self.redis,
            self.history,
            job.thread,
            queued.ticket,
            lock_seconds=self.options.lock_seconds,
            order_wait_seconds=self.options.order_wait_seconds,
        ):
            if await self.history.was_answered(job.thread, job.message_ts):
                logger.info("already answered, skipping: %s", job.ids)
                return
            reply = ThreadReply(
                self.slack,
                channel=job.channel_id,
                thread_ts=job.thread_ts,
                message_ts=job.message_ts,
                team_id=job.team_id,
                user_id=job.user_id,
            )
            try:
                await self._answer(job, reply)
            except UserFacingError as exc:
                await reply.fail(exc.message)
            except Exception:
                logger.exception("answering failed: %s", job.ids)
                await reply.fail(GENERIC_FAILURE)

    async def _answer(self, job: Job, reply: ThreadReply) -> None:
        await reply.show_progress()
        history = await self.history.turns(job.thread)
        files, context = await self._new_material(job, history)
        prepared = await self._prepare_all(job.team_id, files)
        if prepared.refused:
            await reply.post("\n".join(r.message for r in prepared.refused))
            if not prepared.refs:
                # The question was about files none of which could be read: the notes say
                # why, and an answer without them would only mislead.
                return await reply.finish()
        if not prepared.refs and not job.text and not any(t.files for t in history):
            raise NothingToAnswer(NOTHING_TO_READ)
        question = Turn(
            role="user",
            text=context + (job.text or DEFAULT_QUESTION) if context else job.text,
            files=prepared.refs,
            message_ts=job.message_ts,
            user_id=job.user_id,
        )
        if names := left_out_names([*history, question]):
            prepared.notes.append(
                f"To stay within {MAX_IMAGES} images per request I left out the oldest: "
                f"{', '.join(names)}."
            )
        text, usage = await self._ask(job, history, question, reply)
        await reply.finish(footer=" ".join(f"_{note}_" for note in prepared.notes) or None)
        await self.history.record_exchange(job.thread, question, Turn(role="assistant", text=text))
        _log_usage(job, usage)

    async def _new_material(self, job: Job, history: list[Turn]) -> tuple[list[SlackFile], str]:
        """This message's files, plus, when the bot joins a thread, what came before it."""
        if history or await self.history.is_seeded(job.thread):
            return list(job.files), ""
        earlier = await read_earlier(self.slack, job)
        context = ""
        if earlier.lines:
            context = "Earlier in this thread:\n" + "\n".join(earlier.lines) + "\n\n"
        return [*earlier.files, *job.files], context

    async def _ask(
        self, job: Job, history: list[Turn], question: Turn, reply: ThreadReply
    ) -> tuple[str, Usage]:
        try:
            return await stream_answer(self.claude, self._request(history, question), reply.append)
        except FileGone:
            logger.info("a referenced file is gone; uploading again: %s", job.ids)
        # The Files API lost a file (expired or deleted): fetch it from Slack again and
        # retry once, so the user sees an answer rather than an error.
        await self._refresh_gone(job.team_id, [*history, question])
        await self.history.replace(job.thread, history)
        return await stream_answer(self.claude, self._request(history, question), reply.append)

    def _request(self, history: list[Turn], question: Turn) -> dict[str, object]:
        return build_request(
            model=self.options.model,
            max_tokens=self.options.max_tokens,
            history=history,
            question=question,
        )

    async def _prepare_all(self, team_id: str, files: list[SlackFile]) -> Prepared:
        results = await asyncio.gather(
            *(self._prepare(team_id, f) for f in files), return_exceptions=True
        )
        prepared = Prepared()
        for result in results:
            if isinstance(result, FileRefused):
                prepared.refused.append(result)
            elif isinstance(result, BaseException):  # e.g. Claude unavailable: fails the turn
                raise result
            else:
                prepared.refs.append(result[0])
                prepared.notes.extend(result[1])
        return prepared

    async def _prepare(self, team_id: str, file: SlackFile) -> tuple[FileRef, tuple[str, ...]]:
        data = await self.fetcher.fetch(file)
        # Decoding and re-encoding are CPU work: keep them off the event loop.
        async with self._decoding:
            prepared = await asyncio.to_thread(
                media.prepare, file.display_name, data, self.options.media
            )
        file_id = await self.files.upload_once(team_id, prepared)
        return FileRef(
            slack_file_id=file.id,
            name=prepared.name,
            media_type=prepared.media_type,
            sha256=prepared.sha256,
            claude_file_id=file_id,
            kind=prepared.kind,
            width=prepared.width,
            height=prepared.height,
            original_width=prepared.original_width,
            original_height=prepared.original_height,
        ), prepared.notes

    async def _refresh_gone(self, team_id: str, turns: list[Turn]) -> None:
        """Re-upload every referenced file the Files API no longer has, in place."""
        for turn in turns:
            for index, ref in enumerate(turn.files):
                if await self._still_there(ref.claude_file_id):
                    continue
                await self.files.forget(team_id, ref.sha256)
                slack_file = SlackFile(id=ref.slack_file_id, name=ref.name)
                turn.files[index], _ = await self._prepare(team_id, slack_file)

    async def _still_there(self, file_id: str) -> bool:
        try:
            metadata = await self.claude.files.retrieve_metadata(file_id)
        except anthropic.NotFoundError:
            return False
        return metadata.expires_at is None or metadata.expires_at > datetime.now(UTC)


def _log_usage(job: Job, usage: Usage) -> None:
    logger.info(
        "answered %s input=%d cache_read=%d cache_write=%d output=%d",
        job.ids,
        usage.input_tokens,
        usage.cache_read_input_tokens,
        usage.cache_creation_input_tokens,
        usage.output_tokens,
    )
