"""Build the typography data: knowledge/data/fonts.json and knowledge/data/font_pairs.json.

Usage (from the repository root):

    # 1. (only when refreshing the font list) unpack the npm package outside the repo:
    #      mkdir /tmp/gfm && cd /tmp/gfm && npm pack google-font-metadata@6.0.8 && tar xzf google-font-metadata-*.tgz
    .venv/bin/python knowledge/tools/build_fonts.py --package-dir /tmp/gfm/package   # fonts.json + pairs
    # 2. regenerate only the pairs from the committed fonts.json + tags CSV:
    .venv/bin/python knowledge/tools/build_fonts.py

Deterministic: no randomness, every choice is ordered by (score, family name); same inputs -> same bytes.

fonts.json: from ``data/google-fonts-v2.json`` of the package, per family: family, category, subsets,
weights (ints, ascending), italic (an italic style exists). Sorted by family.

font_pairs.json rules
- Heading candidates (Latin pairs): display / serif / sans-serif / handwriting families that cover Latin,
  carry /Expressive/* tags, and are not script-specific (no CJK subsets, no /Arabic|/Hebrew|/Indic|... tags,
  only Latin/Cyrillic/Greek/Vietnamese subsets, not a "Noto ..." script family) nor special-use
  (symbols, barcodes, redaction, learn-to-write models).
- Coverage: for every expressive tag (rarest first) take the HEADINGS_PER_TAG strongest not-yet-chosen
  headings for that tag, so each tag is represented by several pairs.
- Body faces: the BODY_FACES list of highly legible text families (sans or serif with >= 4 weights incl. 400).
- Contrast: a serif heading takes a sans body; a sans heading takes a serif body; display / handwriting
  headings take either (their shapes already contrast with a text face). Each heading gets the
  BODIES_PER_HEADING bodies whose expressive profile is most similar (cosine) to the heading's, with a
  small penalty per earlier use so the library does not collapse onto one body face.
- Plus SUPERFAMILY pairs (e.g. IBM Plex Serif + IBM Plex Sans): same design family, contrast of structure.
- Weights: serif / sans headings use 700 (or the nearest available >= 600); display / handwriting use 400
  (or the nearest available). Bodies use 400.
- mood = 0.7 * heading tags + 0.3 * body tags (0-1, non-zero only, rounded to 3 decimals), then a weight
  nudge: a heading >= 800 adds Loud, a body <= 300 adds Calm + Sophisticated (lighter text reads quieter).
- zh pairs: both families must cover Simplified Chinese (FontFamily.covers_zh: the "chinese-simplified" subset,
  or >= 98 % of GB2312 level 1 measured in the web font files, knowledge/data/zh_font_coverage.json). CJK headings x Noto Sans SC / Noto
  Serif SC bodies at 300 and 400, the two Noto SC families crossed, and each Noto SC family with itself
  (heavy heading over light body). CSV tags for CJK families are sparse (Noto Serif SC only has Loud),
  so CJK_MANUAL_MOOD adds a hand-assigned profile (max of CSV and manual).
- ids: "<heading-slug>__<body-slug>" for the canonical weights, with "--<hw>-<bw>" appended otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from knowledge.fonts import (  # noqa: E402
    FONT_PAIRS_PATH,
    FONTS_PATH,
    TAGS_CSV_PATH,
    FontFamily,
    clear_caches,
    expressive_tag_names,
    load_fonts,
)

HEADING_CATEGORIES = ("display", "serif", "sans-serif", "handwriting")
HEADINGS_PER_TAG = 7
BODIES_PER_HEADING = 2
BODY_REUSE_PENALTY = 0.015
HEADING_SHARE = 0.7

BODY_FACES = (
    # sans
    "Inter", "Roboto", "Open Sans", "Lato", "Source Sans 3", "Noto Sans", "Work Sans", "IBM Plex Sans",
    "DM Sans", "Nunito", "Nunito Sans", "Karla", "Manrope", "Rubik", "Mulish", "Figtree", "Fira Sans",
    "Libre Franklin", "Public Sans",
    # serif
    "Noto Serif", "Lora", "Merriweather", "Source Serif 4", "Crimson Pro", "EB Garamond", "IBM Plex Serif",
    "Literata", "Spectral", "Alegreya", "Newsreader",
)

# (heading, body): same superfamily, structural contrast (serif vs sans, display cut vs text cut).
SUPERFAMILY = (
    ("IBM Plex Serif", "IBM Plex Sans"), ("IBM Plex Sans", "IBM Plex Serif"),
    ("Noto Serif", "Noto Sans"), ("Noto Sans", "Noto Serif"), ("Noto Serif Display", "Noto Sans"),
    ("Source Serif 4", "Source Sans 3"), ("Roboto Slab", "Roboto"), ("Roboto Serif", "Roboto"),
    ("Merriweather", "Merriweather Sans"), ("Alegreya", "Alegreya Sans"), ("Alegreya Sans", "Alegreya"),
    ("Josefin Slab", "Josefin Sans"), ("Playfair Display", "Playfair"), ("Inter Tight", "Inter"),
    ("Roboto Condensed", "Roboto"), ("Montserrat Alternates", "Montserrat"),
)

NON_LATIN_TAG_GROUPS = ("/Arabic/", "/Hebrew/", "/Indic/", "/Sinhala/", "/South East Asian")
SPECIAL_USE_TAG_GROUPS = ("/Not text/", "/Special use/", "/Purpose/Learn To Write")
# Subsets of Latin-first families; any other subset (devanagari, khmer, arabic, ...) marks a family whose
# Latin glyphs are secondary to another script, so it is not offered as a Latin heading.
LATIN_FIRST_SUBSETS = frozenset({"latin", "latin-ext", "cyrillic", "cyrillic-ext", "greek", "greek-ext",
                                 "vietnamese", "math", "symbols", "symbols2", "menu"})

# Hand-assigned moods for the zh families (0-1); merged with the CSV tags by max. Why each:
CJK_MANUAL_MOOD: dict[str, dict[str, float]] = {
    # Neutral humanist Hei: the default text face, quiet and businesslike.
    "Noto Sans SC": {"Calm": 0.9, "Business": 0.7, "Competent": 0.6, "Sincere": 0.4},
    # Song/Ming serif: literary, refined, trustworthy.
    "Noto Serif SC": {"Sophisticated": 0.7, "Calm": 0.6, "Business": 0.6, "Sincere": 0.5, "Vintage": 0.3},
    # Rounded, bouncy display face.
    "ZCOOL KuaiLe": {"Playful": 0.8, "Cute": 0.7, "Happy": 0.7, "Childlike": 0.5},
    # Geometric, squared display face.
    "ZCOOL QingKe HuangYou": {"Futuristic": 0.8, "Innovative": 0.6, "Loud": 0.5},
    # Elegant high-contrast Song-like display.
    "ZCOOL XiaoWei": {"Sophisticated": 0.7, "Fancy": 0.5, "Vintage": 0.5, "Calm": 0.6},
    # Brush calligraphy (kaishu-like).
    "Ma Shan Zheng": {"Artistic": 0.8, "Vintage": 0.7, "Fancy": 0.4},
    # Casual brush handwriting.
    "Zhi Mang Xing": {"Artistic": 0.7, "Active": 0.6, "Rugged": 0.4, "Vintage": 0.4},
    # Loose pen handwriting.
    "Long Cang": {"Artistic": 0.6, "Sincere": 0.6, "Childlike": 0.4, "Happy": 0.3},
    # Wild cursive grass script.
    "Liu Jian Mao Cao": {"Artistic": 0.9, "Excited": 0.6, "Rugged": 0.5, "Vintage": 0.5},
    # Added faces (zh_font_coverage.json); GF category kept, mood from the family's own description + a look at it.
    # 仙人掌明體: a light classical Ming (Song) text face on old-print glyph shapes: refined, quiet, traditional.
    "Cactus Classical Serif": {"Sophisticated": 0.8, "Calm": 0.7, "Vintage": 0.6, "Sincere": 0.4},
    # 霞鶩文楷: a Kai (regular-script) face after Klee One: warm, bookish, traditional, gently artistic.
    "LXGW WenKai TC": {"Sincere": 0.7, "Vintage": 0.6, "Calm": 0.6, "Artistic": 0.5},
    # 霞鶩漫黑: a Hei drawn with a marker pen (after Permanent Marker): casual, lively, friendly.
    "LXGW Marker Gothic": {"Playful": 0.6, "Active": 0.6, "Happy": 0.5, "Sincere": 0.4},
    # WDXL 滑油字: condensed, heavy, square-cornered geometric strokes, a poster face like ZCOOL QingKe HuangYou.
    "WDXL Lubrifont SC": {"Loud": 0.7, "Futuristic": 0.6, "Innovative": 0.5, "Active": 0.5},
    # 昭源圓體: a rounded Hei, soft stroke ends: friendly, gentle, approachable.
    "Chiron GoRound TC": {"Happy": 0.6, "Sincere": 0.6, "Calm": 0.5, "Cute": 0.4},
    # 昭源黑體: a contemporary Hei of even colour (after Source Han Sans): clean, businesslike, modern.
    "Chiron Hei HK": {"Business": 0.6, "Competent": 0.6, "Calm": 0.6, "Innovative": 0.3},
    # 朱古力黑體: a Hei on classical (old-print) glyph shapes: plain but with a period flavour.
    "Chocolate Classical Sans": {"Calm": 0.6, "Sincere": 0.5, "Vintage": 0.5, "Sophisticated": 0.4},
}
ZH_HEADINGS = ("Liu Jian Mao Cao", "Long Cang", "Ma Shan Zheng", "ZCOOL KuaiLe", "ZCOOL QingKe HuangYou",
               "ZCOOL XiaoWei", "Zhi Mang Xing")
# Headings added later go after every earlier combination, so existing pair ids keep their rows (a model's baked
# font key table stays aligned with them until it is re-exported).
ZH_HEADINGS_ADDED = ("Cactus Classical Serif", "LXGW WenKai TC", "LXGW Marker Gothic", "WDXL Lubrifont SC",
                     # 2026-12-04: sans faces, so sans-typed zh answers repeat a heading less often
                     "Chiron GoRound TC", "Chiron Hei HK", "Chocolate Classical Sans")
ZH_BODIES = ("Noto Sans SC", "Noto Serif SC")
ZH_BODY_WEIGHTS = (400, 300)
ZH_NOTO_HEADING_WEIGHTS = (700, 900)

CATEGORY_WORDS = {
    "serif": ("serif", "衬线"),
    "sans-serif": ("sans", "无衬线"),
    "display": ("display", "展示体"),
    "handwriting": ("handwritten", "手写体"),
    "monospace": ("monospace", "等宽"),
}
MOOD_WORDS = {
    "Active": ("active", "富有动感"), "Artistic": ("artistic", "富有艺术感"), "Awkward": ("quirky", "古怪有趣"),
    "Business": ("businesslike", "专业稳重"), "Calm": ("calm", "沉静"), "Childlike": ("childlike", "童趣"),
    "Competent": ("competent", "可靠干练"), "Cute": ("cute", "可爱"), "Excited": ("excited", "兴奋热烈"),
    "Fancy": ("fancy", "华丽"), "Futuristic": ("futuristic", "未来感"), "Happy": ("happy", "欢快"),
    "Innovative": ("innovative", "新锐"), "Loud": ("loud", "醒目张扬"), "Playful": ("playful", "俏皮"),
    "Rugged": ("rugged", "粗犷"), "Sincere": ("sincere", "真诚"), "Sophisticated": ("sophisticated", "精致"),
    "Stiff": ("formal", "端正严谨"), "Vintage": ("vintage", "复古"),
}
ZH_CATEGORY_WORDS = {
    "Noto Sans SC": ("Hei sans", "黑体"), "Noto Serif SC": ("Song serif", "宋体"),
    "ZCOOL KuaiLe": ("rounded display", "圆润展示体"), "ZCOOL QingKe HuangYou": ("geometric display", "几何展示体"),
    "ZCOOL XiaoWei": ("elegant Song display", "雅致宋体风展示体"), "Ma Shan Zheng": ("brush calligraphy", "毛笔楷书"),
    "Zhi Mang Xing": ("brush script", "毛笔行书"), "Long Cang": ("pen handwriting", "钢笔手写体"),
    "Liu Jian Mao Cao": ("cursive grass script", "草书"),
    "Cactus Classical Serif": ("classical Ming serif", "古典明体"), "LXGW WenKai TC": ("Kai regular script", "楷体"),
    "LXGW Marker Gothic": ("marker-pen Hei", "马克笔黑体"), "WDXL Lubrifont SC": ("condensed geometric display", "窄体几何展示体"),
    "Chiron GoRound TC": ("rounded Hei", "圆体"), "Chiron Hei HK": ("contemporary Hei", "现代黑体"),
    "Chocolate Classical Sans": ("classical-form Hei", "古典字形黑体"),
}


def slug(family: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", family.lower()).strip("-")


def pair_id(heading: str, hw: int, body: str, bw: int, canonical: bool) -> str:
    base = f"{slug(heading)}__{slug(body)}"
    return base if canonical else f"{base}--{hw}-{bw}"


def nearest_weight(font: FontFamily, target: int, minimum: int = 0) -> int:
    """The available weight closest to target (>= minimum when possible); ties go heavier."""
    pool = [w for w in font.weights if w >= minimum] or list(font.weights)
    return min(pool, key=lambda w: (abs(w - target), -w))


def heading_weight(font: FontFamily) -> int:
    if font.category in ("serif", "sans-serif"):
        return nearest_weight(font, 700, minimum=600)
    return nearest_weight(font, 400)


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def mood(heading_tags: dict[str, float], body_tags: dict[str, float], hw: int, bw: int) -> dict[str, float]:
    tags = sorted(set(heading_tags) | set(body_tags))
    out = {t: HEADING_SHARE * heading_tags.get(t, 0.0) + (1 - HEADING_SHARE) * body_tags.get(t, 0.0) for t in tags}
    if hw >= 800:
        out["Loud"] = out.get("Loud", 0.0) + 0.2
    if bw <= 300:
        out["Calm"] = out.get("Calm", 0.0) + 0.1
        out["Sophisticated"] = out.get("Sophisticated", 0.0) + 0.1
    return {t: round(min(v, 1.0), 3) for t, v in sorted(out.items()) if round(v, 3) > 0}


def top_moods(m: dict[str, float], n: int = 2) -> list[str]:
    return [t for t, _ in sorted(m.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def rationale(h_words: tuple[str, str], b_words: tuple[str, str], m: dict[str, float],
              same_family: bool) -> tuple[str, str]:
    moods = top_moods(m)
    en_mood = " and ".join(MOOD_WORDS[t][0] for t in moods)
    article = "an" if en_mood[0] in "aeiou" else "a"
    zh_mood = "、".join(MOOD_WORDS[t][1] for t in moods)
    if same_family:
        return (f"A {h_words[0]} heading over its {b_words[0]} sibling: one voice, clear hierarchy, "
                f"{article} {en_mood} feel.",
                f"同一字族的{h_words[1]}标题与{b_words[1]}正文，风格统一、层次清晰，显得{zh_mood}。")
    return (f"A {h_words[0]} heading over a legible {b_words[0]} body for {article} {en_mood} feel.",
            f"{h_words[1]}标题搭配易读的{b_words[1]}正文，显得{zh_mood}。")


def is_heading_candidate(font: FontFamily, raw_tags: dict[str, set[str]]) -> bool:
    groups = raw_tags.get(font.family, set())
    return (
        font.category in HEADING_CATEGORIES
        and font.covers_latin
        and bool(font.tags)
        and font.family not in BODY_FACES
        and not font.family.startswith("Noto ")
        and set(font.subsets) <= LATIN_FIRST_SUBSETS
        and not any(g.startswith(NON_LATIN_TAG_GROUPS + SPECIAL_USE_TAG_GROUPS) for g in groups)
    )


def _tag_groups() -> dict[str, set[str]]:
    """family -> all its tag paths (to spot script-specific / special-use families)."""
    import csv

    groups: dict[str, set[str]] = {}
    with TAGS_CSV_PATH.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for family, tag, _ in reader:
            groups.setdefault(family, set()).add(tag)
    return groups


def _make_pair(fonts: dict[str, FontFamily], heading: str, hw: int, body: str, bw: int, canonical: bool,
               h_tags: dict[str, float], b_tags: dict[str, float], words: tuple[tuple[str, str], tuple[str, str]],
               zh: bool) -> dict:
    m = mood(h_tags, b_tags, hw, bw)
    en, zh_text = rationale(words[0], words[1], m, same_family=_same_superfamily(heading, body))
    return {
        "id": pair_id(heading, hw, body, bw, canonical),
        "heading_family": heading, "heading_weight": hw,
        "body_family": body, "body_weight": bw,
        "zh": zh, "mood": m, "rationale_en": en, "rationale_zh": zh_text,
    }


def _same_superfamily(a: str, b: str) -> bool:
    return a == b or (a, b) in SUPERFAMILY


def latin_pairs(fonts: dict[str, FontFamily]) -> list[dict]:
    groups = _tag_groups()
    tag_names = expressive_tag_names()
    candidates = [f for f in fonts.values() if is_heading_candidate(f, groups)]
    bodies = [fonts[b] for b in BODY_FACES
              if b in fonts and len(fonts[b].weights) >= 4 and 400 in fonts[b].weights]

    # Rarest tag first, so scarce moods (Sophisticated, Active) get their strongest faces.
    tag_count = Counter(t for f in candidates for t in f.tags)
    headings: list[FontFamily] = []
    chosen: set[str] = set()
    for tag in sorted(tag_names, key=lambda t: (tag_count[t], t)):
        ranked = sorted((f for f in candidates if f.tags.get(tag, 0) > 0 and f.family not in chosen),
                        key=lambda f: (-f.tags[tag], f.family))
        for font in ranked[:HEADINGS_PER_TAG]:
            headings.append(font)
            chosen.add(font.family)

    uses: Counter[str] = Counter()
    pairs: list[dict] = []
    for head in headings:
        if head.category == "serif":
            eligible = [b for b in bodies if b.category == "sans-serif"]
        elif head.category == "sans-serif":
            eligible = [b for b in bodies if b.category == "serif"]
        else:
            eligible = bodies
        ranked = sorted(eligible, key=lambda b: (-(cosine(head.tags, b.tags) - BODY_REUSE_PENALTY * uses[b.family]),
                                                 b.family))
        hw = heading_weight(head)
        for body in ranked[:BODIES_PER_HEADING]:
            uses[body.family] += 1
            words = (CATEGORY_WORDS[head.category], CATEGORY_WORDS[body.category])
            pairs.append(_make_pair(fonts, head.family, hw, body.family, 400, True, head.tags, body.tags, words,
                                    zh=False))

    for h, b in SUPERFAMILY:
        if h not in fonts or b not in fonts or 400 not in fonts[b].weights:
            continue
        head, body = fonts[h], fonts[b]
        words = (CATEGORY_WORDS[head.category], CATEGORY_WORDS[body.category])
        pairs.append(_make_pair(fonts, h, heading_weight(head), b, 400, True, head.tags, body.tags, words,
                                zh=False))
    return pairs


def _zh_tags(fonts: dict[str, FontFamily], family: str) -> dict[str, float]:
    merged = dict(fonts[family].tags)
    for tag, value in CJK_MANUAL_MOOD.get(family, {}).items():
        merged[tag] = max(merged.get(tag, 0.0), value)
    return merged


def zh_pairs(fonts: dict[str, FontFamily]) -> list[dict]:
    combos: list[tuple[str, int, str, int, bool]] = []
    for h in ZH_HEADINGS:
        for b in ZH_BODIES:
            for i, bw in enumerate(ZH_BODY_WEIGHTS):
                combos.append((h, nearest_weight(fonts[h], 400), b, bw, i == 0))
    for h in ZH_BODIES:
        for b in ZH_BODIES:
            for i, hw in enumerate(ZH_NOTO_HEADING_WEIGHTS):
                for j, bw in enumerate(ZH_BODY_WEIGHTS):
                    combos.append((h, hw, b, bw, i == 0 and j == 0))
    for h in ZH_HEADINGS_ADDED:
        for b in ZH_BODIES:
            for i, bw in enumerate(ZH_BODY_WEIGHTS):
                # heading_weight: a Hei with a bold takes it (the single-weight faces stay at 400)
                combos.append((h, heading_weight(fonts[h]), b, bw, i == 0))
    pairs = []
    for h, hw, b, bw, canonical in combos:
        if h not in fonts or b not in fonts or not (fonts[h].covers_zh and fonts[b].covers_zh):
            continue  # a zh pair must render Simplified Chinese in both roles
        words = (ZH_CATEGORY_WORDS[h], ZH_CATEGORY_WORDS[b])
        pairs.append(_make_pair(fonts, h, hw, b, bw, canonical, _zh_tags(fonts, h), _zh_tags(fonts, b), words,
                                zh=True))
    return pairs


def _unique(pairs: list[dict]) -> list[dict]:
    """Drop a repeated (heading, weight, body, weight) combination, keeping its first occurrence."""
    seen: set[tuple] = set()
    out = []
    for p in pairs:
        key = (p["heading_family"], p["heading_weight"], p["body_family"], p["body_weight"])
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def build_pairs() -> dict:
    """The whole pairing library from the committed fonts.json + tags CSV (pure, deterministic)."""
    clear_caches()
    fonts = load_fonts()
    return {
        "source": {
            "generator": "knowledge/tools/build_fonts.py",
            "fonts": "knowledge/data/fonts.json",
            "tags": "knowledge/data/google_fonts_tags/families.csv",
        },
        "pairs": _unique(latin_pairs(fonts) + zh_pairs(fonts)),
    }


def build_fonts_json(package_dir: Path) -> dict:
    """fonts.json from an unpacked google-font-metadata package."""
    package = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))
    data = json.loads((package_dir / "data" / "google-fonts-v2.json").read_text(encoding="utf-8"))
    families = [
        {
            "family": item["family"],
            "category": item["category"],
            "subsets": sorted(item["subsets"]),
            "weights": sorted(int(w) for w in item["weights"]),
            "italic": "italic" in item["styles"],
        }
        for item in data.values()
    ]
    families.sort(key=lambda f: f["family"])
    return {
        "source": {
            "package": package["name"], "version": package["version"], "license": package["license"],
            "file": "data/google-fonts-v2.json",
        },
        "families": families,
    }


def dump(obj: dict) -> str:
    """Compact JSON with one list item (family / pair) per line: small files, readable diffs."""
    parts = []
    for key, value in obj.items():
        if isinstance(value, list):
            items = ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in value)
            parts.append(f"{json.dumps(key)}: [\n{items}\n ]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n " + ",\n ".join(parts) + "\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-dir", type=Path, help="unpacked google-font-metadata package (rebuild fonts.json)")
    args = parser.parse_args()
    if args.package_dir:
        FONTS_PATH.write_text(dump(build_fonts_json(args.package_dir)), encoding="utf-8")
    FONT_PAIRS_PATH.write_text(dump(build_pairs()), encoding="utf-8")


if __name__ == "__main__":
    main()
