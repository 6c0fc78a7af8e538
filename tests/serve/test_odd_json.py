"""Valid but awkward JSON in any POST body gets a 4xx that names the field, or an answer, never a 5xx.

Two kinds a fuzzing run of the shipped app found answered 500 (2026-12-06): a lone surrogate escape ("\\ud800",
valid JSON, but no UTF-8 can carry it) in a field that fails validation, because the 422 echoed it back, or in a
scheme sent to /v1/preview, which could not be drawn; and arrays nested deeper than Python's json module recurses.
Bodies are sent as raw bytes, as a browser or another language's serialiser may write them.
"""

from __future__ import annotations

import json

import orjson
import pytest
from pydantic import ValidationError

from contract.preview import PreviewRequest, _without_surrogates
from serve_app.api import parse_brief
from serve_app.errors import MAX_ERRORS, body_validation_error, validation_error
from test_non_finite import _body_with  # the raw-token body builder (tests/serve is on the path)

BRIEF = {"product_category": "beverage", "tone": ["fresh"], "keywords": "summer", "package_format": "can"}
SURROGATE = '"\\ud800"'  # the JSON text of a lone high surrogate
JSON = {"content-type": "application/json"}


def test_a_422_echoing_a_lone_surrogate_renders():
    expected = ", ".join(f"'tone_{i}'" for i in range(30))  # an enum's whole list, past the 200-char echo cut
    response = validation_error([{"loc": ("body", "tone", 0), "msg": "bad", "type": "enum", "input": "\ud800x",
                                  "ctx": {"expected": expected}},
                                 {"loc": ("body", "extra\udfff"), "msg": "extra", "type": "extra_forbidden",
                                  "input": {"k\ud800": ["\ud800"]}}])
    assert response.status_code == 422
    detail = orjson.loads(response.body)["detail"]
    assert detail[0]["input"] == "\\ud800x" and detail[1]["loc"] == ["body", "extra\\udfff"]
    assert detail[1]["input"] == {"k\\ud800": ["\\ud800"]}
    assert detail[0]["ctx"] == {"expected": expected}  # the allowed values whole


def test_a_422_message_is_kept_whole_where_an_echoed_input_would_be_cut_and_bounded_where_it_quotes_one():
    message = "Input should be " + ", ".join(f"'tone_{i}'" for i in range(30))  # past the 200-char echo cut
    response = validation_error([{"loc": ("body", "tone", 0), "msg": message, "type": "enum", "input": "x" * 500}])
    detail = orjson.loads(response.body)["detail"][0]
    assert detail["msg"] == message
    assert detail["input"] == "x" * 200 + "…"
    # A message that quotes a 100 KB input (a brand colour's repr) stays bounded, as does a key the client chose.
    quoted = repr("#" + "\x7f" * 100_000) + " is not a hex colour"
    response = validation_error([{"loc": ("body", "k" * 5000), "msg": quoted, "type": "value_error",
                                  "ctx": {"error": quoted}, "input": "#"}])
    assert len(response.body) < 3000


@pytest.mark.parametrize("depth", [600, 900])
def test_a_422_for_input_nested_deeper_than_python_recurses_renders(depth):
    # Deeper than pydantic's parser goes (json_invalid) but not Python's json module: the 422 echoed the nesting
    # back recursively and ran out of stack (500), for bodies nested ~480-955 deep (2026-12-07).
    nested = b"[" * depth + b"]" * depth
    for body in (nested, b'{"product_category": "beverage", "package_format": "can", "x": ' + nested + b"}"):
        with pytest.raises(ValidationError) as refused:
            parse_brief(body)
        response = body_validation_error(refused.value)
        assert response.status_code == 422 and len(response.body) < 2000
        orjson.loads(response.body)


@pytest.mark.parametrize("path", ["/v1/recommend", "/v1/recommend/batch", "/v1/recommend/previews", "/v1/feedback",
                                  "/v1/preview"])
def test_nesting_python_parses_but_no_route_reads_is_a_4xx_in_process(path):
    # The app object without Ray (no replica behind it: every route parses its body first). At 600 deep both the
    # 422's echo and the preview's surrogate cleaning recursed until the stack ran out (500); the Serve-cluster test
    # below sends the same bodies over HTTP.
    from fastapi.testclient import TestClient

    from serve_app.api import build_api
    from serve_app.config import AppArgs

    client = TestClient(build_api(AppArgs(), metrics=False), raise_server_exceptions=False)
    nested = "[" * 600 + "]" * 600
    for body in (nested, '{"scheme": ' + nested + "}", '{"scheme": {"layout": ' + nested + "}}"):
        response = client.post(path, content=body.encode(), headers=JSON)
        assert 400 <= response.status_code < 500, (body[:30], response.status_code, response.text[:300])


def test_a_422_stays_small_whatever_the_body_holds():
    # A 2 MB list beside a brief's fields: each error echoed the whole body (one a missing field), ~3x its size.
    # (pydantic's own errors, as a body inside serve_app.bounds' separator cap could still make them.)
    from contract.brief import Brief

    body = orjson.dumps({"x": [[0]] * 300_000, "tone": [{"k": [1] * 1000}] * 100})
    with pytest.raises(ValidationError) as refused:
        Brief.model_validate_json(body)
    response = body_validation_error(refused.value)
    assert response.status_code == 422 and len(response.body) < 20_000
    detail = orjson.loads(response.body)["detail"]
    assert any(e["loc"] == ["body", "x"] and e["input"][-1] == "…" for e in detail)
    # Every error is still named up to MAX_ERRORS, then one entry says how many more there were.
    many = validation_error([{"loc": ("body", "tone", i), "msg": "bad", "type": "enum", "input": "x"}
                             for i in range(MAX_ERRORS + 10)])
    detail = orjson.loads(many.body)["detail"]
    assert len(detail) == MAX_ERRORS + 1 and detail[-1]["type"] == "too_many_errors" and "10" in detail[-1]["msg"]


def test_a_preview_request_drops_lone_surrogates_from_every_string_but_keys():
    raw = {"scheme": {"rationale": "warm\ud800 tones", "typography": {"heading": {"family": "\udfffSerif"}}},
           "brand": "Ac\ud800me", "claims": ["new\udfff"], "k\ud800": 1}
    cleaned = _without_surrogates(raw)
    assert cleaned == {"scheme": {"rationale": "warm tones", "typography": {"heading": {"family": "Serif"}}},
                       "brand": "Acme", "claims": ["new"], "k\ud800": 1}
    json.dumps(cleaned).encode()  # every string has a UTF-8 form now
    with pytest.raises(ValidationError):  # still validated: what is left must be a scheme
        PreviewRequest.model_validate(raw)


@pytest.mark.slow
@pytest.mark.parametrize("path, body, field", [
    ("/v1/recommend", BRIEF, ("product_category",)),
    ("/v1/recommend", BRIEF, ("tone", 0)),
    ("/v1/recommend/previews", BRIEF, ("package_format",)),
    ("/v1/recommend/batch", {"briefs": [BRIEF]}, ("briefs", 0, "locale")),
    ("/v1/feedback", {"request_id": "a" * 16, "scheme_index": 0, "action": "chosen"}, ("action",)),
])
def test_a_lone_surrogate_in_a_refused_field_gets_a_422_naming_it(client, path, body, field):
    response = client.post(path, content=_body_with(body, field, SURROGATE), headers=JSON)
    assert response.status_code == 422, (response.status_code, response.text)
    assert str(field[-1]) in response.text and "\\\\ud800" in response.text  # echoed as its escape


@pytest.mark.slow
def test_lone_surrogates_in_a_scheme_sent_back_still_draw(client):
    answer = client.post("/v1/recommend", json={**BRIEF, "num_schemes": 1})
    assert answer.status_code == 200, answer.text
    scheme = answer.json()["schemes"][0]
    for path in [("scheme", "rationale"), ("scheme", "typography", "heading", "family"), ("brand",)]:
        response = client.post("/v1/preview", content=_body_with({"scheme": scheme, "brand": "Acme"}, path,
                                                                 '"Ac\\ud800me"'), headers=JSON)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        assert response.text.startswith("<svg") and "\\ud800" not in response.text


@pytest.mark.slow
@pytest.mark.parametrize("depth", [600, 5000])
@pytest.mark.parametrize("path", ["/v1/recommend", "/v1/recommend/batch", "/v1/recommend/previews", "/v1/feedback",
                                  "/v1/preview"])
def test_nesting_deeper_than_the_parsers_go_is_a_4xx(client, path, depth):
    deep = b"[" * depth + b"]" * depth
    response = client.post(path, content=deep, headers=JSON)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])


def _unknown_keys(n: int) -> dict:
    return {f"unknown_key_{i:06d}": 1 for i in range(n)}  # ~22 bytes a key: n = 1,000 is past BOUNDS_CHECK_BYTES


def test_a_long_body_past_the_models_bounds_makes_a_few_errors_not_one_per_key():
    # 200,000 unknown keys (2.3 MB) made pydantic list 200,002 errors: 1.6 s to validate and 1.6 s more to format
    # the 422, on the replica's event loop (2026-12-07). Each case below made one error per key or item.
    from contract.brief import Brief, BriefBatch
    from serve_app.api import parse_json_body
    from serve_app.bounds import BOUNDS_CHECK_BYTES, MAX_EXTRA_REPORTED, separator_limit

    room = separator_limit(Brief) - 64  # inside the separator cap, so the keys and items are what is checked
    many_keys = orjson.dumps(_unknown_keys(room))
    long_tone = orjson.dumps({**BRIEF, "tone": ["not-a-tone-at-all"] * room})
    for body, where, most in ((many_keys, ["body", "unknown_key_000000"], MAX_EXTRA_REPORTED),
                              (long_tone, ["body", "tone"], 1)):
        assert len(body) > BOUNDS_CHECK_BYTES
        with pytest.raises(ValidationError) as refused:
            parse_brief(body)
        assert refused.value.error_count() <= most
        detail = orjson.loads(body_validation_error(refused.value).body)["detail"]
        assert detail[0]["loc"] == where
    per_brief = separator_limit(BriefBatch) // 64 - 16
    batch = orjson.dumps({"briefs": [{**BRIEF, **_unknown_keys(per_brief)}] * 64})
    with pytest.raises(ValidationError) as refused:
        parse_json_body(BriefBatch, batch)
    assert refused.value.error_count() == 64 * MAX_EXTRA_REPORTED
    assert refused.value.errors()[0]["loc"] == ("briefs", 0, "unknown_key_000000")
    # More separators than any valid request holds: refused before any parse, one error for the body.
    for body in (orjson.dumps(_unknown_keys(200_000)), orjson.dumps({**BRIEF, "x": [[0]] * 1_000_000})):
        with pytest.raises(ValidationError) as refused:
            parse_brief(body)
        (error,) = refused.value.errors()
        assert error["loc"] == () and error["type"] == "body_too_complex"
        assert error["ctx"]["limit"] == separator_limit(Brief)


def test_a_preview_body_with_more_heatmaps_than_elements_is_refused_at_once():
    # A dict keyed by an enum (heatmaps by layout element) cannot hold more keys than the enum has members; 5,000
    # made one error each, inside the separator cap.
    import gzip
    from pathlib import Path

    from contract.preview import PreviewRequest
    from serve_app.api import parse_json_body

    golden = Path(__file__).resolve().parents[1] / "pipeline" / "golden_answers.json.gz"
    with gzip.open(golden, "rt", encoding="utf-8") as f:
        scheme = json.load(f)[0]["schemes"][0]
    parse_json_body(PreviewRequest, orjson.dumps({"scheme": scheme}))  # as answered: valid
    scheme["layout"]["heatmaps"] = {f"element_{i}": "AAAA" for i in range(5000)}
    with pytest.raises(ValidationError) as refused:
        parse_json_body(PreviewRequest, orjson.dumps({"scheme": scheme}))
    (error,) = refused.value.errors()
    assert error["loc"] == ("scheme", "layout", "heatmaps") and error["type"] == "too_long"


def test_a_long_body_inside_the_bounds_parses_as_pydantic_parses_it():
    import base64

    from serve_app.bounds import BOUNDS_CHECK_BYTES
    from contract.brief import Brief

    image = "data:image/png;base64," + base64.b64encode(bytes(range(256)) * 200).decode()
    body = orjson.dumps({**BRIEF, "reference_image": image, "tone": ["fresh", "pastel"]})
    assert len(body) > BOUNDS_CHECK_BYTES
    assert parse_brief(body) == Brief.model_validate_json(body)
    # ... and a long body pydantic refuses for another reason is refused as before, with pydantic's errors.
    bad = orjson.dumps({**BRIEF, "reference_image": image, "num_schemes": 0})
    with pytest.raises(ValidationError) as refused:
        parse_brief(bad)
    assert [e["loc"] for e in refused.value.errors()] == [("num_schemes",)]


@pytest.mark.parametrize("path", ["/v1/feedback", "/v1/preview", "/v1/recommend/previews"])
def test_a_body_model_route_holds_a_long_body_to_its_bounds(path):
    # The routes whose body FastAPI validates (a body model) made one error per unknown key too: 64 listed and a
    # count of the other 199,938, after ~3 s of validating and listing on the event loop.
    from fastapi.testclient import TestClient

    from serve_app.api import build_api
    from serve_app.bounds import MAX_EXTRA_REPORTED
    from serve_app.config import AppArgs

    client = TestClient(build_api(AppArgs(), metrics=False), raise_server_exceptions=False)
    # Past any valid body's separators: one error for the body, unparsed.
    response = client.post(path, content=orjson.dumps(_unknown_keys(200_000)), headers=JSON)
    assert response.status_code == 422, response.text[:300]
    detail = response.json()["detail"]
    assert len(detail) == 1 and detail[0]["loc"] == ["body"] and detail[0]["type"] == "body_too_complex"
    # Inside them but past BOUNDS_CHECK_BYTES: the first unknown keys named, no more.
    response = client.post(path, content=orjson.dumps(_unknown_keys(1500)), headers=JSON)
    assert response.status_code == 422, response.text[:300]
    detail = response.json()["detail"]
    assert len(detail) == MAX_EXTRA_REPORTED and detail[0]["loc"] == ["body", "unknown_key_000000"]
    # A short body is FastAPI's to validate, as before.
    response = client.post(path, content=b'{"k": 1}', headers=JSON)
    assert response.status_code == 422


def test_a_lone_surrogate_in_a_preview_key_is_refused_whatever_the_body_length():
    # Cleaning surrogates from keys made "brand\ud800" a valid "brand" in a short body (200), while the same body
    # past BOUNDS_CHECK_BYTES met the bounds check first and was refused as an unknown key (422).
    import gzip
    from pathlib import Path

    from fastapi.testclient import TestClient

    from serve_app.api import build_api
    from serve_app.bounds import BOUNDS_CHECK_BYTES
    from serve_app.config import AppArgs

    golden = Path(__file__).resolve().parents[1] / "pipeline" / "golden_answers.json.gz"
    with gzip.open(golden, "rt", encoding="utf-8") as f:
        scheme = json.load(f)[0]["schemes"][0]
    long_scheme = json.loads(json.dumps(scheme))
    for element, grid in long_scheme["layout"]["heatmaps"].items():  # the same maps written with more digits
        long_scheme["layout"]["heatmaps"][element] = [[v - 1e-7 / 3 if v > 0.5 else v + 1e-7 / 3 for v in row] for row in grid]
    client = TestClient(build_api(AppArgs(), metrics=False), raise_server_exceptions=False)
    for sent in (scheme, long_scheme):
        valid = json.dumps({"scheme": sent, "brand": "Acme"}, ensure_ascii=False).encode()
        keyed = valid.replace(b'"brand":', b'"brand\\ud800":')
        assert (len(valid) > BOUNDS_CHECK_BYTES) == (sent is long_scheme)
        assert client.post("/v1/preview", content=valid, headers=JSON).status_code == 200
        response = client.post("/v1/preview", content=keyed, headers=JSON)
        assert response.status_code == 422, (len(keyed), response.status_code, response.text[:300])
        (error,) = response.json()["detail"]  # the key named, in its loc or as the input that is no string
        assert "brand" in str(error["loc"]) or error["input"].startswith("brand"), error
