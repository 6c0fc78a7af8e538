"""Typography knowledge: font metadata, expressive tags and the pairing library."""

from __future__ import annotations

import csv
import json
from collections import Counter

import numpy as np
import pytest

from knowledge import fonts as kf
from knowledge.tools import build_fonts


@pytest.fixture(scope="module")
def families() -> dict[str, kf.FontFamily]:
    return kf.load_fonts()


@pytest.fixture(scope="module")
def pairs() -> list[kf.FontPair]:
    return kf.load_font_pairs()


def test_families_metadata_is_well_formed(families: dict[str, kf.FontFamily]) -> None:
    assert len(families) > 1500
    categories = {"sans-serif", "serif", "display", "handwriting", "monospace"}
    for font in families.values():
        assert font.category in categories
        assert font.weights and all(isinstance(w, int) and 100 <= w <= 1000 for w in font.weights)
        assert list(font.weights) == sorted(set(font.weights))
        assert font.subsets
    raw = json.loads(kf.FONTS_PATH.read_text(encoding="utf-8"))
    names = [f["family"] for f in raw["families"]]
    assert names == sorted(names) and len(names) == len(set(names))


def test_tags_match_the_csv(families: dict[str, kf.FontFamily]) -> None:
    with kf.TAGS_CSV_PATH.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["Group/Tag"].startswith("/Expressive/")]
    assert rows
    checked = 0
    for row in rows:
        font = families.get(row["Family"])
        if font is None:  # the CSV also tags families the npm metadata no longer lists
            continue
        tag = row["Group/Tag"].removeprefix("/Expressive/")
        assert font.tags[tag] == pytest.approx(float(row["Weight"]) / 100, abs=1e-4)
        checked += 1
    assert checked > 0.9 * len(rows)
    assert all(0 < v <= 1 for f in families.values() for v in f.tags.values())


def test_expressive_tag_names_are_sorted_and_complete(families: dict[str, kf.FontFamily]) -> None:
    names = kf.expressive_tag_names()
    assert names == sorted(set(names))
    assert {"Calm", "Playful", "Sophisticated", "Cute", "Vintage", "Futuristic", "Business"} <= set(names)
    assert {t for f in families.values() for t in f.tags} <= set(names)


def test_subset_helpers(families: dict[str, kf.FontFamily]) -> None:
    assert families["Noto Sans SC"].covers_zh
    assert families["Inter"].covers_latin and not families["Inter"].covers_zh
    # zh = Google Fonts' SC slicing, or a measured share of GB2312 level 1 in the served files (TC faces)
    assert all(f.covers_zh == ("chinese-simplified" in f.subsets or f.zh_coverage >= kf.ZH_MIN_COVERAGE)
               for f in families.values())
    assert families["Cactus Classical Serif"].covers_zh and not families["UoqMunThenKhung"].covers_zh
    assert not families["Noto Serif TC"].covers_zh  # unmeasured TC faces stay out


def test_gb2312_level1_is_the_3755_everyday_hanzi() -> None:
    from knowledge.tools.measure_zh_coverage import gb2312_level1

    chars = gb2312_level1()
    assert len(chars) == len(set(chars)) == 3755
    assert chars[0] == "啊" and chars[-1] == "座" and "中" in chars


def test_every_tone_and_style_has_two_zh_headings_for_its_first_scheme() -> None:
    """A zh answer's first two schemes can each meet the type rule without repeating a heading face; before the
    CJK pool grew, elegant / metallic luxury had one (Noto Serif SC)."""
    from knowledge.fit_tables import pair_passes

    passes, pairs = pair_passes(), kf.load_font_pairs()
    zh = np.array([p.zh for p in pairs])
    heading = np.array([p.heading_family for p in pairs])
    short = {rule: sorted(set(heading[zh & passes.first[:, j]])) for j, rule in enumerate(passes.ids)
             if len(set(heading[zh & passes.first[:, j]])) < 2}
    assert not short, short


def test_pair_families_and_weights_exist(families: dict[str, kf.FontFamily], pairs: list[kf.FontPair]) -> None:
    for p in pairs:
        assert p.heading_family in families, p.id
        assert p.body_family in families, p.id
        assert p.heading_weight in families[p.heading_family].weights, p.id
        assert p.body_weight in families[p.body_family].weights, p.id


def test_zh_pairs_cover_simplified_chinese(families: dict[str, kf.FontFamily], pairs: list[kf.FontPair]) -> None:
    zh = [p for p in pairs if p.zh]
    assert len(zh) >= 40
    for p in zh:
        assert families[p.heading_family].covers_zh and families[p.body_family].covers_zh, p.id


def test_latin_pairs_cover_latin(families: dict[str, kf.FontFamily], pairs: list[kf.FontPair]) -> None:
    for p in pairs:
        if not p.zh:
            assert families[p.heading_family].covers_latin and families[p.body_family].covers_latin, p.id


def test_counts_ids_and_no_repeats(pairs: list[kf.FontPair]) -> None:
    assert len(pairs) >= 240
    assert len({p.id for p in pairs}) == len(pairs)
    combos = Counter((p.heading_family, p.heading_weight, p.body_family, p.body_weight) for p in pairs)
    assert combos.most_common(1)[0][1] == 1


def test_moods_cover_every_expressive_tag(pairs: list[kf.FontPair]) -> None:
    names = set(kf.expressive_tag_names())
    strong = Counter(t for p in pairs for t, v in p.mood.items() if v >= 0.3)
    for tag in names:
        assert strong[tag] >= 3, f"{tag} has too few pairs"
    for p in pairs:
        assert p.mood and set(p.mood) <= names, p.id
        assert all(0 < v <= 1 for v in p.mood.values()), p.id


def test_latin_mood_follows_heading_and_body_tags(families: dict[str, kf.FontFamily],
                                                  pairs: list[kf.FontPair]) -> None:
    # Without the weight nudges the mood is 0.7 * heading + 0.3 * body.
    for p in pairs:
        if p.zh or p.heading_weight >= 800 or p.body_weight <= 300:
            continue
        h, b = families[p.heading_family].tags, families[p.body_family].tags
        for tag in set(h) | set(b):
            expected = min(1.0, 0.7 * h.get(tag, 0) + 0.3 * b.get(tag, 0))
            assert p.mood.get(tag, 0) == pytest.approx(expected, abs=2e-3), (p.id, tag)


def test_rationales_present(pairs: list[kf.FontPair]) -> None:
    for p in pairs:
        assert p.rationale_en.endswith(".") and p.rationale_zh.endswith("。"), p.id
        assert any("\u4e00" <= ch <= "\u9fff" for ch in p.rationale_zh), p.id


def test_fresh_load() -> None:
    # Load time is reported by `python -m benchmarks.knowledge_load`, never asserted: wall-clock bounds flake
    # on shared CI machines.
    kf.clear_caches()
    assert kf.load_fonts() and kf.load_font_pairs() and kf.expressive_tag_names()


def test_build_is_deterministic_and_matches_committed_file() -> None:
    first = build_fonts.build_pairs()
    second = build_fonts.build_pairs()
    assert first == second
    assert build_fonts.dump(first) == kf.FONT_PAIRS_PATH.read_text(encoding="utf-8")
