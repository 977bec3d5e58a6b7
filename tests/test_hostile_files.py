"""Every odd or hostile file is refused with what would work, or sent decoding cleanly.

Each file is prepared in a process of its own making (one for the whole set), with its peak
memory and its time measured alone: a refusal must name the file and say what would work;
anything sent must decode completely as the type it claims, at the size it reports, within
the per-image byte cap.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.media.prepare import IMAGE_BYTES
from tests import odd_files, samples
from tests.test_pod_memory import hostile_icon

ROOT = Path(__file__).resolve().parent.parent
MEMORY_BOUND = 450_000_000  # a file allowed in may decode to ~400 MB (docs/benchmarks.md)
TIME_BOUND = 20.0  # seconds; PREPARE_TIMEOUT_SECONDS is 30 by default
WHAT_WOULD_WORK = ("would work", "share it again", "I can read")


def _gif_frame_past_its_screen() -> bytes:
    """A 10×10 GIF whose first frame claims 40,000 × 40,000 px (Pillow grows the canvas)."""
    data = bytearray(samples.gif())
    at = data.index(b"\x2c")  # the first image descriptor
    data[at + 5 : at + 9] = (40000).to_bytes(2, "little") * 2
    return bytes(data)


def _cut(data: bytes, share: float) -> bytes:
    return data[: int(len(data) * share)]


@functools.cache
def hostile_set() -> dict[str, bytes]:
    """Real files cut and flipped, exotic variants, and files built to cost memory."""
    good = {
        "chat.png": samples.chat_screenshot(),
        "photo.jpg": samples.photo_jpeg((3000, 2000), orientation=6),
        "photo.heic": samples.heic((640, 480)),
        "anim.gif": samples.animated_gif(),
        "sticker.webp": samples.webp(),
        "scan.tif": samples.image_bytes("TIFF", (400, 300)),
        "legacy.bmp": samples.image_bytes("BMP", (400, 300)),
        "favicon.ico": samples.transparent_icon(),
        "report.pdf": samples.pdf(3),
    }
    files: dict[str, bytes] = dict(good)
    for name, data in good.items():
        stem, ext = name.rsplit(".", 1)
        files[f"{stem}-half.{ext}"] = _cut(data, 0.5)
        files[f"{stem}-head.{ext}"] = data[:64]
        for at in (0.02, 0.3, 0.7):
            files[f"{stem}-flip{int(at * 100)}.{ext}"] = odd_files.flipped(data, at)
    files |= odd_files.bmp_variants()
    files |= {
        "hides-13300.ico": hostile_icon(),
        "dib-claims-30000.ico": odd_files.icon_with_dib_claiming(30000, 30000),
        "claims-30000.png": samples.with_header_size(samples.png(), 30000, 30000),
        "broken-idat.png": odd_files.png_with_broken_pixel_data(samples.screenshot((800, 600))),
        "cut-after-idat.png": odd_files.png_cut_after_pixel_data(samples.screenshot((800, 600))),
        "frame-past-screen.gif": _gif_frame_past_its_screen(),
        "zeros-64mp.png": odd_files.png_of_nothing(8000, 8000),
        "noisy-4.8mb.png": odd_files.noisy_png_within_native_size(),
        "page.png": odd_files.long_page((1440, 12000)),
        "webp-inside.tif": odd_files.tiff_compressed_as(50001),
        "big.tif": odd_files.bigtiff(),
        "turned.tif": odd_files.tiff_with_orientation(6),
        "deep.tif": samples.gradient_tiff("I;16"),
        "float.tif": samples.gradient_tiff("F"),
        "owner-only.pdf": odd_files.pdf_encrypted("", "owner"),
        "locked.pdf": odd_files.pdf_encrypted("user", "owner"),
        "xref-bomb.pdf": samples.pdf_with_oversized_xref(),
        "book.pdf": samples.pdf_pages(101),
        "huge.heic": samples.heic_claiming_width(2**30),
        "logs.zip": samples.zip_archive(),
        "empty.png": b"",
        "drawing.svg": b'<?xml version="1.0"?><svg xmlns="x"></svg>',
    }
    return files


# Runs in a fresh interpreter: prepares each file, measuring its peak RSS alone (VmHWM reset
# through /proc/self/clear_refs) and its time, and checks what prepare returned by decoding it.
PREPARE_EACH = r"""
import io, json, re, sys, time
from PIL import Image
from pypdf import PdfReader
from bot.errors import FileRefused
from bot.media import prepare as media

FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}

def status(key):
    return int(re.search(key + r":\s+(\d+)", open("/proc/self/status").read())[1]) * 1024

def checked(part):
    if part.kind == "document":
        reader = PdfReader(io.BytesIO(part.data))
        return {"type": part.media_type, "encrypted": reader.is_encrypted,
                "pages_ok": len(reader.pages) == part.pages, "bytes": len(part.data)}
    with Image.open(io.BytesIO(part.data)) as image:
        image.load()  # the whole first frame: raises on anything broken
        return {"type": part.media_type, "format_ok": image.format == FORMATS[part.media_type],
                "size_ok": image.size == (part.width, part.height), "bytes": len(part.data)}

results = {}
for path in sys.argv[1:]:
    name = path.rsplit("/", 1)[-1]
    data = open(path, "rb").read()
    open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS
    before, started = status("VmRSS"), time.monotonic()
    try:
        prepared = media.prepare(name, data)
        outcome = {"sent": [checked(part) for part in prepared.parts]}
    except FileRefused as refused:
        outcome = {"refused": refused.message, "reason": refused.reason}
    outcome["seconds"] = time.monotonic() - started
    outcome["peak"] = status("VmHWM") - before
    results[name] = outcome
print(json.dumps(results))
"""


@functools.cache
def outcomes(directory: str) -> dict[str, Any]:
    paths = []
    for name, data in hostile_set().items():
        path = Path(directory) / name
        path.write_bytes(data)
        paths.append(str(path))
    run = subprocess.run(
        [sys.executable, "-c", PREPARE_EACH, *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    results: dict[str, Any] = json.loads(run.stdout)
    return results


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Any]:
    directory = str(tmp_path_factory.mktemp("hostile"))
    return lambda name: outcomes(directory)[name]


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux's VmHWM reset")
@pytest.mark.parametrize("name", list(hostile_set()))
def test_each_file_is_refused_with_what_would_work_or_sent_decoding_cleanly(
    prepared: Callable[[str], Any], name: str
) -> None:
    outcome = prepared(name)

    assert outcome["peak"] < MEMORY_BOUND and outcome["seconds"] < TIME_BOUND
    if "refused" in outcome:
        assert f"*{name}*" in outcome["refused"]
        assert any(words in outcome["reason"] for words in WHAT_WOULD_WORK), outcome["reason"]
        return
    for part in outcome["sent"]:
        assert part["bytes"] <= IMAGE_BYTES or part["type"] == "application/pdf"
        if part["type"] == "application/pdf":
            assert part["pages_ok"] and not part["encrypted"]
        else:
            assert part["format_ok"] and part["size_ok"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hides-13300.ico", "13300×13300"),
        ("dib-claims-30000.ico", "30000×30000"),
        ("claims-30000.png", "(30000×30000)"),
        ("frame-past-screen.gif", "megapixels"),
        ("broken-idat.png", "corrupt or truncated"),
        ("chat-flip30.png", "corrupt or truncated"),  # pixel data that fails its CRC
        ("cut-after-idat.png", "corrupt or truncated"),
        ("webp-inside.tif", "a TIFF with WebP compression"),
        ("locked.pdf", "password-protected"),
        ("book.pdf", "101 pages"),
        ("logs.zip", "a ZIP archive"),
    ],
)
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux's VmHWM reset")
def test_the_refusals_say_why(prepared: Callable[[str], Any], name: str, expected: str) -> None:
    assert expected in prepared(name)["refused"]


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux's VmHWM reset")
def test_what_can_be_read_is_read(prepared: Callable[[str], Any]) -> None:
    for name in ("chat.png", "photo.heic", "big.tif", "turned.tif", "owner-only.pdf", "page.png"):
        assert "sent" in prepared(name), name
    assert len(prepared("page.png")["sent"]) == 6
