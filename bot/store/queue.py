"""The durable queue of accepted turns: a Redis Stream read by a consumer group."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot.models import Job
from bot.store import keys

logger = logging.getLogger(__name__)

# A job that has crashed this many workers is dropped rather than retried forever.
MAX_DELIVERIES = 3


@dataclass(frozen=True)
class QueuedJob:
    """A job read from the stream, with what is needed to acknowledge it."""

    entry_id: str
    job: Job
    ticket: int
    deliveries: int = 1

    @property
    def exhausted(self) -> bool:
        """Whether the job has crashed enough workers to be given up rather than retried."""
        return self.deliveries > MAX_DELIVERIES


@dataclass
class Batch:
    """What one read of the stream found: jobs to run, and how many entries were unreadable."""

    jobs: list[QueuedJob] = field(default_factory=list)
    unreadable: int = 0


class TurnQueue:
    """Hands each queued job to exactly one worker at a time."""

    def __init__(self, redis: Redis, consumer: str) -> None:
        self.redis = redis
        self.consumer = consumer

    async def ensure_group(self) -> None:
        """Create the stream and its consumer group if they don't exist yet."""
        try:
            await self.redis.xgroup_create(keys.STREAM, keys.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def push(self, job: Job, ticket: int) -> str:
        """Append a job to the stream."""
        entry_id = await self.redis.xadd(
            keys.STREAM,
            {"job": job.model_dump_json(), "ticket": ticket},
            maxlen=keys.STREAM_MAXLEN,
            approximate=True,
        )
        return str(entry_id)

    async def read(self, count: int, block_ms: int) -> Batch:
        """New jobs for this consumer, waiting up to `block_ms` for one."""
        reply: Any = await self.redis.xreadgroup(
            keys.GROUP, self.consumer, {keys.STREAM: ">"}, count=count, block=block_ms
        )
        batch = Batch()
        for entry_id, fields in reply[0][1] if reply else []:
            await self._sort(batch, str(entry_id), fields)
        return batch

    async def reclaim(self, min_idle_ms: int, count: int) -> Batch:
        """Jobs another consumer took but stopped working on (its process died)."""
        # Exhausted ones are among them: the caller gives them up and acknowledges them.
        # Redis 6.2 answers [cursor, entries]; 7.0 added a third element, the deleted ids.
        reply: Any = await self.redis.xautoclaim(
            keys.STREAM, keys.GROUP, self.consumer, min_idle_ms, start_id="0-0", count=count
        )
        batch = Batch()
        for entry_id, fields in reply[1]:
            if fields is None:  # trimmed from the stream meanwhile
                await self.ack(entry_id)
                continue
            deliveries = await self._deliveries(entry_id)
            await self._sort(batch, str(entry_id), fields, deliveries)
        return batch

    async def touch(self, entry_ids: list[str]) -> None:
        """Reset the idle time of jobs still being worked on, so nobody reclaims them."""
        if entry_ids:
            ids: list[Any] = list(entry_ids)
            await self.redis.xclaim(keys.STREAM, keys.GROUP, self.consumer, 0, ids, justid=True)

    async def ack(self, entry_id: str) -> None:
        """Mark a job done and drop it from the stream."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xack(keys.STREAM, keys.GROUP, entry_id)
            pipe.xdel(keys.STREAM, entry_id)
            await pipe.execute()

    async def leave(self) -> None:
        """Remove this consumer from the group on a clean exit, if it holds no jobs."""
        consumers = await self.redis.xinfo_consumers(keys.STREAM, keys.GROUP)
        mine = [c for c in consumers if c["name"] == self.consumer]
        if mine and int(mine[0]["pending"]) == 0:
            await self.redis.xgroup_delconsumer(keys.STREAM, keys.GROUP, self.consumer)

    async def _deliveries(self, entry_id: str) -> int:
        pending = await self.redis.xpending_range(
            keys.STREAM, keys.GROUP, min=entry_id, max=entry_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 1

    async def _sort(
        self, batch: Batch, entry_id: str, fields: dict[str, str], deliveries: int = 1
    ) -> None:
        """Add the entry to the batch's jobs, or acknowledge it as unreadable."""
        # One at a time: an entry this version can't read (garbage, or written by a newer
        # version mid-deploy) must not hold up the turns read with it.
        try:
            batch.jobs.append(
                QueuedJob(
                    entry_id=entry_id,
                    job=Job.model_validate_json(fields["job"]),
                    ticket=int(fields.get("ticket", 0)),
                    deliveries=deliveries,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:  # pydantic's ValidationError too
            logger.error("dropped an unreadable turn %s: %s", entry_id, _short(exc))
            await self.ack(entry_id)
            batch.unreadable += 1


def _short(exc: Exception) -> str:
    """The first line of an error, for a log line (not the whole validation report)."""
    text = str(exc).splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
