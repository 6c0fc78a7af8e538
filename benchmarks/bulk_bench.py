"""Briefs a second through POST /v1/recommend (one brief a request) against POST /v1/recommend/batch (K briefs a
request), on the Serve graph and the plain baseline, side by side in one run:

    .venv/bin/python -m benchmarks.bulk_bench --servers serve-haproxy baseline --briefs-per-request 1 16 \\
        --brief-rates 40 80 120 160 --slo-ms 100 1000 --out docs/bench/batch-first/2core-s17/bulk.json

Rates are in briefs a second (the request rate is that over K), open loop, distinct briefs, CPU by process counted
per brief answered. Capacity: the highest rate whose p99 (a whole request's latency) stays within that K's SLO
with nothing lost and no 503. A K-brief request waits for all K answers, so its SLO is K's own.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks import scenarios, servers
from benchmarks.cpu_by_process import CPUProbe
from benchmarks.loadgen import route_for
from benchmarks.workload import brief_mix, describe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", nargs="+", default=["serve-haproxy", "baseline"], choices=servers.VARIANTS)
    parser.add_argument("--briefs-per-request", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--brief-rates", type=float, nargs="+", required=True, help="briefs a second, ascending")
    parser.add_argument("--slo-ms", type=float, nargs="+", default=[100.0],
                        help="p99 bound per --briefs-per-request value (one value: the same for all)")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    slos = args.slo_ms * len(args.briefs_per_request) if len(args.slo_ms) == 1 else args.slo_ms
    if len(slos) != len(args.briefs_per_request):
        parser.error("--slo-ms: one value, or one per --briefs-per-request value")
    payloads = brief_mix(2000)
    scenarios.LOAD.update(unique=True)
    report = {"workload": describe(payloads), "step_seconds": args.step_seconds, "sweeps": []}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.servers:
        with servers.start(name, payloads) as server:
            for k, slo in zip(args.briefs_per_request, slos):
                path = route_for(k)
                scenarios.LOAD.update(path=path, briefs_per_request=k)
                sweep = scenarios.rate_sweep(server, payloads, [r / k for r in args.brief_rates], args.step_seconds,
                                             slo_ms=slo, cpu_probe=CPUProbe())
                held = [r["rate"] * k for r in sweep["rows"] if r["meets_slo"]]
                sweep.update(briefs_per_request=k, path=path, max_briefs_per_s_at_slo=max(held) if held else 0.0)
                report["sweeps"].append(sweep)
                print(f"[{name}] K={k}: {sweep['max_briefs_per_s_at_slo']} briefs/s at p99 <= {slo} ms", flush=True)
                args.out.write_text(json.dumps(report, indent=1) + "\n")
    print("\nserver          K  brief rate  p50 ms  p99 ms  lost  503  server CPU ms a brief")
    for sweep in report["sweeps"]:
        for row in sweep["rows"]:
            cpu = row.get("cpu", {}).get("server_cpu_ms_per_request", float("nan"))
            print(f"{sweep['server']:<14} {sweep['briefs_per_request']:>2} {row['rate'] * sweep['briefs_per_request']:>11.0f}"
                  f" {row['p50_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['lost']:>5} {row['rejected_503']:>4} {cpu:>10.2f}")


if __name__ == "__main__":
    main()
