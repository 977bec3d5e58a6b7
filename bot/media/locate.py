"""`locate`: read Claude's bounding boxes and draw them on the original image (no I/O)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeGuard

from PIL import ImageDraw, ImageFont

from bot.media.prepare import upright
from bot.models import FileRef

_JSON_BLOCK = re.compile(r"```json\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_FENCE = "```json"
DRAW_LONG_EDGE = 6144
COLORS = ("#e01e5a", "#2eb67d", "#36c5f0", "#ecb22e", "#7c3aed", "#f97316")


@dataclass(frozen=True)
class Box:
    """One numbered region, in the original image's pixels."""

    n: int
    label: str
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass
class Located:
    """The valid boxes per image (by position among the images sent) and how many were bad."""

    boxes: dict[int, list[Box]] = field(default_factory=dict)
    dropped: int = 0


def parse(answer: str, images: list[FileRef]) -> Located:
    """Boxes from the answer's last ```json block, scaled from sent to original pixels."""
    located = Located()
    blocks = _JSON_BLOCK.findall(answer)
    if not blocks:
        return located
    try:
        items = json.loads(blocks[-1])
    except json.JSONDecodeError:
        located.dropped = 1
        return located
    if not isinstance(items, list):
        items = [items]
    for item in items:
        found = _box(item, images)
        if found is None:
            located.dropped += 1
        else:
            index, box = found
            located.boxes.setdefault(index, []).append(box)
    return located


class HideBoxes:
    """Passes streamed text on up to the ```json block of boxes."""

    def __init__(self, on_text: Callable[[str], Awaitable[None]]) -> None:
        self._on_text = on_text
        self._held = ""  # a tail that may be the start of the fence
        self._hiding = False

    async def __call__(self, text: str) -> None:
        """Show `text`, minus the block and anything that could still turn into it."""
        if self._hiding:
            return
        text = self._held + text
        start = text.lower().find(_FENCE)
        if start >= 0:
            self._hiding, self._held = True, ""
            text = text[:start].rstrip()
        else:
            keep = next(
                (n for n in range(len(_FENCE) - 1, 0, -1) if text.lower().endswith(_FENCE[:n])),
                0,
            )
            # Trailing whitespace waits too: before the block it would only pad the answer.
            shown = text[: len(text) - keep].rstrip()
            text, self._held = shown, text[len(shown) :]
        if text:
            await self._on_text(text)

    async def flush(self) -> None:
        """Show what was held back, when the stream ended without the block."""
        held, self._held = self._held, ""
        if held and not self._hiding:
            await self._on_text(held)


def _box(item: object, images: list[FileRef]) -> tuple[int, Box] | None:
    if not isinstance(item, dict):
        return None
    n, image, coords = item.get("n"), item.get("image", 1), item.get("box")
    if not (_is_int(n) and _is_int(image) and 1 <= image <= len(images)):
        return None
    if not isinstance(coords, list) or len(coords) != 4:
        return None
    if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords):
        return None
    ref = images[image - 1]
    sent_w, sent_h = ref.width or 0, ref.height or 0
    x0, y0, x1, y1 = (float(c) for c in coords)
    if not (0 <= x0 < x1 <= sent_w and 0 <= y0 < y1 <= sent_h):
        return None
    # A part of a long image shows a box of the original: its boxes are drawn on the whole
    # original, with the other parts' boxes, under the first part's position.
    left, top, right, bottom = ref.crop or (
        0,
        0,
        ref.original_width or sent_w,
        ref.original_height or sent_h,
    )
    sx, sy = (right - left) / sent_w, (bottom - top) / sent_h
    label = str(item.get("label", ""))[:80]
    box = Box(n, label, left + x0 * sx, top + y0 * sy, left + x1 * sx, top + y1 * sy)
    return _first_part(images, image - 1), box


def _first_part(images: list[FileRef], index: int) -> int:
    """The position of the first part of the long image `images[index]` belongs to."""
    while index and images[index].part and images[index].same_file(images[index - 1]):
        index -= 1
    return index


def _scaled(box: Box, scale: float) -> Box:
    if scale == 1.0:
        return box
    x0, y0, x1, y1 = (v * scale for v in (box.x0, box.y0, box.x1, box.y1))
    return Box(box.n, box.label, x0, y0, x1, y1)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def draw(original: bytes, boxes: list[Box]) -> bytes:
    """The original image, upright, with each box outlined and numbered; PNG bytes."""
    # Full size up to DRAW_LONG_EDGE (a 5K screenshot stays sharp); a 200 MP photo is drawn
    # on a copy within it, decoded as economically as prepare decodes it.
    frame, scale = upright(original, DRAW_LONG_EDGE)
    image = frame.convert("RGB")
    boxes = [_scaled(box, scale) for box in boxes]
    canvas = ImageDraw.Draw(image)
    stroke = max(2, round(max(image.size) / 400))
    font = ImageFont.load_default(size=max(14, stroke * 8))
    for box in boxes:
        color = COLORS[(box.n - 1) % len(COLORS)]
        canvas.rectangle((box.x0, box.y0, box.x1, box.y1), outline=color, width=stroke)
        tag = str(box.n)
        left, top, right, bottom = canvas.textbbox((0, 0), tag, font=font)
        pad = stroke * 2
        w, h = right - left + 2 * pad, bottom - top + 2 * pad
        x, y = box.x0, max(0.0, box.y0 - h)
        canvas.rectangle((x, y, x + w, y + h), fill=color)
        canvas.text((x + pad - left, y + pad - top), tag, fill="white", font=font)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
