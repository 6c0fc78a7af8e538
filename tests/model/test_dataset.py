"""The teacher's cue arrays are the structured features' own blocks, in the order the teacher's tables use."""

from __future__ import annotations

import numpy as np

from knowledge.attributes import find_cues
from knowledge.lexicon import cue_entries
from model.briefs import generate_briefs, in_language
from model.dataset import brief_arrays
from model.design_tensors import cue_ids
from model.teacher import cue_vectors


def test_cue_arrays_are_what_the_keywords_name_in_the_teacher_s_order():
    samples = [in_language(s, lang) for s in generate_briefs(40, "heldout") for lang in ("en", "zh")]
    arrays = brief_arrays(samples, progress=False)
    column = {c: k for k, c in enumerate(cue_ids())}  # the rows of the teacher's cue_palette_pass
    expected_colour = np.zeros((len(samples), len(column)), np.float32)
    for i, s in enumerate(samples):
        expected_colour[i, [column[c] for c in find_cues(s.brief.keywords)]] = 1.0
    expected_tone = np.stack([cue_vectors(cue_entries(s.brief.keywords))[0] for s in samples])
    assert expected_colour.any() and expected_tone.any()
    assert np.array_equal(arrays.color_cues, expected_colour)
    assert np.array_equal(arrays.tone_cues, expected_tone)
