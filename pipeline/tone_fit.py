"""Tone fitting: a chosen scheme's colours moved the least needed in OKLCH to meet every tone its brief names.

The library bounds how well whole palettes can fit a brief (docs/teacher.md "Measurable definitions", rule 12:
about one brief in eight has no library palette meeting all it names). Post-processing picks the best candidates
and puts cue colours in (`pipeline.postprocess`); this step then takes each scheme that still misses a named tone
whose ranges the brief's tones can meet together, and moves as few of its colours as needed, each as little as
needed (OKLab distance), into the ranges of every named tone:

- only the primary, accent, secondary and highlight roles move: brand colours (the client's), colours put in for
  a cue, a tone's anchor, rule 9 or a keyword (they were chosen for that), background and text never (so text
  contrast stays exactly as the library palette had it);
- lightness and chroma are clamped into the tones' joint ranges; the hue moves only where a named tone sets hue
  ranges (to the nearest allowed hue) or monochrome's "chromatic hues within 30 deg" (towards the scheme's own
  hue), otherwise it is kept, so the palette keeps its hue relationships;
- each target is gamut-mapped to sRGB (`knowledge.colors.oklch_to_rgb8`) and judged as the 8-bit hex the answer
  carries; the fewest moves that meet the most named tones and cues win, and nothing is moved unless more are met;
- a fitted scheme that would come within rule 9's deltaE 2000 10 of another scheme of its answer keeps its colours.

Vectorised over the schemes of a batch; tones that contradict (pastel + neon) are left to the choice of palettes,
which already maximises the number met.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from knowledge.attributes import load_attributes
from knowledge.colors import delta_e2000_lab, nearest_color_names, oklab_to_oklch, oklch_to_rgb8, rgb8_to_hexes, \
    rgb8_to_lab_d65, rgb8_to_oklab
from knowledge.design_tables import ROLE_ORDER
from knowledge.fit_tables import Boxes, attribute_rules, judged_roles
from knowledge.taxonomy import PaletteRole

ROLES = [r.value for r in ROLE_ORDER]
R_BACKGROUND, R_PRIMARY, R_ACCENT = (ROLES.index(r) for r in ("background", "primary", "accent"))
TUNABLE_ROLES = np.array([ROLES.index(r.value) for r in (PaletteRole.primary, PaletteRole.accent,
                                                          PaletteRole.secondary, PaletteRole.highlight)])
TUNABLE_MASK = np.isin(np.arange(len(ROLES)), TUNABLE_ROLES)  # the same as a mask over the roles
T_PRIMARY, T_ACCENT = (int(np.flatnonzero(TUNABLE_ROLES == r)[0]) for r in (R_PRIMARY, R_ACCENT))  # their columns
HUE_MARGIN = 2.0  # degrees kept inside a hue range, so the 8-bit hex still reads inside
RANGE_MARGIN_L, RANGE_MARGIN_C = 0.01, 0.004  # likewise for lightness and chroma
LIGHTNESS_TRIES = 3  # lightnesses spread over the joint range, tried where the nearest one leaves the gamut
MOST_TARGETS = 6  # named tones (at most 4, contract.brief.Brief.tone) and tone-like cues fitted together
ANCHOR_STEP = 45.0  # degrees between the single hues tried for monochrome
RETRY_WITH_PRIMARY_KEPT = False  # measured: +0.001 of schemes fitting their brief for another pass's cost
GREY_CHROMA = 0.015  # a colour greyed (below rule 2's chromatic chroma) has no hue to be wrong about
HUE_TURNS = np.array([0.0, -30.0, 30.0, -60.0, 60.0, -90.0, 90.0])  # degrees, where the gamut needs it
# Where rule 9 undid a fitted primary: shifts tried around it, (lightness, hue degrees), every combination of these
# (nearest to the scheme's own primary wins; chroma factors 0.7 / 1.3 as well measured the same, at more cost).
REFIT_SHIFTS = np.array([(dl, dh) for dl in (0.0, -0.06, 0.06, -0.12, 0.12)
                         for dh in (0.0, -25.0, 25.0, -50.0, 50.0, -90.0, 90.0, 180.0)])
MOST_SETS = 3  # target sets a scheme's roles are split between where its tones contradict: 4**4 trials at most


@dataclass(frozen=True)
class _ToneTables:
    """The attributes a palette meets by a share of its colours in ranges: the tones, and the cues graded as a
    tone or by a share ("macaron pastel colours", "earth tones", "light colours"); F of them."""

    columns: np.ndarray  # (F,) their columns among the named attributes (tones, then cues)
    ranges: Boxes  # (F) their OKLCH ranges
    l: np.ndarray  # (F, 2)
    c: np.ndarray  # (F, 2)
    hue_allowed: np.ndarray  # (F, 360) bool: integer hue allowed (with HUE_MARGIN) by the hue ranges
    bounds: np.ndarray  # (F, 4): L lo, -L hi, C lo, -C hi (for `_joint`'s one max)
    hue_packed: np.ndarray  # (F, 45) uint8: hue_allowed as bits (np.packbits), to intersect many sets at once
    primary_inside: np.ndarray  # (F,)
    max_hue_spread: np.ndarray  # (F,) degrees, inf where none
    chromatic: float


@cache
def _tone_tables() -> _ToneTables:
    rules = attribute_rules()
    columns = np.flatnonzero(rules.has_share)
    r = rules.ranges
    ranges = Boxes(l=r.l[columns], c=r.c[columns], hue=r.hue[columns], any_hue=r.any_hue[columns])
    degrees = np.arange(360.0)
    allowed = ((degrees[None, None] >= ranges.hue[..., 0, None] + HUE_MARGIN)
               & (degrees[None, None] <= ranges.hue[..., 1, None] - HUE_MARGIN)).any(axis=1)
    allowed |= ranges.any_hue[:, None]
    return _ToneTables(columns=columns, ranges=ranges, l=ranges.l, c=ranges.c, hue_allowed=allowed,
                       bounds=np.stack([ranges.l[:, 0], -ranges.l[:, 1], ranges.c[:, 0], -ranges.c[:, 1]], axis=1),
                       hue_packed=np.packbits(allowed, axis=1),
                       primary_inside=rules.primary_inside[columns],
                       max_hue_spread=rules.max_hue_spread[columns], chromatic=load_attributes().rules.chromatic_chroma)


@dataclass
class ToneTuned:
    """A scheme's colour moved to meet its named tones: scheme row, role (ROLE_ORDER), the new colour."""

    scheme: int
    role: int
    hex: str
    name: str
    tones: tuple[str, ...]  # the tones (and cues read as tones) it was moved into: all named where they agree


@cache
def _tone_mask() -> np.ndarray:
    """(A,) bool: the attribute columns `_ToneTables` covers."""
    mask = np.zeros(len(attribute_rules().ids), bool)
    mask[_tone_tables().columns] = True
    return mask


def _met_named(lch: np.ndarray, present: np.ndarray, brand: np.ndarray, named: np.ndarray) -> np.ndarray:
    """(N, 6, 3), (N, 6), (N, 6), (N, A) -> (N,) how many named tones and cues are met (rules 1-3, 5)."""
    row, attribute = np.nonzero(named)
    return np.bincount(row, weights=attribute_rules().meets_each(lch[row], present[row], brand[row], attribute),
                       minlength=len(named))


def _starts(differs: np.ndarray) -> np.ndarray:
    """(n - 1,) bool: element k + 1 differs from element k -> (n,) bool: each run's first element (np.r_[True, ...]
    without np.r_'s ~15 us a call)."""
    return np.concatenate((np.ones(1, bool), differs))


def _arc_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a - b) % 360.0
    return np.minimum(d, 360.0 - d)


def _nearest_allowed(hue_ok: np.ndarray, row: np.ndarray, hue: np.ndarray) -> np.ndarray:
    """(R, 360) allowed whole degrees, (n,) a row of it per hue, (n,) hues -> (n,) the nearest allowed whole degree
    (the lowest of two as near; 0 where none is allowed), as np.argmin of the arc distance over all 360 gives, without
    a (n, 360) float array. Where the hue's own degree is allowed, the nearest is it or a neighbour (within 0.5
    degrees); else it is an edge of an allowed run (a degree inside a run has a neighbour exactly 1 degree nearer)."""
    if not np.isfinite(hue).all():  # never expected: the plain scan
        distance = _arc_distance(np.arange(360.0)[None], hue[:, None])
        return np.argmin(np.where(hue_ok[row], distance, np.inf), axis=1)
    own = np.rint(hue).astype(np.int64) % 360
    nearest = np.zeros(len(hue), np.int64)
    on = hue_ok[row, own]
    at = np.flatnonzero(on)
    if len(at):
        degree = (own[at, None] + np.arange(-1, 2)) % 360
        distance = np.where(hue_ok[row[at, None], degree], _arc_distance(degree.astype(np.float64), hue[at, None]),
                            np.inf)
        nearest[at] = np.where(distance == distance.min(axis=1, keepdims=True), degree, 360).min(axis=1)
    far = np.flatnonzero(~on)
    if len(far):
        ok = hue_ok[row[far]]
        edge = ok & ~(np.roll(ok, 1, axis=1) & np.roll(ok, -1, axis=1))
        i, d = np.divmod(np.flatnonzero(edge), 360)  # by hue, then degree (2-D np.nonzero is ~10x slower here)
        distance = _arc_distance(d.astype(np.float64), hue[far[i]])
        least = np.full(len(far), np.inf)
        np.minimum.at(least, i, distance)
        at = np.flatnonzero(distance == least[i])
        at = at[_starts(i[at][1:] != i[at][:-1])]  # the lowest degree of each hue's least
        nearest[far[i[at]]] = d[at]
    return nearest


def _spread_anchor(lch: np.ndarray, counted: np.ndarray, movable: np.ndarray, chromatic: float) -> np.ndarray:
    """(R,) the hue a single-hue tone (monochrome) gathers a scheme's chromatic colours around: a colour that cannot
    move (a cue's), else the primary, else the most chromatic counted colour."""
    weight = np.where(counted & (lch[..., 1] >= chromatic), lch[..., 1], -1.0)
    weight = weight + 10.0 * (weight >= 0) * (~movable) + 5.0 * (weight >= 0) * (np.arange(len(ROLES)) == R_PRIMARY)
    return lch[np.arange(len(lch)), np.argmax(weight, axis=1), 2]


def _ranges_agree(bound: np.ndarray) -> np.ndarray:
    """(..., 4) maxima of (L lo, -L hi, C lo, -C hi) over a set of targets -> whether their joint lightness and
    chroma ranges leave room inside the margins."""
    return ((bound[..., 0] <= -bound[..., 1] - 2 * RANGE_MARGIN_L)
            & (bound[..., 2] <= -bound[..., 3] - 2 * RANGE_MARGIN_C))


def _joint(member: np.ndarray) -> tuple[np.ndarray, ...]:
    """(..., F) sets of targets -> their joint ranges: L lo, L hi, C lo, C hi (...), hue allowed (..., 45) as bits
    (np.unpackbits for (..., 360)), and whether they agree (all non-empty)."""
    t = _tone_tables()
    # The four bounds in one reduction: maxima of (L lo, -L hi, C lo, -C hi).
    bound = np.where(member[..., None], t.bounds, -np.inf).max(-2)
    lo_l, hi_l, lo_c, hi_c = bound[..., 0], -bound[..., 1], bound[..., 2], -bound[..., 3]
    # The allowed degrees of every member AND-ed as packed bits (45 bytes a target, not a 360-wide product).
    hue_packed = np.bitwise_and.reduce(np.where(member[..., None], t.hue_packed, np.uint8(255)), axis=-2)
    agree = _ranges_agree(bound) & hue_packed.any(-1)
    return lo_l, hi_l, lo_c, hi_c, hue_packed, agree


def _target_tones(tones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, F) named tones -> (rows, (rows, F) targets): per scheme, every largest set of its named tones whose
    ranges can all be met at once (lightness, chroma and hue ranges overlap): all of them where they agree, else
    each maximal agreeing subset (pastel + vivid + fresh -> pastel + fresh, vivid + fresh), so that where tones
    contradict the fit still meets as many as it can."""
    # The schemes of one answer name the same: each distinct set once (a batch of one brief has one; np.unique over
    # rows costs ~0.1 ms, so rows are keyed by their bits as one int64 where they fit: a row's sets depend on it
    # alone, so the distinct rows' order does not matter).
    if (tones == tones[0]).all():
        distinct, back = tones[:1], np.zeros(len(tones), np.int64)
    elif tones.shape[1] < 63:
        _, first, back = np.unique(tones @ (1 << np.arange(tones.shape[1], dtype=np.int64)), return_index=True,
                                   return_inverse=True)
        distinct = tones[first]
    else:
        distinct, back = np.unique(tones, axis=0, return_inverse=True)
    rows, targets = _target_sets(distinct)  # rows sorted: each distinct row's sets are a run
    count = np.bincount(rows, minlength=len(distinct))
    per = count[back]  # sets of each scheme, in scheme order
    offset = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per)
    return np.repeat(np.arange(len(tones)), per), targets[np.repeat((np.cumsum(count) - count)[back], per) + offset]


@cache
def _subsets() -> tuple[np.ndarray, np.ndarray]:
    """The non-empty subsets of MOST_TARGETS targets, constant tables for `_target_sets`: (2**most - 1, most) bool
    members (subset k is the binary digits of k + 1), and (subsets, subsets) int32 within[i, j].T, subset i inside
    subset j and smaller."""
    most = MOST_TARGETS
    bits = (np.arange(1, 1 << most)[:, None] >> np.arange(most)) & 1
    within = (((bits[:, None] & ~bits[None] & 1).sum(-1) == 0)
              & (bits[None].sum(-1) > bits[:, None].sum(-1)))
    return bits.astype(bool), within.T.astype(np.int32)


@cache
def _assignments() -> dict[int, np.ndarray]:
    """Constant tables for `_split_fits`, by number of target sets n (2..MOST_SETS): (A, 4) every assignment of the
    tunable roles to set 1..n or to no move (0) that uses at least two sets."""
    n_roles, tables = len(TUNABLE_ROLES), {}
    for n_sets in range(2, MOST_SETS + 1):
        codes = np.stack(np.unravel_index(np.arange((n_sets + 1) ** n_roles), (n_sets + 1,) * n_roles), axis=1)
        used = (codes[..., None] == np.arange(1, n_sets + 1)).any(axis=1).sum(axis=1)
        tables[n_sets] = codes[used >= 2]
    return tables


def warm() -> None:
    """The fixed tables fitting reads (`postprocess.warm`: a made-up batch names no contradicting tones, so it
    would not reach the subsets table)."""
    _tone_tables()
    _subsets()
    _assignments()


def _target_sets(tones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_target_tones` for distinct rows."""
    agree = _joint(tones)[-1]
    rows, targets = [np.flatnonzero(agree)], [tones[agree]]
    split = np.flatnonzero(~agree)
    if len(split):
        most = MOST_TARGETS
        sub = tones[split]
        order = np.argsort(~sub, axis=1, kind="stable")[:, :most]  # named tones first
        count = sub.sum(axis=1)
        bits, within_t = _subsets()
        usable = np.arange(1, len(bits) + 1) < (1 << np.minimum(count, most))[:, None]  # only named: k + 1 < 2**count
        # Agreement of each usable subset from its members' ranges, gathered by the order (most, not every target);
        # the hue bits only for subsets whose lightness and chroma ranges agree.
        t = _tone_tables()
        r, k = np.nonzero(usable)
        picked, members = bits[k], order[r]  # (p, most)
        agree = _ranges_agree(np.where(picked[..., None], t.bounds[members], -np.inf).max(-2))  # as in _joint
        q = np.flatnonzero(agree)
        agree[q] = np.bitwise_and.reduce(np.where(picked[q, :, None], t.hue_packed[members[q]], np.uint8(255)),
                                         axis=-2).any(-1)
        ok = np.zeros(usable.shape, bool)
        ok[r, k] = agree
        # Maximal: no agreeing strict superset.
        dominated = (ok.astype(np.int32) @ within_t) > 0
        r, k = np.nonzero(ok & ~dominated)
        member = np.zeros((len(r), sub.shape[1]), bool)
        i, j = np.nonzero(bits[k])
        member[i, order[r[i], j]] = True
        rows.append(split[r])
        targets.append(member)
    rows_all = np.concatenate(rows)
    order = np.argsort(rows_all, kind="stable")
    return rows_all[order], np.concatenate(targets)[order]


@dataclass(frozen=True)
class _Joint:
    """Per row (R): the joint ranges of its targets, and monochrome's single hue where a target asks for it."""

    lo_l: np.ndarray
    hi_l: np.ndarray
    lo_c: np.ndarray
    hi_c: np.ndarray
    hue_ok: np.ndarray  # (R, 360)
    single_hue: np.ndarray
    spread: np.ndarray
    anchor: np.ndarray
    chromatic: float

    def inside(self, row: np.ndarray, lch: np.ndarray) -> np.ndarray:
        """(...) rows, (..., 3) OKLCH broadcast together -> inside every target of the row (rule 2: a grey has no
        hue to be wrong about; the hue read to the whole degree, against ranges kept HUE_MARGIN inside)."""
        light, chroma, hue = lch[..., 0], lch[..., 1], lch[..., 2]
        degree = np.rint(hue).astype(np.int64) % 360
        chromatic = chroma >= self.chromatic
        ok = ((light >= self.lo_l[row]) & (light <= self.hi_l[row]) & (chroma >= self.lo_c[row])
              & (chroma <= self.hi_c[row]))
        ok &= ~chromatic | self.hue_ok[row, degree]
        ok &= ~(self.single_hue[row] & chromatic & (_arc_distance(hue, self.anchor[row]) > self.spread[row] / 2))
        return ok


def _nearest_inside(joint: _Joint, row: np.ndarray, lch: np.ndarray, oklab: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(N,) rows, (N, 3) OKLCH and OKLab colours -> (N,) OKLab distance to the nearest colour found inside every
    target of the row, as 8-bit sRGB (N, 3) (gamut-mapped); inf where none is found.

    First the least change: L and C clamped into the joint ranges, the hue kept (or the nearest allowed). Where
    that leaves the gamut or the ranges (a vivid yellow cannot be dark), other lightnesses in range, the hue turned
    by HUE_TURNS, the scheme's own main hue (a grey must take some hue to take chroma), or a grey where the ranges
    allow one; the nearest of those inside."""
    l_lo, l_hi = joint.lo_l[row] + RANGE_MARGIN_L, joint.hi_l[row] - RANGE_MARGIN_L
    c_lo, c_hi = joint.lo_c[row] + RANGE_MARGIN_C, joint.hi_c[row] - RANGE_MARGIN_C
    degree = np.rint(lch[:, 2]).astype(np.int64) % 360
    hue = lch[:, 2].copy()
    off = ~joint.hue_ok[row, degree]
    if off.any():  # the nearest allowed whole degree
        hue[off] = _nearest_allowed(joint.hue_ok, row[off], lch[off, 2])
    light = np.clip(lch[:, 0], l_lo, l_hi)
    chroma = np.clip(lch[:, 1], c_lo, c_hi)
    rgb = oklch_to_rgb8(np.stack([light, chroma, hue], axis=-1))
    new_oklab = rgb8_to_oklab(rgb)
    ok = joint.inside(row, oklab_to_oklch(new_oklab))
    cost = np.where(ok, np.sqrt(((new_oklab - oklab) ** 2).sum(-1)), np.inf)
    retry = np.flatnonzero(~ok)
    if len(retry):
        rr = row[retry]
        lights = l_lo[retry, None] + (l_hi - l_lo)[retry, None] * np.linspace(0, 1, LIGHTNESS_TRIES)  # (n, L)
        hues = np.concatenate([hue[retry, None] + HUE_TURNS, joint.anchor[rr, None]], axis=1) % 360.0  # (n, H)
        n_l, n_h = lights.shape[1], hues.shape[1]
        # (n, K, 3): every lightness with every hue at the clamped chroma, then every lightness greyed (filled in
        # place: fewer numpy calls than stacking broadcasts).
        options = np.empty((len(retry), n_l * n_h + n_l, 3))
        coloured = options[:, :n_l * n_h].reshape(len(retry), n_l, n_h, 3)  # a view
        coloured[..., 0] = lights[:, :, None]
        coloured[..., 1] = chroma[retry, None, None]
        coloured[..., 2] = hues[:, None, :]
        options[:, n_l * n_h:, 0] = lights
        options[:, n_l * n_h:, 1] = np.clip(GREY_CHROMA, c_lo[retry], c_hi[retry])[:, None]
        options[:, n_l * n_h:, 2] = lch[retry, 2, None]
        # Gamut-mapped and judged only where an option can win: a grey only where the ranges allow one, the anchor
        # hue not where it is one of the turned hues (the same colours, later, lose np.argmin's tie). The first
        # option always, so a row with none inside reads as before.
        tried = np.ones(options.shape[:2], bool)
        tried[:, n_l * n_h:] = (c_lo[retry] < joint.chromatic)[:, None]
        tried[:, n_h - 1:n_l * n_h:n_h] = ~(hues[:, -1:] == hues[:, :-1]).any(axis=1, keepdims=True)
        tried[:, 0] = True
        i, k = np.nonzero(tried)
        options_rgb = np.zeros(options.shape, np.uint8)
        options_rgb[i, k] = oklch_to_rgb8(options[i, k])
        options_oklab = rgb8_to_oklab(options_rgb[i, k])
        inside = joint.inside(rr[i], oklab_to_oklch(options_oklab))
        options_cost = np.full(tried.shape, np.inf)
        options_cost[i, k] = np.where(inside, np.sqrt(((options_oklab - oklab[retry[i]]) ** 2).sum(-1)), np.inf)
        best = np.argmin(options_cost, axis=1)
        cost[retry] = options_cost[np.arange(len(retry)), best]
        rgb[retry] = options_rgb[np.arange(len(retry)), best]
    return cost, rgb


@dataclass(frozen=True)
class _Candidates:
    """Ways to fit schemes (C): which tunable roles move (C, 4) to which 8-bit colour (C, 4, 3), the targets each
    role was moved into (C, 4, F), named attributes gained, moves made and their summed OKLab change."""

    scheme: np.ndarray
    change: np.ndarray
    rgb: np.ndarray
    role_target: np.ndarray
    gain: np.ndarray
    moves: np.ndarray
    cost: np.ndarray

    def fields(self) -> tuple[np.ndarray, ...]:
        return (self.scheme, self.change, self.rgb, self.role_target, self.gain, self.moves, self.cost)


def _split_fits(rows: np.ndarray, target: np.ndarray, can_move: np.ndarray, best_rgb: np.ndarray,
                best_cost: np.ndarray, moved_lch: np.ndarray, base: np.ndarray, lch: np.ndarray, present: np.ndarray,
                brand: np.ndarray, named: np.ndarray, short: np.ndarray) -> _Candidates | None:
    """Where a scheme's named tones contradict (it has more than one target set), its roles may each move into a
    different set's ranges: no colour is both pastel and metallic, but a pastel primary and a champagne-toned accent
    can make a palette that meets both shares. Every assignment of the free tunable roles to two or more of the
    scheme's first MOST_SETS sets (or to no move) is tried, each role to its nearest colour in that set as the
    per-set rows found it -> the candidates, or None where no scheme has two sets.

    rows (R,) sorted by scheme, target (R, F), can_move / best_cost (R, 4), best_rgb / moved_lch (R, 4, 3) as in
    `fit_tones`; base (R,) how many named attributes the row's scheme meets unmoved; short (S,) the schemes to
    try (those no one set's moves bring to every named attribute)."""
    # The first row of each (scheme, set): monochrome's rows for other hues follow their set's first.
    first = np.flatnonzero(_starts((rows[1:] != rows[:-1]) | (target[1:] != target[:-1]).any(axis=1)))
    scheme_of = rows[first]
    start = np.flatnonzero(_starts(scheme_of[1:] != scheme_of[:-1]))
    count = np.concatenate((start[1:], [len(first)])) - start
    multi = np.flatnonzero((count > 1) & short[scheme_of[start]])
    if not len(multi):
        return None
    n_sets = min(int(count[multi].max()), MOST_SETS)
    sets = np.full((len(multi), n_sets), -1)
    for k in range(n_sets):
        has = count[multi] > k
        sets[has, k] = first[start[multi[has]] + k]
    n_roles = len(TUNABLE_ROLES)
    codes = _assignments()[n_sets]  # (A, 4): 0 keeps the role, k moves it into set k
    pick = np.where(codes[None] > 0, sets[:, np.maximum(codes - 1, 0)], -1)  # (M, A, 4) the row it moves by
    moving = np.broadcast_to(codes[None] > 0, pick.shape)
    ok = (~moving | ((pick >= 0) & can_move[np.maximum(pick, 0), np.arange(n_roles)])).all(axis=-1)
    m, a = np.nonzero(ok)
    if not len(m):
        return None
    pick, moving = pick[m, a], moving[m, a]  # (n, 4)
    scheme = rows[sets[m, 0]]
    row_of = np.maximum(pick, 0)
    trial = lch[scheme].copy()
    i, j = np.nonzero(moving)
    trial[i, TUNABLE_ROLES[j]] = moved_lch[row_of[i, j], j]
    score = _met_named(trial, present[scheme], brand[scheme], named[scheme])
    role = np.arange(n_roles)
    return _Candidates(scheme=scheme, change=moving, rgb=np.where(moving[..., None], best_rgb[row_of, role], 0),
                       role_target=target[row_of] & moving[..., None], gain=score - base[sets[m, 0]],
                       moves=moving.sum(axis=1), cost=np.where(moving, best_cost[row_of, role], 0.0).sum(axis=1))


def fit_tones(lch: np.ndarray, oklab: np.ndarray, lab: np.ndarray, present: np.ndarray, brand: np.ndarray,
              fixed: np.ndarray, named: np.ndarray, answer: np.ndarray, retry: bool = True,
              met: np.ndarray | None = None) -> list[ToneTuned]:
    """Move each scheme's free colours the least needed to meet every tone it names (see the module docstring).

    (S, 6, 3) OKLCH / OKLab / CIELAB by role change in place; `present`, `brand`, `fixed` (roles that must not
    move) (S, 6); `named` (S, tones + cues) the brief's named attributes; `answer` (S,) each scheme's brief, schemes
    of one answer adjacent in rank order. -> the colours moved. With `retry`, a scheme whose fitting rule 9 undid
    is fitted once more with its primary kept (schemes differ by their primaries first). `met` (S, A): what each
    scheme meets as its colours stand (the caller's own results), read instead of testing the rules again.
    """
    t = _tone_tables()
    # Only schemes that miss a named tone (or tone-like cue) and have a colour free to move. With `met`, the misses
    # first: most calls end there (the schemes of a brief mostly meet its tones already).
    if met is not None:
        missing = (named & ~met & _tone_mask()).any(axis=1)
        if not missing.any():
            return []
    counted = present & judged_roles() & ~brand
    movable = counted & ~fixed & TUNABLE_MASK
    tones = named[:, t.columns]
    if met is not None:
        need = np.flatnonzero(missing & movable.any(axis=1))
    else:
        need = np.flatnonzero(tones.any(axis=1) & movable.any(axis=1))
        if len(need):
            met_now = _met_named(lch[need], present[need], brand[need], named[need] & _tone_mask())
            need = need[met_now < tones[need].sum(1)]
    if not len(need):
        return []
    # One row per (scheme, set of its tones to fit to).
    pick, target = _target_tones(tones[need])
    rows = need[pick]
    if not len(rows):
        return []
    lo_l, hi_l, lo_c, hi_c, hue_packed, _ = _joint(target)
    hue_ok = np.unpackbits(hue_packed, axis=-1, count=360).view(bool)
    single_hue = (target & np.isfinite(t.max_hue_spread)).any(axis=1)
    spread = np.where(target, t.max_hue_spread, np.inf).min(axis=1)
    anchor = _spread_anchor(lch[rows], counted[rows], movable[rows], t.chromatic)
    if single_hue.any():
        # Where one hue must hold every chromatic colour (monochrome), one row per hue it could be: the scheme's
        # own (its main colour's, then each other colour's), else the nearest the other targets allow, and every
        # ANCHOR_STEP degrees they allow (a hue the other targets allow may have no colour vivid enough in sRGB).
        own = np.concatenate([anchor[:, None], lch[rows][:, TUNABLE_ROLES, 2]], axis=1)  # (R, 5)
        mono = np.flatnonzero(single_hue)
        own[mono] = _nearest_allowed(hue_ok, np.repeat(mono, own.shape[1]), own[mono].ravel()).reshape(-1, own.shape[1])
        grid = np.broadcast_to(np.arange(0.0, 360.0, ANCHOR_STEP), (len(rows), int(360 // ANCHOR_STEP)))
        options = np.concatenate([own, grid], axis=1)
        valid = hue_ok[np.arange(len(rows))[:, None], np.rint(options).astype(np.int64) % 360]
        valid[:, 1:] &= single_hue[:, None]  # one row (the first option) where no single hue is asked
        valid[:, 0] |= ~single_hue
        bucket = np.rint(options / (ANCHOR_STEP / 3)).astype(np.int64) % int(3 * 360 // ANCHOR_STEP)
        seen = np.zeros((len(rows), int(3 * 360 // ANCHOR_STEP)), bool)
        for k in range(options.shape[1]):  # a few columns: the first option of each near-equal hue
            valid[:, k] &= ~seen[np.arange(len(rows)), bucket[:, k]]
            seen[np.arange(len(rows)), bucket[:, k]] |= valid[:, k]
        r, k = np.nonzero(valid)
        rows, target, hue_ok, single_hue, spread, lo_l, hi_l, lo_c, hi_c = (
            a[r] for a in (rows, target, hue_ok, single_hue, spread, lo_l, hi_l, lo_c, hi_c))
        anchor = np.where(single_hue, options[r, k], anchor[r])
    if single_hue.any():  # every chromatic colour within half the spread of the anchor hue (hue_ok is a copy here)
        sh = np.flatnonzero(single_hue)
        limit = spread[sh] / 2 - HUE_MARGIN
        reach = int(np.ceil(limit.max())) + 1 if np.isfinite(limit).all() and np.isfinite(anchor[sh]).all() else 180
        if reach < 179:  # only degrees within reach of the anchor's can be near (one further is over limit + 0.5 off)
            degree = (np.rint(anchor[sh]).astype(np.int64)[:, None] + np.arange(-reach, reach + 1)) % 360
            near = np.zeros((len(sh), 360), bool)
            near[np.arange(len(sh))[:, None], degree] = (_arc_distance(degree.astype(np.float64), anchor[sh, None])
                                                         <= limit[:, None])
        else:
            near = _arc_distance(np.arange(360.0)[None], anchor[sh, None]) <= limit[:, None]
        hue_ok[sh] &= near
    keep = hue_ok.any(axis=1)
    rows, target, hue_ok, single_hue, spread, anchor, lo_l, hi_l, lo_c, hi_c = (
        a[keep] for a in (rows, target, hue_ok, single_hue, spread, anchor, lo_l, hi_l, lo_c, hi_c))
    if not len(rows):
        return []
    joint = _Joint(lo_l, hi_l, lo_c, hi_c, hue_ok, single_hue, spread, anchor, t.chromatic)

    # The colours to move: free tunable roles not inside every target yet.
    here = lch[rows][:, TUNABLE_ROLES]  # (R, 4, 3)
    inside_now = joint.inside(np.arange(len(rows))[:, None], here)
    can_move = movable[rows][:, TUNABLE_ROLES] & ~inside_now
    r, j = np.nonzero(can_move)
    best_cost = np.full(can_move.shape, np.inf)
    best_rgb = np.zeros(can_move.shape + (3,), np.uint8)
    if len(r):
        cost, rgb = _nearest_inside(joint, r, here[r, j], oklab[rows[r], TUNABLE_ROLES[j]])
        best_cost[r, j], best_rgb[r, j] = cost, rgb
    can_move &= np.isfinite(best_cost)
    primary_first = (target & t.primary_inside).any(axis=1)[:, None] & (TUNABLE_ROLES == R_PRIMARY)[None]
    key = np.where(can_move, best_cost - 10.0 * primary_first, np.inf)
    order = np.argsort(key, axis=1)  # (R, 4) cheapest first, the primary first where a tone needs it inside
    moves = can_move.sum(axis=1)

    # Palettes with the first m moves made, m = 0..4: the fewest moves that meet the most named attributes.
    steps = len(TUNABLE_ROLES) + 1
    trial = np.repeat(lch[rows][:, None], steps, axis=1)  # (R, steps, 6, 3)
    moved_lch = oklab_to_oklch(rgb8_to_oklab(best_rgb))  # (R, 4, 3)
    for m in range(1, steps):
        on = np.flatnonzero(m <= moves)
        role = order[on, m - 1]
        trial[on, m:, TUNABLE_ROLES[role]] = moved_lch[on, role][:, None]
    # Only the trials with that many moves; the unmoved palette once per scheme (rows sorted by scheme: a scheme's
    # several target sets and monochrome hues share it).
    head = _starts(rows[1:] != rows[:-1])
    tried = np.arange(steps)[None] <= moves[:, None]
    tried[:, 0] = head
    r, m = np.nonzero(tried)
    score = np.full((len(rows), steps), -1.0)
    score[r, m] = _met_named(trial[r, m], present[rows[r]], brand[rows[r]], named[rows[r]])
    score[:, 0] = score[np.flatnonzero(head)[np.cumsum(head) - 1], 0]
    unmoved = np.zeros(len(named))
    unmoved[rows] = score[:, 0]  # per scheme
    chosen = np.argmax(score, axis=1)  # the first m that reaches the row's best score
    # Candidates: each row's first `chosen` moves, then (where tones contradict) roles split between target sets.
    cand = _Candidates(scheme=rows, change=np.argsort(order, axis=1) < chosen[:, None], rgb=best_rgb,
                       role_target=np.repeat(target[:, None], len(TUNABLE_ROLES), axis=1),
                       gain=score[np.arange(len(rows)), chosen] - score[:, 0], moves=chosen,
                       cost=np.where(np.argsort(order, axis=1) < chosen[:, None], best_cost, 0.0).sum(axis=1))
    short = np.zeros(len(named), bool)  # schemes that no one set's moves bring to every named attribute
    short[rows] = True
    short[rows[score.max(axis=1) >= named[rows].sum(axis=1)]] = False
    split = _split_fits(rows, target, can_move, best_rgb, best_cost, moved_lch, score[:, 0], lch, present, brand,
                        named, short)
    if split is not None:
        cand = _Candidates(*(np.concatenate([a, b]) for a, b in zip(cand.fields(), split.fields())))
    # Per scheme the candidate that meets the most, then with the fewest moves, then the least change.
    rank = np.lexsort((cand.cost, cand.moves, -cand.gain, cand.scheme))
    first = rank[_starts(cand.scheme[rank][1:] != cand.scheme[rank][:-1])]
    first = first[cand.gain[first] > 0]
    if not len(first):
        return []
    rows, change, best_rgb, role_target = cand.scheme[first], cand.change[first], cand.rgb[first], \
        cand.role_target[first]
    met_fit = unmoved[rows] + cand.gain[first]  # named attributes each fit meets (its trial's score)
    saved = lch[rows].copy(), oklab[rows].copy(), lab[rows].copy()
    r, j = _apply_moves((lch, oklab, lab), rows, change, best_rgb)
    s, role = rows[r], TUNABLE_ROLES[j]
    rgb_moved = best_rgb[r, j]
    reverted = _keep_distinct((lch, oklab, lab), brand, answer, rows, saved)
    if len(reverted):  # another primary inside the same ranges, far enough from the answer's other schemes
        refitted = _refit_distinct((lch, oklab, lab), present, brand, named, answer, rows, change, best_rgb, met_fit,
                                   reverted)
        reverted = np.setdiff1d(reverted, refitted)
        rgb_moved = best_rgb[r, j]
    done = ~np.isin(s, reverted)
    s, role, rgb_moved, r, j = s[done], role[done], rgb_moved[done], r[done], j[done]
    names = nearest_color_names(rgb8_to_oklab(rgb_moved)) if len(s) else []
    # What each colour is said to be tuned to: the targets of its set the scheme now meets (all of them where it meets
    # none of them, having gained another named attribute by the move).
    ids = attribute_rules().ids
    kept = np.flatnonzero(~np.isin(rows, reverted))
    meets = np.zeros((len(kept), len(t.columns)), bool)
    scheme_target = role_target[kept].any(axis=1)
    k, c = np.nonzero(scheme_target)
    meets[k, c] = attribute_rules().meets_each(lch[rows[kept[k]]], present[rows[kept[k]]], brand[rows[kept[k]]],
                                               t.columns[c])
    at = np.full(len(rows), -1)
    at[kept] = np.arange(len(kept))
    colour_target = role_target[r, j]  # (moves, F), only the kept schemes' moves are left
    met_here = meets[at[r]]
    colour_target &= np.where((met_here & colour_target).any(axis=1, keepdims=True), met_here, True)
    done = [ToneTuned(int(a), int(b), h, n, tuple(ids[t.columns[k]] for k in np.flatnonzero(row)))
            for a, b, h, n, row in zip(s.tolist(), role.tolist(), rgb8_to_hexes(rgb_moved), names, colour_target)]
    if retry and RETRY_WITH_PRIMARY_KEPT and len(reverted):
        again = np.zeros(len(named), bool)
        again[reverted] = True
        keep_primary = fixed.copy()
        keep_primary[reverted, R_PRIMARY] = True
        done += fit_tones(lch, oklab, lab, present, brand, keep_primary, named & again[:, None], answer, retry=False)
    return done


def _apply_moves(colours: tuple[np.ndarray, np.ndarray, np.ndarray], rows: np.ndarray, change: np.ndarray,
                 rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Put fitted colours in: scheme `rows` (R,), tunable roles moved `change` (R, 4), their 8-bit colours `rgb`
    (R, 4, 3) -> the (row, tunable role) index pairs moved. (S, 6, 3) OKLCH / OKLab / CIELAB change in place."""
    lch, oklab, lab = colours
    r, j = np.nonzero(change)
    s, role, moved = rows[r], TUNABLE_ROLES[j], rgb[r, j]
    oklab[s, role] = rgb8_to_oklab(moved)
    lch[s, role] = oklab_to_oklch(oklab[s, role])
    lab[s, role] = rgb8_to_lab_d65(moved)
    return r, j


def _refit_distinct(colours: tuple[np.ndarray, np.ndarray, np.ndarray], present: np.ndarray, brand: np.ndarray,
                    named: np.ndarray, answer: np.ndarray, rows: np.ndarray, change: np.ndarray, rgb: np.ndarray,
                    met_fit: np.ndarray, reverted: np.ndarray) -> np.ndarray:
    """Fitted schemes whose moved primary came within rule 9's deltaE 2000 of another scheme of their answer (so
    `_keep_distinct` undid them), fitted again with another primary: the nearest to the scheme's own of the
    REFIT_SHIFTS around the fitted one (lightness, hue) that meets as many named attributes and is distinct
    from every other scheme of the answer as they stand. Where several schemes of an answer are pulled into one
    narrow tone (pastel, warm, monochrome together), the later ones then stay fitted instead of all but the first
    missing the tone. (S, 6, 3) OKLCH / OKLab / CIELAB change in place; `rows`, `change`, `rgb` the fits as
    applied (rgb's primary column is updated for the schemes refitted), `met_fit` how many named attributes each
    fit meets (as its trial scored) -> the schemes refitted."""
    lch, oklab, lab = colours
    k = np.flatnonzero(np.isin(rows, reverted) & change[:, T_PRIMARY])
    if not len(k):
        return np.zeros(0, np.int64)
    s = rows[k]
    fit_lch = lch[s].copy()
    i, j = np.nonzero(change[k])
    fit_lch[i, TUNABLE_ROLES[j]] = oklab_to_oklch(rgb8_to_oklab(rgb[k[i], j]))
    need = met_fit[k]
    shift = REFIT_SHIFTS
    primary = fit_lch[:, R_PRIMARY]
    alt = np.stack(np.broadcast_arrays(np.clip(primary[:, None, 0] + shift[:, 0], 0.0, 1.0), primary[:, None, 1],
                                       (primary[:, None, 2] + shift[:, 1]) % 360.0), axis=-1)  # (n, G, 3)
    alt_rgb = oklch_to_rgb8(alt.reshape(-1, 3)).reshape(alt.shape).astype(np.uint8)
    alt_oklab = rgb8_to_oklab(alt_rgb.reshape(-1, 3)).reshape(alt.shape)
    alt_lab = rgb8_to_lab_d65(alt_rgb.reshape(-1, 3)).reshape(alt.shape)
    trial = np.repeat(fit_lch[:, None], len(shift), axis=1)
    trial[:, :, R_PRIMARY] = oklab_to_oklch(alt_oklab)
    n, g = alt.shape[:2]
    score = _met_named(trial.reshape(n * g, len(ROLES), 3), np.repeat(present[s], g, axis=0),
                       np.repeat(brand[s], g, axis=0), np.repeat(named[s], g, axis=0)).reshape(n, g)
    ok = score >= need[:, None]
    # Rule 9 against every other scheme of the answer (backgrounds never move; the accent as fitted).
    limit = load_attributes().rules.min_delta_e2000
    fit_accent = np.where(change[k, T_ACCENT, None], rgb8_to_lab_d65(rgb[k, T_ACCENT]), lab[s, R_ACCENT])
    # Every (refitted scheme, other scheme of its answer) pair at once.
    pair_i, pair_o = np.nonzero((answer[s][:, None] == answer[None]) & (s[:, None] != np.arange(len(answer))[None])
                                & ok.any(axis=1)[:, None])
    if len(pair_i):
        de_primary = delta_e2000_lab(alt_lab[pair_i], lab[pair_o, R_PRIMARY][:, None])  # (pairs, G)
        other_ok = (delta_e2000_lab(lab[s[pair_i], R_BACKGROUND], lab[pair_o, R_BACKGROUND]) >= limit) | (
            delta_e2000_lab(fit_accent[pair_i], lab[pair_o, R_ACCENT]) >= limit)
        clash = ~((de_primary >= limit) | (brand[pair_o, R_PRIMARY] & other_ok)[:, None])
        clashes = np.zeros(ok.shape, np.int64)
        np.add.at(clashes, pair_i, clash.astype(np.int64))
        ok &= clashes == 0
    distance = np.where(ok, np.sqrt(((alt_oklab - oklab[s, R_PRIMARY, None]) ** 2).sum(-1)), np.inf)
    pick = np.argmin(distance, axis=1)
    found = np.flatnonzero(np.isfinite(distance[np.arange(n), pick]))
    if not len(found):
        return np.zeros(0, np.int64)
    k, s, pick = k[found], s[found], pick[found]
    rgb[k, T_PRIMARY] = alt_rgb[found, pick]
    saved = lch[s].copy(), oklab[s].copy(), lab[s].copy()
    _apply_moves(colours, s, change[k], rgb[k])
    undone = _keep_distinct(colours, brand, answer, s, saved)
    return s[~np.isin(s, undone)]


def _answer_pairs(answer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(earlier, later) scheme rows of every pair of one answer (schemes of one answer adjacent)."""
    firsts, seconds = [], []
    for gap in range(1, int(np.bincount(answer).max()) if len(answer) else 1):
        a = np.flatnonzero(answer[:-gap] == answer[gap:])
        firsts.append(a)
        seconds.append(a + gap)
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def _indistinct_pairs(lab: np.ndarray, brand: np.ndarray, a: np.ndarray, b: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Of the pairs (a, b) of scheme rows, those that rule 9 does not call distinct."""
    limit = load_attributes().rules.min_delta_e2000
    de = delta_e2000_lab(lab[a][:, [R_PRIMARY, R_BACKGROUND, R_ACCENT]], lab[b][:, [R_PRIMARY, R_BACKGROUND, R_ACCENT]])
    by_brand = brand[a, R_PRIMARY] | brand[b, R_PRIMARY]
    distinct = (de[:, 0] >= limit) | (by_brand & ((de[:, 1] >= limit) | (de[:, 2] >= limit)))
    return a[~distinct], b[~distinct]


def _keep_distinct(colours: tuple[np.ndarray, np.ndarray, np.ndarray], brand: np.ndarray, answer: np.ndarray,
                   rows: np.ndarray, saved: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Undo the fitting of schemes (among `rows`) that made a pair of their answer indistinct (rule 9): the later
    scheme of such a pair where it was fitted, else the earlier; until none is left -> the rows undone."""
    lab = colours[2]
    fitted = np.zeros(len(answer), bool)
    fitted[rows] = True
    slot = np.full(len(answer), -1)
    slot[rows] = np.arange(len(rows))
    undone: list[np.ndarray] = []
    # Only pairs with a fitted scheme can clash; after the first round only those with a scheme just put back (the
    # others' colours and verdicts are unchanged), so rule 9 is tested on those pairs alone.
    a, b = _answer_pairs(answer)
    changed = fitted
    while True:
        keep = fitted[a] | fitted[b]  # for good: fitted only shrinks
        a, b, changed_pair = a[keep], b[keep], (changed[a] | changed[b])[keep]
        if not changed_pair.any():
            break
        a_bad, b_bad = _indistinct_pairs(lab, brand, a[changed_pair], b[changed_pair])
        clash = fitted[a_bad] | fitted[b_bad]
        if not clash.any():
            break
        a_bad, b_bad = a_bad[clash], b_bad[clash]
        back = np.unique(np.where(fitted[b_bad], b_bad, a_bad))
        for array, original in zip(colours, saved):
            array[back] = original[slot[back]]
        fitted[back] = False
        changed = np.zeros(len(answer), bool)
        changed[back] = True
        undone.append(back)
    return np.concatenate(undone) if undone else np.zeros(0, np.int64)
