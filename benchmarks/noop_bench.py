"""Deploy the no-op app (benchmarks/noop_app.py) on a private local cluster with the real config's settings
and measure what Serve itself can carry: per variant (Serve's proxy; RAY_SERVE_THROUGHPUT_OPTIMIZED=1;
HAProxy ingress), open-loop rates from the multi-process load generator, or a closed-loop ceiling with wrk.

    python -m benchmarks.noop_bench --variants default throughput haproxy --rates 200 400 --duration 10 \
        --procs 1 --replicas Ingress=1,BriefEncoder=1,Recommender=1 --num-cpus 4 --out /tmp/noop.json
    # on the GPU node (16 cores): load on 4 cores, Serve on the rest, fixed replicas, a sweep
    python -m benchmarks.noop_bench --variants haproxy throughput --rates 2000 5000 10000 15000 --duration 15 \
        --procs 8 --cpus 12-15 --replicas Ingress=8,BriefEncoder=2,Recommender=2 --num-cpus 12 --out $OUT/noop.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks import loadgen
from benchmarks.cpu_by_process import CPUProbe
from benchmarks.noop_app import MICRO_BATCHES_METRIC, noop_config
from benchmarks.servers import VARIANT_NAMES, _kill_strays, metrics_text, variant_env
from benchmarks.local_cluster import ROOT, Cluster, set_access_log



def fixed_replicas(counts: dict[str, int]):
    def apply(config: dict) -> None:
        for deployment in config["applications"][0]["deployments"]:
            if deployment["name"] in counts:
                deployment.pop("autoscaling_config", None)
                deployment["num_replicas"] = counts[deployment["name"]]
    return apply


def wrk(url: str, duration_s: float, connections: int, threads: int, script: Path) -> dict:
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(duration_s)}s", "--timeout", "10s",
                          "-s", str(script), url], capture_output=True, text=True, timeout=duration_s + 60).stdout
    line = next((x for x in out.splitlines() if x.startswith("WRK ")), out[-500:])
    return {"wrk": line, **{k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["default", "throughput", "haproxy"],
                        choices=sorted(VARIANT_NAMES))
    parser.add_argument("--config", type=Path, default=ROOT / "deploy" / "serve_config.gpu.yaml",
                        help="the real config whose settings the no-op app takes")
    parser.add_argument("--replicas", help="fixed replica counts, e.g. Ingress=4,BriefEncoder=1,Recommender=1 "
                        "(default: the config's autoscaling)")
    parser.add_argument("--num-cpus", type=int, default=4, help="logical CPUs of the local cluster")
    # The ingress's micro-batching: the config's unless given (its micro-batches in flight always the config's).
    parser.add_argument("--ingress-batch", type=int, help="briefs per micro-batch (default: the config's)")
    parser.add_argument("--ingress-wait-s", type=float, help="micro-batch wait (default: the config's)")
    transport = parser.add_mutually_exclusive_group()  # one handle transport a run
    transport.add_argument("--grpc", action="store_true", help="handle calls over gRPC (_by_reference=False)")
    transport.add_argument("--by-reference", action="store_true",
                        help="handle calls as Ray actor calls (_by_reference=True; throughput mode's default is gRPC)")
    parser.add_argument("--rates", type=float, nargs="*", default=[], help="open-loop rates (req/s)")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--cpus", help="cores for the load generator, e.g. 12-15")
    parser.add_argument("--serve-cpus", help="cores for Ray and Serve (this process' affinity, inherited by `ray "
                        "start`), e.g. 0-9; the load generator pins itself to --cpus")
    parser.add_argument("--pool-s", type=float, default=0.25)
    parser.add_argument("--wrk", type=Path, help="also a closed-loop wrk run with this lua script")
    parser.add_argument("--wrk-connections", type=int, default=64)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--settle-s", type=float, default=3.0, help="pause after the warm-up before measuring")
    parser.add_argument("--access-log", choices=["on", "off"], help="Serve's access log (default: the config's)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    os.environ.setdefault("RAY_metrics_report_interval_ms", "2000")  # the clusters below inherit it
    if args.serve_cpus:
        if not loadgen.pin(loadgen.parse_cpus(args.serve_cpus)):
            print(f"could not pin to {args.serve_cpus}; Ray runs on every core", flush=True)
    from benchmarks.workload import brief_mix

    payloads = brief_mix(500)
    counts = {k: int(v) for k, v in (x.split("=") for x in args.replicas.split(","))} if args.replicas else {}
    report = {"machine": {"cores": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()},
              "config": str(args.config.relative_to(ROOT)) if args.config.is_relative_to(ROOT) else str(args.config),
              "replicas": counts or "autoscaling (config)", "ingress_batch": args.ingress_batch,
              "ingress_wait_s": args.ingress_wait_s, "grpc": args.grpc, "by_reference": args.by_reference,
              "procs": args.procs, "cpus": args.cpus,
              "serve_cpus": args.serve_cpus, "access_log": args.access_log or "config",
              "variants": {}}
    import ray

    report["machine"]["ray"] = ray.__version__
    for variant in args.variants:
        tmp = Path(tempfile.mkdtemp(prefix=f"noop-{variant}-", dir="/tmp"))
        config_path = tmp / "noop_config.yaml"
        import yaml

        config = noop_config(args.config, args.ingress_batch, args.ingress_wait_s, args.grpc, args.by_reference)
        report["noop_args"] = config["applications"][0]["args"]
        if args.access_log is not None:
            set_access_log(config, args.access_log == "on")
        config_path.write_text(yaml.safe_dump(config))
        env = variant_env(VARIANT_NAMES[variant], tmp)
        cluster = Cluster(tmp, config_overrides=fixed_replicas(counts) if counts else None, env=env,
                          config_path=config_path, num_cpus=args.num_cpus)
        rows = []
        report["variants"][variant] = {"env": env, "rows": rows}
        try:
            started = time.monotonic()
            cluster.start()
            print(f"[{variant}] up in {time.monotonic() - started:.0f} s at {cluster.base_url}", flush=True)
            # Warm: a short run at a low rate opens the handles' connections and fills the route tables.
            loadgen.run_procs(cluster.base_url, payloads, loadgen.constant(50.0), 2.0, 1, start_delay_s=2.0)
            time.sleep(args.settle_s)
            for rate in args.rates:
                formed_before = micro_batches_formed(cluster)
                probe = CPUProbe()
                probe.start()
                parts = loadgen.run_procs(cluster.base_url, payloads, loadgen.constant(rate), args.duration,
                                          args.procs, loadgen.parse_cpus(args.cpus), pool_s=args.pool_s,
                                          timeout_s=10.0)
                row = {"rate": rate, **loadgen.summarize_procs(parts, args.duration),
                       "cpu": _cpu(probe, parts, args.duration)}
                time.sleep(METRICS_SETTLE_S)
                formed_after = micro_batches_formed(cluster)
                if formed_before is not None and formed_after is not None:
                    row["ingress_micro_batches"] = int(round(formed_after - formed_before))
                rows.append(row)
                print(f"[{variant}] " + json.dumps({k: v for k, v in row.items() if k != "procs"},
                                                   ensure_ascii=False), flush=True)
                _save(report, args.out)  # after every rate: a step cut at its timeout keeps the rows before it
                time.sleep(2.0)  # let queues drain between steps
            if args.wrk and shutil.which("wrk"):
                row = wrk(cluster.base_url, args.duration, args.wrk_connections, args.wrk_threads, args.wrk)
                rows.append(row)
                print(f"[{variant}] {row['wrk']}", flush=True)
        except Exception as exc:  # one variant failing (e.g. no HAProxy binary) must not lose the others
            rows.append({"error": f"{exc.__class__.__name__}: {str(exc)[-2000:]}"})
            print(f"[{variant}] failed: {exc}", flush=True)
        finally:
            cluster.stop()
            _kill_strays(tmp)
    _save(report, args.out)


# Ray's metrics agent exports every RAY_metrics_report_interval_ms (2 s, set in main): a count read sooner misses
# some (gpu_serve waits 3 s too). Each rate's step takes this much longer (gpu_serving_run.sh's no-op limits allow it).
METRICS_SETTLE_S = 3.0


def micro_batches_formed(cluster: Cluster) -> float | None:
    """Micro-batches the no-op Ingress replicas formed since start, summed, from the node's Prometheus endpoint
    (None where the cluster exports no metrics)."""
    if (text := metrics_text(cluster)) is None:
        return None
    pattern = re.compile(rf"^(?:ray_)?{MICRO_BATCHES_METRIC}(?:_total)?(?:{{[^}}]*}})? (\S+)$")
    values = [float(m[1]) for line in text.splitlines() if (m := pattern.match(line))]
    return sum(values) if values else None


def _cpu(probe: CPUProbe, parts: list[dict], duration_s: float) -> dict:
    """CPU by role over the sending window, per answered request: the framework's own cost, to set beside the
    app's (benchmarks.scenarios counts the app's the same way)."""
    sends = [(t, status) for p in parts for t, status in zip(p["times"].tolist(), p["status"].tolist())]
    return probe.stop_over_sends(sends, parts[0]["start_at"] if parts else None, duration_s)


def _save(report: dict, out: Path | None) -> None:
    if out:
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
