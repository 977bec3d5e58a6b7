"""`/vision usage`: everyone sees their own use; admins also see the workspace's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.store import keys
from tests.harness import CHANNEL, TEAM, USER, Harness
from tests.test_spend import PRICES, ask, cost_usd

ADMIN = "U0ADMIN"
BOB = "U0BOB"


async def test_a_member_sees_their_own_use_and_nothing_of_anyone_else(
    harness: Harness,
) -> None:
    assert "_nothing yet_" in (await harness.command("usage"))["text"]
    await ask(harness, 1)  # Alice, here
    await ask(harness, 2, user=BOB, channel="C0PRIVATE")  # Bob, in a private channel
    await ask(harness, 3, user=BOB, channel="C0PRIVATE", text="and this?")

    text = (await harness.command("usage", user=BOB))["text"]

    today, month = text.split("*Your use this month*")
    bob = harness.claude.responses[1:]
    tokens = sum(
        r["usage"]["input_tokens"] + r["usage"].get("cache_creation_input_tokens", 0) for r in bob
    )
    outputs = sum(r["usage"]["output_tokens"] for r in bob)
    for part in (today, month):
        assert "*describe*: " in part and "2 answers" in part
        assert f"{tokens:,} input" in part and f"{outputs:,} output tokens" in part
    # Nothing of Alice, of any channel, or of the workspace.
    assert USER not in text and "U0ALICE" not in text
    assert "C0PRIVATE" not in text and CHANNEL not in text and "<#" not in text
    assert "This workspace" not in text and "Top " not in text


@pytest.mark.parametrize("settings_overrides", [{"claude_prices": PRICES}])
async def test_an_admin_also_sees_the_workspace_top_channels_people_and_templates(
    harness: Harness,
) -> None:
    harness.slack.add_user(ADMIN, "Ada", admin=True)  # a workspace admin, per users.info
    await ask(harness, 1)
    await ask(harness, 2, user=BOB, channel="C0PRIVATE")
    await harness.command("use ocr", channel="C0PRIVATE", user=BOB)
    await ask(harness, 3, user=BOB, channel="C0PRIVATE")

    text = (await harness.command("usage", user=ADMIN))["text"]

    alice, bob_first, bob_ocr = (cost_usd(r["usage"]) for r in harness.claude.responses)
    assert "*Your use today (UTC)*\n_nothing yet_" in text  # the admin asked nothing
    workspace = text.split("*This workspace*")[1]
    total = alice + bob_first + bob_ocr
    assert f"This month: ${total:,.2f} (3 answers · no limit)" in workspace
    channels = workspace.split("*Top channels this month*")[1].split("*Top people")[0]
    assert channels.index("<#C0PRIVATE>") < channels.index(f"<#{CHANNEL}>")  # largest first
    people = workspace.split("*Top people this month*")[1].split("*Top templates")[0]
    assert f"<@{BOB}>: `" in people and f"${bob_first + bob_ocr:,.2f}" in people
    assert f"<@{USER}>: `" in people
    templates = workspace.split("*Top templates this month*")[1]
    assert "*describe*: `" in templates and "*ocr*: `" in templates
    assert "█" in templates  # each row's share of the month, as a bar


@pytest.mark.parametrize(
    "settings_overrides",
    [{"claude_prices": PRICES, "admin_users": ADMIN, "spend_limit_usd_per_month": 100.0}],
)
async def test_an_admin_in_admin_users_sees_the_month_against_its_limit(harness: Harness) -> None:
    month = datetime.now(UTC).strftime("%Y-%m")
    redis = harness.bot.services.redis
    await redis.hset(keys.spend(TEAM, month), mapping={"cost": 25_000_000, "answers": 40})

    admin_view = (await harness.command("usage", user=ADMIN))["text"]
    member_view = (await harness.command("usage", user=BOB))["text"]

    assert "This month: `██░░░░░░░░` $25.00 of $100.00 (40 answers · 25% of the limit)" in (
        admin_view
    )
    assert "$25.00" not in member_view and "This workspace" not in member_view


async def test_own_use_counts_cached_tokens_and_adds_up_the_month(harness: Harness) -> None:
    redis = harness.bot.services.redis
    now = datetime.now(UTC).date()
    today, month = now.isoformat(), now.strftime("%Y-%m")
    fields = {"cost": 120_000, "answers": 2, "input": 10, "cache_write": 5}
    fields |= {"cache_read": 900, "output": 7}
    await redis.hset(
        keys.spend_person(TEAM, today, USER), mapping={f"debug:{k}": v for k, v in fields.items()}
    )
    month_fields = {**fields, "cost": 1_620_000, "answers": 9, "input": 1010}
    await redis.hset(
        keys.spend_person(TEAM, month, USER),
        mapping={f"debug:{k}": v for k, v in month_fields.items()},
    )

    text = (await harness.command("usage"))["text"]

    today_part, month_part = text.split("*Your use this month*")
    assert "*debug*: $0.12 (2 answers · 15 input · 900 cached · 7 output tokens)" in today_part
    assert "*debug*: $1.62 (9 answers · 1,015 input · 900 cached · 7 output tokens)" in month_part
