"""Token usage counters per workspace, day and channel, kept in Redis for `/vision usage`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from redis.asyncio import Redis

from bot.store import keys

KINDS = ("input", "cache_read", "cache_write", "output")


@dataclass
class UsageReport:
    """Token totals, per channel, for today and for the last 30 days."""

    today: dict[str, dict[str, int]] = field(default_factory=dict)
    month: dict[str, dict[str, int]] = field(default_factory=dict)


class UsageCounters:
    """Adds each answer's tokens to the day's counters and reads them back."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, team_id: str, channel_id: str, counts: dict[str, int]) -> None:
        """Count one answer's tokens (kinds as in KINDS) for today."""
        key = keys.usage(team_id, _day(datetime.now(UTC).date()))
        async with self.redis.pipeline(transaction=True) as pipe:
            for kind, value in counts.items():
                if value:
                    pipe.hincrby(key, f"{channel_id}:{kind}", value)
            pipe.expire(key, keys.USAGE_TTL_SECONDS)
            await pipe.execute()

    async def report(self, team_id: str, *, days: int = 30) -> UsageReport:
        """Totals per channel today and over the last `days` days (today included)."""
        today = datetime.now(UTC).date()
        async with self.redis.pipeline(transaction=False) as pipe:
            for back in range(days):
                pipe.hgetall(keys.usage(team_id, _day(today - timedelta(days=back))))
            daily = await pipe.execute()
        report = UsageReport(today=_totals(daily[:1]), month=_totals(daily))
        return report


def _totals(days: list[dict[str, str]]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
    for counters in days:
        for field_name, value in counters.items():
            channel, _, kind = field_name.rpartition(":")
            if kind in KINDS:
                totals[channel][kind] += int(value)
    return dict(totals)


def _day(day: date) -> str:
    return day.isoformat()
