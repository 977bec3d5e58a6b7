"""What the bot logs at INFO: no probe or scrape lines, no SDK chatter, one line per outage."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.app import build_services
from bot.server import READY, build_health_app
from bot.store.connection import connect
from tests import samples
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import CHANNEL, eventually, make_settings
from tests.processes import serving
from tests.redis_topologies import free_port
from tests.test_startup import closed_port


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_probes_scrapes_and_sdk_requests_stay_out_of_the_log(
    slack: FakeSlack, claude: FakeClaude, redis: object, tmp_path: Path, level: str
) -> None:
    metrics = free_port()
    env = {"LOG_LEVEL": level, "METRICS_PORT": str(metrics)}
    async with serving(slack, claude, tmp_path, **env) as (process, harness):
        for _ in range(3):
            async with harness.http.get(f"{harness.url}/healthz") as response:
                assert response.status == 200
            async with harness.http.get(f"http://127.0.0.1:{metrics}/metrics") as response:
                assert response.status == 200
        shot = slack.add_file("F1", "a.png", samples.png())
        msg = await harness.mention("what is this?", files=[shot])

        async def answered() -> bool:
            messages = slack.messages(CHANNEL, msg["ts"])
            return bool(messages) and all(m.stopped for m in messages)

        await eventually(answered, timeout=15)
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    stderr = err.decode()

    assert '"POST /slack/events' in stderr  # Slack's deliveries, with their status
    assert "GET /healthz" not in stderr
    assert "GET /metrics" not in stderr
    # The SDKs' line per API call only when debugging; their request bodies never.
    assert ("HTTP Request: POST" in stderr) is (level == "DEBUG")
    assert "Request options" not in stderr
    assert "iVBORw0KGgo" not in stderr  # a PNG in base64


async def test_a_redis_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    slack: FakeSlack, claude: FakeClaude, redis: object, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.server")
    settings = make_settings(slack, claude, TEST_REDIS_URL)
    services = build_services(settings, redis=connect(f"redis://127.0.0.1:{closed_port()}/0"))
    app = build_health_app(services)
    app[READY]["ready"] = True
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http:

            async def probe() -> int:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    return response.status

            assert [await probe() for _ in range(4)] == [503] * 4
            await services.redis.aclose()
            services.redis = connect(TEST_REDIS_URL)
            assert [await probe() for _ in range(3)] == [200] * 3
    finally:
        await runner.cleanup()
        await services.close()

    records = [r for r in caplog.records if r.name == "bot.server" and "Redis" in r.message]
    assert [r.levelno for r in records] == [logging.WARNING, logging.INFO]
    assert "not answering (ConnectionError" in records[0].message
    assert records[0].exc_info is None  # no traceback
