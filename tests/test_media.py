"""Media: every shared file reaches Claude in a form it reads, or gets a clear reason."""

from __future__ import annotations

import hashlib
import io
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat

from bot.errors import FileRefused
from bot.materials import FILES_IN_FLIGHT
from bot.media import prepare as media
from bot.media import resample
from tests import samples
from tests.harness import CHANNEL, Harness, answer


async def ask_about(harness: Harness, *files: tuple[str, bytes, str]) -> list[str]:
    """Mention the bot on a message with these files; the thread's replies."""
    shared = [
        harness.slack.add_file(f"F{i}", name, data, mimetype)
        for i, (name, data, mimetype) in enumerate(files)
    ]
    msg = await harness.mention("what is this?", files=shared)
    return await harness.replies(msg["ts"])


def sent_images(harness: Harness) -> list[Image.Image]:
    """What Claude received, decoded, in upload order."""
    return [Image.open(io.BytesIO(u.data)) for u in harness.claude.uploads]


async def test_the_type_comes_from_the_bytes_not_the_name(harness: Harness) -> None:
    await ask_about(harness, ("photo.jpg", samples.png(), "image/jpeg"))

    (upload,) = harness.claude.uploads
    assert (upload.media_type, upload.filename) == ("image/png", "photo.png")
    assert upload.data == samples.png()  # already fine: sent as it was


async def test_an_iphone_heic_photo_is_sent_as_jpeg(harness: Harness) -> None:
    replies = await ask_about(harness, ("IMG_0001.HEIC", samples.heic((400, 300)), "image/heic"))

    assert replies == [answer(1, 1)]
    (upload,) = harness.claude.uploads
    assert (upload.media_type, upload.filename) == ("image/jpeg", "IMG_0001.jpg")
    assert sent_images(harness)[0].size == (400, 300)


async def test_a_rotated_phone_jpeg_is_sent_upright(harness: Harness) -> None:
    image = Image.new("RGB", (300, 200), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    await ask_about(harness, ("sideways.jpg", out.getvalue(), "image/jpeg"))

    assert sent_images(harness)[0].size == (200, 300)


@pytest.mark.parametrize(
    ("name", "data", "sent_type"),
    [
        ("scan.tiff", samples.image_bytes("TIFF"), "image/png"),
        ("legacy.bmp", samples.image_bytes("BMP"), "image/png"),
        ("favicon.ico", samples.transparent_icon(), "image/png"),
    ],
)
async def test_formats_claude_cannot_read_are_converted(
    harness: Harness, name: str, data: bytes, sent_type: str
) -> None:
    replies = await ask_about(harness, (name, data, "application/octet-stream"))

    assert replies == [answer(1, 1)]
    (upload,) = harness.claude.uploads
    assert upload.media_type == sent_type
    if name.endswith(".ico"):
        assert sent_images(harness)[0].convert("RGBA").getpixel((0, 0))[3] == 0  # transparency kept


async def test_an_animated_gif_is_sent_as_its_first_frame_and_says_so(harness: Harness) -> None:
    (reply,) = await ask_about(harness, ("party.gif", samples.animated_gif(), "image/gif"))

    assert "party.gif is animated: I looked at its first frame only." in reply
    (image,) = sent_images(harness)
    assert getattr(image, "n_frames", 1) == 1


async def test_a_tiff_of_several_pages_is_sent_as_its_first_page_and_says_so(
    harness: Harness,
) -> None:
    pages = [Image.new("RGB", (300, 200), color) for color in ("white", "gray", "black")]
    scan = io.BytesIO()
    pages[0].save(scan, "TIFF", save_all=True, append_images=pages[1:])

    (reply,) = await ask_about(harness, ("scan.tiff", scan.getvalue(), "image/tiff"))

    assert "scan.tiff has 3 pages: I looked at the first page only." in reply
    assert "animated" not in reply
    (image,) = sent_images(harness)
    assert image.convert("RGB").getpixel((0, 0)) == (255, 255, 255)  # the white first page


async def test_a_square_image_is_sent_within_claudes_image_token_cap(harness: Harness) -> None:
    # 2576 px on each side is within the long edge, but 92 x 92 = 8464 tokens is past the
    # 4784 Claude reads an image at: it would downsize it itself, slower and no better.
    await ask_about(harness, ("square.png", samples.screenshot((2576, 2576)), "image/png"))

    (image,) = sent_images(harness)
    width, height = image.size
    assert math.ceil(width / 28) * math.ceil(height / 28) <= 4784
    assert width == height and width > 1900  # as large as the cap allows, square still


async def test_a_retina_screenshot_is_downscaled_to_what_the_model_reads(
    harness: Harness,
) -> None:
    await ask_about(harness, ("5k.png", samples.screenshot((5120, 2880)), "image/png"))

    (image,) = sent_images(harness)
    assert image.size == (2576, 1449)
    assert harness.claude.uploads[0].media_type == "image/png"  # text stays crisp


@pytest.mark.parametrize("settings_overrides", [{"claude_model": "claude-sonnet-4-6"}])
async def test_older_models_get_their_smaller_native_size(harness: Harness) -> None:
    await ask_about(harness, ("5k.png", samples.screenshot((5120, 2880)), "image/png"))

    width, height = sent_images(harness)[0].size
    # Within 1568 px and the older models' 1568 image tokens: what they read unresized.
    assert width <= 1568 and _tokens(width, height) <= 1568 and width > 1450
    assert abs(width / height - 16 / 9) < 0.01


def test_an_image_over_the_byte_limit_is_re_encoded_within_it() -> None:
    limits = media.MediaLimits(image_bytes=300_000)
    (prepared,) = media.prepare("noise.png", samples.noisy((800, 600)), limits).parts

    assert len(prepared.data) <= 300_000
    assert prepared.media_type in ("image/webp", "image/jpeg")
    assert (prepared.original_width, prepared.original_height) == (800, 600)


@pytest.mark.parametrize("data", [samples.png(), samples.heic(), samples.pdf()])
def test_the_content_hash_is_computed_once_while_preparing(data: bytes) -> None:
    (prepared,) = media.prepare("file", data).parts

    assert prepared.sha256 == hashlib.sha256(prepared.data).hexdigest()
    # Stored, not hashed again on each read: reads happen on the event loop.
    assert prepared.sha256 is prepared.sha256


def test_the_native_long_edge_follows_the_model_generation() -> None:
    assert media.native_long_edge("claude-sonnet-5-5") == 2576
    assert media.native_long_edge("claude-opus-4-7") == 2576
    assert media.native_long_edge("claude-sonnet-4-5-20250929") == 1568
    assert media.native_long_edge("claude-haiku-4-5-20251001") == 1568
    assert media.native_long_edge("claude-fable-5-2") == 2576
    assert media.native_long_edge("claude-3-5-sonnet-latest") == 1568


@pytest.mark.parametrize(
    ("model", "long_edge"),
    [
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", 1568),  # Bedrock
        ("us.anthropic.claude-opus-4-7-v1:0", 2576),  # Bedrock cross-region profile
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", 1568),
        ("eu.anthropic.claude-sonnet-4-20250514-v1:0", 1568),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", 1568),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            1568,
        ),
        ("claude-sonnet-4-5@20250929", 1568),  # Vertex
        ("claude-opus-4-7@20260101", 2576),
        ("claude-3-5-sonnet-v2@20241022", 1568),
    ],
)
def test_the_native_long_edge_reads_bedrock_and_vertex_model_ids(
    model: str, long_edge: int
) -> None:
    assert media.native_long_edge(model) == long_edge


async def test_a_pdf_goes_as_a_document_uploaded_once(harness: Harness) -> None:
    shot = harness.slack.add_file("F1", "report.pdf", samples.pdf(3), "application/pdf")
    msg = await harness.mention("summarise", files=[shot])
    await harness.replies(msg["ts"])
    await harness.message("and page 2?", thread_ts=msg["ts"])
    await harness.settle()

    (upload,) = harness.claude.uploads
    assert upload.media_type == "application/pdf"
    document = {
        "type": "document",
        "source": {"type": "file", "file_id": upload.file_id},
        "title": "report.pdf",  # comes back in each page citation
        "citations": {"enabled": True},
    }
    assert harness.claude.requests[-1]["messages"][0]["content"][0] == document


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("locked.pdf", samples.encrypted_pdf(), "password-protected"),
        ("archive.png", samples.zip_archive(), "it is a ZIP archive"),
        ("empty.png", b"", "the file is empty"),
        ("cut.png", samples.screenshot((400, 300))[:3000], "corrupt or truncated"),
        ("bomb.png", samples.with_header_size(samples.png(), 30000, 30000), "megapixels"),
        # Under Pillow's own error (2x its warning) but over the bot's cap: the header check.
        ("big.png", samples.with_header_size(samples.png(), 10000, 10000), "(10000×10000)"),
        ("drawing.svg", b'<?xml version="1.0"?><svg xmlns="x"></svg>', "an SVG drawing"),
    ],
)
async def test_unusable_files_are_refused_by_name_with_the_reason(
    harness: Harness, name: str, data: bytes, expected: str
) -> None:
    replies = await ask_about(harness, (name, data, "image/png"))

    assert len(replies) == 1
    assert name in replies[0] and expected in replies[0]
    assert harness.claude.uploads == [] and harness.claude.requests == []


async def test_a_thread_of_pdfs_keeps_each_request_within_100_pages(harness: Harness) -> None:
    one = harness.slack.add_file("F1", "q1.pdf", samples.pdf_pages(60), "application/pdf")
    msg = await harness.mention("summarise", files=[one])
    await harness.replies(msg["ts"])
    two = harness.slack.add_file("F2", "q2.pdf", samples.pdf_pages(59), "application/pdf")

    await harness.message("and this one?", thread_ts=msg["ts"], files=[two])
    replies = await harness.replies(msg["ts"])

    assert len(replies) == 2 and "Answer 2" in replies[1]
    assert (
        "100 PDF pages, what the model reads at once) I left out the oldest: q1.pdf" in replies[1]
    )
    documents = [
        b
        for m in harness.claude.requests[-1]["messages"]
        for b in m["content"]
        if b["type"] == "document"
    ]
    assert [d["source"]["file_id"] for d in documents] == [harness.claude.uploads[1].file_id]


EIGHT_COLORS = ("red", "green", "blue", "white", "black", "gray", "pink", "navy")


async def test_many_files_are_downloaded_a_few_at_a_time(harness: Harness) -> None:
    files = [
        harness.slack.add_file(
            f"F{i}", f"{i}.png", samples.png(color), chunk_size=64, chunk_delay=0.002
        )
        for i, color in enumerate(EIGHT_COLORS)
    ]

    msg = await harness.mention("compare them", files=files)
    (reply,) = await harness.replies(msg["ts"])

    assert reply.startswith("I see 8 image(s)")
    assert 1 < harness.slack.most_downloads_at_once <= FILES_IN_FLIGHT  # parallel, bounded


async def test_a_pdf_over_the_page_limit_is_refused(harness: Harness) -> None:
    (reply,) = await ask_about(harness, ("book.pdf", samples.pdf_pages(101), "application/pdf"))

    assert "book.pdf" in reply and "101 pages" in reply and "at most 100" in reply


async def test_a_refused_file_does_not_stop_the_others(harness: Harness) -> None:
    notes, answered = await ask_about(
        harness,
        ("logs.zip", samples.zip_archive(), "application/zip"),
        ("chart.png", samples.png(), "image/png"),
    )

    assert "logs.zip" in notes and "PNG, JPEG, GIF, WebP" in notes
    assert answered == answer(1, 1)


@pytest.mark.parametrize("settings_overrides", [{"max_file_mb": 0.05}])
@pytest.mark.parametrize("content_length", [True, False])
async def test_a_file_over_the_cap_stops_the_download(
    harness: Harness, content_length: bool
) -> None:
    big = harness.slack.add_file(
        "F1",
        "big.png",
        samples.noisy((200, 200)),
        chunk_size=8 * 1024,
        send_content_length=content_length,
    )
    msg = await harness.mention("what is this?", files=[big])

    (reply,) = await harness.replies(msg["ts"])
    assert "big.png" in reply and "larger than" in reply
    assert harness.claude.uploads == []


async def test_a_long_thread_keeps_within_twenty_images(harness: Harness) -> None:
    first = await harness.mention(
        "compare",
        files=[
            harness.slack.add_file(f"F{i}", f"shot{i:02}.png", samples.png(f"#{i:02}0000"))
            for i in range(12)
        ],
    )
    await harness.replies(first["ts"])
    more = [
        harness.slack.add_file(f"G{i}", f"more{i:02}.png", samples.png(f"#00{i:02}00"))
        for i in range(10)
    ]
    await harness.message("and these?", thread_ts=first["ts"], files=more)
    replies = await harness.replies(first["ts"])

    last: dict[str, Any] = harness.claude.requests[-1]
    assert len(harness.claude.image_blocks(last)) == 20
    assert "shot00.png, shot01.png" in replies[-1]
    note = last["messages"][0]["content"][10]
    assert note["type"] == "text" and "shot00.png, shot01.png" in note["text"]
    assert CHANNEL


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("broken.pdf", samples.pdf_with_oversized_xref()),  # pypdf's LimitReachedError
        ("broken.heic", samples.heic_claiming_width(2**30)),  # libheif's RuntimeError
    ],
)
async def test_a_file_the_decoder_chokes_on_is_refused_and_the_others_answered(
    harness: Harness, name: str, data: bytes
) -> None:
    notes, answered = await ask_about(
        harness, (name, data, "application/octet-stream"), ("chart.png", samples.png(), "image/png")
    )

    assert name in notes and "corrupt or truncated" in notes
    assert answered == answer(1, 1)
    (upload,) = harness.claude.uploads
    assert upload.data == samples.png()


@pytest.mark.parametrize("mode", ["I;16", "F"])
async def test_a_16_bit_or_float_image_keeps_its_tones(harness: Harness, mode: str) -> None:
    replies = await ask_about(harness, ("scan.tiff", samples.gradient_tiff(mode), "image/tiff"))

    assert replies == [answer(1, 1)]
    (image,) = sent_images(harness)
    gray = image.convert("L")
    assert gray.getpixel((0, 32)) < 10 and gray.getpixel((255, 32)) > 245
    assert 110 < ImageStat.Stat(gray).mean[0] < 145


# Runs prepare() in a fresh interpreter and prints how far it raised the peak RSS, in bytes:
# a process of its own, so other tests' memory neither hides nor inflates the figure. VmHWM,
# not ru_maxrss: a child's ru_maxrss starts at its parent's (pytest's) RSS at the fork.
PEAK_RSS_OF_PREPARE = r"""
import re, sys
from bot.media import prepare as media
from bot.media import resample
def peak():
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read())[1]) * 1024
data = open(sys.argv[1], "rb").read()
before = peak()
media.prepare("shot", data)
print(peak() - before)
"""


@pytest.mark.parametrize(
    ("data", "canvas_bytes", "bound"),
    [
        # 36 MP RGBA: 144 MB decoded. Before banding it peaked at 3.4x that (497 MB).
        (samples.screenshot((6000, 6000), "RGBA", compress_level=1), 6000 * 6000 * 4, 1.5),
        # 24 MP JPEG: decoded at half scale, a quarter of its full canvas (before: 2.5x it).
        (samples.photo_jpeg((6000, 4000)), 6000 * 4000 * 4, 0.75),
    ],
    ids=["rgba-png", "jpeg"],
)
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM")
def test_preparing_a_large_image_stays_within_a_bound_of_its_canvas(
    tmp_path: Path, data: bytes, canvas_bytes: int, bound: float
) -> None:
    path = tmp_path / "image"
    path.write_bytes(data)
    root = Path(__file__).resolve().parent.parent
    run = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_OF_PREPARE, str(path)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )

    assert int(run.stdout) < canvas_bytes * bound


@pytest.mark.parametrize("mode", ["RGBA", "P"])
def test_band_by_band_downscaling_matches_resizing_the_whole_image(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    image = Image.open(io.BytesIO(samples.screenshot((1500, 1100), "RGB" if mode == "P" else mode)))
    if mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE)
    image.load()
    monkeypatch.setattr(resample, "BAND_PIXELS", 50_000)  # dozens of bands

    banded = resample.downscaled(image, 512)

    whole = image.convert("RGBA" if mode == "RGBA" else "RGB").resize(
        banded.size, Image.Resampling.LANCZOS
    )
    assert banded.size == (512, 375) and banded.mode == whole.mode
    extrema = ImageChops.difference(banded, whole).getextrema()
    assert max(high for _, high in extrema) <= 2  # rounding only


def test_a_large_rotated_photo_is_downscaled_then_turned_upright() -> None:
    (prepared,) = media.prepare("IMG.jpg", samples.photo_jpeg((3000, 2000), orientation=6)).parts

    sent = Image.open(io.BytesIO(prepared.data)).convert("RGB")
    assert (prepared.width, prepared.height) == sent.size
    assert sent.height > 2300 and _tokens(*sent.size) <= 4784  # portrait, within the cap
    assert (prepared.original_width, prepared.original_height) == (2000, 3000)
    red, green, _ = sent.getpixel((sent.width - 20, 20))  # type: ignore[misc]
    assert red > 200 and green < 60  # the stored top-left marker, turned to the top right


def test_a_large_transparent_palette_image_keeps_its_transparency() -> None:
    image = Image.new("P", (4000, 3000), 0)
    image.putpalette([255, 255, 255, 200, 0, 0] + [0] * 762)
    image.paste(1, (1000, 1000, 3000, 2000))
    out = io.BytesIO()
    image.save(out, "PNG", transparency=0)

    (prepared,) = media.prepare("diagram.png", out.getvalue()).parts

    # Lossless either way: a palette PNG or lossless WebP, whichever is smaller.
    sent = Image.open(io.BytesIO(prepared.data)).convert("RGBA")
    assert prepared.media_type in ("image/png", "image/webp")
    red, green, blue, alpha = sent.getpixel((sent.width // 2, sent.height // 2))  # type: ignore[misc]
    # The palette PNG may round an opaque pixel's alpha by a step: no visible change.
    assert sent.getpixel((0, 0))[3] == 0 and (red, green, blue) == (200, 0, 0) and alpha >= 250


def test_each_format_gets_the_pixel_cap_its_decoder_costs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Caps scaled down so small files cross them: baseline JPEGs are decoded at a reduced
    # scale and allowed more; progressive JPEGs and HEIC cost more than their canvas.
    monkeypatch.setattr(media, "MAX_JPEG_PIXELS", 8_000_000)
    monkeypatch.setattr(media, "MAX_DECODE_PIXELS", 4_000_000)
    monkeypatch.setattr(media, "MAX_HEAVY_DECODE_PIXELS", 1_000_000)

    (photo,) = media.prepare("big.jpg", samples.photo_jpeg((3000, 2000))).parts
    assert photo.width > 2300 and _tokens(photo.width, photo.height) <= 4784
    refused = [
        ("scan.jpg", samples.photo_jpeg((1600, 1000), progressive=True), "(1600×1000)"),
        ("IMG.HEIC", samples.heic((1600, 1000)), "(1600×1000)"),
        ("shot.png", samples.screenshot((2500, 2000)), "(2500×2000)"),
        ("huge.jpg", samples.photo_jpeg((4000, 2500)), "(4000×2500)"),
    ]
    for name, data, size in refused:
        with pytest.raises(FileRefused) as refusal:
            media.prepare(name, data)
        assert size in str(refusal.value)


def _tokens(width: int, height: int) -> int:
    """What Claude counts an image of this size as."""
    return math.ceil(width / 28) * math.ceil(height / 28)
