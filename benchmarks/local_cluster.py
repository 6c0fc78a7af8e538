"""Run the Serve app from serve_config.yaml on a private, local Ray cluster (loopback ports, its own auth
token, its own process group), for tests and benchmarks. Stopping it stops exactly this cluster.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
APP = "packdesign"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(name: str) -> list[str]:
    """The `ray` / `serve` command of this interpreter (its module where no script was installed, e.g. a
    `pip install --target` on a GPU image)."""
    script = BIN / name
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", {"ray": "ray.scripts.scripts", "serve": "ray.serve.scripts"}[name]]


def name_value(text: str) -> str:
    """argparse type of a `NAME=VALUE` option that `config_values` reads: without '=' it exits 2 at parse time,
    not with a ValueError once the cluster is up."""
    name, equals, _ = text.partition("=")
    if not (name and equals):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return text


def config_values(items: list[str]) -> dict:
    """Command-line `NAME=VALUE` overrides (`--app-arg`, `--policy-kwarg`) -> {NAME: VALUE read as YAML}, so
    `1`, `0.5`, `null` and `true` arrive as the config file would give them."""
    return {name: yaml.safe_load(value) for name, value in (item.split("=", 1) for item in items)}


def one_replica_each(config: dict) -> None:
    """Config override: a fixed single replica per deployment, no autoscaler (small nodes, backpressure runs)."""
    for deployment in config["applications"][0]["deployments"]:
        deployment.pop("autoscaling_config", None)
        deployment["num_replicas"] = 1


def post_process_child(config: dict) -> None:
    """Config override: `ingress_post_processes: 1`, each ingress replica post-processes in a child process."""
    config["applications"][0]["args"]["ingress_post_processes"] = 1


def set_access_log(config: dict, on: bool) -> None:
    """Serve's access log on or off (`logging_config.enable_access_log`), a line a request when on."""
    config["logging_config"]["enable_access_log"] = on


def no_access_log(config: dict) -> None:
    """Config override: Serve's access log off."""
    set_access_log(config, False)


def inline_encoder(config: dict) -> None:
    """Config override: `encoder: inline`, which also drops the BriefEncoder deployment (AppArgs.encoder)."""
    app = config["applications"][0]
    app["args"]["encoder"] = "inline"
    app["deployments"] = [d for d in app["deployments"] if d["name"] != "BriefEncoder"]


def _live_in_group(pgid: int, name: str) -> bool:
    """Whether a process named `name` (its comm, as ps shows it) of process group `pgid` is alive (not a zombie)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):  # a process that exits while being read
            text = stat.read_text()
            state, _, group = text[text.rindex(")") + 2:].split()[:3]
            if int(group) == pgid and state != "Z" and text[text.index("(") + 1:text.rindex(")")] == name:
                return True
    return False


class HeadExited(RuntimeError):
    """`ray start --head` exited, or its GCS could not start, before its dashboard came up; the message quotes why."""


# The GCS's fatal line where it cannot serve its port (taken meanwhile). `ray start` itself exits only when its GCS
# client gives up, 40 s later on the 2-core machine (5 s to connect, then 30 s for the cluster id).
GCS_FAILED = "Failed to start the grpc server"


class Cluster:
    def __init__(self, tmp: Path, config_overrides=None, env: dict | None = None,
                 config_path: Path = ROOT / "serve_config.yaml", num_cpus: int = 4, num_gpus: int | None = None) -> None:
        self.config_overrides = config_overrides
        self.config_path = Path(config_path)
        # Logical resources: 4 CPUs fit the default config's replicas on a 2-core machine; num_gpus may be
        # logical too (placement tests on CPU-only machines) or the real count on a GPU node.
        self.resources = [f"--num-cpus={num_cpus}"] + ([f"--num-gpus={num_gpus}"] if num_gpus is not None else [])
        self.tmp = tmp
        # Ray 2.60 turns token auth on for new local clusters; give this cluster its own token explicitly so
        # the CLI, the test driver and example scripts authenticate whatever ~/.ray/auth_token holds.
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0",
                    "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32), **(env or {})}
        self._pick_ports()

    def _pick_ports(self) -> None:
        self.gcs_port, self.dashboard_port, self.http_port = free_port(), free_port(), free_port()
        self.metrics_port = free_port()  # Prometheus text at http://127.0.0.1:<port>/metrics
        self.address = f"127.0.0.1:{self.gcs_port}"
        self.base_url = f"http://127.0.0.1:{self.http_port}"
        self.env["RAY_ADDRESS"] = self.address

    def start(self, attempts: int = 2) -> None:
        # A fresh-clone CI run once had `ray start` exit with 1 in one test module's fixture (both its cases) while
        # every other module's started; its output then went nowhere. Now it goes to a log whose tail the error
        # quotes, and a failed start is tried once more on fresh ports (ports picked free can be taken meanwhile).
        for attempt in range(1, attempts + 1):
            try:
                self._start_head()
                break
            except HeadExited as exc:
                if attempt == attempts:
                    raise
                print(f"local cluster: {exc}; starting again on fresh ports", file=sys.stderr)
                with contextlib.suppress(ProcessLookupError):  # whatever it started before exiting
                    os.killpg(self.head.pid, signal.SIGKILL)
                self._pick_ports()
        config = yaml.safe_load(self.config_path.read_text())
        config["http_options"]["host"] = "127.0.0.1"
        config["http_options"]["port"] = self.http_port
        app = config["applications"][0]
        app["args"]["feedback_db"] = str(self.tmp / "feedback.sqlite3")
        if self.config_overrides:
            self.config_overrides(config)
        path = self.tmp / "serve_config.yaml"
        path.write_text(yaml.safe_dump(config))
        self._deploy(path)
        if not self.wait_healthy(300, fail_fast=True):
            raise RuntimeError("the Serve app did not become healthy within 300 s")

    def _start_head(self) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix='ray', dir='/tmp')  # its logs live under session_latest/logs
        self.head_log = self.tmp / f"ray-start-{self.gcs_port}.log"
        # --block in its own process group: teardown stops exactly this cluster, not every Ray on the machine.
        with self.head_log.open("wb") as log:
            self.head = subprocess.Popen(
                [*_cli("ray"), "start", "--head", "--block", f"--port={self.gcs_port}",
                 "--node-ip-address=127.0.0.1", *self.resources, "--include-dashboard=true",
                 "--dashboard-host=127.0.0.1", f"--dashboard-port={self.dashboard_port}", "--disable-usage-stats",
                 f"--metrics-export-port={self.metrics_port}",
                 f"--temp-dir={self.temp_dir}"],  # short: Unix socket paths
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._wait_for_dashboard()

    def _deploy(self, path: Path, attempts: int = 3) -> None:
        # `serve deploy` is declarative (the same config again is a no-op), so a retry is safe. Seen once in a
        # fresh-clone CI run on 2 cores: the dashboard closed the deploy request's connection without a response.
        command = [*_cli("serve"), "deploy", str(path), "-a", f"http://127.0.0.1:{self.dashboard_port}"]
        for attempt in range(1, attempts + 1):
            result = subprocess.run(command, env=self.env, cwd=ROOT, capture_output=True, text=True)
            if result.returncode == 0:
                return
            if attempt == attempts or self.head.poll() is not None:
                raise RuntimeError(f"serve deploy failed {attempt} times; last output:\n{result.stderr[-3000:]}")
            time.sleep(5)

    def wait_healthy(self, timeout_s: float, fail_fast: bool = False) -> bool:
        """Poll /healthz until it answers 200 (True) or `timeout_s` passes (False). With `fail_fast`, raise as
        soon as Serve reports the app DEPLOY_FAILED (a replica that cannot start is retried forever otherwise, and
        a benchmark step then waits out its whole timeout saying nothing)."""
        deadline = time.monotonic() + timeout_s
        checked = time.monotonic()
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=5).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if fail_fast and time.monotonic() - checked >= 5:
                checked = time.monotonic()
                failure = self.deploy_failure()
                if failure:
                    raise RuntimeError(f"the Serve app failed to deploy: {failure}")
            time.sleep(1)
        return False

    def _serve_rest(self, timeout: float) -> httpx.Response:
        """GET Serve's REST API (what `serve deploy` and `serve status` call) on the cluster's dashboard."""
        return httpx.get(f"http://127.0.0.1:{self.dashboard_port}/api/serve/applications/", timeout=timeout,
                         headers={"Authorization": f"Bearer {self.env['RAY_AUTH_TOKEN']}"})

    def applications(self, timeout: float = 5) -> dict:
        """Serve's REST API view of the cluster's applications (`serve status`'s data, replicas included)."""
        return self._serve_rest(timeout).json()

    def deploy_failure(self) -> str | None:
        """Serve's own account of a failed deploy (the REST API's app and deployment messages), else None."""
        try:
            apps = self.applications()
        except (httpx.HTTPError, ValueError):
            return None
        app = (apps.get("applications") or {}).get(APP) or {}
        if app.get("status") != "DEPLOY_FAILED":
            return None
        failed = [f"{name}: {d.get('message', '')}" for name, d in (app.get("deployments") or {}).items()
                  if d.get("status") == "DEPLOY_FAILED"]
        return "; ".join(failed) or app.get("message", "DEPLOY_FAILED")

    def _wait_for_dashboard(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.head.poll() is not None:
                tail = self.head_log.read_text(errors="replace")[-2000:] if self.head_log.exists() else ""
                raise HeadExited(f"ray start exited with {self.head.returncode}; its output ends:\n{tail}")
            if failure := self._gcs_failure():
                raise HeadExited(f"the GCS could not start: {failure}")
            try:
                # The Serve REST API (what `serve deploy` calls), not just the dashboard's HTTP server.
                if self._serve_rest(timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError("the Ray dashboard did not come up within 120 s")

    def _gcs_failure(self) -> str | None:
        """The GCS's own fatal line, from the port on, where it could not start (its port taken): a start on other
        ports can begin at once instead of after `ray start`'s 40 s."""
        logs = Path(self.temp_dir) / "session_latest" / "logs"
        for name in ("gcs_server.err", "gcs_server.out"):
            with contextlib.suppress(OSError):
                for line in (logs / name).read_text(errors="replace").splitlines():
                    if GCS_FAILED in line:
                        return line[line.index(GCS_FAILED):][:200]
        return None

    def stop(self) -> None:
        if getattr(self, "head", None) and self.head.poll() is None:
            os.killpg(self.head.pid, signal.SIGTERM)
            # `ray start --block` and the GCS do not exit on SIGTERM (both still up 30 s later), so waiting for the
            # head cost every stop its whole 10 s (~100 s of a CI run). The raylet stops its workers on it: gone in
            # 0.2 s on an idle cluster, but 10 s once a driver had connected (2 cores). So the raylet gets 2 s, then
            # the group is killed; workers it left exit by themselves once it is gone (~2 s).
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and self.head.poll() is None and _live_in_group(self.head.pid, "raylet"):
                time.sleep(0.1)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.head.pid, signal.SIGKILL)
            self.head.wait()

    def driver(self, code: str) -> str:
        """Run Python in a separate Ray driver attached to this cluster; returns its stdout."""
        # A plain synchronous driver, as a client job would be: throughput mode (read at import in every Serve
        # process) puts the handle's router on the caller's event loop, which a sync driver does not have.
        env = {k: v for k, v in self.env.items() if k != "RAY_SERVE_THROUGHPUT_OPTIMIZED"}
        result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                                text=True, timeout=180)
        if result.returncode:
            raise RuntimeError(result.stderr[-3000:])
        return result.stdout

    def recommender(self, method: str) -> dict:
        """Call a Recommender method (stats, reset_stats) through a DeploymentHandle from another driver."""
        code = (
            "import json, ray\nfrom ray import serve\nray.init(log_to_driver=False)\n"
            f"handle = serve.get_deployment_handle('Recommender', app_name='{APP}')\n"
            f"print(json.dumps(handle.{method}.remote().result()))\n"
        )
        return json.loads(self.driver(code).strip().splitlines()[-1])

    def recommender_gpus(self, calls: int = 200, stop_at: int | None = None) -> dict[str, list[str]]:
        """{replica id: GPU ids Ray gave it}, gathered by calling `stats` through a handle until `calls` are
        made or `stop_at` replicas have answered (the router spreads calls over the replicas)."""
        code = (
            "import json, ray\nfrom ray import serve\nray.init(log_to_driver=False)\n"
            f"h = serve.get_deployment_handle('Recommender', app_name='{APP}')\nseen = {{}}\n"
            f"for _ in range({calls}):\n    s = h.stats.remote().result()\n    seen[s['replica']] = s['gpu_ids']\n"
            f"    if len(seen) == {stop_at or -1}:\n        break\nprint(json.dumps(seen))\n"
        )
        return json.loads(self.driver(code).strip().splitlines()[-1])

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:  # a start that failed half-way still leaves Ray processes and HAProxy to stop
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
