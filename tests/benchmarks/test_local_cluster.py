"""A local cluster whose app cannot start says so with Serve's own reason instead of waiting out its 300 s (the
no-op benchmark step once printed nothing for its whole timeout on the GPU node); a `ray start` that fails says
why, and one whose picked port was taken meanwhile is started again on fresh ports as soon as its GCS says so (a
fresh-clone CI run once lost a test module's cases to "ray start exited with 1", its output sent nowhere)."""

import signal
import socket
import subprocess
import time

import httpx
import pytest
import yaml

from benchmarks.local_cluster import ROOT, Cluster, _live_in_group, one_replica_each
from benchmarks.noop_app import noop_config
from benchmarks.noop_bench import fixed_replicas


@pytest.mark.slow
def test_a_deploy_that_fails_is_reported_at_once(tmp_path):
    config = noop_config(ROOT / "serve_config.yaml")
    for deployment in config["applications"][0]["deployments"]:
        if deployment["name"] == "Ingress":
            deployment["user_config"] = {"learner_artefact": None}  # the no-op Ingress has no reconfigure
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    cluster = Cluster(tmp_path, config_path=path,
                      config_overrides=fixed_replicas({"Ingress": 1, "BriefEncoder": 1, "Recommender": 1}))
    try:
        with pytest.raises(RuntimeError, match="failed to deploy: Ingress") as failure:
            cluster.start()
    finally:
        cluster.stop()
    # Without the fail-fast check start() would raise "did not become healthy within 300 s" instead.
    assert "3 times in a row" in str(failure.value) or "reconfigure" in str(failure.value)


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
    assert cluster.head.poll() is not None
    # SIGKILL is delivered at once but a process takes a moment to exit on a loaded machine: allow it 5 s.
    deadline = time.monotonic() + 5
    while _live_in_group(cluster.head.pid, "raylet") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _live_in_group(cluster.head.pid, "raylet")
    report = capfd.readouterr().err
    assert "the GCS could not start" in report and "starting again on fresh ports" in report
    assert str(first) in report  # the GCS's own complaint about its port, quoted from its log


def test_live_in_group_sees_a_running_member_by_name_and_not_a_zombie():
    # stop() waits on this for the raylet: a wrong answer either way costs a stop 2 s or skips the raylet's own stop.
    member = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        assert _live_in_group(member.pid, "sleep")
        assert not _live_in_group(member.pid, "raylet")
        assert not _live_in_group(member.pid + 1_000_000, "sleep")  # no such group
        member.send_signal(signal.SIGKILL)
        for _ in range(100):  # dead but not reaped: a zombie, which must not count
            if not _live_in_group(member.pid, "sleep"):
                break
            subprocess.run(["sleep", "0.02"])
        assert not _live_in_group(member.pid, "sleep")
    finally:
        member.kill()
        member.wait()
