"""Claude platforms: which client and transport each setting picks, and what startup asks for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from anthropic import AsyncAnthropic, AsyncAnthropicBedrock, AsyncAnthropicVertex

from bot.claude.client import claude_client, media_limits, transport
from bot.claude.files_api import ClaudeFiles
from bot.claude.inline import InlineMedia
from bot.config import load_settings
from bot.errors import ConfigError
from bot.media.prepare import IMAGE_BYTES
from bot.options import PipelineOptions
from bot.store.connection import connect
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import Harness, make_settings, start_bot
from tests.processes import bot_env, run


@pytest.fixture
def no_cloud_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment with no AWS or Google credentials, and no metadata-server lookups."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, no_cloud_credentials: None) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")


@pytest.fixture
def gcp(monkeypatch: pytest.MonkeyPatch, no_cloud_credentials: None, tmp_path: Path) -> None:
    credentials = tmp_path / "adc.json"
    credentials.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "c",
                "client_secret": "s",
                "refresh_token": "r",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials))


def settings(**values: Any) -> Any:
    return load_settings(_env_file=None, **values)


def test_the_claude_api_uses_the_files_api_by_default() -> None:
    s = settings(anthropic_api_key="k")
    s.require_claude()
    client = claude_client(s)
    assert type(client) is AsyncAnthropic
    assert isinstance(transport(s, client, connect(None, quiet=True)), ClaudeFiles)
    assert media_limits(s).image_bytes == IMAGE_BYTES  # 5 MB of base64, like everywhere
    assert PipelineOptions.from_settings(s).citations


def test_base64_can_be_chosen_on_the_claude_api() -> None:
    s = settings(anthropic_api_key="k", claude_transport="base64")
    assert isinstance(transport(s, claude_client(s), connect(None, quiet=True)), InlineMedia)


def test_bedrock_uses_its_client_base64_and_the_same_image_limit(aws: None) -> None:
    s = settings(claude_platform="bedrock", aws_region="eu-west-1", claude_model="anthropic.x")
    s.require_claude()
    client = claude_client(s)
    assert isinstance(client, AsyncAnthropicBedrock) and client.aws_region == "eu-west-1"
    assert isinstance(transport(s, client, connect(None, quiet=True)), InlineMedia)
    assert media_limits(s).image_bytes == IMAGE_BYTES
    options = PipelineOptions.from_settings(s)
    assert not options.url_sources and not options.automatic_cache
    assert not options.citations  # documented for Bedrock's Converse API only, not InvokeModel


def test_vertex_uses_its_client_and_base64(gcp: None) -> None:
    s = settings(
        claude_platform="vertex",
        anthropic_vertex_project_id="proj",
        cloud_ml_region="europe-west1",
        claude_model="claude-sonnet-4-6@20260101",
    )
    s.require_claude()
    client = claude_client(s)
    assert isinstance(client, AsyncAnthropicVertex)
    assert (client.project_id, client.region) == ("proj", "europe-west1")
    assert s.transport == "base64"
    assert PipelineOptions.from_settings(s).citations  # citations launched on Vertex AI too


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({}, "ANTHROPIC_API_KEY is not set"),
        ({"claude_platform": "bedrock", "claude_model": "m"}, "AWS_REGION is not set"),
        ({"claude_platform": "bedrock", "aws_region": "us-east-1"}, "CLAUDE_MODEL is not set"),
        (
            {"claude_platform": "vertex", "claude_model": "m", "cloud_ml_region": "r"},
            "ANTHROPIC_VERTEX_PROJECT_ID is not set",
        ),
        (
            {"claude_platform": "vertex", "claude_model": "m", "anthropic_vertex_project_id": "p"},
            "CLOUD_ML_REGION is not set",
        ),
        (
            {
                "claude_platform": "bedrock",
                "claude_model": "m",
                "aws_region": "r",
                "claude_transport": "files",
            },
            "CLAUDE_TRANSPORT=files is not available on bedrock",
        ),
    ],
)
def test_startup_names_what_a_platform_is_missing(values: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings(**values).require_claude()
    assert str(error.value).startswith(named)


def test_missing_cloud_credentials_are_named(no_cloud_credentials: None) -> None:
    bedrock = settings(claude_platform="bedrock", aws_region="r", claude_model="m")
    with pytest.raises(ConfigError, match="AWS credentials are not set"):
        claude_client(bedrock)
    vertex = settings(
        claude_platform="vertex",
        anthropic_vertex_project_id="p",
        cloud_ml_region="r",
        claude_model="m",
    )
    with pytest.raises(ConfigError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        claude_client(vertex)


async def test_the_command_names_missing_cloud_credentials_in_one_line(tmp_path: Path) -> None:
    env = bot_env(
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        CLAUDE_PLATFORM="bedrock",
        AWS_REGION="eu-west-1",
        CLAUDE_MODEL="anthropic.claude-sonnet",
        HOME=str(tmp_path),  # no ~/.aws
        AWS_EC2_METADATA_DISABLED="true",
    )
    code, _, err = await run("serve", env=env, cwd=tmp_path)

    assert code == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("vision-bot: AWS credentials are not set: CLAUDE_PLATFORM=bedrock")


async def test_on_bedrock_image_links_get_a_clear_reply(
    aws: None, slack: FakeSlack, claude: FakeClaude, redis: Any
) -> None:
    s = make_settings(
        slack,
        claude,
        TEST_REDIS_URL,
        claude_platform="bedrock",
        aws_region="eu-west-1",
        claude_model="anthropic.claude-sonnet",
    )
    async with aiohttp.ClientSession() as http:
        harness = Harness(slack, claude, s, http)
        harness.bots.append(await start_bot(s))
        try:
            msg = await harness.mention("what is <https://example.com/chart.png>?")
            (reply,) = await harness.replies(msg["ts"])
        finally:
            await harness.bot.stop()
    assert "https://example.com/chart.png" in reply and "Upload the image to Slack" in reply
