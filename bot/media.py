"""Decide what a file really is from its bytes and make it Claude-ready (no I/O here)."""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Literal, cast

import pillow_heif
from PIL import Image, ImageOps
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
# Checked from the header before decoding: a small file can claim a huge canvas.
MAX_DECODE_PIXELS = 89_000_000  # just under Pillow's own bomb warning
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
    with Image.open(io.BytesIO(data)) as image:
        _check_canvas(name, image)
        return _fit(name, data, media_type, image, limits)


def _check_canvas(name: str, image: Image.Image) -> None:
    width, height = image.size
    if width * height > MAX_DECODE_PIXELS:
        raise FileRefused(name, _too_many_pixels(width, height))


def _too_many_pixels(width: int = 0, height: int = 0) -> str:
    size = f" ({width}×{height})" if width else ""
    return (
        f"the image claims more pixels{size} than I decode safely "
        f"({MAX_DECODE_PIXELS // 1_000_000} megapixels). A smaller export would work."
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
        # Let the JPEG decoder skip detail the downscale would throw away (less memory).
        image.draft("RGB", (limits.long_edge, limits.long_edge))
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
    frame = ImageOps.exif_transpose(image) if rotated else image
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


def _exif_orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1))
    except (ValueError, TypeError, OSError):
        return 1


def _encode(
    image: Image.Image, source_type: str, limits: MediaLimits
) -> tuple[str, bytes, tuple[int, int]]:
    """Downscale to the model's native size and encode within the byte limit."""
    frame = _downscaled(image, limits.long_edge)
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


def _downscaled(image: Image.Image, long_edge: int) -> Image.Image:
    frame = image
    if image.mode in ("P", "PA"):
        keeps_alpha = image.mode == "PA" or "transparency" in image.info
        frame = image.convert("RGBA" if keeps_alpha else "RGB")
    if frame.mode in _DEEP_MODES:
        frame = _eight_bit(frame)
    if frame.mode not in ("RGB", "RGBA", "L", "LA"):
        frame = frame.convert("RGB")
    if max(frame.size) > long_edge:
        frame = frame.copy()
        frame.thumbnail((long_edge, long_edge), Image.Resampling.LANCZOS)
    return frame


# Grayscale deeper than 8 bits: scientific TIFFs, medical scans, 16-bit PNGs.
_DEEP_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _eight_bit(image: Image.Image) -> Image.Image:
    """The image as 8-bit grayscale with its tones kept (Pillow's convert clips them to white)."""
    if image.mode == "F":
        # Floats have no fixed range (0..1, or raw sensor values): stretch what is there.
        low, high = cast("tuple[float, float]", image.getextrema())  # one band: one pair
        scale = 255 / (high - low) if high > low else 0.0
        return image.point(lambda v: (v - low) * scale).convert("L")
    return image.convert("I").point(lambda v: v / 256).convert("L")


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
