"""layout_templates.json geometry and the heatmap round trip."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from knowledge.layouts import (
    TEXT_ELEMENTS,
    LayoutTemplate,
    boxes_from_heatmap,
    boxes_overlap,
    load_layout_templates,
    render_box,
    render_heatmaps,
    template_by_id,
    templates_for,
)
from knowledge.taxonomy import ids

TEMPLATES = load_layout_templates()
MARGIN = 0.03
EPS = 1e-9


def test_ids_unique_and_prefixed_by_format() -> None:
    seen = [t.id for t in TEMPLATES]
    assert len(seen) == len(set(seen))
    for t in TEMPLATES:
        assert t.format in ids("package_format")
        assert t.id.startswith(t.format + "/")


@pytest.mark.parametrize("fmt", ids("package_format"))
def test_at_least_three_templates_per_format(fmt: str) -> None:
    assert len(templates_for(fmt)) >= 3
    assert all(t.format == fmt for t in templates_for(fmt))


def test_unknown_format_raises() -> None:
    with pytest.raises(KeyError):
        templates_for("barrel")


@pytest.mark.parametrize("t", TEMPLATES, ids=lambda t: t.id)
def test_boxes_inside_panel_with_margins(t: LayoutTemplate) -> None:
    assert set(t.boxes) == set(ids("layout_element"))
    for element, (x, y, w, h) in t.boxes.items():
        assert w > 0 and h > 0, element
        assert x >= -EPS and y >= -EPS and x + w <= 1 + EPS and y + h <= 1 + EPS, element
        # A full-bleed hero behind the text may touch the panel edge; everything else keeps a margin.
        if not (element == "hero" and t.hero_behind_text):
            assert min(x, y, 1 - x - w, 1 - y - h) >= MARGIN - EPS, element


@pytest.mark.parametrize("t", TEMPLATES, ids=lambda t: t.id)
def test_overlap_rules(t: LayoutTemplate) -> None:
    for a, b in combinations(TEXT_ELEMENTS, 2):
        assert not boxes_overlap(t.boxes[a], t.boxes[b]), (a, b)
    hero_overlaps = any(boxes_overlap(t.boxes["hero"], t.boxes[e]) for e in TEXT_ELEMENTS)
    # hero_behind_text must be declared exactly when the hero does sit under text.
    assert hero_overlaps == t.hero_behind_text


@pytest.mark.parametrize("t", TEMPLATES, ids=lambda t: t.id)
def test_style_affinities_known(t: LayoutTemplate) -> None:
    assert t.styles
    for style, affinity in t.styles.items():
        assert style in ids("style")
        assert 0 < affinity <= 1


def test_every_style_has_a_template_it_likes() -> None:
    for style in ids("style"):
        assert any(t.styles.get(style, 0) >= 0.6 for t in TEMPLATES), style


def test_overlap_helper() -> None:
    assert boxes_overlap((0, 0, 0.5, 0.5), (0.4, 0.4, 0.5, 0.5))
    assert not boxes_overlap((0, 0, 0.5, 0.5), (0.5, 0, 0.5, 0.5))  # touching edge only


@pytest.mark.parametrize("grid", [(16, 12), (32, 24)])
def test_render_then_read_back_round_trips_within_one_cell(grid: tuple[int, int]) -> None:
    rows, cols = grid
    for t in TEMPLATES:
        maps = render_heatmaps(t, grid=grid)
        assert set(maps) == set(t.boxes)
        for element, box in t.boxes.items():
            m = maps[element]
            assert m.shape == grid and m.min() >= 0 and m.max() <= 1
            x, y, w, h = boxes_from_heatmap(m)
            bx, by, bw, bh = box
            where = (t.id, element)
            assert abs(x - bx) <= 1 / cols + EPS and abs(w - bw) <= 1 / cols + EPS, where
            assert abs(y - by) <= 1 / rows + EPS and abs(h - bh) <= 1 / rows + EPS, where


def test_heatmap_is_high_inside_and_low_outside() -> None:
    m = render_box((0.25, 0.25, 0.5, 0.5), grid=(16, 12), sigma=0.5)
    assert m[8, 6] > 0.95  # centre
    assert m[0, 0] < 0.01 and m[15, 11] < 0.01  # far corners
    hard = render_box((0.25, 0.25, 0.5, 0.5), grid=(16, 12), sigma=0)
    assert set(np.unique(hard)) <= {0.0, 1.0}


def test_boxes_from_heatmap_edge_cases() -> None:
    assert boxes_from_heatmap(np.zeros((16, 12))) == [0.0, 0.0, 0.0, 0.0]
    single = np.zeros((16, 12))
    single[3, 5] = 0.2  # un-normalised peak still reads as its cell (default = half the peak)
    single[3, 6] = 0.08  # below half the peak: not part of the box
    assert boxes_from_heatmap(single) == pytest.approx([5 / 12, 3 / 16, 1 / 12, 1 / 16])
    # An explicit number is an absolute threshold.
    assert boxes_from_heatmap(single, threshold=0.05) == pytest.approx([5 / 12, 3 / 16, 2 / 12, 1 / 16])
    assert boxes_from_heatmap(single, threshold=0.5) == [0.0, 0.0, 0.0, 0.0]


def test_template_by_id() -> None:
    assert template_by_id("can/centered-stack").format == "can"
    with pytest.raises(KeyError):
        template_by_id("can/nope")
