"""The base64 transport: prepared bytes kept in Redis and sent inline with each request."""

from __future__ import annotations

import base64
from typing import Any

from redis.asyncio import Redis

from bot import keys
from bot.media import PreparedMedia
from bot.models import FileRef


class MediaGone(Exception):
    """Some inline bytes expired from Redis: fetch them from Slack again."""


class InlineMedia:
    """Keeps each prepared file in Redis under its SHA-256 for the history's TTL."""

    inline = True

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds

    async def store(self, team_id: str, media: PreparedMedia) -> str:
        """Keep the bytes (as base64, ready to send) for the thread's lifetime."""
        encoded = base64.b64encode(media.data).decode("ascii")
        await self.redis.set(keys.inline_media(team_id, media.sha256), encoded, ex=self.ttl)
        return ""

    async def sources(self, team_id: str, refs: list[FileRef]) -> dict[str, dict[str, Any]]:
        """base64 `source` blocks for the files, refreshing their TTL with the thread's."""
        sources: dict[str, dict[str, Any]] = {}
        for ref in refs:
            if ref.url or ref.sha256 in sources:
                continue
            key = keys.inline_media(team_id, ref.sha256)
            data = await self.redis.getex(key, ex=self.ttl)
            if data is None:
                raise MediaGone(ref.name)
            sources[ref.sha256] = {"type": "base64", "media_type": ref.media_type, "data": data}
        return sources

    async def is_available(self, team_id: str, ref: FileRef) -> bool:
        """Whether the bytes are still in Redis."""
        return bool(await self.redis.exists(keys.inline_media(team_id, ref.sha256)))

    async def forget(self, team_id: str, sha256: str) -> None:
        """Nothing is cached besides the bytes themselves."""

    async def delete(self, team_id: str, ref: FileRef) -> None:
        """Delete the kept bytes."""
        await self.redis.delete(keys.inline_media(team_id, ref.sha256))
