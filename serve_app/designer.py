"""Web routes of the ingress app: the designer page, its static files and fonts, and SVG previews.

Plain FastAPI routes and mounts, added to each replica's app by `install`. The one route that needs the
Ingress replica (recommendation + previews in one round trip) reaches it through the app's own state
(`app.state.ingress`), never a module global.
"""

# No `from __future__ import annotations`: FastAPI resolves route parameter types from real annotations.
import asyncio
import os
from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from contract.brief import Brief
from contract.preview import MAX_PREVIEW_TEXT, PreviewRequest
from contract.scheme import Recommendation
from preview import render_preview, render_svg
from serve_app.bounds import BoundedBodyRoute

WEB_DIR = Path(__file__).resolve().parent / "web"
# The CJK font chunks are a set-up time download (make setup), not committed; absent means system fonts.
CJK_FONTS_DIR = Path(os.environ.get("PACKDESIGN_WEB_FONTS",
                                    Path(__file__).resolve().parent.parent / "artifacts" / "web" / "fonts"))
SVG = "image/svg+xml"

router = APIRouter(route_class=BoundedBodyRoute)  # body models held to their bounds first


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    # check_dir=False: without the set-up download these paths answer 404 instead of failing at import.
    app.mount("/fonts/cjk", StaticFiles(directory=CJK_FONTS_DIR / "cjk", check_dir=False), name="cjk-fonts")


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return FileResponse(WEB_DIR / "index.html", media_type="text/html; charset=utf-8")


@router.get("/fonts/cjk.css", include_in_schema=False)
async def cjk_css() -> Response:
    path = CJK_FONTS_DIR / "cjk.css"
    if path.is_file():
        return FileResponse(path, media_type="text/css")
    # An empty sheet rather than a 404: the page's font stacks fall back to system CJK fonts.
    return Response("/* CJK web fonts not installed (make setup); system fonts are used. */\n", media_type="text/css")


@router.post("/v1/preview", response_class=Response, summary="Package-front preview (SVG) of one scheme",
             responses={200: {"content": {SVG: {}}, "description": "The preview as SVG"}})
async def preview(request: PreviewRequest) -> Response:
    svg = await asyncio.to_thread(render_preview, request)
    return Response(svg, media_type=SVG)


@router.post("/v1/recommend/previews", summary="Design directions for a brief, with their SVG previews",
             description="The /v1/recommend answer plus one preview (with a hidden heatmap layer) per scheme, "
                         "so a page can show everything after one round trip.")
async def recommend_with_previews(
    request: Request,
    brief: Brief,
    product_name: str | None = Query(default=None, max_length=MAX_PREVIEW_TEXT),
    brand: str | None = Query(default=None, max_length=MAX_PREVIEW_TEXT),
):
    ingress = request.app.state.ingress
    if ingress is None:  # an app built outside an Ingress replica (in-process tests of the middleware)
        raise HTTPException(status_code=503, detail="ingress not ready", headers={"Retry-After": "1"})
    answer = await ingress.answer_http(brief, "u8_base64", request)
    if not isinstance(answer, bytes):  # the ingress's own error response (422, 503), passed on
        return answer
    answer = Recommendation.model_validate_json(answer)
    # The query strings go through the same cleaning as a /v1/preview body.
    dress = PreviewRequest(scheme=answer.schemes[0], product_name=product_name, brand=brand,
                           locale=brief.locale)

    def draw() -> list[str]:
        return [render_svg(s, brief.package_format, product_name=dress.product_name, brand=dress.brand,
                           locale=brief.locale.value, heatmap=True) for s in answer.schemes]

    # learner_version only where the learner re-ranked (as in the /v1/recommend bytes).
    recommendation = answer.model_dump(mode="json", exclude={"learner_version"} if answer.learner_version is None
                                       else None)
    return {"recommendation": recommendation, "previews": await asyncio.to_thread(draw)}
