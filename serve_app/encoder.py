"""CPU encoder deployment: one call per ingress micro-batch. Validated briefs in (as JSON bytes), padded model
arrays out (token ids, attention mask, structured features) plus the per-brief cues and reference-image colours
that post-processing needs: `pipeline.features.encode_batch`, the same function the baseline and evaluation use.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from ray import serve

from contract.brief import Brief
from pipeline.features import EncodedBatch, encode_batch
from pipeline.features import warm as warm_encoding
from pipeline.tokenization import tokenizer
from serve_app.autoscaling import ReportsCpu
from serve_app.heap import freeze_startup_heap

log = logging.getLogger("ray.serve")
# Micro-batches up to this size without reference images are encoded on the event loop (< 1 ms of work: ~0.2 ms
# a brief, measured on 2 cores); larger ones in a thread, so no call holds the loop longer.
INLINE_MAX_BRIEFS = 4


def inline_on_loop(briefs: list[Brief]) -> bool:
    """Whether a micro-batch is cheap enough to encode on the event loop: a sync call or a thread costs a hand-off
    per call, more than this work."""
    return len(briefs) <= INLINE_MAX_BRIEFS and not any(brief.reference_image for brief in briefs)


def decode_briefs(briefs_json: list[bytes]) -> list[Brief]:
    """The ingress validated these already; parsing again (pydantic's Rust parser) is ~20 us a brief and keeps
    the hop's payload plain bytes instead of pickled pydantic objects."""
    return [Brief.model_validate_json(raw) for raw in briefs_json]


@serve.deployment(ray_actor_options={"num_cpus": 0.25})
class BriefEncoder(ReportsCpu):
    def __init__(self, max_image_bytes: int) -> None:
        self.max_image_bytes = max_image_bytes
        # Every table encoding reads (tokenizer, lexicon, gloss, cues, keyword colours), once per replica: a new
        # replica's first micro-batch would pay ~70 ms for them.
        warm_encoding()
        # One encoding thread: concurrent calls queue for it rather than run side by side. Encoding holds the GIL
        # most of the time, and threads contending for it burn CPU on the hand-offs: with 16-brief calls 4 at a
        # time, 10.7-10.9 ms of replica CPU a call in asyncio's default pool, 8.7-9.4 in one thread, the same wall
        # time (`python -m benchmarks.encoder_hop`, 2 cores).
        self.encoding = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
        # Briefs sent to this replica so far: the arrivals the autoscaling policy can scale on (`target_briefs_per_s`),
        # which rise with a spike before the replica's cores or calls in flight do.
        self.arrived = 0
        freeze_startup_heap()

    async def encode_batch(self, briefs_json: list[bytes], pad_to_multiple: int = 1) -> EncodedBatch:
        self.arrived += len(briefs_json)
        briefs = decode_briefs(briefs_json)
        if inline_on_loop(briefs):  # Serve would run a sync method in its thread pool: a hand-off per call
            return encode_batch(briefs, self.max_image_bytes, pad_to_multiple)
        # Larger batches and reference images (decoded and clustered, milliseconds each) off the loop, which keeps
        # taking calls meanwhile.
        return await asyncio.get_running_loop().run_in_executor(
            self.encoding, encode_batch, briefs, self.max_image_bytes, pad_to_multiple)

    def check_health(self) -> None:
        if not tokenizer().encode("health check").ids:
            raise RuntimeError("tokenizer returned no tokens")
