"""`ingress_slot_until: model` (serve_app/config.py): a micro-batch frees its slot once its model outputs are back,
and post-processing and the answer log's commit run after, overlapping the next micro-batch's hops. The answers
must be those of the shipped mode, every accepted request answered, and every answer in the log before the client
sees it (feedback on it is accepted at once)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from benchmarks.local_cluster import Cluster
from test_http import EN_BRIEF, ZH_BRIEF, _png, assert_contract, recommend

pytestmark = pytest.mark.slow

BRIEFS = [
    EN_BRIEF,
    ZH_BRIEF,
    EN_BRIEF | {"reference_image": _png([(200, 16, 46), (10, 10, 10), (250, 215, 0)])},
    EN_BRIEF | {"brand_colors": ["#0055A4"], "keywords": "ocean, sea breeze"},
]


def _slot_until_model(config: dict) -> None:
    config["applications"][0]["args"]["ingress_slot_until"] = "model"


@pytest.fixture(scope="module")
def model_slot_client(tmp_path_factory):
    with Cluster(tmp_path_factory.mktemp("slot"), config_overrides=_slot_until_model) as cluster:
        with httpx.Client(base_url=cluster.base_url, timeout=60) as client:
            yield client


def test_answers_as_the_shipped_mode(client, model_slot_client):
    assert model_slot_client.get("/healthz").json()["warm_up"]["ok"] is True
    for brief in BRIEFS:  # one at a time: micro-batches of one on both, so the model sees the same shapes
        shipped, early = recommend(client, brief), recommend(model_slot_client, brief)
        assert_contract(early, brief)
        assert [s.model_dump() for s in early.schemes] == [s.model_dump() for s in shipped.schemes], brief


def test_a_burst_is_answered_and_logged_before_it_is_sent(model_slot_client):
    # Concurrent single and batch requests: several micro-batches past their slot at once, some sharing a
    # post-processing pass; each answer must already be in the log when its client reads it.
    singles = [EN_BRIEF | {"keywords": f"refreshing summer {i}"} for i in range(24)]
    batches = [{"briefs": [ZH_BRIEF, EN_BRIEF | {"keywords": f"sea salt {i}"}]} for i in range(6)]

    def send(body):
        path = "/v1/recommend/batch" if "briefs" in body else "/v1/recommend"
        response = model_slot_client.post(path, json=body)
        assert response.status_code == 200, response.text[:200]
        answers = response.json()["answers"] if "briefs" in body else [response.json()]
        for answer in answers:  # recorded at once: the answer was committed before it was sent
            event = {"request_id": answer["request_id"], "scheme_index": 0, "action": "chosen"}
            assert model_slot_client.post("/v1/feedback", json=event).json()["status"] == "recorded"
        return len(answers)

    with ThreadPoolExecutor(12) as pool:
        answered = sum(pool.map(send, singles + batches))
    assert answered == len(singles) + 2 * len(batches)
