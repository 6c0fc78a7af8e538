"""The report's verdicts follow from the numbers: a spike that needed no extra replica is not a scale-up
failure, a late replica is, and a lost request fails the 0-lost goal."""

from benchmarks.report import verdicts


def _spike(peak_p99: float, scale_up: dict, lost: int = 0, peak: float = 10.0) -> dict:
    statuses = {"200": 100 - lost, "timeout": lost} if lost else {"200": 100}
    return {"shape": {"peak": peak}, "p99_during_peak_ms": peak_p99, "scale_up_after_s": scale_up,
            "summary": {"lost": lost, "rejected_503": 0, "statuses": statuses}}


def test_spike_within_one_replica_is_not_exercised_rather_than_failed():
    (text,) = verdicts([], _spike(80.0, {"Ingress": None, "Recommender": None}), None)
    assert "0 lost requests: met" in text and "not exercised" in text


def test_scale_up_is_judged_against_15_seconds_and_lost_requests_fail():
    (late,) = verdicts([], _spike(900.0, {"Ingress": 40.0, "Recommender": None}), None)
    (prompt,) = verdicts([], _spike(900.0, {"Ingress": 9.5, "Recommender": None}), None)
    (slow_no_scale,) = verdicts([], _spike(900.0, {"Ingress": None}), None)
    (lossy,) = verdicts([], _spike(80.0, {"Ingress": None}, lost=3), None)
    assert "within 15 s: not met" in late and "within 15 s: met" in prompt
    assert "within 15 s: not met" in slow_no_scale
    assert "0 lost requests: not met" in lossy and "not exercised" not in lossy


def test_both_spikes_are_reported():
    texts = verdicts([], _spike(80.0, {"Ingress": None}), None, spike_over=_spike(900.0, {"Ingress": 30.0}, peak=30))
    assert [t.split(" (")[0] for t in texts] == ["**Spike at capacity", "**Spike past capacity"]


def _sweep(server: str, capacity: float, p50: float, machine: dict | None) -> dict:
    entry = {"server": server, "max_rate_at_slo": capacity, "rows": [{"rate": 40.0, "p50_ms": p50}]}
    return entry | ({"machine": machine} if machine else {})


def test_the_serve_graph_is_judged_as_make_serve_runs_it_against_a_baseline_of_the_same_run():
    day = {"date": "2026-12-07", "cpu_count": 2}
    sweeps = [_sweep("serve-default", 20.0, 40.0, None), _sweep("serve-haproxy", 70.0, 25.0, day),
              _sweep("baseline", 100.0, 15.0, day)]
    capacity, share = verdicts(sweeps, None, None)
    assert "`serve-haproxy` held p99 ≤ 100 ms with no errors was 70 req/s (2026-12-07, 2 cores)" in capacity
    assert "not met" in capacity  # 100 req/s is the goal
    assert "side by side: met" in share and "0.70" in share
    (_, short) = verdicts(sweeps[:2] + [_sweep("baseline", 110.0, 15.0, day)], None, None)
    assert "side by side: not met" in short and "0.64" in short


def test_sweeps_of_different_runs_are_not_judged_against_each_other():
    sweeps = [_sweep("serve-default", 90.0, 25.0, None),
              _sweep("baseline", 100.0, 15.0, {"date": "2026-12-07", "cpu_count": 2})]
    (_, share) = verdicts(sweeps, None, None)
    assert "not judged" in share and "date not recorded" in share
