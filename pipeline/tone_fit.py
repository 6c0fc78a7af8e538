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
from knowledge.colors import delta_e2000_lab, nearest_color_names, oklch_to_rgb8, rgb8_to_hexes, rgb8_to_lab_d65, \
    rgb8_to_oklab
from knowledge.design_tables import ROLE_ORDER
from knowledge.fit_tables import Boxes, attribute_rules, oklab_to_oklch
from knowledge.taxonomy import PaletteRole

ROLES = [r.value for r in ROLE_ORDER]
R_BACKGROUND, R_PRIMARY, R_ACCENT = (ROLES.index(r) for r in ("background", "primary", "accent"))
TUNABLE_ROLES = np.array([ROLES.index(r.value) for r in (PaletteRole.primary, PaletteRole.accent,
                                                          PaletteRole.secondary, PaletteRole.highlight)])
HUE_MARGIN = 2.0  # degrees kept inside a hue range, so the 8-bit hex still reads inside
RANGE_MARGIN_L, RANGE_MARGIN_C = 0.01, 0.004  # likewise for lightness and chroma
LIGHTNESS_TRIES = 5  # lightnesses spread over the joint range, tried where the nearest one leaves the gamut
MOST_TARGETS = 6  # named tones (at most 4, contract.brief.Brief.tone) and tone-like cues fitted together
GREY_CHROMA = 0.015
HUE_TURNS = np.array([0.0, -20.0, 20.0, -40.0, 40.0])  # degrees, tried where the gamut needs it  # a colour greyed (below rule 2's chromatic chroma) has no hue to be wrong about


@dataclass(frozen=True)
class _ToneTables:
    """The attributes a palette meets by a share of its colours in ranges: the tones, and the cues graded as a
    tone or by a share ("macaron pastel colours", "earth tones", "light colours"); F of them."""

    columns: np.ndarray  # (F,) their columns among the named attributes (tones, then cues)
    ranges: Boxes  # (F) their OKLCH ranges
    l: np.ndarray  # (F, 2)
    c: np.ndarray  # (F, 2)
    hue_allowed: np.ndarray  # (F, 360) bool: integer hue allowed (with HUE_MARGIN) by the hue ranges
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


def _arc_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(a - b) % 360.0
    return np.minimum(d, 360.0 - d)


def _spread_anchor(lch: np.ndarray, counted: np.ndarray, movable: np.ndarray, chromatic: float) -> np.ndarray:
    """(R,) the hue a single-hue tone (monochrome) gathers a scheme's chromatic colours around: a colour that cannot
    move (a cue's), else the primary, else the most chromatic counted colour."""
    weight = np.where(counted & (lch[..., 1] >= chromatic), lch[..., 1], -1.0)
    weight = weight + 10.0 * (weight >= 0) * (~movable) + 5.0 * (weight >= 0) * (np.arange(len(ROLES)) == R_PRIMARY)
    return lch[np.arange(len(lch)), np.argmax(weight, axis=1), 2]


def _target_tones(tones: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, T) named tones -> (rows, (rows, T) targets): per scheme, every largest set of its named tones whose
    ranges can all be met at once (lightness, chroma and hue ranges overlap): all of them where they agree, else
    each maximal agreeing subset (pastel + vivid + fresh -> pastel + fresh, vivid + fresh), so that where tones
    contradict the fit still meets as many as it can."""
    t = _tone_tables()
    most = MOST_TARGETS
    order = np.argsort(~tones, axis=1, kind="stable")[:, :most]  # named tones first
    count = tones.sum(axis=1)
    bits = (np.arange(1, 1 << most)[:, None] >> np.arange(most)) & 1  # (15, 4) every non-empty subset
    usable = (bits * (np.arange(most) >= count[:, None, None])).sum(-1) == 0  # (S, 15) only named tones
    member = np.zeros((len(tones), len(bits), tones.shape[1]), bool)
    s, k, j = np.nonzero(usable[..., None] & bits[None].astype(bool))
    member[s, k, order[s, j]] = True
    lo_l = np.where(member, t.l[:, 0], -np.inf).max(-1)
    hi_l = np.where(member, t.l[:, 1], np.inf).min(-1)
    lo_c = np.where(member, t.c[:, 0], -np.inf).max(-1)
    hi_c = np.where(member, t.c[:, 1], np.inf).min(-1)
    hue_any = ((member.astype(np.int32) @ (~t.hue_allowed).astype(np.int32)) == 0).any(-1)
    ok = usable & (lo_l <= hi_l - 2 * RANGE_MARGIN_L) & (lo_c <= hi_c - 2 * RANGE_MARGIN_C) & hue_any
    # Maximal: no agreeing strict superset among the subsets.
    superset = ((bits[:, None] & ~bits[None] & 1).sum(-1) == 0) & (bits[:, None].sum(-1) > bits[None].sum(-1))
    dominated = (ok.astype(np.int32) @ superset.astype(np.int32)) > 0  # (S, 15): [s, k] some j > k agrees
    rows, k = np.nonzero(ok & ~dominated)
    return rows, member[rows, k]


def fit_tones(lch: np.ndarray, oklab: np.ndarray, lab: np.ndarray, present: np.ndarray, brand: np.ndarray,
              fixed: np.ndarray, named: np.ndarray, answer: np.ndarray) -> list[ToneTuned]:
    """Move each scheme's free colours the least needed to meet every tone it names (see the module docstring).

    (S, 6, 3) OKLCH / OKLab / CIELAB by role change in place; `present`, `brand`, `fixed` (roles that must not
    move) (S, 6); `named` (S, tones + cues) the brief's named attributes; `answer` (S,) each scheme's brief, schemes
    of one answer adjacent in rank order. -> the colours moved.
    """
    t = _tone_tables()
    exempt = np.isin(ROLES, load_attributes().rules.exempt_roles)
    counted = present & ~exempt & ~brand
    movable = counted & ~fixed & np.isin(np.arange(len(ROLES)), TUNABLE_ROLES)
    # Only schemes that miss a named tone (or tone-like cue) and have a colour free to move.
    tones = named[:, t.columns]
    need = np.flatnonzero(tones.any(axis=1) & movable.any(axis=1))
    if not len(need):
        return []
    need = need[_met_named(lch[need], present[need], brand[need], named[need] & _tone_mask()) < tones[need].sum(1)]
    if not len(need):
        return []
    # One row per (scheme, set of its tones to fit to).
    pick, target = _target_tones(tones[need])
    rows = need[pick]
    if not len(rows):
        return []
    lo_l = np.where(target, t.l[:, 0], -np.inf).max(axis=1)
    hi_l = np.where(target, t.l[:, 1], np.inf).min(axis=1)
    lo_c = np.where(target, t.c[:, 0], -np.inf).max(axis=1)
    hi_c = np.where(target, t.c[:, 1], np.inf).min(axis=1)
    hue_ok = (target.astype(np.int32) @ (~t.hue_allowed).astype(np.int32)) == 0  # (R, 360)
    single_hue = (target & np.isfinite(t.max_hue_spread)).any(axis=1)
    spread = np.where(target, t.max_hue_spread, np.inf).min(axis=1)
    anchor = _spread_anchor(lch[rows], counted[rows], movable[rows], t.chromatic)
    if single_hue.any():  # every chromatic colour within half the spread of the anchor hue
        near = _arc_distance(np.arange(360.0)[None], anchor[:, None]) <= spread[:, None] / 2 - HUE_MARGIN
        hue_ok &= np.where(single_hue[:, None], near, True)
    keep = hue_ok.any(axis=1)
    rows, target, hue_ok, single_hue, spread, anchor, lo_l, hi_l, lo_c, hi_c = (
        a[keep] for a in (rows, target, hue_ok, single_hue, spread, anchor, lo_l, hi_l, lo_c, hi_c))
    if not len(rows):
        return []

    # Targets for every tunable role: L clamped (then other lightnesses in range), C clamped, hue kept where
    # allowed else the nearest allowed; or greyed where the joint chroma range reaches below chromatic.
    here = lch[rows][:, TUNABLE_ROLES]  # (R, 4, 3)
    l_lo, l_hi = lo_l + RANGE_MARGIN_L, hi_l - RANGE_MARGIN_L
    c_lo, c_hi = lo_c + RANGE_MARGIN_C, hi_c - RANGE_MARGIN_C
    lights = np.concatenate([np.clip(here[..., 0], l_lo[:, None], l_hi[:, None])[..., None],
                             (l_lo[:, None] + (l_hi - l_lo)[:, None] * np.linspace(0, 1, LIGHTNESS_TRIES))[:, None]
                             .repeat(len(TUNABLE_ROLES), axis=1)], axis=-1)  # (R, 4, K)
    chroma = np.clip(here[..., 1], c_lo[:, None], c_hi[:, None])
    degree = np.rint(here[..., 2]).astype(np.int64) % 360
    allowed_here = np.take_along_axis(hue_ok, degree, axis=1)
    distance = _arc_distance(np.arange(360.0)[None, None], here[..., 2, None])  # (R, 4, 360)
    nearest = np.argmin(np.where(hue_ok[:, None], distance, np.inf), axis=-1).astype(np.float64)
    hue = np.where(allowed_here, here[..., 2], nearest)
    can_grey = c_lo < t.chromatic - 0.01
    grey = np.clip(np.full_like(c_lo, GREY_CHROMA), c_lo, c_hi)
    # Hue options: the hue (kept or the nearest allowed), then turned by HUE_TURNS where the chroma a tone asks is
    # out of sRGB's gamut at that hue and lightness (a vivid yellow cannot be dark), and the scheme's own main hue
    # for a grey that must take chroma (a grey has no hue to keep). Costlier, so taken only where needed.
    hues = np.concatenate([hue[..., None] + HUE_TURNS, np.broadcast_to(anchor[:, None, None], hue.shape + (1,))],
                          axis=-1) % 360.0  # (R, 4, H)
    n_l, n_h = lights.shape[-1], hues.shape[-1]
    coloured = np.stack(np.broadcast_arrays(lights[..., None, :], chroma[..., None, None], hues[..., None]), axis=-1)
    greyed = np.stack(np.broadcast_arrays(lights, grey[:, None, None], here[..., 2, None]), axis=-1)
    target_lch = np.concatenate([coloured.reshape(len(rows), len(TUNABLE_ROLES), n_l * n_h, 3), greyed], axis=2)
    k = n_l * n_h  # options from k on are greyed
    rgb = oklch_to_rgb8(target_lch)
    new_oklab = rgb8_to_oklab(rgb)
    new_lch = oklab_to_oklch(new_oklab)
    # Judged as the answer carries it: inside every target tone's ranges (rule 2), and near the single hue.
    inside = (t.ranges.contains(new_lch, hue_needs_chroma=t.chromatic) | ~target[:, None, None]).all(-1)
    chromatic = new_lch[..., 1] >= t.chromatic
    inside &= ~(single_hue[:, None, None] & chromatic
                & (_arc_distance(new_lch[..., 2], anchor[:, None, None]) > spread[:, None, None] / 2))
    inside[..., k:] &= can_grey[:, None, None]
    cost = np.where(inside, np.sqrt(((new_oklab - oklab[rows][:, TUNABLE_ROLES, None]) ** 2).sum(-1)), np.inf)
    best = np.argmin(cost, axis=-1)  # (R, 4)
    best_cost = np.take_along_axis(cost, best[..., None], -1)[..., 0]
    best_rgb = np.take_along_axis(rgb, best[..., None, None], 2)[:, :, 0]

    # Which colours already sit inside every target tone (grounds as rule 2 has them), and which must move first.
    inside_now = (attribute_rules().inside(lch[rows])[..., t.columns] | ~target[:, None]).all(-1)
    chromatic_now = lch[rows][..., 1] >= t.chromatic
    inside_now &= ~(single_hue[:, None] & chromatic_now
                    & (_arc_distance(lch[rows][..., 2], anchor[:, None]) > spread[:, None] / 2))
    inside_now = inside_now[:, TUNABLE_ROLES]
    can_move = movable[rows][:, TUNABLE_ROLES] & ~inside_now & np.isfinite(best_cost)
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
    rep = np.repeat(rows, steps)
    score = _met_named(trial.reshape(-1, len(ROLES), 3), present[rep], brand[rep], named[rep]).reshape(-1, steps)
    score[np.arange(steps)[None] > moves[:, None]] = -1
    chosen = np.argmax(score, axis=1)  # the first m that reaches the row's best score
    gain = score[np.arange(len(rows)), chosen] - score[:, 0]
    moved_cost = np.where(np.argsort(order, axis=1) < chosen[:, None], best_cost, 0.0).sum(axis=1)
    # Per scheme the row that meets the most, then with the fewest moves, then the least change.
    rank = np.lexsort((moved_cost, chosen, -gain, rows))
    first = rank[np.r_[True, rows[rank][1:] != rows[rank][:-1]]]
    first = first[gain[first] > 0]
    if not len(first):
        return []
    rows, chosen, order, best_rgb, target = rows[first], chosen[first], order[first], best_rgb[first], target[first]
    change = np.argsort(order, axis=1) < chosen[:, None]  # (R', 4) the tunable roles moved
    saved = lch[rows].copy(), oklab[rows].copy(), lab[rows].copy()
    r, j = np.nonzero(change)
    s, role = rows[r], TUNABLE_ROLES[j]
    rgb_moved = best_rgb[r, j]
    oklab[s, role] = rgb8_to_oklab(rgb_moved)
    lch[s, role] = oklab_to_oklch(oklab[s, role])
    lab[s, role] = rgb8_to_lab_d65(rgb_moved)
    reverted = _keep_distinct((lch, oklab, lab), brand, answer, rows, saved)
    done = ~np.isin(s, reverted)
    s, role, rgb_moved, r = s[done], role[done], rgb_moved[done], r[done]
    names = nearest_color_names(rgb8_to_oklab(rgb_moved)) if len(s) else []
    # What the scheme is said to be tuned to: the targets it now meets (all of them where it meets none of them,
    # having gained another named attribute by the move).
    ids = attribute_rules().ids
    kept = np.flatnonzero(~np.isin(rows, reverted))
    meets = attribute_rules().meets(lch[rows[kept]], present[rows[kept]], brand[rows[kept]])[:, t.columns]
    now = target.copy()
    now[kept] &= np.where((meets & target[kept]).any(axis=1, keepdims=True), meets, True)
    tones = [tuple(ids[t.columns[k]] for k in np.flatnonzero(row)) for row in now]
    return [ToneTuned(int(a), int(b), h, n, tones[i]) for a, b, h, n, i in zip(
        s.tolist(), role.tolist(), rgb8_to_hexes(rgb_moved), names, r.tolist())]


def _indistinct_pairs(lab: np.ndarray, brand: np.ndarray, answer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(earlier, later) scheme rows of every pair of one answer that rule 9 does not call distinct."""
    limit = load_attributes().rules.min_delta_e2000
    firsts, seconds = [], []
    for gap in range(1, int(np.bincount(answer).max()) if len(answer) else 1):
        a = np.flatnonzero(answer[:-gap] == answer[gap:])
        firsts.append(a)
        seconds.append(a + gap)
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a, b = np.concatenate(firsts), np.concatenate(seconds)
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
    while True:
        a, b = _indistinct_pairs(lab, brand, answer)
        clash = fitted[a] | fitted[b]
        if not clash.any():
            break
        a, b = a[clash], b[clash]
        back = np.unique(np.where(fitted[b], b, a))
        for array, original in zip(colours, saved):
            array[back] = original[slot[back]]
        fitted[back] = False
        undone.append(back)
    return np.concatenate(undone) if undone else np.zeros(0, np.int64)
