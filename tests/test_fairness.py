"""Fair turns: a flood in one thread, or from one person, doesn't hold up anyone else."""

from __future__ import annotations

import asyncio

import pytest

from bot.fairness import AnswerSlots
from tests import samples
from tests.harness import Harness


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Two answer slots: small enough for a flood of five replies to fill them."""
    return {"max_concurrent_turns": 2}


def _asked(harness: Harness) -> list[str]:
    """Each Claude request's question, in the order Claude was asked."""
    return [r["messages"][-1]["content"][-1]["text"] for r in harness.claude.requests]


async def test_a_flood_of_replies_in_one_thread_does_not_hold_up_another_thread(
    harness: Harness,
) -> None:
    harness.claude.chunk_delay = 0.05  # each answer streams for a few tenths of a second
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    flooded = await harness.mention("one", files=[shot])
    await harness.replies(flooded["ts"])

    for n in range(2, 7):  # follow-ups need no mention; each waits for the one before
        await harness.message(f"flood {n}", thread_ts=flooded["ts"])
    other = harness.slack.add_file("F2", "b.png", samples.png("blue"))
    await harness.mention("elsewhere", files=[other], user="U0OTHER")
    await harness.settle(timeout=30)

    asked = _asked(harness)
    # Turns waiting for their thread hold no answer slot: the other thread's question
    # goes to Claude beside the flood's current reply, not after the whole flood.
    assert asked.index("elsewhere") < asked.index("flood 4"), asked
    assert [q for q in asked if q.startswith("flood")] == [f"flood {n}" for n in range(2, 7)]


async def test_a_person_asking_a_lot_does_not_hold_up_someone_else() -> None:
    slots = AnswerSlots(1)
    order: list[str] = []
    release = asyncio.Event()

    async def answer(owner: str, name: str) -> None:
        async with slots.answering(owner):
            order.append(name)
            await release.wait()

    first = asyncio.create_task(answer("busy", "busy 1"))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(answer("busy", f"busy {n}")) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    waiting.append(asyncio.create_task(answer("quiet", "quiet 1")))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiting)

    # The slot goes to whoever has fewest answers running, then first come first served.
    assert order == ["busy 1", "quiet 1", "busy 2", "busy 3", "busy 4"]


async def test_a_parked_turn_leaves_room_to_read_another() -> None:
    slots = AnswerSlots(1)
    slots.enter()
    assert slots.free == 0
    with slots.parked():
        assert slots.free == 1  # waiting for its thread's earlier turn: no slot held
    assert slots.free == 0
    slots.leave()
    assert slots.free == 1
