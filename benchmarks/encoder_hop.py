"""What one encoder call costs the BriefEncoder replica's process, against what encoding the same briefs costs
in-process: the replica's CPU (/proc, its idle background subtracted) per call, `encode_batch`'s CPU per call, and
the difference, which is the hop (Ray's task machinery, Serve's replica wrapper, (de)serialising, thread hand-offs).
Calls are sent from a driver on the same machine, one at a time and several in flight.

    python -m benchmarks.encoder_hop --briefs-per-call 16 --calls 300 --concurrency 1 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from benchmarks.cpu_by_process import snapshot
from benchmarks.workload import brief_mix

APP = "packdesign"  # the app name benchmarks.cpu_by_process knows its replicas by


def _encoder_cpu_s() -> float:
    """CPU seconds so far of the BriefEncoder replica (its role in the project's /proc reader)."""
    found = [cpu for cpu, role in snapshot().values() if role == "encoder"]
    if not found:
        raise RuntimeError("BriefEncoder replica process not found")
    return sum(found)


async def _sweep(payloads: list[list[bytes]], concurrency: list[int], idle_s: float) -> dict:
    from ray import serve

    handle = serve.get_deployment_handle("BriefEncoder", APP)
    await handle.encode_batch.remote(payloads[0])  # the router and connection, before any timing
    before = _encoder_cpu_s()
    await asyncio.sleep(idle_s)
    idle_cores = (_encoder_cpu_s() - before) / idle_s
    found = {"idle_cores": round(idle_cores, 4)}
    for n in concurrency:
        gate = asyncio.Semaphore(n)

        async def call(payload: list[bytes]) -> None:
            async with gate:
                await handle.encode_batch.remote(payload)

        before, started = _encoder_cpu_s(), time.perf_counter()
        await asyncio.gather(*(call(p) for p in payloads))
        wall = time.perf_counter() - started
        busy = _encoder_cpu_s() - before - idle_cores * wall
        found[n] = {"wall_s": round(wall, 2), "replica_cpu_ms_per_call": round(busy / len(payloads) * 1000, 2)}
    await serve.shutdown_async()  # on this loop, which the handle's router lives on
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--briefs-per-call", type=int, default=16)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4], help="calls in flight")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    args = parser.parse_args()
    os.environ.setdefault("RAY_SERVE_THROUGHPUT_OPTIMIZED", "1")  # as the shipped HAProxy variant runs

    import ray
    from ray import serve

    from contract.brief import Brief
    from pipeline.features import encode_batch, warm
    from serve_app.encoder import BriefEncoder

    k = args.briefs_per_call
    briefs = [Brief.model_validate(b) for b in brief_mix(args.calls * k, seed=11)]
    payloads = [[b.model_dump_json().encode() for b in briefs[i * k:(i + 1) * k]] for i in range(args.calls)]
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        serve.start(http_options={"host": "127.0.0.1", "port": 0})
        serve.run(BriefEncoder.bind(8_000_000), name=APP, route_prefix=None)
        found = asyncio.run(_sweep(payloads, args.concurrency, args.idle_seconds))
    finally:
        ray.shutdown()
    warm()
    started = time.process_time()
    for payload in payloads:  # what the replica does per call: parse the bytes, encode
        encode_batch([Brief.model_validate_json(raw) for raw in payload], 8_000_000)
    in_process = (time.process_time() - started) / args.calls * 1000
    found["encode_cpu_ms_per_call_in_process"] = round(in_process, 2)
    for n in args.concurrency:
        found[n]["hop_cpu_ms_per_call"] = round(found[n]["replica_cpu_ms_per_call"] - in_process, 2)
    print(json.dumps({"briefs_per_call": k, "calls": args.calls, "images": sum(bool(b.reference_image) for b in briefs),
                      **{str(key): value for key, value in found.items()}}))


if __name__ == "__main__":
    main()
