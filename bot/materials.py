"""A turn's files: downloaded from Slack, checked, stored for Claude, within memory bounds."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from bot.claude.request import base64_size
from bot.claude.transport import Transport
from bot.decoders import Decoders
from bot.errors import FileRefused
from bot.media import prepare as media
from bot.metrics import Metrics
from bot.models import FileRef, SlackFile, Turn
from bot.slack.files import SlackFileFetcher

logger = logging.getLogger(__name__)

FILES_IN_FLIGHT = 4  # per process: downloaded, prepared and stored at once


@dataclass
class Prepared:
    """The files of one turn: ready for Claude, refused, and what to tell the reader."""

    refs: list[FileRef] = field(default_factory=list)
    refused: list[FileRefused] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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

    async def prepare_all(self, team_id: str, files: list[SlackFile]) -> Prepared:
        """Every file prepared at once (within the bounds); refusals collected, not raised."""
        results = await asyncio.gather(
            *(self.prepare(team_id, f) for f in files), return_exceptions=True
        )
        prepared = Prepared()
        for result in results:
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
        return prepared

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
