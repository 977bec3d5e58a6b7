"""Prices: Anthropic's list prices by model id on every platform, CLAUDE_PRICES, and startup."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.prices import Tokens, cost_micro_usd, model_family, parse_prices, published_price
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import make_settings, start_bot
from tests.processes import bot_env, run


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("claude-sonnet-5-5", "claude-sonnet-5-5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("us.anthropic.claude-opus-4-7-v1:0", "claude-opus-4-7"),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("global.anthropic.claude-haiku-5-5", "claude-haiku-5-5"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
            "us.anthropic.claude-sonnet-5-5-v1:0",
            "claude-sonnet-5-5",
        ),
        ("claude-opus-4-1@20250805", "claude-opus-4-1"),
        ("claude-sonnet-5-5[1m]", "claude-sonnet-5-5"),
    ],
)
def test_model_ids_of_every_platform_map_to_their_family(model: str, family: str) -> None:
    assert model_family(model) == family
    assert published_price(model) is not None


def test_the_list_prices_of_the_current_models() -> None:
    sonnet = published_price("claude-sonnet-5-5")
    assert sonnet is not None
    assert (sonnet.input, sonnet.output) == (Decimal(2), Decimal(10))
    assert (sonnet.cache_write, sonnet.cache_read) == (Decimal("2.50"), Decimal("0.10"))
    opus = published_price("claude-opus-5-5")
    assert opus is not None and (opus.input, opus.output) == (Decimal(4), Decimal(20))
    assert published_price("claude-opus-4-1") == published_price("claude-3-opus")
    assert published_price("claude-opus-4") != published_price("claude-opus-4-5")
    assert published_price("claude-unknown-9") is None
    assert published_price("arn:aws:bedrock:us-east-1:1:application-inference-profile/abc") is None


def test_an_answers_cost_is_exact_in_millionths_of_a_dollar() -> None:
    sonnet = published_price("claude-sonnet-5-5")
    assert sonnet is not None
    tokens = Tokens(input=1_234, output=567, cache_write=2_000, cache_read=10_001)
    # 1234×2 + 567×10 + 2000×2.5 + 10001×0.1 = 2468 + 5670 + 5000 + 1000.1
    assert cost_micro_usd(sonnet, tokens) == 14_138


def test_haiku_5_5_prompts_over_100k_tokens_cost_the_higher_tier() -> None:
    haiku = published_price("claude-haiku-5-5")
    assert haiku is not None
    short = Tokens(input=100_000, output=1_000)
    long = Tokens(input=60_000, cache_read=40_001, output=1_000)
    assert cost_micro_usd(haiku, short) == 100_000 * 0.10 + 1_000 * 0.50
    assert cost_micro_usd(haiku, long) == round(60_000 * 0.5 + 40_001 * 0.05 + 1_000 * 2.5)


def test_claude_prices_is_parsed_with_standard_cache_multipliers() -> None:
    full = parse_prices("input=3, output=15, cache_write=3.75, cache_read=0.30")
    assert full.describe() == "input=3,output=15,cache_write=3.75,cache_read=0.30"
    short = parse_prices("input=2,output=8")
    assert (short.cache_write, short.cache_read) == (Decimal("2.50"), Decimal("0.2"))
    for bad in ("input=3", "input=3,output=x", "input=-1,output=1", "inptu=3,output=1", "3,15"):
        with pytest.raises(ValueError):
            parse_prices(bad)


def test_a_bad_claude_prices_names_the_variable() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, claude_prices="input=3")
    assert str(error.value).startswith("CLAUDE_PRICES is invalid (needs at least input=N")


def test_admin_users_takes_slack_ids() -> None:
    settings = load_settings(_env_file=None, admin_users="U012AB3CD, W045EF6GH U012AB3CD")
    assert settings.admin_users == ("U012AB3CD", "W045EF6GH")
    with pytest.raises(ConfigError) as error:
        load_settings(_env_file=None, admin_users="alice@example.com")
    assert str(error.value).startswith("ADMIN_USERS is invalid (takes Slack user ids")


async def test_a_limit_on_a_model_without_a_price_stops_startup_with_one_line(
    tmp_path: Path,
) -> None:
    env = bot_env(
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="s",
        ANTHROPIC_API_KEY="k",
        CLAUDE_MODEL="claude-future-9",
        SPEND_LIMIT_USD_PER_MONTH="500",
    )
    code, _, err = await run("serve", env=env, cwd=tmp_path)
    assert code == 2
    assert err.strip().splitlines() == [
        "vision-bot: SPEND_LIMIT_USD_PER_MONTH needs the price of CLAUDE_MODEL=claude-future-9, "
        "which this release doesn't know: set CLAUDE_PRICES=input=N,output=N,cache_write=N,"
        "cache_read=N in USD per million tokens (your platform's price list)"
    ]
    priced = load_settings(
        _env_file=None,
        claude_model="claude-future-9",
        spend_limit_usd_per_month=500,
        claude_prices="input=1,output=2",
    )
    priced.require_prices()  # with CLAUDE_PRICES it starts
    load_settings(_env_file=None, claude_model="claude-future-9").require_prices()  # no limit


async def test_startup_says_who_may_change_settings(
    slack: FakeSlack, claude: FakeClaude, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    open_bot = await start_bot(make_settings(slack, claude, ""))
    await open_bot.stop()
    assert "ADMIN_USERS is not set: anyone may change the bot's settings" in caplog.text
    caplog.clear()
    closed = await start_bot(make_settings(slack, claude, "", admin_users="U0ADMIN"))
    await closed.stop()
    assert "ADMIN_USERS" not in caplog.text
