"""Benchmark what the bot downloads, uploads and spends on a screenshot, photo, PDF and long page.

Run from the repo root (needs Redis on 127.0.0.1:6379; uses and flushes db 14, or BENCH_REDIS_URL):

    .venv/bin/python scripts/bench_media.py [--runs N]
    .venv/bin/python scripts/bench_media.py --memory   # peak memory of prepare(), no Redis
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePath
from typing import cast

import aiohttp
import PIL
import pillow_heif
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont
from pypdf import PdfReader
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.decoders import Decoders
from bot.media import encode, resample
from bot.media.prepare import (
    MediaLimits,
    PreparedFile,
    estimate_image_tokens,
    native_long_edge,
    prepare,
)
from tests import odd_files, samples
from tests.fakes import FakeClaude, FakeSlack, Upload
from tests.harness import CHANNEL, TEAM, Harness, make_settings, start_bot

MODEL = "claude-sonnet-5-5"  # the default CLAUDE_MODEL
LIMITS = MediaLimits(long_edge=native_long_edge(MODEL))
# A database of its own: it is flushed, and no other bot may share its turn queue.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
WORDS = "error worker deploy checkout request timeout retry cache queue user token status payment"
WORDS += " service build failed passed commit branch review latency p99 region"


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    mimetype: str


def _encoded(img: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS.split()) for _ in range(n))


def make_screenshot() -> Sample:
    """A 4K UI screenshot: sidebar, top bar, message lines, a code panel, buttons."""
    return Sample("screenshot-4k.png", samples.chat_screenshot(), "image/png")


def make_photo() -> Sample:
    """A 12 MP iPhone-style HEIC: sky and ground gradients, blurred shapes, sensor noise."""
    pillow_heif.register_heif_opener()
    rng, w, h = random.Random(2), 4032, 3024
    small = (w // 4, h // 4)
    grad = Image.linear_gradient("L").resize(small, Image.Resampling.BILINEAR)
    img, low = (
        Image.composite(Image.new("RGB", small, a), Image.new("RGB", small, b), grad)
        for a, b in (("#cfe3f5", "#3a6ea5"), ("#3d3b22", "#7a9a4a"))
    )
    img.paste(low.crop((0, 0, small[0], small[1] * 2 // 5)), (0, small[1] * 3 // 5))
    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x, y = rng.randrange(small[0]), rng.randrange(small[1] // 3, small[1])
        r, shade = rng.randrange(8, 90), tuple(rng.randrange(20, 140) for _ in range(3))
        draw.ellipse((x - r, y - r, x + r, y + r // 2), fill=shade)
    img = img.filter(ImageFilter.GaussianBlur(6)).resize((w, h), Image.Resampling.BICUBIC)
    # Luma grain of about ±8 levels, softened like a phone's denoised sensor noise: the file
    # lands near an iPhone's 2-3 MB (sharp per-pixel color noise would double it).
    grain = Image.frombytes("L", (w, h), rng.randbytes(w * h)).point(lambda v: 120 + v // 16)
    grain = grain.filter(ImageFilter.GaussianBlur(1.5)).convert("RGB")
    img = ImageChops.add(img, grain, offset=-128)
    ImageDraw.Draw(img).rectangle((40, 40, 240, 240), fill=(220, 20, 20))  # orientation marker
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display", as iPhones store portrait shots
    # Raw EXIF bytes: pillow-heif then also writes the matching HEIF `irot` box, as an iPhone
    # does. (Given an Image.Exif object it keeps the tag but writes no `irot`.)
    heic = _encoded(img, "HEIF", quality=80, exif=exif.tobytes())
    return Sample("IMG_4032.HEIC", heic, "image/heic")


def make_pdf() -> Sample:
    """A 3-page A4 report at 150 dpi: heading, paragraphs, a table (pages are images)."""
    rng, pages = random.Random(3), []
    body, title = ImageFont.load_default(20), ImageFont.load_default(40)
    for number in range(1, 4):
        page = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(page)
        draw.text((120, 110), f"Quarterly incident review, part {number}", fill="black", font=title)
        y = 200
        for _ in range(4):
            for _ in range(rng.randrange(5, 9)):
                draw.text((120, y), _sentence(rng, 11).capitalize(), fill="#222222", font=body)
                y += 30
            y += 24
        for row in range(8):
            fill = "#e8eef7" if row == 0 else "white"
            draw.rectangle((120, y, 1120, y + 40), fill=fill, outline="#888888")
            for col, x in enumerate(range(140, 1120, 250)):
                draw.text((x, y + 10), f"{_sentence(rng, 1)} {row * 4 + col}", font=body, fill=0)
            y += 40
        draw.text((1080, 1680), f"{number} / 3", fill="#666666", font=body)
        pages.append(page)
    pdf = _encoded(pages[0], "PDF", save_all=True, append_images=pages[1:], resolution=150)
    return Sample("quarterly-report.pdf", pdf, "application/pdf")


def make_long_page() -> Sample:
    """A 1440×12,000 full-page browser capture: 22 px text lines down the whole page."""
    return Sample("page-1440x12000.png", odd_files.long_page((1440, 12000)), "image/png")


def make_large_screenshot() -> Sample:
    """A 9400×9400 RGBA PNG of text lines (1.8 MB): just under the 89 MP decode cap."""
    w = h = 9400
    img = Image.new("RGBA", (w, h), (255, 255, 255, 255))
    draw = ImageDraw.Draw(img)
    for y in range(0, h, 40):
        draw.text((10, y), f"error: NullPointerException at PaymentService line {y}", fill="black")
    return Sample("shot-9400.png", _encoded(img, "PNG", compress_level=1), "image/png")


def make_large_photo() -> Sample:
    """A 50 MP (8660×5774) baseline camera JPEG of soft shapes."""
    rng, w, h = random.Random(4), 8660, 5774
    small = Image.new("RGB", (w // 16, h // 16), "#88aacc")
    draw = ImageDraw.Draw(small)
    for _ in range(200):
        x, y, r = rng.randrange(w // 16), rng.randrange(h // 16), rng.randrange(4, 60)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    img = small.filter(ImageFilter.GaussianBlur(2)).resize((w, h), Image.Resampling.BILINEAR)
    return Sample("photo-50mp.jpg", _encoded(img, "JPEG", quality=90), "image/jpeg")


# Run in a fresh interpreter per input, so that one input's memory can't hide another's.
# VmHWM (Linux), not ru_maxrss: a child's ru_maxrss starts at its parent's RSS at the fork.
PEAK_RSS = r"""
import re, sys
sys.path.insert(0, sys.argv[1])
from bot.media.prepare import MediaLimits, prepare
def peak():
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read())[1]) * 1024
data = open(sys.argv[2], "rb").read()
before = peak()
prepare("file", data, MediaLimits(long_edge=int(sys.argv[3])))
print(peak() - before)
"""


def peak_memory(samples: list[Sample]) -> None:
    """How far one prepare() call raises a fresh process's peak RSS, per input."""
    print(f"Machine: {_machine()}; Python {platform.python_version()}; Pillow {PIL.__version__}")
    print("\n| Input | File | Original | Peak RSS added by `prepare()` |")
    print("| --- | ---: | --- | ---: |")
    root = str(Path(__file__).resolve().parent.parent)
    for sample in samples:
        with tempfile.NamedTemporaryFile() as file:
            file.write(sample.data)
            file.flush()
            run = subprocess.run(
                [sys.executable, "-c", PEAK_RSS, root, file.name, str(LIMITS.long_edge)],
                capture_output=True,
                text=True,
                check=True,
            )
        with Image.open(io.BytesIO(sample.data)) as img:
            size = f"{img.width}×{img.height}"
        peak = int(run.stdout) / 1e6
        print(f"| {sample.name} | {_mb(len(sample.data))} | {size} | {peak:.0f} MB |")


def hostile_memory() -> None:
    """Peak RSS added by preparing hostile files (several at once, one thread each)."""
    from tests.test_hostile_files import hostile_set
    from tests.test_pod_memory import PEAK_RSS_OF_MANY

    files = hostile_set()
    cases = [
        ("4 × .ico hiding a 13,300² PNG, at once", ["hides-13300.ico"] * 4),
        (".ico whose BMP frame claims 30,000²", ["dib-claims-30000.ico"]),
        ("PNG claiming 30,000×30,000", ["claims-30000.png"]),
        ("GIF frame claiming 40,000² past its screen", ["frame-past-screen.gif"]),
        ("64 MP PNG of nothing (allowed: decoded)", ["zeros-64mp.png"]),
        ("PNG with broken pixel data", ["broken-idat.png"]),
    ]
    print("\n| Hostile input | File | Outcome | Peak RSS added |")
    print("| --- | ---: | --- | ---: |")
    with tempfile.TemporaryDirectory() as directory:
        for label, names in cases:
            paths = []
            for n, name in enumerate(names):
                path = Path(directory) / f"{n}-{name}"
                path.write_bytes(files[name])
                paths.append(str(path))
            run = subprocess.run(
                [sys.executable, "-c", PEAK_RSS_OF_MANY, *paths],
                cwd=Path(__file__).resolve().parent.parent,
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(run.stdout)
            outcome = "refused" if all(o != "sent" for o in result["outcomes"]) else "sent"
            size = _mb(len(files[names[0]]))
            print(f"| {label} | {size} | {outcome} | {result['peak'] / 1e6:.0f} MB |")


def time_prepare(sample: Sample) -> float:
    """Seconds for one bot.media.prepare call with the pipeline's limits."""
    start = time.perf_counter()
    prepare(sample.name, sample.data, LIMITS)
    return time.perf_counter() - start


@dataclass
class EndToEnd:
    seconds: float
    downloaded: dict[str, int]  # sample name -> bytes served by the fake file host
    uploads: dict[str, list[Upload]]  # sample name -> what reached the fake Files API
    replies: list[str]


async def end_to_end(samples: list[Sample]) -> EndToEnd:
    """One signed mention with all samples, through a real bot process, to the answer."""
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    ids = {f"F{i}": s for i, s in enumerate(samples)}
    try:
        async with (
            FakeSlack("xoxb-bench-token", team_id=TEAM) as slack,
            FakeClaude() as claude,
            aiohttp.ClientSession() as http,
        ):
            settings = make_settings(slack, claude, REDIS_URL, log_level="WARNING")
            harness = Harness(slack, claude, settings, http, [await start_bot(settings)])
            try:
                files = [slack.add_file(i, s.name, s.data, s.mimetype) for i, s in ids.items()]
                start = time.perf_counter()
                message = await harness.mention("what do these show?", files=files)
                await harness.settle(timeout=120)
                seconds = time.perf_counter() - start
            finally:
                await harness.bot.stop()
    finally:
        await redis.flushdb()
        await redis.aclose()
    downloaded = dict.fromkeys((s.name for s in samples), 0)
    for request in slack.file_requests:  # path: /files-pri/<team>-<file id>/...
        if sample := ids.get(request.path.split("/")[2].partition("-")[2]):
            downloaded[sample.name] += len(sample.data)
    stems = {PurePath(s.name).stem: s.name for s in samples}
    uploads: dict[str, list[Upload]] = {}
    for upload in claude.uploads:  # a long page's parts share its name
        uploads.setdefault(stems[PurePath(upload.filename).stem], []).append(upload)
    return EndToEnd(seconds, downloaded, uploads, slack.reply_texts(CHANNEL, message["ts"]))


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def _ms(seconds: list[float]) -> str:
    """Median (min to max) in milliseconds."""
    a, b, c = (s * 1e3 for s in (statistics.median(seconds), min(seconds), max(seconds)))
    return f"{a:.1f} ms ({b:.1f} to {c:.1f})" if c < 10 else f"{a:.0f} ms ({b:.0f} to {c:.0f})"


def _machine() -> str:
    cpu, info = platform.processor(), Path("/proc/cpuinfo")
    if not cpu and info.exists():  # processor() is empty on most Linux systems
        names = [ln.split(":", 1)[1] for ln in info.read_text().splitlines() if "model name" in ln]
        cpu = names[0].strip() if names else ""
    return f"{cpu or platform.machine()}, {os.cpu_count()} CPUs ({platform.machine()})"


def _corner(img: Image.Image) -> str:
    """Which corner of the image holds the red marker (sampled 3% in from the edges)."""
    (w, h), rgb = img.size, img.convert("RGB")
    for name, x, y in (("top-left", 0, 0.03), ("top-right", 1, 0.03), ("bottom-left", 0, 0.97)):
        r, g, b = cast(tuple[int, ...], rgb.getpixel((int(w * (0.03 + 0.94 * x)), int(h * y))))
        if r > 150 and g < 90 and b < 90:
            return name
    return "bottom-right or nowhere"


def report(samples: list[Sample], runs: int, e2e: EndToEnd) -> None:
    print(f"Date: {date.today()}  ")
    print(f"Machine: {_machine()}; Python {platform.python_version()}; Pillow {PIL.__version__};")
    print(f"pillow-heif {pillow_heif.__version__}; model {MODEL} (long edge {LIMITS.long_edge})\n")
    print(
        "| Input | Downloaded | Uploaded | Up / down | Sent as | Original | Sent | Image tokens "
        f"(orig → sent) | `prepare()` median (min to max), {runs} runs |"
    )
    print("| --- | ---: | ---: | ---: | --- | --- | --- | --- | ---: |")
    notes = []
    for sample in samples:
        prepared = prepare(sample.name, sample.data, LIMITS)  # also the warm-up for the timing
        uploads, down = e2e.uploads.get(sample.name, []), e2e.downloaded[sample.name]
        if not uploads:
            print(f"| {sample.name} | {_mb(down)} | not uploaded | | | | | | |")
            continue
        if [u.data for u in uploads] != [part.data for part in prepared.parts]:
            notes.append(f"{sample.name}: the bot uploaded other bytes than prepare() gave.")
        up = sum(len(u.data) for u in uploads)
        original, sent, tokens = _described(prepared, uploads, notes, sample)
        ratio = f"{up / down:.2f}×" if down else "n/a"
        types = " + ".join(sorted({u.media_type for u in uploads}))
        print(
            f"| {sample.name} | {_mb(down)} | {_mb(up)} | {ratio} | {types} | {original} "
            f"| {sent} | {tokens} | {_ms([time_prepare(sample) for _ in range(runs)])} |"
        )
    answer = "posted" if e2e.replies else "MISSING"
    print(
        f"\nEnd to end, signed mention with all {len(samples)} files → finished thread answer "
        f"(real bot process, fake Slack and Claude, real Redis): {e2e.seconds * 1e3:.0f} ms, "
        f"answer {answer}."
    )
    print("".join(f"\nNote: {note}\n" for note in notes), end="")


def _described(
    prepared: PreparedFile, uploads: list[Upload], notes: list[str], sample: Sample
) -> tuple[str, str, str]:
    """Original size, sent size(s) and image tokens of one input, for the table."""
    first = prepared.parts[0]
    if first.kind == "document":
        pages = len(PdfReader(io.BytesIO(uploads[0].data)).pages)
        return f"{pages} pages", f"{pages} pages", "n/a (PDF)"
    sizes = []
    for upload in uploads:
        with Image.open(io.BytesIO(upload.data)) as img:
            sizes.append(img.size)
            if sample.mimetype == "image/heic":
                notes.append(
                    f"{sample.name}: the red marker stored top-left is sent {_corner(img)}."
                )
    ow, oh = first.original_width or 0, first.original_height or 0
    before = estimate_image_tokens(ow, oh)
    after = sum(estimate_image_tokens(w, h) for w, h in sizes)
    sent = f"{sizes[0][0]}×{sizes[0][1]}"
    if len(sizes) > 1:
        sent = f"{len(sizes)} parts of {sent}"
    return f"{ow}×{oh}", sent, f"{before:,} → {after:,} ({after / before:.2f}×)"


def encodings(sample: Sample) -> None:
    """What each candidate encoding of the downscaled screenshot weighs, and what is chosen."""
    with Image.open(io.BytesIO(sample.data)) as image:
        image.load()
        frame = resample.downscaled(image, LIMITS.long_edge)
    size = f"{frame.width}×{frame.height}"
    print(f"\n{sample.name} ({_mb(len(sample.data))} downloaded), downscaled to {size}:\n")
    print("| Encoding | Bytes | vs download | Encode time |")
    print("| --- | ---: | ---: | ---: |")
    palette = encode._palette_copy(frame)
    candidates: list[tuple[str, Image.Image, str, dict[str, object]]] = [
        ("PNG (sent before)", frame, "image/png", {}),
        ("lossless WebP", frame, "image/webp", {"lossless": True, "method": 4, "quality": 50}),
    ]
    if palette is not None:
        candidates.append(("256-colour palette PNG", palette, "image/png", {}))
    for label, pixels, media_type, options in candidates:
        start = time.perf_counter()
        data = encode.save(pixels, media_type, **options)
        seconds = time.perf_counter() - start
        ratio = len(data) / len(sample.data)
        print(f"| {label} | {_mb(len(data))} | {ratio:.2f}× | {seconds * 1e3:.0f} ms |")
    chosen = encode.encode(frame, sample.mimetype, LIMITS.image_bytes)
    verdict = "kept" if palette is not None else "refused (a pixel would visibly change)"
    print(f"\nChosen: {chosen.how} ({_mb(len(chosen.data))}); the palette copy was {verdict}.")


async def pool_overhead(samples: list[Sample], runs: int) -> None:
    """prepare() in a thread (as before) against in a pre-started worker process, interleaved."""
    print("\n| Input | In a thread, median | In a worker process, median | Difference |")
    print("| --- | ---: | ---: | ---: |")
    decoders = Decoders(1, timeout=60)
    try:
        for sample in samples:
            await decoders.prepare(sample.name, sample.data, LIMITS)  # warm-up
            threaded, pooled = [], []
            for _ in range(runs):
                start = time.perf_counter()
                await asyncio.to_thread(prepare, sample.name, sample.data, LIMITS)
                threaded.append(time.perf_counter() - start)
                start = time.perf_counter()
                await decoders.prepare(sample.name, sample.data, LIMITS)
                pooled.append(time.perf_counter() - start)
            a, b = statistics.median(threaded), statistics.median(pooled)
            print(
                f"| {sample.name} | {a * 1e3:.0f} ms | {b * 1e3:.0f} ms | {(b - a) * 1e3:+.0f} ms |"
            )
    finally:
        await decoders.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="timed prepare() runs per input")
    parser.add_argument("--memory", action="store_true", help="peak memory of prepare() only")
    args = parser.parse_args()
    if args.memory:
        big = [make_large_screenshot(), make_photo(), make_screenshot(), make_large_photo()]
        peak_memory(big)
        hostile_memory()
        return
    samples = [make_screenshot(), make_photo(), make_pdf(), make_long_page()]
    e2e = asyncio.run(end_to_end(samples))
    report(samples, max(1, args.runs), e2e)
    encodings(samples[0])
    asyncio.run(pool_overhead(samples, max(1, args.runs)))


if __name__ == "__main__":
    main()
