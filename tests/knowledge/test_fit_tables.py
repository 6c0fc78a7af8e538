"""knowledge.fit_tables (what the teacher and post-processing read) agrees with evaluation.fit (the grader, its own
code) on every library palette and font pair, and on changed colours with brand masks; and the comparison is able
to see a difference when one range moves."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from evaluation import fit
from knowledge.attributes import Box, load_attributes
from knowledge.fit_tables import (
    ROLES, PaletteRules, library_colours, meets_cues, meets_tones, pair_passes, palette_passes,
)
from knowledge.fonts import load_font_pairs

# fit_tables is by ROLE_ORDER; the grader by the PaletteRole enum order.
TO_GRADER = [ROLES.index(r) for r in fit.ROLES]


def grader(rules, lch, present, brand) -> np.ndarray:
    """(N, A) the grader's verdicts, one rule at a time, in the grader's role order."""
    return np.stack([fit.palette_met(rule, lch[:, TO_GRADER], present[:, TO_GRADER], brand[:, TO_GRADER])
                     for rule in rules], axis=1)


@pytest.fixture(scope="module")
def library():
    return library_colours()


def tone_rules_list():
    defs = load_attributes()
    return [defs.tones[t].palette for t in fit.TONES]


def cue_rules_list():
    return [a.palette for a in load_attributes().cues.values()]


def test_library_palettes_agree_with_the_grader(library):
    none = np.zeros_like(library.present)
    passes = palette_passes()
    assert passes.cue_ids == list(load_attributes().cues)
    np.testing.assert_array_equal(passes.tone, grader(tone_rules_list(), library.lch, library.present, none))
    np.testing.assert_array_equal(passes.cue, grader(cue_rules_list(), library.lch, library.present, none))
    # Not a table of constants: every tone has palettes that pass and palettes that fail.
    assert passes.tone.any(axis=0).all() and (~passes.tone).any(axis=0).all()


def test_changed_colours_with_brand_masks_agree_with_the_grader(library):
    """Library palettes with random colours swapped in and random roles marked brand (what post-processing
    checks after substituting brand colours or putting a cue colour in)."""
    rng = np.random.default_rng(15)
    pick = rng.choice(len(library.lch), 1500, replace=False)
    lch = library.lch[pick].copy()
    present = library.present[pick].copy()
    swap = rng.random(present.shape) < 0.3
    random_lch = np.stack([rng.uniform(0.05, 0.99, swap.shape), rng.uniform(0.0, 0.3, swap.shape),
                           rng.uniform(0.0, 360.0, swap.shape)], axis=-1)
    lch[swap] = random_lch[swap]
    brand = present & (rng.random(present.shape) < 0.25)
    np.testing.assert_array_equal(meets_tones(lch, present, brand), grader(tone_rules_list(), lch, present, brand))
    np.testing.assert_array_equal(meets_cues(lch, present, brand), grader(cue_rules_list(), lch, present, brand))


def test_the_comparison_sees_a_moved_range(library):
    """Widen one tone's chroma range in the table only: the grader (unchanged rule) must then disagree."""
    rules = tone_rules_list()
    k = fit.TONES.index("pastel")
    moved = dataclasses.replace(rules[k], ranges=Box(l=rules[k].ranges.l, c=(0.0, 0.3), hues=rules[k].ranges.hues))
    table = PaletteRules.of(fit.TONES, [*rules[:k], moved, *rules[k + 1:]])
    none = np.zeros_like(library.present)
    mine = table.meets(library.lch, library.present, none)
    theirs = grader(rules, library.lch, library.present, none)
    assert (mine[:, k] != theirs[:, k]).sum() > 0
    np.testing.assert_array_equal(np.delete(mine, k, 1), np.delete(theirs, k, 1))


def pair_grader(first: bool) -> np.ndarray:
    """(F, n_tones + n_styles) the grader's type verdicts, each pair alone in its answer at rank 0 or 1."""
    defs = load_attributes()
    pairs = load_font_pairs()
    n = len(pairs)
    table = fit.SchemeTable(answer=np.arange(n), rank=np.full(n, 0 if first else 1), lch=None, lab=None,
                            luminance=None, present=None, brand=None, style=None,
                            **fit._type_columns([p.heading_family for p in pairs], [p.body_family for p in pairs]))
    rules = [defs.tones[t].fonts for t in fit.TONES] + [defs.styles[s].fonts for s in fit.STYLES]
    return np.stack([fit.type_ok(rule, table) for rule in rules], axis=1)


def test_font_pairs_agree_with_the_grader():
    passes = pair_passes()
    assert passes.ids == fit.TONES + fit.STYLES
    np.testing.assert_array_equal(passes.first, pair_grader(first=True))
    np.testing.assert_array_equal(passes.later, pair_grader(first=False))
    # The secondary script policy makes the two differ somewhere, and later never refuses what first accepts.
    assert (passes.later & ~passes.first).any()
    assert not (passes.first & ~passes.later).any()
    # The comparison can fail: first and later tables are not interchangeable against the grader.
    assert (passes.later != pair_grader(first=True)).any()
