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


@pytest.mark.parametrize("config", ["serve_config.yaml", "deploy/serve_config.gpu.yaml"])
def test_the_noop_ingress_batches_as_the_config_says(config, tmp_path):
    """The framework's ceiling is measured with the real ingress's micro-batching: its size, wait and micro-batches
    in flight (fewer in flight make bigger, cheaper micro-batches; run 29's no-op had 1 beside the app's 2)."""
    import yaml

    source = yaml.safe_load((ROOT / config).read_text())
    real = source["applications"][0]["args"]
    changed = dict(real, ingress_max_batch_size=real["ingress_max_batch_size"] + 7,
                   ingress_batch_wait_s=real["ingress_batch_wait_s"] + 0.0011,
                   ingress_max_concurrent_batches=real["ingress_max_concurrent_batches"] + 2)
    source["applications"][0]["args"] = changed
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(source))
    args = noop_app.noop_config(path)["applications"][0]["args"]
    bound = noop_app.build_app(args)._bound_deployment.init_kwargs  # what the Ingress replica is built with
    # The class as written (serve.ingress wraps it in a subclass whose __init__ also builds the ASGI app).
    written = noop_app.NoopIngress.func_or_class.__mro__[1]
    ingress = written.__new__(written)
    written.__init__(ingress, None, None, **bound)
    batcher = ingress.micro_batches
    assert (batcher.max_batch_size, batcher.wait_s, batcher.max_concurrent) == (
        changed["ingress_max_batch_size"], changed["ingress_batch_wait_s"], changed["ingress_max_concurrent_batches"])
    given = noop_app.noop_config(path, ingress_batch=5, ingress_wait_s=0.0)["applications"][0]["args"]
    assert (given["ingress_batch"], given["ingress_wait_s"]) == (5, 0.0)
