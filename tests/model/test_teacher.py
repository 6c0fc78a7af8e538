"""The teacher's palette ranking is stable under rewording: a Chinese brief and its English original (the development
pairs, never the held-out ones) get mostly the same top palettes, which the keyword-semantics strengths before
2026-12-04 did not give."""

import numpy as np
import pytest

from evaluation.__main__ import teacher_outputs
from evaluation.parity_dev import dev_samples
from model.design_tensors import load_design_tensors
from model.teacher import SEMANTIC_BEFORE, Teacher


def _top5_agreement(teacher: Teacher) -> float:
    """Share of dev pairs whose en and zh briefs share >= 4 of the teacher's top-5 palettes."""
    en, zh = (teacher_outputs(dev_samples(language, language), teacher)["palette_ids"] for language in ("en", "zh"))
    overlap = np.array([len(set(a[:5]) & set(b[:5])) for a, b in zip(en, zh)])
    return float(np.mean(overlap >= 4))


@pytest.fixture(scope="module")
def tensors():
    return load_design_tensors()


def test_palette_top5_survives_translation(tensors):
    stable = _top5_agreement(Teacher(tensors))
    before = _top5_agreement(Teacher(tensors, semantic=SEMANTIC_BEFORE))
    # Measured 2026-12-04 on the 60 dev pairs: 0.800 now, 0.450 with the strengths before.
    assert stable >= 0.7
    assert stable >= before + 0.2


def test_semantic_strengths_still_order_near_ties(tensors):
    """Weak, not off: the same brief with different keywords still gets a different palette order."""
    samples = dev_samples("en", "en")
    ids = teacher_outputs(samples, Teacher(tensors))["palette_ids"]
    without = teacher_outputs(samples, Teacher(tensors, semantic={"style": 0.0, "palette": 0.0}))["palette_ids"]
    changed = np.mean([list(a[:5]) != list(b[:5]) for a, b in zip(ids, without)])
    assert changed > 0.3
