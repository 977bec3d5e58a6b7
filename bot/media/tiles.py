"""Long pages as overlapping parts, each at a scale whose text stays legible (no I/O)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.media.resample import Box

# A part is never narrower than this: a full-page capture's 22 px text stays 15 px or more.
LEGIBLE_SIDE = 1000
MAX_PARTS = 8  # 8 parts of a 1440 px page cover 17,000 px at full scale; longer pages shrink
OVERLAP = 0.1  # at least this share of a part is also in its neighbour: no line is cut in two
# Parts only when one image would shrink the page to under 3/4 of the parts' scale: a
# 3840×2160 screenshot stays one image, a 1440×12,000 page becomes six parts.
WORTH_IT = 0.75


@dataclass(frozen=True)
class Part:
    """One part of a long image: which, where it is in the image, and the size it is sent at."""

    index: int  # from 1, in reading order
    count: int
    box: Box  # in the upright image's pixels
    size: tuple[int, int]

    @property
    def where(self) -> str:
        """ "top", "bottom", "left" or "right" for the first and last parts, else ""."""
        tall = self.size[1] > self.size[0]
        if self.index == 1:
            return "top" if tall else "left"
        return ("bottom" if tall else "right") if self.index == self.count else ""


def plan(size: tuple[int, int], long_edge: int, pixels: int) -> list[Part]:
    """The parts to send a very tall or wide image as, or [] when one image reads as well."""
    width, height = size
    tall = height >= width
    short, long = (width, height) if tall else (height, width)
    scale = min(1.0, max(LEGIBLE_SIDE, pixels // long_edge) / short)
    while True:
        part_short = max(1, round(short * scale))
        part_long = min(long_edge, pixels // part_short)
        length = long * scale
        if length <= part_long:
            return []  # one part would hold it all
        overlap = round(part_long * OVERLAP)
        count = math.ceil((length - overlap) / (part_long - overlap))
        if count <= MAX_PARTS:
            break
        scale *= 0.95  # too many parts: read the page a little smaller
    if min(1.0, long_edge / long) >= WORTH_IT * scale:
        return []
    span = min(long, round(part_long / scale))  # a part's length in the image's pixels
    parts = []
    for index in range(count):
        start = round(index * (long - span) / (count - 1))
        box = (0, start, width, start + span) if tall else (start, 0, start + span, height)
        sent = (part_short, round(span * scale))
        parts.append(Part(index + 1, count, box, sent if tall else sent[::-1]))
    return parts
