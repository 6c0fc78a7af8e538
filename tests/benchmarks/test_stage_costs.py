"""benchmarks.stage_costs: each request-path stage timed on the Serve graph's own functions, every answer logged."""

import sqlite3

import orjson
import pytest

from benchmarks.stage_costs import STAGES, stage_costs
from benchmarks.workload import brief_mix, describe


@pytest.fixture(scope="module")
def backend():
    from inference.registry import select_backend
    from pipeline import postprocess
    from pipeline.features import warm

    warm()
    postprocess.warm()
    return select_backend("onnxruntime", {"onnxruntime": {"precision": "auto", "intra_op_threads": 1}})


def test_every_stage_is_timed_and_every_answer_is_committed(tmp_path, backend):
    from serve_app.feedback import FeedbackStore

    mix = brief_mix(6, seed=3, image_share=0.5)
    held = describe(mix)["with_reference_image"]
    assert 0 < held < len(mix)  # both kinds of micro-batch occur at size 1
    store = FeedbackStore(tmp_path / "answers.sqlite3")
    try:
        rows = stage_costs([orjson.dumps(brief) for brief in mix], [1, 3], backend, store)
    finally:
        store.close()
    with sqlite3.connect(tmp_path / "answers.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM answer_records").fetchone()[0] == 2 * len(mix)
    assert [row["micro_batch"] for row in rows] == [1, 3]
    by_size = {row["micro_batch"]: row for row in rows}
    assert all(by_size[1]["ms_a_brief"][stage] > 0 for stage in STAGES + ("model",))
    for row in rows:
        spent = row["ms_a_brief"]
        assert spent["encode_image"] > 0 and spent["post"] > spent["validate"]
        assert row["total_without_model"] == pytest.approx(sum(spent[s] for s in STAGES), abs=1e-3)
