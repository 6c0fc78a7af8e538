"""Latency of the real Serve app over HTTP on localhost: sequential single requests (p50/p99) and the
batch sizes the recommender forms under concurrent clients.

    python -m benchmarks.serve_latency                      # starts a private local cluster from serve_config.yaml
    python -m benchmarks.serve_latency --requests 300 --clients 32
    python -m benchmarks.serve_latency --variant haproxy     # HAProxy ingress + throughput mode
    python -m benchmarks.serve_latency --variant haproxy --settings shipped no-timers baseline --requests 200
                                                             # several settings, one after another, one report

Settings (`--settings`, one run each, in the order given): `shipped` (serve_config.yaml as is); `no-timers` (no
micro-batch wait in the ingress or the recommender: batches form only from what queued while the previous ones
ran, so a lone brief waits on no timer); `no-timers-ort2` (and ONNX Runtime on 2 intra-op threads);
`recommender-no-wait` (only the recommender's `@serve.batch` wait at 0, the ingress's as shipped); `inline`
(`encoder: inline`: the ingress encodes, no BriefEncoder hop); `post-child` (`ingress_post_processes: 1`: the
ingress post-processes in a child process); `one-each` (one replica of each deployment, no autoscaling);
`no-access-log` (Serve's access log off: in throughput mode each replica buffers 1,000 lines and formats and writes
them in one go on its event loop); `baseline`
(the plain single-process server, the same batch functions and model variant, 1 thread).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from benchmarks.workload import brief_mix
from benchmarks.local_cluster import Cluster, inline_encoder, no_access_log, one_replica_each, post_process_child
from benchmarks.servers import VARIANT_NAMES, _kill_strays, baseline, variant_env

FIRST = 5  # requests timed right after start, apart from the steady-state figures
SETTINGS = ("shipped", "no-timers", "no-timers-ort2", "recommender-no-wait", "inline", "post-child", "one-each",
            "no-access-log", "baseline")


def setting_overrides(name: str):
    """The serve_config.yaml change a setting makes (None: as shipped)."""
    if name == "shipped":
        return None
    if name == "inline":
        return inline_encoder
    if name == "one-each":
        return one_replica_each
    if name == "post-child":
        return post_process_child
    if name == "no-access-log":
        return no_access_log

    def apply(config: dict) -> None:
        app = config["applications"][0]
        if name != "recommender-no-wait":
            app["args"]["ingress_batch_wait_s"] = 0.0
        for deployment in app["deployments"]:
            if deployment["name"] == "Recommender":
                deployment["user_config"]["batch_wait_timeout_s"] = 0.0
        if name == "no-timers-ort2":
            app["args"]["ort_intra_op_threads"] = 2
    return apply


def _timed(client: httpx.Client, brief: dict) -> tuple[float, dict]:
    """One request: ms over HTTP, and the answer's own stage times."""
    start = time.perf_counter()
    response = client.post("/v1/recommend", json=brief)
    elapsed = (time.perf_counter() - start) * 1000
    response.raise_for_status()
    return elapsed, response.json()["timings_ms"]


def sequential(client: httpx.Client, briefs: list[dict]) -> dict:
    timed = [_timed(client, brief) for brief in briefs]
    lat = np.array([ms for ms, _ in timed])
    server_totals = [timings["total"] for _, timings in timed]
    stages = {stage: round(float(np.median([t.get(stage, np.nan) for _, t in timed])), 2)
              for stage in ("encode", "infer", "model", "post")}
    return {"requests": len(lat), "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1), "max_ms": round(float(lat.max()), 1),
            "server_total_p50_ms": round(float(np.percentile(server_totals, 50)), 1),
            "server_stage_p50_ms": stages}


def first_requests(client: httpx.Client, briefs: list[dict]) -> list[dict]:
    """The first requests a fresh app answers (right after it reports ready): over HTTP, and the server's own
    stage times. A replica that is not warm before it takes traffic pays its set-up on these."""
    out = []
    for brief in briefs:
        ms, timings = _timed(client, brief)
        out.append({"http_ms": round(ms, 1)} | {k: timings[k] for k in ("encode", "infer", "post", "total")
                                                  if k in timings})
    return out


def concurrent(client: httpx.Client, briefs: list[dict], clients: int) -> dict:
    def one(brief):
        start = time.perf_counter()
        try:
            code = client.post("/v1/recommend", json=brief).status_code
        except httpx.TransportError:  # counted as not ok (0) instead of ending the run: one run died on a ReadError
            code = 0
        return code, (time.perf_counter() - start) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, briefs))
    elapsed = time.perf_counter() - started
    lat = np.array([ms for _, ms in results])
    codes = [c for c, _ in results]
    return {"clients": clients, "requests": len(results), "ok": codes.count(200),
            "qps": round(len(results) / elapsed, 1), "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p99_ms": round(float(np.percentile(lat, 99)), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--variant", choices=sorted(VARIANT_NAMES), default="default",
                        help="Serve's HTTP path: its proxy, throughput mode, or HAProxy + throughput mode")
    parser.add_argument("--settings", nargs="+", choices=SETTINGS, default=["shipped"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    briefs = brief_mix(args.requests)
    report = {"variant": VARIANT_NAMES[args.variant], "settings": {}}
    for name in args.settings:
        report["settings"][name] = measure_setting(name, args.variant, briefs, args.clients)
        print(json.dumps({name: report["settings"][name]}), flush=True)
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


def measure_setting(name: str, variant: str, briefs: list[dict], clients: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="latency"))
    if name == "baseline":
        with baseline(tmp) as server, httpx.Client(base_url=server.base_url, timeout=60) as client:
            first = first_requests(client, briefs[:FIRST])
            for brief in briefs[FIRST:20]:
                client.post("/v1/recommend", json=brief)
            return {"first_requests": first, "sequential": sequential(client, briefs),
                    "concurrent": concurrent(client, briefs * 2, clients)}
    report = {}
    with Cluster(tmp, config_overrides=setting_overrides(name), env=variant_env(VARIANT_NAMES[variant], tmp)) \
            as cluster, httpx.Client(base_url=cluster.base_url, timeout=60) as client:
        report["first_requests"] = first_requests(client, briefs[:FIRST])
        for brief in briefs[FIRST:20]:  # then 15 more before timing: the steady state is what is measured next
            client.post("/v1/recommend", json=brief)
        report["sequential"] = sequential(client, briefs)
        cluster.recommender("reset_stats")
        report["concurrent"] = concurrent(client, briefs * 2, clients)
        stats = cluster.recommender("stats")
        sizes = {int(k): v for k, v in stats["batch_sizes"].items()}
        report["batch_sizes"] = dict(sorted(sizes.items()))
        report["mean_batch"] = round(sum(k * v for k, v in sizes.items()) / max(1, sum(sizes.values())), 2)
        report["backend"] = stats["backend"]
    _kill_strays(tmp)  # HAProxy runs outside the cluster's process group
    return report


if __name__ == "__main__":
    main()
