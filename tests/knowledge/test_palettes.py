from __future__ import annotations

import importlib.util
import json
import math
import random
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from coloraide import Color

from knowledge import palettes as palettes_module
from knowledge.palettes import (
    PALETTE_ATTRIBUTE_NAMES,
    PALETTES_PATH,
    load_palettes,
    measure_palette,
    palette_attribute_matrix,
)
from knowledge.taxonomy import Harmony, PaletteRole, Tone

ROOT = Path(__file__).resolve().parents[2]
REQUIRED_ONCE = (PaletteRole.background, PaletteRole.text, PaletteRole.primary, PaletteRole.accent)


def _builder():
    spec = importlib.util.spec_from_file_location("build_palettes", ROOT / "knowledge/tools/build_palettes.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def library():
    return load_palettes()


@pytest.fixture(scope="module")
def raw_palettes() -> list[dict]:
    return json.loads(PALETTES_PATH.read_text(encoding="utf-8"))["palettes"]


def test_size_ids_and_moods(library) -> None:
    assert len(library) >= 5000
    ids = [p.id for p in library]
    assert len(set(ids)) == len(ids)
    per_mood = Counter(p.mood for p in library)
    for tone in Tone:
        assert per_mood[tone.value] >= 250, tone
    assert set(per_mood) - {None} <= {t.value for t in Tone}
    assert {p.harmony for p in library} <= {h.value for h in Harmony}
    curated = [p for p in library if p.mood is None]
    assert curated and all(p.harmony == Harmony.curated and p.source.startswith("palettable:") for p in curated)


def test_roles_hold_for_every_palette(library) -> None:
    valid_roles = {r.value for r in PaletteRole}
    for p in library:
        roles = Counter(c.role for c in p.colors)
        assert 4 <= len(p.colors) <= 6, p.id
        assert set(roles) <= valid_roles, p.id
        assert all(roles[r] == 1 for r in REQUIRED_ONCE), p.id
        assert all(n == 1 for n in roles.values()), p.id


def test_text_contrast_and_primary_distinct_recomputed(library) -> None:
    for p in library:
        bg = Color(p.color("background").hex)
        assert bg.contrast(p.color("text").hex, method="wcag21") >= 4.5, p.id
        assert bg.delta_e(p.color("primary").hex, method="2000") >= 10, p.id


def test_colours_are_valid_srgb_hex_with_matching_oklab(library) -> None:
    rng = random.Random(3)
    for p in rng.sample(library, 300):
        for c in p.colors:
            assert len(c.hex) == 7 and c.hex == c.hex.lower()
            assert c.oklab == pytest.approx(Color(c.hex).convert("oklab").coords(), abs=6e-5)
            assert c.name


def test_stored_attributes_agree_with_recomputation(library) -> None:
    rng = random.Random(11)
    for p in rng.sample(library, 150):
        pairs = [(c.hex, c.role) for c in p.colors]
        measured = measure_palette(pairs)
        for key, value in measured.items():
            stored = getattr(p, key)
            if value is None:
                assert stored is None, (p.id, key)
            else:
                assert stored == pytest.approx(value, abs=1e-4), (p.id, key)
        # Independent spot checks straight from coloraide.
        lch = [Color(c.hex).convert("oklch") for c in p.colors]
        assert p.mean_l == pytest.approx(sum(c["lightness"] for c in lch) / len(lch), abs=1e-4)
        assert p.mean_c == pytest.approx(sum(c["chroma"] for c in lch) / len(lch), abs=1e-4)
        assert -1 <= p.temperature <= 1 and 0 <= p.hue_spread <= 360


def test_moods_have_their_character(library) -> None:
    def mood(name: str):
        return [p for p in library if p.mood == name]

    assert all(p.mean_c <= 0.08 for p in mood("morandi"))
    for p in mood("pastel"):
        non_text = [c for c in p.colors if c.role != "text"]
        assert all(c.oklab[0] >= 0.79 for c in non_text), p.id
    assert all(p.color("background").oklab[0] <= 0.3 for p in mood("metallic_luxury"))
    assert np.mean([p.temperature for p in mood("warm")]) > 0.5
    assert np.mean([p.temperature for p in mood("tech_futuristic")]) < -0.3
    assert np.mean([p.mean_c for p in mood("vivid")]) > np.mean([p.mean_c for p in mood("morandi")]) + 0.05


def test_no_near_duplicates_within_a_mood(library) -> None:
    for name in ("pastel", "monochrome"):
        group = [p for p in library if p.mood == name]
        by_sig: dict[tuple, list] = {}
        for p in group:
            by_sig.setdefault(tuple(c.role for c in p.colors), []).append(np.array([c.oklab for c in p.colors]))
        for vectors in by_sig.values():
            stack = np.stack(vectors)
            for i in range(len(stack)):
                per_role = np.linalg.norm(stack[i + 1 :] - stack[i], axis=2).max(axis=1)
                assert (per_role > 0.005).all()  # far above hex rounding; identical palettes would be 0


def test_attribute_matrix(library) -> None:
    matrix = palette_attribute_matrix()
    assert matrix.shape == (len(library), len(PALETTE_ATTRIBUTE_NAMES))
    assert np.isfinite(matrix).all()
    column = dict(zip(PALETTE_ATTRIBUTE_NAMES, matrix.T))
    assert column["mean_l"] == pytest.approx([p.mean_l for p in library], abs=1e-6)
    chromatic = column["is_chromatic"] == 1
    norms = np.hypot(column["dominant_hue_sin"], column["dominant_hue_cos"])
    assert np.allclose(norms[chromatic], 1, atol=1e-5) and np.allclose(norms[~chromatic], 0)


def test_fresh_load() -> None:
    # Load time is reported by `python -m benchmarks.knowledge_load`, never asserted (it flaked at 0.546 s).
    load_palettes.cache_clear()
    palette_attribute_matrix.cache_clear()
    loaded = load_palettes()
    assert len(loaded) >= 5000
    assert "coloraide" not in palettes_module.__dict__


def test_build_is_deterministic(raw_palettes) -> None:
    builder = _builder()
    committed = {p["id"]: p for p in raw_palettes}
    for mood in ("guochao", "pastel"):
        regenerated = builder.generate_mood(mood)
        assert [p["id"] for p in regenerated] == [p["id"] for p in raw_palettes if p["mood"] == mood]
        assert json.loads(json.dumps(regenerated)) == [committed[p["id"]] for p in regenerated]
    curated = builder.curated_palettes()
    assert json.loads(json.dumps(curated)) == [p for p in raw_palettes if p["mood"] is None]


def test_temperature_formula_poles() -> None:
    orange = "#ff7a00"
    cyan = "#00a6d6"
    warm = measure_palette([(orange, "background"), (orange, "primary"), (orange, "accent"), ("#000000", "text")])
    cool = measure_palette([(cyan, "background"), (cyan, "primary"), (cyan, "accent"), ("#000000", "text")])
    assert warm["temperature"] > 0.6 and cool["temperature"] < -0.6
    assert math.isclose(measure_palette([("#ffffff", "background"), ("#777777", "primary"),
                                         ("#333333", "accent"), ("#000000", "text")])["temperature"], 0.0,
                        abs_tol=1e-3)
