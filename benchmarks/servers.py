"""The servers the end-to-end benchmarks compare, each started fresh and stopped after its runs:

- `serve-default`: serve_config.yaml as shipped, on a private local Ray cluster (Serve's default proxy).
- `serve-haproxy`: the same app behind Ray Serve's HAProxy ingress (RAY_SERVE_ENABLE_HA_PROXY=1).
- `serve-throughput`: the same app in Serve's throughput-optimised mode (RAY_SERVE_THROUGHPUT_OPTIMIZED=1:
  direct ingress, gRPC between deployments, GC frozen after start-up).
- `baseline`: the same model and post-processing in one plain FastAPI + ONNX Runtime process (no Ray).

A `ReplicaMonitor` records Serve's replica counts per deployment once a second from a separate driver.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.local_cluster import APP, ROOT, Cluster, free_port

VARIANTS = ("serve-default", "serve-haproxy", "serve-throughput", "baseline")


@dataclass
class Server:
    name: str
    base_url: str
    cluster: Cluster | None = None
    notes: dict = field(default_factory=dict)


# Serve's HTTP path variants by their short names (the benchmarks' --variant options).
VARIANT_NAMES = {"default": "serve-default", "throughput": "serve-throughput", "haproxy": "serve-haproxy"}


def variant_env(name: str, tmp: Path) -> dict:
    """Environment for `ray start` that selects a variant (these settings are read by the proxy and replicas)."""
    if name == "serve-haproxy":
        # HAProxy's files default to /tmp/haproxy-serve: private paths keep concurrent clusters apart. Short
        # ones: Ray adds a 56-character node directory, and a Unix socket path must stay under 108 bytes.
        short = Path(tempfile.mkdtemp(prefix="hp", dir="/tmp"))
        (tmp / "haproxy-dir").write_text(str(short))
        # With throughput mode: HAProxy alone still runs user code and the handle router on their own event
        # loops (a cross-thread hop per request); measured on the GPU node, the ingress then cost 4-8 ms of CPU
        # per request and saturated at ~1,000 req/s.
        return {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
                "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(short / "haproxy.cfg"),
                "RAY_SERVE_HAPROXY_SOCKET_PATH": str(short / "admin.sock"),
                "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(short),
                "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(short / "server-state")}
    if name == "serve-throughput":
        return {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}
    return {}


def _kill_strays(tmp: Path) -> None:
    # HAProxy runs in its own session, outside the `ray start` process group the Cluster stops.
    marker = tmp / "haproxy-dir"
    if not marker.exists():
        return
    out = subprocess.run(["pgrep", "-f", f"haproxy.*{re.escape(marker.read_text())}"], capture_output=True,
                         text=True).stdout
    for pid in out.split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def _warm(base_url: str, payloads: list[dict], n: int = 30) -> None:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for brief in payloads[:n]:  # first calls load tables and plan shapes in every replica
            client.post("/v1/recommend", json=brief)


@contextlib.contextmanager
def start(name: str, payloads: list[dict], config_overrides: Callable[[dict], None] | None = None,
          baseline_options: dict | None = None) -> Iterator[Server]:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{name}-", dir="/tmp"))
    if name == "baseline":
        with baseline(tmp, **(baseline_options or {})) as server:
            _warm(server.base_url, payloads)
            yield server
        return
    if name not in VARIANTS:
        raise ValueError(f"unknown server variant {name!r}; one of {VARIANTS}")
    cluster = Cluster(tmp, config_overrides=config_overrides, env=variant_env(name, tmp))
    try:
        cluster.start()
        _warm(cluster.base_url, payloads)
        yield Server(name, cluster.base_url, cluster)
    finally:
        cluster.stop()
        _kill_strays(tmp)


@contextlib.contextmanager
def baseline(tmp: Path, intra_op_threads: int = 1, workers: int = 1, backend: str = "onnxruntime") -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, "PACKDESIGN_BASELINE_DB": str(tmp / "feedback.sqlite3")}
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.baseline_server", "--port", str(port), "--workers", str(workers),
         "--threads", str(intra_op_threads), "--backend", backend],
        cwd=ROOT, env=env, start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"baseline server exited with {process.returncode}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("baseline server did not come up within 120 s")
            time.sleep(0.5)
        yield Server("baseline", base_url, notes={"ort_intra_op_threads": intra_op_threads, "workers": workers,
                                                  "backend": backend})
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


_MONITOR = """
import json, sys, time, ray
from ray import serve
from ray.serve._private.common import DeploymentID
ray.init(log_to_driver=False)
controller = None
while True:
    try:
        app = serve.status().applications[{app!r}]
        row = {{name: {{str(state.value if hasattr(state, 'value') else state): n
                        for state, n in d.replica_states.items()}} for name, d in app.deployments.items()}}
        sample = {{"t": time.time(), "replicas": row}}
        # What the autoscaler itself sees (Serve 2.60's controller test hooks; private, so best effort): the
        # ongoing requests it would decide on, and how many replica reports reached it and how late.
        try:
            controller = controller or ray.get_actor("SERVE_CONTROLLER_ACTOR", namespace="serve")
            ongoing = {{}}
            for name in app.deployments:
                try:  # a deployment with fixed replicas has no autoscaling state (KeyError)
                    ongoing[name] = round(float(ray.get(controller._get_total_num_requests_for_deployment_for_testing
                                                        .remote(DeploymentID(name, {app!r})), timeout=2)), 1)
                except Exception:  # noqa: BLE001
                    pass
            sample["controller_ongoing"] = ongoing
            # The Ingress replicas' own series as the controller holds them (age of the newest point, its
            # value): tells a stale series (no new points recorded) from a low count.
            metrics = ray.get(controller._get_metrics_for_deployment_for_testing.remote(
                DeploymentID("Ingress", {app!r})), timeout=2)
            sample["ingress_series"] = [[round(time.time() - s[-1].timestamp, 2), s[-1].value, len(s)]
                                        for s in metrics.get("running_requests", []) if s]
            # The cores each Ingress replica last reported (serve_app/autoscaling.py), as the policy reads them.
            sample["ingress_cpu_busy"] = [round(s[-1].value, 3) for s in metrics.get("cpu_busy", []) if s]
            # ... and the briefs arriving at each a second, where it reports them (the arrivals target).
            sample["ingress_briefs_per_s"] = [round(s[-1].value, 1) for s in metrics.get("briefs_per_s", []) if s]
            health = ray.get(controller.get_health_metrics.remote(), timeout=2)
            delay = health.get("replica_metrics_delay_ms") or {{}}
            sample["controller_health"] = {{"replica_reports": health.get("replica_reports_received"),
                                            "replica_delay_ms_max": delay.get("max"),
                                            "replica_delay_ms_mean": delay.get("mean"),
                                            "loop_s_max": (health.get("loop_duration_s") or {{}}).get("max"),
                                            "event_loop_delay_s": health.get("event_loop_delay_s")}}
        except Exception as exc:  # noqa: BLE001
            sample["controller_error"] = str(exc)[-300:]  # a remote traceback: its tail names the error
        print(json.dumps(sample, default=str), flush=True)
    except Exception as exc:  # a status call can fail while the controller is busy; keep sampling
        print(json.dumps({{"t": time.time(), "error": str(exc)[:200]}}), flush=True)
    time.sleep({interval})
"""


class ReplicaMonitor:
    """Replica counts per deployment over time, from `serve.status()` in a separate Ray driver."""

    def __init__(self, cluster: Cluster, interval_s: float = 1.0) -> None:
        self.samples: list[dict] = []
        self.process = subprocess.Popen(
            [sys.executable, "-c", _MONITOR.format(app=APP, interval=interval_s)], env=cluster.env, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with contextlib.suppress(json.JSONDecodeError):
                self.samples.append(json.loads(line))

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not any("replicas" in s for s in self.samples):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("replica monitor produced no sample")
            time.sleep(0.2)

    def stop(self) -> list[dict]:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=10)
        return [s for s in self.samples if "replicas" in s]


_SAMPLE = re.compile(r'^(?:ray_)?packdesign_(?:batch_size_(?P<kind>bucket|count)|(?P<briefs>batched_briefs)(?:_total)?)'
                     r'(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$')


def metrics_text(cluster: Cluster | None) -> str | None:
    """The node's Prometheus text (Ray's metrics export port), or None where the cluster exports no metrics."""
    port = getattr(cluster, "metrics_port", None)
    if not port:
        return None
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None


def batch_size_counters(cluster: Cluster | None) -> dict | None:
    """The recommender batch-size histogram summed over replicas, from the node's Prometheus endpoint
    (cumulative since start-up; None where the cluster exports no metrics)."""
    if (text := metrics_text(cluster)) is None:
        return None
    counters: dict[str, float] = {}
    for line in text.splitlines():
        if not (match := _SAMPLE.match(line)):
            continue
        key = "briefs" if match["briefs"] else match["kind"]
        if key == "bucket":
            key = "le=" + re.search(r'le="([^"]+)"', match["labels"])[1]
        counters[key] = counters.get(key, 0.0) + float(match["value"])
    return counters or None


_STAGE = re.compile(r'^(?:ray_)?packdesign_ingress_(?P<metric>stage|loop_lag)_ms_(?P<kind>bucket|count|sum)'
                    r'\{(?P<labels>[^}]*)\} (?P<value>\S+)$')


def stage_counters(cluster: Cluster | None) -> dict | None:
    """The ingress's micro-batch stage histograms (serve_app/ingress.py), summed over replicas, by stage; and its
    event-loop lag samples as the pseudo-stage "loop_lag" (one count per 50 ms sample, not per micro-batch)."""
    text = metrics_text(cluster)
    return None if text is None else parse_stage_counters(text)


def parse_stage_counters(text: str) -> dict | None:
    """Prometheus text -> {stage: {"count": n, "sum": ms, "le=<bound>": cumulative n}}, summed over replicas."""
    counters: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        if not (match := _STAGE.match(line)):
            continue
        if match["metric"] == "loop_lag":
            name = "loop_lag"
        elif stage := re.search(r'stage="([^"]+)"', match["labels"]):
            name = stage[1]
        else:
            continue
        key = match["kind"] if match["kind"] != "bucket" else "le=" + re.search(r'le="([^"]+)"', match["labels"])[1]
        per = counters.setdefault(name, {})
        per[key] = per.get(key, 0.0) + float(match["value"])
    return counters or None


def stage_summary(before: dict | None, after: dict | None) -> dict | None:
    """Per stage between two snapshots: mean ms, the bucket bound under which 50 % / 90 % / 99 % fell, and the one
    under which all fell (`max_le_ms`: a rare stall, e.g. an event loop held ~45 ms once every 1,000 requests,
    moves no percentile of the loop-lag samples but shows here)."""
    if not after:
        return None
    out = {}
    for stage, counts in after.items():
        delta = {k: v - (before or {}).get(stage, {}).get(k, 0.0) for k, v in counts.items()}
        n = delta.get("count", 0.0)
        if n <= 0:
            continue
        bounds = sorted((k for k in delta if k.startswith("le=")), key=lambda k: float(k[3:].replace("+Inf", "inf")))

        def under(percent: int) -> str:  # the first bucket bound holding this percentage of the samples
            return next((k[3:] for k in bounds if delta[k] >= n * percent / 100), "+Inf")

        out[stage] = {"batches": int(n), "mean_ms": round(delta.get("sum", 0.0) / n, 2),
                      **{f"p{q}_le_ms": under(q) for q in (50, 90, 99)}, "max_le_ms": under(100)}
    return out


def batch_size_summary(before: dict | None, after: dict | None) -> dict | None:
    """Batches formed between two snapshots: count, mean size, and how many fell in each size bucket."""
    if not after:
        return None
    before = before or {}
    delta = {k: after[k] - before.get(k, 0.0) for k in after}
    if delta.get("count", 0) <= 0:
        return None
    bounds = sorted((k for k in delta if k.startswith("le=")), key=lambda k: float(k[3:].replace("+Inf", "inf")))
    buckets, previous = {}, 0.0
    for key in bounds:
        buckets[key[3:]] = int(round(delta[key] - previous))
        previous = delta[key]
    mean = round(delta["briefs"] / delta["count"], 2) if "briefs" in delta else None
    return {"batches": int(delta["count"]), "mean": mean,
            "size_buckets": {k: v for k, v in buckets.items() if v}}
