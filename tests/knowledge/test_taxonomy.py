"""taxonomy.json: complete bilingual labels and well-formed design profiles that reference only known ids."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from knowledge import labels
from knowledge.layouts import load_layout_templates
from knowledge.taxonomy import VOCABULARIES, ids

REPO = Path(__file__).resolve().parents[2]
RAW = json.loads((REPO / "knowledge" / "data" / "taxonomy.json").read_text(encoding="utf-8"))
# The project's own copy (PROVENANCE.md): users get the project, so the test reads nothing outside it.
FONT_TAG_CSV = REPO / "knowledge" / "data" / "google_fonts_tags" / "families.csv"
FONT_CATEGORIES = {"serif", "sans-serif", "display", "handwriting", "monospace"}
CJK = re.compile(r"[\u4e00-\u9fff]")
PROFILED = {"tone", "style", "product_category", "audience", "package_format"}


def _expressive_tags() -> set[str]:
    with FONT_TAG_CSV.open(encoding="utf-8", newline="") as f:
        return {
            row["Group/Tag"].removeprefix("/Expressive/")
            for row in csv.DictReader(f)
            if row["Group/Tag"].startswith("/Expressive/")
        }


def _entries(vocab: str) -> dict[str, dict]:
    return {k: v for k, v in RAW[vocab].items() if not k.startswith("_")}


@pytest.mark.parametrize("vocab", [*VOCABULARIES, "locale"])
def test_every_id_has_en_and_zh_labels_and_nothing_extra(vocab: str) -> None:
    expected = set(labels.LABELLED_VOCABULARIES[vocab].__members__)
    assert set(_entries(vocab)) == expected
    for id_, entry in _entries(vocab).items():
        assert entry["en"].strip() and entry["zh"].strip(), id_
        assert CJK.search(entry["zh"]), f"{vocab}.{id_} zh label has no Chinese: {entry['zh']!r}"
        assert not CJK.search(entry["en"]), f"{vocab}.{id_} en label has Chinese"


def test_no_unknown_vocabularies_and_notes_present() -> None:
    vocabs = {k for k in RAW if not k.startswith("_")}
    assert vocabs == set(labels.LABELLED_VOCABULARIES)
    for vocab in PROFILED:
        assert len(RAW[vocab]["_notes"]) > 40, vocab


def test_labels_api() -> None:
    assert labels.label("tone", "morandi", "zh") == "莫兰迪色"
    assert labels.label("tone", "guochao", "zh") == "国潮"
    assert labels.label("package_format", "can") == "Can"
    with pytest.raises(KeyError):
        labels.label("tone", "not_a_tone")
    with pytest.raises(ValueError):
        labels.label("tone", "morandi", "fr")
    p = labels.profile("tone", "neon")
    p["oklch"]["c"][0] = -1  # a copy: mutating it must not leak into the cache
    assert labels.profile("tone", "neon")["oklch"]["c"][0] >= 0


def test_all_options_order_and_shape() -> None:
    both = labels.all_options()
    assert list(both) == [*VOCABULARIES, "locale"]
    for vocab, options in both.items():
        assert [o["id"] for o in options] == [m.value for m in labels.LABELLED_VOCABULARIES[vocab]]
        assert all(o["en"] and o["zh"] for o in options)
    zh = labels.all_options("zh")
    assert zh["tone"][0] == {"id": "morandi", "label": "莫兰迪色"}


def _check_weights(mapping: dict[str, float], known: set[str], where: str) -> None:
    assert mapping, f"{where} is empty"
    for key, weight in mapping.items():
        assert key in known, f"{where}: unknown {key!r}"
        assert 0.0 < weight <= 1.0, f"{where}: weight {weight}"


def _check_oklch(o: dict, where: str) -> None:
    lo, hi = o["l"]
    assert 0.0 <= lo < hi <= 1.0, where
    clo, chi = o["c"]
    assert 0.0 <= clo < chi <= 0.37, where
    if o["hues"] is not None:
        assert o["hues"], where
        for h0, h1 in o["hues"]:
            assert 0.0 <= h0 < h1 <= 360.0, where


def test_tone_profiles() -> None:
    tags = _expressive_tags()
    for id_, p in _entries("tone").items():
        where = f"tone.{id_}"
        assert p["description_en"] and CJK.search(p["description_zh"]), where
        _check_oklch(p["oklch"], where)
        assert 0.0 <= p["dark_background"] <= 1.0, where
        _check_weights(p["styles"], set(ids("style")), where)
        _check_weights(p["font_tags"], tags, where)


def test_tone_profiles_encode_the_documented_colour_sense() -> None:
    tone = _entries("tone")
    assert tone["morandi"]["oklch"]["c"][1] <= 0.08  # muted
    assert tone["neon"]["oklch"]["c"][0] >= 0.15  # electric
    assert tone["pastel"]["oklch"]["l"][0] >= 0.75  # light
    assert tone["metallic_luxury"]["dark_background"] > 0.5
    gold = tone["metallic_luxury"]["oklch"]["hues"]
    assert any(h0 <= 85 <= h1 for h0, h1 in gold)


def test_style_profiles() -> None:
    tags = _expressive_tags()
    template_ids = {t.id for t in load_layout_templates()}
    for id_, p in _entries("style").items():
        where = f"style.{id_}"
        assert p["description_en"] and CJK.search(p["description_zh"]), where
        _check_oklch(p["oklch"], where)
        _check_weights(p["font_tags"], tags, where)
        _check_weights(p["font_categories"], FONT_CATEGORIES, where)
        _check_weights(p["harmonies"], set(ids("harmony")), where)
        affinity = p["layout"]["template_affinity"]
        assert affinity, where
        assert set(affinity) <= template_ids, where


def test_category_and_audience_priors() -> None:
    tags = _expressive_tags()
    for vocab in ("product_category", "audience"):
        for id_, p in _entries(vocab).items():
            where = f"{vocab}.{id_}"
            assert len(p["description_en"].split(",")) >= 3, where
            _check_weights(p["styles"], set(ids("style")), where)
            _check_weights(p["tones"], set(ids("tone")), where)
            if vocab == "audience":
                _check_weights(p["font_tags"], tags, where)
    assert _entries("product_category")["baby_care"]["tones"]["pastel"] >= 0.8


def test_package_format_geometry() -> None:
    fmt = _entries("package_format")
    for id_, p in fmt.items():
        assert 0.2 < p["aspect"] < 3.0, id_
        rows, cols = p["grid"]
        assert rows > 0 and cols > 0 and rows * cols <= 1024, id_
    assert fmt["tube"]["aspect"] < fmt["can"]["aspect"] < 1.0 < fmt["jar"]["aspect"] < fmt["bottle_label"]["aspect"]
