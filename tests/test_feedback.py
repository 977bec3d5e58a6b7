"""Feedback buttons under every finished answer: counted per template, a thumbs-down offers more."""

from __future__ import annotations

from typing import Any

from tests import samples
from tests.harness import CHANNEL, TEAM, USER, Harness, answer
from tests.test_home import open_tab, texts

DM = "D0ALICE"


async def metrics(harness: Harness) -> str:
    async with harness.http.get(harness.bot.metrics_url) as response:
        return await response.text()


def feedback_block(blocks: list[dict[str, Any]] | None) -> dict[str, Any]:
    (block,) = [b for b in blocks or [] if b["type"] == "context_actions"]
    return block


async def ask(harness: Harness) -> str:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    msg = await harness.mention("what is this?", files=[shot])
    await harness.replies(msg["ts"])
    return str(msg["ts"])


async def test_every_answer_ends_with_feedback_buttons_after_the_template_menu(
    harness: Harness,
) -> None:
    ts = await ask(harness)
    await harness.message("and the colours?", thread_ts=ts)
    await harness.replies(ts)

    first, second = harness.slack.messages(CHANNEL, ts)
    assert [b["type"] for b in first.blocks or []] == ["context", "actions", "context_actions"]
    assert [b["type"] for b in second.blocks or []] == ["context_actions"]
    (buttons,) = feedback_block(second.blocks)["elements"]
    assert buttons["type"] == "feedback_buttons"
    assert first.text.endswith("_Template: describe_")  # the footer stays in the answer


async def test_answers_in_the_messages_tab_get_feedback_buttons_too(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    msg = await harness.message("what is this?", channel=DM, channel_type="im", files=[shot])
    await harness.replies(msg["ts"], channel=DM)

    (reply,) = harness.slack.messages(DM, msg["ts"])
    assert feedback_block(reply.blocks)


async def test_feedback_both_ways_is_counted_per_template_once_per_person(
    harness: Harness,
) -> None:
    ts = await ask(harness)
    (answered,) = harness.slack.messages(CHANNEL, ts)

    up = harness.slack.feedback_click(answered.ts, positive=True, user=USER)
    await harness.interact(up)
    await harness.interact(up)  # a second click on the same button counts once
    await harness.interact(harness.slack.feedback_click(answered.ts, positive=False, user="U0BOB"))

    text = await metrics(harness)
    assert 'vision_bot_feedback_total{template="describe",verdict="positive"} 1.0' in text
    assert 'vision_bot_feedback_total{template="describe",verdict="negative"} 1.0' in text
    counts = await harness.bot.services.feedback.counts(TEAM)
    assert counts == {"describe": {"positive": 1, "negative": 1}}


async def test_changing_ones_mind_moves_the_vote(harness: Harness) -> None:
    ts = await ask(harness)
    (answered,) = harness.slack.messages(CHANNEL, ts)

    await harness.interact(harness.slack.feedback_click(answered.ts, positive=True, user=USER))
    await harness.interact(harness.slack.feedback_click(answered.ts, positive=False, user=USER))

    counts = await harness.bot.services.feedback.counts(TEAM)
    assert counts == {"describe": {"positive": 0, "negative": 1}}


async def test_a_thumbs_down_privately_offers_another_template(harness: Harness) -> None:
    ts = await ask(harness)
    (answered,) = harness.slack.messages(CHANNEL, ts)

    await harness.interact(harness.slack.feedback_click(answered.ts, positive=True, user=USER))
    assert harness.slack.ephemerals == []  # a thumbs-up needs nothing more
    await harness.interact(harness.slack.feedback_click(answered.ts, positive=False, user="U0BOB"))

    (offer,) = harness.slack.ephemerals
    assert (offer["user"], offer["channel"], offer["thread_ts"]) == ("U0BOB", CHANNEL, ts)
    (select,) = [e for b in offer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    values = {o["value"] for o in select["options"]}
    assert "describe" not in values and {"debug", "ocr"} <= values

    await harness.interact(harness.slack.ephemeral_choice(offer, "ocr", user="U0BOB"))
    replies = await harness.replies(ts)

    assert replies == [answer(1, 1), answer(1, 2, "ocr")]
    assert "Transcribe every piece of text" in harness.claude.requests[1]["system"]
    redo = harness.slack.messages(CHANNEL, ts)[1]
    buttons = feedback_block(redo.blocks)["elements"][0]
    assert buttons["negative_button"]["value"].endswith("ocr")  # feedback on the new answer


async def test_feedback_on_a_template_no_longer_loaded_is_counted_without_a_label_per_name(
    harness: Harness,
) -> None:
    ts = await ask(harness)
    (answered,) = harness.slack.messages(CHANNEL, ts)
    click = harness.slack.feedback_click(answered.ts, positive=True, user=USER)
    click["actions"][0]["value"] = "positive:gone-template"

    await harness.interact(click)

    assert 'vision_bot_feedback_total{template="other",verdict="positive"} 1.0' in (
        await metrics(harness)
    )


async def test_admins_see_feedback_per_template_in_usage_and_the_home_tab_members_do_not(
    harness: Harness,
) -> None:
    harness.slack.add_user("U0ADMIN", "Ada", admin=True)  # a workspace admin, per users.info
    ts = await ask(harness)
    (answered,) = harness.slack.messages(CHANNEL, ts)
    for user, positive in (("U0A", True), ("U0B", True), ("U0C", False)):
        await harness.interact(
            harness.slack.feedback_click(answered.ts, positive=positive, user=user)
        )

    usage = (await harness.command("usage", user="U0ADMIN"))["text"]
    feedback = usage.split("*Feedback by template, last 30 days*")[1]
    assert "• *describe*: `███████░░░` 👍 2 · 👎 1 (67% helpful)" in feedback
    home = texts(await open_tab(harness, "U0ADMIN"))
    assert "Feedback by template, last 30 days" in home and "👍 2 · 👎 1" in home

    member = (await harness.command("usage", user="U0B"))["text"]
    assert "Feedback" not in member and "👍" not in member
    assert "Feedback" not in texts(await open_tab(harness, "U0B"))
