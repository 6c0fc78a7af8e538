"""The frozen fit rules (`knowledge.attributes`, docs/teacher.md "Measurable definitions") as numpy tables.

Which library palette meets which tone and colour cue (rules 1-3, 5), which font pair meets which tone's and
style's type rule (rule 4), and vectorised checks for palettes whose colours were changed at request time (brand
colours substituted, a cue colour put in). The teacher's targets and the request path's post-processing read these;
`evaluation.fit` grades answers with its own code, and tests/knowledge/test_fit_tables.py checks that the two agree.

Every rule is compiled once into arrays (one row per attribute), so a check is a few broadcasts over
(palettes, roles, attributes) instead of a loop over attributes. Colour arrays are by role in
`knowledge.design_tables.ROLE_ORDER` (background, text, primary, accent, secondary, highlight), in OKLCH with the
hue in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from knowledge.attributes import Box, FontRule, PaletteRule, load_attributes
from knowledge.colors import hexes_to_rgb8, oklab_to_oklch, rgb8_to_oklab
from knowledge.design_tables import ROLE_ORDER
from knowledge.fonts import expressive_tag_names, load_font_pairs, load_fonts, script_tags
from knowledge.palettes import load_palettes
from knowledge.taxonomy import PaletteRole, Style, Tone

ROLES = [r.value for r in ROLE_ORDER]
BACKGROUND, TEXT, PRIMARY = (ROLES.index(r) for r in ("background", "text", "primary"))
TONES = [t.value for t in Tone]
STYLES = [s.value for s in Style]
MAX_HUE_RANGES = 3  # the most hue intervals any box has (checked when compiling)


@cache
def judged_roles() -> np.ndarray:
    """(6,) bool: the roles a tone's ranges judge (all but the rules' exempt ones). Constant: computed once, as
    np.isin on the role names costs ~20 us a call on the request path."""
    mask = ~np.isin(ROLES, load_attributes().rules.exempt_roles)
    mask.setflags(write=False)
    return mask


# --- boxes and palette rules as arrays --------------------------------------------------------------------------


def _in_hue_ranges(hue: np.ndarray, ranges: np.ndarray, any_hue: np.ndarray) -> np.ndarray:
    """hue (...) inside any of `ranges` (..., MAX_HUE_RANGES, 2) broadcast against it, or `any_hue`. The ranges are
    OR-ed one by one: numpy's reduction over a 3-long last axis (`.any(axis=-1)`) is ~10x slower, and this test
    runs on every candidate colour of a request batch."""
    in_hue = any_hue | ((hue >= ranges[..., 0, 0]) & (hue <= ranges[..., 0, 1]))
    for k in range(1, ranges.shape[-2]):
        in_hue |= (hue >= ranges[..., k, 0]) & (hue <= ranges[..., k, 1])
    return in_hue


@dataclass(frozen=True)
class Boxes:
    """M OKLCH boxes: l/c (M, 2) intervals; hue (M, MAX_HUE_RANGES, 2) intervals, unused ones empty (lo > hi);
    any_hue (M,) True where the box names no hue."""

    l: np.ndarray
    c: np.ndarray
    hue: np.ndarray
    any_hue: np.ndarray

    @classmethod
    def of(cls, boxes: list[Box]) -> Boxes:
        hue = np.tile([1.0, 0.0], (len(boxes), MAX_HUE_RANGES, 1))  # empty intervals
        for m, box in enumerate(boxes):
            if box.hues:
                if len(box.hues) > MAX_HUE_RANGES:
                    raise ValueError(f"a box has {len(box.hues)} hue ranges; raise MAX_HUE_RANGES")
                hue[m, :len(box.hues)] = box.hues
        return cls(l=np.array([b.l for b in boxes], float).reshape(-1, 2),
                   c=np.array([b.c for b in boxes], float).reshape(-1, 2),
                   hue=hue, any_hue=np.array([not b.hues for b in boxes], bool))

    def contains_each(self, lch: np.ndarray, box: np.ndarray, hue_needs_chroma: float | None = None) -> np.ndarray:
        """(N, R, 3) OKLCH, (N,) a box per row -> (N, R) inside that row's box (rule 2's hue exemption as in
        `contains`)."""
        light, chroma, hue = lch[..., 0], lch[..., 1], lch[..., 2]
        l, c = self.l[box][:, None], self.c[box][:, None]
        ok = (light >= l[..., 0]) & (light <= l[..., 1]) & (chroma >= c[..., 0]) & (chroma <= c[..., 1])
        in_hue = _in_hue_ranges(hue, self.hue[box][:, None], self.any_hue[box][:, None])  # ranges (N, 1, H, 2)
        if hue_needs_chroma is not None:
            in_hue |= chroma < hue_needs_chroma
        return ok & in_hue

    def contains(self, lch: np.ndarray, hue_needs_chroma: float | None = None) -> np.ndarray:
        """(..., 3) OKLCH -> (..., M) inside each box. With `hue_needs_chroma`, colours below that chroma pass the
        hue test (a grey has no hue to be wrong about; rule 2)."""
        light, chroma, hue = lch[..., 0, None], lch[..., 1, None], lch[..., 2, None]
        ok = (light >= self.l[:, 0]) & (light <= self.l[:, 1]) & (chroma >= self.c[:, 0]) & (chroma <= self.c[:, 1])
        in_hue = _in_hue_ranges(hue, self.hue, self.any_hue)
        if hue_needs_chroma is not None:
            in_hue |= chroma < hue_needs_chroma
        return ok & in_hue


@dataclass(frozen=True)
class PaletteRules:
    """A list of palette rules (A attributes) compiled for `meets`."""

    ids: list[str]
    ranges: Boxes  # (A) boxes; rows without ranges are never read (has_share False)
    has_share: np.ndarray  # (A,) the share test applies
    share: np.ndarray  # (A,)
    light_ground: np.ndarray  # (A,) a plain white ground counts as inside
    dark_ground: np.ndarray  # (A,) a plain black ground counts as inside
    primary_inside: np.ndarray  # (A,)
    max_hue_spread: np.ndarray  # (A,) degrees, inf where none
    anchor_boxes: Boxes  # (G_box) every box an anchor group names, flattened
    box_in_group: np.ndarray  # (G_box, G) int32: 1 where the box is one of the group's
    # The same anchors rule by rule, for `meets_each`: rule a's boxes are anchor_boxes[box_start[a]:box_start[a+1]],
    # each tagged with its group (global group number, ascending within the rule).
    box_start: np.ndarray  # (A + 1,)
    box_group: np.ndarray  # (G_box,)
    group_of_rule: np.ndarray  # (A, G) bool: the rule needs that group

    @classmethod
    def of(cls, ids: list[str], rules: list[PaletteRule]) -> PaletteRules:
        r = load_attributes().rules
        everything = Box(l=(0.0, 1.0), c=(0.0, 1.0))
        boxes, group_of_box, group_of_rule = [], [], []
        for a, rule in enumerate(rules):
            for group in rule.anchors:
                g = len(group_of_rule)
                group_of_rule.append(a)
                boxes += list(group)
                group_of_box += [g] * len(group)
        needs = np.zeros((len(rules), len(group_of_rule)), bool)
        needs[group_of_rule, np.arange(len(group_of_rule))] = True
        return cls(
            ids=list(ids),
            ranges=Boxes.of([rule.ranges or everything for rule in rules]),
            has_share=np.array([rule.ranges is not None and rule.share > 0 for rule in rules]),
            share=np.array([rule.share for rule in rules], float),
            light_ground=np.array([rule.dark_background <= r.light_if_dark_background_at_most for rule in rules]),
            dark_ground=np.array([rule.dark_background >= r.dark_if_dark_background_at_least for rule in rules]),
            primary_inside=np.array([rule.primary_inside for rule in rules]),
            max_hue_spread=np.array([np.inf if rule.max_hue_spread is None else rule.max_hue_spread
                                     for rule in rules], float),
            anchor_boxes=Boxes.of(boxes),
            box_in_group=(np.array(group_of_box, np.int64)[:, None]
                          == np.arange(len(group_of_rule))).astype(np.int32),
            box_start=np.searchsorted(np.array(group_of_rule, np.int64)[np.array(group_of_box, np.int64)]
                                      if boxes else np.zeros(0, np.int64), np.arange(len(rules) + 1)),
            box_group=np.array(group_of_box, np.int64),
            group_of_rule=needs,
        )

    def inside(self, lch: np.ndarray) -> np.ndarray:
        """(N, 6, 3) OKLCH by role -> (N, 6, A) each colour inside each rule's ranges (rule 2, plain grounds
        included)."""
        r = load_attributes().rules
        inside = self.ranges.contains(lch, hue_needs_chroma=r.chromatic_chroma)
        bg = lch[:, BACKGROUND]
        neutral = (bg[:, 1, None] <= r.ground_max_chroma) & (bg[:, 1, None] <= self.ranges.c[:, 1])
        ground = ((bg[:, 0, None] >= r.ground_light_min_l) & self.light_ground) | (
            (bg[:, 0, None] <= r.ground_dark_max_l) & self.dark_ground)
        inside[:, BACKGROUND] |= neutral & ground
        return inside

    def meets(self, lch: np.ndarray, present: np.ndarray, brand: np.ndarray) -> np.ndarray:
        """(N, 6, 3) OKLCH by role, (N, 6) roles present, (N, 6) brand colours -> (N, A) palette meets each rule.

        Rules 1-3 and 5: text and brand colours are not judged for the share (brand colours still count for
        anchors, they are on the pack); the primary must be inside where the rule says so, unless it is a brand
        colour; chromatic hues within the spread; each anchor group met by one visible colour.
        """
        r = load_attributes().rules
        visible = present & judged_roles()
        counted = visible & ~brand
        inside = self.inside(lch)
        n = counted.sum(axis=1)[:, None]
        share = (inside & counted[..., None]).sum(axis=1) / np.maximum(n, 1)
        ok = (share >= self.share - 1e-9) | (n == 0) | ~self.has_share
        ok &= ~(self.primary_inside & self.has_share) | inside[:, PRIMARY] | ~counted[:, PRIMARY, None]
        spread_rules = np.flatnonzero(np.isfinite(self.max_hue_spread))
        if len(spread_rules):
            spread = hue_spread(lch[..., 2], counted & (lch[..., 1] >= r.chromatic_chroma))
            ok[:, spread_rules] &= spread[:, None] <= self.max_hue_spread[spread_rules]
        if self.group_of_rule.shape[1]:
            hit_box = (self.anchor_boxes.contains(lch) & visible[..., None]).any(axis=1)  # (N, G_box)
            group_hit = hit_box.astype(np.int32) @ self.box_in_group > 0  # (N, G)
            missed = (~group_hit).astype(np.int32) @ self.group_of_rule.T.astype(np.int32)
            ok &= missed == 0
        return ok


    def meets_each(self, lch: np.ndarray, present: np.ndarray, brand: np.ndarray, rule: np.ndarray) -> np.ndarray:
        """`meets` for one rule per palette: (N, 6, 3), (N, 6), (N, 6), (N,) rule index -> (N,) bool.

        Costs one rule per palette instead of all A, for a request that checks only the attributes its brief names.
        """
        r = load_attributes().rules
        visible = present & judged_roles()
        counted = visible & ~brand
        ok = np.ones(len(rule), bool)
        # The ranges (share and primary) only for the rows whose rule has them (a colour cue's rule is its anchors).
        shared = np.flatnonzero(self.has_share[rule])
        if len(shared):
            lch_s, rule_s, counted_s = lch[shared], rule[shared], counted[shared]
            inside = self.ranges.contains_each(lch_s, rule_s, hue_needs_chroma=r.chromatic_chroma)
            bg = lch_s[:, BACKGROUND]
            neutral = (bg[:, 1] <= r.ground_max_chroma) & (bg[:, 1] <= self.ranges.c[rule_s, 1])
            ground = ((bg[:, 0] >= r.ground_light_min_l) & self.light_ground[rule_s]) | (
                (bg[:, 0] <= r.ground_dark_max_l) & self.dark_ground[rule_s])
            inside[:, BACKGROUND] |= neutral & ground
            n = counted_s.sum(axis=1)
            share = (inside & counted_s).sum(axis=1) / np.maximum(n, 1)
            ok[shared] = (((share >= self.share[rule_s] - 1e-9) | (n == 0))
                          & (~self.primary_inside[rule_s] | inside[:, PRIMARY] | ~counted_s[:, PRIMARY]))
        spread_rows = np.flatnonzero(np.isfinite(self.max_hue_spread[rule]))
        if len(spread_rows):
            chromatic = counted[spread_rows] & (lch[spread_rows, :, 1] >= r.chromatic_chroma)
            ok[spread_rows] &= hue_spread(lch[spread_rows, :, 2], chromatic) <= self.max_hue_spread[rule[spread_rows]]
        count = self.box_start[rule + 1] - self.box_start[rule]
        if count.any():  # every (palette, anchor box) of its rule, back to back
            row = np.repeat(np.arange(len(rule)), count)
            box = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + self.box_start[rule][row]
            hit = (self.anchor_boxes.contains_each(lch[row], box) & visible[row]).any(axis=1)
            # A group is met when one of its boxes is hit; a palette when all its groups are.
            key = row * (self.box_group.max() + 1) + self.box_group[box]  # non-decreasing
            starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
            group_met = np.logical_or.reduceat(hit, starts)
            missed = np.bincount(row[starts], weights=~group_met, minlength=len(rule))
            ok &= missed == 0
        return ok


def hue_spread(hue: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N, 6) hues in degrees, (N, 6) which count -> (N,) smallest arc holding them all (0 for fewer than two)."""
    offsets = (hue[:, None, :] - hue[:, :, None]) % 360.0  # [n, from j, to k]
    arcs = np.where(mask[:, None, :], offsets, 0.0).max(axis=2)
    arcs = np.where(mask, arcs, np.inf).min(axis=1)
    return np.where(mask.sum(axis=1) >= 2, arcs, 0.0)


@cache
def tone_rules() -> PaletteRules:
    """The 18 tones' palette rules, in Tone order."""
    defs = load_attributes()
    return PaletteRules.of(TONES, [defs.tones[t].palette for t in TONES])


@cache
def cue_rules() -> PaletteRules:
    """Every colour cue's palette rule, in the order of brief_attributes.json."""
    defs = load_attributes()
    return PaletteRules.of(list(defs.cues), [a.palette for a in defs.cues.values()])


@cache
def style_rules() -> PaletteRules:
    """The 14 styles' palette rules, in Style order ("palette suits its own style", reported only)."""
    defs = load_attributes()
    return PaletteRules.of(STYLES, [defs.styles[s].palette for s in STYLES])


@cache
def attribute_rules() -> PaletteRules:
    """The tones (Tone order) then the colour cues (file order): the columns of a brief's named attributes."""
    defs = load_attributes()
    return PaletteRules.of(TONES + list(defs.cues), [defs.tones[t].palette for t in TONES]
                           + [a.palette for a in defs.cues.values()])


def meets_tones(lch: np.ndarray, present: np.ndarray, brand: np.ndarray) -> np.ndarray:
    """(N, 6, 3) OKLCH by role (ROLE_ORDER), present and brand masks (N, 6) -> (N, n_tones) bool."""
    return tone_rules().meets(lch, present, brand)


def meets_cues(lch: np.ndarray, present: np.ndarray, brand: np.ndarray) -> np.ndarray:
    """Same inputs -> (N, n_cues) bool, columns in `palette_passes().cue_ids` order."""
    return cue_rules().meets(lch, present, brand)


# --- the library's palettes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryColours:
    """Every library palette's colours by role (ROLE_ORDER), from its hex codes as answered."""

    lch: np.ndarray  # (P, 6, 3) OKLCH, float64
    present: np.ndarray  # (P, 6) bool


@cache
def library_colours() -> LibraryColours:
    palettes = load_palettes()
    hexes = ["#000000"] * (len(palettes) * len(ROLES))
    present = np.zeros((len(palettes), len(ROLES)), bool)
    for i, palette in enumerate(palettes):
        for color in palette.colors:
            j = ROLES.index(PaletteRole(color.role).value)
            hexes[i * len(ROLES) + j] = color.hex
            present[i, j] = True
    # Through the 8-bit hex, as an answer carries it, so the table grades what the grader sees.
    lab = rgb8_to_oklab(hexes_to_rgb8(hexes)).reshape(len(palettes), len(ROLES), 3)
    return LibraryColours(oklab_to_oklch(lab), present)


@dataclass(frozen=True)
class PalettePasses:
    tone: np.ndarray  # (P, n_tones) bool, Tone order
    cue: np.ndarray  # (P, n_cues) bool
    cue_ids: list[str]


@cache
def palette_passes() -> PalettePasses:
    """Which library palette, as it stands (no brand colours), meets each tone and each colour cue."""
    colours = library_colours()
    no_brand = np.zeros_like(colours.present)
    return PalettePasses(tone=meets_tones(colours.lch, colours.present, no_brand),
                         cue=meets_cues(colours.lch, colours.present, no_brand),
                         cue_ids=list(cue_rules().ids))


# --- type -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairPasses:
    first: np.ndarray  # (F, n_tones + n_styles): meets the rule as an answer's first scheme
    later: np.ndarray  # same shape: as a later scheme with no script heading ranked above it
    ids: list[str]  # tone ids (Tone order), then style ids (Style order)


@dataclass(frozen=True)
class PairFaces:
    """What the type rules ask of each font pair's faces."""

    heading_category: np.ndarray  # (F,) str
    heading_tags: np.ndarray  # (F, n_tags) 0-1, `expressive_tag_names()` order
    heading_script: np.ndarray  # (F,) a /Script/* face (any script tag at the threshold)
    body_category: np.ndarray
    body_script: np.ndarray


@cache
def pair_faces() -> PairFaces:
    fonts, scripts = load_fonts(), script_tags()
    threshold = load_attributes().rules.script_threshold
    pairs = load_font_pairs()
    tags = expressive_tag_names()

    def script(family: str) -> bool:
        return max(scripts.get(family, {}).values(), default=0.0) >= threshold

    heading_tags = np.array([[fonts[p.heading_family].tags.get(t, 0.0) for t in tags] for p in pairs], float)
    return PairFaces(
        heading_category=np.array([fonts[p.heading_family].category for p in pairs]),
        heading_tags=heading_tags.reshape(len(pairs), len(tags)),
        heading_script=np.array([script(p.heading_family) for p in pairs], bool),
        body_category=np.array([fonts[p.body_family].category for p in pairs]),
        body_script=np.array([script(p.body_family) for p in pairs], bool),
    )


def type_meets(rule: FontRule, faces: PairFaces, later: bool) -> np.ndarray:
    """(F,) each pair's heading and body meet the rule (rule 4); `later`: a later scheme with no script heading
    ranked above it, where a `secondary` script policy lets a script face head it."""
    r = load_attributes().rules
    tags = expressive_tag_names()
    strong = faces.heading_tags >= r.tag_threshold
    category = np.isin(faces.heading_category, list(rule.heading_categories))
    category |= strong[:, [tags.index(t) for t in rule.also_if_tags]].any(axis=1)
    avoided = strong[:, [tags.index(t) for t in rule.avoid_tags]].any(axis=1)
    script_ok = {"yes": category, "no": np.zeros_like(category),
                 "secondary": np.full_like(category, later)}[rule.script]
    heading = np.where(faces.heading_script, script_ok, category) & ~avoided
    body = (np.isin(faces.body_category, list(rule.body_categories))
            & ~np.isin(faces.body_category, list(r.body_never)) & ~faces.body_script)
    return heading & body


@cache
def pair_passes() -> PairPasses:
    """Which library font pair meets each tone's and each style's type rule, as a first and as a later scheme."""
    defs = load_attributes()
    faces = pair_faces()
    rules = [defs.tones[t].fonts for t in TONES] + [defs.styles[s].fonts for s in STYLES]
    return PairPasses(first=np.stack([type_meets(rule, faces, later=False) for rule in rules], axis=1),
                      later=np.stack([type_meets(rule, faces, later=True) for rule in rules], axis=1),
                      ids=TONES + STYLES)
