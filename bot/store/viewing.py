"""What each person is looking at in Slack, as the agent messaging experience reports it."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.store import keys


class ViewingStore:
    """The channel a person views, kept for a short while (keys.VIEWING_TTL_SECONDS)."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def set(self, team_id: str, user_id: str, channel_id: str | None) -> None:
        """Remember the channel `user_id` is viewing; None: nothing (forget it)."""
        key = keys.viewing(team_id, user_id)
        if channel_id:
            await self.redis.set(key, channel_id, ex=keys.VIEWING_TTL_SECONDS)
        else:
            await self.redis.delete(key)

    async def get(self, team_id: str, user_id: str) -> str | None:
        """The channel `user_id` was last seen viewing, if recently."""
        value = await self.redis.get(keys.viewing(team_id, user_id))
        return str(value) if value else None
