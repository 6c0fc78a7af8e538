"""Prometheus metrics for the ingress's HTTP traffic, exported by Ray with the `ray_` prefix:

- `packdesign_http_requests_total{route, method, code}`: every answer, by route template and status code;
- `packdesign_http_errors_total{route, code}`: the 4xx/5xx subset, so alerts need no label arithmetic;
- `packdesign_http_request_latency_ms{route, method}`: time to the end of the response.

Routes are FastAPI route templates (`/v1/recommend`), or `unmatched`, so label cardinality stays bounded
whatever paths clients send. The metric objects are created when the Ingress replica builds its app
(`install(app)`): Ray metrics belong in a Ray worker, not in whichever process happens to import this module.
"""

# No `from __future__ import annotations`: kept consistent with the FastAPI ingress modules.
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BOUNDARIES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000]


class _Metrics:
    def __init__(self) -> None:
        from ray.serve.metrics import Counter, Histogram

        self.requests = Counter("packdesign_http_requests", description="HTTP answers by route and status code.",
                                tag_keys=("route", "method", "code"))
        self.errors = Counter("packdesign_http_errors", description="HTTP 4xx/5xx answers by route and code.",
                              tag_keys=("route", "code"))
        self.latency = Histogram("packdesign_http_request_latency_ms", description="HTTP request latency.",
                                 boundaries=LATENCY_BOUNDARIES_MS, tag_keys=("route", "method"))


class RequestMetrics:
    """Outermost middleware: counts every answer, the guards' 401/413/415 included."""

    def __init__(self, app: ASGIApp, metrics: _Metrics | None) -> None:
        self.app = app
        self.metrics = metrics
        self._api_paths: frozenset[str] | None = None

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")  # FastAPI puts the matched route into the scope
        if route is not None:
            return route.path
        # Answered before routing (the guards' 401/413/415): label it with the API path it was sent to, if it
        # is one (the API's paths have no parameters), so a 415 on /v1/recommend is counted as /v1/recommend.
        if self._api_paths is None and hasattr(scope.get("app"), "openapi"):
            self._api_paths = frozenset(scope["app"].openapi().get("paths", {}))
        return scope.get("path", "") if scope.get("path", "") in (self._api_paths or ()) else "unmatched"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = self.metrics
        if scope["type"] != "http" or metrics is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception before any answer reaches the client as a 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route, method, code = self._route(scope), scope.get("method", ""), str(status)
            metrics.requests.inc(tags={"route": route, "method": method, "code": code})
            if status >= 400:
                metrics.errors.inc(tags={"route": route, "code": code})
            metrics.latency.observe((time.perf_counter() - started) * 1000, tags={"route": route, "method": method})


def install(app, enabled: bool = True) -> None:
    """enabled=False outside a Ray worker (in-process tests of the app): no metric objects are made."""
    app.add_middleware(RequestMetrics, metrics=_Metrics() if enabled else None)
