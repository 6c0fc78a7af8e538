"""Post-processing in the ingress's child processes (`ingress_post_processes`) answers as in its worker thread.

First the pass itself: real spawned children, real pickling of micro-batches both ways, on the golden briefs'
stored model outputs (the ingress's own function, called as the replica calls it). Then the whole app on a local
Ray cluster with one child per ingress replica (children spawned inside a Serve replica), against the default app.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
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
from contract.brief import MAX_IMAGE_BYTES, Brief
from contract.scheme import Recommendation
from pipeline.features import BriefRejection, EncodedBatch, encode_batch
from serve_app import autoscaling
from serve_app.model_io import ModelOutputs
from serve_app.post_pass import (Inferred, Pending, join_split, post_in_child, post_process, split_pass,
                                 start_post_processes)

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
        parts.append(Inferred(items, encode_batch(briefs, max_image_bytes=MAX_IMAGE_BYTES), result, now, now, now))
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


def test_the_start_futures_are_done_only_once_every_child_is_warm():
    # A replica waits on these futures before its first pass and then cuts passes between its children: a child
    # still warming would take no work meanwhile. Three children on a small machine warm up at different times.
    pool, children = start_post_processes(3)
    try:
        for child in children:
            child.result(timeout=120)
        done_at = time.perf_counter()
        probe = ("(__import__('time').sleep(0.2), __import__('os').getpid(), "
                 "__import__('serve_app.post_pass', fromlist=['_'])._child_warm_at)[1:]")
        warm_at, deadline = {}, time.monotonic() + 120
        while len(warm_at) < 3:  # until each child has answered once
            warm_at.update(f.result(timeout=120) for f in [pool.submit(eval, probe) for _ in range(3)])
            assert time.monotonic() < deadline, warm_at
    finally:
        pool.shutdown()
    assert 0.0 < max(warm_at.values()) <= done_at, (warm_at, done_at)


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


def test_a_pass_split_between_two_children_answers_as_one_pass():
    # `ingress_post_processes: 2` cuts each pass into runs of briefs, one a child, and joins the answers back.
    parts = _micro_batches([1, 5, 13])
    runs = split_pass(parts, 2)
    assert [[(index, len(part.items)) for index, part in run] for run in runs] == [[(0, 1), (1, 5), (2, 4)], [(2, 9)]]
    assert [len(split_pass(_micro_batches([n]), 2)) for n in (1, 2, 3, 4)] == [1, 1, 1, 2]  # runs of 2 briefs or more
    whole = post_process([(parts, None)])[0]
    pool, children = start_post_processes(2)
    try:
        for child in children:
            child.result(timeout=120)  # both children warm and idle
        results = [pool.submit(post_in_child, [([part for _, part in run], None)]) for run in runs]
        done = [future.result(timeout=120) for future in results]
    finally:
        pool.shutdown()
    assert len({pid for pid, _, _ in done}) == 2  # side by side, one run a child
    joined = join_split(len(parts), runs, [one_pass for _, _, (one_pass,) in done])
    assert [len(answers) for answers, _ in joined] == [1, 5, 13]
    for (whole_answers, whole_records), (split_answers, split_records) in zip(whole, joined):
        assert [_without_timings(a) for a in split_answers] == [_without_timings(a) for a in whole_answers]
        assert [(r.request_id, r.choices_json) for r in split_records] == [
            (r.request_id, r.choices_json) for r in whole_records]


def test_the_ingress_splits_passes_between_idle_children_with_each_runs_own_taste():
    # The replica's own method on a real two-child pool: two model versions in one call, a taught and an untaught
    # tenant, a rejected brief in the second run; answers, rejections and records as one pass in the thread.
    from pipeline.taste import TasteModel, feature_tables
    from serve_app.ingress import Ingress

    serif = np.zeros(len(feature_tables().names))
    serif[feature_tables().names.index("heading serif")] = 3.0  # a tenant who wants serif headings
    taste = TasteModel.build({"tenant-a": serif}, {"tenant-a": 10}, trained_at=1_780_000_000.0)
    parts = _micro_batches([3, 9, 2])
    for i, item in enumerate(item for part in parts for item in part.items):
        item.tenant = "tenant-a" if i % 3 == 0 else "tenant-b"  # tenant-b was never taught
    parts[1].encoded.rejected[6] = BriefRejection("reference_image", "not an image")
    parts[2].result.model_version = "other"  # its own pass, as the replica groups by model version

    def with_taste(group):
        return group, taste.batch([item.tenant for part in group for item in part.items])

    passes = [with_taste(parts[:2]), with_taste(parts[2:])]
    # The method reads only these three attributes of its replica (no Serve replica object is built: its wrapper's
    # coroutine __del__ would warn when collected).
    args = SimpleNamespace(ingress_post_processes=2, ingress_split_passes=True)
    ingress = SimpleNamespace(args=args, _runs_out=0, _children_cpu={})
    pool, children = start_post_processes(2)
    try:
        for child in children:
            child.result(timeout=120)
        split = asyncio.run(Ingress.func_or_class._split_between_children(ingress, pool, [g for g, _ in passes],
                                                                          with_taste))
        assert len(ingress._children_cpu) == 2  # the 12-brief pass was cut between both children
        ingress._runs_out = 1  # one child still busy with another pass: no cut
        assert len(split_pass(parts[:2], max(1, 2 - ingress._runs_out))) == 1
        # Split off: each pass goes whole to one child; the answers are the same.
        args.ingress_split_passes, ingress._runs_out, ingress._children_cpu = False, 0, {}
        whole_in_child = asyncio.run(Ingress.func_or_class._split_between_children(
            ingress, pool, [g for g, _ in passes[:1]], with_taste))
        assert len(ingress._children_cpu) == 1
    finally:
        pool.shutdown()
    whole = post_process(passes)
    assert ingress._runs_out == 0
    assert [_without_timings(a) for a in whole_in_child[0][1][0] if not isinstance(a, BriefRejection)] == [
        _without_timings(a) for a in whole[0][1][0] if not isinstance(a, BriefRejection)]
    for whole_pass, split_pass_done in zip(whole, split):
        for (whole_answers, whole_records), (split_answers, split_records) in zip(whole_pass, split_pass_done):
            assert [a if isinstance(a, BriefRejection) else _without_timings(a) for a in split_answers] == [
                a if isinstance(a, BriefRejection) else _without_timings(a) for a in whole_answers]
            assert [(r.request_id, r.choices_json, r.learner_version) for r in split_records] == [
                (r.request_id, r.choices_json, r.learner_version) for r in whole_records]
    assert isinstance(split[0][1][0][6], BriefRejection)
    assert {r.learner_version for part in split[0] for r in part[1]} == {taste.version, None}


def test_a_micro_batch_cut_in_rows_keeps_its_rejected_briefs_in_place():
    parts = _micro_batches([6])
    encoded = parts[0].encoded
    encoded.rejected[4] = BriefRejection("reference_image", "not an image")  # as the encoder marks a brief
    first, second = encoded.rows(0, 3), encoded.rows(3, 6)
    assert second.rejected == {1: encoded.rejected[4]} and first.rejected == {}
    again = EncodedBatch.concat([first, second])
    assert again.rejected == encoded.rejected and again.texts == encoded.texts
    np.testing.assert_array_equal(again.features, encoded.features)
    assert parts[0].rows(0, 6) is parts[0] and len(parts[0].rows(2, 5).result.outputs["palette_ids"]) == 3


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


def _cpu_ns(pid: int) -> int:
    """Nanoseconds `pid` has run on a CPU (the scheduler's own count, not clock ticks)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def _in_cluster(pid: int, cluster: Cluster) -> bool:
    """Whether `pid` descends from a process of `cluster`'s own process group (its raylet starts the workers)."""
    running = processes()
    for _ in range(6):
        if pid not in running or pid <= 1:
            return False
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == cluster.head.pid:
                return True
        pid = running[pid][1]
    return False


def _two_children(config: dict) -> None:
    config["applications"][0]["args"]["ingress_post_processes"] = 2


@pytest.mark.slow
def test_an_app_with_two_children_a_replica_splits_its_passes_and_answers_as_the_default_app(client, tmp_path):
    from test_http import EN_BRIEF, ZH_BRIEF, assert_contract, recommend

    with Cluster(tmp_path, config_overrides=_two_children) as cluster, \
            httpx.Client(base_url=cluster.base_url, timeout=60) as http:
        assert http.get("/healthz").json()["post_processes"] == 2
        children = [pid for pid in _post_children() if _in_cluster(pid, cluster)]  # not the module's other one's
        parents = {pid: processes()[pid][1] for pid in children}
        assert sorted(collections.Counter(parents.values()).values()) == [2, 2], parents  # two a replica
        # Scheme counts vary, so an answer joined back to the wrong brief fails its contract.
        burst = [(EN_BRIEF if i % 2 else ZH_BRIEF) | {"keywords": f"summer picnic {i}, 清爽 {i}", "num_schemes": 3 + i % 3}
                 for i in range(32)]
        with ThreadPoolExecutor(16) as pool:
            responses = list(pool.map(lambda b: http.post("/v1/recommend", json=b), burst))
        assert [r.status_code for r in responses] == [200] * len(burst), [r.text[:120] for r in responses]
        for brief, response in zip(burst, responses):
            assert_contract(Recommendation.model_validate_json(response.content), brief)
        # One request of 64 briefs is one micro-batch, so one pass: cut in two, both children of its replica run
        # during it (children taking turns would give the whole pass to one).
        before = {pid: _cpu_ns(pid) for pid in children}
        batch = [EN_BRIEF | {"keywords": f"night market {i}"} for i in range(64)]
        assert http.post("/v1/recommend/batch", json={"briefs": batch}).status_code == 200
        ran_ms = {pid: (_cpu_ns(pid) - before[pid]) / 1e6 for pid in children}
        assert any(all(ran_ms[pid] > 2.0 for pid in children if parents[pid] == parent)
                   for parent in set(parents.values())), (ran_ms, parents)
        # One at a time (the model's outputs then come from the same batch shapes on both apps: its floats move with
        # the batch it shares), the answers are the default app's; split passes against whole ones on the same
        # model outputs: test_a_pass_split_between_two_children_answers_as_one_pass.
        for brief in burst[:4]:
            split, default = recommend(http, brief), recommend(client, brief)
            assert [s.model_dump() for s in split.schemes] == [s.model_dump() for s in default.schemes], brief


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
