"""Inside a thread: the template select, the message shortcut, `forget`, and precedence."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.pipeline import CANNOT_POST
from bot.slack import blocks as slack_blocks
from bot.store import keys
from tests import samples
from tests.harness import CHANNEL, TEAM, Harness, answer, next_ts


def select_of(harness: Harness, thread_ts: str) -> dict[str, Any]:
    """The template select under the bot's first answer in the thread."""
    (first, *_) = harness.slack.messages(CHANNEL, thread_ts)
    actions = [b for b in first.blocks or [] if b["type"] == "actions"]
    return dict(actions[0]["elements"][0])


async def choose(harness: Harness, thread_ts: str, template: str, action_ts: str) -> None:
    """Pick a template in the select under the first answer, as a user would."""
    message = harness.slack.messages(CHANNEL, thread_ts)[0]
    await harness.interact(
        {
            "type": "block_actions",
            "channel": {"id": CHANNEL},
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": CHANNEL,
                "thread_ts": thread_ts,
            },
            "message": {"ts": message.ts, "thread_ts": thread_ts},
            "trigger_id": "trig",
            "actions": [
                {
                    "type": "static_select",
                    "action_id": slack_blocks.TEMPLATE_SELECT,
                    "selected_option": {"value": template},
                    "action_ts": action_ts,
                }
            ],
        }
    )


async def test_the_first_answer_offers_a_template_select(harness: Harness) -> None:
    msg = await harness.mention("hm?", files=[harness.slack.add_file("F1", "a.png", samples.png())])
    await harness.replies(msg["ts"])
    await harness.message("more?", thread_ts=msg["ts"])
    await harness.settle()

    select = select_of(harness, msg["ts"])
    assert select["initial_option"]["value"] == "describe"
    assert {o["value"] for o in select["options"]} >= {"debug", "ocr", "locate"}
    later = harness.slack.messages(CHANNEL, msg["ts"])[1]
    assert not any(b["type"] == "actions" for b in later.blocks or [])


async def test_choosing_a_template_re_answers_and_sticks_for_follow_ups(harness: Harness) -> None:
    msg = await harness.mention(
        "what is it?", files=[harness.slack.add_file("F1", "a.png", samples.png())]
    )
    await harness.replies(msg["ts"])

    await choose(harness, msg["ts"], "ocr", action_ts="1700000999.000001")
    await choose(harness, msg["ts"], "ocr", action_ts="1700000999.000001")  # Slack retry
    replies = await harness.replies(msg["ts"])
    assert replies == [answer(1, 1), answer(1, 2, "ocr")]
    redo = harness.claude.requests[1]
    assert "Transcribe every piece of text" in redo["system"]
    assert [m["role"] for m in redo["messages"]] == ["user"]  # the question, answered anew
    assert redo["messages"][0]["content"][-1]["text"] == "what is it?"

    await harness.message("and the footer?", thread_ts=msg["ts"])
    replies = await harness.replies(msg["ts"])
    follow_up = harness.claude.requests[2]
    assert "Transcribe every piece of text" in follow_up["system"]
    assert follow_up["messages"][1]["content"][0]["text"] == "I see 1 image(s). **Answer 2.**"
    assert replies[-1] == answer(1, 3, "ocr")


async def test_thread_choice_beats_channel_default_beats_describe(harness: Harness) -> None:
    first = await harness.mention("a", files=[harness.slack.add_file("F1", "a.png", samples.png())])
    await harness.replies(first["ts"])
    await harness.command("use chart")
    await harness.message("b", thread_ts=first["ts"])  # thread started before: still describe?
    await harness.settle()
    second = await harness.mention(
        "c", files=[harness.slack.add_file("F2", "b.png", samples.png("blue"))]
    )
    await harness.replies(second["ts"])
    await choose(harness, second["ts"], "diff", action_ts="1700000999.000002")
    await harness.settle()

    footers = [
        r.rsplit("_Template: ", 1)[1] for r in harness.slack.reply_texts(CHANNEL, second["ts"])
    ]
    assert footers == ["chart_", "diff_"]
    assert harness.slack.reply_texts(CHANNEL, first["ts"])[-1].endswith("_Template: chart_")


async def open_shortcut(
    harness: Harness, message: dict[str, Any], channel: str = CHANNEL
) -> dict[str, Any]:
    """Run "Ask Claude about this…" on `message`; the modal Slack opened."""
    await harness.interact(
        {
            "type": "message_action",
            "callback_id": slack_blocks.SHORTCUT,
            "trigger_id": f"trigger-shortcut-{message['ts']}",
            "channel": {"id": channel, "name": "general"},
            "message": message,
            "message_ts": message["ts"],
            "response_url": harness.slack.response_url(f"shortcut-{message['ts']}"),
        }
    )
    view = harness.slack.views[-1]
    assert view["callback_id"] == slack_blocks.MODAL
    return view


async def submit(harness: Harness, view: dict[str, Any], template: str, question: str) -> None:
    """Submit the shortcut's modal with a template and a question, as a user would."""
    values = {
        "template": {"choice": {"type": "static_select", "selected_option": {"value": template}}},
        "question": {"text": {"type": "plain_text_input", "value": question or None}},
    }
    await harness.interact(
        {"type": "view_submission", "view": {**view, "state": {"values": values}}}
    )


async def test_the_message_shortcut_asks_with_the_chosen_template(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "dash.png", samples.png())
    message = {
        "type": "message",
        "user": "U0BOB",
        "ts": "1700000123.000100",
        "text": "look",
        "files": [shot],
    }
    view = await open_shortcut(harness, message)
    await submit(harness, view, "ui-review", "is this accessible?")

    assert await harness.replies(message["ts"]) == [answer(1, 1, "ui-review")]
    request = harness.claude.requests[0]
    assert "accessibility" in request["system"]
    text = request["messages"][0]["content"][-1]["text"]
    assert text == "The message asked about:\nlook\n\nis this accessible?"
    assert json.loads(view["private_metadata"])["files"] == ["F1"]
    assert harness.slack.calls_to("files.info")  # the modal carried only the file id


async def test_the_message_shortcut_on_a_text_only_message_asks_about_its_text(
    harness: Harness,
) -> None:
    error = "TypeError: Cannot read properties of undefined (reading 'total') at checkout.js:42"
    message = {"type": "message", "user": "U0BOB", "ts": "1700000124.000100", "text": error}
    view = await open_shortcut(harness, message)
    await submit(harness, view, "debug", "")

    (reply,) = await harness.replies(message["ts"])
    assert reply == answer(0, 1, "debug")
    (request,) = harness.claude.requests
    text = request["messages"][0]["content"][-1]["text"]
    assert error in text
    assert text.endswith("What went wrong here, and how do I fix it?")  # debug's own question


async def test_a_long_message_is_cut_to_fit_the_modals_metadata(harness: Harness) -> None:
    long_text = "Traceback (most recent call last):\n" + '  File "app.py", line 1\n' * 400
    message = {"type": "message", "user": "U0BOB", "ts": "1700000125.000100", "text": long_text}
    view = await open_shortcut(harness, message)

    assert len(view["private_metadata"]) <= 3000
    carried = json.loads(view["private_metadata"])["text"]
    assert carried.endswith("…") and long_text.startswith(carried[:-1])
    await submit(harness, view, "debug", "why?")
    await harness.settle()
    assert carried in harness.claude.requests[0]["messages"][0]["content"][-1]["text"]


async def test_forget_clears_the_thread_and_its_unshared_uploads(harness: Harness) -> None:
    mine = harness.slack.add_file("F1", "mine.png", samples.png("red"))
    shared_bytes = samples.png("blue")
    msg = await harness.mention(
        "a?", files=[mine, harness.slack.add_file("F2", "s.png", shared_bytes)]
    )
    await harness.replies(msg["ts"])  # answered first, so the other thread's is answer 2
    other = await harness.mention(
        "b?", files=[harness.slack.add_file("F3", "s2.png", shared_bytes)]
    )
    await harness.settle()
    mine_id = next(u.file_id for u in harness.claude.uploads if u.filename == "mine.png")
    shared_id = next(u.file_id for u in harness.claude.uploads if u.filename == "s.png")

    await harness.mention("forget", thread_ts=msg["ts"])
    replies = await harness.replies(msg["ts"])

    assert replies[-1].startswith("Done: I've forgotten this thread")
    assert not harness.claude.has_file(mine_id)
    assert harness.claude.has_file(shared_id)  # another thread still uses those bytes
    # Later messages start fresh: no follow-up without a mention, nothing read again.
    await harness.message("still there?", thread_ts=msg["ts"])
    await harness.settle()
    assert len(harness.slack.reply_texts(CHANNEL, msg["ts"])) == len(replies)
    await harness.mention("what now?", thread_ts=msg["ts"])
    await harness.settle()
    last = harness.claude.requests[-1]
    assert harness.claude.image_blocks(last) == []
    assert harness.slack.calls_to("conversations.replies") == []
    assert await harness.replies(other["ts"]) == [answer(1, 2)]


async def test_forget_deletes_the_upload_even_after_its_cache_entry_expired(
    harness: Harness,
) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png("purple"))
    msg = await harness.mention("a?", files=[shot])
    await harness.replies(msg["ts"])
    (upload,) = harness.claude.uploads
    sha = hashlib.sha256(upload.data).hexdigest()
    await harness.bot.services.redis.delete(keys.upload(TEAM, sha))  # the cache forgot it

    await harness.mention("forget", thread_ts=msg["ts"])
    await harness.settle()

    assert not harness.claude.has_file(upload.file_id)


async def test_without_streaming_the_select_rides_on_the_final_edit(harness: Harness) -> None:
    harness.slack.streaming_enabled = False
    msg = await harness.mention("hm?", files=[harness.slack.add_file("F1", "a.png", samples.png())])

    assert await harness.replies(msg["ts"]) == [answer(1, 1)]
    assert select_of(harness, msg["ts"])["initial_option"]["value"] == "describe"
    (message,) = harness.slack.messages(CHANNEL, msg["ts"])
    markdown = [b for b in message.blocks or [] if b["type"] == "markdown"]
    assert markdown[0]["text"] == answer(1, 1)


def modal_select(view: dict[str, Any]) -> dict[str, Any]:
    """The template select of the shortcut's modal."""
    (block,) = [b for b in view["blocks"] if b["block_id"] == slack_blocks.MODAL_TEMPLATE_BLOCK]
    return dict(block["element"])


async def test_a_channel_default_that_no_longer_exists_opens_the_modal_on_the_default(
    harness: Harness,
) -> None:
    # Chosen with `/vision use` while TEMPLATES_FILE still defined it.
    await harness.bot.services.channels.set_template(TEAM, CHANNEL, "retired")
    message = {"type": "message", "user": "U0BOB", "ts": "1700000126.000100", "text": "hm"}
    view = await open_shortcut(harness, message)

    select = modal_select(view)
    # Slack refuses a view whose initial_option is not one of the select's options.
    assert select["initial_option"] in select["options"]
    assert select["initial_option"]["value"] == "describe"


async def test_the_shortcut_in_a_thread_starts_on_the_threads_template(harness: Harness) -> None:
    await harness.command("use chart")
    msg = await harness.mention(
        "what is it?", files=[harness.slack.add_file("F1", "a.png", samples.png())]
    )
    await harness.replies(msg["ts"])
    await choose(harness, msg["ts"], "ocr", action_ts="1700000999.000003")
    await harness.settle()
    reply = {"type": "message", "user": "U0BOB", "ts": next_ts(), "thread_ts": msg["ts"]}

    in_thread = modal_select(await open_shortcut(harness, {**reply, "text": "and this?"}))
    elsewhere = modal_select(await open_shortcut(harness, {"type": "message", "ts": next_ts()}))

    assert in_thread["initial_option"]["value"] == "ocr"
    assert elsewhere["initial_option"]["value"] == "chart"


async def test_the_shortcut_where_the_bot_cant_post_tells_the_asker_privately(
    harness: Harness,
) -> None:
    harness.slack.not_a_member.add("C0PRIVATE")
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    message = {"type": "message", "user": "U0BOB", "ts": next_ts(), "text": "hm", "files": [shot]}
    view = await open_shortcut(harness, message, channel="C0PRIVATE")

    await submit(harness, view, "describe", "what is this?")
    await harness.settle()

    assert harness.slack.reply_texts("C0PRIVATE", message["ts"]) == []
    ((path, posted),) = harness.slack.hook_posts
    assert path == f"shortcut-{message['ts']}"
    assert posted["response_type"] == "ephemeral" and posted["text"] == CANNOT_POST


async def test_the_shortcut_reads_the_message_as_written_not_as_slack_escapes_it(
    harness: Harness,
) -> None:
    escaped = "if (a &lt; b &amp;&amp; c) crashes"  # Slack's text for: if (a < b && c) crashes
    message = {"type": "message", "user": "U0BOB", "ts": next_ts(), "text": escaped}
    await submit(harness, await open_shortcut(harness, message), "debug", "why?")
    await harness.settle()

    (request,) = harness.claude.requests
    assert "if (a < b && c) crashes" in request["messages"][0]["content"][-1]["text"]
