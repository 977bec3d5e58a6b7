"""The workers on the real Redis stream: claims stay fresh through a shutdown's grace."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from bot.fairness import AnswerSlots
from bot.models import Job
from bot.store.queue import QueuedJob, TurnQueue
from bot.workers import Workers
from tests.conftest import TEST_REDIS_URL


async def test_a_turn_finishing_in_the_grace_is_not_reclaimed_by_another_process(
    redis: Redis,
) -> None:
    client = Redis.from_url(TEST_REDIS_URL, decode_responses=True)
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow(queued: QueuedJob) -> None:
        started.set()
        await asyncio.sleep(3)  # outlasts the 1.5 s claim timeout
        finished.set()

    queue = TurnQueue(client, "stopping")
    workers = Workers(queue, slow, slots=AnswerSlots(1), claim_timeout=1.5, block_ms=100)
    other = TurnQueue(client, "other")
    try:
        await workers.start()
        job = Job(team_id="T", channel_id="C", message_ts="1.1", thread_ts="1.1")
        await queue.push(job, ticket=1)
        await asyncio.wait_for(started.wait(), timeout=10)
        stopping = asyncio.create_task(workers.stop(grace_seconds=10))
        reclaimed: list[QueuedJob] = []
        while not stopping.done():
            reclaimed += (await other.reclaim(1500, count=10)).jobs
            await asyncio.sleep(0.2)
        await stopping
    finally:
        await client.aclose()

    assert finished.is_set()
    assert reclaimed == []
