"""A rate sweep hands over what it has measured after every rate, so a run killed mid-sweep (a stage's timeout on the
GPU node) still leaves its finished rows on disk."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from benchmarks import scenarios
from benchmarks.servers import Server


class _Fast(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    http = HTTPServer(("127.0.0.1", 0), _Fast)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield Server("fast", f"http://127.0.0.1:{http.server_port}")
    http.shutdown()


def test_each_rate_is_handed_over_as_it_is_measured(server):
    seen = []
    result = scenarios.rate_sweep(server, [{}], [10.0, 20.0], 0.5, on_step=seen.append)
    assert [[row["rate"] for row in sweep["rows"]] for sweep in seen] == [[10.0], [10.0, 20.0]]
    assert seen[-1] == result
    assert seen[0]["max_rate_at_slo"] == 10.0 and result["max_rate_at_slo"] == 20.0
