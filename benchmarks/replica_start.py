"""How long a replica added by a scale-up takes to serve, and what CPU it spends getting there.

    python -m benchmarks.replica_start                        # Ingress 1 -> 2 -> 3, table cache on, then off, twice
    python -m benchmarks.replica_start --deployment BriefEncoder --settings on

A private local cluster from serve_config.yaml (HAProxy + throughput mode, one replica each, no autoscaler); the
deployment's replica count is raised by `serve deploy` one at a time. Per new replica: seconds from the deploy
call to its process existing, to Serve reporting it STARTING and RUNNING, and the CPU its process had used once
RUNNING (/proc). A replica added during a promotional spike starts on cores the traffic keeps busy, so its CPU is
what stretches its start there. Settings alternate (`PACKDESIGN_TABLE_CACHE`: post-processing's tables loaded
from `artifacts/cache/` or built afresh), each on its own cluster.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks import positive_int
from benchmarks.cpu_by_process import processes
from benchmarks.local_cluster import APP, ROOT, Cluster, config_values, name_value, one_replica_each
from benchmarks.servers import VARIANT_NAMES, _kill_strays, variant_env


def _boot_time() -> float:
    with open("/proc/stat") as stat:
        return float(next(line for line in stat if line.startswith("btime")).split()[1])


def replica_processes(deployment: str) -> dict[int, tuple[float, float]]:
    """pid -> (start, epoch seconds; CPU seconds used, its child processes' included: an Ingress replica's
    post-processing children are part of its start) of this machine's replica processes of `deployment`."""
    boot, title, every = _boot_time(), f"ServeReplica:{APP}:{deployment}", processes()
    children: dict[int, float] = {}
    for cpu, parent, _, _ in every.values():
        children[parent] = children.get(parent, 0.0) + cpu
    return {pid: (boot + started, cpu + children.get(pid, 0.0))
            for pid, (cpu, _, started, cmd) in every.items() if title in cmd}


def _replica_states(cluster: Cluster, deployment: str) -> list[str]:
    return [r["state"] for r in cluster.applications()["applications"][APP]["deployments"][deployment]["replicas"]]


def scale_ups(setting: str, deployment: str, counts: list[int], config: Path,
              app_args: dict | None = None) -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="replica-start-", dir="/tmp"))
    env = {**variant_env(VARIANT_NAMES["haproxy"], tmp), "PACKDESIGN_TABLE_CACHE": setting}

    def overrides(deployed: dict) -> None:
        one_replica_each(deployed)
        deployed["applications"][0]["args"].update(app_args or {})

    cluster = Cluster(tmp, config_path=config, config_overrides=overrides, env=env)
    rows = []
    try:
        cluster.start()
        for count in counts:
            before = set(replica_processes(deployment))
            deployed = yaml.safe_load((tmp / "serve_config.yaml").read_text())
            for d in deployed["applications"][0]["deployments"]:
                if d["name"] == deployment:
                    d["num_replicas"] = count
            path = tmp / f"scale-{count}.yaml"
            path.write_text(yaml.safe_dump(deployed))
            t0 = time.time()
            cluster._deploy(path)
            starting = None
            while time.time() - t0 < 120:
                states = _replica_states(cluster, deployment)
                if starting is None and "STARTING" in states:
                    starting = time.time() - t0
                if states.count("RUNNING") >= count:
                    break
                time.sleep(0.1)
            running = time.time() - t0
            for pid, (started, cpu) in replica_processes(deployment).items():
                if pid not in before:
                    rows.append({"setting": setting, "replicas": count, "process_s": round(started - t0, 2),
                                 "starting_s": starting and round(starting, 2), "running_s": round(running, 2),
                                 "cpu_s_at_running": round(cpu, 2)})
                    print(json.dumps(rows[-1]), flush=True)
            time.sleep(2)
    finally:
        cluster.stop()
        _kill_strays(tmp)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployment", default="Ingress", choices=["Ingress", "BriefEncoder", "Recommender"])
    parser.add_argument("--config", type=Path, default=ROOT / "serve_config.yaml")
    parser.add_argument("--settings", nargs="+", default=["on", "off"], choices=["on", "off"],
                        help="PACKDESIGN_TABLE_CACHE values, alternated --rounds times")
    parser.add_argument("--rounds", type=positive_int, default=2)
    parser.add_argument("--app-arg", action="append", default=[], type=name_value, metavar="NAME=VALUE",
                        help="an application argument over the config's, e.g. ingress_post_processes=1 (the GPU "
                             "config's post-processing children, which a new Ingress replica starts warm)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    app_args = config_values(args.app_arg)
    rows = []
    for _ in range(args.rounds):
        for setting in args.settings:
            rows += scale_ups(setting, args.deployment, [2, 3], args.config, app_args)
    if args.out:  # before the summary: a setting with no new replica found leaves it nothing to average
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"{args.deployment}, new replicas: setting | n | deploy -> STARTING -> RUNNING s (mean) | CPU s at RUNNING")
    for setting in args.settings:
        mine = [r for r in rows if r["setting"] == setting]
        up = statistics.fmean(r["running_s"] - (r["starting_s"] or 0.0) for r in mine)
        print(f"{setting:>7} | {len(mine)} | {statistics.fmean(r['starting_s'] or 0.0 for r in mine):.2f} -> "
              f"{statistics.fmean(r['running_s'] for r in mine):.2f} (STARTING to RUNNING {up:.2f}) | "
              f"{statistics.fmean(r['cpu_s_at_running'] for r in mine):.2f}")


if __name__ == "__main__":
    main()
