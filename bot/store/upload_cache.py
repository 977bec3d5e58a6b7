"""Which bytes are already on the Files API, per workspace, keyed by SHA-256."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from bot.store import keys


class UploadCache:
    """Remembers Files API ids so the same bytes are uploaded once per workspace."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds

    async def get(self, team_id: str, sha256: str) -> str | None:
        """The Files API id for these bytes, if they were uploaded and not yet expired."""
        value = await self.redis.get(keys.upload(team_id, sha256))
        return str(value) if value else None

    async def put(self, team_id: str, sha256: str, file_id: str) -> None:
        """Remember an upload for as long as the Files API keeps it (slightly less)."""
        # Expire the cache entry before the file itself, so a hit is never an expired file.
        await self.redis.set(keys.upload(team_id, sha256), file_id, ex=max(60, self.ttl - 3600))

    async def drop(self, team_id: str, sha256: str) -> None:
        """Forget an upload that the Files API no longer has."""
        await self.redis.delete(keys.upload(team_id, sha256))

    @asynccontextmanager
    async def exclusive(self, team_id: str, sha256: str) -> AsyncIterator[None]:
        """Held while uploading, so concurrent shares of the same bytes upload once."""
        lock = self.redis.lock(
            keys.upload_lock(team_id, sha256), timeout=120, blocking_timeout=120, sleep=0.05
        )
        async with lock:
            yield
