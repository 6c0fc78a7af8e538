"""Keyword colours: the shipped table, the lookup on the request path and its place in EncodedBatch.

Test words are colour names of the knowledge base that no lexicon or cue term holds, so none of them can be a probe
keyword (the probe excludes every shipped colour name) and the test teaches the table nothing about the probe.
"""

import json

import numpy as np
import pytest

from contract.brief import Brief
from knowledge.attributes import find_cues, load_attributes
from knowledge.colors import load_named_colors
from knowledge.lexicon import load_lexicon
from knowledge.taxonomy import Locale
from pipeline.features import EncodedBatch, encode_batch, encode_brief
from pipeline.keyword_colours import (
    KEYWORD_COLOURS_PATH,
    find_keyword_colours,
    keyword_colours_batch,
    load_keyword_colours,
    region_of,
)


def _inside(box, lch) -> bool:
    l, c, h = lch
    hue_ok = box.hues is None or any(a <= h <= b for a, b in box.hues)
    return box.l[0] <= l <= box.l[1] and box.c[0] <= c <= box.c[1] and hue_ok


def test_table_has_the_documented_shape():
    raw = json.loads(KEYWORD_COLOURS_PATH.read_text(encoding="utf-8"))
    assert raw["_meta"]["columns"][:3] == ["l", "c", "h"]
    coloured = {lang: [v for v in raw[lang].values() if v is not None] for lang in ("en", "zh")}
    assert len(coloured["en"]) > 1000 and len(coloured["zh"]) > 300
    for lang, rows in coloured.items():
        values = np.array([row[:4] for row in rows], dtype=float)
        assert ((values[:, 0] >= 0) & (values[:, 0] <= 1)).all()
        assert ((values[:, 1] >= 0) & (values[:, 1] <= 0.37)).all()
        assert ((values[:, 2] >= 0) & (values[:, 2] < 360)).all()
    assert all(isinstance(row[4], str) and row[4] for row in coloured["zh"])  # the gloss it came through
    assert all(k == " ".join(k.split()) and k == k.casefold() for k in raw["en"])


@pytest.mark.parametrize(("word", "region"), [("emerald", "green"), ("ruby", "red"), ("sapphire", "blue")])
def test_a_colour_word_maps_into_its_region(word, region):
    names = {n.lower() for n in load_named_colors().names}
    assert word in names and not find_cues(word)  # a colour name no cue owns: the table's, and no probe keyword
    (found,) = find_keyword_colours(f"limited {word} gift set")
    assert found.keyword == word
    assert _inside(load_attributes().boxes[region], found.oklch)
    assert _inside(found.region, found.oklch)


@pytest.mark.parametrize(("word", "region"), [("marmalade", "orange"), ("mistletoe", "green"), ("paprika", "red")])
def test_a_thing_colour_names_are_coined_after_takes_their_colour(word, region):
    """The names-containing route (knowledge/tools/build_keyword_colours.py, `contained_name_colours`): no xkcd
    colour and no "<word> <colour word>" names, but three or more colour names hold the word and agree."""
    names = [n.lower().split() for n in load_named_colors().names]
    assert sum(word in n for n in names) >= 3 and not find_cues(word)
    (found,) = find_keyword_colours(f"{word} gift set")
    assert found.keyword == word and _inside(load_attributes().boxes[region], found.oklch)


def test_english_homonyms_do_not_colour_chinese_words():
    """The names-containing route is for English keywords only: through CC-CEDICT's first gloss it coloured 颗粒
    ("kernel; granule") by corn kernels and 莎莎舞 ("salsa dance") by the sauce."""
    assert find_keyword_colours("kernel") and find_keyword_colours("salsa")
    assert find_keyword_colours("果肉颗粒 莎莎舞") == []


def test_a_chinese_name_takes_no_colour_from_its_english_spelling():
    """CC-CEDICT glosses that are names ("Green or Greene (name)" for 格林, "Brown (name)", "Red Guards", "Agent
    Orange", "Mandarin") give no colour; a thing named with a proper adjective still does ("Taiwan blue magpie")."""
    assert find_keyword_colours("格林 布朗 怀特 红卫兵 橙剂 普通话") == []
    (magpie,) = find_keyword_colours("台湾蓝鹊")
    assert _inside(load_attributes().boxes["blue"], magpie.oklch)


def test_chinese_words_come_through_their_gloss_and_longest_match():
    (jade,) = find_keyword_colours("翡翠礼盒")  # jadeite, run together with "gift box" as briefs write it
    assert jade.keyword == "翡翠" and _inside(load_attributes().boxes["green"], jade.oklch)
    # 蓝牙 ("Bluetooth") and 银行 ("bank") hold 蓝 ("blue") and 银 ("silver") and are no colour: the longer word
    # blocks the shorter one.
    table = load_keyword_colours()
    assert table.zh.get("蓝") is not None and table.zh.get("银") is not None
    assert find_keyword_colours("蓝牙耳机 银行卡") == []
    assert [k.keyword for k in find_keyword_colours("蓝 耳机")] == ["蓝"]


def test_the_gloss_minilm_reads_is_the_one_that_gave_the_keyword_colour():
    """A Chinese word the keyword colours table colours reads to MiniLM as the same CC-CEDICT gloss
    (knowledge/data/zh_gloss.tsv), so the text and the colour the schemes honour name one thing."""
    from knowledge.gloss import load_gloss

    glosses = load_gloss().words
    coloured = {w: row[4] for w, row in json.loads(KEYWORD_COLOURS_PATH.read_text(encoding="utf-8"))["zh"].items()
                if row is not None and all("\u3400" <= ch <= "\u9fff" for ch in w)}
    assert len(coloured) > 1000
    assert {w: (g, glosses.get(w)) for w, g in coloured.items() if glosses.get(w) != g} == {}


def _xkcd_lch(name: str) -> tuple[float, float, float]:
    table = load_named_colors()
    l, a, b = table.oklab[[i for i, n in enumerate(table.names) if n == name and table.is_xkcd[i]][0]]
    return float(l), float(np.hypot(a, b)), float(np.degrees(np.arctan2(b, a)) % 360)


# Dev-set things of knowledge/tools/build_keyword_colours.py (xkcd survey names that name a thing, not a colour):
# their colour names give them the surveyed colour; WordNet's glosses alone gave none, or another ("spearmint"
# magenta, "periwinkle" blue).
@pytest.mark.parametrize("word", ["aubergine", "cobalt", "raspberry", "fern", "periwinkle", "spearmint"])
def test_a_thing_takes_the_colour_its_colour_names_give(word):
    assert not find_cues(word)
    (found,) = find_keyword_colours(f"{word} edition")
    assert found.keyword == word and _inside(region_of(*_xkcd_lch(word)), found.oklch)


def test_a_chinese_fruit_takes_the_colour_of_the_fruit_its_gloss_names():
    (kiwi,) = find_keyword_colours("奇异果")  # CC-CEDICT "kiwi fruit": the kiwi's colour
    assert _inside(load_attributes().boxes["green"], kiwi.oklch)


# Everyday nouns the colour-name list happens to hold as a single fancy name ("May", "Photon"): no colour.
@pytest.mark.parametrize("word", ["may", "soldier", "photon", "neutrino", "bishop"])
def test_a_single_fancy_colour_name_gives_no_colour(word):
    assert find_keyword_colours(word) == []


@pytest.mark.parametrize("keywords", ["limited", "edition", "premium", "limited edition premium quality"])
def test_neutral_words_name_no_colour(keywords):
    assert find_keyword_colours(keywords) == []


def test_terms_the_cues_and_lexicon_own_are_left_to_them():
    # "sugar" alone evokes white, but inside the lexicon's "sugar free" it is the lexicon's to judge.
    table = load_keyword_colours()
    assert [k.keyword for k in find_keyword_colours("sugar")] == ["sugar"]
    assert find_keyword_colours("sugar free") == []
    lexicon = load_lexicon()
    owned = set(load_attributes().cue_terms) | {e.en.casefold() for e in lexicon} | {e.zh for e in lexicon}
    assert all(table.en.get(t) is None and table.zh.get(t) is None for t in owned)


def test_region_wraps_hue_and_bounds_neutrals():
    red = region_of(0.6, 0.2, 10.0)
    assert red.hues == ((345.0, 360.0), (0.0, 35.0))
    assert _inside(red, (0.6, 0.2, 355.0)) and not _inside(red, (0.6, 0.2, 40.0))
    assert not _inside(red, (0.6, 0.05, 10.0))  # a greyed version is not the keyword's colour
    white = region_of(0.98, 0.0, 0.0)
    assert white.hues is None and _inside(white, (0.95, 0.01, 200.0)) and not _inside(white, (0.6, 0.01, 0.0))


def test_encode_batch_carries_keyword_colours():
    briefs = [Brief(product_category="beverage", package_format="can", keywords="ruby grapefruit soda"),
              Brief(product_category="snacks", package_format="bag", keywords="翡翠 礼盒", locale=Locale.zh),
              Brief(product_category="snacks", package_format="bag", keywords="premium")]
    encoded = encode_batch(briefs, max_image_bytes=1024)
    assert [[k.keyword for k in row] for row in encoded.keyword_colours] == [["ruby"], ["翡翠"], []]
    assert encoded.keyword_colours == keyword_colours_batch([b.keywords for b in briefs])
    # per-brief callers get the same through EncodedBrief and EncodedBatch.from_rows / row
    rows = [encode_brief(b) for b in briefs]
    assert EncodedBatch.from_rows(rows).keyword_colours == encoded.keyword_colours
    assert encoded.row(0).keyword_colours == encoded.keyword_colours[0]


# --- post-processing holds every scheme to the keyword colours (real model outputs, ONNX Runtime) ---------------


@pytest.fixture(scope="module")
def backend():
    from inference.onnxruntime_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend()


def _answers(backend, briefs):
    from pipeline.postprocess import schemes_batch

    encoded = encode_batch(briefs, max_image_bytes=1024)
    outputs = backend.infer(encoded.input_ids, encoded.attention_mask, encoded.features)
    return encoded, schemes_batch(briefs, encoded, outputs)


def _lch(hex_: str) -> tuple[float, float, float]:
    from knowledge.colors import hexes_to_rgb8, rgb8_to_oklab

    l, a, b = rgb8_to_oklab(hexes_to_rgb8([hex_]))[0]
    return float(l), float(np.hypot(a, b)), float(np.degrees(np.arctan2(b, a)) % 360)


def test_every_scheme_holds_the_keyword_colour_and_says_so(backend):
    briefs = [Brief(product_category="beverage", package_format="can", keywords="sapphire soda", num_schemes=4),
              Brief(product_category="gift_box", package_format="box", keywords="翡翠礼盒", locale=Locale.zh,
                    num_schemes=3),
              Brief(product_category="snacks", package_format="bag", keywords="ruby, sapphire", num_schemes=4)]
    encoded, answers = _answers(backend, briefs)
    assert [len(a) for a in answers] == [4, 3, 4]
    for brief, keywords, schemes in zip(briefs, encoded.keyword_colours, answers):
        held = np.array([[any(_inside(k.region, _lch(c["hex"])) for c in scheme["palette"]["colors"]
                              if c["role"] != "text") for k in keywords] for scheme in schemes])
        # The first keyword's colour is in every scheme; a second one where a free role is left for it (a
        # four-colour palette has one), so in most.
        assert held[:, 0].all(), (brief.keywords, [s["palette"]["colors"] for s in schemes])
        assert held.mean() >= 0.75
        for scheme, row in zip(schemes, held):
            for k, h in zip(keywords, row):
                assert not h or f"“{k.keyword}”" in scheme["rationale"]  # the rationale names the keyword


def test_keyword_colours_keep_schemes_distinct_under_a_brand_primary(backend):
    # A brand primary leaves the background or the accent to tell schemes apart (rule 9); the keyword's colour put
    # into every scheme's accent must not make two of them alike (both briefs did before the check).
    from evaluation.fit import grade

    briefs = [Brief(product_category="snacks", package_format="box", tone=["natural_organic"],
                    keywords="sapphire edition", brand_colors=["#ff7f50"], num_schemes=3),
              Brief(product_category="beverage", package_format="box", tone=["minimalist"], keywords="fern gift",
                    brand_colors=["#222222"], num_schemes=3)]
    encoded, answers = _answers(backend, briefs)
    assert all(encoded.keyword_colours) and [len(a) for a in answers] == [3, 3]
    assert grade(briefs, answers).pair_distinct.all()


def test_a_keyword_colour_never_costs_a_named_tone(backend):
    # Pastel asks for light, soft colours; a saturated keyword colour put into a pastel scheme could fail it, and
    # then the scheme keeps its own colours: as many schemes meet the tone with the keyword colours as without.
    from evaluation.fit import grade
    from knowledge.taxonomy import Tone
    from pipeline.postprocess import schemes_batch

    briefs = [Brief(product_category="snacks", package_format="bag", tone=[tone], keywords="sapphire, ruby",
                    num_schemes=4) for tone in ("pastel", "morandi", "vivid")]
    encoded = encode_batch(briefs, max_image_bytes=1024)
    outputs = backend.infer(encoded.input_ids, encoded.attention_mask, encoded.features)
    with_colours = schemes_batch(briefs, encoded, outputs)
    encoded.keyword_colours = [[] for _ in briefs]
    without = schemes_batch(briefs, encoded, outputs)
    column = [[list(Tone).index(Tone(t)) for t in b.tone][0] for b in briefs]
    for answers in (with_colours, without):
        assert all(len(a) == 4 for a in answers)
    met = [grade(briefs, answers).tone_palette for answers in (with_colours, without)]
    rows = np.repeat(np.arange(len(briefs)), 4)
    assert (met[0][np.arange(len(rows)), np.array(column)[rows]].sum()
            >= met[1][np.arange(len(rows)), np.array(column)[rows]].sum())
    assert with_colours != without  # the keyword colours did change some scheme


def test_a_phrase_is_read_inside_one_keyword():
    """Keywords are separated by commas: "girlish sweet, potato chips" names no sweet potato and "black and white,
    rice wine" no white rice (both were read across the comma); the same phrase inside one keyword still counts."""
    assert "sweet potato" not in [k.keyword for k in find_keyword_colours("girlish sweet, potato chips")]
    assert "white rice" not in [k.keyword for k in find_keyword_colours("black and white, rice wine")]
    assert "sweet potato" in [k.keyword for k in find_keyword_colours("roasted sweet potato, chips")]
