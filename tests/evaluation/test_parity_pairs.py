"""The hand-translated zh/en pairs: enough of them, each a valid brief in both languages, the Chinese side really
Chinese and the English side free of CJK, and not the runtime lexicon's own rendering."""

from __future__ import annotations

import re

from evaluation.__main__ import independent_pairs
from knowledge.lexicon import load_lexicon

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_pairs_are_many_valid_and_bilingual():
    en, zh = independent_pairs()
    assert len(en) == len(zh) >= 100
    for a, b in zip(en, zh):
        assert a.brief.locale.value == "en" and b.brief.locale.value == "zh"
        assert (a.brief.product_category, a.brief.tone, a.brief.package_format) == (
            b.brief.product_category, b.brief.tone, b.brief.package_format)
        assert not CJK.search(a.brief.keywords) and CJK.search(b.brief.keywords)


def test_zh_side_is_not_lexicon_rendering():
    """`in_language` joins lexicon zh terms with spaces; hand-written Chinese is mostly not made of whole terms."""
    terms = {e.zh for e in load_lexicon()}
    _, zh = independent_pairs()
    only_terms = [s for s in zh if set(re.split(r"[\s，,]+", s.brief.keywords.strip())) <= terms]
    assert len(only_terms) <= len(zh) // 10
