"""Per-thread conversation history in Redis: turns, engagement and answer order."""

from __future__ import annotations

from redis.asyncio import Redis

from bot import keys
from bot.models import ThreadRef, Turn


class ThreadHistory:
    """What the bot remembers of each thread, kept for `ttl_seconds` after the last turn."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds

    async def turns(self, thread: ThreadRef) -> list[Turn]:
        """The thread's turns, oldest first."""
        raw = await self.redis.lrange(keys.turns(thread), 0, -1)
        return [Turn.model_validate_json(item) for item in raw]

    async def record_exchange(self, thread: ThreadRef, question: Turn, answer: Turn) -> None:
        """Save a question and its answer together and refresh the thread's TTL."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(keys.turns(thread), question.model_dump_json(), answer.model_dump_json())
            pipe.hset(keys.meta(thread), mapping={"engaged": 1, "seeded": 1})
            if question.message_ts:
                pipe.hset(keys.meta(thread), f"answered:{question.message_ts}", 1)
            for key in keys.thread_keys(thread):
                pipe.expire(key, self.ttl)
            await pipe.execute()

    async def is_engaged(self, thread: ThreadRef) -> bool:
        """Whether the bot has answered in this thread (so follow-ups need no mention)."""
        return bool(await self.redis.hexists(keys.meta(thread), "engaged"))

    async def is_seeded(self, thread: ThreadRef) -> bool:
        """Whether the thread's earlier Slack messages have already been read."""
        return bool(await self.redis.hexists(keys.meta(thread), "seeded"))

    async def was_answered(self, thread: ThreadRef, message_ts: str) -> bool:
        """Whether this message already has its answer (a redelivered job is then a no-op)."""
        return bool(await self.redis.hexists(keys.meta(thread), f"answered:{message_ts}"))

    async def take_ticket(self, thread: ThreadRef) -> int:
        """The arrival number of a new turn in this thread."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(keys.meta(thread), "tickets", 1)
            pipe.expire(keys.meta(thread), self.ttl)
            ticket, _ = await pipe.execute()
        return int(ticket)

    async def served(self, thread: ThreadRef) -> int:
        """The highest ticket whose turn has been handled."""
        return int(await self.redis.hget(keys.meta(thread), "served") or 0)

    async def mark_served(self, thread: ThreadRef, ticket: int) -> None:
        """Record that the turn with this ticket is done (only the lock holder calls this)."""
        if ticket > await self.served(thread):
            await self.redis.hset(keys.meta(thread), "served", ticket)

    async def forget(self, thread: ThreadRef) -> None:
        """Delete everything remembered about the thread."""
        await self.redis.delete(*keys.thread_keys(thread))

    async def replace(self, thread: ThreadRef, turns: list[Turn]) -> None:
        """Rewrite the thread's turns (after files were re-uploaded under new ids)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.turns(thread))
            if turns:
                pipe.rpush(keys.turns(thread), *(t.model_dump_json() for t in turns))
                pipe.expire(keys.turns(thread), self.ttl)
            await pipe.execute()
