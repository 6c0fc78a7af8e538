"""The keyword probe: colour-bearing keywords the service holds no rule for, graded apart from the held-out set.

`evaluation/probe/probe_keywords.json` lists everyday keywords (fruits, flowers, spices, drinks, festivals,
materials, places, natural phenomena) in English and Chinese, each with the OKLCH region(s) a designer would expect
in its palette and the source that says so. None of them is a string the service ships: no lexicon term, cue term,
neutral phrase, colour name or palette string contains one, and no lexicon or cue term (what the request path
matches in keyword text) occurs inside one (`collisions`). So a scheme that honours a probe keyword does it through
what the model learnt, not through a rule written for it (issue 15: "so the evaluation is not the rules grading
themselves"). Nothing under serve_app/, pipeline/, model/ or knowledge/ reads the probe (tests/evaluation checks).

Grading: each keyword becomes a few briefs (PROBE_CONTEXTS: a category and package, no tone, no brand colour, the
keyword as the whole keyword text, locale = its language); a scheme honours the keyword when at least one visible
colour (any role but text) lies inside one of its regions.

    python -m evaluation --fit-only            # prints the probe table after the fit tables
    python -m evaluation.keyword_probe build   # rebuild probe_keywords.json from probe/candidates.tsv
"""

from __future__ import annotations

import csv
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from contract.brief import Brief
from evaluation.fit import ROLES, in_box, oklch, scheme_table
from knowledge.attributes import Box, load_attributes
from knowledge.colors import load_named_colors
from knowledge.design_tables import ROLE_ORDER, palette_role_lab
from knowledge.lexicon import load_lexicon
from knowledge.palettes import PALETTES_PATH
from knowledge.taxonomy import Locale

PROBE_DIR = Path(__file__).parent / "probe"
PROBE_PATH = PROBE_DIR / "probe_keywords.json"
CANDIDATES_PATH = PROBE_DIR / "candidates.tsv"
# (category, package): a drink, a snack and a gift box, so a keyword is not judged in one context only.
PROBE_CONTEXTS = (("beverage", "can"), ("snacks", "bag"), ("gift_box", "box"))
PROBE_SCHEMES = 3
LANGUAGES = ("en", "zh")
# A region that names no chroma floor still needs a visible colour: below this a colour reads as grey (the frozen
# definitions' `chromatic_chroma` is 0.03; a keyword colour should be clearly there, so a little more).
DEFAULT_MIN_CHROMA = 0.04


@dataclass(frozen=True, slots=True)
class ProbeKeyword:
    keyword: str
    language: str  # en | zh
    regions: tuple[Box, ...]  # a scheme honours the keyword with one visible colour in any of them
    colour: str  # the expected colour in words
    source: str  # URL of the page that says so, or "common knowledge"


def fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _region(raw: dict) -> Box:
    hues = raw.get("h")
    return Box(l=tuple(raw.get("l", (0.0, 1.0))), c=tuple(raw.get("c", (DEFAULT_MIN_CHROMA, 0.37))),
               hues=tuple(tuple(h) for h in hues) if hues else None)


@cache
def load_probe() -> tuple[ProbeKeyword, ...]:
    raw = json.loads(PROBE_PATH.read_text(encoding="utf-8"))
    return tuple(ProbeKeyword(e["keyword"], e["language"], tuple(_region(r) for r in e["regions"]), e["colour"],
                              e["source"]) for e in raw["keywords"])


# --- what the service ships ---------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def _is_cjk_free(text: str) -> bool:
    return all(not ("\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff") for ch in text)


@cache
def shipped_strings() -> dict[str, tuple[str, ...]]:
    """Every string the service could match a keyword against, folded, by where it ships."""
    attrs = load_attributes()
    palettes = json.loads(PALETTES_PATH.read_text(encoding="utf-8"))["palettes"]
    palette_strings = {fold(str(p.get(k))) for p in palettes for k in ("id", "mood", "harmony", "seed", "name")
                       if p.get(k)}
    palette_strings |= {fold(c["name"]) for p in palettes for c in p["colors"] if c.get("name")}
    return {
        "lexicon": tuple(sorted({fold(t) for e in load_lexicon() for t in (e.zh, e.en)})),
        "cue terms and neutral phrases": tuple(sorted(attrs.cue_terms)),
        "colour names": tuple(sorted({fold(n) for n in load_named_colors().names})),
        "palettes": tuple(sorted(palette_strings)),
    }


def _words(text: str) -> str:
    return " ".join(_WORD.findall(text))


def _ngrams(text: str) -> set[str]:
    """Every run of whole words of `text`, space-joined ("st patrick's day" -> "st", "st patrick", ...)."""
    words = _WORD.findall(text)
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}


@cache
def _latin_ngrams(source: str) -> frozenset[str]:
    return frozenset(g for s in shipped_strings()[source] if _is_cjk_free(s) for g in _ngrams(s))


@cache
def _latin_terms(source: str) -> frozenset[str]:
    return frozenset(_words(s) for s in shipped_strings()[source] if _is_cjk_free(s))


@cache
def _cjk_strings(source: str) -> tuple[str, ...]:
    return tuple(s for s in shipped_strings()[source] if not _is_cjk_free(s))


# Strings the request path itself finds inside keyword text; a probe keyword must contain none of them.
MATCHED_INSIDE = ("lexicon", "cue terms and neutral phrases")


def collisions(keyword: str) -> list[tuple[str, str]]:
    """(where, shipped string) for every shipped string that contains the keyword, and every lexicon or cue term
    the keyword contains. Latin text is compared as whole words ("sea" is not in "seasonal"), Chinese as substrings
    (Chinese has no word boundaries, and the runtime lexicon matches substrings too). Empty for a good probe
    keyword."""
    k = fold(keyword)
    found = []
    for source in shipped_strings():
        if _is_cjk_free(k):
            if _words(k) in _latin_ngrams(source):
                found.append((source, k))
        else:
            found += [(source, s) for s in _cjk_strings(source) if k in s]
        if source in MATCHED_INSIDE:
            inside = sorted(_ngrams(k) & _latin_terms(source)) + [s for s in _cjk_strings(source) if s in k]
            found += [(source + " (inside the keyword)", s) for s in inside if s != k]
    return found


# --- briefs and grading -------------------------------------------------------------------------------------------


def probe_briefs(probe: tuple[ProbeKeyword, ...] | None = None) -> tuple[list[Brief], np.ndarray]:
    """One brief per keyword and context -> (briefs, (B,) index of the keyword in the probe)."""
    probe = load_probe() if probe is None else probe
    briefs, owner = [], []
    for k, p in enumerate(probe):
        for category, package in PROBE_CONTEXTS:
            briefs.append(Brief(product_category=category, package_format=package, keywords=p.keyword,
                                num_schemes=PROBE_SCHEMES, locale=Locale(p.language)))
            owner.append(k)
    return briefs, np.array(owner, dtype=np.int64)


def honoured(briefs, answers, owner: np.ndarray, probe: tuple[ProbeKeyword, ...] | None = None):
    """Per scheme: (S,) whether one visible colour lies in a region of its brief's keyword, and (S,) the keyword
    index of each scheme."""
    probe = load_probe() if probe is None else probe
    rules = load_attributes().rules
    t = scheme_table(briefs, answers)
    visible = t.present & np.array([r not in rules.exempt_roles for r in ROLES])
    keyword = owner[t.answer]
    hit = np.zeros(len(keyword), bool)
    for k in np.unique(keyword):
        rows = keyword == k
        inside = np.zeros((rows.sum(), t.lch.shape[1]), bool)
        for box in probe[k].regions:
            inside |= in_box(box, t.lch[rows])
        hit[rows] = (inside & visible[rows]).any(axis=1)
    return hit, keyword


def probe_metrics(hit: np.ndarray, keyword: np.ndarray, probe: tuple[ProbeKeyword, ...] | None = None,
                  suffix: str = "") -> dict[str, float]:
    probe = load_probe() if probe is None else probe
    language = np.array([probe[k].language for k in keyword])
    out = {}
    for lang in LANGUAGES:
        rows = language == lang
        kws = np.unique(keyword[rows])
        out[f"probe_{lang}{suffix}"] = float(hit[rows].mean()) if rows.any() else float("nan")
        out[f"probe_keywords_all_{lang}{suffix}"] = float(np.mean([hit[keyword == k].all() for k in kws]))
        out[f"probe_keywords_{lang}"] = float(len(kws))
    out[f"probe{suffix}"] = float(hit.mean())
    return out


def library_chance(probe: tuple[ProbeKeyword, ...] | None = None) -> dict[str, float]:
    """What a keyword-blind answer would score: per language, the mean over keywords of the share of library
    palettes (as shipped, every one equally likely) with a visible colour in the keyword's region."""
    probe = load_probe() if probe is None else probe
    rules = load_attributes().rules
    lab, mask = palette_role_lab()
    take = [[r.value for r in ROLE_ORDER].index(r) for r in ROLES]
    lch = oklch(lab[:, take].astype(np.float64))
    visible = (mask[:, take] > 0) & np.array([r not in rules.exempt_roles for r in ROLES])
    shares = np.zeros(len(probe))
    for k, p in enumerate(probe):
        inside = np.zeros(visible.shape, bool)
        for box in p.regions:
            inside |= in_box(box, lch)
        shares[k] = (inside & visible).any(axis=1).mean()
    language = np.array([p.language for p in probe])
    return {f"probe_chance_{lang}": float(shares[language == lang].mean()) for lang in LANGUAGES} | {
        "probe_chance": float(shares.mean())}


# --- building the probe file from the candidate table -------------------------------------------------------------

# Colour families used in candidates.tsv; each becomes explicit OKLCH regions in probe_keywords.json.
# Hue in OKLCH degrees (red ~25, orange ~55, yellow ~100, green ~145, cyan ~200, blue ~260, violet ~300, magenta
# ~340); each family spans what a designer would still call that colour.
FAMILIES: dict[str, tuple[str, list[dict]]] = {
    "R": ("red", [{"h": [[10, 45]], "c": [0.08, 0.37]}]),
    "DR": ("deep red / wine", [{"h": [[345, 360], [0, 45]], "l": [0.15, 0.6], "c": [0.06, 0.37]}]),
    "PK": ("pink", [{"h": [[330, 360], [0, 30]], "l": [0.6, 1.0], "c": [0.04, 0.37]}]),
    "MG": ("magenta / fuchsia", [{"h": [[310, 360], [0, 15]], "c": [0.1, 0.37]}]),
    "CO": ("coral / salmon", [{"h": [[15, 55]], "l": [0.6, 0.9], "c": [0.06, 0.37]}]),
    "OR": ("orange", [{"h": [[35, 75]], "c": [0.08, 0.37]}]),
    "GY": ("golden / amber", [{"h": [[55, 100]], "c": [0.06, 0.37]}]),
    "YL": ("yellow", [{"h": [[80, 115]], "l": [0.6, 1.0], "c": [0.08, 0.37]}]),
    "LM": ("yellow-green / lime", [{"h": [[105, 145]], "c": [0.08, 0.37]}]),
    "GR": ("green", [{"h": [[115, 170]], "c": [0.05, 0.37]}]),
    "DG": ("dark green", [{"h": [[115, 180]], "l": [0.0, 0.55], "c": [0.03, 0.37]}]),
    "TQ": ("turquoise / teal", [{"h": [[165, 225]], "c": [0.05, 0.37]}]),
    "SB": ("pale icy blue", [{"h": [[190, 260]], "l": [0.65, 1.0], "c": [0.03, 0.37]}]),
    "BL": ("blue", [{"h": [[215, 280]], "c": [0.06, 0.37]}]),
    "NV": ("navy / indigo", [{"h": [[235, 305]], "l": [0.0, 0.45], "c": [0.03, 0.37]}]),
    "VI": ("purple / violet", [{"h": [[280, 340]], "c": [0.05, 0.37]}]),
    "LV": ("lilac / lavender", [{"h": [[275, 330]], "l": [0.6, 1.0], "c": [0.03, 0.37]}]),
    "BR": ("brown", [{"h": [[25, 85]], "l": [0.2, 0.62], "c": [0.03, 0.2]}]),
    "TAN": ("sand / tan", [{"h": [[45, 100]], "l": [0.6, 0.92], "c": [0.02, 0.14]}]),
    "DK": ("charcoal / near black", [{"l": [0.0, 0.3], "c": [0.0, 0.06]}]),
}


def build(candidates: Path = CANDIDATES_PATH, out: Path = PROBE_PATH) -> list[tuple[str, list]]:
    """candidates.tsv (keyword, language, family codes joined by '+', source) -> probe_keywords.json, dropping
    every candidate that collides with a shipped string. -> the dropped ones with their collisions."""
    kept, dropped = [], []
    with candidates.open(encoding="utf-8") as f:
        for row in csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t"):
            hits = collisions(row["keyword"])
            if hits:
                dropped.append((row["keyword"], hits[:3]))
                continue
            codes = row["family"].split("+")
            kept.append({
                "keyword": row["keyword"], "language": row["language"],
                "colour": " or ".join(FAMILIES[c][0] for c in codes),
                "regions": [r for c in codes for r in FAMILIES[c][1]],
                "source": row["source"],
            })
    doc = {
        "_meta": {
            "what": "colour-bearing keywords in no shipped list; see README.md",
            "region": "OKLCH: l and c intervals, h hue intervals in degrees (absent = any hue); c defaults to "
                      f"[{DEFAULT_MIN_CHROMA}, 0.37], l to [0, 1]",
            "count": {lang: sum(k["language"] == lang for k in kept) for lang in LANGUAGES},
        },
        "keywords": kept,
    }
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return dropped


if __name__ == "__main__":
    if sys.argv[1:] == ["build"]:
        for keyword, hits in build():
            print(f"dropped {keyword!r}: {hits}")
        load_probe.cache_clear()
        print({lang: sum(p.language == lang for p in load_probe()) for lang in LANGUAGES}, "kept")
    else:
        sys.exit(__doc__)
