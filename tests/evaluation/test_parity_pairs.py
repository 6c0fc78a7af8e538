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


def test_development_pairs_are_valid_and_share_nothing_with_the_held_out_pairs():
    """Request-path changes for parity are chosen on the development pairs (`evaluation.parity_dev`); a held-out
    brief copied into them would make the held-out row a tuned one."""
    from evaluation.parity_dev import dev_samples

    en, zh, back = dev_samples("en", "en"), dev_samples("zh", "zh"), dev_samples("en_back", "zh")
    assert len(en) == len(zh) == len(back) >= 50
    for a, b, c in zip(en, zh, back):
        assert not CJK.search(a.brief.keywords) and CJK.search(b.brief.keywords) and not CJK.search(c.brief.keywords)
    held_en, held_zh = independent_pairs()
    held = {s.brief.keywords.casefold() for s in held_en + held_zh}
    assert not held & {s.brief.keywords.casefold() for s in en + zh + back}
