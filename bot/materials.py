"""A turn's files: downloaded from Slack, checked, stored for Claude, within memory bounds."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.claude.request import MAX_IMAGES, base64_size
from bot.claude.transport import Transport
from bot.decoders import Decoders
from bot.errors import FileRefused
from bot.media import prepare as media
from bot.metrics import Metrics
from bot.models import FileRef, SlackFile, Turn
from bot.slack.files import SlackFileFetcher

logger = logging.getLogger(__name__)

FILES_IN_FLIGHT = 4  # per process: downloaded, prepared and stored at once

Outcome = tuple[list[FileRef], tuple[str, ...]] | BaseException


def unread_note(count: int) -> str:
    """What the answer says about the files of a turn it never read."""
    return (
        f"I didn't read the {count} oldest of the files shared here: one request carries at "
        f"most {MAX_IMAGES} images and {media.MAX_PDF_PAGES} PDF pages, so I took the newest. "
        "Share the others again to ask about them."
    )


@dataclass
class Prepared:
    """The files of one turn: ready for Claude, refused, and what to tell the reader."""

    refs: list[FileRef] = field(default_factory=list)
    refused: list[FileRefused] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Room:
    """What one request can still carry of a turn's files (the plan's limits)."""

    byte_budget: int | None  # base64 bytes, when files travel inline
    taken: int = 0  # images the request carries besides the files (the question's links)
    images: int = 0
    pages: int = 0
    spent: int = 0
    files: int = 0

    def takes(self, preparing: int) -> bool:
        """Whether one more file may be prepared, with `preparing` not yet counted."""
        # A file being prepared counts as many images as the turn's files so far gave (one
        # to start with, what most files are): a thread of long pages, sent in parts, isn't
        # prepared four pages at a time past the count.
        full = self.pages >= media.MAX_PDF_PAGES
        full |= self.byte_budget is not None and self.spent >= self.byte_budget
        each = max(1, -(-self.images // self.files)) if self.files else 1
        return not full and self.images + self.taken + preparing * each < MAX_IMAGES

    def add(self, refs: list[FileRef]) -> None:
        """Count a prepared file's references."""
        self.files += 1
        self.images += sum(ref.kind == "image" for ref in refs)
        self.pages += sum(ref.pages or 0 for ref in refs)
        if self.byte_budget is not None:
            self.spent += sum(base64_size(ref.size) for ref in refs)


class Materials:
    """Turns Slack files into stored, Claude-ready references, a bounded few at a time."""

    def __init__(
        self,
        fetcher: SlackFileFetcher,
        transport: Transport,
        limits: media.MediaLimits,
        metrics: Metrics,
        decoders: Decoders,
        *,
        inline_budget: int | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.transport = transport
        self.limits = limits
        self.metrics = metrics
        # Base64 bytes one request may carry when files travel inline (None: by reference).
        self.inline_budget = inline_budget if transport.inline else None
        # Decoding is CPU- and memory-bound: one file per worker process (one per core), each
        # within the time limit.
        self.decoders = decoders
        # A file between download and upload may hold up to MAX_FILE_MB (and its decoded
        # pixels) in memory: a thread of many files must not hold them all at once.
        self.in_flight = asyncio.Semaphore(FILES_IN_FLIGHT)

    async def prepare_all(
        self, team_id: str, files: list[SlackFile], *, unread: int = 0, taken: int = 0
    ) -> Prepared:
        """The files (oldest first) one request can carry, the newest first, with `taken`
        images already in it; refusals collected, not raised; a note counting those not read,
        with `unread` earlier ones."""
        outcomes = await self._prepare_newest(team_id, files, _Room(self.inline_budget, taken))
        prepared = Prepared()
        for result in (outcomes[i] for i in sorted(outcomes)):  # in the order shared
            if isinstance(result, FileRefused):
                logger.info("refused %s in team %s: %s", result.name, team_id, result.reason)
                prepared.refused.append(result)
            elif isinstance(result, BaseException):  # e.g. Claude unavailable: fails the turn
                raise result
            else:
                prepared.refs.extend(result[0])
                prepared.notes.extend(result[1])
        self.metrics.files.labels("sent").inc(len(prepared.refs))
        self.metrics.files.labels("refused").inc(len(prepared.refused))
        if skipped := len(files) - len(outcomes):
            logger.info("left %d of %d files unread in team %s", skipped, len(files), team_id)
            self.metrics.files.labels("unread").inc(skipped)
        if skipped + unread:
            prepared.notes.append(unread_note(skipped + unread))
        return prepared

    async def _prepare_newest(
        self, team_id: str, files: list[SlackFile], room: _Room
    ) -> dict[int, Outcome]:
        """Prepare files from the newest back while `room` lasts; outcomes by position."""
        # Newer files go first, like the request's own plan, so nothing prepared is left out
        # of it, save a long page's parts or a PDF that turned out larger than counted.
        waiting = list(range(len(files)))  # pop() takes the newest
        running: dict[asyncio.Task[tuple[list[FileRef], tuple[str, ...]]], int] = {}
        outcomes: dict[int, Outcome] = {}
        failed = False
        try:
            while waiting or running:
                while waiting and not failed and len(running) < FILES_IN_FLIGHT:
                    if not room.takes(len(running)):
                        break
                    i = waiting.pop()
                    running[asyncio.create_task(self.prepare(team_id, files[i]))] = i
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    i = running.pop(task)
                    outcomes[i] = task.exception() or task.result()
                    if isinstance(outcome := outcomes[i], tuple):
                        room.add(outcome[0])
                    # Anything but a refusal fails the turn: start nothing more.
                    failed |= not isinstance(outcome, tuple | FileRefused)
        finally:
            for task in running:
                task.cancel()  # the turn was cancelled (shutdown): so are its files
        return outcomes

    async def prepare(self, team_id: str, file: SlackFile) -> tuple[list[FileRef], tuple[str, ...]]:
        """One file downloaded, checked and stored; its references (a long image: several)."""
        async with self.in_flight:
            # A Slack Connect share lists only an id: refusals name the file by the name
            # files.info gives it.
            file = await self.fetcher.resolve(file)
            data = await self.fetcher.fetch(file)
            # Decoding and re-encoding are CPU work: off the event loop, in a worker process.
            prepared = await self.decoders.prepare(file.display_name, data, self.limits)
            del data
            for part in prepared.parts:
                self._check_fits(part)
            refs = [
                part.ref(source_id=file.id, stored_id=await self.transport.store(team_id, part))
                for part in prepared.parts
            ]
        return refs, prepared.notes

    def _check_fits(self, prepared: media.PreparedMedia) -> None:
        """Refuse, before storing it, a file no request could ever carry inline."""
        budget = self.inline_budget
        if budget is None or base64_size(len(prepared.data)) <= budget:
            return
        raise FileRefused(
            prepared.name,
            f"it is {len(prepared.data) / 2**20:.0f} MB, and on this Claude platform files "
            f"travel inside each request, which can carry at most {budget * 3 // 4 // 2**20} "
            "MB of them. A smaller copy (fewer pages, or the PDF split in parts) or "
            "screenshots of the pages you mean would work.",
        )

    async def refresh_gone(self, team_id: str, turns: list[Turn]) -> list[str]:
        """Store again every referenced file the transport lost; name those Slack lost too."""
        # In place: files Slack no longer has are dropped from the turns (so from the
        # history) with a note.
        fresh: dict[str, FileRef] = {}  # by SHA-256: the same image twice is stored once
        again: dict[str, list[FileRef] | None] = {}  # by Slack file: prepared once, all parts
        lost: list[str] = []
        for turn in turns:
            kept: list[FileRef] = []
            told: set[str] = set()  # the parts of one long image get one note
            for ref in turn.files:
                same = {"name": ref.name, "slack_file_id": ref.slack_file_id}
                if ref.sha256 in fresh:
                    kept.append(fresh[ref.sha256].model_copy(update=same))
                    continue
                if ref.url or await self.transport.is_available(team_id, ref):
                    kept.append(ref)
                    continue
                await self.transport.forget(team_id, ref.sha256)
                if ref.slack_file_id not in again:
                    again[ref.slack_file_id] = await self._prepare_again(team_id, ref)
                if (parts := again[ref.slack_file_id]) is None:
                    # Deleted in Slack (or by retention) since: answer without it from now on.
                    if ref.slack_file_id not in told:
                        told.add(ref.slack_file_id)
                        lost += [] if ref.name in lost else [ref.name]
                        gone = f"[{ref.name} was shared here but is no longer available.]"
                        turn.text = f"{gone}\n{turn.text}"
                    continue
                new = parts[min(len(parts), ref.part or 1) - 1]  # the same part of a long image
                fresh[ref.sha256] = new
                kept.append(new.model_copy(update=same))
            turn.files = kept
        return lost

    async def _prepare_again(self, team_id: str, ref: FileRef) -> list[FileRef] | None:
        """The file's references, prepared and stored anew; None if Slack no longer has it."""
        try:
            refs, _ = await self.prepare(team_id, SlackFile(id=ref.slack_file_id, name=ref.name))
        except FileRefused:
            return None
        return refs
