"""The frozen measurable definitions (knowledge/data/brief_attributes.json) load, cover the vocabulary and agree
with the taxonomy profiles they extend."""

from __future__ import annotations

import json

import pytest

from knowledge.attributes import (ATTRIBUTES_PATH, CUE_BLOCKERS_PATH, SCRIPT_POLICIES, cue_blockers, find_cues,
                                  load_attributes)
from knowledge.fonts import expressive_tag_names
from knowledge.labels import profile
from knowledge.lexicon import load_lexicon
from knowledge.taxonomy import Style, Tone

CATEGORIES = {"sans-serif", "serif", "display", "handwriting", "monospace"}


@pytest.fixture(scope="module")
def defs():
    return load_attributes()


def test_every_tone_and_style_has_a_palette_and_a_type_rule(defs):
    assert set(defs.tones) == {t.value for t in Tone}
    assert set(defs.styles) == {s.value for s in Style}
    tags = set(expressive_tag_names())
    for attr in [*defs.tones.values(), *defs.styles.values()]:
        rule = attr.palette
        assert rule.ranges is not None and 0 < rule.share <= 1, attr.id
        assert 0 <= rule.ranges.l[0] < rule.ranges.l[1] <= 1 and 0 <= rule.ranges.c[0] < rule.ranges.c[1] <= 0.37
        for lo, hi in rule.ranges.hues or ():
            assert 0 <= lo < hi <= 360
        fonts = attr.fonts
        assert fonts.heading_categories and fonts.heading_categories <= CATEGORIES, attr.id
        assert fonts.body_categories and fonts.body_categories <= {"sans-serif", "serif"}, attr.id  # never display
        assert fonts.script in SCRIPT_POLICIES
        assert set(fonts.also_if_tags) <= tags and set(fonts.avoid_tags) <= tags, attr.id
        assert attr.why


def test_ranges_are_the_taxonomy_ones_unless_overridden(defs):
    raw = json.loads(ATTRIBUTES_PATH.read_text(encoding="utf-8"))
    for tone, attr in defs.tones.items():
        taxonomy, override = profile("tone", tone)["oklch"], raw["tones"][tone]["palette"]
        for key, value in (("l", attr.palette.ranges.l), ("c", attr.palette.ranges.c)):
            assert list(value) == (override[key] if key in override else taxonomy[key]), (tone, key)
        expected = override["hues"] if "hues" in override else taxonomy["hues"]
        assert (attr.palette.ranges.hues is None) == (not expected), tone
        assert attr.palette.dark_background == profile("tone", tone)["dark_background"]


def test_the_issue_s_type_rules(defs):
    for luxury in (defs.tones["metallic_luxury"], defs.tones["elegant"], defs.styles["luxury_premium"],
                   defs.styles["elegant_classic"]):
        assert luxury.fonts.heading_categories == {"serif", "display"} and luxury.fonts.script == "secondary"
    for playful in (defs.tones["cute"], defs.styles["playful_cute"]):
        assert playful.fonts.heading_categories == {"display", "handwriting"}
    for sans in (defs.tones["tech_futuristic"], defs.styles["tech_futuristic"], defs.styles["minimalist"]):
        assert "sans-serif" in sans.fonts.heading_categories and sans.fonts.script == "no"
        assert not sans.fonts.heading_categories & {"serif", "display", "handwriting"}


def test_cue_boxes_are_well_formed(defs):
    assert len(defs.cues) >= 60
    for cue in defs.cues.values():
        rule = cue.palette
        assert rule.anchors or (rule.ranges is not None and rule.share > 0), cue.id
        for group in rule.anchors:
            for box in group:
                assert box.l[0] < box.l[1] and box.c[0] < box.c[1], cue.id
                for lo, hi in box.hues or ():
                    assert 0 <= lo < hi <= 360, cue.id


@pytest.mark.parametrize("text, expected", [
    ("ocean, cool, refreshing sea breeze", ["ocean"]),
    ("premium whisky, gold, heritage", ["whisky", "gold"]),
    ("seasonal limited edition, seasoning", []),  # "sea" only as a word
    ("black tea, white collar workers, ice cream", ["black_tea"]),  # the longer phrase wins
    ("网红 奶粉 吉祥物", []),  # 红 / 粉 / 吉祥 inside words that carry no colour
    ("中秋节日礼盒", ["mid_autumn", "festive_red"]),  # overlapping terms both count
    ("森林 海洋 抹茶", ["forest", "ocean", "matcha"]),
    # Words that hold a cue term but mean something else (knowledge/data/cue_blockers.json) ...
    ("粉丝专属 爆红单品", []),  # 粉丝 "fans", 爆红 "to become a hit"
    ("低筋面粉 葡萄牙蛋挞 咖啡因", []),  # flour, Portugal, caffeine
    ("red tape, golden age, black market", []),
    # ... while the cue itself, and words whose senses name its colour, still name it.
    ("粉色 粉红色 小红莓 咖啡馆", ["pink", "red", "brown"]),  # 小红莓 "cranberry" is red, 咖啡馆 "coffee shop"
    ("粉丝 粉色", ["pink"]),
    ("red tape, red", ["red"]),
    ("golden hour, gold", ["gold"]),
])
def test_find_cues(text, expected):
    assert find_cues(text) == expected


def test_cue_blockers_are_words_that_hold_a_cue_term():
    """Every blocker holds a cue term (else it blocks nothing) and is no term or neutral phrase itself (else it would
    silence a cue the definitions name)."""
    raw = json.loads(CUE_BLOCKERS_PATH.read_text(encoding="utf-8"))
    terms = load_attributes().cue_terms
    held = {b for found in cue_blockers().values() for b, _ in found}
    blockers = [b.casefold() for b in (*raw["en"], *raw["zh"])]
    assert len(blockers) >= 500
    assert not [b for b in blockers if b in terms]
    assert not [b for b in blockers if b not in held]


def test_a_lexicon_term_names_the_same_cues_in_en_and_zh():
    mismatched = [(e.zh, e.en) for e in load_lexicon() if find_cues(e.zh) != find_cues(e.en)]
    assert not mismatched
    assert sum(bool(find_cues(e.en)) for e in load_lexicon()) >= 150


def test_docs_state_every_definition(defs):
    """docs/teacher.md carries the frozen table of every tone, style and cue (the JSON is the source)."""
    text = (ATTRIBUTES_PATH.parents[2] / "docs" / "teacher.md").read_text(encoding="utf-8")
    section = text[text.index(f"## Measurable definitions (frozen {defs.frozen})"):]
    for id_ in [*defs.tones, *defs.styles, *defs.cues, *defs.boxes]:
        assert f"\n| {id_} |" in section, id_
