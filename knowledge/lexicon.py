"""Bilingual design lexicon and keyword normalisation (zh -> en) for the brief's free keywords.

``normalize_keywords`` turns "清爽 夏季限定, pastel" into "refreshing, summer limited edition, pastel" so an
English sentence embedder sees one language, and returns the lexicon entries it matched, whose taxonomy
cue ids (``cue_ids``) the teacher uses as extra evidence. Chinese the lexicon does not know is glossed word by word
from CC-CEDICT (`knowledge.gloss`: "冰川泉源" -> "glacier springhead"); the lexicon's terms come first.
"""

from __future__ import annotations

import json
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

from knowledge.attributes import load_cue_blockers
from knowledge.gloss import gloss_run, word_spans

LEXICON_PATH = Path(__file__).parent / "data" / "lexicon.json"

# lexicon.json field -> taxonomy vocabulary name
CUE_FIELDS: dict[str, str] = {
    "tones": "tone",
    "styles": "style",
    "categories": "product_category",
    "audiences": "audience",
}

# CJK punctuation that NFKC leaves alone; mapped to ASCII so the output reads as plain English.
_PUNCT = str.maketrans({
    "、": ",", "。": ".", "「": " ", "」": " ", "『": " ", "』": " ", "【": " ", "】": " ",
    "《": " ", "》": " ", "〈": " ", "〉": " ", "〔": " ", "〕": " ", "·": " ", "・": " ",
    "…": " ", "—": " ", "～": " ", "〜": " ", "“": '"', "”": '"', "‘": "'", "’": "'",
})
# Han ideographs (+ extension A, compatibility), kana and Hangul: "CJK" for the uncovered report.
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
_SEPARATORS_ONLY = re.compile(r"[\s,;.!?/|+&]*")


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    zh: str
    en: str
    tones: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    audiences: tuple[str, ...] = ()


class NormalizedKeywords(NamedTuple):
    text: str  # English-only keyword text
    entries: list[LexiconEntry]  # matched entries, in text order (repeats kept)
    uncovered: list[str]  # CJK that neither a lexicon term nor a dictionary word covered; dropped from ``text``
    glossed: list[tuple[str, str]]  # (Chinese word, English gloss) the dictionary gave, in text order


@cache
def load_lexicon() -> tuple[LexiconEntry, ...]:
    with LEXICON_PATH.open(encoding="utf-8") as f:
        raw = json.load(f)["entries"]
    return tuple(
        LexiconEntry(
            zh=item["zh"],
            en=item["en"],
            **{field: tuple(item.get(field, ())) for field in CUE_FIELDS},
        )
        for item in raw
    )


_END = ""  # trie key marking "a term ends here"


@cache
def _trie() -> dict:
    """Character trie over the casefolded NFKC zh terms, built once (greedy longest match is O(n * depth))."""
    root: dict = {}
    for entry in load_lexicon():
        node = root
        for ch in unicodedata.normalize("NFKC", entry.zh).casefold():
            node = node.setdefault(ch, {})
        node[_END] = entry
    return root


def _longest_match(folded: str, start: int, root: dict) -> tuple[int, LexiconEntry] | None:
    node, best = root, None
    for i in range(start, len(folded)):
        node = node.get(folded[i])
        if node is None:
            break
        if _END in node:
            best = (i + 1, node[_END])
    return best


def _is_ascii_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _term_spans(folded: str, root: dict) -> list[tuple[int, int, LexiconEntry]]:
    """The longest term starting at each position, minus those inside another one or inside a longer dictionary
    word (`_inside_a_longer_word`): (start, end, entry) in text order. Overlapping terms both stay (中秋节日礼盒 ->
    中秋节 and 节日礼盒), as `knowledge.attributes.find_cues` reads them; a greedy left-to-right longest match would
    consume 节 and lose 节日礼盒."""
    spans = []
    for i, ch in enumerate(folded):
        # Terms that start with a Latin letter/digit ("ins风", "Z世代") must not start inside an English word.
        if ch in root and not (_is_ascii_word_char(ch) and i > 0 and _is_ascii_word_char(folded[i - 1])):
            hit = _longest_match(folded, i, root)
            if hit is not None:
                spans.append((i, hit[0], hit[1]))
    runs = [(m.start(), m.end()) for m in _CJK_RUN.finditer(folded)] if spans else []
    kept, furthest = [], -1
    for start, end, entry in spans:  # starts increase, so a span is inside another iff an earlier one reaches it
        if end > furthest and not _inside_a_longer_word(folded, runs, start, end):
            kept.append((start, end, entry))
            furthest = end
    return kept


def _inside_a_longer_word(folded: str, runs: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether the term at [start, end) lies inside one longer word when its CJK run (`runs`: (start, end) of each
    run of `folded`) is split over the dictionary (`knowledge.gloss.segment`): 红 "red" is no colour in 红薯 "sweet
    potato", 运动 "sports" only part of 运动员 "athlete". The word is glossed whole there, as the keyword colours block
    红 inside 红薯."""
    k = bisect_right(runs, (start, len(folded))) - 1
    if k < 0 or not runs[k][0] <= start < runs[k][1]:
        return False  # the term starts in Latin text ("ins风")
    run_start, run_end = runs[k]
    if end > run_end or (start, end) == (run_start, run_end):
        return False  # a term that runs on into Latin text, or is its whole run (nothing around it to join)
    a, b = start - run_start, end - run_start
    return any(s <= a and b <= e and e - s > b - a for s, e in word_spans(folded[run_start:run_end]))


def _glossed_pieces(literal: str, glossed: list[tuple[str, str]], uncovered: list[str]) -> list[tuple[bool, str]]:
    """Text between lexicon terms -> pieces with each CJK run replaced by its dictionary glosses, one phrase per run
    (Chinese writes a phrase without spaces: 农家风红薯脆片 -> "peasant family style sweet potato chip"); grammatical
    words (的) and characters no word covers leave a space."""
    pieces: list[tuple[bool, str]] = []
    start = 0
    for match in _CJK_RUN.finditer(literal):
        run = gloss_run(match.group())
        glossed.extend(run.words)
        uncovered.extend(run.unknown)
        phrases = [g for _, g in run.words if g]
        if match.start() > start:
            pieces.append((False, literal[start:match.start()]))
        pieces.append((True, " ".join(phrases)) if phrases else (False, " "))
        start = match.end()
    if start < len(literal):
        pieces.append((False, literal[start:]))
    return pieces


def normalize_keywords_detailed(text: str) -> NormalizedKeywords:
    """Replace zh terms by their en phrases (longest match at each position; overlapping terms all kept, a term
    inside a longer term or dictionary word dropped), gloss the Chinese no term covers (`knowledge.gloss`), keep
    English, report the CJK neither covers.

    NFKC folds full-width letters/punctuation/spaces. Translated terms keep the brief's own phrasing: terms the
    brief separated (by a space, a comma, 、) are joined by ", ", terms it ran together are one English phrase
    ("青柠气泡水" -> "lime sparkling water", as an English brief writes it, not "lime, sparkling water"). The
    model's palette ranking moves with such surface differences; on a dev set of 60 zh/en pairs written for it
    (docs/model.md), joining run-together terms raised palette top-5 overlap >= 0.8 from 0.167 to 0.300.
    """
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT)
    folded = text.casefold()
    if len(folded) != len(text):  # casefold can change length (ß -> ss); match on the text itself then
        folded = text
    pieces: list[tuple[bool, str]] = []  # (is_phrase, text)
    entries: list[LexiconEntry] = []
    glossed: list[tuple[str, str]] = []
    uncovered: list[str] = []
    covered = 0  # text before this index is translated or already kept as literal
    for start, end, entry in _term_spans(folded, _trie()):
        if covered < start:
            pieces.extend(_glossed_pieces(text[covered:start], glossed, uncovered))
        pieces.append((True, entry.en))
        entries.append(entry)
        covered = end
    if covered < len(text):
        pieces.extend(_glossed_pieces(text[covered:], glossed, uncovered))

    out: list[str] = []
    prev_phrase = separated = False
    for k, (is_phrase, piece) in enumerate(pieces):
        if is_phrase:
            if prev_phrase:
                out.append(", " if separated else " ")
            elif out and not out[-1][-1:].isspace():
                out.append(" ")
            out.append(piece)
            prev_phrase, separated = True, False
            continue
        next_is_phrase = k + 1 < len(pieces) and pieces[k + 1][0]
        if prev_phrase and next_is_phrase and _SEPARATORS_ONLY.fullmatch(piece):
            separated = True
            continue  # the ", " added before the next phrase replaces a bare separator
        if prev_phrase and piece[:1].isalnum():
            out.append(" ")
        out.append(piece)
        prev_phrase = False
    return NormalizedKeywords(_tidy("".join(out)), entries, uncovered, glossed)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;!?])", r"\1", text)
    text = re.sub(r"([,;])(?:\s*[,;])+", r"\1", text)  # ", ," left where an uncovered run was dropped
    text = re.sub(r"([,;])(?=\S)", r"\1 ", text)
    return text.strip(" ,;")


def normalize_keywords(text: str) -> tuple[str, list[LexiconEntry]]:
    """English keyword text + matched lexicon entries; see ``normalize_keywords_detailed`` for uncovered CJK."""
    result = normalize_keywords_detailed(text)
    return result.text, result.entries


_LATIN_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_KEYWORD_BREAK = re.compile(r"[,;/|.!?\n，、；。！？]+")


def keyword_pieces(text: str) -> list[str]:
    """A brief's keyword text split into its keywords (at commas, semicolons, slashes, full stops and their CJK
    forms): a phrase is read inside one keyword, never across two ("girlish sweet, potato chips" names no sweet
    potato)."""
    return _KEYWORD_BREAK.split(text)


def latin_phrases(text: str, table: dict, longest: int, word: re.Pattern[str] = _LATIN_WORD) -> list[str]:
    """The `table` keys (phrases of up to `longest` words) that folded `text` names, the longest at each word
    (`longest_matches`), read inside one keyword at a time (`keyword_pieces`), in text order."""
    return [key for keyword in keyword_pieces(text)
            for _, _, key in longest_matches(word.findall(keyword.replace("-", " ")), table, longest, " ")]


def _english_key(text: str) -> str:
    return " ".join(_LATIN_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


@cache
def _english_terms() -> tuple[dict[str, LexiconEntry | None], int]:
    """The entries' English phrases as folded word sequences (the first entry of a phrase wins), and the longest.
    The English cue blockers (`knowledge/data/cue_blockers.json`: "red tape", "golden age", "cup of tea", phrases
    that do not mean their words) are keys with no entry: the longest match stops on them, so a term inside one
    cues nothing, as in the colour cues (and as a longer dictionary word does for a Chinese term)."""
    terms: dict[str, LexiconEntry | None] = {}
    for entry in load_lexicon():
        if key := _english_key(entry.en):
            terms.setdefault(key, entry)
    for blocker in load_cue_blockers()["en"]:
        if key := _english_key(blocker):
            terms.setdefault(key, None)
    return terms, max((k.count(" ") + 1 for k in terms), default=1)


def longest_matches(units: list[str], table: dict, longest: int, joiner: str) -> list[tuple[int, int, str]]:
    """The longest `table` key (up to `longest` units, joined by `joiner`) starting at each unit, minus those inside
    an earlier match (overlaps both kept, as `_term_spans` does): (start, end, key) in text order. A key whose value
    is None still matches, so it can block the shorter keys inside it."""
    kept, furthest = [], -1
    for i in range(len(units)):
        for j in range(min(len(units), i + longest), i, -1):
            key = joiner.join(units[i:j])
            if key in table:
                if j > furthest:
                    kept.append((i, j, key))
                    furthest = j
                break
    return kept


def english_term_entries(text: str) -> list[LexiconEntry]:
    """The entries whose English phrase the text names, as whole words, longest match at each word (a phrase
    inside a longer one dropped), in text order.

    Why: a Chinese brief's terms carry tone and style cues (`cue_ids`) to the teacher and the network; an English
    brief saying the same ("happy cartoon fruit" for 快乐卡通水果) must carry the same cues, or the two languages
    get different directions (issue 15, parity)."""
    terms, longest = _english_terms()
    # A phrase is read within one keyword: "red, brick red" holds "red" and "brick red", not the blocker "red brick".
    found = (terms[key] for key in latin_phrases(unicodedata.normalize("NFKC", text).casefold(), terms, longest))
    return [entry for entry in found if entry is not None]


def cue_entries(text: str, chinese: list[LexiconEntry] | None = None) -> list[LexiconEntry]:
    """Every entry a brief's keywords name, in Chinese (the terms `normalize_keywords` matched, passed as
    `chinese` where already known) and in English: the lexicon's cue evidence, alike in both languages."""
    return (normalize_keywords(text)[1] if chinese is None else chinese) + english_term_entries(text)


def cue_ids(entries: list[LexiconEntry] | tuple[LexiconEntry, ...]) -> dict[str, set[str]]:
    """Union of the taxonomy ids cued by the entries, keyed by vocabulary (every key present)."""
    cues: dict[str, set[str]] = {vocab: set() for vocab in CUE_FIELDS.values()}
    for entry in entries:
        for field, vocab in CUE_FIELDS.items():
            cues[vocab].update(getattr(entry, field))
    return cues
