"""A turn's files: downloaded from Slack, checked, stored for Claude, within memory bounds."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field

from bot.claude.request import base64_size
from bot.claude.transport import Transport
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
        *,
        inline_budget: int | None = None,
    ) -> None:
        self.fetcher = fetcher
        self.transport = transport
        self.limits = limits
        self.metrics = metrics
        # Base64 bytes one request may carry when files travel inline (None: by reference).
        self.inline_budget = inline_budget if transport.inline else None
        # Decoding is CPU- and memory-bound: at most one image per core at a time.
        self.decoding = asyncio.Semaphore(_usable_cpus())
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
                prepared.refs.append(result[0])
                prepared.notes.extend(result[1])
        self.metrics.files.labels("sent").inc(len(prepared.refs))
        self.metrics.files.labels("refused").inc(len(prepared.refused))
        return prepared

    async def prepare(self, team_id: str, file: SlackFile) -> tuple[FileRef, tuple[str, ...]]:
        """One file downloaded, checked and stored; its reference and notes."""
        async with self.in_flight:
            # A Slack Connect share lists only an id: refusals name the file by the name
            # files.info gives it.
            file = await self.fetcher.resolve(file)
            data = await self.fetcher.fetch(file)
            # Decoding and re-encoding are CPU work: keep them off the event loop.
            async with self.decoding:
                prepared = await asyncio.to_thread(
                    media.prepare, file.display_name, data, self.limits
                )
            del data
            self._check_fits(prepared)
            file_id = await self.transport.store(team_id, prepared)
        return prepared.ref(source_id=file.id, stored_id=file_id), prepared.notes

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
        lost: list[str] = []
        for turn in turns:
            kept: list[FileRef] = []
            for ref in turn.files:
                same = {"name": ref.name, "slack_file_id": ref.slack_file_id}
                if ref.sha256 in fresh:
                    kept.append(fresh[ref.sha256].model_copy(update=same))
                    continue
                if ref.url or await self.transport.is_available(team_id, ref):
                    kept.append(ref)
                    continue
                await self.transport.forget(team_id, ref.sha256)
                try:
                    new, _ = await self.prepare(
                        team_id, SlackFile(id=ref.slack_file_id, name=ref.name)
                    )
                except FileRefused:
                    # Deleted in Slack (or by retention) since: answer without it from now on.
                    lost.append(ref.name)
                    gone = f"[{ref.name} was shared here but is no longer available.]"
                    turn.text = f"{gone}\n{turn.text}"
                    continue
                fresh[ref.sha256] = new
                kept.append(new.model_copy(update=same))
            turn.files = kept
        return lost


def _usable_cpus() -> int:
    """The CPUs this process may run on (sched_getaffinity is Linux-only)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 2
