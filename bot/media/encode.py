"""Choose how a frame travels: the fewest bytes that keep it sharp, within the cap (no I/O)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageChops

# Sources whose pixels are a camera's: JPEG costs them nothing visible and few bytes.
PHOTO_TYPES = ("image/jpeg", "image/heic", "image/avif")
_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}

# A 256-colour palette is tried only on frames of at most this many colours (UI screenshots
# have a few thousand once downscaled; photos have hundreds of thousands), and kept only
# if no channel of any pixel moves by more than _MAX_SHIFT and at most 1% by more than
# _SOFT_SHIFT: text edges and flat panels come through unchanged to the eye.
_PALETTE_SOURCE_COLORS = 1 << 16
_MAX_SHIFT = 16
_SOFT_SHIFT = 8
_SOFT_SHARE = 0.01


@dataclass(frozen=True)
class Encoded:
    """The bytes to send, what they are and how they were made."""

    media_type: str
    data: bytes
    size: tuple[int, int]
    how: str


def encode(frame: Image.Image, source_type: str, max_bytes: int) -> Encoded:
    """The smallest sharp encoding of `frame` within `max_bytes`, shrinking it if need be."""
    while True:
        for attempt in _attempts(frame, source_type):
            encoded = attempt()
            if len(encoded.data) <= max_bytes:
                return encoded
        # Nothing fits: shrink by a quarter and try again (rare: huge noisy images).
        frame = frame.resize(
            (max(1, frame.width * 3 // 4), max(1, frame.height * 3 // 4)), Image.Resampling.LANCZOS
        )


def _attempts(frame: Image.Image, source_type: str) -> list[_Attempt]:
    """What to try, best first: lossless for screenshots, then what still reads well."""
    alpha = frame.mode in ("RGBA", "LA")
    if source_type in PHOTO_TYPES and not alpha:
        return [
            _Attempt(frame, "image/jpeg", quality=90),
            _Attempt(frame, "image/jpeg", quality=80),
        ]
    attempts: list[_Attempt] = [_Lossless(frame)]
    attempts.append(_Attempt(frame, "image/webp", quality=90))
    if not alpha:
        attempts.append(_Attempt(frame, "image/jpeg", quality=85))
    return attempts


class _Attempt:
    """One encoding of the frame, made when called."""

    def __init__(self, frame: Image.Image, media_type: str, **options: object) -> None:
        self.frame, self.media_type, self.options = frame, media_type, options

    def __call__(self) -> Encoded:
        quality = self.options.get("quality")
        how = f"{_FORMATS[self.media_type]} q{quality}" if quality else _FORMATS[self.media_type]
        return Encoded(
            self.media_type, save(self.frame, self.media_type, **self.options), self.frame.size, how
        )


class _Lossless(_Attempt):
    """A palette PNG where 256 colours look the same, else lossless WebP."""

    def __init__(self, frame: Image.Image) -> None:
        super().__init__(frame, "image/webp")

    def __call__(self) -> Encoded:
        few_colours = self.frame.getcolors(_PALETTE_SOURCE_COLORS) is not None
        palette = _palette_copy(self.frame) if few_colours else None
        if palette is not None:
            return Encoded("image/png", save(palette, "image/png"), self.frame.size, "palette PNG")
        # libwebp's effort: its default level where colours are few (a second or less for a
        # 4K screenshot), its fastest where they are not (photo-like pixels take 10× longer).
        effort = {"method": 4, "quality": 50} if few_colours else {"method": 0, "quality": 0}
        data = save(self.frame, "image/webp", lossless=True, **effort)
        return Encoded("image/webp", data, self.frame.size, "lossless WebP")


def _palette_copy(frame: Image.Image) -> Image.Image | None:
    """The frame in 256 colours if no pixel visibly changes, else None."""
    if frame.mode not in ("RGB", "RGBA"):
        return None  # gray is 8 bits a pixel already
    palette = frame.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    back = palette.convert(frame.mode)
    shifts = [band.histogram() for band in ImageChops.difference(frame, back).split()]
    pixels = frame.width * frame.height
    worst = max(max((i for i, n in enumerate(h) if n), default=0) for h in shifts)
    soft = max(sum(h[_SOFT_SHIFT + 1 :]) for h in shifts) / pixels
    return palette if worst <= _MAX_SHIFT and soft <= _SOFT_SHARE else None


def save(frame: Image.Image, media_type: str, **options: object) -> bytes:
    """The frame encoded as `media_type`, checked to read back as that type and size."""
    if media_type == "image/jpeg" and frame.mode not in ("RGB", "L"):
        frame = frame.convert("RGB")
    out = io.BytesIO()
    frame.save(out, _FORMATS[media_type], **options)
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the header only: cheap
        if check.format != _FORMATS[media_type] or check.size != frame.size:
            raise ValueError(f"{media_type} encoder wrote {check.format} {check.size}")
    return data
