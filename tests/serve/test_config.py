"""The shipped Serve configurations are valid for Ray Serve and consistent with batching."""

from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from serve_app.config import AppArgs

ROOT = Path(__file__).resolve().parents[2]


def configs():
    yield "serve_config.yaml", yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    yield "deploy/serve_config.gpu.yaml", yaml.safe_load((ROOT / "deploy/serve_config.gpu.yaml").read_text())
    service = yaml.safe_load((ROOT / "deploy/kuberay/rayservice.yaml").read_text())
    assert service["apiVersion"] == "ray.io/v1" and service["kind"] == "RayService"
    yield "rayservice serveConfigV2", yaml.safe_load(service["spec"]["serveConfigV2"])


@pytest.mark.parametrize(("name", "config"), list(configs()))
def test_config_is_valid_and_batching_can_fill(name, config):
    ServeDeploySchema.model_validate(config)
    app = config["applications"][0]
    assert app["import_path"] == "serve_app.app:build_app"
    args = AppArgs.model_validate(app.get("args", {}))
    deployments = {d["name"]: d for d in app["deployments"]}
    assert set(deployments) == {"Ingress", "BriefEncoder", "Recommender"}
    recommender = deployments["Recommender"]
    # The recommender's batch is counted in briefs (batch_size_fn): a whole ingress micro-batch must fit, or
    # Serve refuses it ("Size of item is greater than max_batch_size").
    assert recommender["user_config"]["max_batch_size"] >= args.ingress_max_batch_size
    for deployment in deployments.values():
        scaling = deployment.get("autoscaling_config")
        if scaling:
            assert scaling["look_back_period_s"] > 10  # must exceed the metrics push interval
            assert scaling["upscale_delay_s"] < scaling["downscale_delay_s"]  # spikes: up fast, down slowly
            assert scaling["max_replicas"] >= scaling["min_replicas"]
