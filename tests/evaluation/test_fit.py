"""The fit grader says no to schemes that plainly miss what their brief asked for and yes to ones that plainly
give it, on real library colours and real Google Fonts families (the issue's own counter-examples among them)."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from contract.brief import Brief
from evaluation.fit import TONES, grade, library_ceiling, oklch, palette_met
from knowledge.attributes import load_attributes
from knowledge.colors import contrast_ratio
from knowledge.design_tables import ROLE_ORDER, palette_role_lab
from knowledge.fonts import load_fonts
from knowledge.palettes import load_palettes


def colors_of(palette_id: str) -> list[tuple[str, str]]:
    palette = next(p for p in load_palettes() if p.id == palette_id)
    return [(c.role, c.hex) for c in palette.colors]


def scheme(colors, heading="Inter", body="Inter", style="minimalist") -> dict:
    fonts = load_fonts()
    return {
        "style": {"id": style},
        "palette": {"colors": [{"hex": h, "role": r, "name": ""} for r, h in colors]},
        "typography": {"heading": {"family": heading, "category": fonts[heading].category},
                       "body": {"family": body, "category": fonts[body].category}},
    }


def brief(tone=(), keywords="", brand=(), n=1, locale="en") -> Brief:
    return Brief(product_category="beverage", package_format="can", tone=list(tone), keywords=keywords,
                 brand_colors=list(brand), num_schemes=n, locale=locale)


def tone_result(g, tone: str):
    k = TONES.index(tone)
    return g.tone_palette[:, k], g.tone_type[:, k]


MORANDI = colors_of("gen-morandi-00000")  # greyed lilac, sage and lavender on a pale lilac ground
NEON = colors_of("gen-neon-00000")  # magenta, pink, green glowing on near-black
CUTE = colors_of("gen-cute-00000")  # peach and lilac at chroma ~0.1 on mint white
LUXURY = colors_of("gen-metallic_luxury-00000")  # gold on oxblood
FRESH = colors_of("gen-fresh-00000")  # aqua and leaf green on white


def test_a_tone_plainly_met_passes_and_plainly_violated_fails():
    g = grade([brief(["morandi", "neon"], n=2)], [[scheme(MORANDI), scheme(NEON)]])
    morandi, _ = tone_result(g, "morandi")
    neon, _ = tone_result(g, "neon")
    assert morandi.tolist() == [True, False]
    assert neon.tolist() == [False, True]
    assert not g.all_met.any()  # each misses the other tone


def test_issue_example_pastel_scheme_for_a_vivid_brief():
    # "confectionery for kids, tones cute + vivid, got a pastel first scheme (primary and accent chroma ~0.1)"
    g = grade([brief(["cute", "vivid"])], [[scheme(CUTE, heading="Henny Penny", body="Inter", style="playful_cute")]])
    assert tone_result(g, "cute")[0].tolist() == [True]
    assert tone_result(g, "vivid")[0].tolist() == [False]


def test_metallic_luxury_needs_a_metallic():
    g = grade([brief(["metallic_luxury"], n=2)], [[scheme(LUXURY, "Playfair Display", "Lora"),
                                                   scheme(FRESH, "Playfair Display", "Lora")]])
    palette, type_ = tone_result(g, "metallic_luxury")
    assert palette.tolist() == [True, False]
    assert type_.tolist() == [True, True]


def test_brand_colours_are_exempt_from_tone_ranges():
    navy = "#1b2a4a"
    dark = [(r, navy if r in ("primary", "accent") else h) for r, h in CUTE]
    branded = grade([brief(["cute"], brand=[navy])], [[scheme(dark)]])
    unbranded = grade([brief(["cute"])], [[scheme(dark)]])
    assert tone_result(branded, "cute")[0].tolist() == [True]
    assert tone_result(unbranded, "cute")[0].tolist() == [False]


def test_issue_example_neon_with_a_serif_body():
    # "a neon energy-drink brief got Source Serif 4 as body text"
    g = grade([brief(["neon"], n=2)], [[scheme(NEON, "Bungee", "Source Serif 4", "vibrant_pop"),
                                        scheme(NEON, "Bungee", "Inter", "vibrant_pop")]])
    assert tone_result(g, "neon")[1].tolist() == [False, True]
    assert g.style_body.tolist() == [False, True]


def test_issue_example_script_heading_on_every_luxury_scheme():
    # "an alcohol brief (metallic luxury, elegant) got Mrs Saint Delafield as the heading of all three schemes"
    script = "Mrs Saint Delafield"
    all_script = grade([brief(["metallic_luxury", "elegant"], n=3)],
                       [[scheme(LUXURY, script, "Lora", "luxury_premium")] * 3])
    assert not tone_result(all_script, "elegant")[1].any()
    assert not all_script.style_heading.any()
    assert all_script.heading_repeat.tolist() == [False, True, True]
    # As a secondary choice (not first, only once) the same face is fine.
    mixed = grade([brief(["metallic_luxury", "elegant"], n=3)],
                  [[scheme(LUXURY, "Playfair Display", "Lora", "luxury_premium"),
                    scheme(LUXURY, script, "Lora", "luxury_premium"),
                    scheme(LUXURY, script, "Lora", "luxury_premium")]])
    assert tone_result(mixed, "elegant")[1].tolist() == [True, True, False]
    assert mixed.style_heading.tolist() == [True, True, False]


def test_quirky_display_face_does_not_head_a_clinical_scheme():
    g = grade([brief()], [[scheme(FRESH, "Henny Penny", "Inter", "clinical_clean")]])
    assert g.style_heading.tolist() == [False]


def test_issue_example_ocean_without_blue():
    keywords = "ocean, cool, refreshing sea breeze"
    g = grade([brief(keywords=keywords, n=2)], [[scheme(LUXURY), scheme(FRESH)]])
    assert g.cue_ids == ["ocean"]
    assert g.cue_met[:, 0].tolist() == [False, True]
    zh = grade([brief(keywords="海洋 清凉", locale="zh")], [[scheme(LUXURY)]])
    assert zh.cue_ids == ["ocean"] and not zh.cue_met.any()


def test_diversity_catches_identical_primaries():
    other = [(r, "#d9e4f5" if r == "background" else h) for r, h in FRESH]
    g = grade([brief(n=3)], [[scheme(FRESH), scheme(FRESH), scheme(MORANDI)]])
    assert g.pair_distinct.tolist() == [False, True, True]  # pairs (0,1), (0,2), (1,2)
    # Same primary imposed by a brand colour: the grounds must differ instead.
    primary = dict(FRESH)["primary"]
    branded = grade([brief(brand=[primary], n=2)], [[scheme(FRESH), scheme(other)]])
    assert branded.pair_primary_de.tolist() == [0.0]
    assert branded.pair_distinct.tolist() == [True]
    unbranded = grade([brief(n=2)], [[scheme(FRESH), scheme(other)]])
    assert unbranded.pair_distinct.tolist() == [False]


def test_contrast_is_wcag():
    answers = [[scheme(p)] for p in (MORANDI, NEON, CUTE, LUXURY, FRESH)]
    g = grade([brief()] * len(answers), answers)
    expected = [contrast_ratio(dict(p)["text"], dict(p)["background"]) for p in (MORANDI, NEON, CUTE, LUXURY, FRESH)]
    assert np.allclose(g.contrast, expected, rtol=1e-6)


def test_every_tone_can_be_met_and_common_pairs_together():
    """A scheme can satisfy several definitions at once: the library holds palettes meeting each tone, and the
    tone pairs briefs combine most often (taxonomy priors) together."""
    defs = load_attributes()
    lab, mask = palette_role_lab()
    take = [[r.value for r in ROLE_ORDER].index(r) for r in ("background", "primary", "secondary", "accent",
                                                              "highlight", "text")]
    lch, present = oklch(lab[:, take].astype(float)), mask[:, take] > 0
    met = {t: palette_met(defs.tones[t].palette, lch, present, np.zeros_like(present)) for t in TONES}
    assert all(m.sum() >= 100 for m in met.values()), {t: int(m.sum()) for t, m in met.items()}
    for a, b in [("minimalist", "elegant"), ("metallic_luxury", "elegant"), ("cute", "pastel"), ("cute", "vivid"),
                 ("fresh", "natural_organic"), ("earthy", "natural_organic"), ("tech_futuristic", "minimalist"),
                 ("guochao", "bold"), ("warm", "vintage"), ("morandi", "japanese_minimal")]:
        assert (met[a] & met[b]).sum() >= 5, (a, b)
    assert (met["morandi"] & met["neon"]).sum() < 5  # and contradictory ones stay contradictory


@pytest.mark.parametrize("locale", ["en", "zh"])
def test_every_tone_s_type_rule_has_a_first_scheme_pair(locale):
    briefs = [brief([t], locale=locale) for t in TONES]
    _, type_ok = library_ceiling(briefs)
    assert type_ok.all(), [t for t, ok in zip(TONES, type_ok) if not ok]


def test_library_ceiling_flags_contradictions():
    palette_ok, _ = library_ceiling([brief(["morandi", "neon", "pastel"]), brief(["fresh"], keywords="ocean")])
    assert palette_ok.tolist() == [False, True]


def test_pairs_are_within_answers_only():
    g = grade([brief(n=2), brief(n=3)], [[scheme(FRESH)] * 2, [scheme(NEON)] * 3])
    assert len(g.pair_distinct) == 1 + 3
    assert g.pair_answer.tolist() == [0, 1, 1, 1]
    assert list(itertools.chain(g.table.rank.tolist())) == [0, 1, 0, 1, 2]


@pytest.fixture(scope="module")
def held_out_fit():
    """A small held-out slice (60 briefs of the held-out generator), en and zh, answered by the shipped weights
    through ONNX Runtime, with the post-processing rules on and off."""
    from evaluation.__main__ import answer_schemes, fit_metrics, model_alone_schemes, run_model
    from inference.onnxruntime_backend import OnnxRuntimeBackend
    from model.briefs import generate_briefs, in_language

    backend = OnnxRuntimeBackend(precision="fp32")
    base = generate_briefs(60, "heldout")
    out = {}
    for language in ("en", "zh"):
        samples = [in_language(s, language) for s in base]
        encoded, outputs = run_model(backend, samples)
        briefs = [s.brief for s in samples]
        answers = answer_schemes(samples, encoded, outputs)
        g = grade(briefs, answers)
        out[language] = fit_metrics(g, language)
        out[language + "_graded"] = (answers, g)
        out[language + "_alone"] = fit_metrics(grade(briefs, model_alone_schemes(samples, encoded, outputs)),
                                               language)
    return out


# Floors under what the shipped weights with the rules measured on this slice (fit_all 0.815 en / 0.690 zh, type
# 1.0 / 0.959, pairs distinct 0.993; docs/model.md has the 300-brief table): they catch a post-processing that
# stops honouring the brief, with room for the retrained weights to move.
FIT_FLOORS = {"fit_all": 0.6, "font_suits_style": 0.9, "text_contrast": 1.0, "pairs_distinct": 0.97}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_fit_floor_on_a_held_out_slice(held_out_fit, language):
    got = {k: held_out_fit[language][f"{k}_{language}"] for k in FIT_FLOORS}
    assert all(got[k] >= floor for k, floor in FIT_FLOORS.items()), got
    # The same weights without the post-processing rules (the model's ranking alone) meet less: the rules add to
    # what the model carries (since the network reads the cues, 2026-12-04, its own fit is near this floor).
    alone = held_out_fit[language + "_alone"]
    assert alone[f"fit_all_{language}"] < got["fit_all"] - 0.05
    assert alone[f"pairs_distinct_{language}"] < FIT_FLOORS["pairs_distinct"]


@pytest.mark.parametrize("language", ["en", "zh"])
def test_each_scheme_says_what_it_misses_as_the_grader_finds_it(held_out_fit, language):
    """A scheme's `unmet` (the request path's own check after every colour change) lists exactly the named tones and
    cues the grader finds unmet, and the rationale says so; schemes that meet everything carry no `unmet`."""
    answers, g = held_out_fit[language + "_graded"]
    flat = [s for a in answers for s in a]
    graded = [sorted([TONES[k] for k in np.flatnonzero(g.tone_named[i] & ~g.tone_met[i])]
                     + [g.cue_ids[k] for k in np.flatnonzero(g.cue_named[i] & ~g.cue_met[i])]) for i in range(len(flat))]
    assert [sorted(s.get("unmet", [])) for s in flat] == graded
    missing = [s for s in flat if "unmet" in s]
    assert missing and all(s["unmet"] for s in missing)  # the slice has some; never an empty list
    assert all(("Not met: " if language == "en" else "未能满足：") in s["rationale"] for s in missing)
    # ... and says what misses each, in the same order: the colours (the palette rule), the type (a tone's type
    # rule) or both, as the grader finds them.
    kinds = {(True, False): "colours", (False, True): "type", (True, True): "colours and type"}
    zh = {"colours": "配色", "type": "字体", "colours and type": "配色、字体"}
    pattern = r"\((colours and type|colours|type)[:)]" if language == "en" else r"（(配色、字体|配色|字体)[：）]"
    seen = set()
    for i, s in enumerate(flat):
        if "unmet" not in s:
            continue
        graded_kind = []
        for a in s["unmet"]:
            if a in TONES:
                k = TONES.index(a)
                graded_kind.append(kinds[(not g.tone_palette[i, k], not g.tone_type[i, k])])
            else:
                graded_kind.append("colours")
        if language == "zh":
            graded_kind = [zh[k] for k in graded_kind]
        said = re.findall(pattern, s["rationale"].split("Not met: " if language == "en" else "未能满足：")[1])
        assert said == graded_kind, (s["unmet"], s["rationale"])
        seen.update(said)
    assert {"colours", "type"} <= {k for k, z in zh.items() if k in seen or z in seen}  # the slice has both kinds


def test_contradicting_tones_are_named_with_the_reason():
    """Morandi (greyed) and neon (glowing) are met by no library palette together: a scheme that misses one says
    which, and why; and the schemes take both sides (not three Morandi schemes)."""
    from inference.onnxruntime_backend import OnnxRuntimeBackend
    from pipeline.features import encode_batch
    from pipeline.postprocess import schemes_batch

    briefs = [brief(tone=("morandi", "neon"), keywords="summer", n=3),
              brief(tone=("morandi", "neon"), keywords="夏日", n=3, locale="zh")]
    encoded = encode_batch(briefs, max_image_bytes=1 << 20)
    outputs = OnnxRuntimeBackend(precision="fp32").infer(encoded.input_ids, encoded.attention_mask, encoded.features)
    for answer, reason in zip(schemes_batch(briefs, encoded, outputs), ("together with", "同时满足")):
        for s in answer:
            assert len(s.get("unmet", [])) == 1 and s["unmet"][0] in ("morandi", "neon"), s.get("unmet")
            assert reason in s["rationale"]
        assert {s["unmet"][0] for s in answer} == {"morandi", "neon"}
