"""What bounds a GPU node: server CPU a request split into a cost per micro-batch and a cost per brief, fitted
from the app's sweeps, and the rate the node's cores could carry at each micro-batch size.

    python -m benchmarks.cpu_bound docs/bench/batch-first/run25/gpu-serve-haproxy-fixed.json [more sweeps] \\
        [--cores 12] [--json OUT]
    python -m benchmarks.cpu_bound OUT/noop.json      # the no-op app's rows: what the framework alone costs

Each sweep row gives, per process role, ms of CPU per answered request and the mean ingress micro-batch `b`
(`ingress_micro_batch`). Per
role, least squares over the rows of cpu = F / b + P (numpy's lstsq on [1 / b, 1]): F is what the role pays per
micro-batch (the ingress's two handle calls and its post-processing pass's fixed part; one encoder and one
recommender call), P what it pays per brief (HTTP, validation, post-processing by the brief, the answer log).
The recommender's calls are coalesced across ingress replicas, so its F per ingress micro-batch is an upper
bound. The node's ceiling at batch size b is cores / (sum F / b + sum P): CPU alone, before any latency goal.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

# Roles that are the server (the load generator and "other" are not).
SERVER_ROLES = ("ingress", "encoder", "recommender", "proxy", "serve_controller", "ray_daemons")
BATCHES = (1, 2, 4, 8, 16, 64)


def ingress_micro_batch(row: dict) -> float | None:
    """The mean ingress micro-batch of a sweep row: briefs answered over the micro-batches the Ingress replicas
    formed (each is one count of the `wait` stage), both over the whole step. Rows from before the stage
    histograms have only the recommender's model-call batch (`batch_sizes`), which coalesces micro-batches of
    several Ingress replicas: 5-20 % larger in runs 27-29, so a fit on it puts too little on each micro-batch.
    The no-op app's rows (benchmarks.noop_bench) count the micro-batches its Ingress formed themselves."""
    formed = row.get("ingress_micro_batches") or ((row.get("stages") or {}).get("wait") or {}).get("batches")
    answered = (row.get("statuses") or {}).get("200")
    if formed and answered:
        return answered / formed
    return (row.get("batch_sizes") or {}).get("mean")


def sweep_rows(paths: list[Path]) -> list[dict]:
    """Rows with a CPU reading and a micro-batch size, from gpu_serve's JSON files (their `sweep.rows`)."""
    rows = []
    for path in paths:
        data = json.loads(path.read_text())
        # gpu_serve's app sweep, or noop_bench's rows per variant (the framework's own cost, fitted the same way)
        found = data["sweep"]["rows"] if "sweep" in data else [
            row for variant in (data.get("variants") or {}).values() for row in variant.get("rows", [])]
        for row in found:
            cpu, batch = row.get("cpu") or {}, ingress_micro_batch(row)
            if cpu.get("cpu_ms_per_request") and batch:
                rows.append({"file": str(path), "rate": row.get("offered_qps", row.get("rate")),
                             "batch": round(batch, 3), "p99_ms": row["p99_ms"], "cpu": cpu["cpu_ms_per_request"]})
    return rows


def fit(rows: list[dict], roles=SERVER_ROLES) -> dict[str, dict[str, float]]:
    """Per role: F (ms a micro-batch), P (ms a brief) and the fit's largest miss on a row (ms)."""
    if len({row["batch"] for row in rows}) < 2:
        raise ValueError("rows at two micro-batch sizes at least are needed to split a cost per micro-batch from "
                         "one per brief")
    fitted = {}
    for role in roles:
        measured = [row for row in rows if role in row["cpu"]]  # a role a row does not report is not 0 ms
        if len({row["batch"] for row in measured}) < 2:
            continue
        design = np.array([[1.0 / row["batch"], 1.0] for row in measured])
        cpu = np.array([row["cpu"][role] for row in measured])
        (per_batch, per_brief), *_ = np.linalg.lstsq(design, cpu, rcond=None)
        fitted[role] = {"per_micro_batch_ms": float(per_batch), "per_brief_ms": float(per_brief),
                        "worst_miss_ms": float(np.abs(design @ [per_batch, per_brief] - cpu).max())}
    return fitted


def ceilings(fitted: dict[str, dict[str, float]], cores: float, batches=BATCHES) -> dict[str, float]:
    """Requests a second the cores carry at each micro-batch size (and with the per-batch cost fully amortised)."""
    per_batch = sum(v["per_micro_batch_ms"] for v in fitted.values())
    per_brief = sum(v["per_brief_ms"] for v in fitted.values())
    out = {str(b): 1000.0 * cores / (per_batch / b + per_brief) for b in batches}
    out["inf"] = 1000.0 * cores / per_brief if per_brief > 0 else float("inf")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", type=Path,
                        help="gpu_serve JSON files of the app's sweeps, or noop_bench JSON files")
    parser.add_argument("--cores", type=float, default=12.0, help="cores the server runs on (the GPU node's Ray: 12)")
    parser.add_argument("--json", type=Path, help="write the fit and the ceilings here too")
    args = parser.parse_args()
    rows = sweep_rows(args.sweeps)
    fitted = fit(rows)
    print(f"{len(rows)} rows; micro-batches {min(r['batch'] for r in rows):.2f}-{max(r['batch'] for r in rows):.2f}")
    print(f"{'role':18s} {'ms a micro-batch':>17s} {'ms a brief':>11s} {'worst miss':>11s}")
    for role, v in fitted.items():
        print(f"{role:18s} {v['per_micro_batch_ms']:17.2f} {v['per_brief_ms']:11.2f} {v['worst_miss_ms']:11.2f}")
    total_f = sum(v["per_micro_batch_ms"] for v in fitted.values())
    total_p = sum(v["per_brief_ms"] for v in fitted.values())
    print(f"{'server':18s} {total_f:17.2f} {total_p:11.2f}")
    limits = ceilings(fitted, args.cores)
    print(f"CPU ceiling on {args.cores:g} cores, req/s at micro-batch " +
          ", ".join(f"{b}: {v:,.0f}" for b, v in limits.items()))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "fit": fitted, "cores": args.cores, "ceilings": limits},
                                        indent=1))


if __name__ == "__main__":
    main()
