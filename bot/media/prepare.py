"""Decide what a file really is from its bytes and make it Claude-ready (no I/O here)."""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal, cast

import pillow_heif
from PIL import Image, JpegImagePlugin
from pypdf import PdfReader

from bot.errors import FileRefused
from bot.models import FileRef

logger = logging.getLogger(__name__)

pillow_heif.register_heif_opener()

CLAUDE_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
# Formats Claude can't read but Pillow can: converted to PNG or JPEG.
CONVERTIBLE_TYPES = ("image/heic", "image/avif", "image/tiff", "image/bmp", "image/x-icon")
READABLE = "PNG, JPEG, GIF, WebP, HEIC, AVIF, TIFF, BMP and ICO images, and PDFs"

MAX_SIDE = 8000  # Claude refuses images larger than this on either side
# Checked from the header before decoding: a small file can claim a huge canvas. Decoding
# holds the whole canvas (4 bytes a pixel), so this caps one file near 400 MB of memory;
# everything after decoding works in small bands (_downscaled).
MAX_DECODE_PIXELS = 89_000_000  # just under Pillow's own bomb warning
# libheif and libavif hand over their own RGB copy (7 bytes a pixel in all), and libjpeg keeps
# a progressive JPEG's coefficients for the whole canvas whatever the scale (up to 7 bytes a
# pixel too): those get a lower cap with the same memory bound. 48-50 MP phone HEICs fit.
MAX_HEAVY_DECODE_PIXELS = 52_000_000
# A baseline JPEG is decoded at 1/2, 1/4 or 1/8 scale (draft), never at full size: 200 MP
# phone photos (16320×12240) fit and cost less than a 12 MP HEIC.
MAX_JPEG_PIXELS = 210_000_000
# _check_canvas refuses those images by their header before any decoding, with a reply:
# Pillow's warning about them would only be noise in the logs.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
MAX_PDF_PAGES = 100
DIRECT_API_IMAGE_BYTES = 10 * 1024 * 1024 * 3 // 4  # 10 MB once base64-encoded
NATIVE_LONG_EDGE = 2576  # models from the Claude Opus 4.7 generation on
OLDER_NATIVE_LONG_EDGE = 1568

_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "a PNG image"),
    (b"\xff\xd8\xff", "image/jpeg", "a JPEG image"),
    (b"GIF87a", "image/gif", "a GIF image"),
    (b"GIF89a", "image/gif", "a GIF image"),
    (b"%PDF-", "application/pdf", "a PDF"),
    (b"II*\x00", "image/tiff", "a TIFF image"),
    (b"MM\x00*", "image/tiff", "a TIFF image"),
    (b"BM", "image/bmp", "a BMP image"),
    (b"\x00\x00\x01\x00", "image/x-icon", "an icon file"),
    (b"PK\x03\x04", "application/zip", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "application/gzip", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed", "a 7-Zip archive"),
    (b"Rar!", "application/vnd.rar", "a RAR archive"),
    (b"\x7fELF", "application/x-executable", "a program"),
    (b"MZ", "application/x-msdownload", "a Windows program"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_VIDEO_BRANDS = {b"isom", b"iso2", b"mp41", b"mp42", b"qt  ", b"M4V ", b"3gp4", b"3gp5"}


@dataclass(frozen=True)
class MediaLimits:
    """What the chosen model and platform accept for one file."""

    long_edge: int = NATIVE_LONG_EDGE
    image_bytes: int = DIRECT_API_IMAGE_BYTES
    pdf_pages: int = MAX_PDF_PAGES


@dataclass(frozen=True)
class PreparedMedia:
    """A file checked and ready to upload: the bytes to send and what they are."""

    name: str
    data: bytes
    media_type: str
    kind: Literal["image", "document"]
    width: int | None = None
    height: int | None = None
    original_width: int | None = None
    original_height: int | None = None
    notes: tuple[str, ...] = field(default=())
    pages: int | None = None  # PDFs
    # The content hash that keys the upload cache. Hashed once here, in prepare's worker
    # thread: hashing up to 50 MB on each read would block the event loop.
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        """Hash the bytes once, where they are made."""
        object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())  # frozen

    def ref(self, *, source_id: str, stored_id: str) -> FileRef:
        """How history refers to these bytes: where they came from and where they are stored."""
        return FileRef(
            slack_file_id=source_id,
            name=self.name,
            media_type=self.media_type,
            sha256=self.sha256,
            claude_file_id=stored_id,
            kind=self.kind,
            width=self.width,
            height=self.height,
            original_width=self.original_width,
            original_height=self.original_height,
            pages=self.pages,
            size=len(self.data),
        )


def native_long_edge(model: str) -> int:
    """The longest image edge `model` reads without downscaling it server-side."""
    # Bedrock wraps the name (us.anthropic.claude-opus-4-7-v1:0, or an ARN ending in one);
    # Vertex appends @date after it. Read from the name on.
    found = re.search(r"\bclaude-.*", model)
    name = found.group() if found else model
    if re.match(r"claude-\d", name):
        return OLDER_NATIVE_LONG_EDGE  # claude-3-5-sonnet-… and older names
    match = re.match(r"claude-[a-z]+-(\d+)(?:-(\d)(?!\d))?", name)
    if not match:
        return NATIVE_LONG_EDGE  # a name this release doesn't know is a newer model
    version = (int(match.group(1)), int(match.group(2) or 0))
    return NATIVE_LONG_EDGE if version >= (4, 7) else OLDER_NATIVE_LONG_EDGE


def estimate_image_tokens(width: int, height: int) -> int:
    """Claude's image token cost for current models."""
    return math.ceil(width / 28) * math.ceil(height / 28)


def sniff(data: bytes) -> tuple[str | None, str]:
    """The media type the bytes really are (None if unknown) and a phrase naming it."""
    for magic, media_type, phrase in _SIGNATURES:
        if data.startswith(magic):
            return media_type, phrase
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "a WebP image"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIF_BRANDS:
            return "image/heic", "a HEIC photo"
        if brand in _AVIF_BRANDS:
            return "image/avif", "an AVIF image"
        if brand in _VIDEO_BRANDS:
            return "video/mp4", "a video"
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "text/html", "a web page"
    if head.startswith((b"<?xml", b"<svg")) and b"<svg" in data[:4096].lower():
        return "image/svg+xml", "an SVG drawing"
    return None, "a file type I don't recognise"


def prepare(name: str, data: bytes, limits: MediaLimits = MediaLimits()) -> PreparedMedia:
    """Check a shared file and return what to send to Claude, or raise FileRefused."""
    if not data:
        raise FileRefused(name, "the file is empty. Could you share it again?")
    media_type, phrase = sniff(data)
    if media_type == "application/pdf":
        corrupt = "the PDF looks corrupt or truncated."
    elif media_type in CLAUDE_IMAGE_TYPES or media_type in CONVERTIBLE_TYPES:
        corrupt = "the image looks corrupt or truncated. Could you share it again?"
    else:
        raise FileRefused(name, f"it is {phrase}, and I can read {READABLE}.")
    try:
        if media_type == "application/pdf":
            pages = _check_pdf(name, data, limits)
            return PreparedMedia(name, data, media_type, "document", pages=pages)
        return _prepare_image(name, data, media_type, limits)
    except FileRefused:
        raise
    except Image.DecompressionBombError:
        raise FileRefused(name, _too_many_pixels()) from None
    except Exception:
        # pypdf, Pillow and libheif fed hostile bytes raise almost any type (LimitReachedError,
        # RuntimeError, struct.error, IndexError, MemoryError…). Nothing here does I/O, so a
        # failure is this file's: refuse it alone and let the rest of the message be answered.
        logger.warning("could not decode %s (%s)", name, media_type, exc_info=True)
        raise FileRefused(name, corrupt) from None


def _check_pdf(name: str, data: bytes, limits: MediaLimits) -> int:
    """The PDF's page count, once it is known Claude can read it."""
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise FileRefused(name, "the PDF is password-protected. An unprotected copy would work.")
    pages = len(reader.pages)
    if pages > limits.pdf_pages:
        raise FileRefused(
            name,
            f"it has {pages} pages and Claude reads at most {limits.pdf_pages} per request. "
            "Splitting it or sharing the pages that matter would work.",
        )
    return pages


def _prepare_image(name: str, data: bytes, media_type: str, limits: MediaLimits) -> PreparedMedia:
    with _open(data, media_type) as image:
        _check_canvas(name, image)
        return _fit(name, data, media_type, image, limits)


def _open(data: bytes, media_type: str) -> Image.Image:
    """The image, its header read and nothing decoded yet."""
    if media_type == "image/jpeg":
        # Image.open refuses canvases over 2x Pillow's limit (179 MP) before _check_canvas
        # can allow a 200 MP JPEG it will decode at a quarter scale. As a plain JPEG, an MPO
        # (a phone photo with a depth map or preview appended) is its first, main picture.
        return JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    return Image.open(io.BytesIO(data))


def _check_canvas(name: str, image: Image.Image) -> None:
    width, height = image.size
    limit = _pixel_limit(image)
    if width * height > limit:
        raise FileRefused(name, _too_many_pixels(width, height, limit))


def _pixel_limit(image: Image.Image) -> int:
    if image.format == "JPEG":
        return MAX_HEAVY_DECODE_PIXELS if image.info.get("progressive") else MAX_JPEG_PIXELS
    if image.format in ("HEIF", "AVIF"):
        return MAX_HEAVY_DECODE_PIXELS
    return MAX_DECODE_PIXELS


def _too_many_pixels(width: int = 0, height: int = 0, limit: int = MAX_DECODE_PIXELS) -> str:
    size = f" ({width}×{height})" if width else ""
    return (
        f"the image claims more pixels{size} than I decode safely "
        f"({limit // 1_000_000} megapixels). A smaller export would work."
    )


def _fit(
    name: str, data: bytes, media_type: str, image: Image.Image, limits: MediaLimits
) -> PreparedMedia:
    """The original bytes when Claude can take them as they are, else a re-encoded copy."""
    width, height = image.size
    animated = bool(getattr(image, "is_animated", False))
    notes = (f"{name} is animated: I looked at its first frame only.",) if animated else ()
    orientation = _exif_orientation(image)
    rotated = orientation not in (0, 1)
    if media_type == "image/jpeg" and max(width, height) > limits.long_edge:
        # Let the JPEG decoder skip detail the downscale would throw away (a 50 MP photo
        # decodes as 12 MP). Asked for the fitted size: a square box would stop a panorama's
        # scale at its short side.
        image.draft("RGB", _fitted(image.size, limits.long_edge))
    image.load()  # decodes the first frame: truncated or corrupt data fails here
    as_is = (
        media_type in CLAUDE_IMAGE_TYPES
        and not animated
        and not rotated
        and image.mode != "CMYK"
        and max(width, height) <= limits.long_edge
        and len(data) <= limits.image_bytes
    )
    if as_is:
        return PreparedMedia(
            _renamed(name, media_type), data, media_type, "image", width, height, width, height
        )
    frame = _downscaled(image, limits.long_edge)
    if frame is not image:
        image.close()  # the full-size pixels: encoding needs only the downscaled copy
    if rotated:  # upright after downscaling: turning the full-size canvas would copy it
        frame = frame.transpose(_UPRIGHT[orientation])
    if orientation in (5, 6, 7, 8):  # a quarter turn: the upright original is portrait
        width, height = height, width
    out_type, out_data, size = _encode(frame, media_type, limits)
    return PreparedMedia(
        _renamed(name, out_type),
        out_data,
        out_type,
        "image",
        size[0],
        size[1],
        width,
        height,
        notes,
    )


def upright(data: bytes, long_edge: int) -> tuple[Image.Image, float]:
    """A checked image decoded upright within `long_edge`; its scale from the original."""
    # For drawing on (locate): the same decoding economies as prepare, whatever the size.
    media_type, _ = sniff(data)
    image = _open(data, media_type or "")
    orientation = _exif_orientation(image)
    width, height = image.size
    if media_type == "image/jpeg" and max(width, height) > long_edge:
        image.draft("RGB", _fitted(image.size, long_edge))
    image.load()
    frame = _downscaled(image, long_edge)
    if frame is not image:
        image.close()
    if orientation in _UPRIGHT:
        frame = frame.transpose(_UPRIGHT[orientation])
    return frame, frame.size[0] / (height if orientation in (5, 6, 7, 8) else width)


def _exif_orientation(image: Image.Image) -> int:
    try:
        orientation = int(image.getexif().get(0x0112, 1))
    except (ValueError, TypeError, OSError):
        return 1
    return orientation if orientation in _UPRIGHT else 1


# What turns the stored frame upright for each EXIF orientation (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _encode(
    frame: Image.Image, source_type: str, limits: MediaLimits
) -> tuple[str, bytes, tuple[int, int]]:
    """Encode the downscaled frame within the byte limit, shrinking it further if need be."""
    has_alpha = frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info
    photo = source_type in ("image/jpeg", "image/heic", "image/avif")
    # Screenshots keep crisp text as PNG; photos are smaller as JPEG at no visible cost.
    attempts: list[tuple[str, dict[str, object]]]
    if photo and not has_alpha:
        attempts = [("image/jpeg", {"quality": 90}), ("image/jpeg", {"quality": 80})]
    else:
        attempts = [("image/png", {}), ("image/webp", {"quality": 90})]
        if not has_alpha:
            attempts.append(("image/jpeg", {"quality": 85}))
    while True:
        for media_type, options in attempts:
            encoded = _save(frame, media_type, options)
            if len(encoded) <= limits.image_bytes:
                return media_type, encoded, frame.size
        # Nothing fits: shrink by a quarter and try again (rare: huge noisy images).
        frame = frame.resize(
            (max(1, frame.width * 3 // 4), max(1, frame.height * 3 // 4)), Image.Resampling.LANCZOS
        )


def _fitted(size: tuple[int, int], long_edge: int) -> tuple[int, int]:
    """The size with the same aspect and at most `long_edge` on its longer side."""
    width, height = size
    if max(width, height) <= long_edge:
        return size
    if width >= height:
        return long_edge, max(1, round(height * long_edge / width))
    return max(1, round(width * long_edge / height)), long_edge


# Source pixels converted and resampled at once: about 16 MB, where the whole canvas can be
# 360 MB. Converting it whole (palette or 16-bit to RGB, RGBA to premultiplied for Lanczos)
# and resampling it in one go held two or three full-size copies at once.
_BAND_PIXELS = 1_000_000


def _downscaled(image: Image.Image, long_edge: int) -> Image.Image:
    """The image in a mode the encoders take, fitted to `long_edge`, made band by band."""
    convert = _converter(image)
    size = _fitted(image.size, long_edge)
    if size == image.size:
        return convert(image)  # at most long_edge² pixels: one copy is cheap
    width, height = image.size
    scale = height / size[1]
    # Lanczos reads 3 source pixels either side per output pixel (times the scale): a band
    # with that margin resamples exactly as the whole canvas would.
    margin = math.ceil(3 * scale) + 1
    rows = max(1, _BAND_PIXELS // (width * math.ceil(scale)))
    out: Image.Image | None = None
    for top in range(0, size[1], rows):
        bottom = min(size[1], top + rows)
        y0, y1 = top * scale, min(height, bottom * scale)
        first, last = max(0, math.floor(y0) - margin), min(height, math.ceil(y1) + margin)
        band = convert(image.crop((0, first, width, last)))
        box = (0.0, y0 - first, float(width), y1 - first)
        part = band.resize((size[0], bottom - top), Image.Resampling.LANCZOS, box=box)
        if out is None:
            out = Image.new(part.mode, size)
        out.paste(part, (0, top))
    assert out is not None  # size[1] >= 1: at least one band
    return out


# Grayscale deeper than 8 bits: scientific TIFFs, medical scans, 16-bit PNGs.
_DEEP_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _converter(image: Image.Image) -> Callable[[Image.Image], Image.Image]:
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
    mode = _encodable_mode(image)
    return lambda part: part if part.mode == mode else part.convert(mode)


def _encodable_mode(image: Image.Image) -> str:
    if image.mode in ("P", "PA", "RGB", "L") and (
        image.mode == "PA" or "transparency" in image.info
    ):
        return "LA" if image.mode == "L" else "RGBA"  # a transparent color becomes alpha
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image.mode
    return "RGB"


def _save(frame: Image.Image, media_type: str, options: dict[str, object]) -> bytes:
    out = io.BytesIO()
    if media_type == "image/jpeg" and frame.mode not in ("RGB", "L"):
        frame = frame.convert("RGB")
    fmt = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}[media_type]
    frame.save(out, fmt, **options)
    return out.getvalue()


def _renamed(name: str, media_type: str) -> str:
    """The name with the extension of what the bytes are (a PNG called photo.jpg → photo.png)."""
    suffixes = _SUFFIXES[media_type]
    path = PurePath(name)
    return name if path.suffix.lower() in suffixes else f"{path.stem or 'image'}{suffixes[0]}"


_SUFFIXES = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/webp": (".webp",),
    "image/gif": (".gif",),
}
