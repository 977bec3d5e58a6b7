"""The process around the pipeline: subscriptions, health, settings, limits."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from slack_bolt.async_app import AsyncApp

from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.store.connection import connect
from handlers import register_all
from tests import samples
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import CHANNEL, Harness, eventually, make_settings, next_ts, start_bot
from tests.processes import bot_env, run, serving
from tests.redis_topologies import free_port

ROOT = Path(__file__).resolve().parent.parent


class RecordingApp(AsyncApp):
    """A Bolt app that remembers what the handlers register."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registered: dict[str, set[str]] = {"event": set(), "command": set(), "shortcut": set()}

    def event(self, event: Any, *args: Any, **kwargs: Any) -> Any:
        self.registered["event"].add(event)
        return super().event(event, *args, **kwargs)

    def command(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        self.registered["command"].add(command)
        return super().command(command, *args, **kwargs)

    def shortcut(self, constraints: Any, *args: Any, **kwargs: Any) -> Any:
        self.registered["shortcut"].add(constraints)
        return super().shortcut(constraints, *args, **kwargs)


@pytest.mark.parametrize("manifest", ["manifest.yml", "manifest.socket.yml"])
async def test_the_manifest_subscribes_to_exactly_what_the_app_listens_for(
    harness: Harness, manifest: str
) -> None:
    data = yaml.safe_load((ROOT / "deploy" / manifest).read_text())
    app = RecordingApp(client=harness.bot.services.slack, signing_secret="s")
    register_all(app, harness.bot.services)

    events = {e.partition(".")[0] for e in data["settings"]["event_subscriptions"]["bot_events"]}
    assert events == app.registered["event"]
    commands = {c["command"] for c in data["features"]["slash_commands"]}
    assert commands == app.registered["command"]
    shortcuts = {s["callback_id"] for s in data["features"]["shortcuts"]}
    assert shortcuts == app.registered["shortcut"]


@pytest.mark.parametrize("manifest", ["manifest.yml", "manifest.socket.yml"])
async def test_every_subscribed_event_has_a_listener(harness: Harness, manifest: str) -> None:
    events = yaml.safe_load((ROOT / "deploy" / manifest).read_text())["settings"][
        "event_subscriptions"
    ]["bot_events"]
    channel_types = {"channels": "channel", "groups": "group", "im": "im", "mpim": "mpim"}
    assert events
    for name in events:
        kind, _, where = name.partition(".")
        event = {"type": kind, "user": "U0X", "text": "hi", "ts": next_ts(), "channel": CHANNEL}
        if where:
            event["channel_type"] = channel_types[where]
        response = await harness.deliver(event)
        assert response.status == 200, name  # Bolt answers 404 (and Slack retries) otherwise


async def test_health_check_answers_once_ready(harness: Harness) -> None:
    async with harness.http.get(f"{harness.bot.url}/healthz") as response:
        assert response.status == 200
        assert (await response.json())["ok"] is True


async def test_unsigned_requests_are_refused(harness: Harness) -> None:
    async with harness.http.post(f"{harness.bot.url}/slack/events", data="{}") as response:
        assert response.status == 401


@pytest.mark.parametrize("settings_overrides", [{"max_concurrent_turns": 1}])
async def test_a_process_works_on_a_bounded_number_of_turns(harness: Harness) -> None:
    harness.claude.reply = "A slow answer. " * 10
    harness.claude.chunk_delay = 0.05
    first = await harness.mention(
        "one?", files=[harness.slack.add_file("F1", "a.png", samples.png())]
    )
    second = await harness.mention(
        "two?", files=[harness.slack.add_file("F2", "b.png", samples.png("blue"))]
    )

    async def first_streaming() -> bool:
        return bool(harness.slack.reply_texts(CHANNEL, first["ts"]))

    await eventually(first_streaming)
    assert len(harness.claude.requests) == 1
    assert harness.slack.reply_texts(CHANNEL, second["ts"]) == []
    assert len(await harness.replies(second["ts"])) == 1


def test_a_missing_setting_names_the_variable_and_what_to_do() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None).require_slack()
    assert str(error.value).startswith("SLACK_BOT_TOKEN is not set")
    assert "deploy/manifest.yml (HTTP mode)" in str(error.value)
    assert "deploy/manifest.socket.yml (Socket Mode)" in str(error.value)


def test_a_missing_app_token_points_to_the_socket_mode_manifest() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, slack_bot_token="xoxb-1").require_socket()
    assert str(error.value).startswith("SLACK_APP_TOKEN is not set: Socket Mode needs")
    assert "deploy/manifest.socket.yml" in str(error.value)
    assert "deploy/manifest.yml" not in str(error.value)


def test_an_invalid_setting_is_named_without_echoing_secrets() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, slack_bot_token="xoxp-user-token-secret")
    assert "SLACK_BOT_TOKEN is invalid" in str(error.value)
    assert "secret" not in str(error.value)


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_FILE_HOSTS", "REDIS_URL"):
        monkeypatch.setenv(name, "")
    settings = load_settings(_env_file=None)
    assert settings.slack_bot_token is None and settings.slack_app_token is None
    assert settings.slack_file_hosts == ("files.slack.com", "files-origin.slack.com")
    assert settings.redis_url is None


@pytest.mark.parametrize("value", ["info", "Debug", " WARNING "])
def test_the_log_level_is_accepted_in_any_case(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LOG_LEVEL", value)
    assert load_settings(_env_file=None).log_level == value.strip().upper()


def test_an_unknown_log_level_is_refused() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, log_level="verbose")
    assert str(error.value).startswith("LOG_LEVEL is invalid")


def test_file_hosts_are_a_comma_separated_list() -> None:
    settings = load_settings(
        _env_file=None, slack_bot_token="xoxb-1", slack_file_hosts="files.slack.com, Files.Example"
    )
    assert settings.slack_file_hosts == ("files.slack.com", "files.example")


def test_the_command_stops_with_one_line_when_misconfigured(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "SLACK_BOT_TOKEN": "xoxb-test", "ANTHROPIC_API_KEY": "k"}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "vision-bot: SLACK_SIGNING_SECRET is not set: HTTP mode needs it (Basic Information → "
        "Signing Secret): create the Slack app from deploy/manifest.yml and copy it from the "
        "app's settings"
    ]


async def test_without_redis_url_the_embedded_store_warns(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    store = connect(None)
    await store.set("k", "v")
    assert await store.get("k") == "v"
    assert "not persisted" in caplog.text


async def test_the_embedded_store_runs_a_whole_conversation(
    slack: FakeSlack, claude: FakeClaude
) -> None:
    settings = make_settings(slack, claude, "")  # no REDIS_URL: the in-process store
    assert settings.redis_url is None
    async with aiohttp.ClientSession() as http:
        harness = Harness(slack, claude, settings, http)
        harness.bots.append(await start_bot(settings))
        try:
            shot = slack.add_file("F1", "a.png", samples.png())
            first = await harness.mention("what is this?", files=[shot])
            await harness.replies(first["ts"])
            await harness.message("and then?", thread_ts=first["ts"])
            assert len(await harness.replies(first["ts"])) == 2
        finally:
            await harness.bot.stop()


@pytest.mark.parametrize("manifest", ["manifest.yml", "manifest.socket.yml"])
def test_the_manifest_enables_interactivity_and_the_scopes_the_app_uses(manifest: str) -> None:
    data = yaml.safe_load((ROOT / "deploy" / manifest).read_text())
    settings = data["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    scopes = set(data["oauth_config"]["scopes"]["bot"])
    assert scopes >= {"app_mentions:read", "chat:write", "files:read", "files:write", "commands"}
    assert "users:read" in scopes  # users.info: who the workspace's admins and owners are
    assert data["features"]["app_home"]["home_tab_enabled"] is True
    assert settings["socket_mode_enabled"] is (manifest == "manifest.socket.yml")


@pytest.mark.parametrize("manifest", ["manifest.yml", "manifest.socket.yml"])
def test_the_manifest_turns_on_the_agent_messaging_experience(manifest: str) -> None:
    data = yaml.safe_load((ROOT / "deploy" / manifest).read_text())
    features = data["features"]
    assert features["agent_view"]["agent_description"].strip()
    assert "assistant_view" not in features  # the legacy experience, being deprecated
    assert features["app_home"]["messages_tab_enabled"] is True
    assert "assistant:write" in data["oauth_config"]["scopes"]["bot"]
    events = set(data["settings"]["event_subscriptions"]["bot_events"])
    assert events >= {"app_home_opened", "app_context_changed", "message.im"}


async def test_a_token_slack_refuses_stops_startup_with_one_line(
    slack: FakeSlack, tmp_path: Path
) -> None:
    env = bot_env(
        slack,
        SLACK_BOT_TOKEN="xoxb-revoked-secret",
        SLACK_SIGNING_SECRET="s",
        ANTHROPIC_API_KEY="k",
    )
    code, _, stderr = await run("serve", env=env, cwd=tmp_path)

    assert code == 2
    (line,) = stderr.strip().splitlines()
    assert line.startswith("vision-bot: SLACK_BOT_TOKEN is invalid (Slack says invalid_auth)")
    assert "revoked-secret" not in line


async def test_metrics_count_turns_tokens_files_and_latency(harness: Harness) -> None:
    good = harness.slack.add_file("F1", "a.png", samples.png())
    bad = harness.slack.add_file("F2", "b.zip", samples.zip_archive(), "application/zip")
    msg = await harness.mention("what?", files=[good, bad])
    await harness.replies(msg["ts"])

    async with harness.http.get(harness.bot.metrics_url) as response:
        assert response.status == 200
        text = await response.text()

    usage = harness.claude.responses[0]["usage"]
    assert 'vision_bot_turns_total{action="answer",outcome="answered"} 1.0' in text
    assert (
        f'vision_bot_claude_tokens_total{{kind="output"}} {float(usage["output_tokens"])}' in text
    )
    assert 'vision_bot_files_total{result="sent"} 1.0' in text
    assert 'vision_bot_files_total{result="refused"} 1.0' in text
    assert "vision_bot_first_words_seconds_count 1.0" in text
    assert "vision_bot_answer_seconds_count 1.0" in text
    assert "vision_bot_turns_in_flight 0.0" in text


async def test_the_slack_port_serves_slack_and_health_and_metrics_have_a_port_of_their_own(
    slack: FakeSlack, claude: FakeClaude, redis: object, tmp_path: Path
) -> None:
    metrics = free_port()
    async with serving(slack, claude, tmp_path, METRICS_PORT=str(metrics)) as (_, harness):
        async with harness.http.get(f"{harness.url}/metrics") as response:
            assert response.status == 404  # the internet-facing port: Slack and probes only
        async with harness.http.get(f"{harness.url}/healthz") as response:
            assert response.status == 200
        async with harness.http.get(f"http://127.0.0.1:{metrics}/metrics") as response:
            assert response.status == 200
            assert "vision_bot_turns_in_flight" in await response.text()
        for path in ("/slack/events", "/healthz"):
            async with harness.http.get(f"http://127.0.0.1:{metrics}{path}") as response:
                assert response.status == 404


async def test_metrics_on_the_slack_port_stop_startup_with_one_line(
    slack: FakeSlack, claude: FakeClaude, tmp_path: Path
) -> None:
    env = bot_env(slack, claude, SLACK_SIGNING_SECRET="s", METRICS_PORT="3000", PORT="3000")
    code, _, stderr = await run("serve", env=env, cwd=tmp_path)

    assert code == 2
    (line,) = stderr.strip().splitlines()
    assert line.startswith("vision-bot: METRICS_PORT is invalid (it is also the HTTP port, 3000)")


def test_every_setting_is_documented_for_operators() -> None:
    readme = (ROOT / "README.md").read_text().splitlines()
    rows = [line for line in readme if line.startswith("| `")]
    example = (ROOT / ".env.example").read_text()
    k8s = (ROOT / "deploy/k8s/configmap.yaml").read_text()
    k8s += (ROOT / "deploy/k8s/secret.example.yaml").read_text()
    for name in (field.upper() for field in Settings.model_fields):
        assert any(f"`{name}`" in row for row in rows), f"{name}: README's configuration table"
        assert name in example, f"{name}: .env.example"
        assert name in k8s, f"{name}: deploy/k8s ConfigMap or Secret"
