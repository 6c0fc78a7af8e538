"""`encoder: inline` (docs/deployment.md): the ingress encodes briefs itself instead of calling the BriefEncoder
deployment. The same briefs must get the same schemes as through the encoder hop, on both of its paths (a few
text-only briefs on the event loop; a reference image or a larger micro-batch in a worker thread)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from benchmarks.local_cluster import Cluster, inline_encoder
from test_http import EN_BRIEF, ZH_BRIEF, _png, assert_contract, recommend

pytestmark = pytest.mark.slow

BRIEFS = [
    EN_BRIEF,
    ZH_BRIEF,
    EN_BRIEF | {"reference_image": _png([(200, 16, 46), (10, 10, 10), (250, 215, 0)])},
    EN_BRIEF | {"brand_colors": ["#0055A4"], "keywords": "ocean, sea breeze"},
]


@pytest.fixture(scope="module")
def inline_client(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("inline"), config_overrides=inline_encoder) as cluster:
        with httpx.Client(base_url=cluster.base_url, timeout=60) as client:
            yield client


def test_inline_encoder_answers_as_the_encoder_hop_does(client, inline_client):
    health = inline_client.get("/healthz").json()
    assert health["warm_up"]["ok"] is True, health
    for brief in BRIEFS:  # one at a time: micro-batches of one on both, so the model sees the same shapes
        hop, inline = recommend(client, brief), recommend(inline_client, brief)
        assert_contract(inline, brief)
        assert [s.model_dump() for s in inline.schemes] == [s.model_dump() for s in hop.schemes], brief


def test_inline_encoder_takes_a_burst(inline_client):
    # Concurrent briefs can form micro-batches above the event loop's limit, which are encoded in a worker thread.
    briefs = [EN_BRIEF | {"keywords": f"refreshing summer {i}"} for i in range(24)]
    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda b: inline_client.post("/v1/recommend", json=b), briefs))
    assert [r.status_code for r in responses] == [200] * len(briefs), [r.text[:120] for r in responses]
