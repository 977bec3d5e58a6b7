"""A real `vision-bot socket` process over a WebSocket to the fake Slack: acks, answers, exits."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests import samples
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import CHANNEL, USER, answer, eventually, next_ts
from tests.processes import bot_env, spawn, wait_healthy
from tests.redis_topologies import free_port


@pytest.fixture
async def bot_process(
    slack: FakeSlack, claude: FakeClaude, redis: object, tmp_path: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`vision-bot` with SLACK_APP_TOKEN set and no subcommand: Socket Mode, connected."""
    env = bot_env(slack, claude, SLACK_APP_TOKEN=slack.app_token, REDIS_URL=TEST_REDIS_URL)
    process = await spawn(env=env, cwd=tmp_path)
    try:
        if not await slack.wait_socket_connected(timeout=30):
            process.kill()
            _, stderr = await process.communicate()
            pytest.fail(f"the bot never connected over Socket Mode:\n{stderr.decode()[-2000:]}")
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_mention_over_socket_mode_is_acked_and_answered_in_its_thread(
    slack: FakeSlack, claude: FakeClaude, bot_process: asyncio.subprocess.Process
) -> None:
    ts = next_ts()
    envelope_id = await slack.socket_send("events_api", _mention(slack, ts, "what is this?"))

    assert await slack.socket_ack(envelope_id) == {"envelope_id": envelope_id}

    async def answered() -> bool:
        return bool(slack.reply_texts(CHANNEL, ts))

    await eventually(answered, timeout=15)
    await eventually(lambda: _finished(slack, ts), timeout=15)
    assert slack.reply_texts(CHANNEL, ts) == [answer(1, 1)]
    assert claude.image_blocks(claude.requests[0])


async def test_the_slash_command_answers_in_the_socket_ack(
    slack: FakeSlack, bot_process: asyncio.subprocess.Process
) -> None:
    form = {
        "team_id": slack.team_id,
        "channel_id": CHANNEL,
        "user_id": USER,
        "command": "/vision",
        "text": "list",
        "api_app_id": slack.app_id,
        "response_url": "https://hooks.slack.com/commands/T/1/x",
        "trigger_id": "trigger-1",
    }
    envelope_id = await slack.socket_send("slash_commands", form, accepts_response_payload=True)

    ack = await slack.socket_ack(envelope_id)

    assert ack is not None
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "• *debug*: Error screenshots" in ack["payload"]["text"]


async def test_sigterm_finishes_the_answer_in_flight_closes_the_socket_and_exits(
    slack: FakeSlack, claude: FakeClaude, bot_process: asyncio.subprocess.Process
) -> None:
    claude.reply = "A long answer, streamed slowly. " * 8
    claude.chunk_delay = 0.05  # about 2.5 s of streaming
    ts = next_ts()
    await slack.socket_send("events_api", _mention(slack, ts, "explain"))

    async def streaming() -> bool:
        return bool(slack.reply_texts(CHANNEL, ts))

    await eventually(streaming, timeout=15)
    bot_process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(bot_process.communicate(), timeout=40)

    assert bot_process.returncode == 0, stderr.decode()[-2000:]
    assert not slack.socket_connected
    (reply,) = slack.reply_texts(CHANNEL, ts)
    assert reply.startswith(claude.reply)  # finished, footer and all
    assert await _finished(slack, ts)


async def test_socket_mode_serves_health_on_the_port_given_and_metrics_on_their_own(
    slack: FakeSlack, claude: FakeClaude, redis: object, tmp_path: Path
) -> None:
    port, metrics = free_port(), free_port()
    env = bot_env(slack, claude, SLACK_APP_TOKEN=slack.app_token, REDIS_URL=TEST_REDIS_URL)
    env["METRICS_PORT"] = str(metrics)
    process = await spawn("socket", "--port", str(port), env=env, cwd=tmp_path)
    try:
        assert await slack.wait_socket_connected(timeout=30)
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, f"http://127.0.0.1:{port}", timeout=10)
            async with http.get(f"http://127.0.0.1:{metrics}/metrics") as response:
                assert "vision_bot_turns" in await response.text()
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 404
            async with http.post(f"http://127.0.0.1:{port}/slack/events", data="{}") as response:
                assert response.status in (404, 405)  # events come over the socket only
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)
        assert process.returncode == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _finished(slack: FakeSlack, ts: str) -> bool:
    messages = slack.messages(CHANNEL, ts)
    return bool(messages) and all(m.stopped for m in messages)


def _mention(slack: FakeSlack, ts: str, question: str) -> dict[str, Any]:
    """The events_api payload of a user @-mentioning the bot on a new screenshot."""
    event = {
        "type": "app_mention",
        "user": USER,
        "text": f"<@{slack.bot_user_id}> {question}",
        "ts": ts,
        "channel": CHANNEL,
        "team": slack.team_id,
        "files": [slack.add_file(f"F{ts[-3:]}", "shot.png", samples.png())],
    }
    return slack.event_callback(event)
