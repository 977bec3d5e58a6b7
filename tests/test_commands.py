"""The /vision command: help, list, use, auto — answered in the ack (usage: test_usage.py)."""

from __future__ import annotations

import pytest

from tests import samples
from tests.harness import CHANNEL, TEAM, Harness, answer


async def test_help_explains_the_bot_and_shows_the_channel_template(harness: Harness) -> None:
    for text in ("", "help"):
        reply = await harness.command(text)
        assert reply["response_type"] == "ephemeral"
        assert "screenshots" in reply["text"] and "now *describe*" in reply["text"]


async def test_list_shows_every_template_with_its_description(harness: Harness) -> None:
    reply = await harness.command("list")

    for name in ("describe", "debug", "ocr", "ui-review", "chart", "diff", "locate"):
        assert f"*{name}*:" in reply["text"]
    assert reply["response_type"] == "ephemeral"


async def test_use_sets_the_channels_template_for_new_questions(harness: Harness) -> None:
    reply = await harness.command("use debug")
    assert reply == {"response_type": "ephemeral", "text": reply["text"]}
    assert "*debug*" in reply["text"]

    shot = harness.slack.add_file("F1", "trace.png", samples.png())
    msg = await harness.mention("", files=[shot])

    assert await harness.replies(msg["ts"]) == [answer(1, 1, "debug")]
    request = harness.claude.requests[0]
    assert "What failed" in request["system"]
    assert request["messages"][0]["content"][-1]["text"] == (
        "What went wrong here, and how do I fix it?"
    )
    assert "now *debug*" in (await harness.command("help"))["text"]


async def test_use_with_an_unknown_name_changes_nothing(harness: Harness) -> None:
    reply = await harness.command("use telepathy")

    assert "`telepathy`" in reply["text"] and "`ocr`" in reply["text"]
    assert "now *describe*" in (await harness.command())["text"]


async def test_an_unknown_subcommand_gets_help(harness: Harness) -> None:
    reply = await harness.command("dance")
    assert "I don't know `/vision dance`" in reply["text"] and "/vision list" in reply["text"]


async def test_auto_mode_answers_every_image_shared_and_only_while_on(harness: Harness) -> None:
    silent = await harness.message("", files=[harness.slack.add_file("F0", "a.png", samples.png())])
    await harness.settle()
    assert harness.slack.file_requests == []

    reply = await harness.command("auto on")
    assert reply["response_type"] == "in_channel" and "turned on" in reply["text"]
    shared = await harness.message(
        "", files=[harness.slack.add_file("F1", "b.png", samples.png("blue"))]
    )
    text_only = await harness.message("just chatting")
    assert await harness.replies(shared["ts"]) == [answer(1, 1)]
    assert await harness.replies(text_only["ts"]) == []

    await harness.command("auto off")
    later = await harness.message("", files=[harness.slack.add_file("F2", "c.png", samples.png())])
    await harness.settle()
    assert await harness.replies(later["ts"]) == []
    assert await harness.replies(silent["ts"]) == []
    assert len(harness.claude.uploads) == 1


@pytest.mark.parametrize("settings_overrides", [{"slash_command": "/eyes"}])
async def test_the_command_name_is_configurable(harness: Harness) -> None:
    reply = await harness.command("list")
    assert "*ocr*" in reply["text"]


async def test_auto_mode_leaves_files_that_are_not_images_or_pdfs_alone(harness: Harness) -> None:
    await harness.command("auto on")
    logs = harness.slack.add_file("F1", "logs.zip", samples.zip_archive(), "application/zip")
    archive = await harness.message("", files=[logs])
    await harness.settle()

    assert await harness.replies(archive["ts"]) == []
    assert harness.slack.file_requests == []
    assert harness.slack.calls_to("files.info") == []
    assert harness.slack.calls_to("assistant.threads.setStatus") == []
    assert harness.slack.calls_to("reactions.add") == []

    # Beside an image and a PDF, the archive is skipped without a note.
    mixed = await harness.message(
        "",
        files=[
            harness.slack.add_file("F2", "b.png", samples.png("blue")),
            harness.slack.add_file("F3", "more.zip", samples.zip_archive(), "application/zip"),
            harness.slack.add_file("F4", "c.pdf", samples.pdf(), "application/pdf"),
        ],
    )
    (reply,) = await harness.replies(mixed["ts"])
    assert reply.startswith("I see 1 image(s) and 1 document(s). **Answer 1.**")
    assert {u.filename for u in harness.claude.uploads} == {"b.png", "c.pdf"}

    # A mention still takes every file, and says why the archive can't be used.
    asked = await harness.mention("what's in here?", files=[logs])
    (note,) = await harness.replies(asked["ts"])
    assert "logs.zip" in note and "ZIP archive" in note


async def test_a_channel_default_that_no_longer_exists_shows_as_the_default(
    harness: Harness,
) -> None:
    # Chosen with `/vision use` while TEMPLATES_FILE still defined it.
    await harness.bot.services.channels.set_template(TEAM, CHANNEL, "retired")

    help_text = (await harness.command("help"))["text"]
    auto_text = (await harness.command("auto on"))["text"]

    assert "now *describe*" in help_text and "retired" not in help_text
    assert "*describe* template" in auto_text and "retired" not in auto_text
