"""CPU encoder deployment: validation beyond the schema, lexicon normalisation, tokenisation, structured
features, and reference-image decoding to dominant colours."""

from __future__ import annotations

import logging

from ray import serve

from contract.brief import Brief
from model.features import EncodedBrief, encode_brief
from model.reference_image import ReferenceImageError, reference_colors
from model.tokenization import tokenizer

log = logging.getLogger("ray.serve")


class BriefError(ValueError):
    """A brief that passed the schema but cannot be used; maps to HTTP 422 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@serve.deployment(ray_actor_options={"num_cpus": 0.25})
class BriefEncoder:
    def __init__(self, max_image_bytes: int) -> None:
        self.max_image_bytes = max_image_bytes
        tokenizer()  # load once per replica, not on the first request

    def encode(self, brief: Brief) -> EncodedBrief:
        colors: list[str] = []
        if brief.reference_image:
            try:
                colors = reference_colors(brief.reference_image, self.max_image_bytes)
            except ReferenceImageError as exc:
                raise BriefError("reference_image", str(exc)) from exc
        return encode_brief(brief, colors)

    def check_health(self) -> None:
        if not tokenizer().encode("health check").ids:
            raise RuntimeError("tokenizer returned no tokens")
