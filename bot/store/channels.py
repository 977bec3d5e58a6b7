"""Per-channel settings in Redis: default template, automatic answers, daily limit, on/off."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.models import ThreadRef
from bot.store import keys


class ChannelSettings:
    """What `/vision use`, `auto`, `limit` and `off|on` choose for a channel."""

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

    async def answers_shares(self, team_id: str, channel_id: str) -> bool:
        """Whether auto mode is on and the bot is not off in the channel (one read)."""
        auto, off = await self.redis.hmget(keys.channel(team_id, channel_id), ["auto", "off"])
        return auto == "1" and off != "1"

    async def set_auto(self, team_id: str, channel_id: str, on: bool) -> None:
        """Turn automatic answers on or off for the channel."""
        await self.redis.hset(keys.channel(team_id, channel_id), "auto", "1" if on else "0")

    async def limit(self, team_id: str, channel_id: str) -> int | None:
        """The channel's own daily spend limit in µ$, if it has one."""
        value = await self.redis.hget(keys.channel(team_id, channel_id), "limit")
        return int(value) if value else None

    async def set_limit(self, team_id: str, channel_id: str, micro_usd: int | None) -> None:
        """Give the channel a daily spend limit (µ$), or take it away (None)."""
        key = keys.channel(team_id, channel_id)
        if micro_usd is None:
            await self.redis.hdel(key, "limit")
        else:
            await self.redis.hset(key, "limit", micro_usd)

    async def is_off(self, team_id: str, channel_id: str) -> bool:
        """Whether the bot was turned off in the channel."""
        return await self.redis.hget(keys.channel(team_id, channel_id), "off") == "1"

    async def set_off(self, team_id: str, channel_id: str, off: bool) -> None:
        """Turn the bot off (or back on) in the channel."""
        key = keys.channel(team_id, channel_id)
        if off:
            await self.redis.hset(key, "off", "1")
        else:
            await self.redis.hdel(key, "off")

    async def first_off_note(self, thread: ThreadRef) -> bool:
        """True once per thread (a day): whether to tell it the bot is off here."""
        marked = await self.redis.set(keys.off_note(thread), "1", nx=True, ex=keys.SEEN_TTL_SECONDS)
        return bool(marked)
