"""Labels (en/zh) and design profiles of the taxonomy ids, from ``data/taxonomy.json``.

``taxonomy.json`` maps each vocabulary name to ``{id: {"en", "zh", ...profile}}``; keys starting with
``_`` (``_notes``, ``_meta``) are documentation and never ids.
"""

from __future__ import annotations

import copy
import json
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

from knowledge.taxonomy import VOCABULARIES, Locale

TAXONOMY_PATH = Path(__file__).parent / "data" / "taxonomy.json"

# ``locale`` is not a model vocabulary (no index in model inputs) but clients still need its labels.
LABELLED_VOCABULARIES: dict[str, type[StrEnum]] = {**VOCABULARIES, "locale": Locale}


@cache
def _raw() -> dict[str, Any]:
    with TAXONOMY_PATH.open(encoding="utf-8") as f:
        return json.load(f)


@cache
def _taxonomy() -> dict[str, dict[str, Any]]:
    raw = _raw()
    return {
        vocab: {key: entry for key, entry in items.items() if not key.startswith("_")}
        for vocab, items in raw.items()
        if not vocab.startswith("_")
    }


def _entry(vocabulary: str, id: str) -> dict[str, Any]:
    try:
        return _taxonomy()[vocabulary][id]
    except KeyError:
        raise KeyError(f"unknown {vocabulary!r} id {id!r}") from None


def label(vocabulary: str, id: str, locale: str = "en") -> str:
    """The display label of one id, e.g. ``label("tone", "morandi", "zh") == "莫兰迪色"``."""
    if locale not in Locale.__members__:
        raise ValueError(f"unknown locale {locale!r}")
    return _entry(vocabulary, id)[locale]


def profile(vocabulary: str, id: str) -> dict[str, Any]:
    """The full entry of one id (labels + design profile); a deep copy, so callers may mutate it."""
    return copy.deepcopy(_entry(vocabulary, id))


def notes(vocabulary: str) -> str:
    """The authors' reasoning behind a vocabulary's profile numbers."""
    return _raw()[vocabulary].get("_notes", "")


def all_options(locale: str | None = None) -> dict[str, list[dict[str, str]]]:
    """Every vocabulary's ids in their fixed order, for GET /v1/options.

    ``locale=None`` gives ``{"id", "en", "zh"}`` per option; a locale gives ``{"id", "label"}``.
    """
    if locale is not None and locale not in Locale.__members__:
        raise ValueError(f"unknown locale {locale!r}")
    options: dict[str, list[dict[str, str]]] = {}
    for vocab, enum in LABELLED_VOCABULARIES.items():
        entries = _taxonomy()[vocab]
        if locale is None:
            options[vocab] = [{"id": m.value, "en": entries[m.value]["en"], "zh": entries[m.value]["zh"]} for m in enum]
        else:
            options[vocab] = [{"id": m.value, "label": entries[m.value][locale]} for m in enum]
    return options
