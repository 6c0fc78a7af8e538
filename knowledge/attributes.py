"""Measurable definitions of what a brief asks of each scheme (``data/brief_attributes.json``).

For every tone and style: a palette rule in OKLCH and the type it accepts (heading and body); for every keyword
colour cue ("ocean", "gold", 春节 ...): the colours a scheme must contain. The rules are spelled out in
docs/teacher.md ("Measurable definitions"); `evaluation.fit` grades schemes against them, and later the teacher and
the post-processing read the same objects.

Tone and style palette ranges are the taxonomy's (``taxonomy.json``: l, c, hues, dark_background), so the soft
`oklch_fit` of the teacher and these hard rules share one set of numbers; ``brief_attributes.json`` overrides a key
only where the hard rule needs it, and says why.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from knowledge.labels import profile
from knowledge.taxonomy import Style, Tone

ATTRIBUTES_PATH = Path(__file__).parent / "data" / "brief_attributes.json"
# Words that hold a cue term but do not mean its colour (粉丝 "fans" holds 粉 pink, "red tape" holds red), built from
# CC-CEDICT and WordNet by knowledge/tools/build_cue_blockers.py: a cue term inside one found in the text is dropped.
CUE_BLOCKERS_PATH = Path(__file__).parent / "data" / "cue_blockers.json"
SCRIPT_POLICIES = ("yes", "secondary", "no")
DEFAULT_DARK_BACKGROUND = 0.3  # what oklch_fit assumes for a profile without one (the styles)


@dataclass(frozen=True, slots=True)
class Box:
    """An OKLCH region: lightness and chroma intervals, and hue intervals in degrees (None = any hue)."""

    l: tuple[float, float]
    c: tuple[float, float]
    hues: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True, slots=True)
class PaletteRule:
    """What a palette must do to meet one attribute.

    ``ranges``/``share``: at least ``share`` of the counted colours (non-text, not a brand colour) lie in ``ranges``
    (hue judged only for chromatic colours; a plain white or black ground counts as inside where
    ``dark_background`` allows it). ``primary_inside``: the primary (unless a brand colour) must be one of them.
    ``anchors``: each group needs one visible colour (any non-text role, brand
    colours included) inside one of its boxes. ``max_hue_spread``: the counted chromatic colours fit in an arc of
    this many degrees.
    """

    ranges: Box | None
    share: float
    dark_background: float
    anchors: tuple[tuple[Box, ...], ...] = ()
    max_hue_spread: float | None = None
    primary_inside: bool = False


@dataclass(frozen=True, slots=True)
class FontRule:
    heading_categories: frozenset[str]
    also_if_tags: tuple[str, ...]  # a face of another category still counts when tagged this strongly
    avoid_tags: tuple[str, ...]  # /Expressive/ tags that make a face wrong here
    script: str  # yes | secondary | no: whether a /Script/* face may head the scheme
    body_categories: frozenset[str]


@dataclass(frozen=True, slots=True)
class Attribute:
    kind: str  # tone | style | cue
    id: str
    palette: PaletteRule | None
    fonts: FontRule | None
    why: str


@dataclass(frozen=True, slots=True)
class Rules:
    exempt_roles: tuple[str, ...]
    chromatic_chroma: float
    default_share: float
    ground_max_chroma: float
    ground_light_min_l: float
    ground_dark_max_l: float
    light_if_dark_background_at_most: float
    dark_if_dark_background_at_least: float
    tag_threshold: float
    script_threshold: float
    body_never: frozenset[str]
    min_text_contrast: float
    min_delta_e2000: float
    parity_style_jaccard: float  # a zh brief and its en translation: scheme style sets at least this Jaccard
    parity_palette_top5: float  # and this share of the model's top-5 palettes in common


@dataclass(frozen=True)
class BriefAttributes:
    rules: Rules
    boxes: dict[str, Box]
    tones: dict[str, Attribute]
    styles: dict[str, Attribute]
    cues: dict[str, Attribute]
    cue_terms: dict[str, str | None]  # every trigger phrase / term (casefolded) -> cue id, None for neutral phrases
    frozen: str


def _box(raw: dict[str, Any]) -> Box:
    hues = raw.get("h", raw.get("hues"))
    return Box(
        l=tuple(raw.get("l", (0.0, 1.0))),
        c=tuple(raw.get("c", (0.0, 0.37))),
        hues=tuple(tuple(h) for h in hues) if hues else None,
    )


def _fonts(raw: dict[str, Any]) -> FontRule:
    heading, body = raw["heading"], raw["body"]
    if heading["script"] not in SCRIPT_POLICIES:
        raise ValueError(f"script policy {heading['script']!r} not in {SCRIPT_POLICIES}")
    return FontRule(
        heading_categories=frozenset(heading["categories"]),
        also_if_tags=tuple(heading.get("also_if_tags", ())),
        avoid_tags=tuple(heading.get("avoid_tags", ())),
        script=heading["script"],
        body_categories=frozenset(body["categories"]),
    )


def _profile_rule(vocabulary: str, id_: str, override: dict[str, Any], boxes: dict[str, Box],
                  rules: Rules) -> PaletteRule:
    """The taxonomy's OKLCH profile as a hard rule, with the keys ``override`` replaces."""
    entry = profile(vocabulary, id_)
    spec = {**entry["oklch"], "dark_background": entry.get("dark_background", DEFAULT_DARK_BACKGROUND)}
    spec |= {k: v for k, v in override.items() if k in ("l", "c", "hues", "dark_background")}
    return PaletteRule(
        ranges=_box(spec),
        share=float(override.get("share", rules.default_share)),
        dark_background=float(spec["dark_background"]),
        anchors=tuple(tuple(boxes[name] for name in group) for group in override.get("anchors", ())),
        max_hue_spread=override.get("max_hue_spread"),
        primary_inside=bool(override.get("primary_inside", False)),
    )


@cache
def load_attributes() -> BriefAttributes:
    raw = json.loads(ATTRIBUTES_PATH.read_text(encoding="utf-8"))
    r, ground = raw["rules"], raw["rules"]["ground"]
    rules = Rules(
        exempt_roles=tuple(r["exempt_roles"]),
        chromatic_chroma=float(r["chromatic_chroma"]),
        default_share=float(r["default_share"]),
        ground_max_chroma=float(ground["max_chroma"]),
        ground_light_min_l=float(ground["light_min_l"]),
        ground_dark_max_l=float(ground["dark_max_l"]),
        light_if_dark_background_at_most=float(ground["light_if_dark_background_at_most"]),
        dark_if_dark_background_at_least=float(ground["dark_if_dark_background_at_least"]),
        tag_threshold=float(r["tag_threshold"]),
        script_threshold=float(r["script_threshold"]),
        body_never=frozenset(r["body_never"]),
        min_text_contrast=float(r["min_text_contrast"]),
        min_delta_e2000=float(r["min_delta_e2000"]),
        parity_style_jaccard=float(r["parity_style_jaccard"]),
        parity_palette_top5=float(r["parity_palette_top5"]),
    )
    boxes = {name: _box(b) for name, b in raw["boxes"].items()}

    tones = {}
    for tone in Tone:
        entry = raw["tones"][tone.value]
        rule = _profile_rule("tone", tone.value, entry["palette"], boxes, rules)
        tones[tone.value] = Attribute("tone", tone.value, rule, _fonts(entry["fonts"]), entry["why"])
    styles = {}
    for style in Style:
        entry = raw["styles"][style.value]
        styles[style.value] = Attribute("style", style.value,
                                        _profile_rule("style", style.value, entry.get("palette", {}), boxes, rules),
                                        _fonts(entry["fonts"]), entry["why"])

    cues, terms = {}, {}
    for cue_id, entry in raw["cues"].items():
        if "as_tone" in entry:  # a keyword that names a whole-palette quality is graded as that tone
            palette = tones[entry["as_tone"]].palette
        elif "palette" in entry:
            spec = entry["palette"]
            palette = PaletteRule(ranges=_box(spec), share=float(spec.get("share", rules.default_share)),
                                  dark_background=float(spec.get("dark_background", DEFAULT_DARK_BACKGROUND)))
        else:
            palette = PaletteRule(ranges=None, share=0.0, dark_background=DEFAULT_DARK_BACKGROUND,
                                  anchors=tuple(tuple(boxes[name] for name in group) for group in entry["need"]))
        cues[cue_id] = Attribute("cue", cue_id, palette, None, entry["why"])
        for term in (*entry["en"], *entry["zh"]):
            key = _fold(term)
            if terms.get(key, cue_id) != cue_id:
                raise ValueError(f"cue term {term!r} belongs to {terms[key]!r} and {cue_id!r}")
            terms[key] = cue_id
    for term in (*raw["neutral_phrases"]["en"], *raw["neutral_phrases"]["zh"]):
        if _fold(term) in terms:
            raise ValueError(f"neutral phrase {term!r} is also a cue term")
        terms[_fold(term)] = None
    return BriefAttributes(rules, boxes, tones, styles, cues, terms, raw["_meta"]["frozen"])


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _bounded(text: str, start: int, end: int) -> bool:
    return (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum())


@cache
def load_cue_blockers() -> dict[str, tuple[str, ...]]:
    """The blockers as written in cue_blockers.json, by language ("en", "zh"); read once for every reader."""
    raw = json.loads(CUE_BLOCKERS_PATH.read_text(encoding="utf-8"))
    return {language: tuple(raw[language]) for language in ("en", "zh")}


@cache
def cue_blockers() -> dict[str, tuple[tuple[str, int], ...]]:
    """cue term -> the blockers that hold it, each with the term's offset inside it (on word boundaries for Latin
    text), so a found term looks only at the blockers that could surround it."""
    raw = load_cue_blockers()
    index: dict[str, list[tuple[str, int]]] = {}
    for term, cue in load_attributes().cue_terms.items():
        if cue is None:
            continue
        for blocker in raw["zh" if not term.isascii() else "en"]:
            blocker = _fold(blocker)
            at = blocker.find(term)
            while at >= 0:
                if not term.isascii() or _bounded(blocker, at, at + len(term)):
                    index.setdefault(term, []).append((blocker, at))
                at = blocker.find(term, at + 1)
    return {term: tuple(found) for term, found in index.items()}


@cache
def _terms_by_first_character() -> dict[str, tuple[tuple[str, str | None], ...]]:
    """The cue terms (and neutral phrases) grouped by their first character, in table order within each."""
    groups: dict[str, list[tuple[str, str | None]]] = {}
    for term, cue in load_attributes().cue_terms.items():
        groups.setdefault(term[:1], []).append((term, cue))
    return {first: tuple(terms) for first, terms in groups.items()}


def _spans(text: str) -> list[tuple[int, int, str | None]]:
    """Every occurrence of every term, and of every blocker around one (as a span naming no cue); Latin text only
    on word boundaries ("sea" not in "seasonal"). Only the terms that begin with a character of the text are
    searched (half the encoder's time on a text-only brief went on ~430 `find` calls that found nothing);
    the spans come in another order than a search of every term, which no reader depends on (they are sorted)."""
    spans = []
    blockers = cue_blockers()
    by_first = _terms_by_first_character()
    for term, cue in (pair for first in dict.fromkeys(text) for pair in by_first.get(first, ())):
        start = text.find(term)
        while start >= 0:
            end = start + len(term)
            if not term.isascii() or _bounded(text, start, end):
                spans.append((start, end, cue))
                for blocker, at in blockers.get(term, ()):
                    b_start = start - at
                    b_end = b_start + len(blocker)
                    if b_start >= 0 and text.startswith(blocker, b_start) and (
                            not blocker.isascii() or _bounded(text, b_start, b_end)):
                        spans.append((b_start, b_end, None))
            start = text.find(term, start + 1)
    return spans


def find_cues(keywords: str) -> list[str]:
    """Colour cue ids the keywords name, in order of first mention, read directly from the text in English and
    Chinese alike (independent of the runtime lexicon that normalises Chinese for the model).

    A term inside a longer term is dropped ("black" in "black tea", 红 in 网红), but overlapping terms both count:
    中秋节日礼盒 names 中秋节 and 节日礼盒 (greedy longest match would lose the second).
    """
    return list(dict.fromkeys(cue for cue, _ in find_cue_terms(keywords)))


def find_cue_terms(keywords: str) -> list[tuple[str, str]]:
    """(cue id, term as found, casefolded) for every cue term the keywords name, in order of mention, by the same
    reading as `find_cues` (a rationale quotes the terms)."""
    text = _fold(keywords)
    spans = _spans(text)
    found = []
    for s, e, cue in sorted(spans):
        inside = any(s2 <= s and e <= e2 and (s2, e2) != (s, e) for s2, e2, _ in spans)
        if cue is not None and not inside:
            found.append((cue, text[s:e]))
    return found
