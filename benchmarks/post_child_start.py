"""How long a post-processing child (`ingress_post_processes`) takes from spawn to warm, the CPU it spends and the
memory it holds, when spawned from a process whose `__main__` is a script that imports Ray at module level, as a
Serve replica's is (Ray's default_worker.py). A new Ingress replica waits for its children before it serves, so
this is part of every scale-up.

    python -m benchmarks.post_child_start --rounds 4

Each round is a fresh Python process (the stand-in replica) with one child. `--code` names checkouts to alternate,
round by round (an A/B of two code versions on one machine, e.g. a git worktree of the commit before).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STAND_IN = '''
import json, os, sys, time
import ray  # noqa: F401 - as Ray's default_worker.py, a replica's __main__, imports it at module level
from serve_app.post_pass import start_post_processes
if __name__ == "__main__":
    started = time.perf_counter()
    pool, children = start_post_processes(1)
    child = children[0].result(timeout=120)
    warm_s = time.perf_counter() - started
    with open(f"/proc/{child}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{child}/status") as f:
        rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    ray_in_child = pool.submit(eval, "'ray' in __import__('sys').modules").result(timeout=60)
    print(json.dumps({"spawn_to_warm_s": round(warm_s, 3),
                      "child_cpu_s": (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
                      "child_rss_mb": round(rss_kb / 1024, 1), "ray_in_child": ray_in_child}), flush=True)
    pool.shutdown()
'''


def one_round(script: Path, code: Path) -> dict:
    """One stand-in replica (`script`, STAND_IN) importing `code`'s serve_app, and its child: what STAND_IN prints."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env=env, cwd=code, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--code", type=Path, nargs="+", default=[ROOT],
                        help="checkouts whose serve_app the stand-in imports, alternated (default: this one)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "replica_main.py"
        script.write_text(STAND_IN)
        for _ in range(args.rounds):
            for code in args.code:
                rows.append({"code": str(code), **one_round(script, code)})
                print(json.dumps(rows[-1]), flush=True)
    for code in args.code:
        mine = [r for r in rows if r["code"] == str(code)]
        print(f"{code}: {len(mine)} rounds, mean: spawn -> warm {statistics.fmean(r['spawn_to_warm_s'] for r in mine):.2f}"
              f" s, child CPU {statistics.fmean(r['child_cpu_s'] for r in mine):.2f} s, "
              f"RSS {statistics.fmean(r['child_rss_mb'] for r in mine):.0f} MB, "
              f"Ray in the child {sum(r['ray_in_child'] for r in mine)} of {len(mine)}")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
