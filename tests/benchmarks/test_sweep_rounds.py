"""`python -m benchmarks --only sweep --rounds N`: the servers' order alternates between rounds, and each round's
capacities are read against that round's baseline."""

from __future__ import annotations

from benchmarks.__main__ import capacity_ratios, round_orders, share_summary


def test_the_order_reverses_every_other_round():
    assert round_orders(["serve-haproxy", "baseline"], 3) == [
        ["serve-haproxy", "baseline"], ["baseline", "serve-haproxy"], ["serve-haproxy", "baseline"]]
    assert round_orders(["a", "b", "c"], 1) == [["a", "b", "c"]]


def test_each_round_is_read_against_its_own_baseline():
    rounds = [[{"server": "serve-haproxy", "max_rate_at_slo": 40.0}, {"server": "baseline", "max_rate_at_slo": 50.0}],
              [{"server": "baseline", "max_rate_at_slo": 80.0}, {"server": "serve-haproxy", "max_rate_at_slo": 40.0}],
              [{"server": "serve-haproxy", "max_rate_at_slo": 30.0}, {"server": "baseline", "max_rate_at_slo": 0.0}]]
    ratios = capacity_ratios(rounds)
    assert [r["round"] for r in ratios] == [1, 2, 3]
    assert ratios[0]["share_of_baseline"] == {"serve-haproxy": 0.8}
    assert ratios[1]["share_of_baseline"] == {"serve-haproxy": 0.5}
    assert ratios[2]["share_of_baseline"] == {"serve-haproxy": None}  # a baseline that held nothing: no share
    assert ratios[1]["max_rate_at_slo"] == {"baseline": 80.0, "serve-haproxy": 40.0}


def test_the_summary_gives_each_servers_spread_over_the_rounds_that_had_a_baseline():
    # This session's two-core rounds, and one whose baseline held nothing (no share, not a share of 0).
    ratios = capacity_ratios([
        [{"server": "serve-haproxy", "max_rate_at_slo": 40.0}, {"server": "baseline", "max_rate_at_slo": 60.0}],
        [{"server": "baseline", "max_rate_at_slo": 70.0}, {"server": "serve-haproxy", "max_rate_at_slo": 0.0}],
        [{"server": "serve-haproxy", "max_rate_at_slo": 0.0}, {"server": "baseline", "max_rate_at_slo": 70.0}],
        [{"server": "baseline", "max_rate_at_slo": 70.0}, {"server": "serve-haproxy", "max_rate_at_slo": 40.0}],
        [{"server": "serve-haproxy", "max_rate_at_slo": 50.0}, {"server": "baseline", "max_rate_at_slo": 0.0}]])
    summary = share_summary(ratios)["serve-haproxy"]
    assert summary["rounds"] == 4
    assert summary["min"] == 0.0 and summary["max"] == 40.0 / 60.0
    assert summary["median"] == (0.0 + 40.0 / 70.0) / 2
    assert share_summary(capacity_ratios([[{"server": "baseline", "max_rate_at_slo": 0.0},
                                            {"server": "serve-haproxy", "max_rate_at_slo": 40.0}]])) == {}
