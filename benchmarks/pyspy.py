"""Where a server's CPU goes, by process role: py-spy samples each Serve replica (or baseline worker) while a
benchmark drives load, and the samples are folded into the functions that hold the most time, both where
the time is spent (self) and what it is spent under (inclusive, by our own and by library frames).

    with Profiler(["ingress", "encoder"], seconds=15, out_dir=out) as prof:
        ...drive load...
    prof.summary()  # {role: {"samples": n, "self": [...], "inclusive": [...]}}

py-spy attaches from outside (ptrace) at a modest rate, so the server runs at nearly full speed; `--nonblocking`
keeps it from pausing the target at all. py-spy comes from PyPI (the `dev` extra).
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.cpu_by_process import snapshot

RATE_HZ = 100


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise FileNotFoundError("py-spy not found (pip install py-spy)")
    return found


class Profiler:
    def __init__(self, roles: list[str], seconds: float, out_dir: Path, max_per_role: int = 2,
                 native: bool = False) -> None:
        self.roles, self.seconds, self.out_dir, self.max_per_role = roles, seconds, Path(out_dir), max_per_role
        # --native also unwinds C/C++ frames and --threads names each sample's thread: what Ray's and gRPC's
        # own threads spend (no Python frame of their own) shows up only this way.
        # Native unwinding must pause the target, so it cannot be --nonblocking, and that slows the server: on 2 cores
        # at 30 req/s the Serve graph's p50 went from 21.5 to 55.0 ms. Use it for where the time goes, not how much.
        self.extra = ["--native", "--threads"] if native else ["--nonblocking"]
        self.procs: list[tuple[str, int, Path, subprocess.Popen]] = []

    def __enter__(self) -> Profiler:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        by_role: dict[str, list[tuple[float, int]]] = collections.defaultdict(list)
        for pid, (cpu, role) in snapshot().items():
            if role in self.roles:
                by_role[role].append((cpu, pid))
        exe = _py_spy()
        for role, pids in by_role.items():
            # The busiest processes of the role (a replica's forked helpers are not what we want).
            for _, pid in sorted(pids, reverse=True)[: self.max_per_role]:
                out = self.out_dir / f"pyspy-{role}-{pid}.txt"
                proc = subprocess.Popen([exe, "record", "--format", "raw", "--rate", str(RATE_HZ),
                                         "--duration", str(int(self.seconds)), "--pid", str(pid), "--output",
                                         str(out), *self.extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                self.procs.append((role, pid, out, proc))
        return self

    def __exit__(self, *exc) -> None:
        for _, _, _, proc in self.procs:
            try:
                proc.wait(timeout=self.seconds + 30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def summary(self, top: int = 25) -> dict:
        result = {}
        for role, pid, out, proc in self.procs:
            if not out.exists():
                err = proc.stderr.read().decode(errors="replace")[-300:] if proc.stderr else ""
                result[f"{role}:{pid}"] = {"error": err or "no output"}
                continue
            result[f"{role}:{pid}"] = fold(out.read_text(errors="replace"), top)
        return result


def _frame_name(frame: str) -> str:
    # py-spy raw frames: "function (path/to/file.py:line)"; drop the line so one function is one entry.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name


def fold(raw: str, top: int = 25) -> dict:
    """py-spy's raw (collapsed) stacks -> the functions with the most self and inclusive samples, as shares of
    the samples where the process was running Python (idle samples are not recorded with --idle off)."""
    self_counts: collections.Counter = collections.Counter()
    inclusive: collections.Counter = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame_name(f) for f in stack.split(";")]
        total += n
        self_counts[frames[-1]] += n
        for name in set(frames):
            inclusive[name] += n
    share = (lambda c: round(100.0 * c / total, 1)) if total else (lambda c: 0.0)
    return {"samples": total,
            "self": [(name, share(c)) for name, c in self_counts.most_common(top)],
            "inclusive": [(name, share(c)) for name, c in inclusive.most_common(top * 2)]}


def print_summary(summary: dict, top: int = 15) -> None:
    for key, prof in summary.items():
        if "error" in prof:
            print(f"== {key}: {prof['error']}")
            continue
        print(f"== {key}: {prof['samples']} samples at {RATE_HZ} Hz")
        print("   self %:", "; ".join(f"{n} {s}" for n, s in prof["self"][:top]))
        print("   inclusive %:", "; ".join(f"{n} {s}" for n, s in prof["inclusive"][: top * 2]))
