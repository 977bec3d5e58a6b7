"""Feedback on answers, per workspace, day and template, kept in Redis for the admin views."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from bot.store import keys

VERDICTS = ("positive", "negative")


class FeedbackCounts:
    """Counts each person's verdict on each answer once; a changed mind moves the vote."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def vote(
        self,
        team_id: str,
        template: str,
        verdict: str,
        *,
        channel_id: str,
        message_ts: str,
        user_id: str,
    ) -> bool:
        """Count `verdict` on the answer for `template`; False if it was this person's already."""
        day = _day(datetime.now(UTC))
        vote_key = keys.feedback_vote(team_id, channel_id, message_ts, user_id)
        old = await self.redis.set(
            vote_key, f"{verdict}|{day}", ex=keys.FEEDBACK_TTL_SECONDS, get=True
        )
        old_verdict, _, old_day = str(old or "").partition("|")
        if old_verdict == verdict:
            return False
        # The vote key and the day hashes live in different slots: two steps, not one
        # transaction (a crash in between loses one count, never corrupts one).
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(keys.feedback(team_id, day), f"{template}:{verdict}", 1)
            pipe.expire(keys.feedback(team_id, day), keys.FEEDBACK_TTL_SECONDS)
            if old_verdict in VERDICTS and old_day:
                pipe.hincrby(keys.feedback(team_id, old_day), f"{template}:{old_verdict}", -1)
            await pipe.execute()
        return True

    async def counts(self, team_id: str, *, days: int = 30) -> dict[str, dict[str, int]]:
        """Verdicts per template over the last `days` days (today included)."""
        today = datetime.now(UTC)
        async with self.redis.pipeline(transaction=False) as pipe:
            for back in range(days):
                pipe.hgetall(keys.feedback(team_id, _day(today - timedelta(days=back))))
            daily: list[dict[str, str]] = await pipe.execute()
        totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(VERDICTS, 0))
        for counters in daily:
            for field, value in counters.items():
                template, _, verdict = field.rpartition(":")
                if verdict in VERDICTS:
                    totals[template][verdict] += int(value)
        return dict(totals)


def _day(moment: datetime) -> str:
    return moment.date().isoformat()
