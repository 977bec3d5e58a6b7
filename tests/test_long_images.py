"""Full-page captures: sent as legible overlapping parts in reading order (issue 10, item 4)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageChops

from bot.claude.request import MAX_IMAGES, plan
from bot.media import locate
from bot.models import FileRef, Turn
from tests import odd_files, samples
from tests.harness import CHANNEL, Harness
from tests.test_locate import BOX_RED
from tests.test_media import ask_about


def labels_and_images(request: dict[str, Any]) -> list[tuple[str, str]]:
    """Each image of the request's first message with the text block just before it."""
    content = request["messages"][0]["content"]
    return [
        (content[i - 1]["text"], (block["source"]["file_id"]))
        for i, block in enumerate(content)
        if block["type"] == "image"
    ]


async def test_a_full_page_capture_goes_as_six_legible_parts_top_to_bottom(
    harness: Harness,
) -> None:
    page = odd_files.long_page((1440, 12000))

    (reply,) = await ask_about(harness, ("page.png", page, "image/png"))

    assert "I see 6 image(s)" in reply
    assert "page.png is a long image: I read it in 6 overlapping parts." in reply
    labelled = labels_and_images(harness.claude.requests[0])
    assert [label.splitlines()[-1] for label, _ in labelled] == [
        "page.png, part 1 of 6, top:",
        *(f"page.png, part {n} of 6:" for n in range(2, 6)),
        "page.png, part 6 of 6, bottom:",
    ]
    assert "one long image, sent as 6 overlapping parts from top to bottom" in labelled[0][0]
    uploads = {u.file_id: u for u in harness.claude.uploads}
    parts = [
        Image.open(io.BytesIO(uploads[file_id].data)).convert("RGB") for _, file_id in labelled
    ]
    # Full width: 22 px text stays 22 px (one image would have been 309 px wide).
    assert all(part.size == (1440, 2576) for part in parts)
    red, green, _ = parts[0].getpixel((700, 2))  # type: ignore[misc]
    assert red > 200 and green < 60  # the page's top comes first
    # Evenly spaced, overlapping: part n shows the page from n × 1885 px down, unscaled.
    original = Image.open(io.BytesIO(page)).convert("RGB")
    for n, part in enumerate(parts):
        top = round(n * (12000 - 2576) / 5)
        difference = ImageChops.difference(part, original.crop((0, top, 1440, top + 2576)))
        assert max(high for _, high in difference.getextrema()) <= 16  # type: ignore[union-attr]


@pytest.mark.parametrize("settings_overrides", [{"claude_model": "claude-sonnet-4-6"}])
async def test_older_models_get_narrower_parts_still_legible(harness: Harness) -> None:
    await ask_about(harness, ("page.png", odd_files.long_page((1440, 9000)), "image/png"))

    sizes = {Image.open(io.BytesIO(u.data)).size for u in harness.claude.uploads}
    assert sizes == {(1000, 1229)}  # ~1,600 tokens each, 22 px text at 15 px


async def test_a_wide_panorama_goes_left_to_right(harness: Harness) -> None:
    wide = odd_files.long_page((1440, 9000))
    rotated = Image.open(io.BytesIO(wide)).transpose(Image.Transpose.ROTATE_90)
    out = io.BytesIO()
    rotated.save(out, "PNG")

    await ask_about(harness, ("timeline.png", out.getvalue(), "image/png"))

    labelled = labels_and_images(harness.claude.requests[0])
    assert labelled[0][0].endswith("timeline.png, part 1 of 4, left:")
    assert labelled[-1][0] == "timeline.png, part 4 of 4, right:"


async def test_a_screenshot_of_usual_proportions_stays_one_image(harness: Harness) -> None:
    await ask_about(harness, ("shot.png", samples.screenshot((3840, 2160)), "image/png"))

    (upload,) = harness.claude.uploads
    assert Image.open(io.BytesIO(upload.data)).size == (2576, 1449)


async def test_boxes_on_a_part_are_drawn_on_the_whole_page(harness: Harness) -> None:
    await harness.command("use locate")
    harness.claude.reply = (
        "The slow request is [1].\n"
        '```json\n[{"n": 1, "image": 3, "box": [100, 100, 600, 200]}]\n```'
    )
    page = odd_files.long_page((1440, 12000))
    msg = await harness.mention(
        "which request is slow?", files=[harness.slack.add_file("F1", "page.png", page)]
    )
    await harness.replies(msg["ts"])

    labels = [
        b["text"]
        for b in harness.claude.requests[0]["messages"][0]["content"]
        if b["type"] == "text" and b["text"].startswith("Image ")
    ]
    assert labels[2] == "Image 3 (page.png, part 3 of 6):"
    (upload,) = harness.slack.uploaded_to(CHANNEL, msg["ts"])
    assert upload.filename == "page-located.png"
    drawn = Image.open(io.BytesIO(upload.data)).convert("RGB")
    scale = locate.DRAW_LONG_EDGE / 12000  # the whole page, within the drawing limit
    assert drawn.size == (round(1440 * scale), locate.DRAW_LONG_EDGE)
    top = round(2 * (12000 - 2576) / 5)  # where part 3 starts in the page
    left, middle = round(100 * scale), round((top + 150) * scale)
    assert drawn.getpixel((left + 1, middle)) == BOX_RED


def part_refs(name: str, count: int) -> list[FileRef]:
    return [
        FileRef(
            slack_file_id=f"S-{name}",
            name=name,
            media_type="image/png",
            sha256=f"{name}{n}",
            claude_file_id=f"file_{name}{n}",
            width=1440,
            height=2576,
            part=n,
            parts=count,
            crop=(0, n * 1000, 1440, n * 1000 + 2576),
        )
        for n in range(1, count + 1)
    ]


def single(name: str) -> FileRef:
    return FileRef(
        slack_file_id=f"S-{name}",
        name=name,
        media_type="image/png",
        sha256=name,
        claude_file_id=f"file_{name}",
        width=800,
        height=600,
    )


def test_a_long_pages_parts_stay_together_or_out_together() -> None:
    history = [
        Turn(role="user", text="this page?", files=part_refs("page.png", 6)),
        Turn(role="assistant", text="…"),
    ]
    newer = [single(f"shot{n}.png") for n in range(MAX_IMAGES - 4)]  # 16: 6 more won't fit

    sent = plan(history, Turn(role="user", text="and these?", files=newer))

    assert sent.left_out == {0: set(range(6))}
    assert sent.left_out_names() == ["page.png"]
    assert len(sent.sent_images()) == MAX_IMAGES - 4


def test_a_page_that_fits_is_sent_whole() -> None:
    history = [Turn(role="user", text="this page?", files=part_refs("page.png", 6))]
    newer = [single(f"shot{n}.png") for n in range(MAX_IMAGES - 6)]

    sent = plan(
        [*history, Turn(role="assistant", text="…")], Turn(role="user", text="?", files=newer)
    )

    assert sent.left_out == {} and len(sent.sent_images()) == MAX_IMAGES
