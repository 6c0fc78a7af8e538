"""What a client sends: the design brief, and feedback on the schemes it got back."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from knowledge.taxonomy import Audience, Locale, PackageFormat, ProductCategory, Tone

_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")

# 5 MB of image bytes is at most this many base64 characters (4 per 3 bytes), plus a data-URL prefix.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_B64_CHARS = (MAX_IMAGE_BYTES + 2) // 3 * 4 + 64
MAX_KEYWORD_CHARS = 200
# Raw keyword input is bounded separately so normalisation work stays small; the 200-character limit
# applies to the normalised text (what the model reads and the user sees).
MAX_KEYWORD_INPUT_CHARS = 1000


def _normalize_hex(value: str) -> str:
    """Accept #RGB / #RRGGBB in any case; store the canonical lowercase #rrggbb."""
    value = value.strip()
    if not _HEX.match(value):
        raise ValueError(f"{value!r} is not a hex colour (#RGB or #RRGGBB)")
    digits = value[1:].lower()
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return "#" + digits


HexColor = Annotated[
    str,
    AfterValidator(_normalize_hex),
    Field(examples=["#1f6feb", "#c9a"], description="#RGB or #RRGGBB"),
]


def _unique(values: list) -> list:
    # Duplicates carry no extra signal; keep the client's order.
    return list(dict.fromkeys(values))


class Brief(BaseModel):
    """A packaging design brief."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "product_category": "beverage",
                    "audience": ["gen_z", "young_women"],
                    "tone": ["fresh", "pastel"],
                    "keywords": "refreshing, summer limited 清爽 夏季限定",
                    "package_format": "can",
                    "brand_colors": ["#2bb673"],
                    "num_schemes": 3,
                    "locale": "en",
                }
            ]
        },
    )

    product_category: ProductCategory
    audience: list[Audience] = Field(default_factory=list, max_length=4)
    tone: list[Tone] = Field(default_factory=list, max_length=4)
    keywords: str = Field(
        default="",
        max_length=MAX_KEYWORD_CHARS,
        description=(
            "Free keywords in English and/or Chinese (any script, emoji welcome), at most 200 characters after "
            "normalisation: NFKC, control characters to spaces, invisible format characters (zero-width, bidi "
            "overrides) removed, runs of whitespace collapsed."
        ),
    )
    package_format: PackageFormat
    brand_colors: list[HexColor] = Field(default_factory=list, max_length=3)
    reference_image: str | None = Field(
        default=None,
        max_length=MAX_IMAGE_B64_CHARS,
        description="Optional base64 PNG/JPEG/WebP (plain or data URL), at most 5 MB decoded.",
    )
    num_schemes: int = Field(default=3, ge=1, le=8)
    locale: Locale = Locale.en

    @field_validator("audience", "tone", "brand_colors")
    @classmethod
    def _dedupe(cls, values: list) -> list:
        return _unique(values)

    @field_validator("keywords", mode="before")
    @classmethod
    def _clean_keywords(cls, text: object) -> object:
        # Runs before the length check, so the 200-character limit counts normalised characters.
        if not isinstance(text, str):
            return text  # pydantic's own str validation rejects it with the usual message
        if len(text) > MAX_KEYWORD_INPUT_CHARS:
            raise ValueError(f"keywords input is over {MAX_KEYWORD_INPUT_CHARS} characters")
        return clean_text(text)


def clean_text(text: str) -> str:
    """NFKC folds full-width forms (，　) so en and zh punctuation tokenise alike. Control characters (Cc)
    become spaces rather than errors because they arrive from copy-paste, not malice. Format characters (Cf:
    zero-width spaces/joiners, bidi overrides and isolates, BOM, soft hyphen) are invisible, so they are
    removed: they would make look-alike keywords differ and could reorder what a reviewer sees. Lone
    surrogates (Cs, possible in JSON's \\uD800 escapes) cannot be encoded as UTF-8 and are removed too."""
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cs"))
    text = unicodedata.normalize("NFKC", text)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return " ".join(text.split())


# Briefs in one POST /v1/recommend/batch: one ingress micro-batch at the shipped `ingress_max_batch_size`.
MAX_BRIEFS_PER_REQUEST = 64


class BriefBatch(BaseModel):
    """Several briefs in one request (a platform filling a catalogue): each is answered as if sent alone, and
    HTTP, validation and the ingress's micro-batch are paid once for all of them."""

    model_config = ConfigDict(extra="forbid")

    briefs: list[Brief] = Field(min_length=1, max_length=MAX_BRIEFS_PER_REQUEST)


class FeedbackAction(StrEnum):
    chosen = "chosen"
    rejected = "rejected"
    edited = "edited"


class Feedback(BaseModel):
    """A designer's reaction to one scheme of one answer."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    request_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    scheme_index: int = Field(ge=0, le=7)
    action: FeedbackAction
