"""The Home tab: how to use the bot and your own use for everyone; the workspace for admins."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.harness import CHANNEL, USER, Harness, eventually, next_ts
from tests.test_spend import PRICES, ask, cost_usd

ADMIN = "U0ADMIN"
BOB = "U0BOB"


async def open_tab(harness: Harness, user: str, tab: str = "home") -> dict[str, Any]:
    """Deliver `app_home_opened` as Slack does; the view published for `user`, if any."""
    before = harness.slack.home_views.get(user, {}).get("hash")
    event = {"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": tab}
    event["event_ts"] = next_ts()
    response = await harness.deliver(event)
    assert response.status == 200

    async def published() -> bool:
        return harness.slack.home_views.get(user, {}).get("hash") not in (None, before)

    await eventually(published)
    return harness.slack.home_views[user]


def texts(view: dict[str, Any]) -> str:
    """Everything the tab shows, as one string."""
    return json.dumps(view["blocks"], ensure_ascii=False)


@pytest.mark.parametrize("settings_overrides", [{"claude_prices": PRICES, "admin_users": ADMIN}])
async def test_a_member_sees_how_to_use_it_the_templates_and_their_own_month(
    harness: Harness,
) -> None:
    await ask(harness, 1)
    await ask(harness, 2, user=BOB, channel="C0SECRET")

    view = await open_tab(harness, USER)

    shown = texts(view)
    assert view["type"] == "home"
    assert "mention me" in shown and "/vision usage" in shown
    for name in ("describe", "debug", "ocr", "ui-review", "chart", "diff", "locate"):
        assert f"*{name}*" in shown
    mine = cost_usd(harness.claude.responses[0]["usage"])
    assert "Your use this month" in shown and f"*${mine:,.2f}*" in shown
    assert BOB not in shown and "C0SECRET" not in shown and CHANNEL not in shown
    assert "This workspace" not in shown and "Top people" not in shown


@pytest.mark.parametrize(
    "settings_overrides",
    [{"claude_prices": PRICES, "admin_users": ADMIN, "spend_limit_usd_per_day": 50.0}],
)
async def test_an_admin_sees_spend_against_the_limits_and_where_it_goes(harness: Harness) -> None:
    await ask(harness, 1)
    await ask(harness, 2, user=BOB, channel="C0SECRET")
    await ask(harness, 3, user=BOB, channel="C0SECRET")

    view = await open_tab(harness, ADMIN)

    shown = texts(view)
    total = sum(cost_usd(r["usage"]) for r in harness.claude.responses)
    assert "This workspace" in shown
    assert f"*${total:,.2f} of $50.00*" in shown and "█" in shown
    assert "Top channels this month" in shown and "<#C0SECRET>" in shown
    assert "Top people this month" in shown and f"<@{BOB}>" in shown and f"<@{USER}>" in shown
    assert "Top templates this month" in shown
    headers = [b["text"]["text"] for b in view["blocks"] if b["type"] == "header"]
    assert headers.index("Top channels this month") > headers.index("This workspace")


async def test_a_workspace_admin_is_an_admin_without_admin_users(harness: Harness) -> None:
    harness.slack.add_user(ADMIN, "Ada", admin=True)
    await ask(harness, 1)

    assert "Top people this month" in texts(await open_tab(harness, ADMIN))
    assert "Top people this month" not in texts(await open_tab(harness, BOB))


async def test_the_messages_tab_publishes_nothing(harness: Harness) -> None:
    event = {"type": "app_home_opened", "user": USER, "channel": f"D{USER}", "tab": "messages"}
    response = await harness.deliver({**event, "event_ts": next_ts()})
    assert response.status == 200

    await open_tab(harness, USER)  # opened after it: its tab is drawn once it is done

    assert len(harness.slack.calls_to("views.publish")) == 1
