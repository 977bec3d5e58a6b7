"""Per-channel settings in Redis: the default template and automatic answers."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.store import keys


class ChannelSettings:
    """What `/vision use` and `/vision auto` choose for a channel."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def template(self, team_id: str, channel_id: str) -> str | None:
        """The channel's default template, if one was chosen."""
        value = await self.redis.hget(keys.channel(team_id, channel_id), "template")
        return str(value) if value else None

    async def set_template(self, team_id: str, channel_id: str, name: str) -> None:
        """Make `name` the channel's default template."""
        await self.redis.hset(keys.channel(team_id, channel_id), "template", name)

    async def auto(self, team_id: str, channel_id: str) -> bool:
        """Whether every image shared in the channel is answered without a mention."""
        return await self.redis.hget(keys.channel(team_id, channel_id), "auto") == "1"

    async def set_auto(self, team_id: str, channel_id: str, on: bool) -> None:
        """Turn automatic answers on or off for the channel."""
        await self.redis.hset(keys.channel(team_id, channel_id), "auto", "1" if on else "0")
