"""Free keywords -> the colours they evoke (issue 15), as dict lookups on the request path.

`knowledge/data/keyword_colours.json` (built offline by `knowledge/tools/build_keyword_colours.py` from MiniLM and
the knowledge base's colour names; Chinese through CC-CEDICT glosses) maps English words and phrases and Chinese
words to one OKLCH colour each. Here a batch of keyword texts becomes, per brief, the keywords found with their
colour and the OKLCH region a scheme must reach to honour them (docs/teacher.md, "Keyword colours").

Words that are lexicon terms, colour-cue terms or neutral phrases, or part of one, are not in the table (the build
drops them): those keywords are the cue mechanism's, and one keyword must not cue twice.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

from knowledge.attributes import Box
from knowledge.lexicon import latin_phrases, longest_matches

KEYWORD_COLOURS_PATH = Path(__file__).resolve().parents[1] / "knowledge" / "data" / "keyword_colours.json"

# The region around a keyword's colour: a designer still reads a colour within this hue of it as the same colour;
# chroma at least this share of the keyword colour's (a grey version does not count), lightness within this.
HUE_WINDOW = 25.0
CHROMA_SHARE = 0.6
LIGHTNESS_WINDOW = 0.2
MIN_CHROMA = 0.03  # below: a neutral colour (white, grey, black); its region bounds L and C, any hue
NEUTRAL_MAX_CHROMA = 0.05
NEUTRAL_LIGHTNESS_WINDOW = 0.15
MAX_PER_BRIEF = 3  # the first three keyword colours; more would not fit one palette's roles

_LATIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


class KeywordColour(NamedTuple):
    keyword: str  # as found in the brief (an English phrase or a Chinese word)
    oklch: tuple[float, float, float]
    region: Box


@dataclass(frozen=True)
class KeywordColourTable:
    # folded phrase (1-3 words) / Chinese word -> OKLCH, or None for a blocker: a term the lexicon or the colour
    # cues own, or a Chinese word that holds a coloured one (金融 holds 金); the longest match
    # (`knowledge.lexicon.longest_matches`) stops on it.
    en: dict[str, tuple[float, float, float] | None]
    zh: dict[str, tuple[float, float, float] | None]
    en_max_words: int
    zh_max_chars: int


def region_of(l: float, c: float, h: float) -> Box:
    """The OKLCH box that honours a keyword colour (a hue window, or L/C bounds for a neutral)."""
    if c < MIN_CHROMA:
        return Box(l=(max(0.0, l - NEUTRAL_LIGHTNESS_WINDOW), min(1.0, l + NEUTRAL_LIGHTNESS_WINDOW)),
                   c=(0.0, NEUTRAL_MAX_CHROMA))
    lo, hi = h - HUE_WINDOW, h + HUE_WINDOW
    hues = ((lo % 360.0, 360.0), (0.0, hi % 360.0)) if lo < 0 or hi >= 360.0 else ((lo, hi),)
    return Box(l=(max(0.0, l - LIGHTNESS_WINDOW), min(1.0, l + LIGHTNESS_WINDOW)),
               c=(max(MIN_CHROMA, CHROMA_SHARE * c), 0.37), hues=hues)


@cache
def load_keyword_colours(path: Path = KEYWORD_COLOURS_PATH) -> KeywordColourTable:
    raw = json.loads(path.read_text(encoding="utf-8"))
    en = {k: None if v is None else tuple(v[:3]) for k, v in raw["en"].items()}
    zh = {k: None if v is None else tuple(v[:3]) for k, v in raw["zh"].items()}
    return KeywordColourTable(en, zh, max((k.count(" ") + 1 for k in en), default=1),
                              max((len(k) for k in zh), default=1))


@cache
def _region(l: float, c: float, h: float) -> Box:
    return region_of(l, c, h)


def find_keyword_colours(keywords: str, table: KeywordColourTable | None = None) -> list[KeywordColour]:
    """One brief's keyword text -> its colour-bearing keywords, in text order, each once (at most MAX_PER_BRIEF)."""
    table = load_keyword_colours() if table is None else table
    text = unicodedata.normalize("NFKC", keywords).casefold()
    found: dict[str, tuple[float, float, float]] = {}
    for key in latin_phrases(text, table.en, table.en_max_words, _LATIN_WORD):  # inside one keyword at a time
        if table.en[key] is not None:
            found.setdefault(key, table.en[key])
    for run in _CJK_RUN.findall(text):
        for _, _, key in longest_matches(list(run), table.zh, table.zh_max_chars, ""):
            if table.zh[key] is not None:
                found.setdefault(key, table.zh[key])
    return [KeywordColour(k, v, _region(*v)) for k, v in list(found.items())[:MAX_PER_BRIEF]]


def keyword_colours_batch(keywords: list[str]) -> list[list[KeywordColour]]:
    """A batch of keyword texts -> per brief its keyword colours (`EncodedBatch.keyword_colours`)."""
    table = load_keyword_colours()
    return [find_keyword_colours(k, table) if k else [] for k in keywords]
