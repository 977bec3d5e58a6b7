"""How many questions a person asked in the last minute, across every thread and process."""

from __future__ import annotations

import time
from typing import Literal, cast

from redis.asyncio import Redis

from bot.store import keys

WINDOW_MS = 60_000

# A sliding minute of the person's accepted questions, by request key, so Slack's second copy
# of a mention (or a retry) is not a second question. Over the limit the question is not
# counted, and the first refusal in a minute says so (`warn`); later ones stay quiet.
# KEYS: the person's questions, their warned mark. ARGV: now ms, request key, limit, window ms.
_TAKE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 'ok' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  if redis.call('SET', KEYS[2], 1, 'NX', 'PX', window) then return 'warn' end
  return 'quiet'
end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], window)
return 'ok'
"""

Verdict = Literal["ok", "warn", "quiet"]


class QuestionRate:
    """USER_QUESTIONS_PER_MINUTE: a person's questions per minute, in one Redis round trip."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self.per_minute = per_minute
        self._take = redis.register_script(_TAKE)

    async def take(self, team_id: str, user_id: str, request_key: str) -> Verdict:
        """Count a question: `ok` within the rate, else `warn` (say so) or `quiet` (said)."""
        if self.per_minute <= 0:
            return "ok"
        now_ms = int(time.time() * 1000)
        verdict = await self._take(
            keys=[keys.question_rate(team_id, user_id), keys.rate_warned(team_id, user_id)],
            args=[now_ms, request_key, self.per_minute, WINDOW_MS],
        )
        return cast(Verdict, str(verdict))
