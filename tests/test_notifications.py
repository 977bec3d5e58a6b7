"""Nothing the bot writes notifies anyone, unless the bot means to (`/vision auto` names who)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.slack.text import WORD_JOINER
from tests import samples
from tests.fakes.slack_api import notifications
from tests.harness import CHANNEL, USER, Harness

# What text in a screenshot can talk Claude into writing (Slack's markup for each mention).
PAGED = "<!channel> <!here> <!everyone> <!subteam^S0ONCALL|@oncall> <@U0BOB> and <@W0CEO|ceo>"
SHOWN = "@channel @here @everyone @oncall @U0BOB and @ceo".replace("@", f"@{WORD_JOINER}")


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, object]:
    templates = tmp_path / "templates.yaml"
    templates.write_text(
        "triage:\n"
        "  description: Classify a bug for <!subteam^S0ONCALL> and @here\n"
        "  prompt: Triage this.\n"
    )
    return {"templates_file": templates}


@pytest.mark.parametrize("streaming", [True, False])
async def test_mentions_claude_writes_reach_the_thread_as_text_not_as_pings(
    harness: Harness, streaming: bool
) -> None:
    harness.slack.streaming_enabled = streaming
    harness.claude.reply = f"<!here> the sign says: {PAGED}. Also @channel, please."
    # Every mention split across streamed pieces, the first one across the first words
    # (posted at once, before the rest of the mention has arrived).
    harness.claude.chunk_size = 3
    shot = harness.slack.add_file("F1", "sign.png", samples.png())
    msg = await harness.mention("what does the sign say?", files=[shot])

    (reply,) = await harness.replies(msg["ts"])
    assert harness.slack.notified() == []
    here = f"@{WORD_JOINER}here"
    assert reply.startswith(f"{here} the sign says: {SHOWN}. Also @{WORD_JOINER}channel, please.")
    # The template menu under the first answer went out too (blocks and text alike).
    assert harness.slack.messages(CHANNEL, msg["ts"])[0].blocks


async def test_file_names_in_refusals_and_notes_never_notify(harness: Harness) -> None:
    bad = harness.slack.add_file("F1", "<!channel> read me.zip", samples.zip_archive(), "x/zip")
    good = harness.slack.add_file("F2", "<!here>.png", samples.png())
    msg = await harness.mention("what are these?", files=[bad, good])

    replies = await harness.replies(msg["ts"])
    assert harness.slack.notified() == []
    assert f"@{WORD_JOINER}channel read me.zip" in replies[0]


async def test_template_text_never_notifies_but_the_bots_own_mention_still_does(
    harness: Harness,
) -> None:
    listed = await harness.command("list")
    assert "*triage*: Classify a bug for" in listed["text"]
    assert notifications(listed["text"]) == []
    unknown = await harness.command("use <!channel>")
    assert notifications(unknown["text"]) == []

    turned_on = await harness.command("auto on")
    assert turned_on["response_type"] == "in_channel"
    assert notifications(turned_on["text"]) == [f"<@{USER}>"]
