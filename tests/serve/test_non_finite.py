"""Non-finite numbers (NaN, Infinity, 1e999) in any POST body get a 4xx that names the field, never a 5xx.

Bodies are sent as raw bytes: these tokens are not valid JSON, so a client library would refuse to write them,
but browsers' and other languages' serialisers do send them. The assertions hold whatever JSON parser the
ingress uses: a strict one that refuses the token, or Python's, which turns it into a float.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow

NON_FINITE = ("NaN", "Infinity", "-Infinity", "1e999", "-1e999")
BRIEF = {"product_category": "beverage", "tone": ["fresh"], "keywords": "summer", "package_format": "can"}


def _body_with(template: dict, field_path: tuple[str | int, ...], token: str) -> bytes:
    """`template` as JSON with the value at `field_path` replaced by the raw token."""
    marker = "__NON_FINITE__"
    body = json.loads(json.dumps(template))
    target = body
    for key in field_path[:-1]:
        target = target[key]
    target[field_path[-1]] = marker
    return json.dumps(body).replace(f'"{marker}"', token).encode()


def _assert_4xx_naming(response, field: str) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert field in response.text, response.text  # the answer says which field was wrong


@pytest.fixture(scope="module")
def scheme(client) -> dict:
    answer = client.post("/v1/recommend", json={**BRIEF, "num_schemes": 1})
    assert answer.status_code == 200, answer.text
    return answer.json()["schemes"][0]


@pytest.mark.parametrize("token", NON_FINITE)
@pytest.mark.parametrize("field", ["num_schemes", "keywords", "product_category"])
def test_recommend(client, token, field):
    response = client.post("/v1/recommend", content=_body_with(BRIEF, (field,), token),
                           headers={"content-type": "application/json"})
    _assert_4xx_naming(response, field)


@pytest.mark.parametrize("token", NON_FINITE)
def test_recommend_with_previews(client, token):
    response = client.post("/v1/recommend/previews", content=_body_with(BRIEF, ("num_schemes",), token),
                           headers={"content-type": "application/json"})
    _assert_4xx_naming(response, "num_schemes")


@pytest.mark.parametrize("token", NON_FINITE)
@pytest.mark.parametrize("field", ["scheme_index", "request_id"])
def test_feedback(client, token, field):
    event = {"request_id": "a" * 16, "scheme_index": 0, "action": "chosen"}
    response = client.post("/v1/feedback", content=_body_with(event, (field,), token),
                           headers={"content-type": "application/json"})
    _assert_4xx_naming(response, field)


@pytest.mark.parametrize("token", NON_FINITE)
@pytest.mark.parametrize("path", [("scheme", "score"), ("scheme", "palette", "text_contrast"),
                                  ("scheme", "style", "score")])
def test_preview(client, scheme, token, path):
    response = client.post("/v1/preview", content=_body_with({"scheme": scheme}, path, token),
                           headers={"content-type": "application/json"})
    _assert_4xx_naming(response, path[-1])
