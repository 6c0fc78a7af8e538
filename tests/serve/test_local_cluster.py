"""The local cluster the serve tests and benchmarks start: a `ray start` that fails says why, and one whose
picked port was taken meanwhile is started again on fresh ports (a fresh-clone CI run once lost a test module's
cases to "ray start exited with 1", its output sent nowhere)."""

from __future__ import annotations

import socket

import httpx
import pytest

from benchmarks.local_cluster import Cluster, one_replica_each


@pytest.mark.slow
def test_a_taken_port_is_reported_and_started_again_on_fresh_ports(tmp_path, capfd):
    cluster = Cluster(tmp_path, config_overrides=one_replica_each)
    first = cluster.gcs_port
    taken = socket.socket()  # the GCS port picked free, taken by someone else before `ray start` binds it
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.bind(("127.0.0.1", first))
    taken.listen()
    try:
        cluster.start()
        assert cluster.gcs_port != first
        assert httpx.get(f"{cluster.base_url}/healthz", timeout=30).status_code == 200
    finally:
        cluster.stop()
        taken.close()
    report = capfd.readouterr().err
    assert "ray start exited with" in report and "starting again on fresh ports" in report
    assert str(first) in report  # the GCS's own complaint about its port, quoted from ray start's output
