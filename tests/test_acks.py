"""Slack's acks come first: a turn starts once the deliveries in flight are acknowledged."""

from __future__ import annotations

import asyncio

import pytest

from tests import samples
from tests.harness import Harness, eventually

SLOW_SLACK = 0.4  # under bot.acks.MAX_WAIT_SECONDS: the turn waits for the ack, not the cap


@pytest.mark.parametrize("settings_overrides", [{"admin_users": "U0ADMIN"}])
async def test_a_turn_waits_for_the_acks_in_flight_before_it_starts(harness: Harness) -> None:
    # `/vision off` from someone not in ADMIN_USERS asks Slack who they are before its ack.
    harness.slack.delays["users.info"] = SLOW_SLACK
    command = asyncio.create_task(harness.command("off"))

    async def asking_slack() -> bool:
        return bool(harness.slack.calls_to("users.info"))

    await eventually(asking_slack)
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    asked = await harness.mention("what?", files=[shot])
    await command
    assert len(await harness.replies(asked["ts"])) == 1

    (who,) = harness.slack.calls_to("users.info")
    started = min(
        call.at
        for call in harness.slack.calls_to("assistant.threads.setStatus")
        if call.args.get("thread_ts") == asked["ts"]
    )
    assert started >= who.at + SLOW_SLACK  # not before Slack answered and the command's ack
