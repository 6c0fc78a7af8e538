"""Post-processing in the ingress's child processes (`ingress_post_processes`) answers as in its worker thread.

First the pass itself: real spawned children, real pickling of micro-batches both ways, on the golden briefs'
stored model outputs (the ingress's own function, called as the replica calls it). Then the whole app on a local
Ray cluster with one child per ingress replica (children spawned inside a Serve replica), against the default app.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import orjson
import pytest

from benchmarks import post_child_start
from benchmarks.cpu_by_process import processes
from benchmarks.local_cluster import Cluster, post_process_child
from contract.brief import Brief
from pipeline.features import encode_batch
from serve_app import autoscaling
from serve_app.model_io import ModelOutputs
from serve_app.post_pass import Inferred, Pending, post_in_child, post_process, start_post_processes

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
    pool, children = start_post_processes(1)
    assert [f.result(timeout=120) for f in children] != [os.getpid()]  # done once the child (another process) is warm
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


def test_a_child_reports_the_cpu_of_its_passes_not_of_its_start(pool):
    pid, before, _ = pool.submit(post_in_child, [(_micro_batches([1]), None)]).result(timeout=120)
    again, after, _ = pool.submit(post_in_child, [(_micro_batches([16]), None)]).result(timeout=120)
    assert again == pid  # one child
    # Starting and warming it (Python, numpy, the post-processing tables: over a second of CPU) is not in the
    # count, which a one-brief pass alone would never reach; a 16-brief pass adds to it.
    assert 0.0 < before < 0.25, before
    assert after > before, (before, after)


def test_the_cpu_signal_counts_what_children_did(monkeypatch):
    # The replica's clocks set by hand: over 2 s of wall time it used 0.1 s of CPU itself, its children 0.5 s.
    clock = {"wall": 100.0, "cpu": 5.0}
    monkeypatch.setattr(autoscaling, "time", SimpleNamespace(monotonic=lambda: clock["wall"],
                                                             process_time=lambda: clock["cpu"]))

    class Replica(autoscaling.ReportsCpu):
        children = 1.0

        def children_cpu_s(self) -> float:
            return self.children

    replica = Replica()
    replica.record_autoscaling_stats()  # the first report opens the window
    clock["wall"], clock["cpu"], replica.children = 102.0, 5.1, 1.5
    assert replica.record_autoscaling_stats() == {autoscaling.CPU_BUSY_METRIC: pytest.approx((0.1 + 0.5) / 2.0)}


def test_no_children_means_the_thread():
    assert start_post_processes(0) == (None, [])


def test_a_child_imports_no_ray(pool):
    # A new Ingress replica waits for its children before it serves: what a child imports is its start-up time
    # (Ray, gRPC and FastAPI ~0.9 s of CPU on a development core). The child has run a pass by now (module order
    # is not guaranteed, so run one), unpickling micro-batches and model outputs.
    pool.submit(post_in_child, [(_micro_batches([2]), None)]).result(timeout=120)
    loaded = pool.submit(eval, "sorted({m.split('.')[0] for m in __import__('sys').modules})").result(timeout=60)
    assert "numpy" in loaded and "pipeline" in loaded  # the probe sees the child's modules
    assert not {"ray", "grpc", "fastapi", "starlette"} & set(loaded), loaded


@pytest.fixture(scope="module")
def child_client(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("post-children"), config_overrides=post_process_child) as cluster:
        with httpx.Client(base_url=cluster.base_url, timeout=60) as http:
            yield http


@pytest.mark.slow
def test_the_app_with_a_post_processing_child_answers_as_the_default_app(client, child_client):
    from test_http import EN_BRIEF, ZH_BRIEF, _png, assert_contract, recommend

    health = child_client.get("/healthz").json()
    assert health["warm_up"]["ok"] is True, health  # the warm-up brief went through the child too
    assert health["post_processes"] == 1, health
    assert client.get("/healthz").json()["post_processes"] == 0
    briefs = [EN_BRIEF, ZH_BRIEF, EN_BRIEF | {"brand_colors": ["#0055A4"], "keywords": "ocean, sea breeze"},
              EN_BRIEF | {"reference_image": _png([(200, 16, 46), (10, 10, 10), (250, 215, 0)])}]
    for brief in briefs:  # one at a time: micro-batches of one on both
        default, child = recommend(client, brief), recommend(child_client, brief)
        assert_contract(child, brief)
        assert [s.model_dump() for s in child.schemes] == [s.model_dump() for s in default.schemes], brief
    burst = [EN_BRIEF | {"keywords": f"refreshing summer {i}"} for i in range(24)]
    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda b: child_client.post("/v1/recommend", json=b), burst))
    assert [r.status_code for r in responses] == [200] * len(burst), [r.text[:120] for r in responses]


def _post_children() -> list[int]:
    """Pids of the post-processing children of this machine's ingress replicas (spawned: `spawn_main`)."""
    running = processes()
    return [pid for pid, (_, parent, _, command) in running.items()
            if "spawn_main" in command and "Ingress" in running.get(parent, (0, 0, 0, ""))[3]]


@pytest.mark.slow
def test_a_killed_post_processing_child_loses_no_request(child_client):
    from test_http import EN_BRIEF

    children = _post_children()  # one per ingress replica
    assert children, "no post-processing child runs"
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)  # each pool sees its child gone
    burst = [EN_BRIEF | {"keywords": f"after the child {i}"} for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda b: child_client.post("/v1/recommend", json=b), burst))
    assert [r.status_code for r in responses] == [200] * len(burst), [r.text[:120] for r in responses]
    # Fresh children are spawned and warmed off the event loop, one per replica again.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(set(_post_children()) - set(children)) < len(children):
        child_client.post("/v1/recommend", json=EN_BRIEF)  # a replica notices a dead child on its next pass
        time.sleep(0.5)
    fresh = _post_children()
    assert len(fresh) == len(children) and not set(fresh) & set(children), (children, fresh)
    # Each replica takes its new pool once the child is warm (/healthz answers from one replica or another).
    while time.monotonic() < deadline and not all(
            child_client.get("/healthz").json()["post_processes"] == 1 for _ in range(6)):
        time.sleep(0.5)
    assert [child_client.get("/healthz").json()["post_processes"] for _ in range(6)] == [1] * 6


def test_a_child_does_not_rerun_its_replicas_main_module(tmp_path):
    # A Serve replica's `__main__` is Ray's default_worker.py, a script that imports Ray at module level; spawn would
    # run it again in the child before its first task. The benchmark's stand-in replica is such a script.
    script = tmp_path / "replica_main.py"
    script.write_text(post_child_start.STAND_IN)
    child = post_child_start.one_round(script, Path(__file__).resolve().parents[2])
    assert child["child_rss_mb"] > 0  # the stand-in measured a live, warm child
    assert child["ray_in_child"] is False, child


def test_a_child_leaves_with_its_replica():
    import subprocess
    import sys

    # A stand-in replica: a process that starts a pool of one warm child, prints the child's pid, then dies without
    # shutting the pool down (as a replica killed by `ray stop` does).
    code = ("import os; from serve_app.post_pass import start_post_processes; pool, _ = start_post_processes(1); "
            "print(pool.submit(os.getpid).result(timeout=60), flush=True); os._exit(0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90,
                          cwd=Path(__file__).resolve().parents[2])
    child = int(done.stdout.split()[-1])
    assert _wait_gone(child, 10), f"child {child} outlived its replica"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.2)
    return False
