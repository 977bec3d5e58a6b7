"""Files that reached Claude wrong, or were refused with the wrong words (issue 10)."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from pypdf import PdfReader

from bot.errors import FileRefused
from bot.media import encode, resample
from bot.media import prepare as media
from tests import odd_files, samples
from tests.harness import Harness, answer
from tests.test_media import ask_about, sent_images

ROOT = Path(__file__).resolve().parent.parent
API_IMAGE_CAP = 3_932_160  # raw bytes: 5,242,880 once base64-encoded


# --- 1. the API's 5 MB cap, for every transport ---------------------------------------------


@pytest.mark.parametrize(
    "settings_overrides",
    [{}, {"claude_transport": "base64"}],
    ids=["files-api", "base64"],
)
async def test_a_detailed_png_over_5_mb_of_base64_is_re_encoded_to_fit(harness: Harness) -> None:
    data = odd_files.noisy_png_within_native_size()  # 4.8 MB, 1264 px: no downscaling
    assert API_IMAGE_CAP < len(data) < 7_500_000

    replies = await ask_about(harness, ("heatmap.png", data, "image/png"))

    assert replies == [answer(1, 1)]
    (image,) = harness.claude.image_blocks(harness.claude.requests[0])
    if image["source"]["type"] == "base64":
        assert len(image["source"]["data"]) <= 5_242_880
    else:
        (upload,) = harness.claude.uploads
        assert len(upload.data) <= API_IMAGE_CAP


def test_every_platform_gets_the_same_per_image_cap() -> None:
    assert media.MediaLimits().image_bytes == API_IMAGE_CAP


# --- 2. broken PNGs are refused, never sent or half-decoded ---------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("broken.png", odd_files.png_with_broken_pixel_data(samples.screenshot((400, 300)))),
        ("cut.png", odd_files.png_cut_after_pixel_data(samples.screenshot((400, 300)))),
        # Too big to go as it is: before, a half-decoded canvas was re-encoded and sent.
        ("big-broken.png", odd_files.png_with_broken_pixel_data(samples.screenshot((3000, 2000)))),
    ],
)
async def test_a_png_whose_pixel_data_is_broken_is_refused_as_corrupt(
    harness: Harness, name: str, data: bytes
) -> None:
    (reply,) = await ask_about(harness, (name, data, "image/png"))

    assert f"*{name}*" in reply and "looks corrupt or truncated" in reply
    assert harness.claude.uploads == [] and harness.claude.requests == []


# --- 3. TIFF orientation is applied once ----------------------------------------------------


def _marker_corner(image: Image.Image) -> str:
    rgb = image.convert("RGB")
    w, h = rgb.size
    for corner, (x, y) in {
        "top-left": (2, 2),
        "top-right": (w - 3, 2),
        "bottom-left": (2, h - 3),
        "bottom-right": (w - 3, h - 3),
    }.items():
        red, green, _ = rgb.getpixel((x, y))  # type: ignore[misc]
        if red > 200 and green < 80:
            return corner
    return "nowhere"


@pytest.mark.parametrize("orientation", range(2, 9))
def test_a_tiff_is_turned_upright_once_like_a_jpeg(orientation: int) -> None:
    jpeg = media.prepare("photo.jpg", samples.photo_jpeg((300, 200), orientation=orientation))
    tiff = media.prepare("scan.tif", odd_files.tiff_with_orientation(orientation))

    (want,), (got,) = jpeg.parts, tiff.parts
    sent = Image.open(io.BytesIO(got.data))
    assert (got.width, got.height) == sent.size == (want.width, want.height)
    assert (got.original_width, got.original_height) == (want.original_width, want.original_height)
    assert _marker_corner(sent) == _marker_corner(Image.open(io.BytesIO(want.data)))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_locate_draws_on_a_tiff_turned_upright_once(orientation: int) -> None:
    jpeg, _ = media.upright(samples.photo_jpeg((300, 200), orientation=orientation), 6144)
    tiff, _ = media.upright(odd_files.tiff_with_orientation(orientation), 6144)

    assert tiff.size == jpeg.size
    assert _marker_corner(tiff) == _marker_corner(jpeg)


# --- 8. encrypted PDFs ----------------------------------------------------------------------


def test_pypdf_is_installed_with_what_aes_encrypted_pdfs_need() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("pypdf[crypto]") for d in dependencies)


@pytest.mark.parametrize("algorithm", ["AES-256", "AES-128", "RC4-128"])
async def test_a_pdf_that_opens_without_a_password_is_sent_decrypted(
    harness: Harness, algorithm: str
) -> None:
    data = odd_files.pdf_encrypted("", "owner-secret", algorithm)

    replies = await ask_about(harness, ("contract.pdf", data, "application/pdf"))

    assert replies == [answer(0, 1).replace("0 image(s)", "0 image(s) and 1 document(s)")]
    (upload,) = harness.claude.uploads
    sent = PdfReader(io.BytesIO(upload.data))
    assert not sent.is_encrypted and len(sent.pages) == 2


@pytest.mark.parametrize("algorithm", ["AES-256", "AES-128", "RC4-128"])
async def test_a_pdf_that_needs_a_password_is_refused_as_password_protected(
    harness: Harness, algorithm: str
) -> None:
    data = odd_files.pdf_encrypted("user-secret", "owner-secret", algorithm)

    (reply,) = await ask_about(harness, ("locked.pdf", data, "application/pdf"))

    assert "*locked.pdf*" in reply and "password-protected" in reply
    assert harness.claude.uploads == []


# --- 9. BigTIFF -----------------------------------------------------------------------------


async def test_a_bigtiff_is_read_like_any_tiff(harness: Harness) -> None:
    replies = await ask_about(harness, ("scan.tif", odd_files.bigtiff(), "image/tiff"))

    assert replies == [answer(1, 1)]
    (image,) = sent_images(harness)
    assert image.size == (120, 80) and image.convert("RGB").getpixel((30, 20)) == (0, 0, 128)


# --- 10. unsupported variants are not "corrupt" ---------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        *((n, d, "BMP") for n, d in odd_files.bmp_variants().items()),
        ("webp-inside.tif", odd_files.tiff_compressed_as(50001), "TIFF"),
    ],
)
def test_a_variant_the_decoder_lacks_is_named_with_what_would_work(
    name: str, data: bytes, what: str
) -> None:
    with pytest.raises(FileRefused) as refusal:
        media.prepare(name, data)

    reason = refusal.value.reason
    assert what in reason and "export" in reason.lower() and "PNG" in reason
    assert "corrupt" not in reason and "share it again" not in reason


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("cut.bmp", samples.image_bytes("BMP", (64, 48))[:-200]),
        ("cut.tif", samples.image_bytes("TIFF", (64, 48))[:-600]),
    ],
)
def test_a_cut_file_of_a_supported_variant_is_still_corrupt(name: str, data: bytes) -> None:
    with pytest.raises(FileRefused, match="corrupt or truncated"):
        media.prepare(name, data)


# --- 5. screenshots go up no bigger than they came down, text sharp -------------------------


async def test_a_4k_chat_screenshot_goes_up_smaller_than_it_came_down(harness: Harness) -> None:
    data = samples.chat_screenshot()  # 0.51 MB; sent as a 0.88 MB PNG before

    await ask_about(harness, ("chat.png", data, "image/png"))

    (upload,) = harness.claude.uploads
    sent = Image.open(io.BytesIO(upload.data))
    assert sent.size == (2576, 1449) and len(upload.data) < len(data) / 2
    # Sharp: no channel of any pixel is more than 16 levels from a lossless downscale.
    reference = resample.downscaled(Image.open(io.BytesIO(data)), 2576)
    difference = ImageChops.difference(sent.convert("RGB"), reference)
    assert max(high for _, high in difference.getextrema()) <= 16  # type: ignore[union-attr]


def test_photo_like_pixels_in_a_png_stay_lossless() -> None:
    image = Image.open(io.BytesIO(samples.noisy((600, 400)))).convert("RGB")

    encoded = encode.encode(image, "image/png", API_IMAGE_CAP)

    assert (encoded.media_type, encoded.how) == ("image/webp", "lossless WebP")
    sent = Image.open(io.BytesIO(encoded.data)).convert("RGB")
    assert ImageChops.difference(sent, image).getbbox() is None
