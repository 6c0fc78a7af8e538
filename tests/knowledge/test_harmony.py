"""Ou & Luo (2006) harmony: golden values computed here, independently, from the published equations."""

from __future__ import annotations

import math

import pytest

from knowledge.harmony import ou_luo_pair, ou_luo_pair_lab, palette_harmony


def expected_ch(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """Step-by-step CH with plain math, written out separately from the module under test."""
    l1, a1, b1 = lab1
    l2, a2, b2 = lab2
    c1 = math.sqrt(a1 * a1 + b1 * b1)
    c2 = math.sqrt(a2 * a2 + b2 * b2)
    h1 = math.degrees(math.atan2(b1, a1)) % 360
    h2 = math.degrees(math.atan2(b2, a2)) % 360
    # CIELAB metric hue difference via dE^2 = dL^2 + dC^2 + dH^2 (a different route from the module's).
    d_cab = c1 - c2
    d_hab = math.sqrt(max((a1 - a2) ** 2 + (b1 - b2) ** 2 - d_cab**2, 0.0))
    d_c = math.sqrt(d_hab**2 + (d_cab / 1.46) ** 2)
    h_c = 0.04 + 0.53 * math.tanh(0.8 - 0.045 * d_c)
    h_lsum = 0.28 + 0.54 * math.tanh(-3.88 + 0.029 * (l1 + l2))
    h_dl = 0.14 + 0.15 * math.tanh(-2 + 0.2 * abs(l1 - l2))

    def h_sy(l: float, c: float, h: float) -> float:
        e_c = 0.5 + 0.5 * math.tanh(-2 + 0.5 * c)
        h_s = -0.08 - 0.14 * math.sin(math.radians(h + 50)) - 0.07 * math.sin(math.radians(2 * h + 90))
        e_y = ((0.22 * l - 12.8) / 10) * math.exp((90 - h) / 10 - math.exp((90 - h) / 10))
        return e_c * (h_s + e_y)

    return h_c + h_lsum + h_dl + h_sy(l1, c1, h1) + h_sy(l2, c2, h2)


# Each pair exercises a pitfall of public implementations.
GOLDEN_PAIRS = {
    # 2nd quadrant (a<0, b>0) against 3rd quadrant (a<0, b<0): atan(b/a) puts these in the wrong half.
    "atan_vs_atan2": ((60.0, -30.0, 20.0), (45.0, -10.0, -40.0)),
    # a != b with strongly different magnitudes: swapping a and b changes hue and the result.
    "a_b_swap": ((50.0, 60.0, 10.0), (80.0, -5.0, 50.0)),
    # High Lsum (two light colours): 0.28 * 0.54 instead of 0.28 + 0.54 shifts H_Lsum by ~0.4.
    "high_lsum": ((92.0, 3.0, 8.0), (88.0, -6.0, 12.0)),
    # Yellow (h ~ 90deg) where E_Y matters; hue in radians inside E_Y would zero the yellow bonus.
    "yellowness": ((85.0, -2.0, 70.0), (30.0, 15.0, -30.0)),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_PAIRS))
def test_golden_values(name: str) -> None:
    lab1, lab2 = GOLDEN_PAIRS[name]
    assert ou_luo_pair_lab(lab1, lab2) == pytest.approx(expected_ch(lab1, lab2), abs=1e-6)


def test_golden_values_are_far_from_the_buggy_variants() -> None:
    """The pitfalls change the numbers by much more than the tolerance, so the goldens can fail."""
    lab1, lab2 = GOLDEN_PAIRS["high_lsum"]
    good = expected_ch(lab1, lab2)
    lsum = lab1[0] + lab2[0]
    buggy = good - (0.28 + 0.54 * math.tanh(-3.88 + 0.029 * lsum)) + 0.28 * 0.54 * math.tanh(-3.88 + 0.029 * lsum)
    assert abs(good - buggy) > 0.1
    lab1, lab2 = GOLDEN_PAIRS["a_b_swap"]
    swapped = expected_ch((lab1[0], lab1[2], lab1[1]), (lab2[0], lab2[2], lab2[1]))
    assert abs(expected_ch(lab1, lab2) - swapped) > 0.01
    # atan-only hue: 2nd-quadrant hue folds to the 4th quadrant.
    (l1, a1, b1), _ = GOLDEN_PAIRS["atan_vs_atan2"]
    atan_hue = math.degrees(math.atan(b1 / a1)) % 360
    assert abs(atan_hue - math.degrees(math.atan2(b1, a1)) % 360) == pytest.approx(180)


def test_hand_checked_value() -> None:
    """One pair worked through by hand (rounded intermediates), as a check on expected_ch itself.

    (50, 0, 0) + (50, 0, 0): dC = 0 -> H_C = 0.04 + 0.53 tanh(0.8) = 0.39194;
    Lsum = 100 -> H_Lsum = 0.28 + 0.54 tanh(-0.98) = -0.12666; dL = 0 -> H_dL = 0.14 + 0.15 tanh(-2) = -0.00460;
    C = 0 -> E_C = 0.5 + 0.5 tanh(-2) = 0.01799; h = 0: H_S = -0.08 - 0.14 sin 50 - 0.07 sin 90 = -0.25725,
    E_Y ~ 0 (exp(9 - e^9)), so H_SY = -0.004628 each.  CH = 0.39194 - 0.12666 - 0.00460 - 0.00926 = 0.25142.
    """
    assert ou_luo_pair_lab((50, 0, 0), (50, 0, 0)) == pytest.approx(0.25142, abs=5e-5)
    assert expected_ch((50, 0, 0), (50, 0, 0)) == pytest.approx(0.25142, abs=5e-5)


@pytest.mark.parametrize("pair", list(GOLDEN_PAIRS.values()))
def test_symmetric(pair: tuple) -> None:
    lab1, lab2 = pair
    assert ou_luo_pair_lab(lab1, lab2) == pytest.approx(ou_luo_pair_lab(lab2, lab1), abs=1e-12)
    assert ou_luo_pair("#a3c4e8", "#e03a1f") == pytest.approx(ou_luo_pair("#e03a1f", "#a3c4e8"), abs=1e-12)


def test_similar_light_blues_beat_clashing_red_green() -> None:
    light_blues = ou_luo_pair("#bcd4f0", "#a9c8ec")
    red_green = ou_luo_pair("#ff0000", "#00c800")
    assert light_blues > 0.3 > red_green
    assert light_blues - red_green > 0.5


def test_palette_harmony_is_mean_of_pairs() -> None:
    hexes = ["#bcd4f0", "#ff0000", "#00c800", "#fafafa"]
    pairs = [(a, b) for i, a in enumerate(hexes) for b in hexes[i + 1 :]]
    assert palette_harmony(hexes) == pytest.approx(sum(ou_luo_pair(a, b) for a, b in pairs) / 6, abs=1e-12)
    with pytest.raises(ValueError):
        palette_harmony(["#ffffff"])
