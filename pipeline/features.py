"""Briefs -> model inputs: the text MiniLM reads and the fixed-size structured-feature vector.

Shared by training, evaluation, the serving encoder and the baseline server so that every path encodes a brief
identically. `encode_batch` is the request path's entry: a list of briefs in, padded arrays out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from contract.brief import Brief
from knowledge.attributes import find_cue_terms, find_cues
from knowledge.colors import hex_to_oklab
from knowledge.lexicon import LexiconEntry, cue_entries, normalize_keywords
from knowledge.taxonomy import Locale
from pipeline.feature_layout import AB_SCALE, COLOR_SLOT, INDEX, MAX_COLORS, OFFSETS
from pipeline.feature_layout import FEATURE_DIM
from pipeline.keyword_colours import KeywordColour, find_keyword_colours, keyword_colours_batch
from pipeline.reference_image import ReferenceImageError, reference_colors as image_colors
from pipeline.tokenization import pad_batch, token_ids, tokenizer


@dataclass
class EncodedBrief:
    """Everything the recommender needs for one brief; small and picklable (it crosses Ray processes)."""

    token_ids: list[int]
    features: np.ndarray  # float32 (FEATURE_DIM,)
    text: str  # what MiniLM reads (keywords, Chinese normalised to English design terms)
    cues: list[str] = field(default_factory=list)  # brief terms the lexicon recognised, for rationales
    reference_colors: list[str] = field(default_factory=list)
    # Colour cues the raw keywords name (knowledge.attributes.find_cue_terms), read once here so that
    # post-processing can hold every scheme to them: the cue ids, and the term that first named each.
    cue_ids: list[str] = field(default_factory=list)
    cue_terms: list[str] = field(default_factory=list)
    # Free keywords that evoke a colour (pipeline/keyword_colours.py), for post-processing and rationales.
    keyword_colours: list[KeywordColour] = field(default_factory=list)


def colour_cues(keywords: str) -> tuple[list[str], list[str]]:
    """The colour cue ids the keywords name, in order of first mention, and for each the term that first named
    it (what a rationale quotes)."""
    first: dict[str, str] = {}
    for cue, term in find_cue_terms(keywords):
        first.setdefault(cue, term)
    return list(first), list(first.values())


def brief_text(keywords: str, normalize_chinese: bool = True) -> tuple[str, list[str]]:
    """Keywords as MiniLM should read them, and the recognised cue terms.

    MiniLM's vocabulary is English; Chinese design terms are mapped to their English equivalents through
    the bilingual lexicon, and the Chinese it does not know is glossed from CC-CEDICT (`knowledge.gloss`) rather
    than dropped (measured against raw Chinese input by `python -m evaluation`). The cue terms are the lexicon's.
    """
    text, entries = _normalised(keywords, normalize_chinese)
    return text, [e.en for e in entries]


def _normalised(keywords: str, normalize_chinese: bool) -> tuple[str, list]:
    if not normalize_chinese:
        return keywords, []
    text, entries = normalize_keywords(keywords)[:2]
    return text, entries


def _put_colors(vector: np.ndarray, block: str, colors: list[str]) -> None:
    start = OFFSETS[block]
    for slot, hex_color in enumerate(colors[:MAX_COLORS]):
        lightness, a, b = hex_to_oklab(hex_color)
        base = start + slot * COLOR_SLOT
        vector[base : base + COLOR_SLOT] = (lightness, a * AB_SCALE, b * AB_SCALE, 1.0)


def structured_features(brief: Brief, reference_colors: list[str] | tuple[str, ...] = (),
                        entries: list[LexiconEntry] | None = None, colour_cue_ids: list[str] | None = None
                        ) -> np.ndarray:
    """`entries` (`knowledge.lexicon.cue_entries`) and `colour_cue_ids` (`find_cues`) of the brief's keywords where
    the caller has them already; read from the keywords otherwise."""
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
    for entry in cue_entries(brief.keywords) if entries is None else entries:
        for tone in entry.tones:
            vector[OFFSETS["tone_cues"] + INDEX["tone"][tone]] = 1.0
    for cue in find_cues(brief.keywords) if colour_cue_ids is None else colour_cue_ids:
        vector[OFFSETS["colour_cues"] + INDEX["colour_cue"][cue]] = 1.0
    return vector


def encode_brief(
    brief: Brief, reference_colors: list[str] | tuple[str, ...] = (), normalize_chinese: bool = True
) -> EncodedBrief:
    text, entries = _normalised(brief.keywords, normalize_chinese)
    cue_ids, cue_terms = colour_cues(brief.keywords)
    return EncodedBrief(
        token_ids=token_ids(text),
        features=structured_features(
            brief, reference_colors, cue_entries(brief.keywords, entries if normalize_chinese else None), cue_ids),
        text=text,
        cues=[e.en for e in entries],
        reference_colors=list(reference_colors)[:MAX_COLORS],
        cue_ids=cue_ids,
        cue_terms=cue_terms,
        keyword_colours=find_keyword_colours(brief.keywords),
    )


@dataclass(frozen=True)
class BriefRejection:
    """A brief that passed the schema but cannot be used; answered 422 naming the field.

    Returned rather than raised: a rejection is an expected outcome, and a plain value crosses the Ray
    process boundary unchanged, where a custom exception would arrive wrapped in RayTaskError.
    """

    field: str
    message: str


@dataclass
class EncodedBatch:
    """A batch of briefs as the model reads them, plus what post-processing needs per brief.

    Rows stay aligned with the briefs sent: a rejected brief keeps a placeholder row (it is rare, and
    alignment is worth more than the wasted row) and is listed in `rejected`.
    """

    input_ids: np.ndarray  # (B, S) int64, right-padded
    attention_mask: np.ndarray  # (B, S) int64
    features: np.ndarray  # (B, FEATURE_DIM) float32
    texts: list[str]
    cues: list[list[str]]
    reference_colors: list[list[str]]
    rejected: dict[int, BriefRejection] = field(default_factory=dict)
    # The Chinese form of each brief's first cue terms (zh rationales), kept from the one lexicon pass;
    # None where not known (post-processing then runs the lexicon itself).
    cues_zh: list[list[str] | None] | None = None
    # Colour cues of each brief's raw keywords (`colour_cues`); None where not known (post-processing then
    # reads them itself).
    cue_ids: list[list[str]] | None = None
    cue_terms: list[list[str]] | None = None
    # Per brief: the free keywords that evoke a colour, with that colour and its OKLCH region; looked up once here
    # (the CPU encoder deployment) so post-processing only reads it.
    keyword_colours: list[list[KeywordColour]] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    @classmethod
    def from_rows(cls, rows: list[EncodedBrief], pad_to_multiple: int = 1) -> EncodedBatch:
        """Briefs encoded one at a time (evaluation, per-brief callers) as one batch."""
        input_ids, attention_mask = pad_batch([r.token_ids for r in rows], pad_to_multiple)
        return cls(input_ids, attention_mask, np.stack([r.features for r in rows]), [r.text for r in rows],
                   [list(r.cues) for r in rows], [list(r.reference_colors) for r in rows],
                   cue_ids=[list(r.cue_ids) for r in rows], cue_terms=[list(r.cue_terms) for r in rows],
                   keyword_colours=[list(r.keyword_colours) for r in rows])

    @classmethod
    def concat(cls, parts: list[EncodedBatch]) -> EncodedBatch:
        """Several batches as one, rows in order (token ids re-padded to the longest); an optional per-brief
        field is kept only where every part has it (else post-processing recomputes it, as for None)."""
        if len(parts) == 1:
            return parts[0]
        longest = max(part.input_ids.shape[1] for part in parts)
        ids = np.concatenate([np.pad(p.input_ids, ((0, 0), (0, longest - p.input_ids.shape[1]))) for p in parts])
        mask = np.concatenate([np.pad(p.attention_mask, ((0, 0), (0, longest - p.attention_mask.shape[1])))
                               for p in parts])
        rejected, offset = {}, 0
        for part in parts:
            rejected.update({offset + i: r for i, r in part.rejected.items()})
            offset += len(part)

        def joined(name: str) -> list | None:
            lists = [getattr(part, name) for part in parts]
            return None if any(x is None for x in lists) else [row for x in lists for row in x]

        return cls(ids, mask, np.concatenate([p.features for p in parts]), joined("texts"), joined("cues"),
                   joined("reference_colors"), rejected, joined("cues_zh"), joined("cue_ids"), joined("cue_terms"),
                   joined("keyword_colours"))

    def rows(self, start: int, stop: int) -> EncodedBatch:
        """Briefs start..stop-1 as a batch of their own (a pass split between processes); `concat` joins them."""
        if (start, stop) == (0, len(self)):
            return self

        def part(values: list | None) -> list | None:
            return None if values is None else values[start:stop]

        return EncodedBatch(self.input_ids[start:stop], self.attention_mask[start:stop], self.features[start:stop],
                            self.texts[start:stop], self.cues[start:stop], self.reference_colors[start:stop],
                            {i - start: r for i, r in self.rejected.items() if start <= i < stop},
                            part(self.cues_zh), part(self.cue_ids), part(self.cue_terms), part(self.keyword_colours))

    def row(self, i: int) -> EncodedBrief:
        """One brief's encoding (per-brief callers: tests, previews)."""
        ids = self.input_ids[i][self.attention_mask[i] > 0]
        return EncodedBrief(token_ids=[int(t) for t in ids], features=self.features[i], text=self.texts[i],
                            cues=self.cues[i], reference_colors=self.reference_colors[i],
                            cue_ids=self.cue_ids[i] if self.cue_ids is not None else [],
                            cue_terms=self.cue_terms[i] if self.cue_terms is not None else [],
                            keyword_colours=list(self.keyword_colours[i]) if self.keyword_colours else [])


def warm() -> None:
    """Load every table encoding reads (tokenizer, lexicon and gloss, cue terms and their blockers, keyword
    colours) by encoding two made-up briefs, so that a new encoder replica's first live micro-batch does not pay
    for it (~70 ms on one core of the 2-core machine)."""
    encode_batch([Brief(product_category="snacks", package_format="bag", keywords="ocean breeze, gold, red tape"),
                  Brief(product_category="snacks", package_format="bag", keywords="清爽 夏日 粉丝专属", locale="zh")],
                 max_image_bytes=1)


def encode_batch(briefs: list[Brief], max_image_bytes: int, pad_to_multiple: int = 1,
                 normalize_chinese: bool = True) -> EncodedBatch:
    """Briefs -> padded model inputs in one pass: one tokenizer call for the batch (the Rust tokenizer
    parallelises it), features into one preallocated array, reference images decoded only where sent."""
    texts, cues, cues_zh, colors, cue_ids, cue_terms = [], [], [], [], [], []
    rejected: dict[int, BriefRejection] = {}
    features = np.empty((len(briefs), FEATURE_DIM), dtype=np.float32)
    for i, brief in enumerate(briefs):
        text, entries = _normalised(brief.keywords, normalize_chinese)
        found: list[str] = []
        if brief.reference_image:
            try:
                found = image_colors(brief.reference_image, max_image_bytes)
            except ReferenceImageError as exc:
                rejected[i] = BriefRejection("reference_image", str(exc))
        texts.append(text)
        cues.append([e.en for e in entries])
        cues_zh.append([e.zh for e in entries[:3]] if normalize_chinese else None)
        colors.append(found[:MAX_COLORS])
        ids, terms = colour_cues(brief.keywords)
        cue_ids.append(ids)
        cue_terms.append(terms)
        features[i] = structured_features(
            brief, found, cue_entries(brief.keywords, entries if normalize_chinese else None), ids)
    sequences = [e.ids for e in tokenizer().encode_batch(texts)] if texts else []
    input_ids, attention_mask = pad_batch(sequences, pad_to_multiple) if sequences else (
        np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64))
    return EncodedBatch(input_ids, attention_mask, features, texts, cues, colors, rejected, cues_zh, cue_ids, cue_terms,
                        keyword_colours_batch([brief.keywords for brief in briefs]))
