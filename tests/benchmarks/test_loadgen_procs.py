"""The multi-process load generator: every body distinct (and a valid brief), the schedule split over the
processes without gaps or repeats, and `lost` counting every answer that is neither a 200 nor a 503 with
Retry-After. Against a real threaded HTTP server on localhost; no assertion on wall-clock figures."""

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from benchmarks.loadgen import (MAX_KEYWORD_CHARS, arrival_times, constant, run_parallel, run_procs,
                                split_schedule, summarize_procs, to_results, unique_bodies)
from benchmarks.workload import brief_mix
from contract.brief import Brief

SLEEP_S = 8.0  # the "slow" kind sleeps past the client's timeout (4 s: ample for the others on a busy machine)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the proxies the generator is meant for

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.seen.append(hashlib.sha256(body).hexdigest())
        self.server.bodies.append(body)
        self.server.arrivals.append(time.time())
        kind = json.loads(body).get("kind", "ok") if body.startswith(b"{") else "ok"
        if kind == "drop":  # no answer at all: the client sees the connection close
            self.close_connection = True
            return
        if kind == "slow":
            time.sleep(SLEEP_S)
        status, headers = {"ok": (200, {}), "slow": (200, {}), "shed": (503, {"Retry-After": "1"}),
                           "bare503": (503, {}), "crash": (500, {})}[kind]
        payload = b'{"kind": "%s"}' % kind.encode()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # "slow": the client timed out and went away
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.request_queue_size = 512
    httpd.seen = []
    httpd.bodies = []
    httpd.arrivals = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


@pytest.fixture(scope="module")
def mix():
    return brief_mix(60, seed=3)


def test_every_body_is_distinct_and_a_valid_brief(mix):
    bodies = unique_bodies(mix, range(30_000), seed=1)
    assert len(set(bodies)) == len(bodies)
    assert bodies[:len(mix)] == [json.dumps(b, ensure_ascii=False).encode() for b in mix]  # first pass: the mix
    for body in bodies[::97]:
        brief = Brief.model_validate_json(body)  # the service's own contract accepts every variant
        assert len(brief.keywords) <= MAX_KEYWORD_CHARS
    assert unique_bodies(mix, [12_345], seed=1) == [bodies[12_345]]  # deterministic, by index alone
    assert unique_bodies(mix, [12_345], seed=2) != [bodies[12_345]]
    # Still the mix: num_schemes keeps its spread, briefs without brand colours stay without.
    counts = {n: sum(json.loads(b)["num_schemes"] == n for b in bodies) for n in (3, 4, 6)}
    assert sum(counts.values()) == len(bodies) and counts[3] > counts[4] and counts[3] > counts[6]
    assert all(bool(json.loads(bodies[i])["brand_colors"]) == bool(mix[i % len(mix)]["brand_colors"])
               for i in range(0, len(bodies), 101))


def test_schedule_split_is_exact_and_round_robin():
    schedule = arrival_times(lambda t: 1000.0 if t < 0.5 else 200.0, 1.0)  # a time-varying rate too
    parts = split_schedule(schedule, 3)
    merged = np.sort(np.concatenate(parts))
    assert np.array_equal(merged, np.arange(len(schedule)))
    assert [len(p) for p in parts] == [len(schedule[k::3]) for k in range(3)]


def test_processes_send_the_whole_schedule_once_with_distinct_bodies(server, mix):
    url = f"http://127.0.0.1:{server.server_port}"
    parts = run_procs(url, mix, constant(150.0), 1.0, procs=3, cpus=[0], warm_path=None)
    expected = len(arrival_times(constant(150.0), 1.0))
    indices = np.sort(np.concatenate([p["indices"] for p in parts]))
    assert np.array_equal(indices, np.arange(expected))
    assert all(p["cpus"] == [0] for p in parts) and len({p["pid"] for p in parts}) == 3
    summary = summarize_procs(parts, 1.0)
    assert summary["statuses"] == {"200": expected} and summary["lost"] == 0
    assert summary["distinct_bodies"] == expected
    assert len(server.seen) == expected and len(set(server.seen)) == expected  # the server saw each once


def test_several_briefs_a_request_are_distinct_valid_batches(server, mix):
    url = f"http://127.0.0.1:{server.server_port}"
    parts = run_procs(url, mix, constant(40.0), 1.0, procs=2, cpus=[0], path="/v1/recommend/batch",
                      briefs_per_request=5)
    expected = len(arrival_times(constant(40.0), 1.0))
    assert summarize_procs(parts, 1.0)["statuses"] == {"200": expected}
    assert len(set(server.seen)) == expected  # one body a request, each distinct
    # Request i carries briefs 5i .. 5i+4 of the run: the same bodies one brief a request would have sent.
    sent = sorted(tuple(json.dumps(b, ensure_ascii=False).encode() for b in json.loads(body)["briefs"])
                  for body in server.bodies)  # arrival order may differ from the schedule's between processes
    bodies = unique_bodies(mix, range(5 * expected), seed=0)
    assert sent == sorted(tuple(bodies[5 * i:5 * i + 5]) for i in range(expected))


def test_lost_counts_everything_but_200_and_503_with_retry_after(server):
    kinds = ["ok", "ok", "shed", "bare503", "crash", "drop", "slow"]
    payloads = [{"kind": k} for k in kinds]
    url = f"http://127.0.0.1:{server.server_port}"
    parts = run_procs(url, payloads, constant(70.0), 1.0, procs=2, unique=False, timeout_s=SLEEP_S / 2)
    results = to_results(parts)
    n = len(results)
    sent = [kinds[i % len(kinds)] for i in range(n)]
    summary = summarize_procs(parts, 1.0)
    expected_lost = sum(k in ("bare503", "crash", "drop", "slow") for k in sent)
    assert summary["lost"] == expected_lost, summary
    assert summary["statuses"]["200"] == sent.count("ok")
    assert summary["statuses"]["503"] == sent.count("shed") + sent.count("bare503")
    assert summary["rejected_503"] == sent.count("shed") + sent.count("bare503")
    lost_kinds = summary["lost_kinds"]
    assert lost_kinds['503 {"kind": "bare503"}'] == sent.count("bare503")
    assert lost_kinds['500 {"kind": "crash"}'] == sent.count("crash")
    assert lost_kinds["timeout"] == sent.count("slow")
    assert sum(v for k, v in lost_kinds.items() if k.startswith("error:")) == sent.count("drop")
    assert sum(lost_kinds.values()) == expected_lost


def test_start_at_is_when_sending_began_not_when_the_call_was_made(server, mix):
    # The spike report times the controller's events from `start_at`. The processes first encode their bodies
    # and open their pools (~20 s for a spike's ~54,000 bodies on the GPU node), so t = 0 comes well after the
    # call; taking "the call + 3 s" put every controller event of runs 4-6 that much late.
    called = time.time()
    results = run_parallel(f"http://127.0.0.1:{server.server_port}", mix * 200, constant(100.0), 0.5, processes=2,
                           cpus=[0], unique=True)
    first_sent = min(server.arrivals)
    assert results.start_at >= called + 0.5  # the generator's own start delay, after preparing
    assert results.start_at - 0.05 <= first_sent <= results.start_at + 0.5
    assert len(results) == len(server.arrivals)
