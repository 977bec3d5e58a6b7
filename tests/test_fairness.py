"""Fair turns: a flood in one thread, or from one person, doesn't hold up anyone else."""

from __future__ import annotations

import asyncio

import pytest

from bot.fairness import AnswerSlots, ByteBudget
from tests import samples
from tests.harness import CHANNEL, Harness


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


async def test_base64_requests_in_flight_are_bounded_by_their_bytes() -> None:
    budget = ByteBudget(10)
    order: list[str] = []
    gates = {name: asyncio.Event() for name in ("a", "b", "c", "huge")}

    async def send(name: str, size: int) -> None:
        async with budget.hold(size):
            order.append(name)
            await gates[name].wait()

    a = asyncio.create_task(send("a", 6))
    await asyncio.sleep(0)
    b = asyncio.create_task(send("b", 6))  # doesn't fit beside a
    await asyncio.sleep(0)
    c = asyncio.create_task(send("c", 3))  # would fit, but doesn't overtake b
    await asyncio.sleep(0.01)
    assert order == ["a"]
    gates["a"].set()
    await asyncio.sleep(0.01)
    assert order == ["a", "b", "c"] and budget.in_use == 9
    huge = asyncio.create_task(send("huge", 50))  # over the whole budget: goes alone
    gates["b"].set()
    gates["c"].set()
    await asyncio.sleep(0.01)
    assert order[-1] == "huge" and budget.in_use == 50
    gates["huge"].set()
    await asyncio.gather(a, b, c, huge)
    assert budget.in_use == 0


@pytest.mark.parametrize(
    "settings_overrides",
    [{"claude_transport": "base64", "max_inline_mb_in_flight": 0.01}],  # about 10 KB
)
async def test_big_base64_requests_wait_for_room_instead_of_piling_up(harness: Harness) -> None:
    harness.claude.chunk_delay = 0.02
    shots = [harness.slack.add_file(f"F{n}", f"{n}.png", samples.noisy((96, 96))) for n in range(3)]
    asked = [await harness.mention(f"q{n}", files=[shot]) for n, shot in enumerate(shots)]
    await harness.settle(timeout=30)

    assert all(len(harness.slack.reply_texts(CHANNEL, a["ts"])) == 1 for a in asked)
    assert harness.claude.most_streaming == 1  # each request is over 10 KB: one at a time
