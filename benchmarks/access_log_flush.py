"""What Serve's access log costs a replica's event loop: Serve's own logger set-up, one access-log line a request.

    .venv/bin/python -m benchmarks.access_log_flush [--lines 5000] [--cpu 1]

Serve 2.60 configures each replica's logger with `configure_component_logger`: a `logging.MemoryHandler` of
`RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE` records (1 by default, 1,000 in throughput mode) in front of a rotating
file handler with the JSON formatter. The replica logs a line per request on its event loop, so whichever request
fills the buffer pays for formatting and writing all of them. This prints, per buffer size, the time of each
`logger.info` call: mean, p50 and the slowest (the flushes), on one pinned core.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time

from benchmarks import positive_int


def measure(buffer_size: int, lines: int, logs_dir: str) -> dict:
    from ray.serve._private.constants import SERVE_LOGGER_NAME
    from ray.serve._private.logging_utils import access_log_msg, configure_component_logger
    from ray.serve.schema import LoggingConfig

    configure_component_logger(component_name="Ingress", component_id=f"buffer{buffer_size}",
                               logging_config=LoggingConfig(encoding="JSON", logs_dir=logs_dir),
                               max_bytes=512 * 1024 * 1024, backup_count=1, buffer_size=buffer_size)
    logger = logging.getLogger(SERVE_LOGGER_NAME)
    extra = {"serve_access_log": True, "route": "/v1/recommend", "request_id": "0" * 36, "log_to_stderr": False}
    times = []
    for _ in range(lines):
        t0 = time.perf_counter()
        logger.info(access_log_msg(method="POST", route="/v1/recommend", status="200", latency_ms=12.3), extra=extra)
        times.append((time.perf_counter() - t0) * 1e3)
    for handler in logger.handlers:
        handler.flush()
    ordered = sorted(times)
    return {"buffer": buffer_size, "lines": lines, "mean_us": round(statistics.fmean(times) * 1e3, 1),
            "p50_us": round(ordered[len(ordered) // 2] * 1e3, 1), "max_ms": round(ordered[-1], 1),
            "calls_over_10_ms": sum(t > 10 for t in times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=positive_int, default=5000)
    parser.add_argument("--buffers", type=int, nargs="+", default=[1000, 100, 1])
    parser.add_argument("--cpu", type=int, help="core to pin to")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    with tempfile.TemporaryDirectory() as logs_dir:
        for buffer_size in args.buffers:
            print(measure(buffer_size, args.lines, logs_dir), flush=True)


if __name__ == "__main__":
    main()
