"""Keyword hygiene in the Brief contract: normalisation, invisible characters, scripts, the length limit."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from contract.brief import MAX_KEYWORD_CHARS, MAX_KEYWORD_INPUT_CHARS, Brief

BASE = {"product_category": "beverage", "package_format": "can"}


def keywords(text) -> str:
    return Brief.model_validate({**BASE, "keywords": text}).keywords


def test_nfkc_and_control_characters():
    assert keywords("ＳＵＭＭＥＲ，清爽\u3000限定") == "SUMMER,清爽 限定"  # full-width folded
    assert keywords("tea\x00\x07time\r\n\tbox") == "tea time box"  # controls become spaces, runs collapse


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",
                                       "\u202e", "\u202d", "\u2066", "\u2069", "\u200e", "\u200f"])
def test_zero_width_and_bidi_characters_are_removed(invisible):
    assert keywords(f"lim{invisible}ited") == "limited"


def test_bidi_override_cannot_disguise_a_keyword():
    # U+202E renders "tsew" as "west"; without the override the text is what it is.
    assert keywords("\u202etsew\u202c") == "tsew"


def test_lone_surrogates_are_removed():
    assert keywords("tea \ud800time") == "tea time"
    keywords("tea \ud800time").encode("utf-8")  # encodable now


def test_mixed_scripts_are_kept():
    text = "summer 夏季限定 🍋 عربي עברית Кофе ☕"
    assert keywords(text) == text


def test_limit_counts_normalised_characters():
    assert len(keywords("a" * MAX_KEYWORD_CHARS)) == MAX_KEYWORD_CHARS
    # Invisible padding and whitespace runs do not count ...
    assert keywords("茶" * MAX_KEYWORD_CHARS + "\u200b" * 300 + "   ") == "茶" * MAX_KEYWORD_CHARS
    # ... but what normalisation produces does: U+FDFA expands to 18 characters under NFKC.
    with pytest.raises(ValidationError, match="at most 200 characters"):
        keywords("\ufdfa" * 12)
    with pytest.raises(ValidationError, match="at most 200 characters"):
        keywords("a" * (MAX_KEYWORD_CHARS + 1))


def test_raw_input_is_bounded_before_normalising():
    with pytest.raises(ValidationError, match="over 1000 characters"):
        keywords(" " * (MAX_KEYWORD_INPUT_CHARS + 1))


def test_non_strings_still_rejected():
    for value in (12, None, ["a"]):
        with pytest.raises(ValidationError):
            keywords(value)
