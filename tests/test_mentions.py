"""Mentions: a question about shared images is answered in the message's thread."""

from __future__ import annotations

from bot.claude.request import DEFAULT_QUESTION
from tests import samples
from tests.harness import CHANNEL, Harness, answer


async def test_mention_on_a_screenshot_is_answered_in_its_thread(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "error.png", samples.png())
    msg = await harness.mention("why does the build fail?", files=[shot])

    replies = await harness.replies(msg["ts"])

    assert replies == [answer(1, 1)]
    (request,) = harness.claude.requests
    (turn,) = request["messages"]
    assert turn["role"] == "user"
    image, text = turn["content"]
    (upload,) = harness.claude.uploads
    assert image == {"type": "image", "source": {"type": "file", "file_id": upload.file_id}}
    assert text == {"type": "text", "text": "why does the build fail?"}
    assert (upload.filename, upload.media_type) == ("error.png", "image/png")
    assert upload.data == samples.png()


async def test_the_question_keeps_its_code_indentation(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "error.png", samples.png())
    code = "```\ndef f():\n    return  1\n```"
    msg = await harness.mention(f"why does\n{code}\nfail here?", files=[shot])
    await harness.replies(msg["ts"])

    (request,) = harness.claude.requests
    question = request["messages"][0]["content"][-1]["text"]
    assert question == f"why does\n{code}\nfail here?"


async def test_several_images_go_in_one_request_in_the_order_shared(harness: Harness) -> None:
    files = [
        harness.slack.add_file("F1", "a.png", samples.png("red")),
        harness.slack.add_file("F2", "b.jpg", samples.jpeg(), mimetype="image/jpeg"),
        harness.slack.add_file("F3", "c.gif", samples.gif(), mimetype="image/gif"),
        harness.slack.add_file("F4", "d.webp", samples.webp(), mimetype="image/webp"),
    ]
    msg = await harness.mention("compare these", files=files)

    assert await harness.replies(msg["ts"]) == [answer(4, 1)]
    (request,) = harness.claude.requests
    blocks = request["messages"][0]["content"]
    assert [b["type"] for b in blocks] == ["image"] * 4 + ["text"]
    by_id = {u.file_id: u for u in harness.claude.uploads}
    sent = [by_id[b["source"]["file_id"]] for b in blocks[:4]]
    assert [u.filename for u in sent] == ["a.png", "b.jpg", "c.gif", "d.webp"]
    assert [u.media_type for u in sent] == ["image/png", "image/jpeg", "image/gif", "image/webp"]


async def test_a_mention_without_a_question_gets_the_default_prompt(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "chart.png", samples.png())
    msg = await harness.mention("", files=[shot])

    await harness.replies(msg["ts"])

    text = harness.claude.requests[0]["messages"][0]["content"][-1]
    assert text == {"type": "text", "text": DEFAULT_QUESTION}


async def test_uploads_expire_with_the_history(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "a.png", samples.png())
    msg = await harness.mention("what is this?", files=[shot])
    await harness.replies(msg["ts"])

    assert harness.claude.uploads[0].expires_in_seconds == 30 * 86400


async def test_mention_with_nothing_to_look_at_says_what_would_work(harness: Harness) -> None:
    msg = await harness.mention("")

    (reply,) = await harness.replies(msg["ts"])

    assert "Share a screenshot, photo or PDF" in reply
    assert harness.claude.requests == []
    assert CHANNEL


async def test_slacks_escapes_are_undone_in_questions_and_links(harness: Harness) -> None:
    # What Slack sends for: why does `if a < b && c > 0` fail? <the link, with a query>
    escaped = (
        "why does `if a &lt; b &amp;&amp; c &gt; 0` fail? see "
        "<https://cdn.example.com/chart.png?sig=1&amp;exp=2>"
    )
    msg = await harness.mention(escaped)
    await harness.replies(msg["ts"])

    (request,) = harness.claude.requests
    content = request["messages"][0]["content"]
    assert content[0]["source"] == {
        "type": "url",
        "url": "https://cdn.example.com/chart.png?sig=1&exp=2",
    }
    assert content[-1]["text"].startswith("why does `if a < b && c > 0` fail? see <https://")


async def test_a_link_that_stops_downloading_is_left_out_and_the_thread_goes_on(
    harness: Harness,
) -> None:
    link = "https://cdn.example.com/signed/chart.png?exp=1"
    first = await harness.mention(f"what is <{link}>?")
    await harness.replies(first["ts"])
    harness.claude.unreachable_urls.add(link)  # the signed URL expired

    await harness.message("and the trend?", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])

    assert "Image links that no longer download were left out: " + link in replies[-1]
    last = harness.claude.requests[-1]["messages"]
    assert all(b["type"] == "text" for m in last for b in m["content"])
    assert last[0]["content"][0]["text"].startswith(f"[The image at {link} no longer downloads.]")
    await harness.message("thanks", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])
    assert "no longer download" not in replies[-1]  # left out of the history for good


async def test_a_question_whose_own_link_does_not_download_is_told_why(harness: Harness) -> None:
    link = "https://cdn.example.com/gone.png"
    harness.claude.unreachable_urls.add(link)

    msg = await harness.mention(f"what is <{link}>?")
    (reply,) = await harness.replies(msg["ts"])

    assert reply.startswith("Claude couldn't download an image link")
    assert "Upload the image to Slack instead." in reply


async def test_a_dead_link_in_a_follow_up_leaves_the_threads_good_links_alone(
    harness: Harness,
) -> None:
    good, bad = "https://cdn.example.com/good.png", "https://cdn.example.com/bad.png"
    first = await harness.mention(f"what is <{good}>?")
    await harness.replies(first["ts"])
    harness.claude.unreachable_urls.add(bad)

    await harness.message(f"and <{bad}>?", thread_ts=first["ts"])
    replies = await harness.replies(first["ts"])
    assert replies[-1].startswith("Claude couldn't download an image link")
    await harness.message("and the first one again?", thread_ts=first["ts"])
    await harness.replies(first["ts"])

    last = harness.claude.requests[-1]["messages"]
    urls = [b["source"]["url"] for m in last for b in m["content"] if b["type"] == "image"]
    assert urls == [good]
