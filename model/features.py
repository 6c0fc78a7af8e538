"""Brief -> model inputs: the text MiniLM reads and the fixed-size structured-feature vector.

Shared by training, evaluation and the serving encoder so that every path encodes a brief identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from contract.brief import Brief
from knowledge.colors import hex_to_oklab
from knowledge.lexicon import normalize_keywords
from knowledge.taxonomy import Audience, Locale, PackageFormat, ProductCategory, Tone
from model.tokenization import token_ids

MAX_COLORS = 3  # brand colours and reference-image colours each fill up to three slots
_COLOR_SLOT = 4  # OKLab L, a, b and a presence flag
# OKLab a/b span roughly +-0.3; scaling brings them to the range of the one-hot features.
_AB_SCALE = 3.0

_BLOCKS: list[tuple[str, int]] = [
    ("product_category", len(ProductCategory)),
    ("audience", len(Audience)),
    ("tone", len(Tone)),
    ("package_format", len(PackageFormat)),
    ("locale_zh", 1),
    ("has_keywords", 1),
    ("brand_colors", MAX_COLORS * _COLOR_SLOT),
    ("reference_colors", MAX_COLORS * _COLOR_SLOT),
]
FEATURE_DIM = sum(size for _, size in _BLOCKS)
_OFFSETS: dict[str, int] = {}
_offset = 0
for _name, _size in _BLOCKS:
    _OFFSETS[_name] = _offset
    _offset += _size

_INDEX = {
    "product_category": {m.value: i for i, m in enumerate(ProductCategory)},
    "audience": {m.value: i for i, m in enumerate(Audience)},
    "tone": {m.value: i for i, m in enumerate(Tone)},
    "package_format": {m.value: i for i, m in enumerate(PackageFormat)},
}


def feature_slice(block: str) -> slice:
    size = dict(_BLOCKS)[block]
    return slice(_OFFSETS[block], _OFFSETS[block] + size)


@dataclass
class EncodedBrief:
    """Everything the recommender needs for one brief; small and picklable (it crosses Ray processes)."""

    token_ids: list[int]
    features: np.ndarray  # float32 (FEATURE_DIM,)
    text: str  # what MiniLM reads (keywords, Chinese normalised to English design terms)
    cues: list[str] = field(default_factory=list)  # brief terms the lexicon recognised, for rationales
    reference_colors: list[str] = field(default_factory=list)


def brief_text(keywords: str, normalize_chinese: bool = True) -> tuple[str, list[str]]:
    """Keywords as MiniLM should read them, and the recognised cue terms.

    MiniLM's vocabulary is English; Chinese design terms are mapped to their English equivalents through
    the bilingual lexicon (measured against raw Chinese input in `model.evaluate`).
    """
    if not normalize_chinese:
        return keywords, []
    text, entries = normalize_keywords(keywords)[:2]
    return text, [e.en for e in entries]


def _put_colors(vector: np.ndarray, block: str, colors: list[str]) -> None:
    start = _OFFSETS[block]
    for slot, hex_color in enumerate(colors[:MAX_COLORS]):
        lightness, a, b = hex_to_oklab(hex_color)
        base = start + slot * _COLOR_SLOT
        vector[base : base + _COLOR_SLOT] = (lightness, a * _AB_SCALE, b * _AB_SCALE, 1.0)


def structured_features(brief: Brief, reference_colors: list[str] | tuple[str, ...] = ()) -> np.ndarray:
    vector = np.zeros(FEATURE_DIM, dtype=np.float32)
    vector[_OFFSETS["product_category"] + _INDEX["product_category"][brief.product_category]] = 1.0
    for audience in brief.audience:
        vector[_OFFSETS["audience"] + _INDEX["audience"][audience]] = 1.0
    for tone in brief.tone:
        vector[_OFFSETS["tone"] + _INDEX["tone"][tone]] = 1.0
    vector[_OFFSETS["package_format"] + _INDEX["package_format"][brief.package_format]] = 1.0
    vector[_OFFSETS["locale_zh"]] = float(brief.locale == Locale.zh)
    vector[_OFFSETS["has_keywords"]] = float(bool(brief.keywords.strip()))
    _put_colors(vector, "brand_colors", list(brief.brand_colors))
    _put_colors(vector, "reference_colors", list(reference_colors))
    return vector


def encode_brief(
    brief: Brief, reference_colors: list[str] | tuple[str, ...] = (), normalize_chinese: bool = True
) -> EncodedBrief:
    text, cues = brief_text(brief.keywords, normalize_chinese)
    return EncodedBrief(
        token_ids=token_ids(text),
        features=structured_features(brief, reference_colors),
        text=text,
        cues=cues,
        reference_colors=list(reference_colors)[:MAX_COLORS],
    )
