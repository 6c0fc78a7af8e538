"""CPU encoder deployment: validation beyond the schema, lexicon normalisation, tokenisation, structured
features, and reference-image decoding to dominant colours."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ray import serve

from contract.brief import Brief
from pipeline.features import EncodedBrief, encode_brief
from pipeline.reference_image import ReferenceImageError, reference_colors
from pipeline.tokenization import tokenizer

log = logging.getLogger("ray.serve")


@dataclass(frozen=True)
class BriefRejection:
    """A brief that passed the schema but cannot be used; the ingress answers 422 naming the field.

    Returned rather than raised: a rejection is an expected outcome, and a plain value crosses the Ray
    process boundary unchanged, where a custom exception would arrive wrapped in RayTaskError.
    """

    field: str
    message: str


def encode_or_reject(brief: Brief, max_image_bytes: int) -> EncodedBrief | BriefRejection:
    """The encoder's work, callable in-process too (`encoder: inline` runs it in the ingress)."""
    colors: list[str] = []
    if brief.reference_image:
        try:
            colors = reference_colors(brief.reference_image, max_image_bytes)
        except ReferenceImageError as exc:
            return BriefRejection("reference_image", str(exc))
    return encode_brief(brief, colors)


@serve.deployment(ray_actor_options={"num_cpus": 0.25})
class BriefEncoder:
    def __init__(self, max_image_bytes: int) -> None:
        self.max_image_bytes = max_image_bytes
        tokenizer()  # load once per replica, not on the first request

    def encode(self, brief: Brief) -> EncodedBrief | BriefRejection:
        return encode_or_reject(brief, self.max_image_bytes)

    def check_health(self) -> None:
        if not tokenizer().encode("health check").ids:
            raise RuntimeError("tokenizer returned no tokens")
