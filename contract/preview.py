"""What a client sends to get a package-front preview (SVG) of one scheme: ``POST /v1/preview``."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.scheme import Scheme
from knowledge.taxonomy import Locale, PackageFormat

MAX_PREVIEW_TEXT = 60


MAX_CLEAN_DEPTH = 16  # a preview request nests ~6 deep (scheme, layout, heatmaps, rows); deeper is refused anyway


def _without_surrogates(value, depth: int = 0):
    """Every string of a request without lone surrogates: JSON's "\\ud800" escapes parse, but no UTF-8 can carry
    them, so a scheme holding one (clients send back schemes they may have edited) could not be drawn. Keys keep
    theirs: no key of the contract holds one, so validation refuses it, as the bounds check of a long body does
    before this runs (cleaned keys made a short body 200 and the same body padded past 16 KiB 422). Nesting past
    MAX_CLEAN_DEPTH is left as it is for validation to refuse (recursing through 600 levels ran out of stack: 500)."""
    if isinstance(value, str):
        return value if value.isascii() else "".join(ch for ch in value if not 0xD800 <= ord(ch) <= 0xDFFF)
    if depth >= MAX_CLEAN_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: _without_surrogates(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_surrogates(v, depth + 1) for v in value]
    return value


def _printable(text: str) -> str:
    # XML 1.0 cannot carry most control characters; they arrive from copy-paste, so they become spaces.
    return " ".join("".join(" " if ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 else ch for ch in text).split())


class PreviewRequest(BaseModel):
    """One scheme (as returned by /v1/recommend) and how to dress its package front."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    scheme: Scheme
    package_format: PackageFormat | None = Field(
        default=None, description="Silhouette to draw; defaults to the scheme's layout format.")
    product_name: str | None = Field(default=None, max_length=MAX_PREVIEW_TEXT,
                                     description="Text set in the heading font; a placeholder when absent.")
    brand: str | None = Field(default=None, max_length=MAX_PREVIEW_TEXT, description="Text in the logo box.")
    claims: list[Annotated[str, Field(max_length=MAX_PREVIEW_TEXT)]] = Field(default_factory=list, max_length=4,
                              description="Short lines in the claims box; placeholders when empty.")
    locale: Locale = Locale.en
    heatmap: bool = Field(default=False, description="Add the layout heatmaps as a hidden overlay layer.")

    @model_validator(mode="before")
    @classmethod
    def _clean_strings(cls, data: object) -> object:
        return _without_surrogates(data)

    @field_validator("product_name", "brand")
    @classmethod
    def _clean(cls, text: str | None) -> str | None:
        return _printable(text) if text is not None else None

    @field_validator("claims")
    @classmethod
    def _clean_claims(cls, lines: list[str]) -> list[str]:
        return [_printable(line) for line in lines]
