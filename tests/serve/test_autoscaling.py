"""Autoscaling on CPU as well as requests in flight (serve_app/autoscaling.py): the sampler reads this process's
CPU, the policy is Serve's default rule raised to what the reported CPU needs, and on a real local cluster batch
traffic that keeps requests in flight far below the request target still scales the Ingress out."""

from __future__ import annotations

import threading
import time
from typing import NamedTuple

import httpx
import pytest
from ray.serve._private.common import DeploymentID, ReplicaID, TimeStampedValue
from ray.serve.config import AutoscalingConfig, AutoscalingContext

from benchmarks.local_cluster import Cluster
from benchmarks.servers import ReplicaMonitor
from benchmarks.workload import brief_mix
from serve_app.autoscaling import ARRIVALS_METRIC, CPU_BUSY_METRIC, CpuBusy, CpuOrRequestsPolicy, ReportsCpu

DEPLOYMENT = DeploymentID(name="Ingress", app_name="packdesign")


def test_cpu_busy_reads_this_processes_cores_over_whole_windows():
    busy = CpuBusy(window_s=0.3)
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:  # start-up work before the first report: not counted
        pass
    opened = _clocked(busy.sample)
    assert opened.value == 0.0  # opens the first window
    time.sleep(0.35)
    idle = _clocked(busy.sample)
    assert busy.sample() == idle.value  # within a window: the last full window's value again
    deadline = time.process_time() + 0.35
    while time.process_time() < deadline:  # one core, busy
        pass
    working = _clocked(busy.sample)
    # Each window's value lies between what the clocks read around its two reports (fixed bounds, idle < 0.3 and
    # working > 0.6, failed on a loaded 2-core machine, where the busy loop got less than 0.6 of a core).
    for first, last in ((opened, idle), (idle, working)):
        low, high = _busy_range(first, last)
        assert low <= last.value <= high, (low, last.value, high)
    assert working.value > idle.value


class _Clocked(NamedTuple):
    value: object  # what the call returned
    cpu: tuple[float, float]  # process_time before and after the call
    wall: tuple[float, float]  # monotonic before and after


def _clocked(call) -> _Clocked:
    cpu, wall = time.process_time(), time.monotonic()
    value = call()
    return _Clocked(value, (cpu, time.process_time()), (wall, time.monotonic()))


def _busy_range(first: _Clocked, last: _Clocked) -> tuple[float, float]:
    """The cores a window from report `first` to report `last` can show: each report read both clocks inside its
    call."""
    cpu_low, cpu_high = last.cpu[0] - first.cpu[1], last.cpu[1] - first.cpu[0]
    wall_low, wall_high = last.wall[0] - first.wall[1], last.wall[1] - first.wall[0]
    return max(0.0, cpu_low) / wall_high, cpu_high / wall_low


def _context(replicas: int, requests: float, cpu: list[float] | None, target_requests: float = 8,
             reports: list[list[tuple[float, float]]] | None = None, now: float | None = None,
             metric: str = CPU_BUSY_METRIC) -> AutoscalingContext:
    """`cpu`: each replica's look-back mean of `metric` as Serve aggregates it; `reports`: each replica's raw reports
    of it as (seconds before `now`, value), oldest first."""
    ids = [ReplicaID(unique_id=f"r{i}", deployment_id=DEPLOYMENT) for i in range(replicas)]
    config = AutoscalingConfig(min_replicas=1, max_replicas=16, target_ongoing_requests=target_requests)
    now = time.time() if now is None else now
    raw = None if reports is None else {metric: {
        rid: [TimeStampedValue(now - age, value) for age, value in series] for rid, series in zip(ids, reports)}}
    return AutoscalingContext(
        deployment_id=DEPLOYMENT, deployment_name="Ingress", app_name="packdesign", current_num_replicas=replicas,
        target_num_replicas=replicas, running_replicas=ids, total_num_requests=requests, total_queued_requests=0.0,
        aggregated_metrics=None if cpu is None else {metric: dict(zip(ids, cpu))}, raw_metrics=raw,
        capacity_adjusted_min_replicas=1, capacity_adjusted_max_replicas=16, policy_state={},
        last_scale_up_time=None, last_scale_down_time=None, current_time=now, config=config)


def test_policy_takes_whichever_rule_asks_for_more():
    policy = CpuOrRequestsPolicy(target_cpu_busy=0.5)
    # Batch traffic: 2 requests in flight over 2 replicas (the request rule, target 8 each, wants 0.25), both
    # replicas 0.9 cores busy: 1.8 cores at 0.5 a replica.
    desired, _ = policy(_context(2, requests=2, cpu=[0.9, 0.9]))
    assert desired == pytest.approx(3.6)
    # Single-brief traffic, 24 requests over 2 replicas (24 / 8 = 3), CPU light (0.4 / 0.5 = 0.8): the request rule.
    desired, _ = policy(_context(2, requests=24, cpu=[0.2, 0.2]))
    assert desired == pytest.approx(3.0)
    # No CPU reports yet (replicas starting): the default rule exactly.
    desired, _ = policy(_context(2, requests=2, cpu=None))
    assert desired == pytest.approx(0.25)
    with pytest.raises(ValueError):
        CpuOrRequestsPolicy(target_cpu_busy=0.0)


def test_recent_reports_raise_the_target_before_the_look_back_mean_but_never_lower_it():
    # A ramp, as run 25's Ingress reported it: 0.3 cores a replica for 4 s, then 0.65 and 0.70. The 6 s mean is
    # still ~0.43, under a 0.5 target on each of 2 replicas; the last 2 s say 1.35 cores, 2.7 replicas.
    ramp = [(6, 0.3), (5, 0.3), (4, 0.3), (3, 0.3), (1.5, 0.65), (0.5, 0.70)]
    mean = [sum(v for _, v in ramp) / len(ramp)] * 2
    desired, _ = CpuOrRequestsPolicy(target_cpu_busy=0.5)(_context(2, requests=2, cpu=mean, reports=[ramp] * 2))
    assert desired == pytest.approx(2 * mean[0] / 0.5)  # recent_s 0: the look-back mean alone, as before
    desired, _ = CpuOrRequestsPolicy(target_cpu_busy=0.5, recent_s=2)(
        _context(2, requests=2, cpu=mean, reports=[ramp] * 2))
    assert desired == pytest.approx(2 * (0.65 + 0.70) / 2 / 0.5)
    # Load falling: the recent reports are low but the mean is still high; removing replicas waits for the mean.
    fall = [(6, 0.9), (5, 0.9), (4, 0.9), (3, 0.9), (1.5, 0.1), (0.5, 0.1)]
    desired, _ = CpuOrRequestsPolicy(target_cpu_busy=0.5, recent_s=2)(
        _context(2, requests=2, cpu=[0.63, 0.63], reports=[fall] * 2))
    assert desired == pytest.approx(2 * 0.63 / 0.5)
    # A replica with no report in the last 2 s (too busy to send one) counts its newest, not nothing.
    stale = [(6, 0.3), (4, 0.9)]
    desired, _ = CpuOrRequestsPolicy(target_cpu_busy=0.5, recent_s=2)(
        _context(2, requests=2, cpu=[0.6, 0.3], reports=[stale, [(1, 0.3)]]))
    assert desired == pytest.approx((0.9 + 0.3) / 0.5)
    with pytest.raises(ValueError):
        CpuOrRequestsPolicy(recent_s=-1)


def test_arrivals_ask_for_their_share_where_a_target_is_set():
    # A spike past what 2 replicas can do: their cores stay at their ceiling (0.85 each, 2.4 replicas at 0.7), but
    # the briefs arriving keep rising: 180 and 220 a second each over the last 2 s, 400 at 100 a replica.
    ramp = [(6, 25), (5, 25), (4, 60), (3, 110), (1.5, 180), (0.5, 220)]
    mean = [sum(v for _, v in ramp) / len(ramp)] * 2
    desired, _ = CpuOrRequestsPolicy(target_cpu_busy=0.7, recent_s=2, target_briefs_per_s=100)(
        _context(2, requests=8, cpu=mean, reports=[ramp] * 2, metric=ARRIVALS_METRIC))
    assert desired == pytest.approx(2 * (180 + 220) / 2 / 100)
    desired, _ = CpuOrRequestsPolicy(target_cpu_busy=0.7, target_briefs_per_s=100)(  # the look-back mean alone
        _context(2, requests=8, cpu=mean, reports=[ramp] * 2, metric=ARRIVALS_METRIC))
    assert desired == pytest.approx(2 * mean[0] / 100)
    # No target: arrivals are reported but not scaled on (the request rule, 16 / 8).
    desired, _ = CpuOrRequestsPolicy(target_cpu_busy=0.7, recent_s=2)(
        _context(2, requests=16, cpu=mean, reports=[ramp] * 2, metric=ARRIVALS_METRIC))
    assert desired == pytest.approx(2.0)
    with pytest.raises(ValueError):
        CpuOrRequestsPolicy(target_briefs_per_s=0)


def test_a_replica_that_counts_briefs_reports_them_a_second():
    class Replica(ReportsCpu):
        arrived = 0  # counts them, as the Ingress and the BriefEncoder do

    replica = Replica()
    opened = _clocked(replica.record_autoscaling_stats)  # opens the windows: start-up is not load
    assert opened.value == {CPU_BUSY_METRIC: 0.0, ARRIVALS_METRIC: 0.0}
    replica.arrived = 50
    time.sleep(1.05)
    closed = _clocked(replica.record_autoscaling_stats)
    low, high = _rate_range(50, opened, closed)
    assert low <= closed.value[ARRIVALS_METRIC] <= high
    assert ARRIVALS_METRIC not in ReportsCpu().record_autoscaling_stats()  # a deployment that does not count them


def test_the_encoder_reports_the_briefs_sent_to_it():
    """The BriefEncoder counts the briefs of every call, so a `target_briefs_per_s` in its policy (the GPU config's)
    adds replicas as a spike's briefs arrive rather than once its cores' look-back mean crosses the target."""
    import asyncio

    from serve_app.encoder import BriefEncoder

    encoder = BriefEncoder.func_or_class(max_image_bytes=1 << 20)
    opened = _clocked(encoder.record_autoscaling_stats)  # opens the window
    assert opened.value[ARRIVALS_METRIC] == 0.0
    bodies = [json_brief.encode() for json_brief in map(_json, brief_mix(5, seed=3))]
    for call in (bodies[:2], bodies[2:]):
        asyncio.run(encoder.encode_batch(call))
    assert encoder.briefs_arrived() == 5
    time.sleep(1.05)
    closed = _clocked(encoder.record_autoscaling_stats)
    low, high = _rate_range(5, opened, closed)  # (the encoding's time is in the window: ~0.3 s on a slow machine)
    assert low <= closed.value[ARRIVALS_METRIC] <= high


def _rate_range(count: int, opened: _Clocked, closed: _Clocked) -> tuple[float, float]:
    """The rates a window from the `opened` report to the `closed` one can give `count` arrivals: each report read
    the clock somewhere inside its call, so the window lies between the calls' inner and outer ends (a fixed lower
    bound, e.g. 40 of 50 over 1.05 s, failed on a slow machine)."""
    return count / (closed.wall[1] - opened.wall[0]), count / (closed.wall[0] - opened.wall[1])


def _json(brief: dict) -> str:
    import json

    return json.dumps(brief, ensure_ascii=False)


def _scale_only_on(policy_kwargs: dict):
    """The Ingress may grow to 3 replicas, and only the policy's CPU or arrivals rule can take it there: the request
    target is far above anything these tests send. (It starts at 2, not 1: requests that reach it before its first
    replica runs, the cluster's health polls, take Serve's cold-start path, which asks for upscaling_factor replicas
    whatever the policy; the default policy does the same.) Encoder and recommender: one replica each, fixed (2
    cores)."""
    def apply(config: dict) -> None:
        for deployment in config["applications"][0]["deployments"]:
            if deployment["name"] == "Ingress":
                deployment["autoscaling_config"].update(
                    min_replicas=1, initial_replicas=1, max_replicas=3, target_ongoing_requests=1000,
                    upscale_delay_s=1, look_back_period_s=4,
                    policy={"policy_function": "serve_app.autoscaling:CpuOrRequestsPolicy",
                            "policy_kwargs": policy_kwargs})
            else:
                deployment.pop("autoscaling_config", None)
                deployment["num_replicas"] = 1
    return apply


def _scales_out(tmp_path, policy_kwargs: dict, path: str, body) -> list[dict]:
    """One client in a closed loop posting `body(i)` to `path` until Serve adds an Ingress replica (60 s at most);
    -> the monitor's samples. Asserts every answer was a 200, the Ingress idle did not grow, and it grew under load."""
    with Cluster(tmp_path, config_overrides=_scale_only_on(policy_kwargs)) as cluster:
        monitor = ReplicaMonitor(cluster, interval_s=0.5)
        try:
            monitor.wait_ready()
            time.sleep(6)  # idle: the Ingress reports its idle cores (0.01-0.02) and no arrivals, and must not grow
            idle_counts = {sum(s["replicas"]["Ingress"].values()) for s in monitor.samples if "replicas" in s}
            assert len(idle_counts) == 1, idle_counts
            (start_count,) = idle_counts
            assert start_count < 3

            stop = threading.Event()
            statuses: list[int] = []

            def send() -> None:
                with httpx.Client(base_url=cluster.base_url, timeout=60) as client:
                    i = 0
                    while not stop.is_set():
                        statuses.append(client.post(path, json=body(i)).status_code)
                        i += 1

            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            deadline, scaled = time.monotonic() + 60, None
            while time.monotonic() < deadline and scaled is None:
                time.sleep(0.5)
                for s in monitor.samples[-3:]:
                    ingress = s.get("replicas", {}).get("Ingress", {})
                    if ingress.get("RUNNING", 0) + ingress.get("STARTING", 0) > start_count:
                        scaled = s
            stop.set()
            sender.join(timeout=90)
        finally:
            samples = monitor.stop()
    ongoing = [s["controller_ongoing"]["Ingress"] for s in samples if "controller_ongoing" in s]
    reports = [(s.get("ingress_cpu_busy"), s.get("ingress_briefs_per_s")) for s in samples if s.get("ingress_cpu_busy")]
    print(f"statuses {sorted(set(statuses))} n={len(statuses)}; Ingress ongoing max {max(ongoing, default=None)}; "
          f"(cpu_busy, briefs_per_s) reports {reports[:3]} ... {reports[-3:]}")
    assert statuses and set(statuses) == {200}
    assert scaled is not None, f"no Ingress replica added within 60 s; last sample {samples[-1] if samples else None}"
    assert ongoing and max(ongoing) <= 2  # the request rule (target 1000) could not have asked for it
    return samples


@pytest.mark.slow
def test_batch_requests_scale_the_ingress_out_on_cpu(tmp_path):
    # One request of 16 briefs in flight at a time (two 16-brief requests on one replica would pass max_in_flight,
    # 24 briefs, and get 503). No arrivals target: only the CPU rule (0.1 cores a replica) can add the replica.
    briefs = brief_mix(2000, seed=21)
    _scales_out(tmp_path, {"target_cpu_busy": 0.1}, "/v1/recommend/batch",
                lambda i: {"briefs": [briefs[(i * 16 + j) % len(briefs)] for j in range(16)]})


@pytest.mark.slow
def test_arriving_briefs_scale_the_ingress_out(tmp_path):
    # Single briefs from one client, a request in flight at a time: a few dozen briefs a second, against an arrivals
    # target of 2 a replica; the CPU rule (4 cores a replica, more than a replica can use) cannot ask for it.
    briefs = brief_mix(2000, seed=22)
    samples = _scales_out(tmp_path, {"target_cpu_busy": 4.0, "target_briefs_per_s": 2, "recent_s": 2},
                          "/v1/recommend", lambda i: briefs[i % len(briefs)])
    arrivals = [max(s["ingress_briefs_per_s"]) for s in samples if s.get("ingress_briefs_per_s")]
    assert arrivals and max(arrivals) > 0  # the replicas' reports reached the controller, which scaled on them
