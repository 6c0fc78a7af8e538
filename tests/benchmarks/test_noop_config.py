"""The no-op app deploys under every shipped config: a deployment given a user_config must have `reconfigure`
(Serve otherwise fails its replicas at start and retries them forever: the no-op step hung on the GPU node)."""

import pytest

from benchmarks import noop_app
from benchmarks.local_cluster import ROOT

CLASSES = {"Ingress": noop_app.NoopIngress, "BriefEncoder": noop_app.NoopEncoder,
           "Recommender": noop_app.NoopRecommender}


@pytest.mark.parametrize("config", ["serve_config.yaml", "deploy/serve_config.gpu.yaml"])
def test_every_user_config_has_a_reconfigure(config):
    app = noop_app.noop_config(ROOT / config)["applications"][0]
    assert app["import_path"] == "benchmarks.noop_app:build_app"
    for deployment in app["deployments"]:
        cls = CLASSES[deployment["name"]].func_or_class
        if "user_config" in deployment:
            assert hasattr(cls, "reconfigure"), deployment["name"]
        assert "num_gpus" not in deployment.get("ray_actor_options", {})
