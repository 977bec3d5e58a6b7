"""Post the bot's answer into a Slack thread: progress first, then the streamed text."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.text import inert, inert_blocks, inert_stream

logger = logging.getLogger(__name__)

# markdown_text takes 12,000 characters; leave room for a footer and a continuation mark.
MESSAGE_LIMIT = 11_500
# chat.appendStream is Tier 4 (100+/min per workspace), shared by every answer streaming
# there at once: batch to about one call a second per answer, and back off on a 429.
STREAM_INTERVAL = 1.0
RATE_LIMIT_BACKOFF = 5.0
FINAL_TRIES = 3  # the end of an answer waits out this many 429s before giving up
UPDATE_INTERVAL = 1.0  # chat.update is Tier 3 (~50/min)
PROGRESS_STATUS = "is thinking…"
# A later status update is a courtesy: it never holds the answer up longer than this (the
# client would otherwise wait out a 429's Retry-After before retrying).
PROGRESS_TIMEOUT = 1.0
# assistant.threads.setStatus errors that mean this workspace won't take it at all: a token
# or scope without the assistant feature, a Slack without the method, or a thread that is
# not an assistant thread (invalid_arguments).
# Slack errors that no retry will fix: the bot can't write in that thread at all.
UNWRITABLE = {
    "not_in_channel",
    "channel_not_found",
    "is_archived",
    "thread_not_found",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel",
    "team_access_not_granted",
    "ekm_access_denied",
    "account_inactive",
    "token_revoked",
    "invalid_auth",
}

STATUS_UNAVAILABLE = {
    "not_allowed_token_type",
    "missing_scope",
    "no_permission",
    "access_denied",
    "unknown_method",
    "method_deprecated",
    "invalid_arguments",
}


class ThreadReply:
    """One answer in one thread, streamed natively or, if refused, by edits."""

    def __init__(
        self,
        slack: AsyncWebClient,
        *,
        channel: str,
        thread_ts: str,
        message_ts: str,
        team_id: str,
        user_id: str | None,
        user_team_id: str | None = None,
        no_status: set[str] | None = None,
    ) -> None:
        self.slack = slack
        self.channel = channel
        self.thread_ts = thread_ts
        self.message_ts = message_ts
        self.team_id = team_id
        self.user_id = user_id
        # Streams are addressed to the asker in their own workspace (another org's, when
        # they ask from a Slack Connect channel).
        self.user_team_id = user_team_id or team_id
        self._ts: str | None = None  # the message being written
        self._streaming = True  # until Slack refuses chat.startStream
        self._text = ""  # the current message's text
        self._shown = 0  # how much of it Slack has
        self._buffer = ""  # Claude's words not yet placed in a message
        self._last_sync = 0.0
        self._reacted = False
        self._status: str | None = None  # what the thread's status line says, if it took one
        self.posted: list[str] = []  # ts of every message of this answer
        self.first_words_at: float | None = None  # when Claude's first words arrived
        # Workspaces where assistant.threads.setStatus was refused, shared across replies.
        self._no_status = no_status if no_status is not None else set()

    async def show_progress(self, status: str = PROGRESS_STATUS) -> None:
        """Tell the thread at once that the bot is on it (`status`: what it does first)."""
        if self.team_id not in self._no_status:
            try:
                await self._set_status(status)
                return
            except SlackApiError as exc:
                error = exc.response.get("error")
                logger.info("setStatus refused (%s); reacting instead", error)
                if error in STATUS_UNAVAILABLE:
                    # The app lacks the assistant feature here: don't ask again in this
                    # process. Anything else (ratelimited, a hiccup) costs only this turn.
                    self._no_status.add(self.team_id)
        try:
            await self.slack.reactions_add(
                channel=self.channel, timestamp=self.message_ts, name="eyes"
            )
            self._reacted = True
        except SlackApiError as exc:
            logger.debug("reactions.add refused: %s", exc.response.get("error"))

    async def progress(self, status: str) -> None:
        """Move the status line on to what the bot does now, where the thread shows one."""
        # Where the status was refused (the :eyes: fallback), nothing more is tried this turn.
        if self._status is None or status == self._status:
            return
        try:
            async with asyncio.timeout(PROGRESS_TIMEOUT):
                await self._set_status(status)
        except SlackApiError as exc:
            logger.info("setStatus update refused: %s", exc.response.get("error"))
        except TimeoutError:
            logger.info("setStatus update timed out; going on without it")

    async def _set_status(self, status: str) -> None:
        # loading_messages is what clients that rotate them show instead: the same words.
        loading = status.removeprefix("is ")
        await self.slack.assistant_threads_setStatus(
            channel_id=self.channel,
            thread_ts=self.thread_ts,
            status=status,
            loading_messages=[loading[:1].upper() + loading[1:]],
        )
        self._status = status

    async def append(self, text: str) -> None:
        """Add Claude's next words; the first ones go out at once, later ones in batches."""
        if self.first_words_at is None:
            self.first_words_at = time.monotonic()
        self._buffer += text
        interval = STREAM_INTERVAL if self._streaming else UPDATE_INTERVAL
        if self._ts is None or time.monotonic() - self._last_sync >= interval:
            try:
                await self._flush()
            except SlackApiError as exc:
                if exc.response.get("error") != "ratelimited" or self._ts is None:
                    raise
                # Still rate-limited after the client's own retry: the words wait in the
                # message's text and go out with the next sync.
                wait = _retry_after(exc)
                logger.info("rate-limited while streaming; holding the text for %g s", wait)
                self._last_sync = time.monotonic() + wait

    async def finish(
        self, footer: str | None = None, blocks: list[dict[str, Any]] | None = None
    ) -> None:
        """Send what is left, close the message (with `blocks` under it) and clear progress."""
        if footer:
            self._buffer += f"\n\n{footer}"
        # Without streaming, the edit that adds the blocks carries the last words too.
        defer_edit = bool(blocks) and not self._streaming
        for attempt in range(1, FINAL_TRIES + 1):
            if (wait := self._last_sync - time.monotonic()) > 0:
                await asyncio.sleep(wait)  # backing off from a 429: the last words wait too
            try:
                await self._flush(defer_edit=defer_edit, final=True)
                break
            except SlackApiError as exc:
                if exc.response.get("error") != "ratelimited" or attempt == FINAL_TRIES:
                    raise
                self._last_sync = time.monotonic() + _retry_after(exc)
        await self._close(blocks)
        await self._clear_progress()

    async def post(self, text: str) -> None:
        """A single complete message in the thread (notes and errors)."""
        response = await self.slack.chat_postMessage(
            channel=self.channel,
            thread_ts=self.thread_ts,
            markdown_text=inert(text)[:MESSAGE_LIMIT],
        )
        self.posted.append(str(response["ts"]))

    async def interrupt(self, text: str) -> None:
        """Close a message left half-written, with `text` under it (nothing if none was)."""
        if self._ts is not None:
            await self.finish(footer=f"_{text}_")

    async def fail(self, text: str) -> None:
        """End the answer with an error: after any partial text, or as its own message."""
        if self._ts is None and not self._buffer:
            await self.post(text)
            await self._clear_progress()
        else:
            await self.finish(footer=f"_{text}_")

    async def _flush(self, *, defer_edit: bool = False, final: bool = False) -> None:
        """Move buffered text into messages, starting a new one when one is full."""
        # With `defer_edit`, the last edit of a posted message is left to the caller. Text
        # goes out inert (nothing in it notifies anyone); until `final`, an end that the next
        # words could make a mention ("<!chan" + "nel>") waits in the buffer.
        self._buffer, held = inert_stream(self._buffer, final=final)
        try:
            while len(self._text) + len(self._buffer) > MESSAGE_LIMIT:
                chunk, self._buffer = _split(self._buffer, MESSAGE_LIMIT - len(self._text))
                self._text += chunk
                await self._sync()
                await self._close()
            self._text += self._buffer
            self._buffer = ""
            if not (defer_edit and self._ts is not None):
                await self._sync()
        finally:
            self._buffer += held  # inert text is inert again: a retry may redo the rest

    async def _sync(self) -> None:
        """Bring Slack's copy of the current message up to date."""
        if len(self._text) == self._shown:
            return
        if self._ts is None:
            await self._open(self._text)
        elif self._streaming:
            await self.slack.chat_appendStream(
                channel=self.channel, ts=self._ts, markdown_text=self._text[self._shown :]
            )
        else:
            await self.slack.chat_update(
                channel=self.channel, ts=self._ts, markdown_text=self._text
            )
        self._shown = len(self._text)
        self._last_sync = time.monotonic()

    async def _open(self, text: str) -> None:
        if self._streaming:
            try:
                response = await self.slack.chat_startStream(
                    channel=self.channel,
                    thread_ts=self.thread_ts,
                    markdown_text=text,
                    recipient_team_id=self.user_team_id,
                    recipient_user_id=self.user_id,
                )
                self._ts = str(response["ts"])
                self.posted.append(self._ts)
                return
            except SlackApiError as exc:
                logger.info("chat.startStream refused (%s); editing instead", exc.response["error"])
                self._streaming = False
        response = await self.slack.chat_postMessage(
            channel=self.channel, thread_ts=self.thread_ts, markdown_text=text
        )
        self._ts = str(response["ts"])
        self.posted.append(self._ts)

    async def _close(self, blocks: list[dict[str, Any]] | None = None) -> None:
        blocks = inert_blocks(blocks) if blocks else blocks
        if self._ts is not None and self._streaming:
            await self.slack.chat_stopStream(channel=self.channel, ts=self._ts, blocks=blocks)
        elif self._ts is not None and blocks:
            # markdown_text can't travel with blocks: the text moves into a markdown block.
            await self.slack.chat_update(
                channel=self.channel,
                ts=self._ts,
                text=self._text[:3000],
                blocks=[{"type": "markdown", "text": self._text}, *blocks],
            )
        self._ts = None
        self._text = ""
        self._shown = 0

    async def _clear_progress(self) -> None:
        if self._reacted:
            with contextlib.suppress(SlackApiError):
                await self.slack.reactions_remove(
                    channel=self.channel, timestamp=self.message_ts, name="eyes"
                )
            self._reacted = False


def _retry_after(exc: SlackApiError) -> float:
    """How long Slack asked us to wait (at least a second; a few when it didn't say)."""
    try:
        return max(1.0, float(exc.response.headers.get("Retry-After", RATE_LIMIT_BACKOFF)))
    except (TypeError, ValueError):
        return RATE_LIMIT_BACKOFF


def _split(text: str, limit: int) -> tuple[str, str]:
    """Cut `text` at most `limit` characters in, at a line break where there is one."""
    if len(text) <= limit:
        return text, ""
    cut = text.rfind("\n", 0, limit)
    if cut < limit // 2:
        cut = limit
    return text[:cut], text[cut:].lstrip("\n")


def cannot_post(exc: BaseException) -> bool:
    """Whether Slack refused a write for a reason that no retry will fix."""
    return isinstance(exc, SlackApiError) and exc.response.get("error") in UNWRITABLE
