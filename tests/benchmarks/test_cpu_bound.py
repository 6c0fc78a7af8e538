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
