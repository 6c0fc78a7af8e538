"""Open-loop load generator: requests leave on a schedule (constant or time-varying rate), whatever the
server's state, and each latency is measured from its *scheduled* send time, so a slow server shows up as
latency instead of silently lowering the offered load (no coordinated omission).

    python -m benchmarks.loadgen --url http://127.0.0.1:8000 --rate 50 --duration 30
    python -m benchmarks.loadgen --local-cluster --rate 15 25 35 --duration 20   # a rate sweep on a private cluster
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
import numpy as np


@dataclass
class Result:
    scheduled_s: float  # since the start of the run
    latency_ms: float  # from the scheduled send time to the end of the response
    status: int | str  # HTTP status, or "timeout" / "error:<client exception class>"
    retry_after: str | None = None  # the Retry-After header, if the answer had one (503 backpressure)
    detail: str | None = None  # start of the body of a non-200 answer: which layer refused, and why


def arrival_times(rate: Callable[[float], float], duration_s: float) -> list[float]:
    """Send times for a (possibly time-varying) rate in requests/s, evenly spaced at each instant."""
    times, t = [], 0.0
    while True:
        r = rate(t)
        t += 1.0 / r if r > 0 else 0.01
        if t >= duration_s:
            return times
        if r > 0:
            times.append(t)


@dataclass(frozen=True)
class PiecewiseRate:
    """A rate profile as (time s, requests/s) points, linear in between, flat after the last point.

    Picklable (unlike a lambda), so worker processes can share one profile; `share` splits it between them.
    """

    points: tuple[tuple[float, float], ...]
    share: float = 1.0

    def __call__(self, t: float) -> float:
        times = [p[0] for p in self.points]
        rates = [p[1] for p in self.points]
        return float(np.interp(t, times, rates)) * self.share

    def split(self, parts: int) -> PiecewiseRate:
        return PiecewiseRate(self.points, self.share / parts)


def constant(rate: float) -> PiecewiseRate:
    return PiecewiseRate(((0.0, rate),))


async def run(url: str, payloads: list[dict], rate: Callable[[float], float], duration_s: float,
              timeout_s: float = 30.0, path: str = "/v1/recommend", start_at: float | None = None,
              offset: int = 0) -> list[Result]:
    """Send on the schedule of `rate`; `start_at` (epoch seconds) lines several processes up on one clock.

    aiohttp, with every body JSON-encoded before the clock starts: measured on the 2-core machine at 60
    requests/s, an httpx client was the busiest process there (0.56 cores, more than the Serve proxy), and a
    load generator that starves the server it measures reports its own lag as the server's latency.
    """
    schedule = arrival_times(rate, duration_s)
    bodies = [json.dumps(p).encode() for p in payloads]
    connector = aiohttp.TCPConnector(limit=0, force_close=False)  # no client-side pool limit: open-loop
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(url, connector=connector, timeout=timeout, headers=headers) as session:
        start = time.perf_counter() + (max(0.0, start_at - time.time()) if start_at else 0.0)

        async def one(i: int, at: float) -> Result:
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            retry_after = detail = None
            try:
                async with session.post(path, data=bodies[(i + offset) % len(bodies)]) as response:
                    body = await response.read()
                    status: int | str = response.status
                    retry_after = response.headers.get("retry-after")
                    if status != 200:
                        detail = body[:160].decode(errors="replace")
            except TimeoutError:  # aiohttp's timeouts subclass it
                status = "timeout"
            except aiohttp.ClientError as exc:
                status = f"error:{exc.__class__.__name__}"  # which kind, so a report can say what broke
            return Result(at, (time.perf_counter() - start - at) * 1000.0, status, retry_after, detail)

        return list(await asyncio.gather(*(one(i, at) for i, at in enumerate(schedule))))


def _worker(args: tuple) -> list[Result]:
    url, payloads, rate, duration_s, timeout_s, start_at, offset = args
    return asyncio.run(run(url, payloads, rate, duration_s, timeout_s, start_at=start_at, offset=offset))


def run_parallel(url: str, payloads: list[dict], rate: PiecewiseRate, duration_s: float, processes: int = 1,
                 timeout_s: float = 30.0) -> list[Result]:
    """The same open-loop schedule spread over several processes (one Python client tops out at a few
    hundred requests/s); every process starts on the same wall-clock instant."""
    if processes <= 1:
        return asyncio.run(run(url, payloads, rate, duration_s, timeout_s))
    import multiprocessing

    start_at = time.time() + 3.0  # time for the spawned workers to import
    # Stagger the workers by a fraction of the combined inter-arrival time, so that together they send
    # evenly spaced requests rather than bursts of `processes` at once.
    shifts = [k / max(rate(0.0), 1e-9) for k in range(processes)]
    shifts = [min(shift, 1.0) for shift in shifts]
    jobs = [(url, payloads, rate.split(processes), duration_s, timeout_s, start_at + shift, k * 7919)
            for k, shift in enumerate(shifts)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_worker, jobs)
    merged = [Result(r.scheduled_s + shift, r.latency_ms, r.status, r.retry_after, r.detail)
              for part, shift in zip(parts, shifts) for r in part]
    return sorted(merged, key=lambda r: r.scheduled_s)


def summarize(results: list[Result], duration_s: float) -> dict:
    ok = [r.latency_ms for r in results if r.status == 200]
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    lat = np.array(ok) if ok else np.array([np.nan])
    return {
        "offered_qps": round(len(results) / duration_s, 1),
        "achieved_qps": round(len(ok) / duration_s, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p95_ms": round(float(np.percentile(lat, 95)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "max_ms": round(float(np.max(lat)), 1),
        "statuses": statuses,
        "errors": sum(v for k, v in statuses.items() if k != "200"),
        "rejected_503": statuses.get("503", 0),
    }


def sweep(url: str, payloads: list[dict], rates: list[float], duration_s: float) -> list[dict]:
    rows = []
    for rate in rates:
        results = asyncio.run(run(url, payloads, constant(rate), duration_s))
        rows.append({"rate": rate, **summarize(results, duration_s)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url")
    target.add_argument("--local-cluster", action="store_true", help="start serve_config.yaml on a private cluster")
    parser.add_argument("--rate", type=float, nargs="+", required=True, help="requests per second (several: a sweep)")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--briefs", type=int, default=500)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from benchmarks.workload import brief_mix

    payloads = brief_mix(args.briefs)
    if args.local_cluster:
        from serve_app.local_cluster import Cluster

        with Cluster(Path(tempfile.mkdtemp(prefix="loadgen"))) as cluster:
            with httpx.Client(base_url=cluster.base_url, timeout=60) as client:
                for brief in payloads[:20]:  # warm every replica's caches first
                    client.post("/v1/recommend", json=brief)
            rows = sweep(cluster.base_url, payloads, args.rate, args.duration)
    else:
        rows = sweep(args.url, payloads, args.rate, args.duration)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
