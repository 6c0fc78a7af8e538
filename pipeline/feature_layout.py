"""Layout of the structured-feature vector (which slot means what); no dependencies beyond the taxonomy and the
frozen brief attributes (the colour cues' order)."""

from __future__ import annotations

from knowledge.attributes import load_attributes
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
    # What the keywords name by the knowledge base's own reading, alike in Chinese and English: the lexicon's tone
    # cues (`knowledge.lexicon.cue_entries`) and the colour cues (`knowledge.attributes.find_cues`, in
    # brief_attributes.json order). The teacher scores with exactly these; read from the text alone, the network
    # learnt them loosely and differently per language (issue 15: its top-5 palettes shared half the teacher's).
    # The lexicon's style cues are left to the text: as inputs they split the styles of zh/en pairs more often
    # (docs/model.md "The network reads the cues").
    ("tone_cues", len(Tone)),
    ("colour_cues", len(load_attributes().cues)),
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
    "colour_cue": {cue: i for i, cue in enumerate(load_attributes().cues)},
}


def feature_slice(block: str) -> slice:
    size = dict(_BLOCKS)[block]
    return slice(OFFSETS[block], OFFSETS[block] + size)
