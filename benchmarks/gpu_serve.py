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
import contextlib
import gzip
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import scenarios
from benchmarks.cpu_by_process import CPUProbe
from benchmarks.loadgen import parse_cpus, route_for
from benchmarks.noop_bench import fixed_replicas
from benchmarks.pyspy import Profiler, print_summary
from benchmarks.servers import VARIANT_NAMES, Server, _kill_strays, baseline, variant_env
from benchmarks.workload import brief_mix, describe
from benchmarks.local_cluster import ROOT, Cluster, config_values, inline_encoder, name_value, set_access_log

GPU_CONFIG = ROOT / "deploy" / "serve_config.gpu.yaml"
PROFILED_ROLES = ["ingress", "encoder", "recommender", "baseline_workers"]
REPLICAS_PER_GPU = 4  # num_gpus 0.25 per recommender replica


def overrides(gpus: int, cpus: int, backend: str, encoder: str,
              fixed: dict[str, int] | None = None, batch_wait_s: float | None = None,
              look_back_s: float | None = None, ingress_autoscaling: dict | None = None,
              scale_on: str = "cpu-or-requests", app_args: dict | None = None, access_log: str | None = None,
              policy_kwargs: dict | None = None):
    def apply(config: dict) -> None:
        app = config["applications"][0]
        if access_log is not None:
            set_access_log(config, access_log == "on")
        app["args"]["backend"] = backend
        app["args"].update(app_args or {})
        if batch_wait_s is not None:
            app["args"]["ingress_batch_wait_s"] = batch_wait_s
        if encoder == "inline":
            inline_encoder(config)
        deployments = {d["name"]: d for d in app["deployments"]}
        recommender = deployments["Recommender"]
        recommender["ray_actor_options"]["num_gpus"] = 1.0 / REPLICAS_PER_GPU
        recommender["autoscaling_config"].update(max_replicas=REPLICAS_PER_GPU * max(1, gpus))
        # An A/B of the Ingress's own autoscaling_config fields, e.g. upscaling_factor=1 (Serve applies the factor to
        # the policy's answer too, run 26), target_ongoing_requests or max_replicas.
        deployments["Ingress"]["autoscaling_config"].update(ingress_autoscaling or {})
        if scale_on == "requests":  # an A/B: Serve's default rule alone, as before serve_app/autoscaling.py
            for name in ("Ingress", "BriefEncoder"):
                deployments.get(name, {}).get("autoscaling_config", {}).pop("policy", None)
        for name in ("Ingress", "BriefEncoder"):  # an A/B of the shipped policy's settings, e.g. recent_s=0
            policy = deployments.get(name, {}).get("autoscaling_config", {}).get("policy")
            if policy and policy_kwargs:
                policy.setdefault("policy_kwargs", {}).update(policy_kwargs)
        for deployment in deployments.values():
            # Benchmark only: scale down within 20 s, so the spike starts from the replicas its 10 % base load
            # needs after the warm-up (the shipped config keeps minutes); 8 s made the Recommender flap 2 -> 1
            # during the 30 s peak on the H200 node. Upscaling stays as shipped.
            deployment["autoscaling_config"].update(downscale_delay_s=20)
            if look_back_s is not None:  # an A/B of the controller's averaging window
                deployment["autoscaling_config"].update(look_back_period_s=look_back_s)
        if fixed:  # capacity runs without the autoscaler: replica counts chosen from measured CPU per request
            fixed_replicas(fixed)(config)
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


def autoscaler_lines(cluster: Cluster) -> list[str]:
    """The controller's scaling decisions (what it saw and did) and each replica's start (the controller's "started
    successfully after X s ... constructor ... took Y s"), to read beside the replica timeline."""
    lines = []
    for log in Path(cluster.temp_dir, "session_latest", "logs", "serve").glob("controller_*.log"):
        for line in log.read_text(errors="replace").splitlines():
            if re.search(r"[Uu]pscal|[Dd]ownscal|target_num_replicas|Adding \d+ replica|Removing \d+ replica"
                         r"|started successfully|\"WARNING\"", line):
                try:
                    record = json.loads(line)
                    lines.append(f"{record.get('asctime', '')} {record.get('message', '')[:300]}")
                except json.JSONDecodeError:
                    lines.append(line[:300])
    return lines


_UPSCALE = re.compile(r"Upscaling Deployment\(name='(?P<deployment>\w+)'.* from (?P<old>\d+) to (?P<new>\d+)")
_ADDING = re.compile(r"Adding (?P<n>\d+) replicas? to Deployment\(name='(?P<deployment>\w+)'")
_STARTED = re.compile(r"deployment='(?P<deployment>\w+)'.* started successfully .* after (?P<after>[\d.]+)s"
                      r"(?:.* took (?P<constructor>[\d.]+)s)?")


def controller_events(lines: list[str], started_at: float) -> list[dict]:
    """The controller's upscale decisions, replica additions and replica starts (with Serve's own start-up
    latency and constructor time), each at t seconds from the load's start (`started_at`, epoch). The log's
    asctime is this machine's local time, like `started_at`."""
    events = []
    for line in lines:
        message = line[24:]  # after "YYYY-MM-DD HH:MM:SS,mmm "
        try:
            at = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + int(line[20:23]) / 1000
        except ValueError:
            continue
        event = {"t": round(at - started_at, 2)}
        if m := _UPSCALE.search(message):
            event |= {"event": "upscale", "deployment": m["deployment"], "from": int(m["old"]), "to": int(m["new"])}
        elif m := _ADDING.search(message):
            event |= {"event": "adding", "deployment": m["deployment"], "replicas": int(m["n"])}
        elif m := _STARTED.search(message):
            event |= {"event": "started", "deployment": m["deployment"], "start_s": float(m["after"]),
                      "constructor_s": float(m["constructor"]) if m["constructor"] else None}
        else:
            continue
        events.append(event)
    return events


def gpu_of_replicas(cluster: Cluster) -> dict:
    """Which GPU each recommender replica holds (informative: a failure is recorded, not raised)."""
    try:
        return cluster.recommender_gpus()
    except Exception as exc:  # noqa: BLE001
        return {"error": str(exc)[-300:]}


def parse_replicas(text: str | None) -> dict[str, int] | None:
    return {k: int(v) for k, v in (item.split("=") for item in text.split(","))} if text else None


def _cpus(text: str | None) -> list[int] | None:
    return parse_cpus(text) if text else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench")
    parser.add_argument("--server", choices=["serve", "baseline"], default="serve")
    parser.add_argument("--variant", choices=["default", "throughput", "haproxy"], default="haproxy",
                        help="Serve's HTTP path: its proxy; RAY_SERVE_THROUGHPUT_OPTIMIZED=1; HAProxy + direct ingress")
    parser.add_argument("--rates", type=float, nargs="*", default=[500, 1000, 2000, 4000, 8000],
                        help="constant rates of the sweep (none: no sweep, e.g. a spike at --spike-peak alone)")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--procs", type=int, default=4, help="load generator processes")
    parser.add_argument("--load-cpus", help="cores for the load generator, e.g. 12-15 (Ray gets the others)")
    parser.add_argument("--slo-ms", type=float, default=50.0)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--encoder", choices=["deployment", "inline"], default="deployment")
    parser.add_argument("--workers", type=int, default=8, help="baseline server processes")
    parser.add_argument("--replicas", help="fixed replica counts instead of autoscaling, e.g. Ingress=5,BriefEncoder=4")
    parser.add_argument("--batch-wait", type=float, help="the ingress micro-batch wait in s (default: the config's)")
    parser.add_argument("--app-arg", action="append", default=[], type=name_value, metavar="NAME=VALUE",
                        help="an application arg of the GPU config set for this run (YAML value), e.g. "
                             "ingress_max_concurrent_batches=1; repeatable")
    parser.add_argument("--policy-kwarg", action="append", default=[], type=name_value, metavar="NAME=VALUE",
                        help="a policy_kwargs entry (YAML value) of the Ingress's and BriefEncoder's autoscaling policy "
                             "for this run, e.g. recent_s=0; repeatable")
    parser.add_argument("--ingress-autoscaling", action="append", default=[], type=name_value, metavar="NAME=VALUE",
                        help="a field (YAML value) of the Ingress's autoscaling_config for this run, e.g. "
                             "upscaling_factor=1, target_ongoing_requests=24 or max_replicas=8; repeatable")
    parser.add_argument("--look-back", type=float, help="every deployment's autoscaling look_back_period_s "
                        "(default: the config's)")
    parser.add_argument("--scale-on", choices=["cpu-or-requests", "requests"], default="cpu-or-requests",
                        help="the Ingress's and BriefEncoder's autoscaling policy: the shipped one (CPU or requests, "
                             "serve_app/autoscaling.py) or Serve's default rule on requests alone")
    parser.add_argument("--briefs-per-request", type=int, default=1,
                        help="> 1: that many distinct briefs a request to /v1/recommend/batch (--rates count requests)")
    parser.add_argument("--access-log", choices=["on", "off"],
                        help="Serve's access log (default: the config's); in throughput mode a replica buffers 1,000 "
                             "lines, then formats and writes them at once on its event loop")
    parser.add_argument("--tag", default="", help="appended to output file names (several variants in one folder)")
    parser.add_argument("--spike", action="store_true", help="after the sweep: 10 %% -> 100 %% of its capacity in 5 s")
    parser.add_argument("--spike-hold", type=float, default=30.0)
    parser.add_argument("--spike-peak", type=float, help="the spike's 100 %% in req/s (default: the sweep's capacity)")
    parser.add_argument("--profile-rate", type=float,
                        help="after the sweep: py-spy on the busiest replicas of each role under this rate (12 s)")
    parser.add_argument("--logical-cpus", type=int, help="CPUs Ray may schedule (default: cores minus --load-cpus)")
    parser.add_argument("--logical-gpus", type=int, default=0,
                        help="on a machine without CUDA: pretend this many GPUs to Ray (placement dry run; "
                             "use --backend onnxruntime)")
    args = parser.parse_args()
    if args.spike and not args.rates and args.spike_peak is None:  # no sweep: no capacity to peak at
        parser.error("--spike with no --rates needs --spike-peak")
    app_args, policy_kwargs = config_values(args.app_arg), config_values(args.policy_kwarg)
    ingress_autoscaling = config_values(args.ingress_autoscaling)
    # A step timeout's SIGTERM unwinds like Ctrl-C, so the report and the logs below are still written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    import torch

    gpus = torch.cuda.device_count() or args.logical_gpus
    load_cpus = _cpus(args.load_cpus)
    cpus = args.logical_cpus or max(1, (os.cpu_count() or 1) - len(load_cpus or []))
    os.environ.setdefault("RAY_metrics_report_interval_ms", "2000")
    scenarios.METRICS_SETTLE_S = 3.0
    scenarios.LOAD.update(cpus=load_cpus, unique=True)  # pinned generator, no body twice in a run
    if args.briefs_per_request > 1:
        scenarios.LOAD.update(path=route_for(args.briefs_per_request), briefs_per_request=args.briefs_per_request)
    args.out.mkdir(parents=True, exist_ok=True)
    payloads = brief_mix(2000)
    name = f"{args.server}-{args.variant}" if args.server == "serve" else f"baseline-{args.workers}w"
    name += f"-{args.tag}" if args.tag else ""
    smi = None if not torch.cuda.is_available() else subprocess.Popen(
        ["nvidia-smi", "--query-gpu=timestamp,index,utilization.gpu,memory.used", "--format=csv,noheader,nounits",
         "-lms", "500"], stdout=(args.out / f"smi-{name}.csv").open("w"), stderr=subprocess.DEVNULL)
    report = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "ray_cpus": cpus,
                          "load_cpus": load_cpus, "gpus": gpus,
                          "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "logical (no CUDA)",
                          "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")},
              "server": name, "workload": describe(payloads), "procs": args.procs, "started": time.time(),
              "replicas": args.replicas or "autoscaling (deploy/serve_config.gpu.yaml)",
              "ingress_batch_wait_s": args.batch_wait, "look_back_period_s": args.look_back,
              "ingress_autoscaling": ingress_autoscaling, "briefs_per_request": args.briefs_per_request,
              "scale_on": args.scale_on, "app_args": app_args, "access_log": args.access_log or "config",
              "policy_kwargs": policy_kwargs}
    out = args.out / f"gpu-{name}.json"
    tmp = Path(tempfile.mkdtemp(prefix="gpu-serve", dir="/tmp"))
    cluster = None
    try:
        t0 = time.monotonic()
        if args.server == "baseline":
            context = baseline(tmp, workers=args.workers, backend=args.backend)
        else:
            cluster = Cluster(tmp, config_path=GPU_CONFIG, env=variant_env(VARIANT_NAMES[args.variant], tmp),
                              config_overrides=overrides(gpus, cpus, args.backend, args.encoder,
                                                                 parse_replicas(args.replicas), args.batch_wait,
                                                                 args.look_back, ingress_autoscaling, args.scale_on,
                                                                 app_args, args.access_log, policy_kwargs),
                              num_cpus=cpus, num_gpus=gpus)
            cluster.start()
            context = contextlib.nullcontext(Server(name, cluster.base_url, cluster))
        with context as server:
            report["startup_s"] = round(time.monotonic() - t0, 1)
            print(f"{name} up in {report['startup_s']} s", flush=True)
            scenarios.measure(server, payloads, scenarios.constant(100), 4, processes=1)  # warm every path
            if args.rates:
                def keep(sweep: dict) -> None:  # each rate as it is measured: a step's timeout kills this process
                    report["sweep"] = sweep  # the last call's sweep is the whole result
                    out.write_text(json.dumps(report, indent=2) + "\n")

                scenarios.rate_sweep(server, payloads, args.rates, args.step_seconds, slo_ms=args.slo_ms,
                                     processes=args.procs, cpu_probe=CPUProbe(), on_step=keep)
            if args.profile_rate:
                with Profiler(PROFILED_ROLES, 12, args.out / f"pyspy-{name}") as profiler:
                    _, summary = scenarios.measure(server, payloads, scenarios.constant(args.profile_rate), 12.0,
                                                   processes=args.procs, cpu_probe=CPUProbe())
                report["profile"] = {"rate": args.profile_rate, "summary": summary, "functions": profiler.summary()}
                print_summary(report["profile"]["functions"], top=12)
                out.write_text(json.dumps(report, indent=2) + "\n")
            if args.spike and cluster is not None:
                peak = args.spike_peak or report.get("sweep", {}).get("max_rate_at_slo") or args.rates[0]
                report["spike"] = scenarios.spike(server, payloads, peak, processes=args.procs, before_s=25.0,
                                                  hold_s=args.spike_hold, after_s=10.0)
                report["replica_gpus"] = gpu_of_replicas(cluster)
    finally:
        out.write_text(json.dumps(report, indent=2) + "\n")  # first: stopping the cluster can outlast a timeout
        if cluster is not None:
            (args.out / f"serve-errors-{name}.json").write_text(json.dumps(serve_errors(cluster), indent=1) + "\n")
            lines = autoscaler_lines(cluster)
            (args.out / f"autoscaler-{name}.txt").write_text("\n".join(lines) + "\n")
            if "spike" in report:
                report["spike"]["controller"] = controller_events(lines, report["spike"]["started_at"])
                # The controller's whole log, to read what it saw between decisions (not the app-build task's).
                for log in Path(cluster.temp_dir, "session_latest", "logs", "serve").glob("controller_*.log"):
                    if not log.name.startswith("controller_build_"):
                        (args.out / f"controller-{name}.log.gz").write_bytes(gzip.compress(log.read_bytes()))
                out.write_text(json.dumps(report, indent=2) + "\n")
            cluster.stop()
            _kill_strays(tmp)  # HAProxy runs outside the cluster's process group (a later run's proxy needs the port)
        if smi:
            smi.terminate()
    rows = report.get("sweep", {}).get("rows", [])
    for row in rows:
        cpu = row.get("cpu", {})
        print(f"[{name}] rate {row['rate']:>7.0f} ok {row['statuses'].get('200', 0):>6} 503 "
              f"{row['statuses'].get('503', 0):>5} lost {row['lost']:>4} p50 {row['p50_ms']:>8.1f} p99 {row['p99_ms']:>8.1f}"
              f" batch {(row.get('batch_sizes') or {}).get('mean', '-')} server CPU ms/req {cpu.get('server_cpu_ms_per_request')}"
              f" {cpu.get('cpu_ms_per_request')} cores {cpu.get('cores')} stages mean ms "
              f"{ {k: v['mean_ms'] for k, v in (row.get('stages') or {}).items()} } split {row.get('split_ms')}",
              flush=True)
    print(f"[{name}] max rate at p99 <= {args.slo_ms} ms: {report.get('sweep', {}).get('max_rate_at_slo')}")
    if "spike" in report:
        spike = report["spike"]
        print("spike:", json.dumps({k: spike[k] for k in ("shape", "summary", "p99_during_peak_ms", "scale_up_after_s",
                                                          "max_replicas")})[:3000])


if __name__ == "__main__":
    main()
