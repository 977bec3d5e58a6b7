"""The agent messaging experience: the Messages tab, suggested prompts, titles, what is viewed."""

from __future__ import annotations

from typing import Any

from tests import samples
from tests.harness import CHANNEL, TEAM, USER, Harness, answer, eventually, next_ts

DM = "D0ALICE"  # the person's DM with the app: its Messages tab


def image_blocks(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every image block a Claude request carries."""
    return [b for m in request["messages"] for b in m["content"] if b["type"] == "image"]


async def open_messages_tab(harness: Harness, **kwargs: Any) -> dict[str, Any]:
    """Open the app's Messages tab as the person would; the prompts Slack shows there."""
    response = await harness.deliver(harness.slack.app_home_opened(USER, DM, **kwargs))
    assert response.status == 200
    # The tab is drawn after Slack's acknowledgement: the prompts, or the Home tab's view.
    done = (
        "views.publish" if kwargs.get("tab") == "home" else "assistant.threads.setSuggestedPrompts"
    )

    async def drawn() -> bool:
        return bool(harness.slack.calls_to(done))

    await eventually(drawn)
    return harness.slack.suggested.get(DM, {})


async def test_opening_the_messages_tab_suggests_prompts_made_from_the_templates(
    harness: Harness,
) -> None:
    shown = await open_messages_tab(harness)

    assert shown["title"]
    prompts = shown["prompts"]
    assert 1 <= len(prompts) <= 4
    assert prompts[0]["title"] == "Explain an error screenshot"
    assert {p["title"] for p in prompts} >= {"Transcribe a photo or scan", "Review a UI screenshot"}
    # For an agent app a thread_ts makes Slack drop the prompts without an error.
    (call,) = harness.slack.calls_to("assistant.threads.setSuggestedPrompts")
    assert "thread_ts" not in call.args and call.args["channel_id"] == DM


async def test_opening_the_home_tab_sets_no_prompts(harness: Harness) -> None:
    await open_messages_tab(harness, tab="home")

    assert harness.slack.calls_to("assistant.threads.setSuggestedPrompts") == []
    assert harness.slack.suggested == {}


async def test_a_picked_prompt_uses_its_template_for_the_image_shared_next(
    harness: Harness,
) -> None:
    prompt = (await open_messages_tab(harness))["prompts"][0]  # "Explain an error screenshot"
    picked = await harness.message(prompt["message"], channel=DM, channel_type="im")

    (invitation,) = await harness.replies(picked["ts"], channel=DM)
    assert "*debug*" in invitation and "in this thread" in invitation
    assert harness.claude.requests == []  # nothing to look at yet: Claude isn't asked
    assert harness.slack.titles[(DM, picked["ts"])] == "Explain an error screenshot"

    shot = harness.slack.add_file("F1", "checkout-500.png", samples.png())
    await harness.message("", channel=DM, channel_type="im", thread_ts=picked["ts"], files=[shot])
    replies = await harness.replies(picked["ts"], channel=DM)

    assert replies[1] == answer(1, 1, "debug")
    (request,) = harness.claude.requests
    assert "most likely a screenshot of an error" in request["system"]
    assert (
        request["messages"][-1]["content"][-1]["text"]
        == "What went wrong here, and how do I fix it?"
    )


async def test_a_prompt_shared_with_an_image_is_answered_at_once_with_its_template(
    harness: Harness,
) -> None:
    prompt = (await open_messages_tab(harness))["prompts"][1]
    shot = harness.slack.add_file("F1", "whiteboard.jpg", samples.jpeg(), "image/jpeg")
    msg = await harness.message(prompt["message"], channel=DM, channel_type="im", files=[shot])

    (reply,) = await harness.replies(msg["ts"], channel=DM)

    assert reply == answer(1, 1, "ocr")
    question = harness.claude.requests[0]["messages"][0]["content"][-1]["text"]
    assert question == prompt["title"]  # the template marker stays out of Claude's question


async def test_an_image_sent_in_the_messages_tab_is_answered_in_its_thread_like_any_dm(
    harness: Harness,
) -> None:
    shot = harness.slack.add_file("F1", "checkout-500.png", samples.png())
    msg = await harness.message(
        "why does checkout fail?", channel=DM, channel_type="im", files=[shot]
    )
    await harness.message(
        "and how do I fix it?", channel=DM, channel_type="im", thread_ts=msg["ts"]
    )

    replies = await harness.replies(msg["ts"], channel=DM)

    assert replies == [answer(1, 1), answer(1, 2)]
    assert harness.slack.titles == {(DM, msg["ts"]): "why does checkout fail?"}
    follow_up = harness.claude.requests[1]
    assert [m["role"] for m in follow_up["messages"]] == ["user", "assistant", "user"]
    assert len(harness.slack.calls_to("assistant.threads.setTitle")) == 1  # the first answer's


async def test_a_long_first_question_gives_a_short_title(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    question = "could you please tell me " + "what exactly is going on in this screenshot " * 4
    msg = await harness.message(question, channel=DM, channel_type="im", files=[shot])
    await harness.replies(msg["ts"], channel=DM)

    title = harness.slack.titles[(DM, msg["ts"])]
    assert title.startswith("could you please tell me what exactly") and title.endswith("…")
    assert len(title) <= 60


async def test_the_last_screenshot_where_the_person_is_looking_is_read_on_demand(
    harness: Harness,
) -> None:
    shot = harness.slack.add_file("F9", "checkout-500.png", samples.png(), user="U0BOB")
    shared_ts = next_ts()
    harness.slack.post_to_channel(
        CHANNEL, {"user": "U0BOB", "ts": shared_ts, "text": "checkout is down", "files": [shot]}
    )
    harness.slack.post_to_channel(CHANNEL, {"user": "U0CAROL", "ts": next_ts(), "text": "same"})
    entity = harness.slack.channel_entity(CHANNEL, TEAM)
    await harness.deliver(harness.slack.app_context_changed(USER, DM, [entity]))
    assert harness.slack.calls_to("conversations.history") == []  # nothing read until asked

    msg = await harness.message(
        "what's wrong in the last screenshot here?", channel=DM, channel_type="im"
    )
    (reply,) = await harness.replies(msg["ts"], channel=DM)

    (history,) = harness.slack.calls_to("conversations.history")
    assert history.args["channel"] == CHANNEL
    (request,) = harness.claude.requests
    assert len(image_blocks(request)) == 1
    assert request["messages"][0]["content"][-1]["text"].endswith(
        "what's wrong in the last screenshot here?"
    )
    permalink = f"https://test.slack.com/archives/{CHANNEL}/p{shared_ts.replace('.', '')}"
    assert f"[checkout-500.png]({permalink})" in reply
    assert reply.startswith("I see 1 image(s). **Answer 1.**")


async def test_what_a_dm_message_says_is_viewed_counts_without_a_context_event(
    harness: Harness,
) -> None:
    shot = harness.slack.add_file("F9", "graph.png", samples.png("blue"))
    harness.slack.post_to_channel(CHANNEL, {"user": "U0BOB", "ts": next_ts(), "files": [shot]})
    context = {"entities": [harness.slack.channel_entity(CHANNEL, TEAM)]}

    msg = await harness.message(
        "explain the latest chart", channel=DM, channel_type="im", extra={"app_context": context}
    )
    (reply,) = await harness.replies(msg["ts"], channel=DM)

    assert "graph.png" in reply
    assert len(image_blocks(harness.claude.requests[0])) == 1


async def test_a_channel_the_bot_is_not_in_is_not_read_and_the_person_is_told(
    harness: Harness,
) -> None:
    harness.slack.not_a_member.add("C0SECRET")
    entity = harness.slack.channel_entity("C0SECRET", TEAM)
    await harness.deliver(harness.slack.app_context_changed(USER, DM, [entity]))

    msg = await harness.message(
        "what's in the last screenshot here?", channel=DM, channel_type="im"
    )
    (reply,) = await harness.replies(msg["ts"], channel=DM)

    assert "not in that channel" in reply and "/invite" in reply
    assert harness.claude.requests == []


async def test_looking_at_nothing_forgets_what_was_viewed(harness: Harness) -> None:
    entity = harness.slack.channel_entity(CHANNEL, TEAM)
    await harness.deliver(harness.slack.app_context_changed(USER, DM, [entity]))
    await harness.deliver(harness.slack.app_context_changed(USER, DM, []))  # "context": {}

    msg = await harness.message(
        "what's in the last screenshot here?", channel=DM, channel_type="im"
    )
    (reply,) = await harness.replies(msg["ts"], channel=DM)

    assert harness.slack.calls_to("conversations.history") == []
    assert "which channel" in reply
    assert harness.claude.requests == []
