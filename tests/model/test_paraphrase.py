"""Paraphrase-robust training: rewordings keep every term the brief names, and the network is graded against the
teacher's scores of the brief as written whatever text it was shown."""

import random

import numpy as np
import pytest
import torch

from contract.brief import MAX_KEYWORD_CHARS
from knowledge.gloss import gloss_run
from knowledge.lexicon import load_lexicon
from model.briefs import FILLER_WORDS, generate_briefs, paraphrase_keywords
from model.checkpoint import build_heads
from model.dataset import brief_arrays
from model.design_tensors import load_design_tensors
from model.teacher import Teacher
from model.train import distill_loss


def _term_forms(index: int) -> set[str]:
    entry = load_lexicon()[index]
    glossed = gloss_run(entry.zh)
    return {entry.en, " ".join(g for _, g in glossed.words if g)}


def test_rewording_keeps_every_term_and_adds_only_filler():
    rng = random.Random(3)
    samples = [s for s in generate_briefs(200, "train") if s.terms]
    changed = 0
    for sample in samples:
        text = paraphrase_keywords(sample, rng)
        assert len(text) <= MAX_KEYWORD_CHARS
        changed += text != sample.brief.keywords
        for index in sample.terms:  # a term may only be lost to the length limit, never to the rewording
            assert any(form in text for form in _term_forms(index)) or len(text) + 20 > MAX_KEYWORD_CHARS
        leftover = text
        for index in sample.terms:
            for form in sorted(_term_forms(index), key=len, reverse=True):
                leftover = leftover.replace(form, " ", 1) if form in leftover else leftover
        for filler in sorted(FILLER_WORDS, key=len, reverse=True):
            leftover = leftover.replace(filler, " ")
        assert set(leftover.replace(",", " ").split()) <= {"and", "with", "for"}, (text, leftover)
    assert changed > 0.8 * len(samples)


def test_brief_without_keywords_stays_without():
    sample = next(s for s in generate_briefs(200, "train") if not s.terms)
    assert paraphrase_keywords(sample, random.Random(0)) == sample.brief.keywords


@pytest.fixture(scope="module")
def setting():
    tensors = load_design_tensors()
    torch.manual_seed(0)
    data = brief_arrays(generate_briefs(64, "train"), progress=False)
    return build_heads(tensors), Teacher(tensors), data.tensors()


def test_network_reads_the_shown_text_and_the_teacher_the_written_one(setting):
    heads, teacher, batch = setting
    plain = distill_loss(heads, batch, teacher)[0].item()
    same = distill_loss(heads, batch, teacher, batch[1])[0].item()
    other = torch.roll(batch[1], 1, dims=0)
    shown = distill_loss(heads, batch, teacher, other)[0].item()
    # The target is the written brief's: showing a swapped text changes the loss, but feeding those swapped texts
    # as the brief itself (teacher and network alike) gives yet another loss.
    swapped = distill_loss(heads, (batch[0], other, *batch[2:]), teacher)[0].item()
    assert same == plain
    assert not np.isclose(shown, plain)
    assert not np.isclose(shown, swapped)
