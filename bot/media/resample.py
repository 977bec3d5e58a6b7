"""Bring decoded pixels to an encodable mode and a smaller size, a band at a time (no I/O)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

from PIL import Image

Box = tuple[int, int, int, int]  # left, top, right, bottom, in pixels

# Source pixels converted and resampled at once: about 16 MB, where the whole canvas can be
# 360 MB. Converting it whole (palette or 16-bit to RGB, RGBA to premultiplied for Lanczos)
# and resampling it in one go held two or three full-size copies at once.
BAND_PIXELS = 1_000_000


def fitted(size: tuple[int, int], long_edge: int, pixels: int | None = None) -> tuple[int, int]:
    """The size with the same aspect, at most `long_edge` long and within `pixels`' tokens."""
    # Claude counts an image as ceil(w/28) * ceil(h/28) tokens and downsizes past its cap
    # (`pixels` / 784 tokens): a 2576 px square is within the long edge but not the cap.
    width, height = size
    scale = min(1.0, long_edge / max(width, height))
    if pixels is not None:
        scale = min(scale, math.sqrt(pixels / (width * height)))
    while True:
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        if pixels is None or math.ceil(w / 28) * math.ceil(h / 28) <= pixels // 784:
            return (w, h) if scale < 1 else size
        scale *= 0.995


def downscaled(image: Image.Image, long_edge: int, pixels: int | None = None) -> Image.Image:
    """The image in a mode the encoders take, fitted to `long_edge`, made band by band."""
    return resampled(image, (0, 0, *image.size), fitted(image.size, long_edge, pixels))


def resampled(image: Image.Image, box: Box, size: tuple[int, int]) -> Image.Image:
    """The `box` of `image` at `size`, in a mode the encoders take, made band by band."""
    convert = converter(image)
    left, top, right, bottom = box
    if size == (right - left, bottom - top):
        part = image if box == (0, 0, *image.size) else image.crop(box)
        return convert(part)  # no resampling: one copy of at most the box
    width, height = right - left, bottom - top
    scale = height / size[1]
    # Lanczos reads 3 source pixels either side per output pixel (times the scale): a band
    # with that margin resamples exactly as the whole canvas would.
    margin = math.ceil(3 * scale) + 1
    rows = max(1, BAND_PIXELS // (width * math.ceil(scale)))
    out: Image.Image | None = None
    for row in range(0, size[1], rows):
        end = min(size[1], row + rows)
        y0, y1 = top + row * scale, min(bottom, top + end * scale)
        first = max(0, math.floor(y0) - margin)
        last = min(image.height, math.ceil(y1) + margin)
        band = convert(image.crop((left, first, right, last)))
        source = (0.0, y0 - first, float(width), y1 - first)
        part = band.resize((size[0], end - row), Image.Resampling.LANCZOS, box=source)
        if out is None:
            out = Image.new(part.mode, size)
        out.paste(part, (0, row))
    assert out is not None  # size[1] >= 1: at least one band
    return out


# Grayscale deeper than 8 bits: scientific TIFFs, medical scans, 16-bit PNGs.
_DEEP_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def converter(image: Image.Image) -> Callable[[Image.Image], Image.Image]:
    """What brings `image`, or a band of it, into a mode the encoders take."""
    if image.mode == "F":
        # Floats have no fixed range (0..1, or raw sensor values): stretch what is there,
        # measured on the whole image so that every band gets the same tones.
        low, high = cast("tuple[float, float]", image.getextrema())  # one band: one pair
        scale = 255 / (high - low) if high > low else 0.0
        return lambda part: part.point(lambda v: (v - low) * scale).convert("L")
    if image.mode in _DEEP_MODES:
        # Pillow's convert clips 16-bit tones to white: keep their top 8 bits instead.
        return lambda part: part.convert("I").point(lambda v: v / 256).convert("L")
    mode = encodable_mode(image)
    return lambda part: part if part.mode == mode else part.convert(mode)


def encodable_mode(image: Image.Image) -> str:
    """The mode the encoders get for `image`: its own, or RGB(A), LA for transparent gray."""
    if image.mode in ("P", "PA", "RGB", "L") and (
        image.mode == "PA" or "transparency" in image.info
    ):
        return "LA" if image.mode == "L" else "RGBA"  # a transparent color becomes alpha
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image.mode
    return "RGB"
