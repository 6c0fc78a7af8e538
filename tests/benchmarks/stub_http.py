"""A local HTTP server that answers `{}` after a fixed service time, for the load generator's and the sweeps' tests."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer


class JsonStub(BaseHTTPRequestHandler):
    service_s = 0.0  # one request at a time: capacity 1 / service_s requests a second

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.service_s:
            time.sleep(self.service_s)
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


class QueueingServer(HTTPServer):
    request_queue_size = 256  # queue connections rather than refuse them: the point is to queue


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The handler on a free localhost port, in a thread: yields its base URL."""
    server = QueueingServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
