"""lexicon.json and keyword normalisation."""

from __future__ import annotations

import re
import time

from knowledge.lexicon import (
    CUE_FIELDS,
    LexiconEntry,
    cue_entries,
    cue_ids,
    english_term_entries,
    load_lexicon,
    normalize_keywords,
    normalize_keywords_detailed,
)
from knowledge.taxonomy import ids

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_lexicon_size_unique_zh_and_english_phrases() -> None:
    lexicon = load_lexicon()
    assert len(lexicon) >= 320
    zh = [e.zh for e in lexicon]
    assert len(zh) == len(set(zh))
    for e in lexicon:
        assert e.zh.strip() and e.en.strip(), e
        assert not CJK.search(e.en), e


def test_every_referenced_id_is_known() -> None:
    for e in load_lexicon():
        for field, vocab in CUE_FIELDS.items():
            unknown = set(getattr(e, field)) - set(ids(vocab))
            assert not unknown, (e.zh, field, unknown)


def test_lexicon_covers_the_brief_vocabulary() -> None:
    zh = {e.zh for e in load_lexicon()}
    must = "红 粉 莫兰迪 奶油色 雾霾蓝 牛油果绿 香槟金 中国红 黑金 高级感 国潮 简约 可爱 复古 清新 治愈 科技感 轻奢 日系 侘寂 ins风 少女心 大气 " \
           "夏季限定 春节 中秋 情人节 圣诞 节日礼盒 清甜 果味 气泡 零糖 低卡 浓郁 抹茶 桃子 柠檬 燕麦 " \
           "限定款 联名 礼盒 有机 天然 环保 可持续 高端 平价 儿童 宝宝 健身 学生党"
    assert set(must.split()) <= zh


def test_normalize_translates_and_longest_match_wins() -> None:
    text, entries = normalize_keywords("清爽 夏季限定")
    assert "refreshing" in text and "summer limited" in text
    assert [e.zh for e in entries] == ["清爽", "夏季限定"]  # not 夏季 + 限定
    assert not CJK.search(text)


def test_longest_match_over_shared_prefix() -> None:
    # 红茶 (black tea) must beat 红 (red); 酒红 (burgundy) must beat 酒 (alcohol).
    _, entries = normalize_keywords("红茶 酒红")
    assert [e.zh for e in entries] == ["红茶", "酒红"]


def test_overlapping_terms_both_kept() -> None:
    """中秋节日礼盒 is 中秋节 + 节日礼盒 (sharing 节): both reach the model, as `find_cues` grades them. Greedy
    left-to-right longest match took 中秋节, then 礼盒, and lost the festive gift box."""
    result = normalize_keywords_detailed("中秋节日礼盒")
    assert [e.zh for e in result.entries] == ["中秋节", "节日礼盒"]
    assert result.text == "mid autumn festival festive gift box"  # one run, one phrase
    assert result.uncovered == []
    # A term inside a longer one still gives way to it, wherever the longer one starts.
    assert [e.zh for e in normalize_keywords("夏季限定")[1]] == ["夏季限定"]
    assert [e.zh for e in normalize_keywords("喝红茶")[1]] == ["红茶"]


def test_mixed_text_keeps_english_glosses_the_rest_and_reports_uncovered() -> None:
    # 的感觉 is no lexicon term: the dictionary reads it (的 a grammatical word, 感觉 "feeling"); the Hangul run is
    # in no dictionary and is reported, not sent.
    result = normalize_keywords_detailed("Summer vibe, 清爽的感觉 with 莫兰迪色 사랑")
    assert result.text.startswith("Summer vibe")
    assert "with" in result.text and "refreshing" in result.text and "morandi" in result.text
    assert "feeling" in result.text
    assert result.glossed == [("的", ""), ("感觉", "feeling")]
    assert result.uncovered == ["사랑"]
    assert not CJK.search(result.text) and "사" not in result.text


def test_chinese_outside_the_lexicon_reaches_the_text_as_english() -> None:
    """冰川泉源 (glacier spring) and 榛果 (hazelnut) are no lexicon terms; before the gloss they were dropped, so MiniLM
    read a zh brief without them. The lexicon's own terms still come first and keep their cue entries."""
    lexicon_zh = {e.zh for e in load_lexicon()}
    assert not {"冰川", "泉源", "榛果"} & lexicon_zh
    result = normalize_keywords_detailed("冰川泉源高端矿泉水，纯净")
    assert result.text == "glacier springhead high end premium mineral water, pure"
    assert [e.zh for e in result.entries] == ["高端", "矿泉水", "纯净"]
    assert result.uncovered == []
    text, entries = normalize_keywords("冬日的榛果拿铁")
    assert "filbert" in text and "latte" in text and not CJK.search(text)
    assert [e.zh for e in entries] == ["拿铁"]


def test_nfkc_and_cjk_punctuation_and_whitespace() -> None:
    text, _ = normalize_keywords("【国潮】　Ｐａｓｔｅｌ、清爽。  \t  少女心")
    assert "Pastel" in text  # full-width letters folded
    assert "  " not in text and "【" not in text and "、" not in text
    assert text == text.strip()


def test_terms_keep_the_briefs_own_phrasing() -> None:
    """Terms the brief wrote apart stay apart (", "); terms it ran together read as one phrase, as its English
    translation would ("lime sparkling water", not "lime, sparkling water"): the model's palette ranking moves with
    a comma, so a separator the brief did not write made a zh brief a different brief from its translation."""
    text, entries = normalize_keywords("清爽夏季限定")
    assert text == "refreshing summer limited edition"
    assert len(entries) == 2
    for separated in ("清爽 夏季限定", "清爽，夏季限定", "清爽、夏季限定", "清爽 , 夏季限定"):
        assert normalize_keywords(separated)[0] == "refreshing, summer limited edition", separated
    # A term followed by Chinese the dictionary glosses, with and without a separator.
    assert normalize_keywords("冬日拿铁")[0] == normalize_keywords("冬日 拿铁")[0].replace(",", "")


def test_latin_initial_terms_do_not_start_inside_english_words() -> None:
    _, entries = normalize_keywords("skins风")
    assert "ins风" not in [e.zh for e in entries]
    _, entries = normalize_keywords("INS风 设计")
    assert entries and entries[0].zh == "ins风"


def test_empty_and_english_only_input() -> None:
    assert normalize_keywords("") == ("", [])
    assert normalize_keywords("  refreshing,   summer  ") == ("refreshing, summer", [])


def test_cue_ids_union() -> None:
    _, entries = normalize_keywords("国潮 宝宝 气泡水")
    cues = cue_ids(entries)
    assert set(cues) == set(CUE_FIELDS.values())
    assert "guochao" in cues["tone"] and "guochao" in cues["style"]
    assert "baby_care" in cues["product_category"] and "families" in cues["audience"]
    assert "beverage" in cues["product_category"]
    assert cue_ids([]) == {v: set() for v in CUE_FIELDS.values()}
    assert isinstance(entries[0], LexiconEntry)


def test_speed_report() -> None:
    brief = ("夏季限定清爽果味气泡水，零糖低卡，适合学生党和健身人群，国潮风格包装，中国红配烫金，"
             "ins风少女心 refreshing summer，要有高级感和治愈系的感觉。") * 3
    brief = brief[:200]
    normalize_keywords(brief)  # build the trie outside the timing
    n = 200
    start = time.perf_counter()
    for _ in range(n):
        normalize_keywords(brief)
    per_call_ms = (time.perf_counter() - start) / n * 1e3
    print(f"\nnormalize_keywords: {len(brief)} chars in {per_call_ms:.3f} ms")  # reported, not asserted


def test_terms_give_way_to_a_dictionary_word_around_them() -> None:
    """红 (red), 茶 (tea) and 运动 (sports) are lexicon terms, but inside 红薯 (sweet potato), 茶树 (tea tree) and 运动员
    (athlete) they are part of a word: the word is glossed whole and no "red" cue is read from a sweet potato. Alone,
    next to other terms, or spanning two dictionary words (夏季限定), a term keeps its entry."""
    result = normalize_keywords_detailed("农家风红薯脆片")
    assert result.entries == [] and "sweet potato" in result.text and "red" not in result.text
    assert normalize_keywords("茶树精油")[0] == "tea tree essential oil"
    text, entries = normalize_keywords("运动员蛋白")
    assert text.startswith("athlete") and "运动" not in [e.zh for e in entries]
    assert [e.zh for e in normalize_keywords("清爽夏季限定")[1]] == ["清爽", "夏季限定"]
    assert [e.zh for e in normalize_keywords("红 茶")[1]] == ["红", "茶"]
    assert [e.zh for e in normalize_keywords("红茶 酒红")[1]] == ["红茶", "酒红"]


def test_english_terms_match_whole_words_longest_first() -> None:
    """The entries' English phrases are read in English keywords as whole words: "street style" as one term (not
    "style" inside it), nothing inside "teapots" or "stylesheet"; a Chinese brief keeps its terms and adds the
    English ones it also names."""
    found = [e.en for e in english_term_entries("Loud street-style cola, happy cartoon fruit")]
    assert found == ["street style", "happy", "cartoon", "fruit"]
    assert english_term_entries("teapots and a stylesheet") == []
    mixed = cue_entries("卡通 happy")
    assert [e.en for e in mixed] == ["cartoon", "happy"]
    assert cue_entries("卡通", []) == english_term_entries("卡通") == []  # `chinese` given: not read again


def test_english_terms_give_way_to_a_phrase_that_does_not_mean_them() -> None:
    """The English cue blockers (cue_blockers.json, from WordNet: phrases whose senses name neither their colour
    word nor any colour) stop the English terms inside them, as they stop the colour cues: "red tape" cues no vivid
    red, "golden age" no metallic gold, "cup of tea" no tea. The same words on their own, or beside other words,
    keep their entries."""
    assert english_term_entries("cut through the red tape") == []
    assert english_term_entries("a golden age of travel") == []
    assert english_term_entries("not my cup of tea") == []
    assert [e.en for e in english_term_entries("red apple, golden honey tea")] == ["red", "apple", "golden", "honey",
                                                                                  "tea"]


def test_english_terms_stay_inside_one_keyword() -> None:
    """Keywords are separated by commas (and other breaks): a phrase is never read across one. "avocado green, tea"
    names avocado green and tea, not green tea; "red, brick red" names red and brick red, and the blocker "red brick"
    across the comma blocks nothing."""
    assert [e.en for e in english_term_entries("avocado green, tea")] == ["avocado green", "tea"]
    assert [e.en for e in english_term_entries("oat; milk")] == ["oat", "milk"]
    assert [e.en for e in english_term_entries("red, brick red")] == ["red", "brick red"]
