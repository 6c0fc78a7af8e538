"""Open-loop load generator: requests leave on a schedule (constant or time-varying rate), whatever the
server's state, and each latency is measured from its *scheduled* send time, so a slow server shows up as
latency instead of silently lowering the offered load (no coordinated omission).

    python -m benchmarks.loadgen --url http://127.0.0.1:8000 --rate 50 --duration 30
    python -m benchmarks.loadgen --local-cluster --rate 15 25 35 --duration 20   # a rate sweep on a private cluster
    python -m benchmarks.loadgen --url http://127.0.0.1:8000 --rate 15000 --duration 20 --procs 8 --cpus 8-15

With --procs N the schedule is split round-robin over N processes (request i goes to process i mod N, so
together they keep the exact schedule, constant or not), each pinned to the cores it reports, each with
its own connection pool sized for its share, every body distinct (`unique_bodies`) and encoded before
the clock starts; the results are merged, with each process' send lag (how late it sent against the
schedule: the generator's own health) next to the server's latency.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import hashlib
import json
import math
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np


@dataclass
class Result:
    scheduled_s: float  # since the start of the run
    latency_ms: float  # from the scheduled send time to the end of the response
    status: int | str  # HTTP status, or "timeout" / "error:<client exception class>"
    retry_after: str | None = None  # the Retry-After header, if the answer had one (503 backpressure)
    detail: str | None = None  # start of the body of a non-200 answer: which layer refused, and why
    server_ms: float = float("nan")  # the answer's own timings_ms.total (handler to bytes written), where it has one


_TOTAL_KEY = b'"total":'


def answer_total_ms(body: bytes) -> float:
    """`timings_ms.total` of a /v1/recommend answer without parsing its ~8 KB: the ingress's time from the
    brief's admission to its answer bytes. Client latency minus this is what the request spent outside the
    handler (proxy, HTTP server, Serve's request path, the client), which tells a tail in the app's stages from
    one in the framework. NaN where the body has none (other routes, a no-op server)."""
    at = body.find(_TOTAL_KEY, 0, 400)  # the timings come first, before the schemes
    if at < 0:
        return float("nan")
    end = at + len(_TOTAL_KEY)
    stop = min(x for x in (body.find(b",", end), body.find(b"}", end)) if x >= 0)
    try:
        return float(body[end:stop])
    except ValueError:
        return float("nan")


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
            server = float("nan")
            try:
                async with session.post(path, data=bodies[(i + offset) % len(bodies)]) as response:
                    body = await response.read()
                    status: int | str = response.status
                    retry_after = response.headers.get("retry-after")
                    if status != 200:
                        detail = body[:160].decode(errors="replace")
                    else:
                        server = answer_total_ms(body)
            except TimeoutError:  # aiohttp's timeouts subclass it
                status = "timeout"
            except aiohttp.ClientError as exc:
                status = f"error:{exc.__class__.__name__}"  # which kind, so a report can say what broke
            return Result(at, (time.perf_counter() - start - at) * 1000.0, status, retry_after, detail, server)

        return list(await asyncio.gather(*(one(i, at) for i, at in enumerate(schedule))))


# --- distinct bodies -------------------------------------------------------------------------------------

MAX_KEYWORD_CHARS = 200  # contract.brief's limit; kept as a literal so workers need not import pydantic
_SUFFIX_ROOM = 60  # at most 3 suffix tokens of <= 16 characters with separators (enough for 16.7M cycles)
_SPLIT = re.compile(r"\s*[,，、;]\s*")


def _tokens(keywords: str) -> list[str]:
    """Keyword phrases as clients write them: comma-separated phrases, or space-separated Chinese words."""
    out = []
    for phrase in _SPLIT.split(keywords):
        words = phrase.split() if not any(ch.isascii() and ch.isalpha() for ch in phrase) else [phrase]
        out += [w.strip() for w in words if w.strip()]
    return out


def _vocabulary(base: Sequence[dict]) -> dict[str, list[str]]:
    """Keyword tokens of the mix by script (en / zh), short and comma-free, in a fixed order."""
    vocab: dict[str, set[str]] = {"en": set(), "zh": set()}
    for brief in base:
        for token in _tokens(brief.get("keywords", "")):
            if len(token) <= 16 and "," not in token:
                vocab["en" if token.isascii() else "zh"].add(token)
    return {k: sorted(v) for k, v in vocab.items()}


def _suffix(k: int, vocab: list[str]) -> list[str]:
    """k >= 1 as bijective base-len(vocab) digits: distinct k, distinct token sequences."""
    out, base = [], len(vocab)
    while k > 0:
        k -= 1
        out.append(vocab[k % base])
        k //= base
    return out


def unique_bodies(base: Sequence[dict], indices: Sequence[int], seed: int = 0) -> list[bytes]:
    """JSON bodies for global request indices, each distinct within a run of any length.

    Request i is brief i mod len(base) of the realistic mix, unchanged on the first pass (cycle 0). On cycle
    k >= 1 it gains k written as 1-3 keyword tokens of its own script taken from the mix (which makes it
    distinct: the base keywords are cut to a fixed length first, so the suffix alone tells cycles apart),
    and, as a client fleet would, brand colours moved a little and num_schemes drawn again (seeded by
    (seed, i): the same run twice sends the same bodies). Reference images repeat with their brief; no
    layer caches on the image alone.
    """
    vocab = _vocabulary(base)
    both = sorted(set(vocab["en"]) | set(vocab["zh"]))
    bodies = []
    for i in indices:
        k, b = divmod(i, len(base))
        brief = base[b]
        if k:
            rng = random.Random(seed * 1_000_003 + i)
            brief = copy.copy(brief)
            keywords = brief.get("keywords", "")
            if len(keywords) > MAX_KEYWORD_CHARS - _SUFFIX_ROOM:
                keywords = keywords[:MAX_KEYWORD_CHARS - _SUFFIX_ROOM].rstrip(" ,")
            script = "en" if keywords.isascii() else ("zh" if not any(c.isascii() and c.isalpha() for c in keywords)
                                                      else "mixed")
            words = vocab.get(script) or both
            # A per-brief order of the vocabulary, so that cycles of different briefs add different words.
            order = random.Random(seed * 7919 + b).sample(words, len(words))
            extra = ", ".join(_suffix(k, order))
            brief["keywords"] = f"{keywords}, {extra}" if keywords else extra
            if brief.get("brand_colors"):
                brief["brand_colors"] = ["#" + "".join(f"{min(255, max(0, int(c[j:j + 2], 16) + rng.randint(-12, 12))):02x}"
                                                       for j in (1, 3, 5)) for c in brief["brand_colors"]]
            if "num_schemes" in brief:
                brief["num_schemes"] = rng.choice([3, 3, 3, 4, 6])
        bodies.append(json.dumps(brief, ensure_ascii=False).encode())
    return bodies


def body_digest(body: bytes) -> int:
    """A 63-bit digest, equal across processes (Python's own hash() is salted per process)."""
    return int.from_bytes(hashlib.blake2b(body, digest_size=8).digest(), "little") >> 1


# --- several processes ---------------------------------------------------------------------------------------

# Negative status codes in the compact per-process results (the Result objects carry the strings).
_TIMEOUT, _ERROR = -1, -2


def split_schedule(schedule: Sequence[float], procs: int) -> list[np.ndarray]:
    """Global request indices per process, round-robin: each gets every procs-th request, so together they
    keep the schedule exactly (also a time-varying one) and each one's share is evenly spaced."""
    n = len(schedule)
    return [np.arange(k, n, procs, dtype=np.int64) for k in range(procs)]


def parse_cpus(text: str | None) -> list[int]:
    """'0-3,8' -> [0, 1, 2, 3, 8]; None -> the cores this process may run on."""
    if not text:
        return sorted(os.sched_getaffinity(0))
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus += list(range(int(lo), int(hi or lo) + 1))
    return cpus


def busiest_second(schedule: np.ndarray) -> int:
    """Sends scheduled in the schedule's busiest whole second. Pools are sized on it, not on the mean rate: sized
    on a spike's mean the pools held the spike's excess inside the generator (259 connections for a 200 -> 2,000
    req/s spike), so the server never saw the overload its admission answers with 503s, and the queue showed up
    as seconds of client-side wait."""
    return int(np.bincount(np.asarray(schedule).astype(np.int64)).max()) if len(schedule) else 0


def pool_size(rate_per_proc: float, pool_s: float) -> int:
    """Connections one process keeps: its rate times `pool_s` seconds of latency (Little's law), at least 8.
    Past that, requests wait for a connection inside the process, still timed from their schedule."""
    return max(8, math.ceil(rate_per_proc * pool_s))


@dataclass
class Job:
    url: str
    path: str
    times: np.ndarray  # scheduled send times (s from start) of this process' requests, ascending
    indices: np.ndarray  # their global indices
    base: list[dict]  # the mix; bodies come from it by index
    unique: bool  # True: unique_bodies; False: base[i mod len(base)] (the old cycling mix)
    seed: int
    cpus: list[int]
    connections: int
    timeout_s: float
    warm_path: str | None  # GET this with `connections` requests at once before the clock: open the pool
    briefs_per_request: int = 1  # > 1: request i carries briefs i*k .. i*k+k-1 as {"briefs": [...]} (the batch route)


async def _drive(job: Job, bodies: list[bytes], out: dict, ready: Callable[[], float]) -> None:
    n = len(job.times)
    status = np.zeros(n, np.int16)
    latency = np.full(n, np.nan)
    lag = np.full(n, np.nan)
    server = np.full(n, np.nan)
    details: dict[int, tuple[str, str | None, str | None]] = {}  # index in job -> (status, retry-after, body)
    connector = aiohttp.TCPConnector(limit=job.connections, limit_per_host=job.connections, force_close=False,
                                     ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=job.timeout_s)
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(job.url, connector=connector, timeout=timeout, headers=headers,
                                     skip_auto_headers=("User-Agent",)) as session:
        if job.warm_path:
            async def warm() -> None:
                try:
                    async with session.get(job.warm_path) as response:
                        await response.read()
                except (aiohttp.ClientError, TimeoutError):
                    pass
            await asyncio.gather(*(warm() for _ in range(job.connections)))
        start_at = ready()  # blocks until every process is ready; returns the shared t = 0 (epoch seconds)
        clock = time.perf_counter
        start = clock() + (start_at - time.time())
        times, path = job.times, job.path

        async def one(j: int) -> None:
            at = times[j]
            lag[j] = clock() - start - at
            try:
                async with session.post(path, data=bodies[j]) as response:
                    body = await response.read()
                    status[j] = response.status
                    if response.status == 200:
                        server[j] = answer_total_ms(body)
                    else:
                        details[j] = (str(response.status), response.headers.get("retry-after"),
                                      body[:160].decode(errors="replace"))
            except TimeoutError:
                status[j] = _TIMEOUT
                details[j] = ("timeout", None, None)
            except aiohttp.ClientError as exc:
                status[j] = _ERROR
                details[j] = (f"error:{exc.__class__.__name__}", None, None)
            latency[j] = (clock() - start - at) * 1000.0

        # One dispatcher instead of a sleeping coroutine per request: a timer heap of tens of thousands of
        # sleepers costs more than the sends. It launches every request that is due, then sleeps to the next.
        pending: set[asyncio.Task] = set()
        j = 0
        while j < n:
            now = clock() - start
            while j < n and times[j] <= now:
                task = asyncio.ensure_future(one(j))
                pending.add(task)
                task.add_done_callback(pending.discard)
                j += 1
            if j < n:
                await asyncio.sleep(max(0.0, times[j] - (clock() - start)))
        if pending:
            await asyncio.gather(*pending)
    out.update(status=status, latency_ms=latency, lag_ms=lag * 1000.0, server_ms=server, details=details)


def pin(cpus: list[int]) -> bool:
    """Pin this process to `cpus`; False where the kernel refuses (a sandbox may not implement it)."""
    try:
        os.sched_setaffinity(0, cpus)
        return True
    except (OSError, AttributeError):
        return False


def _job_worker(job: Job, ready: Callable[[], float]) -> dict:
    if job.cpus:
        pin(job.cpus)  # what it got is reported ("cpus" below), whether or not pinning worked
    prepared = time.perf_counter()
    # Bodies first, all of them, before the clock: encoding is not part of any request's latency.
    k = job.briefs_per_request
    brief_indices = [i * k + j for i in job.indices.tolist() for j in range(k)]
    if job.unique:
        bodies = unique_bodies(job.base, brief_indices, job.seed)
    else:
        encoded = [json.dumps(p).encode() for p in job.base]
        bodies = [encoded[i % len(encoded)] for i in brief_indices]
    if k > 1:
        bodies = [b'{"briefs":[' + b",".join(bodies[r * k:(r + 1) * k]) + b"]}" for r in range(len(job.indices))]
    digests = np.fromiter((body_digest(b) for b in bodies), np.int64, len(bodies))
    try:
        import uvloop  # the GPU image and the venv have it; plain asyncio otherwise
        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    # The bodies and schedule are long-lived: out of the collector's sight, and collections rarer, so that a
    # full collection over ~10^5 objects does not stall the sends for tens of milliseconds mid-run.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 1000)
    out: dict = {}
    prepare_s = time.perf_counter() - prepared
    cpu0 = time.process_time()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_drive(job, bodies, out, ready))
    return {"pid": os.getpid(), "cpus": sorted(os.sched_getaffinity(0)), "connections": job.connections,
            "requests": len(bodies), "cpu_s": time.process_time() - cpu0, "prepare_s": prepare_s,
            "digests": digests, "indices": job.indices, "times": job.times, **out}


def _process_main(k: int, job: Job, barrier, start_value, queue) -> None:
    def ready() -> float:
        barrier.wait()  # 1: this process has its bodies and its connections
        barrier.wait()  # 2: the parent has written t = 0
        return start_value.value

    try:
        queue.put((k, _job_worker(job, ready)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
        barrier.abort()
        import traceback

        queue.put((k, RuntimeError(f"load generator process {k}: {exc!r}\n{traceback.format_exc()[-3000:]}")))


def run_procs(url: str, base: list[dict], rate: Callable[[float], float], duration_s: float, procs: int = 1,
              cpus: list[int] | None = None, unique: bool = True, seed: int = 0, timeout_s: float = 30.0,
              path: str = "/v1/recommend", pool_s: float = 0.25, warm_path: str | None = None,
              start_delay_s: float = 0.5, prepare_timeout_s: float = 600.0,
              briefs_per_request: int = 1) -> list[dict]:
    """The open-loop schedule of `rate` over `procs` processes; returns each process' raw results.

    `cpus`: the cores the processes are pinned to, round-robin (one core each while there are enough).
    t = 0 is set only once every process has encoded its bodies and opened its pool (a barrier), plus
    `start_delay_s`: a slow start (a busy machine, a large run) delays the run instead of making it late.
    """
    import multiprocessing
    import queue as queue_module

    schedule = np.asarray(arrival_times(rate, duration_s))
    parts = split_schedule(schedule, procs)
    cpus = cpus if cpus is not None else parse_cpus(None)
    per_proc_rate = busiest_second(schedule) / procs
    jobs = [Job(url, path, schedule[idx], idx, base, unique, seed, [cpus[k % len(cpus)]] if cpus else [],
                pool_size(per_proc_rate, pool_s), timeout_s, warm_path, briefs_per_request)
            for k, idx in enumerate(parts)]
    # Separate processes even for one: pinning applies to them, never to the caller.
    ctx = multiprocessing.get_context("spawn")
    barrier, start_value, results_queue = ctx.Barrier(procs + 1), ctx.Value("d", 0.0), ctx.Queue()
    workers = [ctx.Process(target=_process_main, args=(k, job, barrier, start_value, results_queue), daemon=True)
               for k, job in enumerate(jobs)]
    for worker in workers:
        worker.start()
    results: list = [None] * procs
    try:
        barrier.wait(timeout=prepare_timeout_s)
        start_value.value = time.time() + start_delay_s
        barrier.wait(timeout=60)
    except Exception:  # a process failed while preparing (it aborted the barrier) or never got ready
        pass
    deadline = time.monotonic() + duration_s + timeout_s + prepare_timeout_s
    try:
        for _ in range(procs):
            k, result = results_queue.get(timeout=max(1.0, deadline - time.monotonic()))
            results[k] = result
    except queue_module.Empty:
        raise RuntimeError("load generator processes did not report back") from None
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    for result in results:
        if isinstance(result, BaseException):
            raise result
        result["start_at"] = start_value.value
    return results


def to_results(parts: list[dict]) -> list[Result]:
    """Raw per-process results as Result objects, in schedule order."""
    results = []
    for part in parts:
        server = part["server_ms"].tolist()
        for j, (at, status, latency) in enumerate(zip(part["times"].tolist(), part["status"].tolist(),
                                                      part["latency_ms"].tolist())):
            detail = part["details"].get(j)
            if detail:
                results.append(Result(at, latency, int(detail[0]) if detail[0].isdigit() else detail[0],
                                      detail[1], detail[2]))
            else:
                results.append(Result(at, latency, status, server_ms=server[j]))
    return sorted(results, key=lambda r: r.scheduled_s)


def summarize_procs(parts: list[dict], duration_s: float) -> dict:
    """The summary of `summarize`, plus the generator's own figures per process and body uniqueness."""
    summary = summarize(to_results(parts), duration_s)
    digests = np.concatenate([p["digests"] for p in parts])
    lag = np.concatenate([p["lag_ms"] for p in parts])
    summary["distinct_bodies"] = int(np.unique(digests).size)
    summary["send_lag_ms"] = {"p50": round(float(np.nanpercentile(lag, 50)), 2),
                              "p99": round(float(np.nanpercentile(lag, 99)), 2),
                              "max": round(float(np.nanmax(lag)), 2)}
    summary["procs"] = [{"pid": p["pid"], "cpus": p["cpus"], "connections": p["connections"],
                         "requests": p["requests"], "offered_qps": round(p["requests"] / duration_s, 1),
                         "cpu_s": round(p["cpu_s"], 2), "prepare_s": round(p["prepare_s"], 2),
                         # CPU per request (sends, answers, pool, loop): 1e6 / this = what one core offers
                         "cpu_us_per_request": round(1e6 * p["cpu_s"] / max(1, p["requests"]), 1),
                         "send_lag_p99_ms": round(float(np.nanpercentile(p["lag_ms"], 99)), 2)} for p in parts]
    return summary


def run_parallel(url: str, payloads: list[dict], rate: PiecewiseRate, duration_s: float, processes: int = 1,
                 timeout_s: float = 30.0, cpus: list[int] | None = None, unique: bool = False,
                 pool_s: float = 0.25, path: str = "/v1/recommend", briefs_per_request: int = 1) -> list[Result]:
    """The same open-loop schedule spread over several processes (one Python client tops out at a few
    thousand requests/s); the payloads cycle (request i sends payloads[i mod len]) unless `unique`, which
    makes every body distinct; `cpus` pins the processes; `briefs_per_request` > 1 sends that many briefs a
    request to `path` (the batch route)."""
    if processes <= 1 and not unique and not cpus and briefs_per_request == 1:
        started = time.time()
        return Results(asyncio.run(run(url, payloads, rate, duration_s, timeout_s, path=path)), started)
    parts = run_procs(url, payloads, rate, duration_s, processes, cpus=cpus, unique=unique, timeout_s=timeout_s,
                      pool_s=pool_s, path=path, briefs_per_request=briefs_per_request)
    return Results(to_results(parts), parts[0]["start_at"] if parts else time.time())


class Results(list):
    """Results, plus `start_at`: the epoch time of the schedule's t = 0 (so a CPU probe can count exactly the
    sending window, not the generator's preparation)."""

    def __init__(self, items, start_at: float) -> None:
        super().__init__(items)
        self.start_at = start_at



def lost_breakdown(results: list[Result]) -> tuple[int, dict[str, int]]:
    """Requests that got neither a 200 nor a 503 with Retry-After, and what they got, by status and the start
    of the answer's body (request ids masked so that one kind groups)."""
    kinds: dict[str, int] = {}
    lost = 0
    for r in results:
        if r.status == 200 or (r.status == 503 and r.retry_after):
            continue
        lost += 1
        detail = re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "<id>", r.detail or "")
        key = f"{r.status} {detail[:100]}".strip()
        kinds[key] = kinds.get(key, 0) + 1
    return lost, kinds


def summarize(results: list[Result], duration_s: float) -> dict:
    ok = [r.latency_ms for r in results if r.status == 200]
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    lat = np.array(ok) if ok else np.array([np.nan])
    lost, kinds = lost_breakdown(results)
    summary = {
        "offered_qps": round(len(results) / duration_s, 1),
        "achieved_qps": round(len(ok) / duration_s, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p95_ms": round(float(np.percentile(lat, 95)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "max_ms": round(float(np.max(lat)), 1),
        "statuses": statuses,
        "errors": sum(v for k, v in statuses.items() if k != "200"),
        "rejected_503": statuses.get("503", 0),
        "lost": lost,  # neither answered nor explicitly refused with 503 + Retry-After
    }
    if kinds:
        summary["lost_kinds"] = kinds
    timed = np.array([(r.server_ms, r.latency_ms) for r in results if r.status == 200 and not math.isnan(r.server_ms)])
    if len(timed):  # where the time went: in the handler (the answer's own total) vs around it
        handler, latency = timed[:, 0], timed[:, 1]
        outside = latency - handler
        slowest = latency >= np.percentile(latency, 99)
        summary["split_ms"] = {
            "handler_p50": round(float(np.percentile(handler, 50)), 1),
            "handler_p99": round(float(np.percentile(handler, 99)), 1),
            "outside_p50": round(float(np.percentile(outside, 50)), 1),
            "outside_p99": round(float(np.percentile(outside, 99)), 1),
            # of the slowest 1 %: the share of their latency spent outside the handler
            "slowest_1pct_outside_share": round(float(np.mean(outside[slowest] / latency[slowest])), 3),
        }
    return summary


def route_for(briefs_per_request: int) -> str:
    """The route a request of this many briefs goes to."""
    return "/v1/recommend/batch" if briefs_per_request > 1 else "/v1/recommend"


def brief_rates(summary: dict, briefs_per_request: int) -> dict:
    """With several briefs a request, the rates in briefs (the rates above count requests)."""
    if briefs_per_request == 1:
        return {}
    return {"briefs_per_request": briefs_per_request,
            "offered_briefs_per_s": round(summary["offered_qps"] * briefs_per_request, 1),
            "achieved_briefs_per_s": round(summary["achieved_qps"] * briefs_per_request, 1)}


def sweep(url: str, payloads: list[dict], rates: list[float], duration_s: float, procs: int = 1,
          cpus: list[int] | None = None, unique: bool = True, pool_s: float = 0.25, path: str = "/v1/recommend",
          warm_path: str | None = None, timeout_s: float = 30.0, briefs_per_request: int = 1) -> list[dict]:
    rows = []
    for rate in rates:
        parts = run_procs(url, payloads, constant(rate), duration_s, procs, cpus, unique=unique, pool_s=pool_s,
                          path=path, warm_path=warm_path, timeout_s=timeout_s, briefs_per_request=briefs_per_request)
        summary = summarize_procs(parts, duration_s)
        rows.append({"rate": rate, **summary, **brief_rates(summary, briefs_per_request)})
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url")
    target.add_argument("--local-cluster", action="store_true", help="start serve_config.yaml on a private cluster")
    parser.add_argument("--rate", type=float, nargs="+", required=True, help="requests per second (several: a sweep)")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--briefs", type=int, default=500, help="size of the realistic mix the bodies come from")
    parser.add_argument("--procs", type=int, default=1, help="sending processes; the schedule is split round-robin")
    parser.add_argument("--cpus", help="cores to pin the processes to, e.g. 8-15 (default: all this one may use)")
    parser.add_argument("--pool-s", type=float, default=0.25,
                        help="connections per process = its rate x this many seconds (at least 8)")
    parser.add_argument("--path", help="default /v1/recommend, or /v1/recommend/batch with --briefs-per-request")
    parser.add_argument("--briefs-per-request", type=int, default=1,
                        help="> 1: that many distinct briefs a request, to the batch route")
    parser.add_argument("--warm-path", help="GET this once per pooled connection before the clock (opens the pool)")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--cycle", action="store_true", help="send the mix cyclically (the old behaviour) "
                        "instead of a distinct body per request")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from benchmarks.workload import brief_mix

    payloads = brief_mix(args.briefs)
    path = args.path or route_for(args.briefs_per_request)
    options = dict(procs=args.procs, cpus=parse_cpus(args.cpus), unique=not args.cycle, pool_s=args.pool_s,
                   path=path, warm_path=args.warm_path, timeout_s=args.timeout,
                   briefs_per_request=args.briefs_per_request)
    if args.local_cluster:
        from benchmarks.local_cluster import Cluster

        with Cluster(Path(tempfile.mkdtemp(prefix="loadgen"))) as cluster:
            import httpx

            with httpx.Client(base_url=cluster.base_url, timeout=60) as client:
                for brief in payloads[:20]:  # warm every replica's caches first
                    client.post("/v1/recommend", json=brief)
            rows = sweep(cluster.base_url, payloads, args.rate, args.duration, **options)
    else:
        rows = sweep(args.url, payloads, args.rate, args.duration, **options)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
