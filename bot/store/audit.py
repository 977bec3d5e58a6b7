"""The settings audit log: who changed what, where and when, kept for 90 days."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.store import keys


@dataclass(frozen=True)
class Change:
    """One settings change: when (Unix seconds), who, in which channel, what it set."""

    at: float
    user_id: str
    channel_id: str
    what: str


class AuditLog:
    """Appends settings changes per workspace and reads the latest back."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def record(self, team_id: str, *, user_id: str, channel_id: str, what: str) -> None:
        """Keep one change; changes older than 90 days are dropped as new ones come."""
        now = time.time()
        entry = {"at": now, "user": user_id, "channel": channel_id, "what": what}
        entry["id"] = uuid.uuid4().hex[:8]  # two equal changes in one millisecond stay two
        key = keys.audit(team_id)
        oldest = int((now - keys.AUDIT_TTL_SECONDS) * 1000)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {json.dumps(entry): int(now * 1000)})
            pipe.zremrangebyscore(key, "-inf", f"({oldest}")
            pipe.zremrangebyrank(key, 0, -keys.AUDIT_MAX_ENTRIES - 1)
            pipe.expire(key, keys.AUDIT_TTL_SECONDS)
            await pipe.execute()

    async def latest(self, team_id: str, count: int = 50) -> list[Change]:
        """The newest `count` changes of the last 90 days, newest first."""
        key = keys.audit(team_id)
        oldest = int((time.time() - keys.AUDIT_TTL_SECONDS) * 1000)
        rows = await self.redis.zrevrangebyscore(key, "+inf", oldest, start=0, num=count)
        changes = []
        for row in rows:
            entry = json.loads(str(row))
            changes.append(Change(entry["at"], entry["user"], entry["channel"], entry["what"]))
        return changes
