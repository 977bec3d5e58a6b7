"""Odd payloads Slack really sends: acknowledged, and answered only when someone asked."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from bot.slack import blocks as slack_blocks
from bot.store import keys
from tests import samples
from tests.harness import CHANNEL, TEAM, Harness, answer, next_ts

# Captured from a real workspace by Atlassian's Slack integration (the GenericMessageSlackEvent
# sample of com.atlassian.plugins.slack): Slackbot's notice in the app's DM, no bot_id.
SLACKBOT_NOTICE = {
    "type": "message",
    "text": "You have been removed from #testcreate2 by <@UC7SRSBH7>",
    "user": "USLACKBOT",
    "ts": "1547268549.000100",
    "channel": "DF6DMV4KX",
    "event_ts": "1547268549.000100",
    "channel_type": "im",
}
# More of the same capture, and bolt-python's message_changed sample
# (tests/scenario_tests_async/test_message_changed.py): nobody asked anything.
SILENT = {
    "message_deleted": {
        "type": "message",
        "deleted_ts": "1547500911.010000",
        "subtype": "message_deleted",
        "hidden": True,
        "channel": "CF49QEJF4",
        "previous_message": {
            "type": "message",
            "user": "UC7LU9ZGS",
            "text": "Any message",
            "client_msg_id": "853ce7b3-b7ff-4096-b202-c3bbf65c1e4a",
            "ts": "1547500911.010000",
        },
        "event_ts": "1547500951.010100",
        "ts": "1547500951.010100",
        "channel_type": "channel",
    },
    "channel_join": {
        "user": "UF62SGQP6",
        "type": "message",
        "subtype": "channel_join",
        "ts": "1547268640.003100",
        "text": "<@UF62SGQP6> has joined the channel",
        "inviter": "UC7SRSBH7",
        "channel": "CF662G3JN",
        "event_ts": "1547268640.003100",
        "channel_type": "channel",
    },
    "message_changed": {
        "type": "message",
        "subtype": "message_changed",
        "message": {
            "type": "message",
            "text": "updated message",
            "user": "U111",
            "team": "T111",
            "edited": {"user": "U111", "ts": "1665102362.000000"},
        },
        "previous_message": {
            "type": "message",
            "text": "original message",
            "user": "U222",
            "team": "T111",
            "ts": "1665102338.901939",
        },
        "channel": "C111",
        "hidden": True,
        "ts": "1665102362.013600",
        "event_ts": "1665102362.013600",
        "channel_type": "channel",
    },
}
# Slack's documented app_rate_limited body (docs.slack.dev/reference/events/app_rate_limited):
# no inner event, sent whether or not the app subscribes.
APP_RATE_LIMITED = {
    "token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
    "type": "app_rate_limited",
    "team_id": TEAM,
    "minute_rate_limited": 1518467820,
    "api_app_id": "A0APP",
}


async def queued(harness: Harness) -> int:
    """Turns ever written to the queue (acknowledged ones are deleted, so count tickets)."""
    redis = harness.bot.services.redis
    return len([k async for k in redis.scan_iter(f"{keys.PREFIX}:thread:*:seen:*")])


@pytest.mark.parametrize("name", sorted(SILENT))
async def test_edits_deletions_and_joins_are_acknowledged_in_silence(
    harness: Harness, name: str
) -> None:
    response = await harness.deliver(SILENT[name])
    await harness.settle()

    assert response.status == 200
    assert await queued(harness) == 0 and harness.slack.calls_to("chat.postMessage") == []


async def test_slackbots_notices_in_the_dm_are_not_answered(harness: Harness) -> None:
    response = await harness.deliver(SLACKBOT_NOTICE)
    await harness.settle()

    assert response.status == 200
    assert await queued(harness) == 0
    assert harness.claude.requests == []
    assert harness.slack.calls_to("assistant.threads.setStatus") == []
    assert harness.slack.messages("DF6DMV4KX") == []
    # A person's DM still is.
    dm = await harness.message("what is a 502?", channel="D0ALICE", channel_type="im")
    assert len(await harness.replies(dm["ts"], channel="D0ALICE")) == 1


async def test_app_rate_limited_is_acknowledged_logged_once_and_counted(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    responses = [await harness.deliver_body(APP_RATE_LIMITED) for _ in range(2)]
    later = await harness.deliver_body({**APP_RATE_LIMITED, "minute_rate_limited": 1518467880})

    assert [r.status for r in [*responses, later]] == [200, 200, 200]
    notices = [r for r in caplog.records if "app_rate_limited" in r.getMessage()]
    assert len(notices) == 2  # once per minute Slack names, not per delivery
    assert "Unhandled request" not in caplog.text
    async with harness.http.get(harness.bot.metrics_url) as response:
        assert "vision_bot_slack_rate_limited_total 2.0" in await response.text()


async def test_an_event_without_a_channel_is_dropped_at_intake(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    event = {
        "type": "app_mention",
        "user": "U0ALICE",
        "text": f"<@{harness.slack.bot_user_id}> what is this?",
        "ts": next_ts(),
        "team": TEAM,
        "files": [shot],
    }
    response = await harness.deliver(event)
    await harness.settle()

    assert response.status == 200
    assert await queued(harness) == 0
    assert harness.claude.requests == [] and harness.claude.uploads == []


async def test_text_slack_sends_with_half_an_emoji_is_cleaned_not_lost(
    harness: Harness,
) -> None:
    # JSON may escape a lone UTF-16 surrogate (an emoji cut in half); Python reads it as a
    # str no UTF-8 encoder writes.
    shot = harness.slack.add_file("F1", "cafe.png", samples.png())
    ts = next_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": "U0ALICE",
        "text": f"<@{harness.slack.bot_user_id}> why is \ud83d this red?",
        "ts": ts,
        "channel": CHANNEL,
        "team": TEAM,
        "files": [{**shot, "name": "caf\ud83d.png", "title": "\udc00"}],
    }
    assert "\\ud83d" in json.dumps(event)
    response = await harness.deliver(event)

    assert response.status == 200
    assert await harness.replies(ts) == [answer(1, 1)]
    question = harness.claude.requests[0]["messages"][0]["content"][-1]["text"]
    assert question == "why is \ufffd this red?"


async def test_a_modal_an_older_version_opened_gets_a_clear_message_not_an_error(
    harness: Harness,
) -> None:
    metadata = {"channel": CHANNEL, "ts": "1700000123.000100", "thread_ts": "1700000123.000100"}
    old_view = {
        "id": "V0OLD",
        "type": "modal",
        "callback_id": slack_blocks.MODAL,
        "private_metadata": json.dumps({**metadata, "file_ids": ["F1"]}),  # renamed since
        "state": {
            "values": {
                "template_block": {"template_select": {"selected_option": {"value": "ocr"}}},
                "question_block": {"question_input": {"value": "read it"}},
            }
        },
    }
    ack = await harness.interact({"type": "view_submission", "view": old_view})
    await harness.settle()

    assert ack["response_action"] == "update"
    harness.slack.check_view(ack["view"])
    (section,) = ack["view"]["blocks"]
    assert "opened before the bot was updated" in section["text"]["text"]
    assert "Ask Claude about this" in section["text"]["text"]
    assert harness.claude.requests == []
    assert await queued(harness) == 0
