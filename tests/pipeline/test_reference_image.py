import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from coloraide import Color
from PIL import Image

from pipeline.reference_image import (
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


@pytest.mark.parametrize("level", [0x1000, 0x3030, 0x8080, 0xC0C0])
def test_a_16_bit_grey_png_reads_as_its_grey(level):
    # Pillow opens it as "I;16", whose convert() clipped every level to 255: each such picture read as white.
    grey = np.full((8, 8), level, np.uint16)
    expected = "#" + f"{round(level / 257):02x}" * 3
    assert reference_colors(base64.b64encode(_raw(Image.fromarray(grey), "PNG")).decode(), 5_000_000) == [expected]
    # Its transparent grey level (a PNG tRNS key) is no part of the look.
    half = grey.copy()
    half[:4] = 0xFFFF
    keyed = _raw(Image.fromarray(half), "PNG", transparency=0xFFFF)
    assert reference_colors(base64.b64encode(keyed).decode(), 5_000_000) == [expected]


def test_an_rgb_png_colour_key_is_transparent():
    # An RGB PNG may mark one colour transparent (tRNS): those pixels are no part of the look, as in RGBA.
    pixels = np.full((40, 40, 3), 255, np.uint8)
    pixels[30:] = (200, 20, 20)
    keyed = _raw(Image.fromarray(pixels), "PNG", transparency=(255, 255, 255))
    assert reference_colors(base64.b64encode(keyed).decode(), 5_000_000) == ["#c81414"]
    plain = _raw(Image.fromarray(pixels), "PNG")
    assert reference_colors(base64.b64encode(plain).decode(), 5_000_000) == ["#ffffff", "#c81414"]


def _raw(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>'


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("###", "base64"),
        ("data:image/png,not-base64", "base64-encoded"),
        ("aGVsbG8gd29ybGQ=", "PNG, JPEG or WebP"),  # valid base64 of plain text
        (base64.b64encode(b"GIF89a" + bytes(64)).decode(), "PNG, JPEG or WebP"),
        (_encode(Image.new("RGB", (8, 8)), "GIF"), "PNG, JPEG or WebP"),
        (_encode(Image.new("RGB", (8, 8)), "BMP"), "PNG, JPEG or WebP"),
        (_encode(Image.new("RGB", (8, 8)), "TIFF"), "PNG, JPEG or WebP"),
        (base64.b64encode(SVG).decode(), "PNG, JPEG or WebP"),
        # A PNG signature followed by garbage: right magic number, corrupt content.
        (base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256))).decode(), "readable PNG"),
    ],
)
def test_bad_images_are_rejected_with_a_clear_message(payload, message):
    with pytest.raises(ReferenceImageError, match=message) as info:
        reference_colors(payload, 5_000_000)
    assert str(info.value).startswith("reference_image")


def _noisy(side: int = 64) -> Image.Image:
    # Noise does not compress, so the pixel data spans the whole file and a cut lands inside it.
    return Image.frombytes("RGB", (side, side), np.random.default_rng(1).integers(0, 256, side * side * 3,
                                                                                   dtype=np.uint8).tobytes())


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_images_are_rejected(fmt):
    raw = _raw(_noisy(), fmt)
    assert Image.open(io.BytesIO(raw)).format == fmt  # the whole file is a valid image
    with pytest.raises(ReferenceImageError, match="truncated or corrupt|corrupt"):
        dominant_colors(open_image(raw[: len(raw) // 2]))


def test_png_with_a_damaged_chunk_is_rejected():
    raw = bytearray(_raw(_noisy(), "PNG"))
    idat = raw.index(b"IDAT")
    raw[idat + 100 : idat + 110] = bytes(10)  # the chunk's CRC no longer matches
    with pytest.raises(ReferenceImageError, match="corrupt"):
        open_image(bytes(raw))


def test_size_limit_on_decoded_bytes():
    payload = _encode(Image.new("RGB", (8, 8)), "PNG")
    with pytest.raises(ReferenceImageError, match="limit"):
        decode_base64(payload, 10)


@pytest.mark.parametrize("side", [6_500, 20_000])
def test_decompression_bombs_are_refused_before_decoding(side):
    # Real bombs: a blank bilevel PNG compresses to a few kB but would decode to side² pixels.
    # 6,500² = 42 M sits in the band where Pillow only warns; 20,000² = 400 M makes Pillow raise.
    raw = _raw(Image.new("1", (side, side)), "PNG", optimize=True)
    assert len(raw) < 100_000
    with pytest.raises(ReferenceImageError, match="too many pixels"):
        reference_colors(base64.b64encode(raw).decode(), 5_000_000)


def test_largest_allowed_image_still_works():
    raw = _raw(Image.new("L", (6_000, 6_000), 200), "PNG")  # 36 M pixels: under the cap
    assert reference_colors(base64.b64encode(raw).decode(), 5_000_000) == ["#c8c8c8"]


# The colours of GOLDEN_IMAGES generated images as the k-means gave them before it was rewritten plane by plane
# (commit 8bf6419's pipeline/reference_image.py); the rewrite must give the same hex strings, mode by mode.
GOLDEN_PATH = Path(__file__).with_name("reference_colours_golden.json")
GOLDEN_IMAGES = 96


def golden_image(i: int) -> bytes:
    """Pure-integer formulas (no random stream that could change between numpy versions), lossless PNG, the modes
    clients send (RGB, RGBA with transparency, palette, greyscale), 1-400 px, flat, two-colour and pseudo-noise."""
    w, h = 1 + (i * 37) % 400, 1 + (i * 53) % 330
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    noise = (x * 7919 + y * 104729 + i * 31337) % 97 * (i % 5)
    channels = [(x * (1 + (i + c) % 4) + y * ((i * (c + 2)) % 3) + 40 * c + 17 * i + noise) % 256 for c in range(3)]
    rgb = np.stack(channels, axis=-1).astype(np.uint8)
    if i % 9 == 0:
        rgb[:] = (17 * i % 256, 91, 200)  # flat: one distinct colour
    elif i % 9 == 1:
        rgb[: h // 2], rgb[h // 2:] = (10, 10, 10), (240, 200, 30)  # two
    mode = i % 4
    if mode == 0:
        image = Image.fromarray(rgb)
    elif mode == 1:
        alpha = (((x + y + i) % 5) > 1).astype(np.uint8) * 255
        image = Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
    elif mode == 2:
        image = Image.fromarray(rgb).quantize(colors=16, method=Image.Quantize.MEDIANCUT)
    else:
        image = Image.fromarray(rgb[..., 1])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_dominant_colours_unchanged_against_the_golden_images():
    golden = json.loads(GOLDEN_PATH.read_text())
    assert len(golden) == GOLDEN_IMAGES
    differ = []
    for i in range(GOLDEN_IMAGES):
        image = open_image(golden_image(i))
        expected = golden[str(i)]
        assert [image.mode, list(image.size)] == [expected["mode"], expected["size"]]
        if dominant_colors(image) != expected["colours"]:
            differ.append(i)
    assert differ == []
