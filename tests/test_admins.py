"""Who may change what (ADMIN_USERS, workspace admins), channel on/off, and the audit log."""

from __future__ import annotations

import json
import time

import pytest

from bot.store import keys
from tests import samples
from tests.harness import CHANNEL, TEAM, USER, Harness, answer, eventually

ADMIN = "U0ADMIN"
OWNER = "U0OWNER"
RESTRICTED = {"admin_users": ADMIN}


def shot(harness: Harness, file_id: str) -> dict[str, object]:
    return harness.slack.add_file(file_id, "a.png", samples.png())


async def test_without_admin_users_anyone_may_change_the_settings(harness: Harness) -> None:
    for text in ("auto on", "limit 5", "off", "on", "auto off", "limit off"):
        reply = await harness.command(text)
        assert reply["response_type"] == "in_channel", (text, reply)
        assert f"<@{USER}>" in reply["text"]


@pytest.mark.parametrize("settings_overrides", [RESTRICTED])
async def test_with_admin_users_a_member_is_told_privately_who_can(harness: Harness) -> None:
    for text in ("auto on", "limit 5", "off", "on"):
        reply = await harness.command(text)
        assert reply["response_type"] == "ephemeral"
        assert reply["text"].startswith("Only the bot's admins can change that: <@U0ADMIN>")
        assert "or an admin of this workspace" in reply["text"]

    # Nothing changed: shared images are still left alone, and the bot still answers here.
    shared = await harness.message("", files=[shot(harness, "F1")])
    assert await harness.replies(shared["ts"]) == []
    asked = await harness.mention("what?", files=[shot(harness, "F2")])
    assert await harness.replies(asked["ts"]) == [answer(1, 1)]
    help_text = (await harness.command("help"))["text"]
    assert "now *off*)" in help_text and "now *none*" in help_text and "now *on*" in help_text


@pytest.mark.parametrize("settings_overrides", [RESTRICTED])
async def test_admins_and_workspace_owners_may_and_use_stays_open(harness: Harness) -> None:
    harness.slack.add_user(OWNER, "Olive", owner=True)

    reply = await harness.command("auto on", user=ADMIN)
    assert reply["response_type"] == "in_channel" and "turned on" in reply["text"]
    reply = await harness.command("limit 5", user=OWNER)
    assert reply["response_type"] == "in_channel" and "$5.00" in reply["text"]

    reply = await harness.command("use debug")  # a member: the channel's template is open
    assert "*debug*" in reply["text"]
    shared = await harness.message("", files=[shot(harness, "F1")])
    assert await harness.replies(shared["ts"]) == [answer(1, 1, "debug")]


@pytest.mark.parametrize("settings_overrides", [RESTRICTED])
async def test_off_in_a_channel_gets_one_note_per_thread_and_no_answer(harness: Harness) -> None:
    harness.slack.add_user(ADMIN, "Ada Admin")
    reply = await harness.command("off", user=ADMIN)
    assert reply["response_type"] == "in_channel" and "turned me off here" in reply["text"]
    await harness.command("auto on", user=ADMIN)

    first = await harness.mention("what?", files=[shot(harness, "F1")])
    await harness.mention("anyone?", thread_ts=first["ts"])  # again, in the same thread
    shared = await harness.message("", files=[shot(harness, "F2")])  # auto: nobody asked
    other = await harness.mention("and this?", files=[shot(harness, "F3")])

    async def noted() -> bool:  # the notes go out after Slack's request is acknowledged
        threads = (first["ts"], other["ts"])
        return all(harness.slack.reply_texts(CHANNEL, ts) for ts in threads)

    await eventually(noted)
    await harness.settle()
    (note,) = harness.slack.reply_texts(CHANNEL, first["ts"])
    assert note == (
        "I'm switched off in this channel, so I won't answer here. Ask an admin (Ada Admin) "
        "to turn me back on with `/vision on`."
    )
    assert harness.slack.reply_texts(CHANNEL, shared["ts"]) == []
    assert len(harness.slack.reply_texts(CHANNEL, other["ts"])) == 1
    assert harness.claude.requests == [] and harness.slack.file_requests == []

    # Elsewhere, and in DMs, it still answers; turned back on, here too.
    elsewhere = await harness.mention("what?", files=[shot(harness, "F4")], channel="C0OTHER")
    assert await harness.replies(elsewhere["ts"], channel="C0OTHER") == [answer(1, 1)]
    await harness.command("on", user=ADMIN)
    again = await harness.mention("now?", files=[shot(harness, "F5")])
    assert await harness.replies(again["ts"]) == [answer(1, 2)]


async def test_forget_works_even_where_the_bot_is_off(harness: Harness) -> None:
    first = await harness.mention("what?", files=[shot(harness, "F1")])
    await harness.replies(first["ts"])
    await harness.command("off")
    await harness.mention("forget", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])
    assert replies[-1].startswith("Done: I've forgotten this thread")


@pytest.mark.parametrize("settings_overrides", [RESTRICTED])
async def test_the_audit_log_shows_admins_who_changed_what_where_and_when(
    harness: Harness,
) -> None:
    harness.slack.add_user(OWNER, "Olive", primary_owner=True)
    await harness.command("use ocr")
    await harness.command("auto on", user=ADMIN)
    await harness.command("limit 7.50", user=OWNER, channel="C0OTHER")
    await harness.command("off", user=ADMIN)
    await harness.command("auto on")  # refused: not a change, not in the log

    member = (await harness.command("audit"))["text"]
    text = (await harness.command("audit", user=ADMIN))["text"]

    assert "<@U0ADMIN>" in member and "turned" not in member  # members don't see the log
    lines = text.splitlines()
    assert lines[0] == "*The latest 4 settings changes* (kept 90 days)"
    assert lines[1].endswith(f"UTC <@{ADMIN}> in <#{CHANNEL}>: turned the bot off in the channel")
    assert lines[2].endswith(
        f"UTC <@{OWNER}> in <#C0OTHER>: set the channel's daily limit to $7.50"
    )
    assert lines[3].endswith(f"UTC <@{ADMIN}> in <#{CHANNEL}>: turned automatic answers on")
    assert lines[4].endswith(f"UTC <@{USER}> in <#{CHANNEL}>: set the default template to *ocr*")
    assert lines[1].startswith(f"• {time.strftime('%Y-%m-%d', time.gmtime())} ")


@pytest.mark.parametrize("settings_overrides", [RESTRICTED])
async def test_the_audit_log_keeps_90_days_and_shows_the_latest_50(harness: Harness) -> None:
    redis = harness.bot.services.redis
    old = time.time() - 91 * 86400
    entry = {"at": old, "user": "U0OLD", "channel": CHANNEL, "what": "turned the bot off"}
    await redis.zadd(keys.audit(TEAM), {json.dumps({**entry, "id": "x"}): int(old * 1000)})
    for n in range(55):
        await harness.command(f"limit {n + 1}", user=ADMIN)

    text = (await harness.command("audit", user=ADMIN))["text"]

    lines = text.splitlines()
    assert len(lines) == 1 + 50 and "U0OLD" not in text
    assert lines[1].endswith("daily limit to $55.00") and lines[-1].endswith("limit to $6.00")
    assert await redis.zcard(keys.audit(TEAM)) == 55  # the 91-day-old change is gone
    assert 89 * 86400 < await redis.ttl(keys.audit(TEAM)) <= 90 * 86400
