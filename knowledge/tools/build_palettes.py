"""Build knowledge/data/palettes.json: generated harmonic palettes plus curated open palettes.

Usage (repository root, project venv; needs knowledge/data/color_names.json first):

    .venv/bin/python knowledge/tools/build_palettes.py                 # whole library
    .venv/bin/python knowledge/tools/build_palettes.py --moods pastel --stdout   # one mood, for checks

(a) Generated: for each mood (a taxonomy.Tone id) a seeded ``random.Random`` draws a seed colour
    from the xkcd names (real, common colours), a hue template (classic schemes or the
    Matsuda / Cohen-Or 2006 sectors i V L I T Y X) and per-role OKLCH lightness/chroma from the
    mood's ranges; colours are gamut-mapped into sRGB (coloraide ``fit``). The text colour is
    pushed to WCAG >= 4.5 on the background with ``ensure_contrast``; a primary closer than
    deltaE2000 10 to the background is moved in lightness or the draw is rejected. Near-
    duplicates (same roles, every role within deltaE2000 < 3) are dropped. Each mood has its
    own RNG stream and duplicate check, so one mood can be rebuilt alone and must equal its
    slice of the committed file (tests/knowledge/test_palettes.py checks this).
(b) Curated: ColorBrewer (Apache-2.0) and CARTOColors (CC BY 3.0) schemes of 4-6 colours from
    PyPI ``palettable``; roles are assigned by lightness/chroma (see ``assign_roles``).
    palettable's Wes Anderson set is skipped: it is transcribed from a Tumblr blog with no licence.

Deterministic: no clocks, no hash-order dependence, fixed seeds; output rounded to 4 decimals.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge.colors import (  # noqa: E402
    MIN_TEXT_CONTRAST,
    contrast_ratio,
    delta_e2000,
    ensure_contrast,
    hex_to_oklab,
    hex_to_oklch,
    library_color_name,
    load_named_colors,
    oklch_to_hex,
)
from knowledge.palettes import PALETTES_PATH, measure_palette  # noqa: E402
from knowledge.taxonomy import Harmony, PaletteRole, Tone  # noqa: E402

PER_MOOD = 300
MAX_ATTEMPTS_PER_MOOD = 6000
MIN_PRIMARY_BG_DELTA_E = 10.0
DUPLICATE_DELTA_E = 3.0
# The order roles are written in palettes.json (the enum's); tensors use knowledge.design_tables.ROLE_ORDER.
FILE_ROLE_ORDER = [r.value for r in PaletteRole]  # background, primary, secondary, accent, highlight, text

Range = tuple[float, float]

# Matsuda hue templates as used by Cohen-Or et al. (2006), "Color Harmonization":
# (sector centre offset from the seed hue, sector width), degrees.
MATSUDA_SECTORS: dict[str, list[tuple[float, float]]] = {
    "i": [(0, 18)],
    "V": [(0, 93.6)],
    "L": [(0, 18), (90, 79.2)],
    "I": [(0, 18), (180, 18)],
    "T": [(0, 180)],
    "Y": [(0, 93.6), (180, 18)],
    "X": [(0, 93.6), (180, 93.6)],
}
# Closest taxonomy.Harmony id for each template (the taxonomy has no Matsuda ids).
TEMPLATE_HARMONY: dict[str, str] = {
    **{h.value: h.value for h in Harmony if h is not Harmony.curated},
    "i": Harmony.monochromatic,
    "V": Harmony.analogous,
    "T": Harmony.analogous,
    "L": Harmony.tetradic,  # its two sectors sit a square (90deg) apart
    "I": Harmony.complementary,
    "Y": Harmony.split_complementary,  # a wide sector opposite a narrow one
    "X": Harmony.tetradic,  # two wide opposite sectors: double complementary
}
# Classic schemes: hue offsets for [primary, accent, secondary, highlight]; s = +/-1 mirrors.
CLASSIC_OFFSETS: dict[str, Callable[[int], list[float]]] = {
    "monochromatic": lambda s: [0, 0, 0, 0],
    "analogous": lambda s: [0, 30 * s, -30 * s, 15 * s],
    "complementary": lambda s: [0, 180, 12 * s, 180 - 12 * s],
    "split_complementary": lambda s: [0, 180 - 30 * s, 180 + 30 * s, 15 * s],
    "triadic": lambda s: [0, 120 * s, 240 * s, 10 * s],
    "tetradic": lambda s: [0, 180, 60 * s, 240 * s],
    "neutral_accent": lambda s: [0, 0, 0, 0],
}


def _seed(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode())


def _u(rng: random.Random, r: Range) -> float:
    return rng.uniform(*r)


def _in_ranges(hue: float, ranges: Sequence[Range]) -> bool:
    hue %= 360.0
    return any(lo <= hue <= hi if lo <= hi else (hue >= lo or hue <= hi) for lo, hi in ranges)


@dataclass(frozen=True)
class Swatch:
    """An OKLCH draw: lightness and chroma ranges; hue from the seed or from fixed ranges."""

    l: Range
    c: Range
    hues: tuple[Range, ...] | None = None  # None: follow the template hue

    def draw(self, rng: random.Random, hue: float) -> str:
        if self.hues:
            lo, hi = rng.choice(self.hues)
            hue = rng.uniform(lo, hi if hi >= lo else hi + 360.0)
        return oklch_to_hex(_u(rng, self.l), _u(rng, self.c), hue)


@dataclass(frozen=True)
class Mood:
    name: str
    seed_hues: tuple[Range, ...]  # where seed colours may sit (OKLCH hue)
    templates: tuple[str, ...]
    backgrounds: tuple[Swatch, ...]
    color: Swatch  # primary / secondary / accent / highlight
    neutral: Swatch = Swatch((0.35, 0.75), (0.0, 0.025))  # neutral_accent's non-accent colours
    dark_text: Swatch = Swatch((0.18, 0.3), (0.01, 0.04))
    light_text: Swatch = Swatch((0.95, 0.99), (0.0, 0.02))
    strict_hues: bool = False  # every chromatic colour must stay inside seed_hues
    accent: Swatch | None = None  # overrides ``color`` for the accent role
    seed_min_chroma: float = 0.05
    # May a primary too close to the background be darkened/lightened? Not for pastel, where
    # it would leave the mood's lightness floor; such draws are rejected instead.
    primary_may_shift: bool = True


ANY_HUE: tuple[Range, ...] = ((0, 360),)
LIGHT_NEUTRAL_BG = Swatch((0.96, 0.99), (0.0, 0.015))
DARK_NEUTRAL_BG = Swatch((0.13, 0.22), (0.0, 0.03))
CREAM_BG = Swatch((0.91, 0.95), (0.02, 0.045), ((75, 95),))

GENERIC_MOODS: tuple[Mood, ...] = (
    Mood(
        "morandi",
        ANY_HUE,
        ("analogous", "complementary", "split_complementary", "triadic", "neutral_accent", "V", "T", "Y", "X"),
        (Swatch((0.88, 0.95), (0.01, 0.03)), Swatch((0.8, 0.86), (0.02, 0.045))),
        Swatch((0.55, 0.82), (0.025, 0.07)),
        dark_text=Swatch((0.25, 0.35), (0.01, 0.03)),
    ),
    Mood(
        "pastel",
        ANY_HUE,
        ("analogous", "complementary", "split_complementary", "triadic", "tetradic", "V", "I", "Y", "X"),
        (Swatch((0.94, 0.98), (0.02, 0.045)),),
        Swatch((0.8, 0.92), (0.05, 0.11)),
        dark_text=Swatch((0.3, 0.4), (0.03, 0.07)),
        primary_may_shift=False,
    ),
    Mood(
        "vivid",
        ANY_HUE,
        ("complementary", "split_complementary", "triadic", "tetradic", "analogous", "I", "X", "Y", "L"),
        (LIGHT_NEUTRAL_BG, DARK_NEUTRAL_BG, Swatch((0.55, 0.7), (0.16, 0.22), ((0, 360),))),
        Swatch((0.55, 0.8), (0.16, 0.26)),
        seed_min_chroma=0.12,
    ),
    Mood(
        "neon",
        ANY_HUE,
        ("complementary", "split_complementary", "triadic", "analogous", "tetradic", "I", "X", "V"),
        (Swatch((0.1, 0.2), (0.0, 0.04)), Swatch((0.1, 0.2), (0.0, 0.04)), Swatch((0.1, 0.2), (0.0, 0.04)),
         Swatch((0.97, 0.99), (0.0, 0.01))),
        # L 0.62-0.85: where sRGB still holds the chroma that reads as neon (at L 0.9 most hues gamut-map
        # down below 0.15).
        Swatch((0.62, 0.85), (0.24, 0.36)),
        seed_min_chroma=0.15,
    ),
    Mood(
        "earthy",
        ((40, 90), (110, 160)),
        ("monochromatic", "analogous", "neutral_accent", "i", "V", "L"),
        (Swatch((0.88, 0.95), (0.02, 0.05), ((70, 90),)), Swatch((0.22, 0.3), (0.02, 0.05), ((50, 70),)),
         Swatch((0.7, 0.78), (0.05, 0.07), ((65, 80),))),
        Swatch((0.35, 0.72), (0.04, 0.12)),
        strict_hues=True,
        neutral=Swatch((0.4, 0.75), (0.01, 0.03), ((60, 80),)),
        dark_text=Swatch((0.2, 0.3), (0.02, 0.05), ((50, 70),)),
        seed_min_chroma=0.04,
    ),
    Mood(
        "vintage",
        ((20, 110), (180, 220)),
        ("analogous", "complementary", "split_complementary", "monochromatic", "neutral_accent", "V", "i", "Y"),
        (CREAM_BG,),
        Swatch((0.45, 0.75), (0.04, 0.1)),
        dark_text=Swatch((0.25, 0.32), (0.03, 0.05), ((45, 65),)),
        seed_min_chroma=0.04,
    ),
    Mood(
        "fresh",
        ((95, 215),),
        ("analogous", "monochromatic", "neutral_accent", "V", "T", "i"),
        (Swatch((0.96, 0.99), (0.01, 0.03)),),
        Swatch((0.65, 0.9), (0.08, 0.17)),
        strict_hues=True,
        dark_text=Swatch((0.28, 0.38), (0.04, 0.08)),
    ),
    Mood(
        "warm",
        ((345, 115),),
        ("analogous", "monochromatic", "neutral_accent", "V", "i", "T"),
        (Swatch((0.95, 0.98), (0.01, 0.04), ((60, 90),)), Swatch((0.3, 0.4), (0.08, 0.12), ((25, 40),))),
        Swatch((0.5, 0.8), (0.1, 0.2)),
        strict_hues=True,
        seed_min_chroma=0.08,
    ),
    Mood(
        "tech_futuristic",
        ((185, 315),),
        ("analogous", "monochromatic", "neutral_accent", "V", "i", "T"),
        (Swatch((0.1, 0.2), (0.02, 0.05), ((250, 280),)), Swatch((0.1, 0.2), (0.02, 0.05), ((250, 280),)),
         Swatch((0.97, 0.99), (0.005, 0.015), ((240, 260),))),
        Swatch((0.6, 0.85), (0.1, 0.2)),
        strict_hues=True,
        dark_text=Swatch((0.2, 0.28), (0.03, 0.06), ((255, 270),)),
    ),
    Mood(
        "cute",
        ((340, 20), (40, 70), (95, 105), (150, 180), (290, 320)),
        ("analogous", "complementary", "triadic", "split_complementary", "V", "I", "Y", "X"),
        (Swatch((0.95, 0.98), (0.02, 0.04)),),
        Swatch((0.78, 0.9), (0.07, 0.14)),
        strict_hues=True,
        dark_text=Swatch((0.32, 0.4), (0.06, 0.1), ((345, 10), (45, 55))),
    ),
    Mood(
        "bold",
        ((20, 35), (95, 110), (255, 270), (140, 150)),
        ("triadic", "complementary", "split_complementary", "tetradic", "I", "X", "Y"),
        (Swatch((0.99, 1.0), (0.0, 0.0)), Swatch((0.12, 0.16), (0.0, 0.0)), Swatch((0.5, 0.65), (0.2, 0.25))),
        Swatch((0.45, 0.9), (0.17, 0.28)),
        dark_text=Swatch((0.08, 0.14), (0.0, 0.0)),
        light_text=Swatch((0.99, 1.0), (0.0, 0.0)),
        seed_min_chroma=0.15,
    ),
    Mood(
        "natural_organic",
        ((60, 160),),
        ("analogous", "monochromatic", "neutral_accent", "complementary", "V", "L", "i"),
        (Swatch((0.86, 0.94), (0.02, 0.05), ((75, 95),)), Swatch((0.25, 0.32), (0.04, 0.06), ((145, 155),))),
        Swatch((0.45, 0.8), (0.05, 0.13)),
        neutral=Swatch((0.45, 0.8), (0.01, 0.03), ((70, 90),)),
        seed_min_chroma=0.04,
    ),
    Mood(
        "elegant",
        ANY_HUE,
        ("monochromatic", "analogous", "complementary", "neutral_accent", "i", "V", "I"),
        (Swatch((0.95, 0.97), (0.01, 0.02), ((80, 90),)), Swatch((0.18, 0.26), (0.03, 0.07))),
        Swatch((0.35, 0.7), (0.04, 0.12)),
        accent=Swatch((0.7, 0.8), (0.07, 0.11), ((75, 95),)),  # muted gold
    ),
    Mood(
        "minimalist",
        ANY_HUE,
        ("neutral_accent",),
        (Swatch((0.97, 1.0), (0.0, 0.01)), Swatch((0.9, 0.94), (0.0, 0.01)), Swatch((0.18, 0.24), (0.0, 0.01))),
        Swatch((0.5, 0.75), (0.08, 0.18)),
        neutral=Swatch((0.3, 0.7), (0.0, 0.01)),
        dark_text=Swatch((0.12, 0.22), (0.0, 0.01)),
    ),
)


@dataclass
class Draft:
    """One palette being generated: role -> hex plus generation metadata."""

    harmony: str
    template: str
    seed: str
    roles: dict[str, str] = field(default_factory=dict)


def optional_roles(rng: random.Random) -> list[str]:
    """4, 5 or 6 colours: the two optional roles are added in a fixed order."""
    return [PaletteRole.secondary, PaletteRole.highlight][: rng.choice((0, 1, 2))]


def template_hues(template: str, h0: float, rng: random.Random) -> list[float]:
    """Hues for [primary, accent, secondary, highlight] under a template around seed hue h0."""
    if template in MATSUDA_SECTORS:
        sectors = MATSUDA_SECTORS[template]
        centre, width = sectors[0]
        # Keep the seed inside the first sector, off-centre so all of it gets used.
        h0 = h0 - rng.uniform(-0.35, 0.35) * width
        def in_sector(s: tuple[float, float]) -> float:
            return h0 + s[0] + rng.uniform(-s[1] / 2, s[1] / 2)
        primary = h0 + rng.uniform(-0.35, 0.35) * width
        accent = in_sector(sectors[-1])
        return [primary % 360, accent % 360, in_sector(rng.choice(sectors)) % 360, in_sector(rng.choice(sectors)) % 360]
    s = rng.choice((-1, 1))
    return [(h0 + off + rng.uniform(-4, 4)) % 360 for off in CLASSIC_OFFSETS[template](s)]


def text_for(bg: str, rng: random.Random, mood: Mood, hue: float) -> str:
    dark = contrast_ratio("#000000", bg) >= contrast_ratio("#ffffff", bg)
    text = (mood.dark_text if dark else mood.light_text).draw(rng, hue)
    return ensure_contrast(text, bg, MIN_TEXT_CONTRAST)


def separate_primary(primary: str, bg: str) -> str | None:
    """Primary moved in lightness until deltaE2000 >= 10 from the background, or None."""
    l, c, h = hex_to_oklch(primary)
    bg_l = hex_to_oklch(bg)[0]
    direction = -1.0 if bg_l >= 0.5 else 1.0
    for _ in range(6):
        if delta_e2000(primary, bg) >= MIN_PRIMARY_BG_DELTA_E:
            return primary
        l = min(max(l + direction * 0.06, 0.0), 1.0)
        primary = oklch_to_hex(l, c, h)
    return primary if delta_e2000(primary, bg) >= MIN_PRIMARY_BG_DELTA_E else None


def generic_draft(mood: Mood, rng: random.Random, seed_name: str, h0: float) -> Draft | None:
    template = rng.choice(mood.templates)
    hues = template_hues(template, h0, rng)
    if mood.strict_hues and template != "neutral_accent" and not all(_in_ranges(h, mood.seed_hues) for h in hues):
        return None
    draft = Draft(TEMPLATE_HARMONY[template], template, seed_name)
    bg_swatch = rng.choice(mood.backgrounds)
    bg = bg_swatch.draw(rng, rng.choice(hues))
    draft.roles[PaletteRole.background] = bg
    chromatic_roles = [PaletteRole.primary, PaletteRole.accent, *optional_roles(rng)]
    hue_of = dict(zip([PaletteRole.primary, PaletteRole.accent, PaletteRole.secondary, PaletteRole.highlight], hues))
    for role in chromatic_roles:
        swatch = mood.color
        if template == "neutral_accent" and role in (PaletteRole.primary, PaletteRole.secondary):
            swatch = mood.neutral
        elif role == PaletteRole.accent and mood.accent is not None:
            swatch = mood.accent
        draft.roles[role] = swatch.draw(rng, hue_of[role])
    draft.roles[PaletteRole.text] = text_for(bg, rng, mood, h0)
    return draft


# --- motif moods: fixed cultural colour sets rather than hue templates -------------------------


def monochrome_draft(rng: random.Random, seed_name: str, h0: float) -> Draft:
    achromatic = rng.random() < 0.3
    chroma = (0.0, 0.0) if achromatic else (0.03, 0.14)
    dark_bg = rng.random() < 0.3
    bg = oklch_to_hex(rng.uniform(0.12, 0.2) if dark_bg else rng.uniform(0.93, 0.99),
                      0.0 if achromatic else rng.uniform(0.005, 0.03), h0)
    draft = Draft(Harmony.monochromatic, "i" if rng.random() < 0.5 else "monochromatic", seed_name)
    draft.roles[PaletteRole.background] = bg
    ladder = sorted(rng.uniform(0.3, 0.85) for _ in range(4))
    roles = [PaletteRole.primary, PaletteRole.accent, *optional_roles(rng)]
    for role, l in zip(roles, ladder if dark_bg else ladder[::-1]):
        draft.roles[role] = oklch_to_hex(l, _u(rng, chroma), h0 + rng.uniform(-3, 3))
    text_l = rng.uniform(0.93, 0.98) if dark_bg else rng.uniform(0.15, 0.25)
    draft.roles[PaletteRole.text] = ensure_contrast(oklch_to_hex(text_l, min(_u(rng, chroma), 0.04), h0), bg)
    return draft


METALS = {  # OKLCH swatches of metallic inks/foils
    "gold": Swatch((0.7, 0.8), (0.09, 0.13), ((80, 95),)),
    "champagne": Swatch((0.83, 0.9), (0.03, 0.06), ((75, 90),)),
    "silver": Swatch((0.75, 0.85), (0.0, 0.012), ((240, 260),)),
    "rose_gold": Swatch((0.7, 0.78), (0.05, 0.08), ((35, 50),)),
    "bronze": Swatch((0.55, 0.63), (0.08, 0.11), ((55, 70),)),
}
LUXURY_GROUNDS = (  # near-black, midnight navy, deep emerald, burgundy, aubergine
    Swatch((0.13, 0.2), (0.0, 0.01)),
    Swatch((0.16, 0.24), (0.04, 0.07), ((255, 270),)),
    Swatch((0.2, 0.28), (0.04, 0.07), ((155, 170),)),
    Swatch((0.22, 0.3), (0.07, 0.1), ((10, 25),)),
    Swatch((0.18, 0.26), (0.05, 0.08), ((310, 330),)),
)


def metallic_draft(rng: random.Random, seed_name: str, h0: float) -> Draft:
    draft = Draft(Harmony.neutral_accent, "neutral_accent", seed_name)
    ground = rng.choice(LUXURY_GROUNDS)
    bg = ground.draw(rng, h0)
    metals = rng.sample(sorted(METALS), 3)
    draft.roles[PaletteRole.background] = bg
    draft.roles[PaletteRole.primary] = METALS[metals[0]].draw(rng, 0)
    draft.roles[PaletteRole.accent] = METALS[metals[1]].draw(rng, 0)
    for role in optional_roles(rng):
        # A lifted tone of the ground (embossing) or a third metal.
        draft.roles[role] = (METALS[metals[2]].draw(rng, 0) if rng.random() < 0.5
                             else oklch_to_hex(hex_to_oklch(bg)[0] + 0.12, hex_to_oklch(bg)[1], hex_to_oklch(bg)[2]))
    text = METALS["champagne"].draw(rng, 0) if rng.random() < 0.5 else oklch_to_hex(0.96, 0.01, 90)
    draft.roles[PaletteRole.text] = ensure_contrast(text, bg)
    return draft


GUOCHAO = {
    "chinese_red": Swatch((0.5, 0.58), (0.17, 0.21), ((22, 32),)),
    "gold": Swatch((0.72, 0.82), (0.1, 0.14), ((80, 92),)),
    "jade": Swatch((0.58, 0.7), (0.07, 0.11), ((160, 175),)),
    "ink": Swatch((0.16, 0.24), (0.0, 0.015), ((250, 270),)),
    "paper": Swatch((0.92, 0.96), (0.02, 0.04), ((80, 95),)),
    "indigo": Swatch((0.3, 0.4), (0.08, 0.12), ((255, 268),)),
    "cinnabar": Swatch((0.6, 0.66), (0.17, 0.2), ((35, 45),)),
}
# (background, primary, accent, extras, harmony): red+gold sit ~60deg apart, red+jade ~140deg.
GUOCHAO_SCHEMES = (
    ("paper", "chinese_red", "gold", ("ink", "jade"), Harmony.analogous),
    ("chinese_red", "gold", "ink", ("paper", "jade"), Harmony.analogous),
    ("ink", "chinese_red", "gold", ("jade", "paper"), Harmony.analogous),
    ("paper", "chinese_red", "jade", ("gold", "ink"), Harmony.complementary),
    ("ink", "jade", "chinese_red", ("gold", "cinnabar"), Harmony.complementary),
    ("paper", "indigo", "cinnabar", ("gold", "jade"), Harmony.complementary),
    ("chinese_red", "paper", "jade", ("gold", "ink"), Harmony.split_complementary),
)


def guochao_draft(rng: random.Random, seed_name: str, h0: float) -> Draft:
    bg_key, primary, accent, extras, harmony = rng.choice(GUOCHAO_SCHEMES)
    draft = Draft(harmony, "guochao_motif", seed_name)
    bg = GUOCHAO[bg_key].draw(rng, 0)
    draft.roles[PaletteRole.background] = bg
    draft.roles[PaletteRole.primary] = GUOCHAO[primary].draw(rng, 0)
    draft.roles[PaletteRole.accent] = GUOCHAO[accent].draw(rng, 0)
    for role, key in zip(optional_roles(rng), extras):
        draft.roles[role] = GUOCHAO[key].draw(rng, 0)
    dark = contrast_ratio("#000000", bg) >= contrast_ratio("#ffffff", bg)
    text = GUOCHAO["ink" if dark else "paper"].draw(rng, 0)
    draft.roles[PaletteRole.text] = ensure_contrast(text, bg)
    return draft


def japanese_draft(rng: random.Random, seed_name: str, h0: float) -> Draft:
    draft = Draft(Harmony.neutral_accent, "neutral_accent", seed_name)
    bg = Swatch((0.94, 0.975), (0.005, 0.02), ((70, 100),)).draw(rng, 0)  # washi off-white
    draft.roles[PaletteRole.background] = bg
    draft.roles[PaletteRole.primary] = Swatch((0.42, 0.62), (0.0, 0.012), ((60, 90), (240, 260))).draw(rng, 0)
    draft.roles[PaletteRole.accent] = Swatch((0.55, 0.75), (0.04, 0.09)).draw(rng, h0)  # one soft accent
    for role in optional_roles(rng):
        draft.roles[role] = Swatch((0.72, 0.86), (0.0, 0.015), ((60, 90),)).draw(rng, 0)  # pale grey
    draft.roles[PaletteRole.text] = ensure_contrast(Swatch((0.22, 0.3), (0.0, 0.01)).draw(rng, 0), bg)  # sumi
    return draft


MOTIF_MOODS: dict[str, tuple[tuple[Range, ...], Callable[[random.Random, str, float], Draft]]] = {
    "monochrome": (ANY_HUE, monochrome_draft),
    "metallic_luxury": (ANY_HUE, metallic_draft),
    "guochao": (ANY_HUE, guochao_draft),
    "japanese_minimal": (((0, 360),), japanese_draft),
}
MOODS: dict[str, Mood | None] = {m.name: m for m in GENERIC_MOODS} | {name: None for name in MOTIF_MOODS}
assert set(MOODS) == {t.value for t in Tone}, "every taxonomy tone needs a generation mood"


# --- assembling, measuring, deduplicating ------------------------------------------------------


def seed_colors(ranges: Sequence[Range], min_chroma: float) -> list[tuple[str, float]]:
    """(xkcd name, OKLCH hue) of real named colours inside the hue ranges, in a fixed order."""
    table = load_named_colors()
    out = []
    for i in np.flatnonzero(table.is_xkcd):
        l, c, h = hex_to_oklch(table.hexes[i])
        if c >= min_chroma and _in_ranges(h, ranges):
            out.append((table.names[i], h))
    return sorted(out)


def finish(palette_id: str, harmony: str, mood: str | None, source: str, template: str | None,
           seed: str | None, roles: dict[str, str]) -> dict:
    ordered = [(roles[r], r) for r in FILE_ROLE_ORDER if r in roles]
    colors = [
        {"hex": hex_, "role": role, "name": library_color_name(hex_),
         "oklab": [round(v, 4) + 0.0 for v in hex_to_oklab(hex_)]}
        for hex_, role in ordered
    ]
    return {"id": palette_id, "harmony": str(harmony), "mood": mood, "source": source, "template": template,
            "seed": seed, "colors": colors, **measure_palette(ordered)}


def valid(roles: dict[str, str]) -> bool:
    bg, text, primary = roles[PaletteRole.background], roles[PaletteRole.text], roles[PaletteRole.primary]
    return contrast_ratio(text, bg) >= MIN_TEXT_CONTRAST and delta_e2000(primary, bg) >= MIN_PRIMARY_BG_DELTA_E


class Deduplicator:
    """Rejects palettes whose every role is within deltaE2000 < 3 of an already kept palette."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, ...], list[tuple[np.ndarray, dict[str, str]]]] = {}

    def add(self, roles: dict[str, str]) -> bool:
        signature = tuple(r for r in FILE_ROLE_ORDER if r in roles)
        vector = np.array([hex_to_oklab(roles[r]) for r in signature])
        bucket = self.kept.setdefault(signature, [])
        for other_vector, other in bucket:
            # OKLab pre-filter: deltaE2000 < 3 implies a small OKLab distance; 0.08 is generous.
            if np.max(np.linalg.norm(other_vector - vector, axis=1)) < 0.08 and all(
                delta_e2000(roles[r], other[r]) < DUPLICATE_DELTA_E for r in signature
            ):
                return False
        bucket.append((vector, roles))
        return True


def generate_mood(name: str, count: int = PER_MOOD) -> list[dict]:
    rng = random.Random(_seed("palettes", name))
    mood = MOODS[name]
    if mood is not None:
        seeds = seed_colors(mood.seed_hues, mood.seed_min_chroma)
        make = lambda seed, h0: generic_draft(mood, rng, seed, h0)  # noqa: E731
    else:
        ranges, motif = MOTIF_MOODS[name]
        seeds = seed_colors(ranges, 0.05)
        make = lambda seed, h0: motif(rng, seed, h0)  # noqa: E731
    dedup = Deduplicator()
    out: list[dict] = []
    for _ in range(MAX_ATTEMPTS_PER_MOOD):
        if len(out) >= count:
            break
        seed_name, h0 = rng.choice(seeds)
        draft = make(seed_name, h0)
        if draft is None:
            continue
        primary = draft.roles[PaletteRole.primary]
        if mood is None or mood.primary_may_shift:
            primary = separate_primary(primary, draft.roles[PaletteRole.background])
        if primary is None:
            continue
        draft.roles[PaletteRole.primary] = primary
        if not valid(draft.roles) or not dedup.add(draft.roles):
            continue
        out.append(finish(f"gen-{name}-{len(out):05d}", draft.harmony, name, "generated", draft.template, f"xkcd:{seed_name}", draft.roles))
    return out


def assign_roles(hexes: Sequence[str]) -> dict[str, str] | None:
    """Roles for a curated scheme: lightest = background, the colour most legible on it = text
    (pushed to 4.5:1), most chromatic distinct colour = primary, farthest from primary = accent."""
    pool = list(dict.fromkeys(hexes))
    if len(pool) < 4:
        return None
    bg = max(pool, key=lambda h: (hex_to_oklch(h)[0], h))
    pool.remove(bg)
    text = max(pool, key=lambda h: (contrast_ratio(h, bg), h))
    pool.remove(text)
    candidates = [h for h in pool if delta_e2000(h, bg) >= MIN_PRIMARY_BG_DELTA_E]
    if not candidates:
        return None
    primary = max(candidates, key=lambda h: (hex_to_oklch(h)[1], h))
    pool.remove(primary)
    accent = max(pool, key=lambda h: (delta_e2000(h, primary), h))
    pool.remove(accent)
    roles = {PaletteRole.background: bg, PaletteRole.primary: primary, PaletteRole.accent: accent,
             PaletteRole.text: ensure_contrast(text, bg, MIN_TEXT_CONTRAST)}
    for role, hex_ in zip((PaletteRole.secondary, PaletteRole.highlight), pool):
        roles[role] = hex_
    return roles


def curated_palettes() -> list[dict]:
    from palettable import cartocolors, colorbrewer
    from palettable.palette import Palette as PalettablePalette

    collections = [
        ("brewer", "colorbrewer", (colorbrewer.qualitative, colorbrewer.sequential, colorbrewer.diverging)),
        ("carto", "cartocolors", (cartocolors.qualitative, cartocolors.sequential, cartocolors.diverging)),
    ]
    dedup = Deduplicator()
    out: list[dict] = []
    for prefix, source, modules in collections:
        for module in modules:
            for attr in sorted(dir(module)):
                scheme = getattr(module, attr)
                if not isinstance(scheme, PalettablePalette) or attr.endswith("_r") or not 4 <= scheme.number <= 6:
                    continue
                roles = assign_roles([h.lower() for h in scheme.hex_colors])
                if roles is None or not valid(roles) or not dedup.add(roles):
                    continue
                name = scheme.name.rsplit("_", 1)[0].lower()
                out.append(finish(f"{prefix}-{name}-{scheme.number}", Harmony.curated, None,
                                  f"palettable:{source}", None, None, roles))
    return out


def build(moods: Sequence[str] | None = None, curated: bool = True) -> list[dict]:
    palettes = [p for name in (moods or list(MOODS)) for p in generate_mood(name)]
    if curated:
        palettes += curated_palettes()
    return palettes


def dump(palettes: list[dict]) -> str:
    header = {"format": "palette library; see knowledge/palettes.py and knowledge/tools/build_palettes.py",
              "count": len(palettes)}
    lines = [json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in palettes]
    head = json.dumps(header, separators=(",", ":"))[:-1]
    return head + ',"palettes":[\n' + ",\n".join(lines) + "\n]}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moods", nargs="*", choices=list(MOODS), metavar="MOOD",
                        help=f"only these moods (default: all): {', '.join(MOODS)}")
    parser.add_argument("--no-curated", action="store_true")
    parser.add_argument("--stdout", action="store_true", help="print instead of writing the data file")
    args = parser.parse_args(argv)
    palettes = build(args.moods, curated=not args.no_curated)
    text = dump(palettes)
    if args.stdout:
        sys.stdout.write(text)
    else:
        PALETTES_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {len(palettes)} palettes to {PALETTES_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
