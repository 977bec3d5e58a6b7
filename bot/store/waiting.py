"""How many questions each person has queued or being answered, across threads and processes."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal, cast

from redis.asyncio import Redis

from bot.models import Job
from bot.store import keys
from bot.store.queue import QueuedJob

logger = logging.getLogger(__name__)

# The cap's check, shared with the one-step admission script (bot/store/admission.py):
# members older than the stale time are dropped first, so a process that died mid-answer
# leaves a person capped for at most that long. Sets `capped` (and `told`, once per
# question) instead of adding. KEYS[WAITING], KEYS[TOLD]; ARGV[CAP], ARGV[MEMBER],
# ARGV[STALE_MS], ARGV[TOLD_TTL]; `now` in ms.
CAP_CHECK = """
local capped, told = false, false
if tonumber(ARGV[CAP]) > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[WAITING], '-inf', now - tonumber(ARGV[STALE_MS]))
  if not redis.call('ZSCORE', KEYS[WAITING], ARGV[MEMBER])
      and redis.call('ZCARD', KEYS[WAITING]) >= tonumber(ARGV[CAP]) then
    capped = true
    told = redis.call('SET', KEYS[TOLD], 1, 'NX', 'EX', ARGV[TOLD_TTL]) and true or false
  end
end
"""
CAP_ADD = """
if tonumber(ARGV[CAP]) > 0 then
  redis.call('ZADD', KEYS[WAITING], now, ARGV[MEMBER])
  redis.call('PEXPIRE', KEYS[WAITING], ARGV[STALE_MS])
end
"""


def lua(snippet: str, **slots: int) -> str:
    """A snippet with its KEYS and ARGV positions filled in."""
    for name, position in slots.items():
        snippet = snippet.replace(f"[{name}]", f"[{position}]")
    return snippet


# KEYS: the person's questions, the question's told mark.
# ARGV: now ms, member, cap, stale ms, told TTL s.
_TAKE = (
    "local now = tonumber(ARGV[1])\n"
    + lua(
        CAP_CHECK + "if capped then return told and 'warn' or 'quiet' end\n" + CAP_ADD,
        WAITING=1,
        TOLD=2,
        MEMBER=2,
        CAP=3,
        STALE_MS=4,
        TOLD_TTL=5,
    )
    + "return 'ok'\n"
)

Verdict = Literal["ok", "warn", "quiet"]


def member(job: Job) -> str:
    """What stands for the job in its asker's set: unique across threads."""
    return f"{job.channel_id}:{job.thread_ts}:{job.request_key}"


class QueuedQuestions:
    """USER_QUEUED_QUESTIONS: a person's questions queued or being answered, at most."""

    def __init__(self, redis: Redis, cap: int) -> None:
        self.redis = redis
        self.cap = cap
        self._take = redis.register_script(_TAKE)

    def counts(self, job: Job) -> bool:
        """Whether the job counts towards its asker's cap."""
        return self.cap > 0 and job.user_id is not None and job.action != "forget"

    async def take(self, job: Job) -> Verdict:
        """Count the job: `ok` under the cap, else `warn` (say so) or `quiet` (said)."""
        if not self.counts(job):
            return "ok"
        assert job.user_id is not None
        verdict = await self._take(
            keys=[
                keys.waiting(job.team_id, job.user_id),
                keys.waiting_told(job.team_id, job.user_id, job.request_key),
            ],
            args=[
                int(time.time() * 1000),
                member(job),
                self.cap,
                keys.WAITING_STALE_SECONDS * 1000,
                keys.WAITING_TOLD_TTL_SECONDS,
            ],
        )
        return cast(Verdict, str(verdict))

    async def release(self, job: Job) -> None:
        """The job's turn is over (or never got queued): it stops counting."""
        if self.counts(job):
            assert job.user_id is not None
            await self.redis.zrem(keys.waiting(job.team_id, job.user_id), member(job))

    def releasing(
        self, handle: Callable[[QueuedJob], Awaitable[None]]
    ) -> Callable[[QueuedJob], Awaitable[None]]:
        """`handle`, then release the job's place; not if it raised (it is tried again)."""

        async def handled(queued: QueuedJob) -> None:
            await handle(queued)
            try:
                await self.release(queued.job)
            except Exception:
                # The turn is done: the place frees itself once stale.
                logger.warning("could not release %s", queued.job.ids, exc_info=True)

        return handled
