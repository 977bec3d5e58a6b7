"""Odd and hostile files, built on the spot: broken, exotic or lying about their size.

Each starts from a file a library wrote (Pillow, pypdf) and changes what the real-world
specimens change: a flipped byte in the pixel data, a cut, a header field, a container
around a frame that is not what the directory says.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator

from PIL import Image, ImageDraw

from tests import samples


def png_chunks(data: bytes) -> Iterator[tuple[int, bytes, int]]:
    """(offset, type, length) of each chunk of a PNG."""
    at = 8
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        yield at, data[at + 4 : at + 8], length
        at += 12 + length


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_broken_pixel_data(data: bytes) -> bytes:
    """The PNG with bytes flipped mid-IDAT and the chunk's CRC fixed: zlib's 'broken data'."""
    out = bytearray(data)
    at, _, length = next(c for c in png_chunks(data) if c[1] == b"IDAT")
    middle = at + 8 + length // 2
    out[middle : middle + 16] = bytes(b ^ 0xFF for b in out[middle : middle + 16])
    out[at + 8 + length : at + 12 + length] = struct.pack(
        ">I", zlib.crc32(bytes(out[at + 4 : at + 8 + length]))
    )
    return bytes(out)


def png_cut_after_pixel_data(data: bytes) -> bytes:
    """The PNG with a text chunk after its pixel data, cut inside that chunk."""
    end = next(at for at, kind, _ in png_chunks(data) if kind == b"IEND")
    text = _chunk(b"tEXt", b"Comment\x00" + b"exported by a screenshot tool " * 8)
    return data[:end] + text[:40]


def png_of_nothing(width: int, height: int) -> bytes:
    """An RGBA PNG of transparent pixels: megabytes claimed, little stored, streamed out."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + 4 * width)  # filter byte, then RGBA zeros
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
    )


def icon_around(frame: bytes, claimed: int = 256) -> bytes:
    """An .ico whose directory says `claimed`² and whose one frame is `frame` (PNG or DIB)."""
    side = 0 if claimed >= 256 else claimed  # 0 means 256 in an icon directory
    entry = struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(frame), 6 + 16)
    return b"\x00\x00\x01\x00" + struct.pack("<H", 1) + entry + frame


def icon_with_dib_claiming(width: int, height: int) -> bytes:
    """An .ico whose BMP frame's own header claims width × height (the bytes stop short)."""
    dib = struct.pack("<IiiHHIIiiII", 40, width, height * 2, 1, 32, 0, 0, 0, 0, 0, 0)
    return icon_around(dib + b"\x00" * 1024)


def tiff_with_orientation(orientation: int, size: tuple[int, int] = (300, 200)) -> bytes:
    """A camera-style TIFF: a red marker in the stored top-left corner, an Orientation tag."""
    image = Image.new("RGB", size, "skyblue")
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 6, size[1] // 6), fill="red")
    out = io.BytesIO()
    image.save(out, "TIFF", tiffinfo={0x0112: orientation})
    return out.getvalue()


def bigtiff(size: tuple[int, int] = (120, 80)) -> bytes:
    """A BigTIFF (64-bit offsets), as scanners and microscopes write large scans."""
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).rectangle((10, 10, 60, 40), fill="navy")
    out = io.BytesIO()
    image.save(out, "TIFF", big_tiff=True)
    return out.getvalue()


def _tiff_tag_patched(data: bytes, tag: int, value: int) -> bytes:
    """A little-endian classic TIFF with one SHORT tag of its first IFD set to `value`."""
    out = bytearray(data)
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd : ifd + 2])
    for i in range(count):
        at = ifd + 2 + 12 * i
        if struct.unpack("<H", data[at : at + 2])[0] == tag:
            out[at + 8 : at + 10] = struct.pack("<H", value)
            return bytes(out)
    raise ValueError(f"no tag {tag}")


def tiff_compressed_as(compression: int) -> bytes:
    """A deflate TIFF relabelled with another compression scheme (50001 is WebP)."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "orange").save(out, "TIFF", compression="tiff_adobe_deflate")
    return _tiff_tag_patched(out.getvalue(), 259, compression)


def bmp(
    bits: int, compression: int, payload: bytes, *, masks: tuple[int, ...] = (), colors: int = 0
) -> bytes:
    """A 4×4 BMP with the given depth, compression, palette size and bitfield masks."""
    header_size = 40 + 4 * len(masks)
    info = struct.pack(
        "<IiiHHIIiiII", header_size, 4, 4, 1, bits, compression, len(payload), 2835, 2835, colors, 0
    )
    info += b"".join(struct.pack("<I", mask) for mask in masks)
    palette = b"".join(bytes((i * 60 % 256, 90, 200, 0)) for i in range(colors))
    start = 14 + len(info) + len(palette)
    return (
        b"BM" + struct.pack("<IHHI", start + len(payload), 0, 0, start) + info + palette + payload
    )


def bmp_variants() -> dict[str, bytes]:
    """BMP variants Windows writes and Pillow does not decode."""
    return {
        "jpeg-inside.bmp": bmp(0, 4, samples.jpeg()),  # BI_JPEG
        "png-inside.bmp": bmp(0, 5, samples.png()),  # BI_PNG
        "two-bit.bmp": bmp(2, 0, b"\x1b\x00\x00\x00" * 4, colors=4),
        "ten-bit.bmp": bmp(32, 3, b"\x00" * 64, masks=(0x3FF00000, 0x000FFC00, 0x000003FF)),
    }


def flipped(data: bytes, at: float, count: int = 8) -> bytes:
    """`data` with `count` bytes inverted at the fraction `at` of its length."""
    out = bytearray(data)
    start = min(len(out) - count, int(len(out) * at))
    out[start : start + count] = bytes(b ^ 0xFF for b in out[start : start + count])
    return bytes(out)


def pdf_encrypted(user_password: str, owner_password: str, algorithm: str = "AES-256") -> bytes:
    """A PDF encrypted as Acrobat and Word write them (AES), with these passwords."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(samples.pdf(2))))
    writer.encrypt(user_password, owner_password, algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def noisy_png_within_native_size(raw_bytes: int = 4_800_000) -> bytes:
    """A detailed PNG (noise: a heatmap's worst case) of about `raw_bytes`, under 2576 px."""
    import random

    side = int((raw_bytes / 3) ** 0.5)
    rng = random.Random(10)
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def long_page(size: tuple[int, int] = (1440, 12000), line_height: int = 40) -> bytes:
    """A full-page browser capture: lines of 22 px text, numbered, down the whole page."""
    from PIL import ImageFont

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(22)
    for n, y in enumerate(range(20, size[1] - line_height, line_height)):
        draw.text(
            (40, y), f"line {n:04d}  GET /api/orders 200 12ms  user=alice", fill="black", font=font
        )
    draw.rectangle((0, 0, size[0] - 1, 8), fill="red")  # a marker at the top of the page
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
