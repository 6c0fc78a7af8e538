"""CPU time by process role over a window, from /proc (no tracer attached, so nothing slows the server):
Serve proxy or HAProxy, ingress, encoder and recommender replicas, Ray's own daemons, the load generator,
baseline workers. `CPUProbe.stop(answered)` reports cores used and ms of CPU per answered request per role.
"""

from __future__ import annotations

import os
import threading
import time

ROLES = (  # first match wins: (role, substrings of the command line)
    ("ingress", ("ServeReplica:packdesign:Ingress", "ServeReplica:noop:Ingress")),
    ("encoder", ("ServeReplica:packdesign:BriefEncoder", "ServeReplica:noop:BriefEncoder")),
    ("recommender", ("ServeReplica:packdesign:Recommender", "ServeReplica:noop:Recommender")),
    ("baseline_workers", ("benchmarks.baseline_server",)),
    # The runner and its spawned client processes (a spawned child's command line names no module, so
    # processes that match nothing take the role of their nearest ancestor that does). Before "proxy": a
    # runner's arguments name the variant ("--variant haproxy"), which once counted the runner and its load
    # generator processes as HAProxy.
    ("load_generator", ("benchmarks.loadgen", "benchmarks.gpu_serve", "benchmarks.noop_bench",
                        "benchmarks.profile_serve", "benchmarks.serve_latency")),
    ("proxy", ("ray::ProxyActor", "haproxy")),
    ("serve_controller", ("ray::ServeController",)),
    ("ray_daemons", ("raylet", "gcs_server", "dashboard", "ray/_private", "log_monitor", "runtime_env")),
)


def _role(cmdline: str) -> str:
    for role, needles in ROLES:
        if any(n in cmdline for n in needles):
            return role
    return "other"


def processes() -> dict[int, tuple[float, int, float, str]]:
    """pid -> (CPU seconds so far, parent pid, start in seconds since boot, command line) of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(entry)] = ((int(fields[11]) + int(fields[12])) / tick, int(fields[1]), int(fields[19]) / tick, cmd)
    return out


def snapshot() -> dict[int, tuple[float, str]]:
    """pid -> (CPU seconds so far, role)."""
    out = {pid: (cpu, parent, cmd) for pid, (cpu, parent, _, cmd) in processes().items()}
    roles = {}

    def role_of(pid: int, depth: int = 0) -> str:
        if pid not in roles:
            _, parent, cmd = out.get(pid, (0.0, 0, ""))
            role = _role(cmd)
            if role == "other" and parent in out and depth < 4:
                role = role_of(parent, depth + 1)
            roles[pid] = role
        return roles[pid]

    return {pid: (cpu, role_of(pid)) for pid, (cpu, _, _) in out.items()}


class CPUProbe:
    """Samples /proc twice a second in a thread; `stop(results)` counts CPU only over the load's sending window
    (from the generator's shared t = 0 to the end of its schedule), so neither the generator's preparation nor
    the drain after it inflates ms per request. Without a window: from start() to stop()."""

    INTERVAL_S = 0.5

    def start(self) -> None:
        self.samples: list[tuple[float, dict]] = [(time.time(), snapshot())]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self.INTERVAL_S):
            self.samples.append((time.time(), snapshot()))

    def stop(self, answered: int, window: tuple[float, float] | None = None, answered_in=None) -> dict:
        """`answered`: 200s over the whole run; with `window` (epoch seconds) and `answered_in(t0, t1)` (200s whose
        scheduled send falls in [t0, t1)), CPU and answers are both counted over the samples inside the window."""
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), snapshot()))
        return usage(self.samples, answered, window, answered_in)

    def stop_over_sends(self, sends: list[tuple[float, int]], start_at: float | None, duration_s: float,
                        briefs_per_request: int = 1) -> dict:
        """`stop` over the load's sending window: `sends` holds (scheduled send, s from the generator's t = 0; status)
        for every request, `start_at` that t = 0 (epoch seconds; None: from start() to now); each 200 answers
        `briefs_per_request` briefs."""
        def answered_in(t0: float, t1: float) -> int:
            return briefs_per_request * sum(1 for at, status in sends if status == 200 and t0 <= start_at + at < t1)

        return self.stop(briefs_per_request * sum(1 for _, status in sends if status == 200),
                         None if start_at is None else (start_at, start_at + duration_s), answered_in)


def usage(samples: list[tuple[float, dict]], answered: int, window: tuple[float, float] | None = None,
          answered_in=None) -> dict:
    """CPU by role between the first and last sample, or between the first and last sample inside `window`
    where at least two fall in it (then answers are counted over the same span by `answered_in`)."""
    (t0, before), (t1, after) = samples[0], samples[-1]
    if window is not None and answered_in is not None:
        inside = [s for s in samples if window[0] <= s[0] <= window[1]]
        if len(inside) >= 2:
            (t0, before), (t1, after) = inside[0], inside[-1]
            answered = answered_in(t0, t1)
    elapsed = t1 - t0
    roles: dict[str, float] = {}
    processes: dict[str, int] = {}
    for pid, (cpu, role) in after.items():
        used = cpu - before.get(pid, (0.0, ""))[0]
        if used <= 0:
            continue
        roles[role] = roles.get(role, 0.0) + used
        processes[role] = processes.get(role, 0) + 1
    per_request = {r: round(1000.0 * s / answered, 3) for r, s in roles.items()} if answered else {}
    server = sum(v for r, v in per_request.items() if r not in ("load_generator", "other"))
    return {"window_s": round(elapsed, 1), "answered_in_window": answered,
            "cores": {r: round(s / elapsed, 2) for r, s in roles.items()},
            "processes": processes, "cpu_ms_per_request": per_request,
            "server_cpu_ms_per_request": round(server, 3)}
