"""Decide what a file really is from its bytes and make it Claude-ready (no I/O here)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Literal

from PIL import Image, UnidentifiedImageError

from bot.errors import FileRefused

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
READABLE = "PNG, JPEG, GIF and WebP images, and PDFs"
MAX_SIDE = 8000  # Claude refuses images larger than this on either side
MAX_PIXELS = 8000 * 8000

# Magic numbers of what people share, to name what the bot was given.
_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "a PNG image"),
    (b"\xff\xd8\xff", 0, "image/jpeg", "a JPEG image"),
    (b"GIF87a", 0, "image/gif", "a GIF image"),
    (b"GIF89a", 0, "image/gif", "a GIF image"),
    (b"%PDF-", 0, "application/pdf", "a PDF"),
    (b"PK\x03\x04", 0, "application/zip", "a ZIP archive"),
    (b"II*\x00", 0, "image/tiff", "a TIFF image"),
    (b"MM\x00*", 0, "image/tiff", "a TIFF image"),
    (b"BM", 0, "image/bmp", "a BMP image"),
    (b"\x00\x00\x01\x00", 0, "image/x-icon", "an icon file"),
    (b"\x1f\x8b", 0, "application/gzip", "a gzip archive"),
)


@dataclass(frozen=True)
class PreparedMedia:
    """A file checked and ready to upload: the bytes to send and what they are."""

    name: str
    data: bytes
    media_type: str
    kind: Literal["image", "document"]
    width: int | None = None
    height: int | None = None

    @property
    def sha256(self) -> str:
        """The content hash that keys the upload cache."""
        return hashlib.sha256(self.data).hexdigest()


def sniff(data: bytes) -> tuple[str | None, str]:
    """The media type the bytes really are (None if unknown) and a phrase naming it."""
    for magic, offset, media_type, phrase in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return media_type, phrase
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "a WebP image"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "image/heic", "a HEIC photo"
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "text/html", "a web page"
    return None, "a file type I don't recognise"


def prepare(name: str, data: bytes) -> PreparedMedia:
    """Check a shared file and return what to send to Claude, or raise FileRefused."""
    if not data:
        raise FileRefused(name, "the file is empty.")
    media_type, phrase = sniff(data)
    if media_type == "application/pdf":
        return PreparedMedia(name, data, media_type, "document")
    if media_type not in IMAGE_TYPES:
        raise FileRefused(name, f"it is {phrase}, and I can read {READABLE}.")
    width, height = _checked_size(name, data)
    return PreparedMedia(name, data, media_type, "image", width, height)


def _checked_size(name: str, data: bytes) -> tuple[int, int]:
    try:
        # Only the header is read here: the pixel count is checked before any decoding.
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise FileRefused(
                    name,
                    f"it is {width}×{height} pixels, more than the {MAX_SIDE}×{MAX_SIDE} "
                    "Claude accepts. A smaller screenshot or a crop would work.",
                )
            image.verify()
    except FileRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise FileRefused(
            name, "the image looks corrupt or truncated. Could you share it again?"
        ) from None
    return width, height
