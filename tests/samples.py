"""Real files made on the spot: the formats people share in Slack."""

from __future__ import annotations

import functools
import io
import random

from PIL import Image, ImageDraw


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), color: str = "red", mode: str = "RGB"
) -> bytes:
    """An image in `fmt` with a little drawing, so different colors give different bytes."""
    image = Image.new(mode, size, color)
    ImageDraw.Draw(image).rectangle((2, 2, size[0] // 2, size[1] // 2), fill="white")
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def png(color: str = "red", size: tuple[int, int] = (64, 48)) -> bytes:
    """A small PNG."""
    return image_bytes("PNG", size, color)


def jpeg(color: str = "blue", size: tuple[int, int] = (64, 48)) -> bytes:
    """A small JPEG."""
    return image_bytes("JPEG", size, color)


def gif(color: str = "green") -> bytes:
    """A small GIF."""
    return image_bytes("GIF", color=color)


def webp(color: str = "purple") -> bytes:
    """A small WebP."""
    return image_bytes("WEBP", color=color)


def pdf(pages: int = 1) -> bytes:
    """A small PDF with `pages` pages."""
    images = [Image.new("RGB", (200, 260), c) for c in ["white", "gray", "black"][:pages]]
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:])
    return out.getvalue()


def heic(size: tuple[int, int] = (400, 300), orientation: int | None = None) -> bytes:
    """A HEIC photo, as iPhones share them (optionally with an EXIF rotation)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    image = Image.new("RGB", size, "orange")
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 4, size[1] // 4), fill="black")
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    image.save(out, "HEIF", quality=80, exif=exif.tobytes())
    return out.getvalue()


def animated_gif(frames: int = 3) -> bytes:
    """An animated GIF whose frames differ."""
    colors = ["red", "green", "blue", "yellow", "black"]
    images = [Image.new("RGB", (40, 30), colors[i % len(colors)]) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def transparent_icon() -> bytes:
    """A Windows icon with a transparent background."""
    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((4, 4, 28, 28), fill=(255, 0, 0, 255))
    out = io.BytesIO()
    image.save(out, "ICO", sizes=[(32, 32)])
    return out.getvalue()


def screenshot(size: tuple[int, int], mode: str = "RGB", compress_level: int = 6) -> bytes:
    """A retina-sized PNG screenshot: flat panels and lines of text."""
    image = Image.new(mode, size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0], 80), fill="#1d1c1d")
    for y in range(120, size[1] - 40, 40):
        draw.text((40, y), f"ERROR  worker-{y}  connection refused (errno 111)", fill="black")
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=compress_level)
    return out.getvalue()


def photo_jpeg(
    size: tuple[int, int], orientation: int | None = None, progressive: bool = False
) -> bytes:
    """A camera-style JPEG: a marker in the stored top-left corner, optionally rotated by EXIF."""
    image = Image.new("RGB", size, "skyblue")
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 8, size[1] // 8), fill="red")
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, exif=exif.tobytes(), progressive=progressive)
    return out.getvalue()


def noisy(size: tuple[int, int]) -> bytes:
    """A PNG of noise: the worst case for compression."""
    import os as _os

    image = Image.frombytes("RGB", size, _os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def with_header_size(png_bytes: bytes, width: int, height: int) -> bytes:
    """A PNG whose header claims another size (what a decompression bomb looks like)."""
    import struct
    import zlib

    ihdr = bytearray(png_bytes[8 : 8 + 25])
    ihdr[8:16] = struct.pack(">II", width, height)
    crc = struct.pack(">I", zlib.crc32(bytes(ihdr[4:21])))
    return png_bytes[:8] + bytes(ihdr[:21]) + crc + png_bytes[8 + 25 :]


def encrypted_pdf() -> bytes:
    """A password-protected PDF."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf())))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_archive() -> bytes:
    """A ZIP archive."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return out.getvalue()


def pdf_pages(pages: int) -> bytes:
    """A PDF of `pages` blank pages."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=72, height=72)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def heavy_pdf(megabytes: float, pages: int = 1) -> bytes:
    """A PDF of about `megabytes` MB, most of it an incompressible embedded file (a scan's
    weight, without the time to draw one)."""
    import os

    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    writer.add_attachment("scan.bin", os.urandom(int(megabytes * 2**20)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_oversized_xref() -> bytes:
    """A PDF whose cross-reference table claims millions of entries (pypdf stops at a limit)."""
    import re

    return re.sub(rb"xref\s+0 \d+", b"xref\n0 99999999", pdf())


def heic_claiming_width(width: int) -> bytes:
    """A HEIC photo whose header claims another width (libheif refuses past its limits)."""
    import struct

    data = bytearray(heic((64, 48)))
    at = data.index(b"ispe") + 8  # after the box type, version and flags
    data[at : at + 4] = struct.pack(">I", width)
    return bytes(data)


def gradient_tiff(mode: str, size: tuple[int, int] = (256, 64)) -> bytes:
    """A left-to-right grayscale ramp as a scientific TIFF: 16-bit (I;16) or float (F) samples."""
    ramp = Image.linear_gradient("L").rotate(90).resize(size)  # dark left, bright right
    if mode == "F":  # floats in 0..1, as cameras and microscopes write them
        image = ramp.convert("F").point(lambda v: v / 255)
    else:
        image = ramp.convert("I").point(lambda v: v * 257).convert(mode)
    out = io.BytesIO()
    image.save(out, "TIFF")
    return out.getvalue()


def text_pdf(pages: list[str]) -> bytes:
    """A PDF with one line of real (extractable, citable) text per page, in Helvetica."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    font_ref = writer._add_object(font)
    for text in pages:
        page = writer.add_blank_page(width=612, height=792)
        fonts = DictionaryObject({NameObject("/F1"): font_ref})
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
        content = DecodedStreamObject()
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        content.set_data(f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(content)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


_WORDS = "error worker deploy checkout request timeout retry cache queue user token status payment"
_WORDS += " service build failed passed commit branch review latency p99 region"


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS.split()) for _ in range(n))


@functools.cache
def chat_screenshot() -> bytes:
    """A 4K PNG of a chat app (0.51 MB): sidebar, top bar, messages, a code panel, buttons."""
    from PIL import ImageFont

    rng, w, h = random.Random(1), 3840, 2160
    img = Image.new("RGB", (w, h), "#ffffff")
    draw, text = ImageDraw.Draw(img), ImageFont.load_default(22)
    draw.rectangle((0, 0, w, 88), fill="#350d36")
    draw.rectangle((0, 88, 520, h), fill="#3f0e40")
    draw.rounded_rectangle((700, 20, 2400, 68), 12, fill="#5d3b5e")
    for i, y in enumerate(range(140, h - 60, 48)):
        draw.text((48, y), f"# {_sentence(rng, 2).replace(' ', '-')}", fill="#d1c4d1", font=text)
        if i % 7 == 3:
            draw.rectangle((24, y - 8, 500, y + 34), fill="#1164a3")
    y = 140
    while y < h - 260:
        color = rng.choice(["#e01e5a", "#2eb67d", "#ecb22e", "#36c5f0"])
        draw.rounded_rectangle((580, y, 652, y + 72), 10, fill=color)
        draw.text((680, y), f"user-{rng.randrange(99)}  10:{rng.randrange(60):02d}", fill="#1d1c1d")
        for line in range(rng.randrange(1, 4)):
            draw.text((680, y + 34 + 30 * line), _sentence(rng, 14), fill="#1d1c1d", font=text)
        y += 150
    draw.rectangle((2500, 140, w - 60, 1500), fill="#f8f8f8", outline="#dddddd", width=2)
    for i, y in enumerate(range(170, 1470, 30)):
        code = f"{i + 1:>3}  at {_sentence(rng, 3).replace(' ', '.')}()  line {rng.randrange(999)}"
        draw.text((2530, y), code, fill="#e01e5a" if i % 9 == 0 else "#1d1c1d", font=text)
    for x, color in ((2500, "#007a5a"), (2800, "#1264a3"), (3100, "#e01e5a")):
        draw.rounded_rectangle((x, 1560, x + 260, 1630), 10, fill=color)
        draw.text((x + 40, 1580), "Re-run job", fill="white", font=text)
    draw.rectangle((560, h - 180, w - 60, h - 60), outline="#868686", width=3)
    draw.text((600, h - 136), "Message #incidents", fill="#868686", font=text)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
