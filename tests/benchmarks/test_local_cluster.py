"""A local cluster whose app cannot start says so with Serve's own reason instead of waiting out its 300 s (the
no-op benchmark step once printed nothing for its whole timeout on the GPU node)."""

import pytest
import yaml

from benchmarks.local_cluster import ROOT, Cluster
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
