"""Call the running recommender from another Ray job/driver through a DeploymentHandle (no HTTP).

    RAY_ADDRESS=127.0.0.1:6379 python examples/call_with_handle.py           # one brief -> Recommendation
    RAY_ADDRESS=127.0.0.1:6379 python examples/call_with_handle.py --batch   # many briefs in one call -> JSON bytes
"""

from __future__ import annotations

import os
import sys

import ray
from ray import serve

from contract.brief import Brief
from contract.scheme import Recommendation


def main() -> Recommendation:
    # address="auto" (or RAY_ADDRESS) joins the existing cluster; a bare ray.init() could start a new one.
    ray.init(address=os.environ.get("RAY_ADDRESS", "auto"), log_to_driver=False)
    handle = serve.get_app_handle("packdesign")
    brief = Brief(
        product_category="skincare",
        audience=["young_women"],
        tone=["morandi", "minimalist"],
        keywords="gentle, 莫兰迪 高级感",
        package_format="tube",
        brand_colors=["#b08d7a"],
        num_schemes=2,
    )
    answer: Recommendation = handle.recommend.remote(brief).result(timeout_s=60)
    return answer


def main_batch() -> list[bytes]:
    """Several briefs in one handle call (they share the ingress's micro-batches); each answer comes back as
    the JSON bytes the HTTP API would send (compact heatmaps), or {"error": {...}} for a rejected brief."""
    ray.init(address=os.environ.get("RAY_ADDRESS", "auto"), log_to_driver=False)
    handle = serve.get_app_handle("packdesign")
    briefs = [{"product_category": category, "tone": ["elegant"], "keywords": "gift, 中秋", "package_format": "box"}
              for category in ("coffee_tea", "confectionery", "alcohol", "bakery")]
    return handle.recommend_batch.remote(briefs).result(timeout_s=60)


if __name__ == "__main__":
    if "--batch" in sys.argv:
        for answer in main_batch():
            print(answer.decode())
    else:
        print(main().model_dump_json())
