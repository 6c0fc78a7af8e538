"""One real Ray cluster + the Serve app from serve_config.yaml per test session, on loopback ports."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from benchmarks.local_cluster import Cluster

# Debian's chromium (`make setup` installs it; `playwright install` is never run). These flags work as root on a
# machine without a display or GPU, and keep Chromium off the network.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory) -> Cluster:
    with Cluster(tmp_path_factory.mktemp("serve")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def client(cluster) -> httpx.Client:
    with httpx.Client(base_url=cluster.base_url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (make setup installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
