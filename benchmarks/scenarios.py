"""End-to-end scenarios over HTTP on localhost, built on the open-loop load generator:

- `rate_sweep`: constant rates, ascending, until p99 breaks the SLO (latency from scheduled send times);
  the highest rate that held is the server's capacity at that SLO.
- `spike`: a promotional spike, base -> peak within a few seconds, held, then back, with Serve's replica
  counts sampled once a second, so scale-up time and latency can be read side by side.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import numpy as np

from benchmarks.loadgen import PiecewiseRate, Result, brief_rates, constant, run_parallel, summarize
from benchmarks.servers import (ReplicaMonitor, Server, batch_size_counters, batch_size_summary, stage_counters,
                               stage_summary)

SLO_P99_MS = 100.0
METRICS_SETTLE_S = 6.0  # Ray's metrics agent exports every few seconds (RAY_metrics_report_interval_ms)


# How the load generator runs (set once by a runner): pinned cores and distinct bodies on the GPU node.
LOAD: dict = {"cpus": None, "unique": False}
SPIKE_POOL_S = 1.5


def measure(server: Server, payloads: list[dict], rate: PiecewiseRate, duration_s: float, timeout_s: float = 30.0,
            processes: int = 1, cpu_probe=None, pool_s: float = 0.25) -> tuple[list[Result], dict]:
    before, stages_before = batch_size_counters(server.cluster), stage_counters(server.cluster)
    if cpu_probe is not None:
        cpu_probe.start()
    results = run_parallel(server.base_url, payloads, rate, duration_s, processes, timeout_s, pool_s=pool_s, **LOAD)
    summary = summarize(results, duration_s)
    k = LOAD.get("briefs_per_request", 1)  # the batch route: CPU is counted per brief answered
    summary.update(brief_rates(summary, k))
    if cpu_probe is not None:  # counted over the sending window only (the schedule's t = 0 to its end)
        summary["cpu"] = cpu_probe.stop_over_sends([(r.scheduled_s, r.status) for r in results],
                                                   getattr(results, "start_at", None), duration_s, k)
        summary["cpu"]["per"] = "brief" if k > 1 else "request"
    if getattr(results, "start_at", None) is not None:  # epoch seconds: to match server logs to this run
        summary["window"] = [round(results.start_at, 3), round(results.start_at + duration_s, 3)]
    if server.cluster is not None and before is not None:
        time.sleep(METRICS_SETTLE_S)
        summary["batch_sizes"] = batch_size_summary(before, batch_size_counters(server.cluster))
        summary["stages"] = stage_summary(stages_before, stage_counters(server.cluster))
    # summarize() counts `lost` (neither a 200 nor a 503 with Retry-After) and `lost_kinds` (what they got).
    return results, summary


def rate_sweep(server: Server, payloads: list[dict], rates: list[float], duration_s: float,
               slo_ms: float = SLO_P99_MS, past_slo: int = 1, processes: int = 1, cpu_probe=None,
               on_step: Callable[[dict], None] | None = None) -> dict:
    """Ascending constant rates; stops once `past_slo` + 1 rates in a row were far past the SLO. `on_step` gets the
    sweep so far after each rate, so a caller can save it before a timeout kills the run mid-sweep."""
    # A few seconds at the first rate first, unrecorded: the first step otherwise carries start-up effects.
    measure(server, payloads, constant(rates[0]), 4.0, processes=processes)
    rows, misses = [], 0
    for rate in rates:
        _, summary = measure(server, payloads, constant(rate), duration_s, processes=processes, cpu_probe=cpu_probe)
        summary["rate"] = rate
        summary["meets_slo"] = bool(summary["p99_ms"] <= slo_ms and summary["errors"] == 0)
        rows.append(summary)
        print(f"[{server.name}] {json.dumps(summary)}", flush=True)
        if on_step is not None:
            on_step(_sweep_result(server, slo_ms, duration_s, rows))
        # Stop once clearly past capacity: consecutive misses by a wide margin (a near miss at a low rate is
        # noise on a small machine, not saturation).
        misses = 0 if summary["p99_ms"] <= 3 * slo_ms and not summary["errors"] else misses + 1
        if misses > past_slo:
            break
        time.sleep(2)  # let queues drain between steps
    return _sweep_result(server, slo_ms, duration_s, rows)


def _sweep_result(server: Server, slo_ms: float, duration_s: float, rows: list[dict]) -> dict:
    held = [r["rate"] for r in rows if r["meets_slo"]]
    return {"server": server.name, "slo_p99_ms": slo_ms, "duration_s": duration_s, "rows": list(rows),
            "max_rate_at_slo": max(held) if held else 0.0, **server.notes}


def spike_profile(peak: float, base_share: float = 0.1, before_s: float = 20.0, ramp_s: float = 5.0,
                  hold_s: float = 60.0, after_s: float = 30.0) -> tuple[PiecewiseRate, float, dict]:
    """10 % -> 100 % of `peak` within `ramp_s`, held `hold_s`, then back to 10 %."""
    base = peak * base_share
    up, top, down = before_s, before_s + ramp_s, before_s + ramp_s + hold_s
    rate = PiecewiseRate(((0.0, base), (up, base), (top, peak), (down, peak), (down + 1e-3, base)))
    return rate, down + after_s, {"base": base, "peak": peak, "spike_start_s": up, "peak_start_s": top,
                                  "peak_end_s": down}


def spike(server: Server, payloads: list[dict], peak: float, processes: int = 1, **profile) -> dict:
    rate, duration_s, shape = spike_profile(peak, **profile)
    monitor = ReplicaMonitor(server.cluster)
    monitor.wait_ready()
    # Connections for 1.5 s of the peak: many clients at once, as in a real promotion, so what the replicas
    # cannot take reaches their admission (fast 503 + Retry-After) instead of queueing in the generator.
    results, summary = measure(server, payloads, rate, duration_s, processes=processes, pool_s=SPIKE_POOL_S)
    samples = monitor.stop()
    # Every t below is from the schedule's t = 0, as the latencies are: the epoch the load generator set once its
    # processes had their bodies and pools (~14-22 s after the call for a spike's ~54,000 unique bodies on the H200
    # node). Runs 4-6 took "the call + 3 s" instead, which put the controller's events 14-22 s late.
    started = results.start_at
    timeline = [{"t": round(s["t"] - started, 2),
                 "running": {d: states.get("RUNNING", 0) for d, states in s["replicas"].items()},
                 "starting": {d: states.get("STARTING", 0) for d, states in s["replicas"].items()},
                 **{k: s[k] for k in ("controller_ongoing", "controller_health", "ingress_series",
                                      "ingress_cpu_busy", "ingress_briefs_per_s", "controller_error") if k in s}}
                for s in samples]
    initial = timeline[0]["running"] if timeline else {}
    scale_up = {}
    for deployment, count in initial.items():
        first = next((p["t"] for p in timeline if p["t"] >= shape["spike_start_s"]
                      and p["running"].get(deployment, 0) + p["starting"].get(deployment, 0) > count), None)
        scale_up[deployment] = None if first is None else round(first - shape["spike_start_s"], 1)
    per_second = _per_second(results, duration_s)
    hold = [r.latency_ms for r in results
            if r.status == 200 and shape["peak_start_s"] <= r.scheduled_s < shape["peak_end_s"]]
    return {
        "server": server.name, "shape": shape, "duration_s": duration_s, "started_at": started, "summary": summary,
        "p99_during_peak_ms": round(float(np.percentile(hold, 99)), 1) if hold else None,
        # From spike start to the first extra replica (starting or running) as serve.status() showed it; that
        # view lagged the controller's own log by ~7 s on the H200 node (gpu_serve's `controller` events).
        "scale_up_after_s": scale_up,
        "max_replicas": {d: max(p["running"].get(d, 0) for p in timeline) for d in initial},
        "timeline": timeline, "per_second": per_second,
    }


def _per_second(results: list[Result], duration_s: float) -> list[dict]:
    rows = []
    for second in range(int(np.ceil(duration_s))):
        window = [r for r in results if second <= r.scheduled_s < second + 1]
        ok = [r.latency_ms for r in window if r.status == 200]
        rows.append({"t": second, "sent": len(window), "ok": len(ok),
                     "rejected_503": sum(1 for r in window if r.status == 503),
                     "other": sum(1 for r in window if r.status not in (200, 503)),
                     "p50_ms": round(float(np.percentile(ok, 50)), 1) if ok else None,
                     "p99_ms": round(float(np.percentile(ok, 99)), 1) if ok else None})
    return rows
