"""The shipped Serve configurations are valid for Ray Serve and consistent with batching."""

from pathlib import Path

import pytest
import yaml
from ray.serve.config import AutoscalingConfig
from ray.serve.schema import ServeDeploySchema

from serve_app.config import AppArgs

ROOT = Path(__file__).resolve().parents[2]
PUSH_INTERVALS = ("RAY_SERVE_REPLICA_AUTOSCALING_METRIC_PUSH_INTERVAL_S", "RAY_SERVE_HANDLE_AUTOSCALING_METRIC_PUSH_INTERVAL_S")


def configs():
    yield "serve_config.yaml", yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    yield "deploy/serve_config.gpu.yaml", yaml.safe_load((ROOT / "deploy/serve_config.gpu.yaml").read_text())
    service = yaml.safe_load((ROOT / "deploy/kuberay/rayservice.yaml").read_text())
    assert service["apiVersion"] == "ray.io/v1" and service["kind"] == "RayService"
    config = yaml.safe_load(service["spec"]["serveConfigV2"])
    # On KubeRay the push intervals are set in every pod's environment (read by Ray at start), not per app.
    pods = [service["spec"]["rayClusterConfig"]["headGroupSpec"],
            *service["spec"]["rayClusterConfig"]["workerGroupSpecs"]]
    pod_env = [{e["name"]: e["value"] for c in pod["template"]["spec"]["containers"] for e in c.get("env", [])}
               for pod in pods]
    env = {k: max(float(e.get(k, 10.0)) for e in pod_env) for k in PUSH_INTERVALS}
    config["applications"][0].setdefault("runtime_env", {}).setdefault("env_vars", env)
    yield "rayservice serveConfigV2", config


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
    env = app.get("runtime_env", {}).get("env_vars", {})
    env_push_s = max(float(env.get(k, 10.0)) for k in PUSH_INTERVALS)
    for deployment in deployments.values():
        scaling = deployment.get("autoscaling_config")
        if scaling:
            # Ray Serve 2.60 pushes replica and handle metrics every autoscaling_config.metrics_interval_s (10 s
            # unless set; the PUSH_INTERVAL env vars are defined but not read yet), so a spike could wait 10 s
            # and more for its first decision: what Ray parses must be a short interval, and the env vars (for
            # the release that reads them) must agree with it.
            push_s = AutoscalingConfig.model_validate(scaling).metrics_interval_s
            assert push_s <= 2, f"{name}: {deployment['name']} pushes autoscaling metrics every {push_s} s"
            assert env_push_s == push_s
            # The look-back averages pushed metrics: it must span at least two pushes.
            assert scaling["look_back_period_s"] >= 2 * push_s
            assert scaling["upscale_delay_s"] < scaling["downscale_delay_s"]  # spikes: up fast, down slowly
            assert scaling["max_replicas"] >= scaling["min_replicas"]


def test_ingress_concurrency_is_configured_and_bounded():
    """The micro-batches in flight per ingress replica come from serve_config.yaml; none in flight would never
    answer, so it is refused when the config is read."""
    from pydantic import ValidationError

    for name, config in configs():
        args = AppArgs.model_validate(config["applications"][0].get("args", {}))
        assert args.ingress_max_concurrent_batches >= 1, name
    with pytest.raises(ValidationError, match="ingress_max_concurrent_batches"):
        AppArgs.model_validate({"ingress_max_concurrent_batches": 0})


@pytest.mark.parametrize(("name", "config"), list(configs()))
def test_ingress_and_encoder_scale_on_cpu_too(name, config):
    """Batch requests hold up to 64 briefs: requests in flight alone undercount the Ingress's and the encoder's
    load, so both must use the policy that also reads their CPU, and Serve must be able to load it."""
    deployments = {d["name"]: d for d in config["applications"][0]["deployments"]}
    for deployment in ("Ingress", "BriefEncoder"):
        scaling = AutoscalingConfig.model_validate(deployments[deployment]["autoscaling_config"])
        assert scaling.policy.policy_function == "serve_app.autoscaling:CpuOrRequestsPolicy", (name, deployment)
        policy = scaling.policy.get_policy()(**scaling.policy.policy_kwargs)
        assert 0.3 <= policy.target_cpu_busy <= 1.0
