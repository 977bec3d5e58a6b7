"""Prepared file bytes kept in Redis for the base64 transport, per workspace and SHA-256."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.store import keys


class InlineBytes:
    """base64 text of prepared files, kept for the history's TTL so follow-ups never re-download."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds

    async def put(self, team_id: str, sha256: str, encoded: str) -> None:
        """Keep the base64 text of these bytes."""
        await self.redis.set(keys.inline_media(team_id, sha256), encoded, ex=self.ttl)

    async def get(self, team_id: str, sha256: str) -> str | None:
        """The base64 text, its TTL refreshed with the thread's; None once it has expired."""
        value = await self.redis.getex(keys.inline_media(team_id, sha256), ex=self.ttl)
        return str(value) if value is not None else None

    async def exists(self, team_id: str, sha256: str) -> bool:
        """Whether the bytes are still kept."""
        return bool(await self.redis.exists(keys.inline_media(team_id, sha256)))

    async def delete(self, team_id: str, sha256: str) -> None:
        """Drop the bytes."""
        await self.redis.delete(keys.inline_media(team_id, sha256))
