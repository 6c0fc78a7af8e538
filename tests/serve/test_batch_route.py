"""POST /v1/recommend/batch on the real app over real HTTP: several briefs in one request, each answered as the
single route answers it, in order, with its own request id (feedback keys on it), and bad bodies refused whole."""

from __future__ import annotations

import base64

import pytest

from contract.brief import MAX_BRIEFS_PER_REQUEST
from contract.scheme import Recommendation
from test_http import EN_BRIEF, ZH_BRIEF, _png, assert_contract, recommend

pytestmark = pytest.mark.slow

BRIEFS = [
    EN_BRIEF,
    ZH_BRIEF,
    EN_BRIEF | {"reference_image": _png([(200, 16, 46), (10, 10, 10), (250, 215, 0)]), "num_schemes": 4},
    EN_BRIEF | {"brand_colors": ["#0055A4"], "keywords": "ocean, sea breeze"},
]


def _choices(answer: Recommendation) -> list[tuple]:
    """What a designer sees chosen (palette colours, fonts, layout, style), not the float scores: in a batch the
    model runs on padded inputs of another shape, which may move a score in its last bits."""
    return [(tuple(c.hex for c in s.palette.colors), s.typography.pair_id, s.typography.heading.family,
             s.typography.body.family, s.layout.template_id, s.style.id) for s in answer.schemes]


def test_batch_answers_each_brief_as_the_single_route_does(client):
    response = client.post("/v1/recommend/batch", json={"briefs": BRIEFS}, headers={"x-request-id": "batch-0001"})
    assert response.status_code == 200, response.text
    answers = [Recommendation.model_validate(a) for a in response.json()["answers"]]
    assert [a.request_id for a in answers] == [f"batch-0001-{i}" for i in range(len(BRIEFS))]
    for brief, answer in zip(BRIEFS, answers):
        assert_contract(answer, brief)
        assert _choices(answer) == _choices(recommend(client, brief)), brief
    # Each brief's answer is logged under its own id: feedback on the second one lands.
    event = {"request_id": "batch-0001-1", "scheme_index": 2, "action": "chosen"}
    assert client.post("/v1/feedback", json=event).json()["status"] == "recorded"


def test_batch_grid_heatmaps_on_request(client):
    response = client.post("/v1/recommend/batch?heatmaps=grid", json={"briefs": [EN_BRIEF, ZH_BRIEF]})
    assert response.status_code == 200, response.text
    for answer in response.json()["answers"]:
        layout = Recommendation.model_validate(answer).schemes[0].layout
        assert layout.heatmap_encoding == "grid" and all(isinstance(h, list) for h in layout.heatmaps.values())


def test_unusable_brief_gets_its_error_in_place(client):
    # Valid base64 of bytes that are no image: the schema accepts it, the encoder cannot use it.
    broken = EN_BRIEF | {"reference_image": base64.b64encode(b"GIF89a" + b"\0" * 40).decode()}
    response = client.post("/v1/recommend/batch", json={"briefs": [EN_BRIEF, broken, ZH_BRIEF]})
    assert response.status_code == 200, response.text
    first, middle, last = response.json()["answers"]
    assert middle["error"]["field"] == "reference_image", middle
    assert_contract(Recommendation.model_validate(first), EN_BRIEF)
    assert_contract(Recommendation.model_validate(last), ZH_BRIEF)


@pytest.mark.parametrize("body, loc", [
    ({"briefs": [EN_BRIEF, EN_BRIEF | {"num_schemes": "many"}]}, ["body", "briefs", 1, "num_schemes"]),
    ({"briefs": []}, ["body", "briefs"]),
    ({"briefs": [EN_BRIEF] * (MAX_BRIEFS_PER_REQUEST + 1)}, ["body", "briefs"]),
    ({"brief": EN_BRIEF}, ["body", "brief"]),
    ([EN_BRIEF], ["body"]),
])
def test_invalid_batch_is_422_naming_the_brief_and_field(client, body, loc):
    response = client.post("/v1/recommend/batch", json=body)
    assert response.status_code == 422, response.text
    assert loc in [d["loc"] for d in response.json()["detail"]], response.text


def test_nan_in_a_batch_is_422(client):
    body = b'{"briefs": [{"product_category": "beverage", "package_format": "can", "num_schemes": NaN}]}'
    response = client.post("/v1/recommend/batch", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


def test_openapi_documents_the_batch_route(client):
    schema = client.get("/openapi.json").json()
    route = schema["paths"]["/v1/recommend/batch"]["post"]
    assert route["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/BriefBatch"}
    assert schema["components"]["schemas"]["BriefBatch"]["properties"]["briefs"]["maxItems"] == MAX_BRIEFS_PER_REQUEST
    assert "BatchRecommendation" in schema["components"]["schemas"]


def test_admission_counts_briefs_not_requests(client):
    """Twelve 16-brief requests at once: an ingress replica admits briefs up to `max_in_flight` (24 in
    serve_config.yaml), so it holds one such request at a time and refuses the others at once with 503 +
    Retry-After; every admitted request is answered whole. (Counting requests, it would take all twelve.)"""
    from concurrent.futures import ThreadPoolExecutor

    batches = [{"briefs": [EN_BRIEF | {"keywords": f"refreshing summer {i}-{j}"} for j in range(16)]}
               for i in range(12)]
    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda body: client.post("/v1/recommend/batch", json=body), batches))
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 503}, [r.text[:120] for r in responses]
    assert 200 in codes and 503 in codes, codes
    assert all(r.headers.get("retry-after") for r in responses if r.status_code == 503)
    assert all(len(r.json()["answers"]) == 16 for r in responses if r.status_code == 200)
