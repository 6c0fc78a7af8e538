"""The split of server CPU a request into a cost per micro-batch and one per brief (benchmarks.cpu_bound)."""

import json

import pytest

from benchmarks.cpu_bound import ceilings, fit, sweep_rows


def _rows(per_batch: dict[str, float], per_brief: dict[str, float], batches=(1.0, 1.5, 2.5, 6.0)) -> list[dict]:
    return [{"batch": b, "cpu": {role: per_batch[role] / b + per_brief[role] for role in per_batch}}
            for b in batches]


def test_the_fit_recovers_known_costs_and_the_ceiling_follows_from_them():
    per_batch, per_brief = {"ingress": 6.0, "encoder": 1.2}, {"ingress": 2.5, "encoder": 0.9}
    fitted = fit(_rows(per_batch, per_brief), roles=("ingress", "encoder"))
    for role in per_batch:
        assert fitted[role]["per_micro_batch_ms"] == pytest.approx(per_batch[role])
        assert fitted[role]["per_brief_ms"] == pytest.approx(per_brief[role])
        assert fitted[role]["worst_miss_ms"] < 1e-9
    limits = ceilings(fitted, cores=12)
    assert limits["1"] == pytest.approx(12_000 / (7.2 + 3.4))
    assert limits["64"] == pytest.approx(12_000 / (7.2 / 64 + 3.4))
    assert limits["inf"] == pytest.approx(12_000 / 3.4)


def test_rows_at_one_micro_batch_size_cannot_split_the_costs():
    with pytest.raises(ValueError, match="two micro-batch sizes"):
        fit(_rows({"ingress": 6.0}, {"ingress": 2.5}, batches=(2.0, 2.0)), roles=("ingress",))


def test_a_role_a_row_does_not_report_is_fitted_on_the_other_rows():
    rows = _rows({"ingress": 6.0, "encoder": 1.2}, {"ingress": 2.5, "encoder": 0.9})
    del rows[0]["cpu"]["encoder"]  # not 0 ms: unknown
    fitted = fit(rows, roles=("ingress", "encoder"))
    assert fitted["encoder"]["per_micro_batch_ms"] == pytest.approx(1.2)
    assert fitted["encoder"]["per_brief_ms"] == pytest.approx(0.9)


def test_rows_without_a_cpu_reading_are_left_out(tmp_path):
    measured = {"offered_qps": 500.0, "p99_ms": 48.9, "batch_sizes": {"mean": 2.35},
                "cpu": {"cpu_ms_per_request": {"ingress": 5.6}}}
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps({"sweep": {"rows": [measured, {"offered_qps": 600.0, "p99_ms": 80.0, "cpu": {}}]}}))
    rows = sweep_rows([path])
    assert [(r["rate"], r["batch"], r["cpu"]["ingress"]) for r in rows] == [(500.0, 2.35, 5.6)]


def test_the_micro_batch_is_the_ingress_one_where_the_row_counts_them(tmp_path):
    """Briefs answered over the micro-batches the Ingress formed (one `wait` stage count each), not the recommender's
    model-call batch, which coalesces several Ingress replicas' micro-batches."""
    counted = {"offered_qps": 1200.0, "p99_ms": 46.7, "statuses": {"200": 7199}, "batch_sizes": {"mean": 3.17},
               "stages": {"wait": {"batches": 2669}, "encode": {"batches": 2669}},
               "cpu": {"cpu_ms_per_request": {"ingress": 4.2}}}
    older = {"offered_qps": 800.0, "p99_ms": 43.1, "statuses": {"200": 4800}, "batch_sizes": {"mean": 3.39},
             "cpu": {"cpu_ms_per_request": {"ingress": 3.3}}}
    path = tmp_path / "sweep.json"
    path.write_text(json.dumps({"sweep": {"rows": [counted, older]}}))
    assert [r["batch"] for r in sweep_rows([path])] == [pytest.approx(7199 / 2669, abs=1e-3), 3.39]


def test_the_noop_apps_rows_are_fitted_on_the_micro_batches_it_counted(tmp_path):
    """noop_bench's file (rows per variant, the micro-batches its Ingress formed): the framework's own costs."""
    rows = []
    for rate, answered, formed in ((1000.0, 6000, 4000), (4000.0, 24000, 3000)):
        batch = answered / formed
        rows.append({"rate": rate, "offered_qps": rate, "p99_ms": 15.0, "statuses": {"200": answered},
                     "ingress_micro_batches": formed,
                     "cpu": {"cpu_ms_per_request": {"ingress": 2.0 / batch + 0.4}}})
    path = tmp_path / "noop.json"
    path.write_text(json.dumps({"variants": {"haproxy": {"rows": rows}}}))
    read = sweep_rows([path])
    assert [(r["rate"], r["batch"]) for r in read] == [(1000.0, 1.5), (4000.0, 8.0)]
    fitted = fit(read, roles=("ingress",))
    assert fitted["ingress"]["per_micro_batch_ms"] == pytest.approx(2.0, abs=1e-3)
    assert fitted["ingress"]["per_brief_ms"] == pytest.approx(0.4, abs=1e-3)
