"""The measurement helpers the serving findings rest on: py-spy stack folding, the stage histogram deltas read
from Prometheus text, and CPU counted over the sending window only."""

from __future__ import annotations

import time

from benchmarks.cpu_by_process import CPUProbe
from benchmarks.pyspy import fold
from benchmarks.servers import stage_summary


def test_fold_counts_self_and_inclusive_shares():
    raw = ("main (app.py:1);handle (app.py:9);parse (lib/json.py:3) 30\n"
           "main (app.py:1);handle (app.py:9);post (app.py:20) 60\n"
           "main (app.py:1);idle (app.py:2) 10\n")
    folded = fold(raw)
    assert folded["samples"] == 100
    assert dict(folded["self"]) == {"post (app.py)": 60.0, "parse (lib/json.py)": 30.0, "idle (app.py)": 10.0}
    inclusive = dict(folded["inclusive"])
    assert inclusive["main (app.py)"] == 100.0
    assert inclusive["handle (app.py)"] == 90.0


def test_stage_summary_is_the_difference_between_snapshots():
    before = {"post": {"count": 10, "sum": 100.0, "le=1": 0, "le=10": 10, "le=+Inf": 10}}
    after = {"post": {"count": 30, "sum": 500.0, "le=1": 0, "le=10": 12, "le=+Inf": 30},
             "wait": {"count": 4, "sum": 2.0, "le=1": 4, "le=10": 4, "le=+Inf": 4}}
    summary = stage_summary(before, after)
    assert summary["post"]["batches"] == 20
    assert summary["post"]["mean_ms"] == 20.0  # (500 - 100) / 20, not the cumulative 500 / 30
    assert summary["post"]["p50_le_ms"] == "+Inf"  # only 2 of the 20 new ones fell at or under 10 ms
    assert summary["wait"] == {"batches": 4, "mean_ms": 0.5, "p50_le_ms": "1", "p90_le_ms": "1", "p99_le_ms": "1"}


def test_cpu_probe_counts_only_the_window():
    probe = CPUProbe()
    probe.start()
    time.sleep(0.6)  # idle before the window
    window_start = time.time()
    deadline = window_start + 1.2
    while time.time() < deadline:  # this process burns CPU inside the window only
        sum(i * i for i in range(1000))
    window_end = time.time()
    time.sleep(0.6)
    result = probe.stop(answered=1000, window=(window_start, window_end), answered_in=lambda t0, t1: 100)
    assert result["answered_in_window"] == 100
    assert result["window_s"] <= 1.3
    # The busy loop ran in this process, inside the window: its role holds about one core there.
    assert max(result["cores"].values()) > 0.5
