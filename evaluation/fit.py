"""Does each scheme give the brief what it asked for? Grades answers against the frozen definitions
(`knowledge.attributes`, written out in docs/teacher.md "Measurable definitions").

Per scheme and per named attribute (each tone the brief chose, each colour cue its keywords name): met or not.
Per scheme: type suits its style (heading and body), heading face not repeated within the answer, text contrast.
Per pair of schemes in an answer: visibly different. Everything is computed on arrays over all schemes at once;
Python loops run over attributes and answers only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from knowledge.attributes import Attribute, Box, FontRule, PaletteRule, Rules, find_cues, load_attributes
from knowledge.design_tables import ROLE_ORDER, palette_role_lab
from knowledge.colors import (
    delta_e2000_lab, hexes_to_rgb8, normalize_hex, rgb8_to_lab_d65, rgb8_to_oklab, rgb8_to_xyz_d65,
)
from knowledge.fonts import expressive_tag_names, load_font_pairs, load_fonts, script_tags
from knowledge.taxonomy import PaletteRole, Style, Tone

ROLES = [r.value for r in PaletteRole]  # background, primary, secondary, accent, highlight, text
BACKGROUND, PRIMARY, ACCENT, TEXT = (ROLES.index(r) for r in ("background", "primary", "accent", "text"))
TONES = [t.value for t in Tone]
STYLES = [s.value for s in Style]
TAGS = expressive_tag_names()


# --- palettes as arrays -----------------------------------------------------------------------------------------


def oklch(oklab: np.ndarray) -> np.ndarray:
    """(..., 3) OKLab -> (..., 3) OKLCH with hue in degrees 0-360."""
    chroma = np.hypot(oklab[..., 1], oklab[..., 2])
    hue = np.degrees(np.arctan2(oklab[..., 2], oklab[..., 1])) % 360.0
    return np.stack([oklab[..., 0], chroma, hue], axis=-1)


def in_box(box: Box, lch: np.ndarray, hue_needs_chroma: float | None = None) -> np.ndarray:
    """(..., 3) OKLCH inside the box. With `hue_needs_chroma`, colours below that chroma pass the hue test (a grey
    has no hue to be wrong about)."""
    light, chroma, hue = lch[..., 0], lch[..., 1], lch[..., 2]
    ok = (light >= box.l[0]) & (light <= box.l[1]) & (chroma >= box.c[0]) & (chroma <= box.c[1])
    if box.hues:
        in_hue = np.zeros(hue.shape, bool)
        for lo, hi in box.hues:
            in_hue |= (hue >= lo) & (hue <= hi)
        if hue_needs_chroma is not None:
            in_hue |= chroma < hue_needs_chroma
        ok &= in_hue
    return ok


def hue_spread(lch: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(S,) smallest arc in degrees holding every masked hue (0 when fewer than two)."""
    hue = lch[..., 2]
    offsets = (hue[:, None, :] - hue[:, :, None]) % 360.0  # [s, ref j, k]: hue k measured from hue j
    arcs = np.where(mask[:, None, :], offsets, 0.0).max(axis=2)
    arcs = np.where(mask, arcs, np.inf).min(axis=1)
    return np.where(mask.sum(axis=1) >= 2, arcs, 0.0)


def palette_met(rule: PaletteRule, lch: np.ndarray, present: np.ndarray, brand: np.ndarray,
                rules: Rules | None = None) -> np.ndarray:
    """(S,) whether each palette (S, roles, OKLCH) meets the rule. `present` marks the roles a palette has, `brand`
    the colours a brief's brand colour fixed (exempt from the share: the client chose them)."""
    rules = rules or load_attributes().rules
    not_text = np.array([r not in rules.exempt_roles for r in ROLES])
    visible = present & not_text
    counted = visible & ~brand
    ok = np.ones(len(lch), bool)
    if rule.ranges is not None and rule.share > 0:
        inside = in_box(rule.ranges, lch, hue_needs_chroma=rules.chromatic_chroma)
        bg = lch[:, BACKGROUND]
        neutral = (bg[:, 1] <= rules.ground_max_chroma) & (bg[:, 1] <= rule.ranges.c[1])
        light_ground = (bg[:, 0] >= rules.ground_light_min_l) & (
            rule.dark_background <= rules.light_if_dark_background_at_most)
        dark_ground = (bg[:, 0] <= rules.ground_dark_max_l) & (
            rule.dark_background >= rules.dark_if_dark_background_at_least)
        # A plain paper-white or black ground suits any tone that allows it: what sits on it carries the tone.
        inside[:, BACKGROUND] |= neutral & (light_ground | dark_ground)
        n = counted.sum(axis=1)
        share = (inside & counted).sum(axis=1) / np.maximum(n, 1)
        ok &= (share >= rule.share - 1e-9) | (n == 0)
        if rule.primary_inside:  # the main colour itself, unless the brand fixed it
            ok &= inside[:, PRIMARY] | ~counted[:, PRIMARY]
    if rule.max_hue_spread is not None:
        chromatic = counted & (lch[..., 1] >= rules.chromatic_chroma)
        ok &= hue_spread(lch, chromatic) <= rule.max_hue_spread
    for group in rule.anchors:
        hit = np.zeros(lch.shape[:2], bool)
        for box in group:
            hit |= in_box(box, lch)
        ok &= (hit & visible).any(axis=1)
    return ok


# --- answers as arrays ------------------------------------------------------------------------------------------


@dataclass
class SchemeTable:
    """Every scheme of a list of answers, flat, answer by answer in rank order."""

    answer: np.ndarray  # (S,) index of the answer (brief) it belongs to
    rank: np.ndarray  # (S,) position in its answer
    lch: np.ndarray  # (S, 6, 3) OKLCH by role (ROLES order)
    lab: np.ndarray  # (S, 6, 3) CIELAB D65 (the space of deltaE 2000)
    luminance: np.ndarray  # (S, 6) WCAG relative luminance
    present: np.ndarray  # (S, 6) bool
    brand: np.ndarray  # (S, 6) bool: colour is one of the brief's brand colours
    style: np.ndarray  # (S,) index into STYLES
    heading: list[str]
    heading_category: np.ndarray  # (S,) str
    heading_tags: np.ndarray  # (S, len(TAGS)) 0-1
    heading_script: np.ndarray  # (S,) bool
    body_category: np.ndarray
    body_script: np.ndarray


def _script(family: str, threshold: float) -> bool:
    return max(script_tags().get(family, {}).values(), default=0.0) >= threshold


def _type_columns(heading: list[str], body: list[str]) -> dict:
    """The SchemeTable fields about type, for heading and body family names."""
    rules = load_attributes().rules
    fonts = load_fonts()
    tag_index = {t: j for j, t in enumerate(TAGS)}
    heading_tags = np.zeros((len(heading), len(TAGS)))
    for i, family in enumerate(heading):
        for tag, w in fonts[family].tags.items():
            heading_tags[i, tag_index[tag]] = w
    return dict(
        heading=list(heading),
        heading_category=np.array([fonts[f].category for f in heading], dtype=object),
        heading_tags=heading_tags,
        heading_script=np.array([_script(f, rules.script_threshold) for f in heading], dtype=bool),
        body_category=np.array([fonts[f].category for f in body], dtype=object),
        body_script=np.array([_script(f, rules.script_threshold) for f in body], dtype=bool),
    )


def scheme_table(briefs, answers: list[list[dict] | None]) -> SchemeTable:
    rows = [(b, k, s) for b, schemes in enumerate(answers) if schemes for k, s in enumerate(schemes)]
    n = len(rows)
    hexes = ["#000000"] * (n * len(ROLES))
    present = np.zeros((n, len(ROLES)), bool)
    brand = np.zeros((n, len(ROLES)), bool)
    for i, (b, _, scheme) in enumerate(rows):
        brand_set = {normalize_hex(c) for c in briefs[b].brand_colors}
        for color in scheme["palette"]["colors"]:
            j = ROLES.index(color["role"])
            hexes[i * len(ROLES) + j] = normalize_hex(color["hex"])
            present[i, j] = True
            brand[i, j] = hexes[i * len(ROLES) + j] in brand_set
    rgb = hexes_to_rgb8(hexes).reshape(n, len(ROLES), 3)
    return SchemeTable(
        answer=np.array([b for b, _, _ in rows], dtype=np.int64),
        rank=np.array([k for _, k, _ in rows], dtype=np.int64),
        lch=oklch(rgb8_to_oklab(rgb)),
        lab=rgb8_to_lab_d65(rgb),
        luminance=rgb8_to_xyz_d65(rgb)[..., 1],
        present=present,
        brand=brand,
        style=np.array([STYLES.index(s["style"]["id"]) for _, _, s in rows], dtype=np.int64),
        **_type_columns([s["typography"]["heading"]["family"] for _, _, s in rows],
                        [s["typography"]["body"]["family"] for _, _, s in rows]),
    )


def _earlier_in_answer(table: SchemeTable, flag: np.ndarray) -> np.ndarray:
    """(S,) how many schemes ranked before this one in the same answer carry `flag`."""
    before = np.cumsum(flag) - flag
    first = np.r_[0, np.flatnonzero(np.diff(table.answer)) + 1]  # rows are answer by answer
    start = np.repeat(first, np.diff(np.r_[first, len(flag)]))
    return before - (np.cumsum(flag) - flag)[start] if len(flag) else before


def heading_ok(rule: FontRule, table: SchemeTable, rules: Rules | None = None) -> np.ndarray:
    """(S,) the heading suits the rule. A non-script face needs an accepted category (or an `also_if_tags` tag); a
    /Script/* face is judged by the rule's script policy: `yes` = as any other face, `no` = never, `secondary` = not
    the answer's first scheme and no script heading ranked before it (then its category is not asked). An
    `avoid_tags` tag at the threshold rules any face out."""
    rules = rules or load_attributes().rules
    thr = rules.tag_threshold
    tag = {t: table.heading_tags[:, j] >= thr for j, t in enumerate(TAGS)}
    category = np.isin(table.heading_category, list(rule.heading_categories))
    for t in rule.also_if_tags:
        category |= tag[t]
    avoided = np.zeros(len(category), bool)
    for t in rule.avoid_tags:
        avoided |= tag[t]
    if rule.script == "yes":
        script_ok = category
    elif rule.script == "no":
        script_ok = np.zeros(len(category), bool)
    else:
        script_ok = (table.rank > 0) & (_earlier_in_answer(table, table.heading_script) == 0)
    return np.where(table.heading_script, script_ok, category) & ~avoided


def body_ok(rule: FontRule, table: SchemeTable, rules: Rules | None = None) -> np.ndarray:
    """(S,) the body face is legible text for the rule: an accepted category, never display/handwriting/monospace
    nor a /Script/* face."""
    rules = rules or load_attributes().rules
    listed = np.isin(table.body_category, list(rule.body_categories))
    return listed & ~np.isin(table.body_category, list(rules.body_never)) & ~table.body_script


def type_ok(rule: FontRule, table: SchemeTable) -> np.ndarray:
    return heading_ok(rule, table) & body_ok(rule, table)


# --- grading ----------------------------------------------------------------------------------------------------


@dataclass
class Grade:
    table: SchemeTable
    language: list[str]  # per answer: the brief's locale
    tone_named: np.ndarray  # (S, 18) the scheme's brief chose the tone
    tone_palette: np.ndarray  # (S, 18) palette meets the tone's palette rule
    tone_type: np.ndarray  # (S, 18) heading and body meet the tone's type rule
    cue_ids: list[str]
    cue_named: np.ndarray  # (S, K)
    cue_met: np.ndarray  # (S, K)
    style_heading: np.ndarray  # (S,) heading suits the scheme's own style
    style_body: np.ndarray
    style_palette: np.ndarray  # (S,) palette meets the scheme's own style's palette rule
    heading_repeat: np.ndarray  # (S,) same heading family as a scheme ranked before it in the answer
    contrast: np.ndarray  # (S,) WCAG text/background
    pair_answer: np.ndarray  # (Q,) for every pair of schemes of one answer
    pair_distinct: np.ndarray  # (Q,)
    pair_primary_de: np.ndarray  # (Q,)

    @property
    def tone_met(self) -> np.ndarray:
        return self.tone_palette & self.tone_type

    @property
    def named_any(self) -> np.ndarray:
        return self.tone_named.any(axis=1) | self.cue_named.any(axis=1)

    @property
    def all_met(self) -> np.ndarray:
        """(S,) every tone and cue the brief names is met (True where it names none)."""
        return (self.tone_met | ~self.tone_named).all(axis=1) & (self.cue_met | ~self.cue_named).all(axis=1)

    @property
    def font_ok(self) -> np.ndarray:
        return self.style_heading & self.style_body


def _pairs(answer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (a, b), a < b, of every pair of schemes that share an answer."""
    a, b = [], []
    bounds = np.r_[0, np.flatnonzero(np.diff(answer)) + 1, len(answer)]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        i, j = np.triu_indices(hi - lo, k=1)
        a.append(i + lo)
        b.append(j + lo)
    return (np.concatenate(a), np.concatenate(b)) if a else (np.zeros(0, np.int64), np.zeros(0, np.int64))


def grade(briefs, answers: list[list[dict] | None]) -> Grade:
    """Grade every scheme of `answers` (each the list `pipeline.postprocess.schemes_batch` returns for a brief, or
    None) against what its brief in `briefs` names."""
    defs = load_attributes()
    rules = defs.rules
    t = scheme_table(briefs, answers)
    n = len(t.answer)

    chosen = np.zeros((len(briefs), len(TONES)), bool)
    for b, brief in enumerate(briefs):
        chosen[b, [TONES.index(tone) for tone in brief.tone]] = True
    cues_of = [find_cues(brief.keywords) for brief in briefs]
    cue_ids = [c for c in defs.cues if any(c in found for found in cues_of)]
    cue_named_b = np.array([[c in found for c in cue_ids] for found in cues_of], dtype=bool).reshape(len(briefs), -1)

    tone_palette = np.stack([palette_met(defs.tones[x].palette, t.lch, t.present, t.brand, rules) for x in TONES], 1)
    tone_type = np.stack([type_ok(defs.tones[x].fonts, t) for x in TONES], 1)
    cue_met = np.stack([palette_met(defs.cues[c].palette, t.lch, t.present, t.brand, rules) for c in cue_ids], 1) \
        if cue_ids else np.zeros((n, 0), bool)

    style_heading = np.zeros(n, bool)
    style_body = np.zeros(n, bool)
    style_palette = np.zeros(n, bool)
    for k, style in enumerate(STYLES):
        rows = t.style == k
        if rows.any():
            attr: Attribute = defs.styles[style]
            style_heading[rows] = heading_ok(attr.fonts, t)[rows]
            style_body[rows] = body_ok(attr.fonts, t)[rows]
            style_palette[rows] = palette_met(attr.palette, t.lch, t.present, t.brand, rules)[rows]

    families = np.unique(np.array(t.heading, dtype=object), return_inverse=True)[1]
    repeat = np.zeros(n, bool)
    for f in np.unique(families):  # a family seen before within the same answer
        rows = families == f
        repeat |= rows & (_earlier_in_answer(t, rows) > 0)

    y_text, y_bg = t.luminance[:, TEXT], t.luminance[:, BACKGROUND]
    contrast = (np.maximum(y_text, y_bg) + 0.05) / (np.minimum(y_text, y_bg) + 0.05)

    a, b = _pairs(t.answer)
    de = {role: delta_e2000_lab(t.lab[a, role], t.lab[b, role]) for role in (PRIMARY, BACKGROUND, ACCENT)}
    brand_primary = t.brand[a, PRIMARY] | t.brand[b, PRIMARY]
    # Where a brand colour fixes the primary, the schemes must differ in their ground or their accent instead.
    distinct = (de[PRIMARY] >= rules.min_delta_e2000) | (
        brand_primary & ((de[BACKGROUND] >= rules.min_delta_e2000) | (de[ACCENT] >= rules.min_delta_e2000)))

    return Grade(
        table=t,
        language=[str(brief.locale.value) for brief in briefs],
        tone_named=chosen[t.answer],
        tone_palette=tone_palette,
        tone_type=tone_type,
        cue_ids=cue_ids,
        cue_named=cue_named_b[t.answer],
        cue_met=cue_met,
        style_heading=style_heading,
        style_body=style_body,
        style_palette=style_palette,
        heading_repeat=repeat,
        contrast=contrast,
        pair_answer=t.answer[a],
        pair_distinct=distinct,
        pair_primary_de=de[PRIMARY],
    )


def library_ceiling(briefs) -> tuple[np.ndarray, np.ndarray]:
    """Whether the libraries could serve each brief at all -> ((B,) palette, (B,) type).

    Palette: one library palette, as it stands (no brand colours), meets every tone palette rule and cue the brief
    names. Type: one font pair of the brief's pool (CJK-capable pairs for zh) meets every named tone's type rule
    as an answer's first scheme. Where either is False the brief asks for something no single scheme can give.
    """
    defs = load_attributes()
    lab, mask = palette_role_lab()
    take = [[r.value for r in ROLE_ORDER].index(r) for r in ROLES]
    lch = oklch(lab[:, take].astype(np.float64))
    present = mask[:, take] > 0
    none = np.zeros_like(present)
    columns = [defs.tones[x].palette for x in TONES] + [a.palette for a in defs.cues.values()]
    met = np.stack([palette_met(rule, lch, present, none) for rule in columns], 1)  # (P, A)
    named = np.zeros((len(briefs), len(columns)), bool)
    cue_ids = list(defs.cues)
    for b, brief in enumerate(briefs):
        named[b, [TONES.index(x) for x in brief.tone]] = True
        named[b, [len(TONES) + cue_ids.index(c) for c in find_cues(brief.keywords)]] = True
    violations = (~met).astype(np.int32) @ named.T.astype(np.int32)  # (P, B) attributes a palette misses
    palette_ok = (violations == 0).any(axis=0)

    pairs = load_font_pairs()
    first = np.zeros(len(pairs), np.int64)
    table = SchemeTable(answer=np.arange(len(pairs)), rank=first, lch=None, lab=None, luminance=None, present=None,
                        brand=None, style=None, **_type_columns([p.heading_family for p in pairs],
                                                              [p.body_family for p in pairs]))
    type_met = np.stack([type_ok(defs.tones[x].fonts, table) for x in TONES], 1)  # (F, 18)
    zh_pair = np.array([p.zh for p in pairs])
    type_fit = np.zeros(len(briefs), bool)
    for b, brief in enumerate(briefs):
        pool = zh_pair if brief.locale.value == "zh" else np.ones(len(pairs), bool)
        type_fit[b] = (type_met[pool][:, named[b, :len(TONES)]].all(axis=1)).any()
    return palette_ok, type_fit
