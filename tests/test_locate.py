"""`locate`: Claude's boxes, scaled back to the original, drawn and posted in the thread."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from bot.media import locate
from bot.models import FileRef
from tests import samples
from tests.harness import CHANNEL, Harness

BOX_RED = (0xE0, 0x1E, 0x5A)


def boxes_answer(request: dict[str, Any]) -> str:
    """A locate answer in the sent image's pixel space, with one bad and one off-image box."""
    return (
        "The failing job is [1]; the retry button is [2].\n\n```json\n"
        '[{"n": 1, "image": 1, "label": "failing job", "box": [100, 100, 300, 200]},\n'
        ' {"n": 2, "image": 1, "label": "retry", "box": [2000, 1000, 2100, 1060]},\n'
        ' {"n": 3, "image": 1, "label": "off", "box": [2500, 1400, 2700, 1500]},\n'
        ' {"n": 4, "image": 1, "label": "bad", "box": "top left"}]\n```'
    )


async def test_locate_posts_the_original_with_numbered_boxes(harness: Harness) -> None:
    await harness.command("use locate")
    harness.claude.reply = boxes_answer
    original = samples.screenshot((5120, 2880))
    msg = await harness.mention(
        "where is the failing job?", files=[harness.slack.add_file("F1", "ci.png", original)]
    )

    (reply,) = await harness.replies(msg["ts"])

    # The coordinates are for the drawing: the thread shows the words, not the JSON.
    assert reply.startswith("The failing job is [1]; the retry button is [2].\n\n_Template:")
    assert "```" not in reply and "box" not in reply
    assert "I left out 2 region(s) that were malformed or off-image" in reply
    content = harness.claude.requests[0]["messages"][0]["content"]
    assert [b["type"] for b in content] == ["text", "image", "text"]
    assert content[0]["text"] == "Image 1:"
    (upload,) = harness.slack.uploaded_to(CHANNEL, msg["ts"])
    assert upload.filename == "ci-located.png"
    drawn = Image.open(io.BytesIO(upload.data)).convert("RGB")
    assert drawn.size == (5120, 2880)  # drawn on the original, not the downscaled copy
    scale = 5120 / 2576
    # Box 1's outline sits where Claude's box lands on the original, scaled by ~1.99.
    left, top, right, bottom = (round(v * scale) for v in (100, 100, 300, 200))
    mid_y = (top + bottom) // 2
    assert drawn.getpixel((left + 1, mid_y)) == BOX_RED
    assert drawn.getpixel((right - 1, mid_y)) == BOX_RED
    assert drawn.getpixel(((left + right) // 2, mid_y)) == Image.open(io.BytesIO(original)).convert(
        "RGB"
    ).getpixel(((left + right) // 2, mid_y))
    # Box 2 is drawn too, in its own color; nothing is drawn for the dropped ones.
    x2 = round(2000 * scale)
    assert drawn.getpixel((x2 + 1, round(1030 * scale))) != (255, 255, 255)
    dropped_edge = (round(2500 * scale), round(1420 * scale))
    assert drawn.getpixel(dropped_edge) == Image.open(io.BytesIO(original)).getpixel(dropped_edge)
    assert (
        "locate" in harness.claude.requests[0]["system"]
        or "```json" in (harness.claude.requests[0]["system"])
    )


def test_malformed_answers_never_crash_and_count_what_was_dropped() -> None:
    ref = FileRef(
        slack_file_id="F1",
        name="a.png",
        media_type="image/png",
        sha256="x",
        claude_file_id="file_1",
        width=100,
        height=50,
        original_width=200,
        original_height=100,
    )
    assert locate.parse("no boxes here", [ref]).boxes == {}
    assert locate.parse("```json\n{not json\n```", [ref]).dropped == 1
    located = locate.parse(
        '```json\n[{"n": 1, "box": [10, 10, 20, 20]}, {"n": 2, "image": 2, "box": [1, 1, 2, 2]},'
        ' {"n": 3, "box": [30, 30, 20, 40]}, {"n": true, "box": [1, 1, 2, 2]}]\n```',
        [ref],
    )
    assert located.dropped == 3
    (box,) = located.boxes[0]
    assert (box.x0, box.y0, box.x1, box.y1) == (20, 20, 40, 40)


async def test_boxes_land_on_the_image_claude_numbered_in_a_follow_up(harness: Harness) -> None:
    await harness.command("use locate")
    first = samples.png("red", (800, 600))
    msg = await harness.mention("hi", files=[harness.slack.add_file("F1", "a.png", first)])
    await harness.replies(msg["ts"])
    harness.claude.reply = (
        'On the new one: [1].\n```json\n[{"n": 1, "image": 2, "box": [10, 10, 200, 100]}]\n```'
    )
    second = samples.png("blue", (800, 600))
    await harness.message(
        "where is it now?",
        thread_ts=msg["ts"],
        files=[harness.slack.add_file("F2", "b.png", second)],
    )

    replies = await harness.replies(msg["ts"])

    assert replies[-1].startswith("On the new one: [1].\n\n_Template: locate_")
    (upload,) = harness.slack.uploaded_to(CHANNEL, msg["ts"])
    assert upload.filename == "b-located.png"
    drawn = Image.open(io.BytesIO(upload.data)).convert("RGB")
    assert drawn.getpixel((10, 50)) == BOX_RED
    labels = [
        b["text"]
        for m in harness.claude.requests[-1]["messages"]
        for b in m["content"]
        if b["type"] == "text" and b["text"].startswith("Image ")
    ]
    assert labels == ["Image 1:", "Image 2:"]


@pytest.mark.parametrize("size", [1, 3, 7, 100])
async def test_the_box_block_is_hidden_however_the_stream_splits_it(size: int) -> None:
    answer = 'See [1] and ``code``.\n\n```JSON\n[{"n": 1}]\n```'
    shown: list[str] = []

    async def show(text: str) -> None:
        shown.append(text)

    hide = locate.HideBoxes(show)
    for i in range(0, len(answer), size):
        await hide(answer[i : i + size])
    await hide.flush()

    assert "".join(shown) == "See [1] and ``code``."


async def test_a_stream_ending_in_backticks_is_shown_whole() -> None:
    shown: list[str] = []

    async def show(text: str) -> None:
        shown.append(text)

    hide = locate.HideBoxes(show)
    for part in ["Run `ls`", "\n```", "sh\nls\n``", "`"]:
        await hide(part)
    await hide.flush()

    assert "".join(shown) == "Run `ls`\n```sh\nls\n```"


async def test_a_drawing_that_fails_is_a_note_and_the_answer_is_kept(harness: Harness) -> None:
    await harness.command("use locate")
    shot = harness.slack.add_file("F1", "ci.png", samples.screenshot((800, 600)))

    def answer_then_break_the_original(request: dict[str, Any]) -> str:
        # By the time the boxes are drawn, Slack serves bytes Pillow can't open.
        harness.slack.add_file("F1", "ci.png", samples.zip_archive())
        return 'See [1].\n```json\n[{"n": 1, "image": 1, "box": [10, 10, 100, 100]}]\n```'

    harness.claude.reply = answer_then_break_the_original
    msg = await harness.mention("where is the error?", files=[shot])
    answer_text, note = await harness.replies(msg["ts"])

    assert answer_text.startswith("See [1].")
    assert note == "I couldn't draw the boxes on ci.png."
    await harness.message("and the warning?", thread_ts=msg["ts"])
    await harness.settle()
    follow_up = harness.claude.requests[-1]["messages"]
    assert [m["role"] for m in follow_up] == ["user", "assistant", "user"]  # answer kept


async def test_boxes_on_a_huge_photo_are_drawn_on_a_copy_within_the_draw_limit(
    harness: Harness,
) -> None:
    await harness.command("use locate")
    # A 50 MP camera JPEG: sent to Claude within its image token cap, drawn within 6144 px.
    photo = samples.photo_jpeg((9000, 5625))
    harness.claude.reply = (
        'The sky is [1].\n```json\n[{"n": 1, "image": 1, "box": [1000, 500, 2000, 1200]}]\n```'
    )
    msg = await harness.mention(
        "where is the sky?", files=[harness.slack.add_file("F1", "sky.jpg", photo)]
    )
    await harness.replies(msg["ts"])

    (upload,) = harness.slack.uploaded_to(CHANNEL, msg["ts"])
    drawn = Image.open(io.BytesIO(upload.data)).convert("RGB")
    assert drawn.size == (locate.DRAW_LONG_EDGE, 3840)
    # Claude's x=1000 on the copy it saw is 1000 × 6144 / (its width) on the drawing.
    seen = Image.open(io.BytesIO(harness.claude.uploads[0].data)).width
    left, middle_y = round(1000 * 6144 / seen), round(850 * 6144 / seen)
    assert drawn.getpixel((left + 1, middle_y)) == BOX_RED
