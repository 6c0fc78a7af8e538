"""Prometheus metrics scraped from the test cluster's metrics export port after real requests."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow

BRIEF = {"product_category": "beverage", "package_format": "can", "keywords": "summer", "num_schemes": 2}


def scrape(cluster) -> list:
    text = httpx.get(f"http://127.0.0.1:{cluster.metrics_port}/metrics", timeout=10).text
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def total(samples, name: str, **labels) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_are_exported(cluster, client):
    assert client.post("/v1/recommend", json=BRIEF).status_code == 200
    assert client.post("/v1/recommend", json={**BRIEF, "package_format": "zeppelin"}).status_code == 422
    assert client.post("/v1/recommend", content=b"x", headers={"content-type": "text/plain"}).status_code == 415
    assert client.get("/v1/options").status_code == 200
    assert client.get("/v1/no-such-route-xyz").status_code == 404

    wanted = {
        # Ours, from the ingress middleware: by route and code, guard rejections included.
        ("ray_packdesign_http_requests_total", (("route", "/v1/recommend"), ("code", "200"), ("method", "POST"))),
        ("ray_packdesign_http_requests_total", (("route", "/v1/recommend"), ("code", "422"))),
        ("ray_packdesign_http_requests_total", (("route", "/v1/recommend"), ("code", "415"))),
        ("ray_packdesign_http_requests_total", (("route", "/v1/options"), ("code", "200"))),
        ("ray_packdesign_http_requests_total", (("route", "unmatched"), ("code", "404"))),
        ("ray_packdesign_http_errors_total", (("route", "/v1/recommend"), ("code", "422"))),
        ("ray_packdesign_http_request_latency_ms_count", (("route", "/v1/recommend"),)),
        # The ingress's micro-batch stages and its event loop's lag (sampled from the first request on).
        ("ray_packdesign_ingress_stage_ms_count", (("stage", "post"),)),
        ("ray_packdesign_ingress_loop_lag_ms_count", ()),
        # The recommender's: batch sizes and backend latency.
        ("ray_packdesign_batch_size_count", ()),
        ("ray_packdesign_backend_latency_ms_count", ()),
        # Ray Serve's own: queue depth in front of replicas, and per-replica work.
        ("ray_serve_deployment_queued_queries", (("deployment", "Recommender"),)),
        ("ray_serve_replica_processing_queries", ()),
        ("ray_serve_deployment_request_counter_total", (("deployment", "Ingress"),)),
    }
    deadline = time.monotonic() + 90  # Ray exports on an interval (10 s by default)
    missing = wanted
    while missing and time.monotonic() < deadline:
        samples = scrape(cluster)
        missing = {(name, labels) for name, labels in wanted
                   if not any(s.name == name and all(s.labels.get(k) == v for k, v in labels)
                              for s in samples)}
        if missing:
            time.sleep(2)
    assert not missing, sorted(missing)
    counted = total(samples, "ray_packdesign_http_requests_total", route="/v1/recommend", code="200")
    assert counted >= 1
    # The label set stays bounded: an unknown path is counted as "unmatched", never under its own name.
    routes = {s.labels["route"] for s in samples if s.name == "ray_packdesign_http_requests_total"}
    assert "/v1/no-such-route-xyz" not in routes
    assert total(samples, "ray_packdesign_http_requests_total", route="unmatched", code="404") >= 1
