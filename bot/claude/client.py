"""Which Claude client and transport to use: the Claude API, Amazon Bedrock or Vertex AI."""

from __future__ import annotations

from anthropic import AsyncAnthropic, AsyncAnthropicBedrock, AsyncAnthropicVertex
from redis.asyncio import Redis

from bot.claude.files_api import ClaudeFiles
from bot.claude.inline import InlineMedia
from bot.claude.transport import Transport
from bot.config import Settings
from bot.errors import ConfigError
from bot.media.prepare import MediaLimits, native_long_edge, native_pixels
from bot.store.inline_bytes import InlineBytes
from bot.store.upload_cache import UploadCache

ClaudeClient = AsyncAnthropic | AsyncAnthropicBedrock | AsyncAnthropicVertex


def claude_client(settings: Settings) -> ClaudeClient:
    """The SDK client for CLAUDE_PLATFORM, with its standard credentials."""
    if settings.claude_platform == "bedrock":
        _require_module("boto3", "bedrock")
        import boto3

        # Credentials come from the standard AWS chain (env, profile, instance role).
        if boto3.Session().get_credentials() is None:
            raise ConfigError(
                "AWS credentials are not set: CLAUDE_PLATFORM=bedrock needs AWS_ACCESS_KEY_ID "
                "and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance/pod role"
            )
        return AsyncAnthropicBedrock(
            aws_region=settings.aws_region, max_retries=settings.claude_max_retries
        )
    if settings.claude_platform == "vertex":
        _require_module("google.auth", "vertex")
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            google.auth.default()
        except DefaultCredentialsError:
            raise ConfigError(
                "Google Cloud credentials are not set: CLAUDE_PLATFORM=vertex needs "
                "GOOGLE_APPLICATION_CREDENTIALS or a workload identity"
            ) from None
        assert settings.cloud_ml_region and settings.anthropic_vertex_project_id
        return AsyncAnthropicVertex(
            region=settings.cloud_ml_region,
            project_id=settings.anthropic_vertex_project_id,
            max_retries=settings.claude_max_retries,
        )
    api_key = settings.anthropic_api_key
    return AsyncAnthropic(
        api_key=api_key.get_secret_value() if api_key else None,
        base_url=settings.anthropic_base_url,
        max_retries=settings.claude_max_retries,
    )


def transport(settings: Settings, client: ClaudeClient, redis: Redis) -> Transport:
    """The Files API (uploaded once, referenced by id) or base64 kept in Redis."""
    ttl = settings.history_ttl_seconds
    if settings.transport == "files" and isinstance(client, AsyncAnthropic):
        return ClaudeFiles(client, UploadCache(redis, ttl), expires_in=ttl)
    return InlineMedia(InlineBytes(redis, ttl))


def media_limits(settings: Settings) -> MediaLimits:
    """What one file may be on the chosen model (the byte cap is the same on every platform)."""
    long_edge = native_long_edge(settings.claude_model)
    return MediaLimits(long_edge=long_edge, pixels=native_pixels(long_edge))


def _require_module(module: str, extra: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise ConfigError(
            f"CLAUDE_PLATFORM={extra} needs its SDK extra: pip install 'slack-vision-bot[{extra}]'"
        ) from None
