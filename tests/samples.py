"""Real files made on the spot: the formats people share in Slack."""

from __future__ import annotations

import io

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
