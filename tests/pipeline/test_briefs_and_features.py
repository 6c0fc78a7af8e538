import numpy as np

from contract.brief import Brief
from knowledge.taxonomy import Audience, PackageFormat, ProductCategory, Tone
from model.briefs import generate_briefs, in_language, read_jsonl, write_jsonl
from pipeline.feature_layout import FEATURE_DIM, feature_slice
from pipeline.features import encode_batch, encode_brief, structured_features
from pipeline.tokenization import tokenizer


def test_splits_are_disjoint_deterministic_and_cover_every_id():
    train = generate_briefs(3000, "train")
    heldout = generate_briefs(500, "heldout", exclude={s.key() for s in train})
    assert not {s.key() for s in train} & {s.key() for s in heldout}
    assert [s.key() for s in generate_briefs(50, "train")] == [s.key() for s in train[:50]]
    briefs = [s.brief for s in train]
    assert {b.product_category for b in briefs} == set(ProductCategory)
    assert {a for b in briefs for a in b.audience} == set(Audience)
    assert {t for b in briefs for t in b.tone} == set(Tone)
    assert {b.package_format for b in briefs} == set(PackageFormat)
    assert {s.language for s in train} == {"en", "zh", "mixed"}
    assert any(b.brand_colors for b in briefs) and any(not b.brand_colors for b in briefs)
    assert any(s.reference_colors for s in train)
    assert all(len(b.keywords) <= 200 for b in briefs)


def test_language_pairs_share_terms(tmp_path):
    sample = next(s for s in generate_briefs(200, "heldout") if len(s.terms) >= 2)
    zh, en = in_language(sample, "zh"), in_language(sample, "en")
    assert zh.terms == en.terms and zh.brief.keywords != en.brief.keywords
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.brief.keywords)
    write_jsonl([zh, en], tmp_path / "b.jsonl")
    assert [s.key() for s in read_jsonl(tmp_path / "b.jsonl")] == [zh.key(), en.key()]


def test_structured_features_encode_the_brief():
    brief = Brief(product_category="dairy", audience=["kids", "families"], tone=["cute"], package_format="carton",
                  brand_colors=["#ff0000"], locale="zh", keywords="可爱")
    vector = structured_features(brief, ["#00ff00"])
    assert vector.shape == (FEATURE_DIM,) and vector.dtype == np.float32
    assert vector[feature_slice("product_category")].sum() == 1
    assert vector[feature_slice("audience")].sum() == 2
    assert vector[feature_slice("locale_zh")][0] == 1
    brand = vector[feature_slice("brand_colors")].reshape(3, 4)
    assert brand[0, 3] == 1 and brand[1:, 3].sum() == 0 and brand[0, 0] > 0.5  # red: L ~0.63
    assert vector[feature_slice("reference_colors")].reshape(3, 4)[0, 3] == 1


def test_chinese_keywords_are_normalised_to_english_cues():
    encoded = encode_brief(Brief(product_category="beverage", package_format="can", keywords="清爽 夏季限定"))
    assert "refreshing" in encoded.text and "summer" in encoded.text
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in encoded.text)
    raw = encode_brief(Brief(product_category="beverage", package_format="can", keywords="清爽"), normalize_chinese=False)
    assert raw.text == "清爽"


def test_chinese_outside_the_lexicon_reaches_minilm_as_english_words():
    """青柠 is a lexicon term; 冰川 (glacier), 泉源 (springhead) and 榛果 (filbert) are not: MiniLM must read them as the
    English word pieces of their glosses, and no Chinese (which MiniLM's vocabulary reads as [UNK] or lone
    characters) may reach its input."""
    briefs = [Brief(product_category="beverage", package_format="bottle_label", locale="zh", keywords=k)
              for k in ("冰川泉源青柠水", "榛果拿铁")]
    batch = encode_batch(briefs, max_image_bytes=1 << 20)
    vocab = tokenizer().get_vocab()
    for i, words in enumerate(("glacier springhead lime", "filbert latte")):
        ids = set(batch.input_ids[i][batch.attention_mask[i] > 0].tolist())
        assert set(tokenizer().encode(words).ids[1:-1]) <= ids, batch.texts[i]
        assert vocab["[UNK]"] not in ids
        pieces = tokenizer().decode(sorted(ids))
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in pieces), pieces
    assert "glacier springhead" in batch.texts[0] and "filbert" in batch.texts[1]
    assert batch.cues[0] == ["lime"]  # the glossed words are text, not lexicon cues


def test_cue_features_are_the_same_for_a_chinese_brief_and_its_english():
    """The lexicon's tone cues and the colour cues reach the network alike from 快乐卡通水果 and from "happy cartoon
    fruit", and from 海洋 and "ocean"; before, only the Chinese brief carried tone cues (to the teacher)."""
    blocks = ("tone_cues", "colour_cues")
    for zh, en in (("快乐卡通水果", "happy cartoon fruit"), ("海洋香味沐浴露", "ocean scent shower gel")):
        vectors = [structured_features(Brief(product_category="snacks", package_format="bag", keywords=k, locale=loc))
                   for k, loc in ((zh, "zh"), (en, "en"))]
        cues = [np.concatenate([v[feature_slice(b)] for b in blocks]) for v in vectors]
        assert cues[0].sum() > 0 and np.array_equal(cues[0], cues[1]), (zh, en)
    batch = encode_batch([Brief(product_category="snacks", package_format="bag", keywords="happy cartoon fruit")], 0)
    alone = structured_features(Brief(product_category="snacks", package_format="bag", keywords="happy cartoon fruit"))
    assert np.array_equal(batch.features[0], alone)  # the request path's batch and the training path agree
    plain = structured_features(Brief(product_category="snacks", package_format="bag", keywords="quarterly report"))
    assert not np.concatenate([plain[feature_slice(b)] for b in blocks]).any()


WARM_THEN_ENCODE = """
import inspect, json, sys
from contract.brief import Brief
from pipeline.features import encode_batch, warm

def sizes():
    # The tables: cached functions of no argument (per-input memos such as hex_to_oklab grow with new inputs).
    out = {}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("knowledge", "contract", "pipeline"):
            for attr, value in list(vars(module).items()):
                info = getattr(value, "cache_info", None)
                if callable(info) and not inspect.signature(value).parameters:
                    out[f"{name}.{attr}"] = info().currsize
    return out

warm()
before = sizes()
encode_batch([Brief(product_category="beverage", package_format="can", keywords="forest tea, golden hour, sapphire"),
              Brief(product_category="coffee_tea", package_format="box", keywords="国潮 森林 低筋面粉 咖啡", locale="zh",
                    brand_colors=["#c0ffee"])], max_image_bytes=1 << 20)
after = sizes()
print(json.dumps({k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}))
"""


def test_after_warm_encoding_fills_no_cache():
    """A new encoder replica warms at start (serve_app/encoder.py): afterwards a live micro-batch, English and
    Chinese, finds every table encoding reads already loaded (without `warm()`, six of them load on it). In a
    fresh process, since the tests share caches."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", WARM_THEN_ENCODE], cwd=root, capture_output=True, text=True,
                          check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {}
