"""What a file's own headers say, read before any pixel is decoded, and why decoding failed."""

from __future__ import annotations

import struct
import zlib

from PIL import Image

_PNG = b"\x89PNG\r\n\x1a\n"

# An icon directory can't describe a frame over 256 px; tools that write bigger ones stay
# far under this. Pillow decodes an icon's frame while opening it, so an .ico is checked
# frame by frame from its own bytes first: a 256×256 entry can hide a 13,300² PNG (700 MB).
MAX_ICON_SIDE = 1024

# TIFF compressions every build of Pillow decodes: a failure on one of these is a broken
# file; on anything else (WebP, JPEG XL, LERC…) it is a variant this build lacks.
COMMON_TIFF_COMPRESSIONS = frozenset(
    {
        "raw",
        "packbits",
        "tiff_lzw",
        "tiff_adobe_deflate",
        "tiff_deflate",
        "jpeg",
        "tiff_jpeg",
        "group3",
        "group4",
        "tiff_ccitt",
        "tiff_raw_16",
    }
)
# How decoders say "I don't do that variant" (Pillow's BMP plugin, libheif). Not Pillow's
# "unknown pixel mode" and the like: a TIFF cut short says the same.
_UNSUPPORTED_WORDS = ("unsupported", "not supported")
_BMP_COMPRESSIONS = {4: "JPEG-compressed", 5: "PNG-compressed"}
_TIFF_NAMES = {
    "webp": "WebP",
    "zstd": "Zstandard",
    "lzma": "LZMA",
    "tiff_thunderscan": "ThunderScan",
}


def icon_frame_sizes(data: bytes) -> list[tuple[int, int]]:
    """The real width and height of every frame of an .ico, from the frames' own headers."""
    (count,) = struct.unpack_from("<H", data, 4)
    sizes = []
    for index in range(count):
        offset = struct.unpack_from("<I", data, 6 + 16 * index + 12)[0]
        head = data[offset : offset + 24]
        if head.startswith(_PNG):
            sizes.append(struct.unpack_from(">II", head, 16))
        elif struct.unpack_from("<I", head)[0] == 12:  # BITMAPCOREHEADER: 16-bit sizes
            width, height = struct.unpack_from("<HH", head, 4)
            sizes.append((width, height // 2))
        else:  # BITMAPINFOHEADER and later: the height covers the image and its mask
            width, height = struct.unpack_from("<ii", head, 4)
            sizes.append((abs(width), abs(height) // 2))
    return sizes


def png_damaged(data: bytes) -> bool:
    """Whether a critical chunk of the PNG (IHDR, PLTE, IDAT, IEND) fails its CRC."""
    # Pillow skips the pixel data's CRCs; libpng, and so most of what reads PNGs, does not.
    at = 8
    while at + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, at)
        kind = data[at + 4 : at + 8]
        end = at + 8 + length
        if end + 4 > len(data):
            return False  # cut short: load() says so
        crc = int.from_bytes(data[end : end + 4], "big")
        if kind[:1].isupper() and zlib.crc32(data[at + 4 : end]) != crc:
            return True
        if kind == b"IEND":
            return False
        at = end + 4
    return False


def unsupported_variant(
    media_type: str, data: bytes, image: Image.Image | None, error: Exception
) -> str | None:
    """What the file is, when decoding failed because it is a variant the decoder lacks."""
    said = str(error).lower()
    if media_type == "image/tiff" and image is not None:
        compression = str(image.info.get("compression", "raw"))
        if compression not in COMMON_TIFF_COMPRESSIONS:
            named = _TIFF_NAMES.get(compression, compression.removeprefix("tiff_").upper())
            return f"a TIFF with {named} compression"
    if not any(words in said for words in _UNSUPPORTED_WORDS):
        return None
    if media_type == "image/bmp":
        return _bmp_variant(data)
    kinds = {"image/tiff": "TIFF", "image/heic": "HEIF", "image/avif": "AVIF"}
    return f"an unusual kind of {kinds.get(media_type, 'image')}"


def _bmp_variant(data: bytes) -> str:
    bits, compression = struct.unpack_from("<HI", data, 28)
    if compression in _BMP_COMPRESSIONS:
        return f"a {_BMP_COMPRESSIONS[compression]} BMP"
    if bits not in (1, 4, 8, 16, 24, 32):
        return f"a {bits}-bit BMP"
    return f"a {bits}-bit BMP with an unusual pixel layout"
