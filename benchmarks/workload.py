"""The request mix every end-to-end benchmark sends: held-out briefs as clients write them.

en / zh / mixed keywords (from the held-out generator), with and without brand colours, a spread of scheme
counts, and a share of briefs carrying a reference image (a real PNG or JPEG drawn from the brief's own
reference colours, so the encoder's image path does real decoding and k-means work).
"""

from __future__ import annotations

import base64
import io
import random
from collections import Counter

from PIL import Image, ImageDraw

from model.briefs import generate_briefs

IMAGE_SHARE = 0.1  # briefs with a reference image; most briefs arrive without one


def reference_image(colors: list[str], rng: random.Random) -> str:
    """A 256-320 px mood-board-like picture in the given colours, as base64 PNG or JPEG."""
    size = rng.choice([256, 288, 320])
    image = Image.new("RGB", (size, size), colors[0])
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = rng.randrange(size), rng.randrange(size)
        x1, y1 = x0 + rng.randrange(20, size // 2), y0 + rng.randrange(20, size // 2)
        draw.rectangle((x0, y0, x1, y1), fill=rng.choice(colors))
    buffer = io.BytesIO()
    if rng.random() < 0.5:
        image.save(buffer, "PNG")
    else:
        image.save(buffer, "JPEG", quality=85)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def brief_mix(n: int, seed: int = 7, image_share: float = IMAGE_SHARE) -> list[dict]:
    rng = random.Random(seed)
    briefs = []
    for sample in generate_briefs(n, "heldout"):
        brief = sample.brief.model_dump(mode="json", exclude_none=True)
        brief["num_schemes"] = rng.choice([3, 3, 3, 4, 6])
        if rng.random() < image_share:
            colors = list(sample.reference_colors) or list(brief.get("brand_colors", [])) or ["#d9c8b4", "#6b705c"]
            brief["reference_image"] = reference_image(colors, rng)
        briefs.append(brief)
    return briefs


def _script(text: str) -> str:
    han = any("\u4e00" <= ch <= "\u9fff" for ch in text)
    latin = any(ch.isascii() and ch.isalpha() for ch in text)
    return "mixed" if han and latin else "zh" if han else "en"


def describe(briefs: list[dict]) -> dict:
    """What the mix holds, for the report."""
    return {
        "briefs": len(briefs),
        "keywords": dict(sorted(Counter(_script(b.get("keywords", "")) for b in briefs).items())),
        "with_brand_colors": sum(1 for b in briefs if b.get("brand_colors")),
        "with_reference_image": sum(1 for b in briefs if b.get("reference_image")),
        "num_schemes": dict(sorted(Counter(b["num_schemes"] for b in briefs).items())),
    }
