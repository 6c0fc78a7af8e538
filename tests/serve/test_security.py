"""Access control and bad input.

The middleware logic runs against the real ingress app (`serve_app.api.build_api`, as each Ingress replica
builds it) in-process: the guards answer before any route handler (which needs a Serve replica) runs. The same checks are then made
over real HTTP through the Serve proxy on the session cluster, and one cluster of its own proves that a
key configured in serve_config.yaml args is enforced, that CORS follows the allowlist and that the key
never reaches a log file.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from serve_app.api import build_api
from serve_app.config import AppArgs
from benchmarks.local_cluster import Cluster, set_access_log
from serve_app.security import SecuritySettings, hash_api_key

KEY, OTHER_KEY = "k3y-Alpha_0123456789abcdefXYZ", "second-key-9876543210"
ORIGIN = "https://design.example.com"
BRIEF = {"product_category": "beverage", "package_format": "can", "keywords": "summer", "num_schemes": 1}


@pytest.fixture
def configure():
    """An app with these settings (each app has its own; nothing to restore afterwards)."""

    def apply(**kwargs) -> TestClient:
        args = AppArgs.model_validate({k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()})
        return TestClient(build_api(args, metrics=False), raise_server_exceptions=False)

    yield apply


# --- middleware on the real app object ------------------------------------------------------------------


def test_defaults_are_open_with_no_cors(configure):
    client = configure()
    response = client.get("/openapi.json", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert client.get("/v1/nope").status_code == 404  # past the guard, no key needed


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "application/jsonx"])
def test_non_json_bodies_get_415(configure, content_type):
    client = configure()
    headers = {"content-type": content_type} if content_type else {}
    for path in ("/v1/recommend", "/v1/feedback"):
        response = client.post(path, content=b'{"a": 1}', headers=headers)
        assert response.status_code == 415, (path, content_type, response.text)
        assert "application/json" in response.json()["detail"]


def test_json_with_charset_passes_the_content_type_check(configure):
    client = configure()
    response = client.post("/v1/recommend", content=b"{not json",
                           headers={"content-type": "application/json; charset=utf-8"})
    assert response.status_code == 422  # reached FastAPI's JSON parsing


def test_oversized_body_by_content_length_gets_413(configure):
    client = configure(max_request_bytes=1000)
    response = client.post("/v1/recommend", content=b"x" * 1001, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "1000-byte limit" in response.json()["detail"]
    # Exactly at the limit is allowed through to the JSON parser.
    response = client.post("/v1/recommend", content=b"x" * 1000, headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_oversized_chunked_body_gets_413(configure):
    client = configure(max_request_bytes=1000)

    def chunks(total: int):
        for _ in range(total // 100):
            yield b"x" * 100

    # A generator body goes out chunked, with no Content-Length: only counting the bytes can catch it.
    response = client.post("/v1/recommend", content=chunks(5000), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    response = client.post("/v1/recommend", content=chunks(500), headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_api_keys(configure):
    client = configure(api_key_sha256=(hash_api_key(KEY), hash_api_key(OTHER_KEY)))
    missing = client.get("/v1/options")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/v1/options", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/options", headers={"Authorization": f"Basic {KEY}"}).status_code == 401
    assert client.get("/v1/options", headers={"X-API-Key": KEY[:-1]}).status_code == 401
    # A valid key (either configured one, either header) gets past the guard: 404 for an unknown path.
    assert client.get("/v1/nope", headers={"Authorization": f"Bearer {KEY}"}).status_code == 404
    assert client.get("/v1/nope", headers={"authorization": f"bearer {OTHER_KEY}"}).status_code == 404
    assert client.get("/v1/nope", headers={"X-API-Key": OTHER_KEY}).status_code == 404
    # Auth comes before body checks, so an unauthenticated client learns nothing about them.
    assert client.post("/v1/recommend", content=b"x", headers={"content-type": "text/plain"}).status_code == 401


def test_public_paths_need_no_key(configure):
    client = configure(api_key_sha256=(hash_api_key(KEY),))
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/static/app.css").status_code == 404  # not 401: no such file, but no key needed
    assert client.get("/fonts/x.woff2").status_code == 404
    assert client.get("/openapi.json/x").status_code == 401  # exact entries are not prefixes
    client = configure(api_key_sha256=(hash_api_key(KEY),), public_paths=("/healthz",))
    assert client.get("/openapi.json").status_code == 401  # the list is configurable


def test_cors_allowlist(configure):
    client = configure(cors_allow_origins=(ORIGIN,), api_key_sha256=(hash_api_key(KEY),))
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    # Browsers send preflights without credentials: they must not need a key.
    response = client.options("/v1/recommend", headers=preflight)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    evil = client.options("/v1/recommend", headers={**preflight, "Origin": "https://evil.example"})
    assert evil.status_code == 400
    assert "access-control-allow-origin" not in evil.headers
    # A 401 still carries the CORS header, so the page can show the error.
    response = client.get("/v1/options", headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == ORIGIN


def test_settings_from_app_args():
    from serve_app.config import AppArgs

    args = AppArgs.model_validate({"api_key_sha256": [hash_api_key(KEY).upper()], "cors_allow_origins": [ORIGIN],
                                   "max_request_bytes": 123})
    settings = SecuritySettings.from_args(args)
    assert settings.key_is_valid(KEY.encode()) and not settings.key_is_valid(b"nope")
    assert settings.cors_allow_origins == (ORIGIN,) and settings.max_request_bytes == 123
    with pytest.raises(ValueError):
        AppArgs.model_validate({"api_key_sha256": [KEY]})  # a raw key is refused: only hashes belong there
    # The default limit admits the largest valid brief (a 5 MB image as base64).
    assert AppArgs().max_request_bytes > (5 * 1024 * 1024) * 4 // 3


# --- the same over real HTTP through the Serve proxy (session cluster, no keys configured) ---------------


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _error_fields(response: httpx.Response) -> list[str]:
    return [str(item["loc"][-1]) for item in response.json()["detail"]]


@pytest.mark.slow
def test_http_size_and_content_type_limits(client):
    big = b"{" + b" " * 8_000_000 + b"}"
    response = client.post("/v1/recommend", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413

    def chunks():
        for _ in range(80):
            yield b" " * 100_000

    response = client.post("/v1/recommend", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    response = client.post("/v1/recommend", content=b"product_category=beverage",
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    # Invalid UTF-8 inside JSON: a 4xx, not a 500.
    response = client.post("/v1/recommend", content=b'{"product_category": "\xff\xfe"}',
                           headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.slow
def test_http_bad_images_get_422_naming_the_field(client):
    noise = Image.frombytes("RGB", (64, 64), np.random.default_rng(2).integers(0, 256, 64 * 64 * 3,
                                                                                 dtype=np.uint8).tobytes())
    raw = _png(noise)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    cases = {
        "truncated": (raw[: len(raw) // 2], "truncated or corrupt"),
        "bomb": (_png(Image.new("1", (20_000, 20_000))), "too many pixels"),
        "gif": (buffer.getvalue(), "PNG, JPEG or WebP"),
    }
    for name, (data, message) in cases.items():
        brief = {**BRIEF, "reference_image": base64.b64encode(data).decode()}
        response = client.post("/v1/recommend", json=brief)
        assert response.status_code == 422, (name, response.text)
        assert _error_fields(response) == ["reference_image"], name
        assert message in response.json()["detail"][0]["msg"], name
    response = client.post("/v1/recommend", json={**BRIEF, "reference_image": "%%% not base64 %%%"})
    assert response.status_code == 422 and "base64" in response.text


@pytest.mark.slow
def test_http_keywords_mixed_scripts_and_invisible_characters(client):
    keywords = "summer\u200b 夏季限定 🍋‍🟩 \u202eclassic\u202c عربي\u0000 ﬁzz"
    response = client.post("/v1/recommend", json={**BRIEF, "keywords": keywords})
    assert response.status_code == 200, response.text
    # 200 visible characters padded with invisible ones are accepted: the limit counts normalised text.
    response = client.post("/v1/recommend", json={**BRIEF, "keywords": "茶" * 200 + "\u200b" * 300})
    assert response.status_code == 200, response.text
    response = client.post("/v1/recommend", json={**BRIEF, "keywords": "茶" * 201})
    assert response.status_code == 422 and _error_fields(response) == ["keywords"]
    # A lone surrogate escape is valid JSON but not encodable text: removed, not a 500.
    response = client.post("/v1/recommend", content=b'{"product_category": "beverage", "package_format": "can",'
                           b' "keywords": "tea \\ud800 time", "num_schemes": 1}',
                           headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


# --- one cluster of its own: keys and CORS configured through serve_config.yaml args ----------------------


@pytest.fixture(scope="module")
def locked_cluster(tmp_path_factory):
    def overrides(config: dict) -> None:
        args = config["applications"][0]["args"]
        args["api_key_sha256"] = [hash_api_key(KEY)]
        args["cors_allow_origins"] = [ORIGIN]
        set_access_log(config, True)  # the shipped configs have it off; on, it must not log the key either

    # Entering waits for /healthz, which must stay public.
    with Cluster(tmp_path_factory.mktemp("locked"), config_overrides=overrides) as cluster:
        yield cluster


@pytest.mark.slow
def test_configured_key_is_enforced_on_the_cluster(locked_cluster):
    with httpx.Client(base_url=locked_cluster.base_url, timeout=60) as client:
        assert client.get("/healthz").status_code == 200
        response = client.post("/v1/recommend", json=BRIEF)
        assert response.status_code == 401 and "www-authenticate" in response.headers
        assert client.post("/v1/recommend", json=BRIEF, headers={"X-API-Key": "guess"}).status_code == 401
        ok = client.post("/v1/recommend", json=BRIEF, headers={"Authorization": f"Bearer {KEY}", "Origin": ORIGIN})
        assert ok.status_code == 200, ok.text
        assert ok.headers["access-control-allow-origin"] == ORIGIN
        assert client.get("/v1/options", headers={"X-API-Key": KEY}).status_code == 200
        preflight = client.options("/v1/recommend", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 200
    # No secrets in logs: the key appears in no file the cluster wrote (access logs are on).
    logs = Path(locked_cluster.temp_dir) / "session_latest" / "logs"
    files = [p for p in logs.rglob("*") if p.is_file()]
    assert any("serve" in str(p) for p in files)
    # The access log did write lines (the requests' routes), so the check below covers them too.
    assert any(b'"/v1/recommend"' in p.read_bytes() for p in files if "replica" in p.name), "no access-log line"
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
