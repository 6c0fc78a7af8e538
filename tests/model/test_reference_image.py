import base64
import io

import numpy as np
import pytest
from coloraide import Color
from PIL import Image

from model.reference_image import (
    ReferenceImageError,
    decode_base64,
    dominant_colors,
    open_image,
    reference_colors,
    srgb_to_oklab,
)


def _encode(image: Image.Image, fmt: str) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def test_oklab_matches_coloraide():
    rng = np.random.default_rng(0)
    for rgb in rng.random((50, 3)):
        expected = Color("srgb", list(rgb)).convert("oklab").coords()
        assert np.allclose(srgb_to_oklab(rgb), expected, atol=1e-4)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_dominant_colours_of_a_three_colour_image(fmt):
    image = Image.new("RGB", (120, 60), (230, 30, 40))
    image.paste((20, 120, 60), (60, 0, 100, 60))
    image.paste((250, 250, 240), (100, 0, 120, 60))
    colors = reference_colors(_encode(image, fmt), 5_000_000)
    assert len(colors) == 3
    # Largest area first: the red half.
    assert Color(colors[0]).delta_e(Color("rgb(230 30 40)"), method="2000") < 5
    assert Color(colors[1]).delta_e(Color("rgb(20 120 60)"), method="2000") < 5


def test_data_url_and_single_colour_image():
    image = Image.new("RGB", (10, 10), (0, 0, 255))
    colors = reference_colors("data:image/png;base64," + _encode(image, "PNG"), 5_000_000)
    assert colors == ["#0000ff"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("###", "base64"),
        (base64.b64encode(b"GIF89a" + bytes(64)).decode(), "decoded"),
        (_encode(Image.new("RGB", (8, 8)), "BMP"), "PNG, JPEG or WebP"),
    ],
)
def test_bad_images_are_rejected_with_a_clear_message(payload, message):
    with pytest.raises(ReferenceImageError, match=message):
        reference_colors(payload, 5_000_000)


def test_truncated_png_is_rejected():
    raw = base64.b64decode(_encode(Image.new("RGB", (64, 64), (1, 2, 3)), "PNG"))
    with pytest.raises(ReferenceImageError):
        dominant_colors(open_image(raw[: len(raw) // 2]))


def test_size_and_pixel_limits():
    payload = _encode(Image.new("RGB", (8, 8)), "PNG")
    with pytest.raises(ReferenceImageError, match="limit"):
        decode_base64(payload, 10)
    # A tiny PNG that claims 10^8 pixels: refused before decoding (decompression-bomb guard).
    bomb = Image.new("1", (10_000, 10_000))
    with pytest.raises(ReferenceImageError, match="too many pixels"):
        open_image(base64.b64decode(_encode(bomb, "PNG")))
