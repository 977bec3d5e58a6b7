"""Redis out of reach: whoever asked hears so at once, once; answers resume when it is back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from redis.asyncio import Redis

from bot.outage import CANT_ANSWER_NOW
from bot.slack import blocks as slack_blocks
from tests import samples
from tests.conftest import TEST_REDIS_URL
from tests.fakes import FakeClaude, FakeSlack
from tests.harness import CHANNEL, Harness, answer, bot_on, eventually
from tests.redis_topologies import standalone
from tests.resp_proxy import Rule, resp_proxy
from tests.test_interactions import choose, open_shortcut, submit


async def test_a_question_asked_while_redis_is_down_is_told_once_and_answers_resume(
    slack: FakeSlack, claude: FakeClaude, tmp_path: Path
) -> None:
    async with (
        standalone(tmp_path) as redis_server,
        bot_on(slack, claude, redis_server.url) as harness,
    ):
        before = await harness.mention("what is this?", files=[shot(slack, "F1")])
        assert await harness.replies(before["ts"]) == [answer(1, 1)]
        # Idle connections in the pool: each is dead once Redis restarts.
        redis = harness.bot.services.redis
        await asyncio.gather(*(redis.blpop(["vb:test:nothing"], timeout=0.2) for _ in range(8)))

        redis_server.stop()
        # Slack sends a mention twice (app_mention, message) and retries deliveries.
        asked = await harness.mention("and this?", files=[shot(slack, "F2")])
        retry = {"type": "app_mention", **asked}
        retried = await harness.deliver(retry, event_id="Ev00000002", retry_num=1)
        dm = await harness.message("are you there?", channel="D0ALICE", channel_type="im")
        # A follow-up without a mention can't be told from chatter without Redis.
        chatter = await harness.message("thanks all", thread_ts=before["ts"])

        assert retried.status == 200  # acknowledged: nothing left for Slack to retry
        assert slack.reply_texts(CHANNEL, asked["ts"]) == [CANT_ANSWER_NOW]
        assert slack.reply_texts("D0ALICE", dm["ts"]) == [CANT_ANSWER_NOW]
        assert slack.reply_texts(CHANNEL, before["ts"]) == [answer(1, 1)]
        assert len(claude.requests) == 1
        assert chatter["ts"]

        await redis_server.start()  # empty: restarted without persistence
        # The first probe and the first question find Redis back, not a dead connection.
        async with harness.http.get(f"{harness.bot.url}/healthz") as response:
            assert response.status == 200
        await answers_resume(harness, "F3", number=2)


async def test_the_slash_command_says_so_instead_of_failing(
    slack: FakeSlack, claude: FakeClaude, tmp_path: Path
) -> None:
    async with (
        standalone(tmp_path) as redis_server,
        bot_on(slack, claude, redis_server.url) as harness,
    ):
        redis_server.stop()
        reply = await harness.command("help")

    assert reply == {"response_type": "ephemeral", "text": CANT_ANSWER_NOW}


async def answers_resume(harness: Harness, file_id: str, *, number: int) -> None:
    """A new question about a new image gets the bot's `number`th answer."""
    after = await harness.mention("and now?", files=[shot(harness.slack, file_id)])

    async def answered() -> bool:
        return harness.slack.reply_texts(CHANNEL, after["ts"]) == [answer(1, number)]

    await eventually(answered, timeout=15)


def shot(slack: FakeSlack, file_id: str) -> dict[str, object]:
    return slack.add_file(file_id, f"{file_id}.png", samples.png())


async def test_a_question_asked_while_redis_hangs_is_told_too_not_held_forever(
    slack: FakeSlack, claude: FakeClaude, redis: Redis
) -> None:
    # A Redis that accepts connections and never answers (a stalled primary, a network
    # partition that drops packets): commands time out and count as unreachable.
    real = urlsplit(TEST_REDIS_URL)
    async with (
        resp_proxy(real.hostname or "127.0.0.1", real.port or 6379) as proxy,
        bot_on(slack, claude, f"{proxy.url}{real.path}") as harness,
    ):
        proxy.rules["*"] = Rule(delay=120)
        asked = await harness.mention("what is this?", files=[shot(slack, "F1")])
        assert slack.reply_texts(CHANNEL, asked["ts"]) == [CANT_ANSWER_NOW]

        proxy.rules.clear()
        await answers_resume(harness, "F2", number=1)


async def test_the_template_menu_shortcut_and_modal_say_so_instead_of_doing_nothing(
    slack: FakeSlack, claude: FakeClaude, tmp_path: Path
) -> None:
    async with (
        standalone(tmp_path) as redis_server,
        bot_on(slack, claude, redis_server.url) as harness,
    ):
        asked = await harness.mention("what is this?", files=[shot(slack, "F1")])
        await harness.replies(asked["ts"])
        message = {"type": "message", "user": "U0BOB", "ts": "1700000555.000100"}
        view = await open_shortcut(harness, message)

        redis_server.stop()
        await choose(harness, asked["ts"], "ocr", action_ts="1700000600.000001")
        await submit(harness, view, "ocr", "what does it say?")
        views_before = len(slack.views)
        await open_shortcut_while_down(harness, {**message, "ts": "1700000777.000100"})

    told = [(e["channel"], e.get("thread_ts"), e["text"]) for e in slack.ephemerals]
    assert told == [
        (CHANNEL, asked["ts"], CANT_ANSWER_NOW),  # the menu
        (CHANNEL, message["ts"], CANT_ANSWER_NOW),  # the modal's submission
        (CHANNEL, "1700000777.000100", CANT_ANSWER_NOW),  # the shortcut: no modal opened
    ]
    assert len(slack.views) == views_before
    assert len(claude.requests) == 1


async def open_shortcut_while_down(harness: Harness, message: dict[str, object]) -> None:
    """Run the message shortcut when no modal is expected to open."""
    await harness.interact(
        {
            "type": "message_action",
            "callback_id": slack_blocks.SHORTCUT,
            "trigger_id": "trigger-down",
            "channel": {"id": CHANNEL, "name": "general"},
            "message": message,
            "message_ts": message["ts"],
            "response_url": harness.slack.response_url("shortcut-down"),
        }
    )
