"""Replica crashes under load: SIGKILL one Recommender replica, then one BriefEncoder replica, while a steady
open-loop load runs. Serve must replace the replica, the failed fraction stays < 0.1 % (the ingress retries a
hop whose replica died), every request gets an answer (no hang), and the app is healthy afterwards.

Its own cluster with two replicas of each model deployment (the minimum for surviving a crash without an
outage), so the session cluster other tests share is not disturbed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time

import pytest

from benchmarks.loadgen import run, summarize
from benchmarks.serve_latency import brief_mix
from benchmarks.local_cluster import Cluster

RATE_QPS, DURATION_S, KILL_AT_S = 8.0, 30.0, 10.0

_REPLICAS = """
import json, ray
from ray import serve
from ray.util.state import list_actors
ray.init(log_to_driver=False)
deployments = serve.status().applications["packdesign"].deployments
actors = list_actors(filters=[("state", "=", "ALIVE")], detail=True, limit=1000)
print(json.dumps({
    "status": {name: d.status.value if hasattr(d.status, "value") else str(d.status) for name, d in deployments.items()},
    "running": {name: d.replica_states.get("RUNNING", 0) for name, d in deployments.items()},
    "pids": {name: [a.pid for a in actors if a.class_name.endswith(":" + name)] for name in deployments},
}))
"""


def _two_replicas(config: dict) -> None:
    for deployment in config["applications"][0]["deployments"]:
        if deployment["name"] in ("BriefEncoder", "Recommender"):
            scaling = deployment["autoscaling_config"]
            scaling["min_replicas"] = scaling["initial_replicas"] = 2


@pytest.fixture(scope="module")
def ha_cluster(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("faults"), config_overrides=_two_replicas) as cluster:
        yield cluster


def _replicas(cluster) -> dict:
    return json.loads(cluster.driver(_REPLICAS).strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("deployment", ["Recommender", "BriefEncoder"])
def test_replica_killed_under_load(ha_cluster, deployment):
    before = _replicas(ha_cluster)
    assert before["running"][deployment] >= 2, before
    victim = before["pids"][deployment][0]
    payloads = brief_mix(100, seed=13)

    def kill_later() -> None:
        time.sleep(KILL_AT_S)
        os.kill(victim, signal.SIGKILL)  # a crash: no graceful shutdown, in-flight calls are lost

    killer = threading.Thread(target=kill_later)
    killer.start()
    started = time.monotonic()
    # The client waits up to 60 s per request: anything longer would be a hang and shows as "timeout".
    results = asyncio.run(run(ha_cluster.base_url, payloads, lambda t: RATE_QPS, DURATION_S, timeout_s=60.0))
    killer.join()
    elapsed = time.monotonic() - started
    summary = summarize(results, DURATION_S)
    failed = [r for r in results if r.status != 200]
    print(f"kill one {deployment} replica at {KILL_AT_S}s under {RATE_QPS}/s: {len(results)} requests, "
          f"{len(failed)} failed ({100 * len(failed) / len(results):.2f} %), statuses {summary['statuses']}, "
          f"p99 {summary['p99_ms']} ms, max {summary['max_ms']} ms")
    assert elapsed < DURATION_S + 60  # every request finished: nothing hung
    assert len(failed) / len(results) < 0.001, summary
    # Every non-200 would have been explicit (a 503 with Retry-After), never a dropped connection.
    assert all(r.status == 503 and r.retry_after for r in failed), summary

    # Serve replaced the dead replica: back to the count before, the victim gone, everything healthy.
    deadline = time.monotonic() + 180
    while True:
        after = _replicas(ha_cluster)
        if (victim not in after["pids"][deployment] and after["running"][deployment] >= before["running"][deployment]
                and set(after["status"].values()) == {"HEALTHY"}):
            break
        assert time.monotonic() < deadline, after
        time.sleep(2)
    print(f"{deployment} replicas before {before['running'][deployment]}, after {after['running'][deployment]}")
