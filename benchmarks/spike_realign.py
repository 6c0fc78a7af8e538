"""The controller's events of a stored spike report, timed from the load's real t = 0.

    python -m benchmarks.spike_realign docs/bench/batch-first/run*/gpu-serve-haproxy-spike*.json

Reports written before 2026-12-04 (runs 4-6 and the first run-7 spike) timed `timeline` and `controller` from
"the call + 3 s", but the load generator sets t = 0 only once its processes have their bodies and pools (14-22 s
later for a spike's ~54,000 unique bodies on the H200 node). `summary.window[0]` is the real t = 0 (epoch), so
the offset is window[0] - started_at; this prints each scale-up decision and replica start after the ramp, as
reported and realigned. Newer reports are aligned already (offset 0).
"""

from __future__ import annotations

import argparse
import json


def realign(report: dict) -> dict:
    spike = report["spike"]
    offset = spike["summary"]["window"][0] - spike["started_at"]
    ramp = spike["shape"]["spike_start_s"]
    events = spike.get("controller", [])
    started: dict[str, list[float]] = {}
    for e in events:
        if e["event"] == "started" and e["t"] - offset > 0:
            started.setdefault(e["deployment"], []).append(round(e["t"] - offset - ramp, 1))
    return {"offset_s": round(offset, 2),
            "decisions": [{"deployment": e["deployment"], "from": e["from"], "to": e["to"],
                           "reported_after_ramp_s": round(e["t"] - ramp, 1),
                           "after_ramp_s": round(e["t"] - offset - ramp, 1)}
                          for e in events if e["event"] == "upscale"],
            "serving_after_ramp_s": started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="*", help="gpu_serve spike reports (JSON)")
    for path in parser.parse_args().reports:
        with open(path) as f:
            report = json.load(f)
        if "spike" not in report or "started_at" not in report["spike"]:
            continue
        print(path, json.dumps(realign(report)))


if __name__ == "__main__":
    main()
