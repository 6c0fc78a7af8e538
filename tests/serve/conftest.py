"""One real Ray cluster + the Serve app from serve_config.yaml per test session, on loopback ports."""

from __future__ import annotations

import httpx
import pytest

from benchmarks.local_cluster import Cluster


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Cluster:
    cluster = Cluster(tmp_path_factory.mktemp("serve"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def client(cluster) -> httpx.Client:
    with httpx.Client(base_url=cluster.base_url, timeout=60) as c:
        yield c
