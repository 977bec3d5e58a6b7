"""Per-thread conversation history in Redis: turns, engagement, template and answer order."""

from __future__ import annotations

from dataclasses import dataclass, field

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bot.models import FileRef, SlackFile, ThreadRef, Turn
from bot.store import keys

DROPPED = "pending_dropped"  # the meta field counting waiting files dropped past the cap

# Files posted without a question join the waiting list, once each (a retried delivery
# adds nothing), and the list keeps its newest `cap`; the ones that fall off are counted.
# KEYS: the pending list, the thread's meta. ARGV: cap, TTL seconds, the meta field counting
# the dropped, the files' JSON.
_ADD_PENDING = """
local cap, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 4, #ARGV do
  if not redis.call('LPOS', KEYS[1], ARGV[i]) then redis.call('RPUSH', KEYS[1], ARGV[i]) end
end
local over = redis.call('LLEN', KEYS[1]) - cap
if over > 0 then
  redis.call('LTRIM', KEYS[1], over, -1)
  local was = math.max(0, tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0'))
  redis.call('HSET', KEYS[2], ARGV[3], was + over)
  redis.call('EXPIRE', KEYS[2], ttl)
end
redis.call('EXPIRE', KEYS[1], ttl)
return over
"""


@dataclass(frozen=True)
class Pending:
    """The files waiting for the thread's next question, and how many were dropped before."""

    files: list[SlackFile] = field(default_factory=list)
    dropped: int = 0  # past keys.PENDING_MAX_FILES: never to be read
    raw: tuple[str, ...] = ()  # as stored, so taking them removes exactly these


class ThreadHistory:
    """What the bot remembers of each thread, kept for `ttl_seconds` after the last turn."""

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self._add_pending = redis.register_script(_ADD_PENDING)

    async def turns(self, thread: ThreadRef) -> list[Turn]:
        """The thread's turns, oldest first."""
        raw = await self.redis.lrange(keys.turns(thread), 0, -1)
        return [Turn.model_validate_json(item) for item in raw]

    async def record_exchange(
        self,
        thread: ThreadRef,
        question: Turn,
        answer: Turn,
        *,
        answered: str,
        pending: Pending | None = None,
    ) -> None:
        """Save a question and its answer together and refresh the thread's TTL."""
        # The files that were waiting for a question went with this one.
        async with self.redis.pipeline(transaction=True) as pipe:
            taking = self._take(pipe, thread, pending)
            pipe.rpush(keys.turns(thread), question.model_dump_json(), answer.model_dump_json())
            self._answered(pipe, thread, answered)
            results = await pipe.execute()
        await self._uncount(thread, results[:taking])
        await self._remember_uploads(thread, question)

    async def add_pending(self, thread: ThreadRef, files: list[SlackFile]) -> None:
        """Keep files posted in the thread without a question for its next question."""
        # The newest PENDING_MAX_FILES: a question prepares no more than a request carries.
        await self._add_pending(
            keys=[keys.pending(thread), keys.meta(thread)],
            args=[keys.PENDING_MAX_FILES, self.ttl, DROPPED, *(f.model_dump_json() for f in files)],
        )

    async def drop_pending(self, thread: ThreadRef, pending: Pending | None) -> None:
        """Forget the files that were waiting for a question (they have had one)."""
        if pending is None:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            taking = self._take(pipe, thread, pending)
            results = await pipe.execute()
        await self._uncount(thread, results[:taking])

    async def pending(self, thread: ThreadRef) -> Pending:
        """The files waiting for the thread's next question, oldest first."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(keys.pending(thread), 0, -1)
            pipe.hget(keys.meta(thread), DROPPED)
            raw, dropped = await pipe.execute()
        files = [SlackFile.model_validate_json(item) for item in raw]
        return Pending(files, max(0, int(dropped or 0)), tuple(raw))

    @staticmethod
    def _take(pipe: Pipeline, thread: ThreadRef, pending: Pending | None) -> int:
        """Queue removing exactly these waiting files first; how many commands that is."""
        # Not by position: more may have come since, and the cap may have moved the list.
        if pending is None:
            return 0
        for raw in pending.raw:
            pipe.lrem(keys.pending(thread), 0, raw)
        if pending.dropped:  # the field exists then: no key is made without a TTL
            pipe.hincrby(keys.meta(thread), DROPPED, -pending.dropped)
        return len(pending.raw)

    async def _uncount(self, thread: ThreadRef, removed: list[int]) -> None:
        """Taken files the cap pushed out meanwhile were counted as dropped: they were not."""
        if gone := sum(not count for count in removed):
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(keys.meta(thread), DROPPED, -gone)
                pipe.expire(keys.meta(thread), self.ttl)
                await pipe.execute()

    async def replace(
        self, thread: ThreadRef, turns: list[Turn], *, answered: str | None = None
    ) -> None:
        """Rewrite the thread's turns (a re-answer, or files re-uploaded under new ids)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.turns(thread))
            if turns:
                pipe.rpush(keys.turns(thread), *(t.model_dump_json() for t in turns))
            self._answered(pipe, thread, answered)
            await pipe.execute()
        for turn in turns:
            await self._remember_uploads(thread, turn)

    def _answered(self, pipe: Pipeline, thread: ThreadRef, answered: str | None) -> None:
        pipe.hset(keys.meta(thread), mapping={"engaged": 1, "seeded": 1})
        if answered:
            pipe.hset(keys.meta(thread), f"answered:{answered}", 1)
        for key in keys.thread_keys(thread):
            pipe.expire(key, self.ttl)

    async def _remember_uploads(self, thread: ThreadRef, turn: Turn) -> None:
        """Note which uploads the thread uses, so forgetting it can delete the unshared ones."""
        for ref in turn.files:
            if ref.url:
                continue  # a link: nothing stored anywhere
            key = keys.upload_threads(thread.team_id, ref.sha256)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.sadd(key, keys.thread_tag(thread))
                pipe.expire(key, self.ttl)
                await pipe.execute()

    async def mark_answered(self, thread: ThreadRef, key: str) -> None:
        """Note a request as handled without an exchange to keep (the thread stays as read)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.meta(thread), mapping={"seeded": 1, f"answered:{key}": 1})
            pipe.expire(keys.meta(thread), self.ttl)
            await pipe.execute()

    async def is_engaged(self, thread: ThreadRef) -> bool:
        """Whether the bot has answered in this thread."""
        return bool(await self.redis.hexists(keys.meta(thread), "engaged"))

    async def takes_follow_ups(self, thread: ThreadRef) -> bool:
        """Whether messages in this thread need no mention: answered, or a turn accepted."""
        values = await self.redis.hmget(keys.meta(thread), ["engaged", "accepted"])
        return any(values)

    async def unaccept(self, thread: ThreadRef) -> None:
        """Stop taking follow-ups in a thread where the bot has not answered after all."""
        if not await self.is_engaged(thread):
            await self.redis.hdel(keys.meta(thread), "accepted")

    async def is_seeded(self, thread: ThreadRef) -> bool:
        """Whether the thread's earlier Slack messages have already been read (or forgotten)."""
        return bool(await self.redis.hexists(keys.meta(thread), "seeded"))

    async def was_answered(self, thread: ThreadRef, key: str) -> bool:
        """Whether this request already has its answer (a redelivered job is then a no-op)."""
        return bool(await self.redis.hexists(keys.meta(thread), f"answered:{key}"))

    async def template(self, thread: ThreadRef) -> str | None:
        """The template chosen in the thread, if any."""
        value = await self.redis.hget(keys.meta(thread), "template")
        return str(value) if value else None

    async def set_template(self, thread: ThreadRef, name: str) -> None:
        """Make `name` the thread's template for follow-ups."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.meta(thread), "template", name)
            pipe.expire(keys.meta(thread), self.ttl)
            await pipe.execute()

    async def forget(self, thread: ThreadRef, *, answered: str) -> list[FileRef]:
        """Delete the thread's turns and choices; the stored files no thread uses now."""
        # The thread stays marked as read, so what was posted before is not read again, and
        # its ticket counters stay, so turns queued behind this one keep their order.
        refs = {r.sha256: r for t in await self.turns(thread) for r in t.files if not r.url}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.turns(thread), keys.pending(thread))
            pipe.hdel(keys.meta(thread), "engaged", "accepted", "template", DROPPED)
            pipe.hset(keys.meta(thread), mapping={"seeded": 1, f"answered:{answered}": 1})
            pipe.expire(keys.meta(thread), self.ttl)
            await pipe.execute()
        unused = []
        for sha, ref in sorted(refs.items()):
            if not await self._still_used(thread, sha):
                unused.append(ref)
        return unused

    async def _still_used(self, forgotten: ThreadRef, sha256: str) -> bool:
        key = keys.upload_threads(forgotten.team_id, sha256)
        await self.redis.srem(key, keys.thread_tag(forgotten))
        for tag in await self.redis.smembers(key):
            if await self.redis.exists(keys.turns_by_tag(str(tag))):
                return True
            await self.redis.srem(key, tag)  # that thread has expired
        return False
