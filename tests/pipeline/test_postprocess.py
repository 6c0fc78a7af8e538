"""Post-processing on real model outputs (the assembled ONNX model through ONNX Runtime)."""

import numpy as np
import pytest
from coloraide import Color

from contract.brief import Brief
from inference.onnxruntime_backend import OnnxRuntimeBackend
from knowledge.fonts import load_fonts
from pipeline.features import encode_brief
from pipeline.postprocess import assemble_schemes, honour_brand_colors
from pipeline.tokenization import pad_batch


@pytest.fixture(scope="module")
def backend():
    return OnnxRuntimeBackend()


def answer(backend, **fields):
    brief = Brief(**({"product_category": "snacks", "package_format": "bag"} | fields))
    encoded = encode_brief(brief)
    ids, mask = pad_batch([encoded.token_ids])
    outputs = backend.infer(ids, mask, encoded.features[None])
    return assemble_schemes(brief, encoded, {k: v[0] for k, v in outputs.items()})


def test_schemes_are_distinct_and_valid(backend):
    schemes = answer(backend, tone=["vivid"], keywords="crunchy, spicy", num_schemes=6)
    assert len(schemes) == 6
    assert len({s.palette.id for s in schemes}) == 6
    for s in schemes:
        assert s.palette.text_contrast >= 4.5
        assert 0 <= s.score <= 1.0001


def test_schemes_explore_several_styles(backend):
    schemes = answer(backend, tone=["fresh"], keywords="refreshing, summer limited", num_schemes=4)
    assert len({s.style.id for s in schemes}) >= 3
    probs = {s.id: s.score for s in schemes[0].style_scores}
    assert schemes[0].style.id == max(probs, key=probs.get)  # the first scheme keeps the likeliest style


def test_brand_colours_survive_even_when_they_clash(backend):
    for s in answer(backend, tone=["morandi"], brand_colors=["#00ff00", "#ff00ff", "#0000ff"], num_schemes=3):
        hexes = [c.hex for c in s.palette.colors]
        assert {"#00ff00", "#ff00ff", "#0000ff"} <= set(hexes)
        text = s.palette.color("text").hex
        background = s.palette.color("background").hex
        assert Color(text).contrast(Color(background), method="wcag21") >= 4.5


def test_zh_briefs_get_cjk_pairs(backend):
    fonts = load_fonts()
    for s in answer(backend, tone=["guochao"], keywords="国潮 中秋 礼盒", locale="zh", num_schemes=4):
        assert fonts[s.typography.heading.family].covers_zh and fonts[s.typography.body.family].covers_zh
        assert any("\u4e00" <= ch <= "\u9fff" for ch in s.rationale)


def test_brand_colour_replaces_the_nearest_non_text_role():
    colors = [{"hex": "#ffffff", "role": "background", "name": "white"},
              {"hex": "#111111", "role": "text", "name": "black"},
              {"hex": "#cc0000", "role": "primary", "name": "red"},
              {"hex": "#0000cc", "role": "accent", "name": "blue"}]
    out = honour_brand_colors(colors, ["#1010dd"])
    assert out[3]["hex"] == "#1010dd" and out[2]["hex"] == "#cc0000"
    assert out[0]["hex"] == "#ffffff" and out[1]["hex"] == "#111111"


def test_layout_boxes_follow_the_heatmaps(backend):
    scheme = answer(backend, num_schemes=1)[0]
    for element, box in scheme.layout.boxes.items():
        heatmap = np.array(scheme.layout.heatmaps[element])
        rows, cols = heatmap.shape
        r, c = np.unravel_index(heatmap.argmax(), heatmap.shape)
        x, y, w, h = box
        assert x - 1 / cols <= (c + 0.5) / cols <= x + w + 1 / cols
        assert y - 1 / rows <= (r + 0.5) / rows <= y + h + 1 / rows
