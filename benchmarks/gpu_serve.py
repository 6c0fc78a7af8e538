"""End to end on a GPU node: the Serve app from deploy/serve_config.gpu.yaml on a private local cluster with
every GPU of the machine, fractional recommender replicas (several per GPU) autoscaling from 1, load from
several open-loop client processes. A rate sweep to p99 <= 50 ms, then a promotional spike, with replica
counts (per GPU) over time and GPU utilisation sampled by nvidia-smi.

    python -m benchmarks.gpu_serve --out docs/bench --rates 100 200 400 800 1600 --clients 6

Needs the GPU machine's torch (CUDA) plus this project's dependencies; no TensorRT (the recommender falls
back to torch FP16 + CUDA graphs when no engine is importable).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks import scenarios
from benchmarks.servers import Server
from benchmarks.workload import brief_mix, describe
from serve_app.local_cluster import ROOT, Cluster, inline_encoder

GPU_CONFIG = ROOT / "deploy" / "serve_config.gpu.yaml"
REPLICAS_PER_GPU = 4  # num_gpus 0.25 per recommender replica


def overrides(gpus: int, cpus: int, backend: str, encoder: str):
    def apply(config: dict) -> None:
        app = config["applications"][0]
        app["args"]["backend"] = backend
        if encoder == "inline":
            inline_encoder(config)
        deployments = {d["name"]: d for d in app["deployments"]}
        recommender = deployments["Recommender"]
        recommender["ray_actor_options"]["num_gpus"] = 1.0 / REPLICAS_PER_GPU
        # Start from one replica so the spike shows the autoscaler adding GPU replicas.
        recommender["autoscaling_config"].update(min_replicas=1, initial_replicas=1,
                                                 max_replicas=REPLICAS_PER_GPU * gpus)
        # CPU deployments (1 CPU each) share the node with the load generator: a quarter of the cores each.
        for name in ("Ingress", "BriefEncoder"):
            if name in deployments:
                share = cpus // 4 if encoder == "deployment" else cpus // 2
                deployments[name]["autoscaling_config"].update(max_replicas=max(2, share))
    return apply


def serve_errors(cluster: Cluster) -> dict[str, int]:
    """ERROR records in the Serve logs (proxy, replicas, controller; JSON encoding), counted by where, message
    and the exception's last line: with `lost_kinds` in the summaries, what a 5xx or a lost request was."""
    kinds: dict[str, int] = {}
    for log in Path(cluster.temp_dir, "session_latest", "logs", "serve").glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if '"levelname": "ERROR"' not in line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            # The exception's own line ("pkg.SomeError: ..."), not a trailing "for more see" line.
            lines = (record.get("exc_text") or "").strip().splitlines()
            raised = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b", ln)] or lines[-1:] or [""]
            key = " | ".join((record.get("deployment") or record.get("component_name") or log.stem,
                              record.get("message", "")[:200], raised[-1][:300]))
            kinds[key] = kinds.get(key, 0) + 1
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1]))


def gpu_of_replicas(cluster: Cluster) -> dict:
    """Which GPU each recommender replica holds (informative: a failure is recorded, not raised)."""
    try:
        return cluster.recommender_gpus()
    except Exception as exc:  # noqa: BLE001
        return {"error": str(exc)[-300:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench")
    parser.add_argument("--rates", type=float, nargs="+", default=[100, 200, 400, 800, 1600])
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=6, help="load generator processes")
    parser.add_argument("--slo-ms", type=float, default=50.0)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--encoder", choices=["deployment", "inline"], default="deployment")
    parser.add_argument("--spike-hold", type=float, default=40.0)
    parser.add_argument("--peak", type=float, default=150.0, help="spike peak rate (req/s)")
    parser.add_argument("--logical-cpus", type=int, help="CPUs Ray may schedule (default: the machine's cores)")
    parser.add_argument("--logical-gpus", type=int, default=0,
                        help="on a machine without CUDA: pretend this many GPUs to Ray (placement dry run; "
                             "use --backend onnxruntime)")
    args = parser.parse_args()

    import torch

    gpus = torch.cuda.device_count() or args.logical_gpus
    cpus = args.logical_cpus or os.cpu_count() or 1
    os.environ.setdefault("RAY_metrics_report_interval_ms", "2000")
    scenarios.METRICS_SETTLE_S = 3.0
    args.out.mkdir(parents=True, exist_ok=True)
    payloads = brief_mix(2000)
    smi = None if not torch.cuda.is_available() else subprocess.Popen(
        ["nvidia-smi", "--query-gpu=timestamp,index,utilization.gpu,memory.used", "--format=csv,noheader,nounits",
         "-lms", "500"], stdout=(args.out / "gpu-e2e-smi.csv").open("w"), stderr=subprocess.DEVNULL)
    report = {"machine": {"platform": platform.platform(), "cpu_count": cpus, "gpus": gpus,
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "logical (no CUDA)", "torch": torch.__version__,
                          "date": time.strftime("%Y-%m-%d")},
              "workload": describe(payloads), "clients": args.clients, "started": time.time()}
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="gpu-serve", dir="/tmp")), config_path=GPU_CONFIG,
                      config_overrides=overrides(gpus, cpus, args.backend, args.encoder), num_cpus=cpus, num_gpus=gpus)
    try:
        t0 = time.monotonic()
        cluster.start()
        report["startup_s"] = round(time.monotonic() - t0, 1)
        print(f"cluster up in {report['startup_s']} s", flush=True)
        server = Server("serve-gpu", cluster.base_url, cluster)
        scenarios.measure(server, payloads, scenarios.constant(50), 5, processes=1)  # warm every path
        # The spike first, on the fresh deployment (one recommender replica), so scale-up is visible; then the
        # sweep (its replicas stay up: downscale_delay_s is minutes).
        report["spike"] = scenarios.spike(server, payloads, args.peak, processes=args.clients, before_s=10.0,
                                          hold_s=args.spike_hold, after_s=15.0)
        report["replica_gpus_after_spike"] = gpu_of_replicas(cluster)
        (args.out / "gpu-e2e.json").write_text(json.dumps(report, indent=2) + "\n")
        report["sweep"] = scenarios.rate_sweep(server, payloads, args.rates, args.step_seconds, slo_ms=args.slo_ms,
                                               processes=args.clients)
        report["replica_gpus"] = gpu_of_replicas(cluster)
    finally:
        (args.out / "gpu-e2e-serve-errors.json").write_text(json.dumps(serve_errors(cluster), indent=1) + "\n")
        cluster.stop()
        if smi:
            smi.terminate()
    (args.out / "gpu-e2e.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "spike"}, indent=1)[:6000])
    spike = report["spike"]
    print("spike:", json.dumps({k: spike[k] for k in ("summary", "p99_during_peak_ms", "scale_up_after_s",
                                                      "max_replicas")}))


if __name__ == "__main__":
    main()
