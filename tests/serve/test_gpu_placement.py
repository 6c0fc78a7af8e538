"""Fractional GPU placement, checked on a CPU-only machine: Ray is told the node has 2 GPUs (logical
resources), the recommender asks for 0.5 GPU per replica, and 4 replicas must land two per GPU, each with
its own GPU id (Ray sets CUDA_VISIBLE_DEVICES from it on a real GPU node). The backend is ONNX Runtime on the
CPU, so this tests Serve's scheduling and our config plumbing, not CUDA."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from benchmarks.local_cluster import Cluster

pytestmark = pytest.mark.slow

REPLICAS, GPU_SHARE, GPUS = 4, 0.5, 2


def _four_half_gpu_replicas(config: dict) -> None:
    app = config["applications"][0]
    app["args"]["backend"] = "onnxruntime"
    recommender = next(d for d in app["deployments"] if d["name"] == "Recommender")
    recommender.pop("autoscaling_config", None)
    recommender["num_replicas"] = REPLICAS
    recommender["ray_actor_options"] = {"num_cpus": 0.25, "num_gpus": GPU_SHARE}


@pytest.fixture(scope="module")
def gpu_cluster(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("gpus"), config_overrides=_four_half_gpu_replicas, num_gpus=GPUS) as cluster:
        yield cluster


def test_fractional_replicas_are_packed_two_per_gpu(gpu_cluster):
    seen = gpu_cluster.recommender_gpus(stop_at=REPLICAS)
    assert len(seen) == REPLICAS, seen
    assert all(len(ids) == 1 for ids in seen.values()), seen  # a fraction of exactly one GPU each
    per_gpu = Counter(ids[0] for ids in seen.values())
    assert per_gpu == {"0": 2, "1": 2}, per_gpu


def test_the_app_answers_with_replicas_on_logical_gpus(gpu_cluster):
    response = httpx.post(f"{gpu_cluster.base_url}/v1/recommend", timeout=60,
                          json={"product_category": "snacks", "package_format": "bag", "keywords": "crunchy, bold"})
    assert response.status_code == 200, response.text
    assert response.json()["backend"] == "onnxruntime"
