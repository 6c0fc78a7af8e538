"""The designer page in headless Chromium against the real app: what the page shows must be what the API
answered (palette hexes, SVG fills, heading font, layout boxes), both UI languages, feedback recorded.

Playwright drives Debian's /usr/bin/chromium (`make setup` installs it); `playwright install` is never run.
Screenshots go to artifacts/test-screenshots/.
"""

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from knowledge.fonts import load_fonts
from knowledge.labels import all_options
from benchmarks.local_cluster import ROOT

pytestmark = pytest.mark.slow

SHOTS = ROOT / "artifacts" / "test-screenshots"
FONT_SOURCES = json.loads((ROOT / "serve_app" / "web" / "fonts" / "sources.json").read_text(encoding="utf-8"))
SELF_HOSTED = {f["family"] for f in FONT_SOURCES["families"]}


@pytest.fixture
def page(browser, cluster):
    context = browser.new_context(base_url=cluster.base_url, viewport={"width": 1440, "height": 1000},
                                  accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # HTTP errors the tests provoke (422) show up as console errors too; 404s are caught by status below.
    page.on("console", lambda msg: msg.type == "error" and not msg.text.startswith("Failed to load resource")
            and problems.append(f"console: {msg.text}"))
    page.on("response", lambda r: r.status == 404 and problems.append(f"404: {r.url}"))
    # The page must work offline: any request off the test server is a failure.
    page.on("request", lambda req: req.url.startswith(cluster.base_url) or req.url.startswith(("data:", "blob:"))
            or problems.append(f"off-site request: {req.url}"))
    page.goto("/")
    page.wait_for_selector("body[data-ready='true']")
    yield page
    context.close()
    assert not problems, problems


def submit(page) -> dict:
    with page.expect_response(lambda r: "/v1/recommend/previews" in r.url) as info:
        page.click("#submit")
    response = info.value
    assert response.status == 200, response.text()
    body = response.json()
    page.wait_for_function("n => document.querySelectorAll('#cards .card').length === n",
                           arg=len(body["recommendation"]["schemes"]))
    return body


def svg_facts(card) -> dict:
    """What the browser actually drew in one card's inline SVG."""
    return card.evaluate("""card => {
      const svg = card.querySelector('figure svg');
      const panel = svg.querySelector('rect.panel-bg');
      const rect = (n) => ['x', 'y', 'width', 'height'].map((k) => Number(n.getAttribute(k)));
      const bbox = (n) => { const b = n.getBBox(); return [b.x, b.y, b.width, b.height]; };
      const name = svg.querySelector('text.product-name');
      return {
        panel: rect(panel),
        // An outline (fill none) shows its role's colour as the stroke.
        fills: [...svg.querySelectorAll('[data-role]')].map((n) => [n.getAttribute('data-role'),
          n.getAttribute('fill') === 'none' ? n.getAttribute('stroke') : n.getAttribute('fill')]),
        boxes: Object.fromEntries([...svg.querySelectorAll('g.box')].map(
          (g) => [g.dataset.element, g.dataset.box.split(' ').map(Number)])),
        hero: bbox(svg.querySelector('rect.hero')),
        logo: bbox(svg.querySelector('rect.logo-mark')),
        name: { text: name.textContent, family: name.getAttribute('font-family'),
                computed: getComputedStyle(name).fontFamily, weight: name.getAttribute('font-weight'),
                bbox: bbox(name) },
        heatmap: svg.querySelector('g.heatmap').getAttribute('visibility'),
        heatmapCells: svg.querySelectorAll('g.heatmap rect').length,
      };
    }""")


def assert_card_matches(page, card, scheme: dict, svg: str, product_name: str) -> None:
    palette = {c["role"]: c["hex"] for c in scheme["palette"]["colors"]}
    # Swatches: role, hex in palette order, and the measured contrast on the text swatch.
    swatches = card.locator("li.swatch")
    assert swatches.evaluate_all("ns => ns.map(n => n.dataset.hex)") == [c["hex"] for c in scheme["palette"]["colors"]]
    assert swatches.evaluate_all("ns => ns.map(n => n.dataset.role)") == [c["role"] for c in scheme["palette"]["colors"]]
    for c in scheme["palette"]["colors"]:
        assert c["hex"] in card.locator(f"li.swatch[data-role='{c['role']}']").inner_text()
    assert f"{scheme['palette']['text_contrast']:.2f}:1" in card.locator("li.swatch[data-role='text'] .badge").inner_text()
    assert "pass" in card.locator("li.swatch[data-role='text'] .badge").get_attribute("class")

    # The inline SVG is the server's preview, and its fills are the palette's colours by role.
    server = ET.fromstring(svg)
    assert card.locator("figure svg").evaluate("n => n.querySelectorAll('*').length") == len(list(server.iter())) - 1
    assert card.locator("figure svg").get_attribute("data-palette") == scheme["palette"]["id"]
    facts = svg_facts(card)
    for role, fill in facts["fills"]:
        if role != "glass":
            assert fill == palette[role], (role, fill)
    assert {"background", "primary", "accent"} <= {role for role, _ in facts["fills"]}

    # Product name: the given text, set in the heading family (first in the stack, also after CSS).
    heading = scheme["typography"]["heading"]
    assert facts["name"]["text"] == product_name
    assert facts["name"]["family"].split(",")[0].strip("'") == heading["family"]
    assert facts["name"]["computed"].split(",")[0].strip("'\"") == heading["family"]
    assert facts["name"]["weight"] == str(heading["weight"])
    if heading["family"] in SELF_HOSTED and "latin" in load_fonts()[heading["family"]].subsets:
        loaded = page.evaluate("f => document.fonts.load(`${f.weight} 20px '${f.family}'`).then(fs => fs.length)", heading)
        assert loaded >= 1, f"self-hosted font {heading['family']} did not load"

    # Boxes: the layout's boxes, drawn on the panel where the layout puts them.
    px, py, pw, ph = facts["panel"]
    assert facts["boxes"] == {k: pytest.approx(v, abs=1e-4) for k, v in scheme["layout"]["boxes"].items()}
    for element in ("hero", "logo"):
        bx, by, bw, bh = scheme["layout"]["boxes"][element]
        assert facts[element] == pytest.approx([px + bx * pw, py + by * ph, bw * pw, bh * ph], abs=0.05)
    bx, by, bw, bh = scheme["layout"]["boxes"]["product_name"]
    nx, ny, nw, nh = facts["name"]["bbox"]
    assert px + bx * pw - 1 <= nx and nx + nw <= px + (bx + bw) * pw + 1  # fitted to the box width
    assert py + by * ph <= ny + nh / 2 <= py + (by + bh) * ph  # centred within the box height

    # Font specimens, style bars, rationale.
    assert card.locator(".specimen.heading").first.get_attribute("data-family") == heading["family"]
    assert card.locator(".specimen.body").first.get_attribute("data-family") == scheme["typography"]["body"]["family"]
    assert card.locator(".bars li").evaluate_all("ns => ns.map(n => n.dataset.style)") == [
        s["id"] for s in scheme["style_scores"]]
    assert card.locator(".rationale").inner_text() == scheme["rationale"]

    # Heatmap overlay: hidden, then shown by its toggle (keyboard: Enter on the focused button).
    assert facts["heatmap"] == "hidden" and facts["heatmapCells"] > 0
    card.locator(".heatmap-toggle").focus()
    page.keyboard.press("Enter")
    assert svg_facts(card)["heatmap"] == "visible"
    assert card.locator(".heatmap-toggle").get_attribute("aria-pressed") == "true"


def test_english_brief_cards_match_the_api_and_choose_is_recorded(page, client):
    page.select_option("#product_category", "beverage")
    page.select_option("#package_format", "can")
    page.check("#audience_gen_z")
    page.check("#tone_fresh")
    page.check("#tone_pastel")
    page.fill("#keywords", "refreshing, summer limited")
    product_name = "Fizz & <Co>"
    page.fill("#product_name", product_name)
    page.check("#use_color_0")
    page.fill("#color_0", "#2bb673")
    page.fill("#num_schemes", "3")
    body = submit(page)
    answer, previews = body["recommendation"], body["previews"]
    assert len(answer["schemes"]) == 3
    assert any(c["hex"] == "#2bb673" for s in answer["schemes"] for c in s["palette"]["colors"])  # brand colour kept
    for i, scheme in enumerate(answer["schemes"]):
        assert_card_matches(page, page.locator(f"#cards .card[data-index='{i}']"), scheme, previews[i], product_name)
        # API users get the same picture from POST /v1/preview.
        same = client.post("/v1/preview", json={"scheme": scheme, "package_format": "can", "product_name": product_name,
                                                "locale": "en", "heatmap": True})
        assert same.status_code == 200 and same.headers["content-type"].startswith("image/svg+xml")
        assert same.text == previews[i]
    SHOTS.mkdir(parents=True, exist_ok=True)
    for toggle in page.locator(".heatmap-toggle").all():  # overlays off again for a clean picture
        toggle.click()
    page.screenshot(path=str(SHOTS / "designer-en.png"), full_page=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "designer-en-top.png"))  # the first screen (docs/designer-page.png)

    # Choose the first scheme: the page reports it recorded, and the store has it (a repeat is a duplicate).
    card = page.locator("#cards .card[data-index='0']")
    card.locator("button.choose").click()
    page.wait_for_selector("#cards .card[data-index='0'] .feedback[data-status]")
    assert card.locator(".feedback").get_attribute("data-status") == "recorded"
    assert card.locator(".feedback").inner_text() == "Feedback recorded."
    assert "chosen" in card.get_attribute("class")
    again = client.post("/v1/feedback", json={"request_id": answer["request_id"], "scheme_index": 0, "action": "chosen"})
    assert again.status_code == 200 and again.json()["status"] == "duplicate"

    # Downloads: the SVG is the preview byte for byte; the PNG is a real 2x raster of it.
    with page.expect_download() as info:
        card.locator("button.download-svg").click()
    assert Path(info.value.path()).read_text(encoding="utf-8") == previews[0]
    with page.expect_download() as info:
        card.locator("button.download-png").click()
    png = Image.open(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert png.format == "PNG" and png.size == (800, 1000)
    card.locator("button.copy").click()
    expect(card.locator(".feedback")).to_have_text("JSON copied.")  # the copy is asynchronous: wait for it


def test_chinese_ui_and_brief(page, client):
    zh = all_options()
    page.click("#lang-zh")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("label[for='product_category']") == "产品品类"
    assert page.inner_text("#submit") == "生成设计方案"
    # Vocabulary labels switch to the /v1/options zh labels.
    assert page.locator("#product_category option").all_inner_texts() == [o["zh"] for o in zh["product_category"]]
    assert page.inner_text("label[for='tone_guochao']").strip() == next(o["zh"] for o in zh["tone"] if o["id"] == "guochao")
    page.select_option("#product_category", "coffee_tea")
    page.select_option("#package_format", "box")
    page.check("#audience_young_women")
    page.check("#tone_guochao")
    page.fill("#keywords", "清爽 夏季限定 国潮 高级感")
    page.fill("#product_name", "山茶清露")
    page.fill("#num_schemes", "2")
    body = submit(page)
    answer = body["recommendation"]
    fonts = load_fonts()
    for i, scheme in enumerate(answer["schemes"]):
        card = page.locator(f"#cards .card[data-index='{i}']")
        assert_card_matches(page, card, scheme, body["previews"][i], "山茶清露")
        assert fonts[scheme["typography"]["heading"]["family"]].covers_zh  # a zh brief gets CJK fonts
        assert card.locator("button.choose").inner_text() == "选用"
        assert card.locator("figure svg").get_attribute("data-format") == "box"
    for toggle in page.locator(".heatmap-toggle").all():
        toggle.click()
    page.screenshot(path=str(SHOTS / "designer-zh.png"), full_page=True)

    card = page.locator("#cards .card[data-index='1']")
    card.locator("button.reject").click()
    page.wait_for_selector("#cards .card[data-index='1'] .feedback[data-status]")
    assert card.locator(".feedback").inner_text() == "反馈已记录。"
    again = client.post("/v1/feedback", json={"request_id": answer["request_id"], "scheme_index": 1, "action": "rejected"})
    assert again.json()["status"] == "duplicate"
    # Back to English: labels and the already-rendered cards follow.
    page.click("#lang-en")
    assert page.inner_text("label[for='product_category']") == "Product category"
    assert card.locator("button.choose").inner_text() == "Choose"


def test_reference_image_upload_previews_and_bad_image_is_a_clear_error(page, tmp_path):
    good = tmp_path / "ref.png"
    Image.new("RGB", (64, 64), (200, 40, 60)).save(good)
    page.select_option("#product_category", "snacks")
    page.select_option("#package_format", "bag")
    page.set_input_files("#reference_image", str(good))
    page.wait_for_selector(".ref-preview:not([hidden])")
    assert page.get_attribute("#reference_preview", "src").startswith("data:image/png;base64,")
    body = submit(page)
    assert page.locator("#cards .card figure svg").first.get_attribute("data-format") == "bag"
    assert len(body["previews"]) == 3

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"this is not an image")
    page.set_input_files("#reference_image", str(bad))
    page.wait_for_selector(".ref-preview:not([hidden])")
    with page.expect_response(lambda r: "/v1/recommend/previews" in r.url) as info:
        page.click("#submit")
    assert info.value.status == 422
    page.wait_for_selector("#status.error")
    assert "422" in page.inner_text("#status") and "reference_image" in page.inner_text("#status")


def test_web_routes_under_serve(client):
    index = client.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert "/static/app.js" in index.text
    for path, kind in (("/static/app.js", "javascript"), ("/static/style.css", "text/css"),
                       ("/static/fonts/fonts.css", "text/css"), ("/fonts/cjk.css", "text/css")):
        response = client.get(path)
        assert response.status_code == 200 and kind in response.headers["content-type"], path
    first = FONT_SOURCES["families"][0]
    woff2 = client.get(f"/static/fonts/latin/{first['files'][0]}")
    assert woff2.status_code == 200 and woff2.content[:4] == b"wOF2"
    assert client.get("/static/nope.js").status_code == 404
    assert client.get("/static/../serve_app/designer.py").status_code == 404
    assert client.get("/fonts/cjk/nope.woff2").status_code == 404


def test_preview_api_answers_svg_and_rejects_bad_input(client):
    answer = client.post("/v1/recommend", json={"product_category": "dairy", "package_format": "carton"}).json()
    scheme = answer["schemes"][0]
    response = client.post("/v1/preview", json={"scheme": scheme, "product_name": "Milk <&> Co"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(response.text)
    assert root.get("data-format") == "carton"
    assert "Milk <&> Co" in ET.tostring(root, encoding="unicode", method="text")
    pouch = client.post("/v1/preview", json={"scheme": scheme, "package_format": "pouch"})
    assert ET.fromstring(pouch.text).get("data-format") == "pouch"
    for bad in ({"scheme": scheme, "package_format": "crate"}, {"scheme": scheme, "product_name": "x" * 61},
                {"scheme": {**scheme, "palette": {**scheme["palette"], "colors": []}}}, {"product_name": "no scheme"},
                {"scheme": scheme, "unknown": 1}):
        response = client.post("/v1/preview", json=bad)
        assert response.status_code == 422, (bad.keys(), response.status_code)
    too_long = client.post("/v1/recommend/previews?product_name=" + "x" * 61,
                           json={"product_category": "dairy", "package_format": "carton"})
    assert too_long.status_code == 422
    invalid = client.post("/v1/recommend/previews", json={"product_category": "nope", "package_format": "carton"})
    assert invalid.status_code == 422
