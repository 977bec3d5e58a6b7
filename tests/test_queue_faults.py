"""The turn queue under Redis faults: old servers, failed commands, slow replies, bad entries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import pytest
from redis.asyncio import Redis

from bot.fairness import AnswerSlots
from bot.models import Job
from bot.store import keys
from bot.store.queue import QueuedJob, TurnQueue
from bot.workers import Workers
from tests.conftest import TEST_REDIS_URL
from tests.harness import Harness, eventually
from tests.resp_proxy import RespProxy, Rule, as_redis_6_2_xautoclaim, resp_proxy

_REAL = urlsplit(TEST_REDIS_URL)


@pytest.fixture
async def proxy(redis: Redis) -> AsyncIterator[RespProxy]:
    """A proxy in front of the test Redis; rules are set per test."""
    async with resp_proxy(_REAL.hostname or "127.0.0.1", _REAL.port or 6379) as running:
        yield running


def _client(proxy: RespProxy) -> Redis:
    return Redis.from_url(f"{proxy.url}{_REAL.path}", decode_responses=True)


def _job(n: int) -> Job:
    ts = f"1700000000.{n:06d}"
    return Job(team_id="T", channel_id="C", message_ts=ts, thread_ts=ts, text=f"q{n}")


async def test_turns_of_a_dead_process_are_taken_over_on_redis_6_2(
    redis: Redis, proxy: RespProxy
) -> None:
    # Redis 6.2 answers XAUTOCLAIM with [cursor, entries]; 7.0 added the deleted ids.
    proxy.rules["XAUTOCLAIM"] = Rule(rewrite=as_redis_6_2_xautoclaim)
    dead = TurnQueue(redis, "dead")
    await dead.ensure_group()
    await dead.push(_job(1), ticket=1)
    assert len((await dead.read(count=10, block_ms=100)).jobs) == 1  # then the process died

    client = _client(proxy)
    try:
        taken = await TurnQueue(client, "alive").reclaim(0, count=10)
    finally:
        await client.aclose()

    assert [q.job.text for q in taken.jobs] == ["q1"]
    assert "XAUTOCLAIM" in proxy.seen


async def test_the_read_loop_survives_a_failure_while_creating_the_queue_again(
    redis: Redis, proxy: RespProxy
) -> None:
    client = _client(proxy)
    handled: list[str] = []

    async def handle(queued: QueuedJob) -> None:
        handled.append(queued.job.text)

    workers = Workers(
        TurnQueue(client, "w"), handle, slots=AnswerSlots(2), claim_timeout=30, block_ms=100
    )
    try:
        await workers.start()
        # Redis restarted without persistence (the stream is gone), then a failover makes
        # the first attempt to create it again fail.
        failover = Rule(error="READONLY You can't write against a read only replica.", times=1)
        proxy.rules["XGROUP"] = failover
        await redis.delete(keys.STREAM)
        await eventually(lambda: _used(failover), timeout=5)
        await eventually(lambda: _has_group(redis), timeout=10)
        await TurnQueue(redis, "asker").push(_job(2), ticket=1)
        await eventually(lambda: _is(handled, ["q2"]), timeout=10)
        assert workers.alive
    finally:
        await workers.stop(grace_seconds=1)
        await client.aclose()


async def test_healthz_fails_once_a_worker_loop_has_stopped(harness: Harness) -> None:
    workers = harness.bot.services.workers
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{harness.bot.url}/healthz") as response:
            assert response.status == 200
        # A loop ended by something no `except Exception` catches (the bug it guards against).
        workers._loops[0].cancel()
        await asyncio.sleep(0.05)
        async with http.get(f"{harness.bot.url}/healthz") as response:
            body = await response.json()
    assert response.status == 503
    assert body["status"] == "turn workers stopped"


async def test_a_full_process_keeps_the_claims_of_its_running_turns(
    redis: Redis, proxy: RespProxy
) -> None:
    # A slow XAUTOCLAIM returns a dead process's turn just after the read loop filled the
    # last slot: the process must keep refreshing the claim of the turn it is answering.
    proxy.rules["XAUTOCLAIM"] = Rule(delay=0.6)
    dead = TurnQueue(redis, "dead")
    await dead.ensure_group()
    await dead.push(_job(1), ticket=1)
    await dead.read(count=10, block_ms=100)
    await asyncio.sleep(1.6)  # the dead process's turn is now reclaimable

    client = _client(proxy)
    running = asyncio.Event()

    async def slow(queued: QueuedJob) -> None:
        running.set()
        await asyncio.sleep(4)  # a long answer: well past the 1.5 s claim timeout

    workers = Workers(TurnQueue(client, "full"), slow, slots=AnswerSlots(1), claim_timeout=1.5)
    other = TurnQueue(redis, "other")
    stolen: list[str] = []
    try:
        await workers.start()
        await asyncio.sleep(0.7)  # the reclaim pass is waiting on XAUTOCLAIM now
        live = await TurnQueue(redis, "asker").push(_job(2), ticket=1)
        await asyncio.wait_for(running.wait(), timeout=5)
        await asyncio.sleep(0.6)  # the slow XAUTOCLAIM has answered
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            stolen += [q.entry_id for q in (await other.reclaim(1500, count=10)).jobs]
            await asyncio.sleep(0.2)
    finally:
        await workers.stop(grace_seconds=5)
        await client.aclose()

    assert live not in stolen


async def test_an_unreadable_entry_does_not_hold_up_the_turns_read_with_it(redis: Redis) -> None:
    handled: list[str] = []
    unreadable: list[int] = []

    async def handle(queued: QueuedJob) -> None:
        handled.append(queued.job.text)

    queue = TurnQueue(redis, "w")
    await queue.ensure_group()
    # Written by a newer version mid-deploy, or garbage: between two good turns.
    await queue.push(_job(1), ticket=1)
    await redis.xadd(keys.STREAM, {"job": '{"team_id": 7}', "ticket": "1"})
    await queue.push(_job(3), ticket=1)
    workers = Workers(
        queue,
        handle,
        slots=AnswerSlots(4),
        claim_timeout=60,  # nothing is retried within the test
        block_ms=100,
        on_unreadable=unreadable.append,
    )
    try:
        await workers.start()
        await eventually(lambda: _is(sorted(handled), ["q1", "q3"]), timeout=5)
        await eventually(lambda: _stream_is_empty(redis), timeout=5)
    finally:
        await workers.stop(grace_seconds=1)

    assert unreadable == [1]


async def _used(rule: Rule) -> bool:
    return rule.times == 0


async def _has_group(redis: Redis) -> bool:
    try:
        return bool(await redis.xinfo_groups(keys.STREAM))
    except Exception:
        return False


async def _is(seen: list[str], expected: list[str]) -> bool:
    return seen == expected


async def _stream_is_empty(redis: Redis) -> bool:
    pending = await redis.xpending(keys.STREAM, keys.GROUP)
    return await redis.xlen(keys.STREAM) == 0 and pending["pending"] == 0
