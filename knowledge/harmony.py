"""Ou & Luo (2006) colour-harmony score for colour pairs and palettes.

Model: L.-C. Ou and M. R. Luo, "A colour harmony model for two-colour combinations",
Color Research & Application 31(3):191-204 (2006). It was fitted to 1431 pairs shown on a grey
background; CH > 0 is "harmonious", the fitted range is roughly -1.2 .. +1.4. Inputs are CIELAB
(D65) L*, a*, b*; all angles in the model are in degrees.

    CH   = H_C + H_L + H_H
    H_C  = 0.04 + 0.53 tanh(0.8 - 0.045 dC),   dC = sqrt(dH_ab^2 + (dC_ab / 1.46)^2)
    H_L  = H_Lsum + H_dL
    H_Lsum = 0.28 + 0.54 tanh(-3.88 + 0.029 Lsum),   Lsum = L1 + L2
    H_dL = 0.14 + 0.15 tanh(-2 + 0.2 dL),            dL = |L1 - L2|
    H_H  = H_SY1 + H_SY2,   H_SY = E_C (H_S + E_Y)
    E_C  = 0.5 + 0.5 tanh(-2 + 0.5 C_ab)
    H_S  = -0.08 - 0.14 sin(h_ab + 50deg) - 0.07 sin(2 h_ab + 90deg)
    E_Y  = ((0.22 L - 12.8) / 10) exp((90deg - h_ab)/10 - exp((90deg - h_ab)/10))

dH_ab is the CIELAB metric hue difference (2 sqrt(C1 C2) sin(dh/2)), not the hue-angle
difference; h_ab = atan2(b, a) in degrees in [0, 360) (plain atan misplaces the 2nd/3rd
quadrants). In E_Y the angle stays in degrees, so the yellowness bump peaks at h_ab = 90deg.

Palettes of more than two colours score the mean of their pairwise CH: Ou, Chong, Luo & Minchew
(2011), "Additivity of colour harmony", Color Res. Appl. 36(5):355-372, found three-colour
harmony predictable from the two-colour harmony of its constituent pairs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

from knowledge.colors import hex_to_lab

Lab = tuple[float, float, float]


def _chroma_hue(a: float, b: float) -> tuple[float, float]:
    return math.hypot(a, b), math.degrees(math.atan2(b, a)) % 360.0


def _hue_effect(lab: Lab) -> float:
    """H_SY of one colour: hue preference (H_S) plus the yellowness bonus (E_Y), scaled by chroma."""
    lightness, a, b = lab
    chroma, hue = _chroma_hue(a, b)
    e_c = 0.5 + 0.5 * math.tanh(-2 + 0.5 * chroma)
    h_s = -0.08 - 0.14 * math.sin(math.radians(hue + 50)) - 0.07 * math.sin(math.radians(2 * hue + 90))
    x = (90 - hue) / 10  # degrees on purpose; x <= 9 so exp cannot overflow
    e_y = ((0.22 * lightness - 12.8) / 10) * math.exp(x - math.exp(x))
    return e_c * (h_s + e_y)


def ou_luo_pair_lab(lab1: Lab, lab2: Lab) -> float:
    """Ou-Luo CH of two CIELAB (D65) colours."""
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c1, h1 = _chroma_hue(a1, b1)
    c2, h2 = _chroma_hue(a2, b2)
    hue_angle = math.radians(abs(h1 - h2))
    delta_h = 2 * math.sqrt(c1 * c2) * math.sin(hue_angle / 2)  # |sin| is the same either way round
    delta_c = math.sqrt(delta_h**2 + ((c1 - c2) / 1.46) ** 2)
    h_c = 0.04 + 0.53 * math.tanh(0.8 - 0.045 * delta_c)
    h_lsum = 0.28 + 0.54 * math.tanh(-3.88 + 0.029 * (l1 + l2))
    h_dl = 0.14 + 0.15 * math.tanh(-2 + 0.2 * abs(l1 - l2))
    return h_c + h_lsum + h_dl + _hue_effect(lab1) + _hue_effect(lab2)


def ou_luo_pair(a_hex: str, b_hex: str) -> float:
    """Ou-Luo CH of two sRGB hex colours."""
    return ou_luo_pair_lab(hex_to_lab(a_hex), hex_to_lab(b_hex))


def palette_harmony(hexes: Sequence[str]) -> float:
    """Mean pairwise Ou-Luo CH of a palette (additivity: Ou et al. 2011)."""
    pairs = list(combinations(hexes, 2))
    if not pairs:
        raise ValueError("harmony needs at least two colours")
    return sum(ou_luo_pair(a, b) for a, b in pairs) / len(pairs)
