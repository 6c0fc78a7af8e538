"""Chinese words the lexicon misses -> English glosses, so MiniLM (English-only) reads every Chinese keyword.

`knowledge/data/zh_gloss.tsv` (built by `knowledge/tools/build_zh_gloss.py` from CC-CEDICT, CC BY-SA 4.0) holds
one short English gloss per Chinese word. `gloss_run` splits a run of Han characters by longest match over it
(冰川泉源 -> 冰川 泉源, not 冰 川 ...) and returns each word's gloss; `knowledge.lexicon` calls it only for the runs
its own terms left uncovered, so the lexicon's terms, which carry cue ids, always come first.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

GLOSS_PATH = Path(__file__).parent / "data" / "zh_gloss.tsv"


class GlossTable(NamedTuple):
    words: dict[str, str]  # Chinese word -> English gloss ("" for a grammatical word such as 的)
    longest: int  # characters in the longest word: the longest match tries no more


class GlossedRun(NamedTuple):
    words: tuple[tuple[str, str], ...]  # (Chinese word, gloss) in text order, grammatical words included
    unknown: tuple[str, ...]  # runs of characters in no dictionary word, in text order (dropped from the text)


@cache
def load_gloss(path: Path = GLOSS_PATH) -> GlossTable:
    words: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                word, _, gloss = line.rstrip("\n").partition("\t")
                words[word] = gloss
    return GlossTable(words, max(map(len, words), default=1))


def segment(run: str, table: GlossTable | None = None) -> list[str]:
    """Forward longest match: at each position the longest dictionary word, else the single character."""
    table = load_gloss() if table is None else table
    words, i = [], 0
    while i < len(run):
        for j in range(min(len(run), i + table.longest), i, -1):
            if run[i:j] in table.words:
                break
        words.append(run[i:j])  # j == i + 1 when no word matched: the character on its own
        i = j
    return words


@lru_cache(maxsize=8192)  # briefs repeat phrases; a hit skips the segmentation
def gloss_run(run: str) -> GlossedRun:
    """A run of Han characters -> its dictionary words with their glosses, and the characters no word covers."""
    table = load_gloss()
    words, unknown = [], []
    after_unknown = False  # adjacent unknown characters are reported as one run (사랑, not 사 + 랑)
    for word in segment(run, table):
        gloss = table.words.get(word)
        if gloss is None:
            if after_unknown:
                unknown[-1] += word
            else:
                unknown.append(word)
        else:
            words.append((word, gloss))
        after_unknown = gloss is None
    return GlossedRun(tuple(words), tuple(unknown))


@lru_cache(maxsize=8192)
def word_spans(run: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of each word of `segment(run)` in the run, in order."""
    spans, start = [], 0
    for word in segment(run):
        spans.append((start, start + len(word)))
        start += len(word)
    return tuple(spans)
