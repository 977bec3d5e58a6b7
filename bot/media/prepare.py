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
from typing import Literal

import pillow_heif
from PIL import Image, JpegImagePlugin

from bot.errors import FileRefused
from bot.media import headers, tiles
from bot.media.encode import encode
from bot.media.pdf import readable_pdf
from bot.media.resample import downscaled, fitted, resampled
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
# everything after decoding works in small bands (resample.py).
MAX_DECODE_PIXELS = 89_000_000
# Pillow refuses past twice its MAX_IMAGE_PIXELS wherever it decodes (an icon's frame while
# opening, a GIF frame past its screen, a TIFF strip): there too, stop at the bot's own cap.
Image.MAX_IMAGE_PIXELS = MAX_DECODE_PIXELS // 2
# libheif and libavif hand over their own RGB copy (7 bytes a pixel in all), and libjpeg keeps
# a progressive JPEG's coefficients for the whole canvas whatever the scale (up to 7 bytes a
# pixel too): those get a lower cap with the same memory bound. 48-50 MP phone HEICs fit.
MAX_HEAVY_DECODE_PIXELS = 52_000_000
# A baseline JPEG is decoded at 1/2, 1/4 or 1/8 scale (draft), never at full size: 200 MP
# phone photos (16320×12240) fit and cost less than a 12 MP HEIC.
MAX_JPEG_PIXELS = 210_000_000
# _check_canvas refuses images by their header before any decoding, with a reply: Pillow's
# warning about those over its MAX_IMAGE_PIXELS would only be noise in the logs.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
MAX_PDF_PAGES = 100
# The Claude API refuses an image over 5 MB of base64 ("image exceeds 5 MB maximum"), sent
# inline or by file_id, and Bedrock and Vertex are no looser: 3,932,160 raw bytes.
IMAGE_BYTES = 5 * 1024 * 1024 * 3 // 4
NATIVE_LONG_EDGE = 2576  # models from the Claude Opus 4.7 generation on
OLDER_NATIVE_LONG_EDGE = 1568
# The most pixels one image is read at without downscaling (28×28 px a token): 4784 tokens
# (2576×1449) from the 4.7 generation on, about 1568 before.
NATIVE_PIXELS = 4784 * 28 * 28
OLDER_NATIVE_PIXELS = 1568 * 28 * 28
CORRUPT_IMAGE = "the image looks corrupt or truncated. Could you share it again?"
CORRUPT_PDF = "the PDF looks corrupt or truncated. Could you share it again?"

_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "a PNG image"),
    (b"\xff\xd8\xff", "image/jpeg", "a JPEG image"),
    (b"GIF87a", "image/gif", "a GIF image"),
    (b"GIF89a", "image/gif", "a GIF image"),
    (b"%PDF-", "application/pdf", "a PDF"),
    (b"II*\x00", "image/tiff", "a TIFF image"),
    (b"MM\x00*", "image/tiff", "a TIFF image"),
    (b"II+\x00", "image/tiff", "a TIFF image"),  # BigTIFF: 64-bit offsets, large scans
    (b"MM\x00+", "image/tiff", "a TIFF image"),
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
    image_bytes: int = IMAGE_BYTES
    pdf_pages: int = MAX_PDF_PAGES
    pixels: int = NATIVE_PIXELS  # per image, read without downscaling


@dataclass(frozen=True)
class PreparedMedia:
    """Bytes checked and ready to upload (a file, or one part of a long one) and what they are."""

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
    part: tiles.Part | None = None  # one of the parts a long image is sent as
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
            part=self.part.index if self.part else None,
            parts=self.part.count if self.part else None,
            crop=self.part.box if self.part else None,
        )


@dataclass(frozen=True)
class PreparedFile:
    """What one shared file becomes: one item to send (a long page: several), and notes."""

    parts: tuple[PreparedMedia, ...]
    notes: tuple[str, ...] = ()


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


def native_pixels(long_edge: int) -> int:
    """The most pixels one image is read at by a model with this native long edge."""
    return NATIVE_PIXELS if long_edge >= NATIVE_LONG_EDGE else OLDER_NATIVE_PIXELS


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


def prepare(name: str, data: bytes, limits: MediaLimits = MediaLimits()) -> PreparedFile:
    """Check a shared file and return what to send to Claude, or raise FileRefused."""
    if not data:
        raise FileRefused(name, "the file is empty. Could you share it again?")
    media_type, phrase = sniff(data)
    if media_type == "application/pdf":
        return PreparedFile((_prepare_pdf(name, data, limits),))
    if media_type in CLAUDE_IMAGE_TYPES or media_type in CONVERTIBLE_TYPES:
        return _prepare_image(name, data, media_type, limits)
    raise FileRefused(name, f"it is {phrase}, and I can read {READABLE}.")


def _prepare_pdf(name: str, data: bytes, limits: MediaLimits) -> PreparedMedia:
    try:
        sent, pages = readable_pdf(name, data, limits.pdf_pages)
    except FileRefused:
        raise
    except Exception:
        # pypdf fed hostile bytes raises almost any type (LimitReachedError, RecursionError,
        # struct.error…). Nothing here does I/O, so a failure is this file's: refuse it alone.
        logger.warning("could not read %s (application/pdf)", name, exc_info=True)
        raise FileRefused(name, CORRUPT_PDF) from None
    return PreparedMedia(name, sent, "application/pdf", "document", pages=pages)


def _prepare_image(name: str, data: bytes, media_type: str, limits: MediaLimits) -> PreparedFile:
    image: Image.Image | None = None
    try:
        _check_headers(name, data, media_type)
        image = _open(data, media_type)
        with image:
            _check_canvas(name, image)
            return _fit(name, data, media_type, image, limits)
    except FileRefused:
        raise
    except Image.DecompressionBombError:
        raise FileRefused(name, _too_many_pixels()) from None
    except Exception as error:
        # Pillow and libheif fed hostile bytes raise almost any type (OSError, SyntaxError,
        # struct.error, MemoryError…): a variant the decoder lacks is said so, with what would
        # work; anything else is this file's damage.
        if variant := headers.unsupported_variant(media_type, data, image, error):
            logger.info("cannot decode %s: %s (%s)", name, variant, error)
            raise FileRefused(
                name, f"it is {variant}, which I can't decode. Exporting it as PNG would work."
            ) from None
        logger.warning("could not decode %s (%s)", name, media_type, exc_info=True)
        raise FileRefused(name, CORRUPT_IMAGE) from None


def _check_headers(name: str, data: bytes, media_type: str) -> None:
    """Refuse what the file's own headers give away, before Pillow decodes any of it."""
    if media_type == "image/png" and headers.png_damaged(data):
        raise FileRefused(name, CORRUPT_IMAGE)
    if media_type != "image/x-icon":
        return  # every other format is decoded only on load(), after _check_canvas
    for width, height in headers.icon_frame_sizes(data):
        if max(width, height) > headers.MAX_ICON_SIDE:
            raise FileRefused(
                name,
                f"the icon holds a {width}×{height} picture, far larger than an icon's "
                "256×256, and I don't decode those. Exporting it as PNG would work.",
            )


# The plugin each sniffed type is opened with: the bytes are never offered to another.
_PLUGINS = {
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/tiff": "TIFF",
    "image/bmp": "BMP",
    "image/x-icon": "ICO",
    "image/heic": "HEIF",
    "image/avif": "AVIF",
}


def _open(data: bytes, media_type: str) -> Image.Image:
    """The image, its header read and nothing decoded yet, by the plugin its type names."""
    # The plugin itself, not Image.open: that refuses canvases over Pillow's limit before
    # _check_canvas can say which size and which cap (or allow a 200 MP JPEG it decodes at a
    # quarter scale). As a plain JPEG, an MPO (a phone photo with a depth map or preview
    # appended) is its first, main picture.
    if media_type == "image/jpeg":
        return JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    Image.init()  # registers every plugin once
    factory, _ = Image.OPEN[_PLUGINS[media_type]]
    return factory(io.BytesIO(data), "")


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
    if image.format == "TIFF" and _tiff_orientation(image) != 1:
        return MAX_HEAVY_DECODE_PIXELS  # Pillow turns it upright in a second full-size copy
    return MAX_DECODE_PIXELS


def _too_many_pixels(width: int = 0, height: int = 0, limit: int = MAX_DECODE_PIXELS) -> str:
    size = f" ({width}×{height})" if width else ""
    return (
        f"the image claims more pixels{size} than I decode safely "
        f"({limit // 1_000_000} megapixels). A smaller export would work."
    )


def _first_frame_only(name: str, image: Image.Image) -> str:
    """The note for a file of several frames, of which only the first is read."""
    if image.format == "TIFF":  # a scan or fax of several pages, not an animation
        pages = getattr(image, "n_frames", 2)
        return f"{name} has {pages} pages: I looked at the first page only."
    return f"{name} is animated: I looked at its first frame only."


def _fit(
    name: str, data: bytes, media_type: str, image: Image.Image, limits: MediaLimits
) -> PreparedFile:
    """The original bytes when Claude can take them as they are, else re-encoded parts."""
    animated = bool(getattr(image, "is_animated", False))
    notes = (_first_frame_only(name, image),) if animated else ()
    stored = image.size
    scale = _decoding_scale(stored, limits)
    if media_type == "image/jpeg" and scale < 1:
        # Let the JPEG decoder skip detail the downscale would throw away (a 50 MP photo
        # decodes as 12 MP). Asked for the scaled size: a square box would stop a panorama's
        # scale at its short side.
        image.draft("RGB", (math.ceil(stored[0] * scale), math.ceil(stored[1] * scale)))
    # The first frame, whole, from a fresh open: corrupt or cut data fails here. Before any
    # getexif(): on a PNG that loads the pixels itself, and when that fails and the error is
    # swallowed, Pillow has already dropped the tiles and a later load() "succeeds".
    image.load()
    orientation = _orientation(image)
    quarter_turn = orientation in (5, 6, 7, 8)  # the upright original is the other way round
    width, height = (stored[1], stored[0]) if quarter_turn else stored
    if parts := tiles.plan((width, height), limits.long_edge, limits.pixels):
        note = f"{name} is a long image: I read it in {len(parts)} overlapping parts."
        long = _parts(name, media_type, image, orientation, parts, (width, height), limits)
        return PreparedFile(long, (*notes, note))
    as_is = (
        media_type in CLAUDE_IMAGE_TYPES
        and not animated
        and orientation == 1
        and image.mode != "CMYK"
        and fitted((width, height), limits.long_edge, limits.pixels) == (width, height)
        and len(data) <= limits.image_bytes
    )
    if as_is:
        sent = PreparedMedia(
            _renamed(name, media_type), data, media_type, "image", width, height, width, height
        )
        return PreparedFile((sent,), notes)
    frame = downscaled(image, limits.long_edge, limits.pixels)
    if frame is not image:
        image.close()  # the full-size pixels: encoding needs only the downscaled copy
    if orientation in _UPRIGHT:  # after downscaling: turning the full-size canvas copies it
        frame = frame.transpose(_UPRIGHT[orientation])
    encoded = encode(frame, media_type, limits.image_bytes)
    sent = PreparedMedia(
        _renamed(name, encoded.media_type),
        encoded.data,
        encoded.media_type,
        "image",
        *encoded.size,
        width,
        height,
    )
    return PreparedFile((sent,), notes)


def _decoding_scale(size: tuple[int, int], limits: MediaLimits) -> float:
    """How much of the stored resolution is needed: for the parts of a long image, or one."""
    # The same whichever way up: the parts' scale depends on the short and long sides only.
    parts = tiles.plan(size, limits.long_edge, limits.pixels)
    if parts:
        left, top, right, bottom = parts[0].box
        return max(parts[0].size) / max(right - left, bottom - top)
    fit = fitted(size, limits.long_edge, limits.pixels)
    return fit[0] / size[0]


def _parts(
    name: str,
    media_type: str,
    image: Image.Image,
    orientation: int,
    parts: list[tiles.Part],
    original: tuple[int, int],
    limits: MediaLimits,
) -> tuple[PreparedMedia, ...]:
    """Each part of a long image, cut from the upright image and encoded on its own."""
    frame = image.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else image
    # The parts are boxes in the original's pixels; a JPEG may be decoded at a reduced scale.
    ratio = frame.width / original[0]
    sent = []
    for part in parts:
        left, top, right, bottom = (round(v * ratio) for v in part.box)
        box = (left, top, min(right, frame.width), min(bottom, frame.height))
        cut = resampled(frame, box, part.size)
        encoded = encode(cut, media_type, limits.image_bytes)
        sent.append(
            PreparedMedia(
                _renamed(name, encoded.media_type),
                encoded.data,
                encoded.media_type,
                "image",
                *encoded.size,
                *original,
                part=part,
            )
        )
    return tuple(sent)


def upright(data: bytes, long_edge: int) -> tuple[Image.Image, float]:
    """A checked image decoded upright within `long_edge`; its scale from the original."""
    # For drawing on (locate): the same checks and decoding economies as prepare.
    media_type, phrase = sniff(data)
    if media_type not in CLAUDE_IMAGE_TYPES and media_type not in CONVERTIBLE_TYPES:
        raise ValueError(f"not an image: {phrase}")
    _check_headers("image", data, media_type)
    image = _open(data, media_type)
    _check_canvas("image", image)
    width, height = image.size
    if media_type == "image/jpeg" and max(width, height) > long_edge:
        image.draft("RGB", fitted(image.size, long_edge))
    image.load()
    orientation = _orientation(image)
    frame = downscaled(image, long_edge)
    if frame is not image:
        image.close()
    if orientation in _UPRIGHT:
        frame = frame.transpose(_UPRIGHT[orientation])
    return frame, frame.size[0] / (height if orientation in (5, 6, 7, 8) else width)


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation still to apply to the loaded image (1: none)."""
    if image.format == "TIFF":
        return 1  # Pillow's TIFF plugin turns the image upright itself while loading
    try:
        orientation = int(image.getexif().get(0x0112, 1))
    except (ValueError, TypeError, OSError):
        return 1
    return orientation if orientation in _UPRIGHT else 1


def _tiff_orientation(image: Image.Image) -> int:
    tags = getattr(image, "tag_v2", {})
    value = tags.get(0x0112, 1)
    return value if isinstance(value, int) else 1


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
