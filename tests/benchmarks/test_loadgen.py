"""The load generator is open-loop: a server slower than the offered rate shows up as growing latency
measured from the scheduled send times, not as a lower request rate."""

import asyncio
import math
import time

import pytest
from stub_http import JsonStub, serving

from benchmarks.loadgen import arrival_times, run, summarize

SERVICE_S = 0.05  # a single-threaded server answering in 50 ms: capacity 20 requests/s


class _Slow(JsonStub):
    service_s = SERVICE_S


@pytest.fixture()
def slow_server():
    with serving(_Slow) as url:
        yield url


def test_arrival_times_follow_the_rate_including_a_spike():
    constant = arrival_times(lambda t: 50.0, 2.0)
    assert len(constant) == 99 and abs(constant[1] - constant[0] - 0.02) < 1e-9
    spike = arrival_times(lambda t: 100.0 if 1.0 <= t < 2.0 else 10.0, 3.0)
    in_spike = [t for t in spike if 1.0 <= t < 2.0]
    # The rate is read at each arrival, so the spike starts at most one old inter-arrival (0.1 s) late.
    assert 88 <= len(in_spike) <= 101 and len(spike) - len(in_spike) <= 22


def test_overload_shows_as_latency_not_as_lower_offered_load(slow_server):
    # Offer 40/s for 2 s to a 20/s server: the offered rate holds, and queueing delay accumulates.
    results = asyncio.run(run(slow_server, [{}], lambda t: 40.0, 2.0, path="/"))
    summary = summarize(results, 2.0)
    assert summary["offered_qps"] >= 39
    assert summary["errors"] == 0
    # The last requests wait behind ~40 others of 50 ms each; a closed-loop client would report ~50 ms.
    assert summary["max_ms"] > 1000 and summary["p50_ms"] > 5 * SERVICE_S * 1000
    late = [r.latency_ms for r in results if r.scheduled_s > 1.5]
    early = [r.latency_ms for r in results if r.scheduled_s < 0.5]
    assert min(late) > max(early)


def test_pools_are_sized_on_a_spikes_peak_not_its_mean():
    from benchmarks.loadgen import PiecewiseRate, busiest_second, pool_size
    from benchmarks.scenarios import spike_profile

    rate, duration_s, shape = spike_profile(2000.0, before_s=5.0, hold_s=5.0, after_s=5.0)
    schedule = arrival_times(rate, duration_s)
    mean = len(schedule) / duration_s
    assert mean < 0.7 * shape["peak"]
    assert busiest_second(schedule) == pytest.approx(shape["peak"], rel=0.02)
    assert pool_size(busiest_second(schedule) / 4, 0.25) == pytest.approx(2000 * 0.25 / 4, rel=0.02)
    flat = arrival_times(PiecewiseRate(((0.0, 300.0), (10.0, 300.0))), 10.0)
    assert busiest_second(flat) == pytest.approx(300, rel=0.02)


class _SlowWithTimings(_Slow):
    """Answers as the ingress does, with its own timings first; the handler's claimed 5 ms is all of the 50 ms
    service, so what the requests spend queued behind each other is outside it."""

    def do_POST(self):  # noqa: N802 - http.server's naming
        from pipeline.answer import answer_json

        self.rfile.read(int(self.headers.get("content-length", 0)))
        time.sleep(SERVICE_S)
        body = answer_json("r" * 32, "v1", "onnxruntime", {"encode": 1.0, "infer": 2.0, "post": 1.5, "total": 5.0},
                           b'[{"palette":{"text_contrast":7.1}}]')
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_answers_split_latency_into_handler_and_outside():
    from benchmarks.loadgen import answer_total_ms
    from pipeline.answer import answer_json

    real = answer_json("abc", "v1", "torch", {"encode": 1.25, "post": 3.5, "total": 12.75}, b"[]")
    assert answer_total_ms(real) == 12.75
    assert math.isnan(answer_total_ms(b'{"status":"ok"}'))  # no timings in the body

    with serving(_SlowWithTimings) as url:  # 30/s offered to a 20/s server: queueing grows, all of it outside
        results = asyncio.run(run(url, [{}], lambda t: 30.0, 1.5, path="/"))  # the 5 ms the handler reports
    split = summarize(results, 1.5)["split_ms"]
    assert split["handler_p50"] == split["handler_p99"] == 5.0
    assert split["outside_p99"] > 200 and split["slowest_1pct_outside_share"] > 0.9
