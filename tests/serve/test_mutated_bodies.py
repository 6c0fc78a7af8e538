"""Mutated requests against the running app: whatever a client sends, the answer is a 4xx or an answer, never a
5xx or a hang. A fixed seed, so a failure names a body that can be sent again.

The mutations are what clients get wrong: fields of the wrong type, out of range, missing or unknown; odd strings
(empty, very long, NUL, lone surrogates, emoji); bad colours and images; bad query parameters; and bodies that are
not JSON objects at all. This found the 500s `test_odd_json.py` pins down (2026-12-06).
"""

from __future__ import annotations

import base64
import io
import json
import random

import pytest
from PIL import Image

pytestmark = pytest.mark.slow

BRIEF = {"product_category": "beverage", "audience": ["gen_z"], "tone": ["fresh", "pastel"],
         "keywords": "refreshing, summer limited 清爽 夏季限定", "package_format": "can", "brand_colors": ["#2bb673"],
         "num_schemes": 3, "locale": "en"}
ODD_VALUES = [None, True, 0, -1, 1e308, 3.5, 2 ** 64, "", " ", "x" * 5000, "\u0000", "\ud800", "🍹" * 300, [], [None],
              [1, 2], {}, {"a": 1}, "#GGGGGG", "#fff", "#FFFFFF00", "NaN", ["#000000"] * 10, ["fresh"] * 10,
              ["not_a_tone"], "zh", "fr", 99999, "3", [[[]]]]
FIELDS = [*BRIEF, "reference_image", "extra_field"]
QUERIES = [{}, {"heatmaps": "grid"}, {"heatmaps": "nope"}, {"product_name": "x" * 500}, {"brand": "\u0000"}]
JSON = {"content-type": "application/json"}


def _png(side: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (200, 10, 40)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


IMAGES = ["not base64!!", base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50).decode(),
          "data:image/png;base64," + _png(8), "data:text/plain,hello", base64.b64encode(b"GIF89a" + b"\0" * 30).decode(),
          _png(1), "", "=" * 8, base64.b64encode(b"\xff\xd8\xff" + bytes(range(200))).decode()]


def _mutated(rng: random.Random) -> dict:
    brief = dict(BRIEF)
    for _ in range(rng.randint(1, 3)):
        field = rng.choice(FIELDS)
        if rng.random() < 0.15:
            brief.pop(field, None)
        else:
            brief[field] = rng.choice(IMAGES if field == "reference_image" else ODD_VALUES)
    return brief


def _post(client, path: str, payload, params=None):
    # ensure_ascii: lone surrogates travel as JSON escapes, as a browser's serialiser writes them
    return client.post(path, content=json.dumps(payload).encode(), headers=JSON, params=params or {})


def test_mutated_briefs_get_answers_or_4xx(client):
    rng = random.Random(20261206)
    failures = []
    for _ in range(150):
        path = rng.choice(["/v1/recommend", "/v1/recommend", "/v1/recommend/batch", "/v1/recommend/previews"])
        payload = {"briefs": [_mutated(rng), _mutated(rng)]} if path.endswith("batch") else _mutated(rng)
        response = _post(client, path, payload, rng.choice(QUERIES))
        if response.status_code >= 500:
            failures.append((path, json.dumps(payload)[:300], response.status_code))
    assert not failures, failures


@pytest.mark.parametrize("path", ["/v1/recommend", "/v1/recommend/batch", "/v1/recommend/previews"])
def test_bodies_that_are_not_briefs_get_4xx(client, path):
    bodies = [b"", b"{", b"[]", b"null", b"\xff\xfe\x00garbage",
              b'{"product_category": "beverage", "package_format": "can", "num_schemes": 1e999}',
              json.dumps({"briefs": []}).encode(), json.dumps({"briefs": [BRIEF] * 65}).encode()]
    for body in bodies:
        response = client.post(path, content=body, headers=JSON)
        assert 400 <= response.status_code < 500, (path, body[:60], response.status_code, response.text[:200])
    # A brief in UTF-16 with its byte-order mark (Python's json module reads it): answered or refused, not a 5xx.
    response = client.post(path, content=json.dumps(BRIEF).encode("utf-16"), headers=JSON)
    assert response.status_code < 500, (path, response.status_code, response.text[:200])


def test_mutated_feedback_and_previews_get_answers_or_4xx(client):
    answer = client.post("/v1/recommend", json=BRIEF)
    assert answer.status_code == 200, answer.text
    rid, scheme = answer.json()["request_id"], answer.json()["schemes"][0]
    feedback = [{}, {"request_id": rid, "scheme_index": 99, "action": "chosen"},
                {"request_id": rid, "scheme_index": -1, "action": "chosen"},
                {"request_id": "x" * 5000, "scheme_index": 0, "action": "chosen"},
                {"request_id": rid, "scheme_index": 0, "action": "loved"},
                {"request_id": None, "scheme_index": "0", "action": None},
                {"request_id": "\ud800", "scheme_index": 0, "action": "chosen"},
                {"request_id": rid, "scheme_index": 0, "action": "edited", "edits": {"\ud800": "\udfff"}}]
    previews = [{}, {"scheme": {**scheme, "palette": None}}, {"scheme": scheme, "product_name": "\ud800"},
                {"scheme": {**scheme, "layout": {"heatmaps": "garbage"}}}, {"scheme": {"style": 1}},
                {"scheme": scheme, "brand": "\ud800", "claims": ["\udfff"]}, {"scheme": {**scheme, "rationale": "\ud800"}},
                {"scheme": scheme, "locale": "\ud800"}]
    for path, bodies in (("/v1/feedback", feedback), ("/v1/preview", previews)):
        for body in bodies:
            response = _post(client, path, body)
            assert response.status_code < 500, (path, json.dumps(body)[:200], response.status_code, response.text[:200])
    assert _post(client, "/v1/feedback", {"request_id": rid, "scheme_index": 0, "action": "chosen"}).status_code < 300
