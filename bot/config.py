"""Settings: one typed object built at startup from the environment and `.env`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError
from bot.prices import Price, parse_prices, published_price

DEFAULT_MODEL = "claude-sonnet-5-5"
# The REDIS_URL forms bot.store.connection knows how to connect to.
REDIS_SCHEMES = (
    "redis://",
    "rediss://",
    "unix://",
    "redis+sentinel://",
    "rediss+sentinel://",
    "redis+cluster://",
    "rediss+cluster://",
)
# Which manifest made the app depends on the mode: name the one that fits the variable.
MANIFEST_HINT = (
    "create the Slack app from deploy/manifest.yml (HTTP mode) or deploy/manifest.socket.yml "
    "(Socket Mode) and copy it from the app's settings"
)
HTTP_MANIFEST_HINT = (
    "create the Slack app from deploy/manifest.yml and copy it from the app's settings"
)

# What to tell the operator when a variable is missing or wrong, by variable name.
_HINTS: dict[str, str] = {
    "SLACK_BOT_TOKEN": f"set it to the Bot User OAuth Token (xoxb-…): {MANIFEST_HINT}",
    "SLACK_SIGNING_SECRET": f"HTTP mode needs it (Basic Information → Signing Secret): "
    f"{HTTP_MANIFEST_HINT}",
    "SLACK_APP_TOKEN": "Socket Mode needs an app-level token (xapp-…) with connections:write: "
    "create the Slack app from deploy/manifest.socket.yml, then Basic Information → "
    "App-Level Tokens → Generate",
    "ANTHROPIC_API_KEY": "set it to an API key from the Claude Console",
    "SLACK_FILE_HOSTS": "give comma-separated host names, e.g. files.slack.com",
    "REDIS_URL": "see docs/deploy.md for the URL forms, or unset it for the embedded store",
    "AWS_REGION": "CLAUDE_PLATFORM=bedrock needs the AWS region of your Bedrock models",
    "ANTHROPIC_VERTEX_PROJECT_ID": "CLAUDE_PLATFORM=vertex needs the Google Cloud project id",
    "CLOUD_ML_REGION": "CLAUDE_PLATFORM=vertex needs the region of your Vertex AI models",
    "ADMIN_USERS": "give Slack user ids separated by commas, like U012AB3CD,U045EF6GH "
    "(a person's profile → ⋯ → Copy member ID)",
}
# The spend limits, each needing a price for the model.
SPEND_LIMITS = (
    "spend_limit_usd_per_day",
    "spend_limit_usd_per_month",
    "user_spend_limit_usd_per_day",
)


class Settings(BaseSettings):
    """Everything the bot reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # `SLACK_APP_TOKEN=` in a copied .env means "not set", not "set to nothing".
        env_ignore_empty=True,
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_file_hosts: Annotated[tuple[str, ...], NoDecode] = (
        "files.slack.com",
        "files-origin.slack.com",
    )

    claude_platform: Literal["anthropic", "bedrock", "vertex"] = "anthropic"
    claude_transport: Literal["files", "base64"] | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    aws_region: str | None = Field(
        default=None, validation_alias=AliasChoices("aws_region", "aws_default_region")
    )
    anthropic_vertex_project_id: str | None = None
    cloud_ml_region: str | None = None
    claude_model: str = DEFAULT_MODEL
    claude_max_tokens: int = Field(default=4096, ge=256, le=64000)
    # The model's context window: requests are planned to fit it, answer included.
    claude_context_tokens: int = Field(default=200_000, ge=2048, le=2_000_000)
    claude_max_retries: int = Field(default=2, ge=0, le=10)
    # USD per million tokens, `input=3,output=15,cache_write=3.75,cache_read=0.30`; unset:
    # Anthropic's published price for CLAUDE_MODEL (bot/prices.py).
    claude_prices: str | None = None

    spend_limit_usd_per_day: float | None = Field(default=None, gt=0)
    spend_limit_usd_per_month: float | None = Field(default=None, gt=0)
    user_spend_limit_usd_per_day: float | None = Field(default=None, gt=0)
    # 0 turns the per-person rate off.
    user_questions_per_minute: int = Field(default=10, ge=0, le=10_000)
    # A person's questions queued or being answered at once, across threads; 0: no cap.
    user_queued_questions: int = Field(default=5, ge=0, le=10_000)
    admin_users: Annotated[tuple[str, ...], NoDecode] = ()

    redis_url: str | None = None
    history_ttl_days: int = Field(default=30, ge=1, le=90)
    follow_ups: bool = True

    # Answers waiting on Claude cost little memory (files are prepared 4 at a time, apart):
    # this bounds Claude calls in flight, not decoding.
    max_concurrent_turns: int = Field(default=100, ge=1, le=1000)
    # On the base64 transport: the request bytes all answers in flight may hold at once.
    max_inline_mb_in_flight: float = Field(default=256.0, gt=0)
    turn_claim_timeout_seconds: float = Field(default=60.0, ge=1.0)
    # After SIGTERM, answers in flight get this long to finish, the rest stays pending for
    # another process; the orchestrator's kill timeout must be longer (deployment.yaml).
    shutdown_grace_seconds: float = Field(default=45.0, ge=1.0, le=600.0)
    max_file_mb: float = Field(default=50.0, gt=0)
    download_timeout_seconds: float = Field(default=60.0, gt=0)
    # A file still being decoded (or a PDF parsed) after this long is refused and its
    # worker process killed; must stay well under the turn's claim timeout to matter.
    prepare_timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    templates_file: Path | None = None
    slash_command: str = "/vision"

    port: int = Field(default=3000, ge=1, le=65535)
    # Prometheus' /metrics, on a port of its own so the one Slack reaches never serves it.
    metrics_port: int = Field(default=9090, ge=0, le=65535)  # 0: no metrics endpoint
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("slack_file_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            hosts = tuple(h.strip().lower() for h in value.split(",") if h.strip())
            if not hosts:
                raise ValueError("needs at least one host")
            if any("/" in h for h in hosts):
                raise ValueError("takes host names, not URLs")
            return hosts
        return value

    @field_validator("admin_users", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            ids = tuple(dict.fromkeys(u.strip() for u in re.split(r"[,\s]+", value) if u.strip()))
            if not all(re.fullmatch(r"[UW][A-Z0-9]{2,}", u) for u in ids):
                raise ValueError("takes Slack user ids, not names or emails")
            return ids
        return value

    @field_validator("claude_prices")
    @classmethod
    def _prices_shape(cls, value: str | None) -> str | None:
        if value:
            parse_prices(value)  # a ValueError names the problem
        return value or None

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: object) -> object:
        # `LOG_LEVEL=info` is as clear as INFO; logging itself wants upper case.
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slash_command")
    @classmethod
    def _command_shape(cls, value: str) -> str:
        if not value.startswith("/") or " " in value or len(value) > 32:
            raise ValueError("must look like /vision")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(REDIS_SCHEMES):
            raise ValueError(
                "must start with redis://, rediss://, unix://, redis+sentinel:// or "
                "redis+cluster://"
            )
        return value or None

    @property
    def history_ttl_seconds(self) -> int:
        """How long a thread's history and uploads live (dedupe marks: keys.SEEN_TTL_SECONDS)."""
        return self.history_ttl_days * 86400

    @property
    def price(self) -> Price | None:
        """USD per million tokens of the configured model: CLAUDE_PRICES, else the list price."""
        if self.claude_prices:
            return parse_prices(self.claude_prices)
        return published_price(self.claude_model)

    def require_prices(self) -> None:
        """Refuse to enforce a spend limit on a model whose price is unknown."""
        limits = [name.upper() for name in SPEND_LIMITS if getattr(self, name) is not None]
        if limits and self.price is None:
            raise ConfigError(
                f"{limits[0]} needs the price of CLAUDE_MODEL={self.claude_model}, which this "
                "release doesn't know: set CLAUDE_PRICES=input=N,output=N,cache_write=N,"
                "cache_read=N in USD per million tokens (your platform's price list)"
            )

    @property
    def max_file_bytes(self) -> int:
        """The download cap in bytes."""
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def bot_token(self) -> str:
        """The Slack bot token (after `require_slack`)."""
        if self.slack_bot_token is None:
            raise ConfigError(_missing("SLACK_BOT_TOKEN"))
        return self.slack_bot_token.get_secret_value()

    def require_slack(self) -> None:
        """Refuse to start a Slack mode without a bot token."""
        if self.slack_bot_token is None:
            raise ConfigError(_missing("SLACK_BOT_TOKEN"))

    def require_http(self) -> None:
        """Refuse to start HTTP mode without a signing secret."""
        if self.slack_signing_secret is None:
            raise ConfigError(_missing("SLACK_SIGNING_SECRET"))

    def require_metrics_port(self, http_port: int | None) -> None:
        """Refuse METRICS_PORT on the port that serves Slack (or /healthz in Socket Mode)."""
        if self.metrics_port and self.metrics_port == http_port:
            raise ConfigError(
                f"METRICS_PORT is invalid (it is also the HTTP port, {http_port}): give "
                "/metrics a port of its own (default 9090), or 0 for none"
            )

    def require_socket(self) -> None:
        """Refuse to start Socket Mode without an app-level token."""
        token = self.slack_app_token
        if token is None:
            raise ConfigError(_missing("SLACK_APP_TOKEN"))
        if not token.get_secret_value().startswith("xapp-"):
            raise ConfigError(f"SLACK_APP_TOKEN is invalid: {_HINTS['SLACK_APP_TOKEN']}")

    @property
    def transport(self) -> Literal["files", "base64"]:
        """How files reach Claude: the Files API where it exists, else base64."""
        if self.claude_transport:
            return self.claude_transport
        return "files" if self.claude_platform == "anthropic" else "base64"

    def require_claude(self) -> None:
        """Refuse to start without what the chosen Claude platform needs."""
        platform = self.claude_platform
        if platform == "anthropic" and self.anthropic_api_key is None:
            raise ConfigError(_missing("ANTHROPIC_API_KEY"))
        if platform != "anthropic" and self.claude_transport == "files":
            raise ConfigError(
                f"CLAUDE_TRANSPORT=files is not available on {platform}: the Files API exists "
                "only on the anthropic platform; unset it (base64 is used there)"
            )
        if platform != "anthropic" and "claude_model" not in self.model_fields_set:
            raise ConfigError(
                f"CLAUDE_MODEL is not set: on {platform} give the model id as {platform} "
                "names it (see the platform's model list)"
            )
        if platform == "bedrock" and not self.aws_region:
            raise ConfigError(_missing("AWS_REGION"))
        if platform == "vertex":
            for name in ("anthropic_vertex_project_id", "cloud_ml_region"):
                if not getattr(self, name):
                    raise ConfigError(_missing(name.upper()))


def _missing(name: str) -> str:
    return f"{name} is not set: {_HINTS.get(name, 'set it in the environment or .env')}"


def load_settings(**overrides: object) -> Settings:
    """Build the settings, turning a validation failure into one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
    if first["type"] == "missing":
        return _missing(name)
    # The input may be a secret: name the variable and the rule, never the value.
    reason = str(first["msg"]).removeprefix("Value error, ")
    hint = _HINTS.get(name)
    return f"{name} is invalid ({reason})" + (f": {hint}" if hint else "")
