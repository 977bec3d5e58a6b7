"""The base64 transport: prepared bytes kept in Redis and sent inline with each request."""

from __future__ import annotations

import base64
from typing import Any

from bot.claude.errors import MediaGone
from bot.media.prepare import PreparedMedia
from bot.models import FileRef
from bot.store.inline_bytes import InlineBytes


class InlineMedia:
    """Keeps each prepared file under its SHA-256 for the history's TTL, sent as base64."""

    inline = True

    def __init__(self, kept: InlineBytes) -> None:
        self.kept = kept

    async def store(self, team_id: str, media: PreparedMedia) -> str:
        """Keep the bytes (as base64, ready to send) for the thread's lifetime."""
        await self.kept.put(team_id, media.sha256, base64.b64encode(media.data).decode("ascii"))
        return ""

    async def sources(self, team_id: str, refs: list[FileRef]) -> dict[str, dict[str, Any]]:
        """base64 `source` blocks for the files, refreshing their TTL with the thread's."""
        sources: dict[str, dict[str, Any]] = {}
        for ref in refs:
            if ref.url or ref.sha256 in sources:
                continue
            data = await self.kept.get(team_id, ref.sha256)
            if data is None:
                raise MediaGone(ref.name)
            sources[ref.sha256] = {"type": "base64", "media_type": ref.media_type, "data": data}
        return sources

    async def is_available(self, team_id: str, ref: FileRef) -> bool:
        """Whether the bytes are still in Redis."""
        return await self.kept.exists(team_id, ref.sha256)

    async def forget(self, team_id: str, sha256: str) -> None:
        """Nothing is cached besides the bytes themselves."""

    async def delete(self, team_id: str, ref: FileRef) -> None:
        """Delete the kept bytes."""
        await self.kept.delete(team_id, ref.sha256)
