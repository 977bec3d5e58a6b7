"""Upload prepared files to Claude's Files API once, and reuse their ids."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import anthropic
from anthropic import AsyncAnthropic

from bot.claude.errors import translate_error
from bot.media.prepare import PreparedMedia
from bot.models import FileRef
from bot.store.upload_cache import UploadCache

logger = logging.getLogger(__name__)

FILES_MIN_EXPIRY = 3600
FILES_MAX_EXPIRY = 90 * 86400


class ClaudeFiles:
    """The Files API transport: uploads cached per workspace by the SHA-256 of the bytes."""

    inline = False

    def __init__(self, client: AsyncAnthropic, cache: UploadCache, *, expires_in: int) -> None:
        self.client = client
        self.cache = cache
        self.expires_in = min(max(expires_in, FILES_MIN_EXPIRY), FILES_MAX_EXPIRY)

    async def upload_once(self, team_id: str, media: PreparedMedia) -> str:
        """The Files API id for these bytes, uploading them only if nobody has yet."""
        sha = media.sha256
        if cached := await self.cache.get(team_id, sha):
            return cached
        async with self.cache.exclusive(team_id, sha):
            # Someone may have finished the same upload while we waited for the lock.
            if cached := await self.cache.get(team_id, sha):
                return cached
            try:
                metadata = await self.client.files.upload(
                    file=(media.name, media.data, media.media_type),
                    expires_in_seconds=self.expires_in,
                )
            except anthropic.APIError as exc:
                raise translate_error(exc) from exc
            await self.cache.put(team_id, sha, metadata.id)
            logger.info(
                "uploaded %s (%s, %d bytes) as %s",
                media.name,
                media.media_type,
                len(media.data),
                metadata.id,
            )
            return metadata.id

    async def store(self, team_id: str, media: PreparedMedia) -> str:
        """The Files API id for the bytes (see `upload_once`)."""
        return await self.upload_once(team_id, media)

    async def sources(self, team_id: str, refs: list[FileRef]) -> dict[str, dict[str, Any]]:
        """Nothing inline: requests name Files API ids."""
        return {}

    async def is_available(self, team_id: str, ref: FileRef) -> bool:
        """Whether the Files API still has the file and it hasn't expired."""
        try:
            metadata = await self.client.files.retrieve_metadata(ref.claude_file_id)
        except anthropic.NotFoundError:
            return False
        return metadata.expires_at is None or metadata.expires_at > datetime.now(UTC)

    async def forget(self, team_id: str, sha256: str) -> None:
        """Drop a cached id the Files API no longer knows, so the next use uploads again."""
        await self.cache.drop(team_id, sha256)

    async def delete(self, team_id: str, ref: FileRef) -> None:
        """Delete uploaded bytes from the Files API (nobody refers to them any more)."""
        cached = await self.cache.get(team_id, ref.sha256)
        await self.cache.drop(team_id, ref.sha256)
        # The history's id outlives the cache entry (which expires before the file does).
        for file_id in {ref.claude_file_id, cached or ""} - {""}:
            with contextlib.suppress(anthropic.NotFoundError):  # already expired or deleted
                await self.client.files.delete(file_id)
            logger.info("deleted %s from the Files API", file_id)
