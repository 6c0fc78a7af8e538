"""Brief -> model inputs: the text MiniLM reads and the fixed-size structured-feature vector.

Shared by training, evaluation and the serving encoder so that every path encodes a brief identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from contract.brief import Brief
from knowledge.colors import hex_to_oklab
from knowledge.lexicon import normalize_keywords
from knowledge.taxonomy import Locale
from model.feature_layout import AB_SCALE, COLOR_SLOT, INDEX, MAX_COLORS, OFFSETS
from model.feature_layout import FEATURE_DIM, feature_slice  # noqa: F401 - re-exported for callers
from model.tokenization import token_ids

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
    start = OFFSETS[block]
    for slot, hex_color in enumerate(colors[:MAX_COLORS]):
        lightness, a, b = hex_to_oklab(hex_color)
        base = start + slot * COLOR_SLOT
        vector[base : base + COLOR_SLOT] = (lightness, a * AB_SCALE, b * AB_SCALE, 1.0)


def structured_features(brief: Brief, reference_colors: list[str] | tuple[str, ...] = ()) -> np.ndarray:
    vector = np.zeros(FEATURE_DIM, dtype=np.float32)
    vector[OFFSETS["product_category"] + INDEX["product_category"][brief.product_category]] = 1.0
    for audience in brief.audience:
        vector[OFFSETS["audience"] + INDEX["audience"][audience]] = 1.0
    for tone in brief.tone:
        vector[OFFSETS["tone"] + INDEX["tone"][tone]] = 1.0
    vector[OFFSETS["package_format"] + INDEX["package_format"][brief.package_format]] = 1.0
    vector[OFFSETS["locale_zh"]] = float(brief.locale == Locale.zh)
    vector[OFFSETS["has_keywords"]] = float(bool(brief.keywords.strip()))
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
