"""Post-processing in the ingress's child processes (`ingress_post_processes`) answers as in its worker thread.

Real spawned children, real pickling of micro-batches both ways, on the golden briefs' stored model outputs
(no Ray cluster: the pass is the ingress's own function, called as the replica calls it).
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

from contract.brief import Brief
from pipeline.features import encode_batch
from serve_app.ingress import Inferred, Pending, _start_post_processes, post_process
from serve_app.recommender import ModelOutputs

GOLDEN = Path(__file__).resolve().parents[1] / "pipeline"


def _micro_batches(sizes: list[int]) -> list[Inferred]:
    with gzip.open(GOLDEN / "golden_answers.json.gz", "rt", encoding="utf-8") as f:
        records = json.load(f)
    with np.load(GOLDEN / "golden_outputs.npz") as npz:
        outputs = {k: npz[k] for k in npz.files}
    parts, start = [], 0
    for size in sizes:
        rows = slice(start, start + size)
        briefs = [Brief.model_validate(r["brief"]) for r in records[rows]]
        now = time.perf_counter()
        items = [Pending(brief, "u8_base64", "tenant-a", f"req-{start + i}", now) for i, brief in enumerate(briefs)]
        result = ModelOutputs({k: v[rows] for k, v in outputs.items()}, "onnxruntime", "golden", 1.0, size)
        parts.append(Inferred(items, encode_batch(briefs, max_image_bytes=5 * 1024 * 1024), result, now, now, now))
        start += size
    return parts


def _without_timings(answer: bytes) -> dict:
    body = orjson.loads(answer)
    body.pop("timings_ms", None)
    return body


@pytest.fixture(scope="module")
def pool():
    pool = _start_post_processes(1)
    yield pool
    pool.shutdown()


def test_a_child_process_answers_as_the_thread_does(pool):
    parts = _micro_batches([1, 5, 13])
    passes = [(parts[:2], None), (parts[2:], None)]
    in_thread = post_process(passes)
    in_child = pool.submit(post_process, passes).result(timeout=120)
    assert [len(answered) for answered in in_child] == [2, 1]
    for thread_pass, child_pass in zip(in_thread, in_child):
        for (thread_answers, thread_records), (child_answers, child_records) in zip(thread_pass, child_pass):
            assert [_without_timings(a) for a in child_answers] == [_without_timings(a) for a in thread_answers]
            assert [r.request_id for r in child_records] == [r.request_id for r in thread_records]
            assert [r.choices_json for r in child_records] == [r.choices_json for r in thread_records]
    # Timings read the one host clock: each answer's total runs from its own start, in either process.
    total = orjson.loads(in_child[0][0][0][0])["timings_ms"]["total"]
    assert 0 < total < 120_000


def test_no_children_means_the_thread():
    assert _start_post_processes(0) is None
