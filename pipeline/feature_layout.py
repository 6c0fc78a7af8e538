"""Layout of the structured-feature vector (which slot means what); no dependencies beyond the taxonomy."""

from __future__ import annotations

from knowledge.taxonomy import Audience, PackageFormat, ProductCategory, Tone

MAX_COLORS = 3  # brand colours and reference-image colours each fill up to three slots
COLOR_SLOT = 4  # OKLab L, a, b and a presence flag
# OKLab a/b span roughly +-0.3; scaling brings them to the range of the one-hot features.
AB_SCALE = 3.0

_BLOCKS: list[tuple[str, int]] = [
    ("product_category", len(ProductCategory)),
    ("audience", len(Audience)),
    ("tone", len(Tone)),
    ("package_format", len(PackageFormat)),
    ("locale_zh", 1),
    ("has_keywords", 1),
    ("brand_colors", MAX_COLORS * COLOR_SLOT),
    ("reference_colors", MAX_COLORS * COLOR_SLOT),
]
FEATURE_DIM = sum(size for _, size in _BLOCKS)
OFFSETS: dict[str, int] = {}
_offset = 0
for _name, _size in _BLOCKS:
    OFFSETS[_name] = _offset
    _offset += _size

INDEX = {
    "product_category": {m.value: i for i, m in enumerate(ProductCategory)},
    "audience": {m.value: i for i, m in enumerate(Audience)},
    "tone": {m.value: i for i, m in enumerate(Tone)},
    "package_format": {m.value: i for i, m in enumerate(PackageFormat)},
}


def feature_slice(block: str) -> slice:
    size = dict(_BLOCKS)[block]
    return slice(OFFSETS[block], OFFSETS[block] + size)
