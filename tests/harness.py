"""A running bot (HTTP server, workers, real Redis) wired to the loopback fakes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot.app import Services, build_services
from bot.config import Settings, load_settings
from bot.server import METRICS, build_web_app, serve_metrics
from bot.store import keys
from bot.store.connection import connect
from tests.fakes import FakeClaude, FakeSlack
from tests.slack_signing import signed_headers

SIGNING_SECRET = "test-signing-secret"
TEAM = "T0TEAM"
CHANNEL = "C0CHAN"
USER = "U0ALICE"
_ts = itertools.count(1)


def answer(images: int, number: int, template: str = "describe") -> str:
    """What the thread shows for FakeClaude's default answer: its text and the footer."""
    return f"I see {images} image(s). **Answer {number}.**\n\n_Template: {template}_"


def next_ts() -> str:
    """A fresh Slack message ts."""
    return f"1700000000.{next(_ts):06d}"


def make_settings(
    slack: FakeSlack, claude: FakeClaude, redis_url: str, **overrides: Any
) -> Settings:
    """Settings pointing every client at the fakes."""
    values: dict[str, Any] = {
        "_env_file": None,
        "slack_bot_token": slack.bot_token,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "slack_file_hosts": ",".join(
            [slack.file_hostname("primary"), slack.file_hostname("origin")]
        ),
        "anthropic_api_key": claude.api_key,
        "anthropic_base_url": claude.base_url,
        "claude_max_retries": 0,
        "redis_url": redis_url,
        "turn_claim_timeout_seconds": 3.0,
    }
    values.update(overrides)
    return load_settings(**values)


def envelope(event: dict[str, Any], *, event_id: str, bot_user_id: str) -> dict[str, Any]:
    """An Events API `event_callback` around `event`, as Slack sends it to the app."""
    return {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": "A0APP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM, "user_id": bot_user_id, "is_bot": True}],
    }


@dataclass
class BotProcess:
    """One bot process: its services, its HTTP server and its URL."""

    services: Services
    runner: web.AppRunner
    url: str
    metrics_url: str  # GET /metrics: a port of its own, as METRICS_PORT gives it

    async def stop(self) -> None:
        """Shut down like SIGTERM would: finish in flight, close connections."""
        await self.runner.cleanup()


async def start_bot(settings: Settings, *, run_workers: bool = True) -> BotProcess:
    """Start a bot process on a free loopback port."""
    services = build_services(settings, redis=connect(settings.redis_url))
    app = build_web_app(services, run_workers=run_workers)
    serve_metrics(app, 0, "127.0.0.1")  # a free port: tests run several bots at once
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    metrics_port = app[METRICS].addresses[0][1]
    return BotProcess(
        services, runner, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics"
    )


@dataclass
class Harness:
    """Delivers signed Slack events to running bot processes and waits for the answers."""

    slack: FakeSlack
    claude: FakeClaude
    settings: Settings
    http: aiohttp.ClientSession
    bots: list[BotProcess] = field(default_factory=list)
    url: str | None = None  # a bot running elsewhere (another process), instead of `bots`
    event_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def bot(self) -> BotProcess:
        """The first bot process."""
        return self.bots[0]

    async def deliver(
        self,
        event: dict[str, Any],
        *,
        to: BotProcess | None = None,
        event_id: str | None = None,
        retry_num: int | None = None,
    ) -> aiohttp.ClientResponse:
        """POST an Events API delivery, signed, as Slack would."""
        event_id = event_id or f"Ev{next(self.event_ids):08d}"
        payload = envelope(event, event_id=event_id, bot_user_id=self.slack.bot_user_id)
        return await self.deliver_body(payload, to=to, retry_num=retry_num)

    async def deliver_body(
        self,
        payload: dict[str, Any],
        *,
        to: BotProcess | None = None,
        retry_num: int | None = None,
    ) -> aiohttp.ClientResponse:
        """POST a whole Events API body, signed (one that is no event_callback, say)."""
        body = json.dumps(payload)
        headers = {"Content-Type": "application/json", **signed_headers(SIGNING_SECRET, body)}
        if retry_num is not None:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        url = to.url if to else self.url or self.bot.url
        async with self.http.post(f"{url}/slack/events", data=body, headers=headers) as r:
            await r.read()
            return r

    async def _post_form(self, form: dict[str, str], to: BotProcess | None = None) -> Any:
        body = urlencode(form)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            **signed_headers(SIGNING_SECRET, body),
        }
        target = to or self.bot
        async with self.http.post(f"{target.url}/slack/events", data=body, headers=headers) as r:
            assert r.status == 200, await r.text()
            text = await r.text()
            return json.loads(text) if text.startswith("{") else text

    async def command(
        self, text: str = "", *, channel: str = CHANNEL, user: str = USER
    ) -> dict[str, Any]:
        """Run `/vision text` as a user would; the acknowledgement's JSON."""
        form = {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "test",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": "alice",
            "command": self.settings.slash_command,
            "text": text,
            "api_app_id": "A0APP",
            "response_url": "https://hooks.slack.com/commands/T0TEAM/1/x",
            "trigger_id": f"trigger-{next(self.event_ids)}",
        }
        response = await self._post_form(form)
        assert isinstance(response, dict), response
        return response

    async def interact(self, payload: dict[str, Any]) -> Any:
        """Deliver an interactivity payload (block_actions, message_action, view_submission)."""
        payload = {
            "team": {"id": TEAM, "domain": "test"},
            "user": {"id": USER, "team_id": TEAM},
            "api_app_id": "A0APP",
            "token": "legacy",
            **payload,
        }
        return await self._post_form({"payload": json.dumps(payload)})

    async def mention(
        self,
        text: str = "",
        *,
        files: list[dict[str, Any]] | None = None,
        channel: str = CHANNEL,
        ts: str | None = None,
        thread_ts: str | None = None,
        user: str = USER,
        both_events: bool = True,
    ) -> dict[str, Any]:
        """A user message that @-mentions the bot, delivered as Slack does (twice)."""
        ts = ts or next_ts()
        base: dict[str, Any] = {
            "user": user,
            "text": f"<@{self.slack.bot_user_id}> {text}".strip(),
            "ts": ts,
            "channel": channel,
            "team": TEAM,
        }
        if thread_ts:
            base["thread_ts"] = thread_ts
        if files:
            base["files"] = files
        await self.deliver({"type": "app_mention", **base})
        if both_events:
            subtype = {"subtype": "file_share"} if files else {}
            await self.deliver({"type": "message", "channel_type": "channel", **subtype, **base})
        return base

    async def message(
        self,
        text: str,
        *,
        files: list[dict[str, Any]] | None = None,
        channel: str = CHANNEL,
        channel_type: str = "channel",
        thread_ts: str | None = None,
        user: str = USER,
        extra: dict[str, Any] | None = None,
        to_bot: int = 0,
    ) -> dict[str, Any]:
        """A plain message event (no mention event alongside), to the `to_bot`th process."""
        event: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": next_ts(),
            "channel": channel,
            "channel_type": channel_type,
            "team": TEAM,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        if files:
            event["files"] = files
            event["subtype"] = "file_share"
        event.update(extra or {})
        await self.deliver(event, to=self.bots[to_bot])
        return event

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until every queued turn has been answered by some process."""
        redis = self.bot.services.redis
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queued = await redis.xlen(keys.STREAM)
            busy = sum(b.services.workers.in_flight for b in self.bots)
            if queued == 0 and busy == 0:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"turns still pending after {timeout}s")

    async def replies(self, thread_ts: str, channel: str = CHANNEL) -> list[str]:
        """What a user sees in the thread from the bot, after all work settles."""
        await self.settle()
        return self.slack.reply_texts(channel, thread_ts)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Wait until `check` passes."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def bot_on(
    slack: FakeSlack, claude: FakeClaude, redis_url: str, **overrides: Any
) -> AsyncIterator[Harness]:
    """A harness with one bot process on the Redis at `redis_url`, stopped on exit."""
    settings = make_settings(slack, claude, redis_url, **overrides)
    async with aiohttp.ClientSession() as http:
        harness = Harness(slack, claude, settings, http)
        harness.bots.append(await start_bot(settings))
        try:
            yield harness
        finally:
            for bot in harness.bots:
                await bot.stop()
