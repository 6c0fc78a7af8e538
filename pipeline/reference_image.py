"""Reference image -> its dominant colours (k-means in OKLab on a downsampled copy).

Only PNG, JPEG and WebP are accepted, judged by content (Pillow's detected format), not by any name or
header the client sends; Pillow's decompression-bomb guard bounds the pixel count before decoding.
"""

from __future__ import annotations

import base64
import binascii
import io

import numpy as np
from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = {"PNG", "JPEG", "WEBP"}
MAX_PIXELS = 40_000_000  # beyond this the header is enough to refuse the image
# Pillow's own decompression-bomb guard, set once per process (the encoder replicas only decode these
# images; changing it per call would race between threads). It raises from 2x this value, warns from 1x;
# open_image refuses from 1x itself.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
SAMPLE_SIDE = 64  # colours are measured on a 64x64 thumbnail: plenty for 3 clusters
N_COLORS = 3

# sRGB -> OKLab (Björn Ottosson's published matrices). Vectorised numpy rather than coloraide because
# k-means needs thousands of pixel conversions per request; tests check it against coloraide.
_M1 = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                [0.2119034982, 0.6806995451, 0.1073969566],
                [0.0883024619, 0.2817188376, 0.6299787005]])
_M2 = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                [1.9779984951, -2.4285922050, 0.4505937099],
                [0.0259040371, 0.7827717662, -0.8086757660]])
_M1_INV, _M2_INV = np.linalg.inv(_M1), np.linalg.inv(_M2)  # once, not per image


class ReferenceImageError(ValueError):
    """The reference image cannot be used; the message is safe to show the client."""


def _srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _linear_to_oklab(linear: np.ndarray) -> np.ndarray:
    return np.cbrt(linear @ _M1.T) @ _M2.T


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB in 0-1 -> (..., 3) OKLab."""
    return _linear_to_oklab(_srgb_to_linear(rgb))


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    lms = (lab @ _M2_INV.T) ** 3
    linear = np.clip(lms @ _M1_INV.T, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def decode_base64(data: str, max_bytes: int) -> bytes:
    if data.startswith("data:"):
        header, _, data = data.partition(",")
        if ";base64" not in header:
            raise ReferenceImageError("reference_image data URL must be base64-encoded")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ReferenceImageError("reference_image is not valid base64") from exc
    if len(raw) > max_bytes:
        raise ReferenceImageError(f"reference_image is {len(raw)} bytes; the limit is {max_bytes}")
    return raw


def open_image(raw: bytes) -> Image.Image:
    """Decode an untrusted image: PNG/JPEG/WebP only, at most MAX_PIXELS, any decoder failure -> 422 text."""
    try:
        # `formats=` makes Pillow try only these parsers, so no other decoder ever sees client bytes.
        image = Image.open(io.BytesIO(raw), formats=sorted(ALLOWED_FORMATS))
    except Image.DecompressionBombError as exc:
        raise ReferenceImageError(f"reference_image has too many pixels (limit {MAX_PIXELS:,})") from exc
    except UnidentifiedImageError as exc:
        raise ReferenceImageError(
            "reference_image is not a readable PNG, JPEG or WebP image (judged by its content)") from exc
    except Exception as exc:  # noqa: BLE001 - a malformed header can raise anything from a parser
        raise ReferenceImageError(f"reference_image is corrupt: {exc.__class__.__name__}") from exc
    # Pillow only warns between 1x and 2x MAX_IMAGE_PIXELS; refuse the whole band from the header alone.
    if image.width * image.height > MAX_PIXELS:
        raise ReferenceImageError(
            f"reference_image has too many pixels ({image.width}x{image.height}; limit {MAX_PIXELS:,})")
    try:
        image.draft("RGB", (SAMPLE_SIDE * 4, SAMPLE_SIDE * 4))  # JPEG: decode at reduced scale
        image.load()
    except Image.DecompressionBombError as exc:
        raise ReferenceImageError(f"reference_image has too many pixels (limit {MAX_PIXELS:,})") from exc
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt data fails in format-specific ways
        raise ReferenceImageError(
            f"reference_image is truncated or corrupt and cannot be decoded ({exc.__class__.__name__})") from exc
    return image


# sRGB's 256 levels linearised once: pixels are 8-bit, so the per-pixel power becomes a lookup (same values).
_LINEAR_LEVELS = _srgb_to_linear(np.arange(256) / 255.0)


def _distinct_rows(planes: np.ndarray, at_most: int) -> int:
    """min(at_most, len(np.unique(lab.round(3), axis=0))) for (3, N) OKLab planes: k-means needs only to know
    whether k distinct colours exist, which a few passes over the rows tell without sorting them."""
    cells = np.rint(planes * 1000.0).astype(np.int64)  # round(3) is rint(x * 1000) / 1000
    found = 0
    while found < at_most and cells.shape[1]:
        first = cells[:, :1]
        cells = cells[:, (cells != first).any(axis=0)]
        found += 1
    return found


def _squared_distances(planes: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances of (3, N) coordinate planes to one point, summed as np.linalg.norm(..., axis=1)
    sums a row, so its square root is bit-identical to that norm."""
    out = planes[0] - point[0]
    out *= out
    for axis in (1, 2):
        term = planes[axis] - point[axis]
        term *= term
        out += term
    return out


_GREY_16 = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


def _grey_8(image: Image.Image) -> Image.Image:
    """A 16-bit grey image (a 16-bit greyscale PNG) as 8-bit "L", or "LA" where a grey level is transparent:
    Pillow's convert() clips its levels at 255, so every such picture read as white."""
    levels = np.asarray(image)
    step = max(1, max(levels.shape) // (SAMPLE_SIDE * 4))  # a coarse grid first, as a JPEG's draft decodes
    levels = levels[::step, ::step].astype(np.uint32)
    grey = Image.fromarray(((levels * 255 + 32767) // 65535).astype(np.uint8), "L")
    key = image.info.get("transparency")
    if isinstance(key, int):
        grey.putalpha(Image.fromarray(np.where(levels == key, 0, 255).astype(np.uint8), "L"))
    return grey


def _pixels(image: Image.Image) -> np.ndarray:
    """The 64x64 thumbnail's opaque pixels as (N, 3) uint8. An RGB image without a transparent colour key (every
    JPEG, most PNGs) is thumbnailed as it is; anything else goes through RGBA, whose transparent pixels are not
    part of the look."""
    if image.mode in _GREY_16:
        image = _grey_8(image)
    if image.mode == "RGB" and "transparency" not in image.info:
        small = image.copy()
        small.thumbnail((SAMPLE_SIDE, SAMPLE_SIDE))
        return np.asarray(small).reshape(-1, 3)
    rgba = image.convert("RGBA")
    rgba.thumbnail((SAMPLE_SIDE, SAMPLE_SIDE))
    pixels = np.asarray(rgba).reshape(-1, 4)
    return pixels[pixels[:, 3] > 127, :3]  # alpha above half


def dominant_colors(image: Image.Image, k: int = N_COLORS, iterations: int = 12) -> list[str]:
    """k dominant colours as hex, most common first (deterministic k-means++-style seeding).

    Coordinates are kept as three planes and distances summed plane by plane, with no (N, k, 3) differences:
    1.2 ms an image against 2.5 for the (N, k, 3) form on a development core, and the same colours for 1,420 images
    (the benchmark mix's and synthetic L, P, RGB and RGBA images of 1-640 px, JPEG and PNG) and the 96 golden
    images of tests/pipeline/test_reference_image.py."""
    pixels = _pixels(image)
    if len(pixels) == 0:
        raise ReferenceImageError("reference_image is fully transparent")
    lab = _linear_to_oklab(_LINEAR_LEVELS[pixels])  # srgb_to_oklab on 8-bit levels, by lookup
    planes = np.ascontiguousarray(lab.T)
    k = _distinct_rows(planes, k)
    centres = [lab[np.argmin(np.sqrt(_squared_distances(planes, lab.mean(0))))]]
    farthest = None  # each pixel's distance to its nearest centre so far
    while len(centres) < k:
        distance = np.sqrt(_squared_distances(planes, centres[-1]))
        farthest = distance if farthest is None else np.minimum(farthest, distance)
        centres.append(lab[int(np.argmax(farthest))])
    centres = np.array(centres)
    squared = np.empty((k, len(pixels)))
    for _ in range(iterations):
        for j in range(k):
            squared[j] = _squared_distances(planes, centres[j])
        labels = np.argmin(squared, axis=0)
        counts = np.bincount(labels, minlength=k)
        sums = np.stack([np.bincount(labels, weights=plane, minlength=k) for plane in planes], axis=1)
        updated = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        if np.allclose(updated, centres, atol=1e-5):
            break
        centres = updated
    counts = np.bincount(labels, minlength=k)
    rgb = oklab_to_srgb(centres[np.argsort(-counts)])
    return ["#" + "".join(f"{round(float(v) * 255):02x}" for v in row) for row in rgb]


def reference_colors(data: str, max_bytes: int) -> list[str]:
    return dominant_colors(open_image(decode_base64(data, max_bytes)))
