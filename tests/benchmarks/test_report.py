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
