"""Profile the Serve app (or the plain baseline) under a constant open-loop rate: CPU ms per answered request by
process role (/proc) and, at the same time, py-spy samples of the busiest processes of each role, folded into
the functions that hold the time. Profile before optimising.

    python -m benchmarks.profile_serve --variant haproxy --rate 60 --seconds 20            # 2 cores, CPU config
    python -m benchmarks.profile_serve --server baseline --rate 120 --seconds 20
    python -m benchmarks.profile_serve --config deploy/serve_config.gpu.yaml --replicas Ingress=4,BriefEncoder=2 \\
        --rate 2000 --procs 4 --load-cpus 12-15 --backend torch                            # a GPU node
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks import scenarios
from benchmarks.cpu_by_process import CPUProbe
from benchmarks.loadgen import constant, parse_cpus, route_for
from benchmarks.local_cluster import ROOT, Cluster, inline_encoder, name_value, one_replica_each
from benchmarks.noop_bench import fixed_replicas
from benchmarks.pyspy import Profiler, print_summary
from benchmarks.servers import VARIANT_NAMES, Server, _kill_strays, baseline, variant_env
from benchmarks.workload import brief_mix

ROLES = ["ingress", "encoder", "recommender", "proxy", "baseline_workers"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=["serve", "baseline"], default="serve")
    parser.add_argument("--variant", choices=sorted(VARIANT_NAMES), default="haproxy")
    parser.add_argument("--config", type=Path, default=ROOT / "serve_config.yaml")
    parser.add_argument("--replicas", help="fixed replica counts, e.g. Ingress=2,BriefEncoder=1 (default: one each)")
    parser.add_argument("--backend", default="onnxruntime")
    parser.add_argument("--workers", type=int, default=1, help="baseline server processes")
    parser.add_argument("--rate", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--briefs-per-request", type=int, default=1,
                        help="> 1: that many briefs a request on the batch route; --rate stays requests/s")
    parser.add_argument("--load-cpus")
    parser.add_argument("--num-cpus", type=int, help="logical CPUs of the local cluster (default 4)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "profile-serve")
    parser.add_argument("--encoder", choices=["deployment", "inline"], default="deployment",
                        help="inline: `encoder: inline` (the ingress encodes, no BriefEncoder replica)")
    parser.add_argument("--app-arg", action="append", default=[], type=name_value, metavar="NAME=VALUE",
                        help="an application arg of serve_config.yaml set for this run (YAML value), e.g. "
                             "ort_length_group=0; repeatable")
    parser.add_argument("--native", action="store_true", help="py-spy --native --threads: C/C++ frames by thread")
    parser.add_argument("--no-pyspy", action="store_true",
                        help="CPU by process only, no py-spy beside it (its sampling takes a share of 2 cores)")
    args = parser.parse_args()

    scenarios.LOAD.update(cpus=parse_cpus(args.load_cpus) if args.load_cpus else None, unique=True,
                          path=route_for(args.briefs_per_request), briefs_per_request=args.briefs_per_request)
    payloads = brief_mix(2000)
    tmp = Path(tempfile.mkdtemp(prefix="profile-", dir="/tmp"))
    cluster = None
    name = "baseline" if args.server == "baseline" else VARIANT_NAMES[args.variant]
    try:
        if args.server == "baseline":
            context = baseline(tmp, workers=args.workers, backend=args.backend)
        else:
            counts = dict(x.split("=") for x in args.replicas.split(",")) if args.replicas else None

            def overrides(config: dict) -> None:
                config["applications"][0]["args"]["backend"] = args.backend
                one_replica_each(config)
                if args.encoder == "inline":
                    inline_encoder(config)
                for setting in args.app_arg:
                    key, value = setting.split("=", 1)
                    config["applications"][0]["args"][key] = yaml.safe_load(value)
                if counts:
                    fixed_replicas({k: int(v) for k, v in counts.items()})(config)

            cluster = Cluster(tmp, config_path=args.config, env=variant_env(name, tmp), config_overrides=overrides,
                              num_cpus=args.num_cpus or 4)
            cluster.start()
            context = contextlib.nullcontext(Server(name, cluster.base_url, cluster))
        with context as server:
            scenarios.measure(server, payloads, constant(min(args.rate, 50)), 5.0)  # warm every path
            probe = CPUProbe()
            profiler = None if args.no_pyspy else Profiler(ROLES, args.seconds, args.out, native=args.native)
            with profiler or contextlib.nullcontext():
                _, summary = scenarios.measure(server, payloads, constant(args.rate), args.seconds,
                                               processes=args.procs, cpu_probe=probe)
            report = {"server": name, "rate": args.rate, "briefs_per_request": args.briefs_per_request,
                      "summary": summary, "profile": profiler.summary() if profiler else {}}
    finally:
        if cluster is not None:
            cluster.stop()
            _kill_strays(tmp)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"profile-{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    cpu = summary.get("cpu", {})
    print(f"[{name}] rate {args.rate} ok {summary['statuses'].get('200', 0)} p50 {summary['p50_ms']} p99 "
          f"{summary['p99_ms']} ms; CPU ms/request by role {json.dumps(cpu.get('cpu_ms_per_request'))}; "
          f"server {cpu.get('server_cpu_ms_per_request')}")
    if profiler:
        print_summary(report["profile"])
    print(f"written {args.out}/profile-{name}.json ({time.strftime('%H:%M:%S')})")


if __name__ == "__main__":
    main()
