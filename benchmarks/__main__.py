"""Every benchmark in one command, results as JSON + PNG in docs/bench/, and docs/benchmarks.md rewritten:

    python -m benchmarks                       # model level (CPU), rate sweeps of four servers, tuning, spike
    python -m benchmarks --skip model tuning   # parts can be skipped; the report uses what docs/bench/ holds
    python -m benchmarks --only report         # just rewrite docs/benchmarks.md from docs/bench/*.json

The GPU model-level table comes from benchmarks/gpu_run.sh on a GPU machine (docs/bench/model-gpu.json).
Run it on an otherwise idle machine: the load generator shares the cores with the servers it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from benchmarks import positive_int, report, scenarios, servers
from benchmarks.workload import brief_mix, describe
from benchmarks.local_cluster import inline_encoder, one_replica_each, set_access_log

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "bench"
STEPS = ("model", "sweep", "tuning", "spike", "report")
RATES = [5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120]

# Tuning candidates, each a change to serve_config.yaml measured by the same rate sweep as the default.
TUNING = {
    "ort-threads-2": "ONNX Runtime intra-op threads 2 (default 1 per recommender replica)",
    "batch-wait-10ms": "batch_wait_timeout_s 0.010 (default 0.004)",
    "fixed-replicas": "no autoscaling: one replica of each deployment",
    "inline-encoder": "encoder: inline (encode in the ingress process, no BriefEncoder hop)",
    "micro-batches-3": "ingress_max_concurrent_batches 3 (default 1, as both shipped configs)",
    "micro-batches-2": "ingress_max_concurrent_batches 2 (default 1)",
    "length-group-0": "ort_length_group 0 (default 4): one ONNX Runtime call a batch, at its padded length",
    "access-log-on": "Serve's access log on (both shipped configs have it off: throughput mode flushes 1,000 "
                     "buffered lines at once on a replica's event loop)",
}


def _tuning_override(name: str):
    def apply(config: dict) -> None:
        app = config["applications"][0]
        deployments = {d["name"]: d for d in app["deployments"]}
        if name == "ort-threads-2":
            app["args"]["ort_intra_op_threads"] = 2
        elif name == "batch-wait-10ms":
            deployments["Recommender"]["user_config"]["batch_wait_timeout_s"] = 0.010
        elif name == "fixed-replicas":
            one_replica_each(config)
        elif name == "inline-encoder":
            inline_encoder(config)
        elif name == "length-group-0":
            app["args"]["ort_length_group"] = 0
        elif name == "access-log-on":
            set_access_log(config, True)
        elif name.startswith("micro-batches-"):
            app["args"]["ingress_max_concurrent_batches"] = int(name.rsplit("-", 1)[1])
        else:
            raise ValueError(name)
    return apply


def _machine() -> dict:
    import ray

    return {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "ray": ray.__version__, "date": time.strftime("%Y-%m-%d")}


def _merge_sweeps(name: str, fresh: list[dict], **extra) -> None:
    """Replace the sweeps of the servers just measured, keep the others (so one server can be re-run)."""
    path = OUT / name
    old = json.loads(path.read_text()).get("sweeps", []) if path.exists() else []
    measured = {s["server"] for s in fresh}
    stamp = extra.get("machine")  # each sweep keeps the machine and date it was measured on: rows of other days stay
    fresh = [{**s, "machine": stamp} if stamp else s for s in fresh]
    _write(name, {**extra, "sweeps": [s for s in old if s["server"] not in measured] + fresh})


def round_orders(names: list[str], rounds: int) -> list[list[str]]:
    """The servers' order in each round of `--rounds`: as given, then reversed, alternating, so that no server always
    runs first or right after another's sweep (2 cores, 2026-12-07: the baseline held 50 req/s right after Serve's
    sweep and 70-80 in four runs of it alone minutes later)."""
    return [list(names) if r % 2 == 0 else list(names)[::-1] for r in range(rounds)]


def capacity_ratios(rounds: list[list[dict]], baseline: str = "baseline") -> list[dict]:
    """Per round: each server's highest rate at the SLO, and each other server's share of the baseline's (None
    where the round has no baseline or it held no rate)."""
    out = []
    for i, sweeps in enumerate(rounds, start=1):
        held = {s["server"]: s["max_rate_at_slo"] for s in sweeps}
        base = held.get(baseline)
        out.append({"round": i, "max_rate_at_slo": held,
                    "share_of_baseline": {name: (rate / base if base else None)
                                          for name, rate in held.items() if name != baseline}})
    return out


def share_summary(ratios: list[dict]) -> dict[str, dict]:
    """Each server's share of the baseline over the rounds that had one: the median, the lowest and the highest,
    and how many rounds counted. One round's share swung 0-0.67 within a session (2 cores, 2026-12-08), so the
    spread is the figure to report, not a round's."""
    shares: dict[str, list[float]] = {}
    for row in ratios:
        for name, share in row["share_of_baseline"].items():
            if share is not None:
                shares.setdefault(name, []).append(share)
    return {name: {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": len(values)}
            for name, values in shares.items()}


def _write(name: str, data) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / name).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip", nargs="*", default=[], choices=STEPS)
    parser.add_argument("--only", nargs="+", choices=STEPS)
    parser.add_argument("--servers", nargs="*", default=list(servers.VARIANTS), choices=servers.VARIANTS)
    parser.add_argument("--tuning", nargs="*", default=list(TUNING), choices=list(TUNING))
    # Not baseline: it is no Serve config, so servers.start ignores the candidates' overrides there.
    parser.add_argument("--tuning-variant", default="serve-default",
                        choices=[v for v in servers.VARIANTS if v != "baseline"],
                        help="the Serve variant each tuning candidate changes (serve-haproxy: as `make serve` runs)")
    parser.add_argument("--rates", type=float, nargs="+", default=RATES, help="sweep rates, ascending (req/s)")
    parser.add_argument("--step-seconds", type=float, default=12.0, help="duration of each sweep rate")
    parser.add_argument("--rounds", type=positive_int, default=1,
                        help="sweep the servers this many times, their order reversed each round; each round's "
                             "capacities and shares of the baseline's are printed and, past one round, written to "
                             "docs/bench/e2e-sweep-rounds.json (e2e-sweep.json keeps the first round)")
    parser.add_argument("--peak", type=float, help="spike peak rate (default: serve-default's max rate at SLO)")
    parser.add_argument("--over-factor", type=float, default=3.0,
                        help="a second spike at this multiple of --peak, past capacity (0: skip it)")
    parser.add_argument("--model-seconds", type=float, default=1.0)
    args = parser.parse_args()
    steps = [s for s in (args.only or STEPS) if s not in args.skip]
    # Faster metric export, so batch sizes per sweep step can be read from Prometheus soon after the step.
    os.environ.setdefault("RAY_metrics_report_interval_ms", "2000")
    payloads = brief_mix(500)

    if "model" in steps:
        from benchmarks import model_bench

        if not model_bench.INPUTS.exists():
            model_bench.prepare()
        model_bench.run(OUT / "model-cpu.json", args.model_seconds, model_bench.BATCHES, ("typical", "long"), None)

    if "sweep" in steps:
        orders, rounds = round_orders(args.servers, args.rounds), []
        for order in orders:
            sweeps = []
            for name in order:
                with servers.start(name, payloads) as server:
                    sweeps.append(scenarios.rate_sweep(server, payloads, args.rates, args.step_seconds))
            rounds.append(sweeps)
            print(json.dumps(capacity_ratios(rounds)[-1] | {"order": order}), flush=True)
        machine, workload = _machine(), describe(payloads)
        _merge_sweeps("e2e-sweep.json", rounds[0], machine=machine, workload=workload)
        if args.rounds > 1:
            ratios = capacity_ratios(rounds)
            summary = share_summary(ratios)
            print(json.dumps({"share_of_baseline_over_rounds": summary}), flush=True)
            _write("e2e-sweep-rounds.json", {"machine": machine, "workload": workload, "orders": orders,
                                             "ratios": ratios, "summary": summary, "rounds": rounds})

    if "tuning" in steps:
        tuned = []
        for name in args.tuning:
            with servers.start(args.tuning_variant, payloads, config_overrides=_tuning_override(name)) as server:
                server.name = name
                result = scenarios.rate_sweep(server, payloads, args.rates, args.step_seconds)
                result["change"] = TUNING[name]
                result["variant"] = args.tuning_variant
                tuned.append(result)
        _merge_sweeps("e2e-tuning.json", tuned, machine=_machine())

    if "spike" in steps:
        peak = args.peak
        if peak is None:
            sweep = json.loads((OUT / "e2e-sweep.json").read_text())
            peak = next(s["max_rate_at_slo"] for s in sweep["sweeps"] if s["server"] == "serve-default") or 5.0
        with servers.start("serve-default", payloads) as server:
            result = scenarios.spike(server, payloads, peak)
        _write("e2e-spike.json", {"machine": _machine(), **result})
        # The spike peaks at the capacity measured at the SLO, which one replica of each deployment may
        # absorb without scaling; the second one, well past it, is what autoscaling and shedding are for.
        if args.over_factor > 0:
            with servers.start("serve-default", payloads) as server:
                result = scenarios.spike(server, payloads, peak * args.over_factor)
            _write("e2e-spike-over.json", {"machine": _machine(), **result})

    if "report" in steps:
        report.write(OUT, ROOT / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
