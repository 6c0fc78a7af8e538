"""The keyword probe stays a probe: big enough, in both languages, sourced, held by no shipped list, read by nothing
on the request path, and graded by colour regions that say yes and no where they should."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from contract.brief import Brief
from evaluation.keyword_probe import (
    PROBE_CONTEXTS, ProbeKeyword, collisions, honoured, library_chance, load_probe, probe_briefs,
)
from knowledge.attributes import Box
from knowledge.fonts import load_fonts

REPO = Path(__file__).resolve().parents[2]


def test_probe_is_big_bilingual_and_sourced():
    probe = load_probe()
    assert len(probe) >= 200
    by_language = {lang: sum(p.language == lang for p in probe) for lang in ("en", "zh")}
    assert min(by_language.values()) >= 80, by_language
    assert len({p.keyword for p in probe}) == len(probe)
    for p in probe:
        assert p.source == "common knowledge" or p.source.startswith(("http://", "https://")), p
        assert p.regions and p.colour, p
        for box in p.regions:
            assert 0 <= box.l[0] < box.l[1] <= 1 and 0 <= box.c[0] < box.c[1], p
            for lo, hi in box.hues or ():
                assert 0 <= lo < hi <= 360, p
    assert any(p.source.startswith("http") for p in probe if p.language == "zh")


def test_no_probe_keyword_is_in_a_shipped_list():
    """Adding a probe keyword to the lexicon, the cue terms or the colour names makes this fail: the probe would
    then grade a rule, not what the model learnt."""
    held = {p.keyword: collisions(p.keyword) for p in load_probe()}
    assert {k: v for k, v in held.items() if v} == {}


def test_collisions_catch_every_kind_of_shipped_string():
    assert collisions("pitaya") == []
    assert ("cue terms and neutral phrases", "mango") in collisions("mango")  # a cue term
    assert ("colour names", "persimmon") in collisions("persimmon")  # a colour name, whole word
    assert ("lexicon (inside the keyword)", "果汁") in collisions("火龙果汁")  # a lexicon term inside
    assert any(where == "lexicon" for where, _ in collisions("马卡龙"))  # inside a lexicon term (马卡龙色)
    assert collisions("seasonal pitaya") == []  # "sea" is a cue term, but not a word of "seasonal"


def test_nothing_on_the_service_side_reads_the_probe():
    pattern = re.compile(r"keyword_probe|probe_keywords|evaluation[./]probe|candidates\.tsv")
    for package in ("serve_app", "pipeline", "model", "knowledge"):
        for path in (REPO / package).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".json", ".yaml", ".yml", ".txt", ".tsv", ".toml"):
                assert not pattern.search(path.read_text(encoding="utf-8", errors="ignore")), path


def _scheme(colors: list[tuple[str, str]]) -> dict:
    fonts = load_fonts()
    return {"style": {"id": "minimalist"},
            "palette": {"colors": [{"hex": h, "role": r, "name": ""} for r, h in colors]},
            "typography": {"heading": {"family": "Inter", "category": fonts["Inter"].category},
                           "body": {"family": "Inter", "category": fonts["Inter"].category}}}


def test_a_scheme_honours_a_keyword_with_a_visible_colour_in_its_region():
    blue = ProbeKeyword("butterfly pea", "en", (Box(l=(0.0, 1.0), c=(0.06, 0.37), hues=((215.0, 280.0),)),),
                        "blue", "common knowledge")
    briefs = [Brief(product_category="beverage", package_format="can", keywords="butterfly pea")] * 3
    ground, text = ("background", "#f7f5f0"), ("text", "#1f1f1f")
    answers = [
        [_scheme([ground, ("primary", "#2f5fd0"), ("accent", "#d9a441"), text])],  # a clear blue primary
        [_scheme([ground, ("primary", "#c0392b"), ("accent", "#d9a441"), ("text", "#1a3a8f")])],  # blue only as text
        [_scheme([ground, ("primary", "#6d7585"), ("accent", "#d9a441"), text])],  # a blue-grey, below the chroma
    ]
    hit, keyword = honoured(briefs, answers, np.zeros(3, np.int64), (blue,))
    assert hit.tolist() == [True, False, False]
    assert keyword.tolist() == [0, 0, 0]


def test_probe_briefs_carry_only_the_keyword():
    probe = load_probe()[:2]
    briefs, owner = probe_briefs(probe)
    assert len(briefs) == len(probe) * len(PROBE_CONTEXTS)
    assert owner.tolist() == [0] * len(PROBE_CONTEXTS) + [1] * len(PROBE_CONTEXTS)
    for b, k in zip(briefs, owner):
        assert b.keywords == probe[k].keyword and not b.tone and not b.brand_colors
        assert b.locale.value == probe[k].language


def test_chance_is_a_share_and_a_narrow_region_scores_low():
    narrow = ProbeKeyword("x", "en", (Box(l=(0.28, 0.5), c=(0.16, 0.37), hues=((255.0, 275.0),)),), "klein", "")
    wide = ProbeKeyword("y", "zh", (Box(l=(0.0, 1.0), c=(0.0, 0.37)),), "anything", "")
    chance = library_chance((narrow, wide))
    assert chance["probe_chance_zh"] == 1.0  # every palette has a visible colour somewhere
    assert 0.0 <= chance["probe_chance_en"] < 0.2
