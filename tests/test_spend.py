"""Spend: every answer's cost counted, limits enforced before Claude is called, admins warned."""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.store import keys
from tests import samples
from tests.harness import CHANNEL, TEAM, USER, Harness, start_bot

# A price high enough that a few answers (about 1,050 tokens each on the fake) cross a few
# dollars: USD per million tokens; cache writes and reads at Anthropic's 1.25× and 0.1×.
PRICES = "input=1000,output=1000"
PER_MTOK = {"input": 1000, "output": 1000, "cache_creation": 1250, "cache_read": 100}
_widths = itertools.count(64)


def fresh_png() -> bytes:
    """A screenshot no question asked about yet (the same one again would be read cached)."""
    return samples.png(size=(next(_widths), 48))


def cost_usd(usage: dict[str, Any]) -> float:
    """What an answer's usage costs at PRICES, in dollars (worked out here, not by the bot)."""
    micro = (
        usage["input_tokens"] * PER_MTOK["input"]
        + usage["output_tokens"] * PER_MTOK["output"]
        + usage.get("cache_creation_input_tokens", 0) * PER_MTOK["cache_creation"]
        + usage.get("cache_read_input_tokens", 0) * PER_MTOK["cache_read"]
    )
    return micro / 1_000_000


def spent(harness: Harness) -> float:
    """What every answer Claude gave so far cost."""
    return sum(cost_usd(r["usage"]) for r in harness.claude.responses)


async def ask(
    harness: Harness, n: int, *, channel: str = CHANNEL, user: str = USER, text: str = "what?"
) -> list[str]:
    """Ask about a fresh screenshot and wait for what the thread shows."""
    shot = harness.slack.add_file(f"F{channel}{user}{n}", "a.png", fresh_png())
    msg = await harness.mention(text, files=[shot], channel=channel, user=user)
    return await harness.replies(msg["ts"], channel=channel)


def answered(replies: list[str]) -> bool:
    return len(replies) == 1 and "**Answer" in replies[0]


async def metrics(harness: Harness, bot: int = 0) -> str:
    async with harness.http.get(harness.bots[bot].metrics_url) as response:
        return await response.text()


@pytest.mark.parametrize("settings_overrides", [{"claude_prices": PRICES}])
async def test_every_answers_cost_is_counted_per_template_and_exported(harness: Harness) -> None:
    await ask(harness, 1)
    await harness.command("use debug")
    await ask(harness, 2)
    await ask(harness, 3, user="U0BOB", channel="C0OTHER")

    first, second, third = (cost_usd(r["usage"]) for r in harness.claude.responses)
    text = await metrics(harness)
    shown = dict(re.findall(r'vision_bot_cost_usd_total\{template="([^"]+)"\} (\S+)', text))
    assert float(shown["describe"]) == pytest.approx(first + third)
    assert float(shown["debug"]) == pytest.approx(second)
    assert "channel=" not in text and "user=" not in text  # no per-person series

    mine = (await harness.command("usage"))["text"]
    assert f"*describe*: ${first:,.2f}" in mine and f"*debug*: ${second:,.2f}" in mine
    assert f"all templates: ${first + second:,.2f}" in mine

    # Counted per day and month, and forgotten on their own after a while.
    redis = harness.bot.services.redis
    today = datetime.now(UTC).date()
    day_ttl = await redis.ttl(keys.spend(TEAM, today.isoformat()))
    month_ttl = await redis.ttl(keys.spend(TEAM, today.strftime("%Y-%m")))
    assert 31 * 86400 < day_ttl <= 32 * 86400 and 61 * 86400 < month_ttl <= 62 * 86400
    person_ttl = await redis.ttl(keys.spend_person(TEAM, today.isoformat(), USER))
    assert 0 < person_ttl <= 32 * 86400


@pytest.mark.parametrize(
    "settings_overrides", [{"claude_prices": PRICES, "user_spend_limit_usd_per_day": 3.0}]
)
async def test_a_persons_daily_limit_refuses_their_next_question_before_claude(
    harness: Harness,
) -> None:
    for n in range(1, 6):
        before, requests = spent(harness), len(harness.claude.requests)
        downloads = len(harness.slack.file_requests)
        replies = await ask(harness, n)
        if before < 3.0:  # started under the limit: answered in full
            assert answered(replies), replies
            continue
        (refusal,) = replies
        assert refusal.startswith("You've reached your daily Claude limit of $3.00")
        assert "It resets at midnight UTC, in " in refusal
        assert "Whoever runs this bot can raise it." in refusal
        assert len(harness.claude.requests) == requests  # Claude wasn't called
        assert len(harness.slack.file_requests) == downloads  # nothing was downloaded
    assert 3.0 <= spent(harness) < 3.0 + cost_usd(harness.claude.responses[-1]["usage"])
    assert len(harness.claude.responses) < 5

    # Someone else still gets answers.
    assert answered(await ask(harness, 9, user="U0BOB"))


@pytest.mark.parametrize("settings_overrides", [{"claude_prices": PRICES}])
async def test_a_channels_own_limit_stops_that_channel_only_and_can_be_lifted(
    harness: Harness,
) -> None:
    reply = await harness.command("limit 2")
    assert reply["response_type"] == "in_channel" and "$2.00" in reply["text"]

    results = [await ask(harness, n, user=f"U0P{n}") for n in range(1, 5)]
    refused = [r for r in results if not answered(r)]
    assert refused and all(
        r[0].startswith("This channel has reached its daily Claude limit of $2.00") for r in refused
    )
    assert "Anyone here can change it with `/vision limit`." in refused[0][0]
    assert answered(await ask(harness, 7, channel="C0OTHER"))

    # Images shared with auto mode on are left alone quietly: nobody asked about them.
    await harness.command("auto on")
    requests = len(harness.claude.requests)
    image = harness.slack.add_file("FAUTO", "a.png", fresh_png())
    shared = await harness.message("", files=[image])
    assert await harness.replies(shared["ts"]) == []
    assert len(harness.claude.requests) == requests

    await harness.command("limit off")
    assert answered(await ask(harness, 8))


@pytest.mark.parametrize(
    "settings_overrides", [{"claude_prices": PRICES, "spend_limit_usd_per_day": 3.0}]
)
async def test_the_workspace_daily_limit_covers_every_channel_and_person(harness: Harness) -> None:
    outcomes = []
    for n, (channel, user) in enumerate(
        [(CHANNEL, "U0A"), ("C0TWO", "U0B"), ("C0THREE", "U0C"), (CHANNEL, "U0D"), ("C0TWO", "U0E")]
    ):
        before = spent(harness)
        replies = await ask(harness, n, channel=channel, user=user)
        outcomes.append(answered(replies))
        assert answered(replies) == (before < 3.0), (before, replies)
        if not answered(replies):
            assert replies[0].startswith("This workspace has reached its daily Claude limit")
    assert outcomes.count(False) >= 2


@pytest.mark.parametrize(
    "settings_overrides",
    [{"claude_prices": PRICES, "spend_limit_usd_per_month": 25.0, "admin_users": "U0ADMIN"}],
)
async def test_the_monthly_limit_counts_the_earlier_days_of_the_month(harness: Harness) -> None:
    harness.slack.add_user("U0ADMIN", "Ada Admin")
    # Earlier this month the workspace spent $24.50 of its $25.
    month = datetime.now(UTC).strftime("%Y-%m")
    redis = harness.bot.services.redis
    await redis.hset(keys.spend(TEAM, month), mapping={"cost": 24_500_000, "answers": 20})

    assert answered(await ask(harness, 1))  # started under: answered in full, over it now
    (refusal,) = await ask(harness, 2, user="U0BOB")

    first_of_next = (datetime.now(UTC).date().replace(day=28) + timedelta(days=4)).replace(day=1)
    assert refusal.startswith("This workspace has reached its monthly Claude limit of $25.00")
    assert f"It resets on {first_of_next.day} {first_of_next:%B} (UTC)." in refusal
    assert "The bot's admins (Ada Admin) can raise it." in refusal
    assert "<@" not in refusal  # naming the admins doesn't ping them in the thread
    assert len(harness.claude.requests) == 1


@pytest.mark.parametrize(
    "settings_overrides", [{"claude_prices": PRICES, "max_concurrent_turns": 8}]
)
async def test_a_burst_over_two_processes_overshoots_by_at_most_the_answers_running(
    harness: Harness,
) -> None:
    # The first answer sets what an answer costs; the limit leaves room for 2.5 more.
    assert answered(await ask(harness, 0))
    one = spent(harness)
    limit = round(one * 3.5, 2)
    settings = harness.settings.model_copy(update={"spend_limit_usd_per_day": limit})
    for bot in harness.bots:
        await bot.stop()
    harness.bots[:] = [await start_bot(settings), await start_bot(settings)]

    # Slow answers: every question is checked while the first ones are still being written.
    harness.claude.chunk_delay = 0.05
    shots = [harness.slack.add_file(f"FB{n}", "a.png", fresh_png()) for n in range(8)]
    messages = await asyncio.gather(
        *(
            harness.message(
                f"<@{harness.slack.bot_user_id}> what?",
                files=[shot],
                user=f"U0B{n}",
                to_bot=n % 2,
            )
            for n, shot in enumerate(shots)
        )
    )
    results = [await harness.replies(m["ts"]) for m in messages]

    assert sum(answered(r) for r in results) == 3
    refusals = [r[0] for r in results if not answered(r)]
    assert len(refusals) == 5
    assert all(r.startswith("This workspace has reached its daily Claude limit") for r in refusals)
    assert len(harness.claude.requests) == 1 + 3
    assert limit <= spent(harness) < limit + one
    # Every reservation was settled or released: nothing is held any more.
    assert await harness.bot.services.redis.hlen(keys.spend_holds(TEAM)) == 0


@pytest.mark.parametrize(
    "settings_overrides", [{"claude_prices": PRICES, "spend_limit_usd_per_day": 3.0}]
)
async def test_a_failed_answer_releases_its_reservation(harness: Harness) -> None:
    harness.claude.fail_next(529, "overloaded_error")
    (failed,) = await ask(harness, 1)
    assert "try again" in failed.lower()
    assert await harness.bot.services.redis.hlen(keys.spend_holds(TEAM)) == 0
    assert answered(await ask(harness, 2))


@pytest.mark.parametrize(
    "settings_overrides", [{"claude_prices": PRICES, "spend_limit_usd_per_day": 3.0}]
)
async def test_a_reservation_left_by_a_dead_process_expires(harness: Harness) -> None:
    # A process died mid-answer, its reservation as large as the whole limit.
    redis = harness.bot.services.redis
    expired = int((datetime.now(UTC).timestamp() - 1) * 1000)
    await redis.hset(keys.spend_holds(TEAM), "dead", f"3000000 U0GONE {CHANNEL} {expired}")

    assert answered(await ask(harness, 1))
    assert not await redis.hexists(keys.spend_holds(TEAM), "dead")


@pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "claude_prices": PRICES,
            "spend_limit_usd_per_day": 12.0,
            "admin_users": "U0ADMIN1,U0ADMIN2",
        }
    ],
)
async def test_admins_are_warned_once_at_80_and_100_percent_across_processes(
    harness: Harness,
) -> None:
    harness.bots.append(await start_bot(harness.settings))
    # Earlier today: $8.50 of the $12.
    day = datetime.now(UTC).date().isoformat()
    redis = harness.bot.services.redis
    await redis.hset(keys.spend(TEAM, day), mapping={"cost": 8_500_000, "answers": 7})

    totals = []
    for n in range(6):
        shot = harness.slack.add_file(f"FW{n}", "a.png", fresh_png())
        msg = await harness.message(
            f"<@{harness.slack.bot_user_id}> what?", files=[shot], user=f"U0W{n}", to_bot=n % 2
        )
        replies = await harness.replies(msg["ts"])
        totals.append((8.5 + spent(harness), answered(replies)))

    # The DMs go out as the answer that crossed a threshold is counted, before its turn ends.
    for admin in ("U0ADMIN1", "U0ADMIN2"):
        eighty, hundred = harness.slack.dms(admin)
        assert eighty.startswith("Heads-up: this workspace has spent $")
        assert "of its daily Claude limit of $12.00 today" in eighty
        assert hundred.startswith("This workspace has reached its daily Claude limit")
        assert "raise SPEND_LIMIT_USD_PER_DAY" in hundred
    assert [t for t, ok in totals if ok][-1] >= 12.0 and not totals[-1][1]
    assert harness.slack.dms(USER) == []  # only the admins in ADMIN_USERS are told
