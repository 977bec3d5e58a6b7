"""Hostile files cost a bounded amount of memory before they are refused (issue 10, item 6)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bot.media import prepare as media
from tests import odd_files

ROOT = Path(__file__).resolve().parent.parent

# Prepares every file named on the command line at once, one thread each (as one message's
# files are), in a fresh interpreter; prints how far that raised the peak RSS and what each
# file got. VmHWM, not ru_maxrss: a child's ru_maxrss starts at its parent's RSS.
PEAK_RSS_OF_MANY = r"""
import json, re, sys
from concurrent.futures import ThreadPoolExecutor
from bot.errors import FileRefused
from bot.media import prepare as media
def peak():
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read())[1]) * 1024
files = [(path, open(path, "rb").read()) for path in sys.argv[1:]]
def one(item):
    try:
        media.prepare(item[0].rsplit("/", 1)[-1], item[1])
        return "sent"
    except FileRefused as refused:
        return refused.message
before = peak()
with ThreadPoolExecutor(len(files)) as pool:
    outcomes = list(pool.map(one, files))
print(json.dumps({"peak": peak() - before, "outcomes": outcomes}))
"""


@functools.cache
def hostile_icon() -> bytes:
    """0.7 MB: a directory saying 256×256 around a 13,300² RGBA PNG (700 MB decoded)."""
    return odd_files.icon_around(odd_files.png_of_nothing(13_300, 13_300))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM")
def test_four_icons_hiding_huge_frames_in_one_message_cost_little_memory(tmp_path: Path) -> None:
    paths = []
    for n in range(4):
        path = tmp_path / f"favicon-{n}.ico"
        path.write_bytes(hostile_icon())
        paths.append(str(path))

    run = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_OF_MANY, *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )

    result = json.loads(run.stdout)
    assert result["peak"] < 300_000_000
    for n, outcome in enumerate(result["outcomes"]):
        assert f"*favicon-{n}.ico*" in outcome and "13300×13300" in outcome


def test_pillow_stops_at_the_bots_own_pixel_cap_wherever_it_decodes() -> None:
    # Paths the bot doesn't check itself (a plugin decoding while it opens) stop where the bot
    # would, not at Pillow's default of twice 89 MP.
    assert Image.MAX_IMAGE_PIXELS is not None
    assert 2 * Image.MAX_IMAGE_PIXELS == media.MAX_DECODE_PIXELS
