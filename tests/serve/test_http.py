"""The real app over real HTTP on localhost: contract, languages, brand colours, errors, batching."""

from __future__ import annotations

import base64
from collections import Counter
import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from coloraide import Color
from PIL import Image

from contract.scheme import Recommendation
from knowledge.fonts import load_fonts
from knowledge.labels import all_options

pytestmark = pytest.mark.slow

EN_BRIEF = {
    "product_category": "beverage",
    "audience": ["gen_z"],
    "tone": ["fresh", "pastel"],
    "keywords": "refreshing, summer limited",
    "package_format": "can",
    "num_schemes": 3,
}
ZH_BRIEF = {
    "product_category": "coffee_tea",
    "audience": ["young_women"],
    "tone": ["guochao"],
    "keywords": "清爽 夏季限定 国潮 高级感",
    "package_format": "box",
    "num_schemes": 4,
    "locale": "zh",
}


def recommend(client, brief: dict) -> Recommendation:
    response = client.post("/v1/recommend", json=brief)
    assert response.status_code == 200, response.text
    return Recommendation.model_validate(response.json())


def assert_contract(answer: Recommendation, brief: dict) -> None:
    fonts = load_fonts()
    assert len(answer.schemes) == brief.get("num_schemes", 3)
    for scheme in answer.schemes:
        colors = {c.role.value: c.hex for c in scheme.palette.colors}
        roles = [c.role.value for c in scheme.palette.colors]
        assert roles.count("background") == 1 and roles.count("text") == 1
        assert {"primary", "accent"} <= set(roles)
        measured = Color(colors["text"]).contrast(Color(colors["background"]), method="wcag21")
        assert measured >= 4.5, (scheme.palette.id, measured)
        for font in (scheme.typography.heading, scheme.typography.body):
            assert font.family in fonts
            assert font.weight in fonts[font.family].weights
            if brief.get("locale") == "zh":
                assert fonts[font.family].covers_zh, font.family
        rows, cols = scheme.layout.grid
        for element in ("logo", "product_name", "hero", "claims"):
            x, y, w, h = scheme.layout.boxes[element]
            assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= 1.0001 and y + h <= 1.0001
            heatmap = scheme.layout.heatmap_grids()[element]
            assert len(heatmap) == rows and all(len(r) == cols for r in heatmap)
        assert scheme.rationale


def test_english_brief_meets_contract(client):
    answer = recommend(client, EN_BRIEF)
    assert_contract(answer, EN_BRIEF)
    assert answer.backend == "onnxruntime"
    assert answer.timings_ms.total >= answer.timings_ms.infer > 0
    assert "fresh" in answer.schemes[0].rationale  # the tone, or the keyword "refreshing"


def test_chinese_brief_meets_contract_with_cjk_fonts(client):
    answer = recommend(client, ZH_BRIEF)
    assert_contract(answer, ZH_BRIEF)
    assert any("国潮" in s.rationale or "清爽" in s.rationale for s in answer.schemes)


@pytest.mark.parametrize("n", [1, 5, 8])
def test_num_schemes_honoured_and_distinct(client, n):
    brief = EN_BRIEF | {"num_schemes": n}
    answer = recommend(client, brief)
    assert len(answer.schemes) == n
    palettes = [tuple(c.hex for c in s.palette.colors) for s in answer.schemes]
    assert len(set(palettes)) == n
    assert len({s.palette.id for s in answer.schemes}) == n


def test_brand_colors_are_kept(client):
    brief = EN_BRIEF | {"brand_colors": ["#E4002B", "#ffd700"]}
    answer = recommend(client, brief)
    for scheme in answer.schemes:
        hexes = {c.hex for c in scheme.palette.colors}
        assert {"#e4002b", "#ffd700"} <= hexes
        assert scheme.palette.text_contrast >= 4.5


def _png(colors: list[tuple[int, int, int]]) -> str:
    image = Image.new("RGB", (90, 30))
    for i, rgb in enumerate(colors):
        image.paste(rgb, (30 * i, 0, 30 * (i + 1), 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_reference_image_feeds_the_brief(client):
    brief = EN_BRIEF | {"reference_image": _png([(200, 16, 46), (10, 10, 10), (250, 215, 0)])}
    answer = recommend(client, brief)
    assert_contract(answer, brief)
    assert "reference image" in answer.schemes[0].rationale


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"product_category": "spaceship"}, "product_category"),
        ({"tone": ["morandi", "sparkly"]}, "tone"),
        ({"brand_colors": ["#12345"]}, "brand_colors"),
        ({"brand_colors": ["#111", "#222", "#333", "#444"]}, "brand_colors"),
        ({"keywords": "x" * 201}, "keywords"),
        ({"num_schemes": 9}, "num_schemes"),
        ({"package_format": None}, "package_format"),
        ({"reference_image": "not-base64!!"}, "reference_image"),
        ({"reference_image": base64.b64encode(b"GIF89a" + b"\0" * 40).decode()}, "reference_image"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_brief_is_422_naming_the_field(client, patch, field):
    response = client.post("/v1/recommend", json=EN_BRIEF | patch)
    assert response.status_code == 422, response.text
    locations = [".".join(str(p) for p in err["loc"]) for err in response.json()["detail"]]
    assert any(field in loc for loc in locations), locations


def test_options_lists_every_vocabulary_bilingually(client):
    response = client.get("/v1/options")
    assert response.status_code == 200
    assert response.json() == all_options()
    tones = {t["id"]: t for t in response.json()["tone"]}
    assert tones["morandi"]["zh"] and tones["morandi"]["en"]


def test_openapi_documents_the_contract(client):
    spec = client.get("/openapi.json").json()
    assert "/v1/recommend" in spec["paths"] and "/v1/feedback" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_feedback_is_recorded_once(client):
    answer = recommend(client, EN_BRIEF)
    event = {"request_id": answer.request_id, "scheme_index": 1, "action": "chosen"}
    first = client.post("/v1/feedback", json=event)
    again = client.post("/v1/feedback", json=event)
    assert first.json()["status"] == "recorded" and again.json()["status"] == "duplicate"
    assert client.post("/v1/feedback", json=event | {"scheme_index": 7}).status_code == 422
    assert client.post("/v1/feedback", json=event | {"request_id": "0" * 32}).status_code == 404


def test_concurrent_requests_are_batched(client, cluster):
    cluster.recommender("reset_stats")
    briefs = [EN_BRIEF | {"keywords": f"refreshing summer {i}"} for i in range(96)]
    with ThreadPoolExecutor(32) as pool:
        responses = list(pool.map(lambda b: client.post("/v1/recommend", json=b), briefs))
    codes = [r.status_code for r in responses]
    refused = Counter((r.status_code, r.text[:80]) for r in responses if r.status_code != 200)
    assert codes.count(200) == len(briefs), refused
    stats = cluster.recommender("stats")
    assert max(int(size) for size in stats["batch_sizes"]) > 1, stats
    # The replica's start-up heap is out of the collector's view (serve_app/heap.py).
    assert stats["gc_frozen_objects"] > 10_000, stats


def test_request_id_follows_the_client_header_and_keys_feedback(client):
    response = client.post("/v1/recommend", json=EN_BRIEF, headers={"x-request-id": "brief-20261124-0001"})
    assert response.status_code == 200
    assert response.json()["request_id"] == "brief-20261124-0001"
    assert response.headers["x-request-id"] == "brief-20261124-0001"
    event = {"request_id": "brief-20261124-0001", "scheme_index": 0, "action": "rejected"}
    assert client.post("/v1/feedback", json=event).json()["status"] == "recorded"


def test_ingress_is_warm_before_it_takes_traffic(client, cluster):
    """A new ingress replica sends one brief through the encoder and the recommender before it takes traffic (the
    first call through each handle sets up its router), and that brief never reaches the answer log."""
    import sqlite3

    warm_up = client.get("/healthz").json()["warm_up"]
    assert warm_up["ok"] is True, warm_up
    with sqlite3.connect(f"file:{cluster.tmp / 'feedback.sqlite3'}?mode=ro", uri=True) as db:
        logged = db.execute("SELECT COUNT(*) FROM answer_records WHERE request_id = 'warm-up'").fetchone()[0]
    assert logged == 0
