"""The ingress's HTTP API, built once per Ingress replica (`build_api`), so settings, metrics and the replica
itself live in that app (`app.state`), never in module globals.

`/v1/recommend` reads the body itself: pydantic's Rust JSON parser validates it in one pass (NaN and infinities
are rejected per field), and the answer leaves as the bytes post-processing serialised, with no response-model
pass. The OpenAPI schema still documents both (`Brief` in, `Recommendation` out).
"""

# No `from __future__ import annotations`: FastAPI resolves route parameter types from real annotations.

from fastapi import FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel, ValidationError

from contract.brief import MAX_BRIEFS_PER_REQUEST, Brief, BriefBatch, Feedback
from contract.scheme import BatchRecommendation, HeatmapEncoding, Recommendation
from knowledge.labels import all_options
from serve_app import designer, errors, http_metrics, security
from serve_app.bounds import BoundedBodyRoute, body_errors, loads
from serve_app.config import AppArgs
from serve_app.feedback import DEFAULT_TENANT, UnknownAnswer

DESCRIPTION = (
    "Send a packaging brief (category, audience, tone, keywords in English or Chinese, package format, "
    "brand colours, optional reference image) and get several distinct design directions back: palette "
    "with roles, font pairing, style scores and a front-panel layout."
)
BRIEF_REF = "#/components/schemas/Brief"
BRIEF_BATCH_REF = "#/components/schemas/BriefBatch"
JSON = "application/json"


def parse_json_body(model: type[BaseModel], body: bytes):
    """pydantic's Rust parser first (one pass, strict JSON). It refuses what Python's json module reads: lone
    surrogate escapes ("\\ud800", which the contract removes from keywords) among them, so a body it calls
    invalid JSON gets a second reading before it is refused. Nesting too deep for either parser is invalid JSON
    (422), not a server error. A long body is first held to the model's bounds (`serve_app.bounds`), so what pydantic
    then validates makes at most a few dozen errors."""
    errors = body_errors(model, body)
    if errors:
        raise ValidationError.from_exception_data(model.__name__, errors)
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        if not any(e["type"] == "json_invalid" for e in exc.errors()):
            raise
        data = loads(body)  # orjson refuses them too; Python's json module reads them
        if data is None:
            raise exc from None
        return model.model_validate(data)


def parse_brief(body: bytes) -> Brief:
    return parse_json_body(Brief, body)


def _ingress(request: Request):
    ingress = request.app.state.ingress
    if ingress is None:  # an app built outside an Ingress replica (in-process tests of the middleware)
        raise HTTPException(status_code=503, detail="ingress not ready", headers={"Retry-After": "1"})
    return ingress


def _tenant(request: Request) -> str:
    """The API key's id (set by the security guard), or the shared default tenant when keys are off."""
    return getattr(request.state, "tenant", DEFAULT_TENANT)


def _with_brief_schema(app: FastAPI) -> None:
    """Put `Brief` and `BriefBatch` (read from the raw body, so FastAPI does not see them) into the OpenAPI
    components."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            brief = Brief.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
            components.update(brief.pop("$defs", {}))
            components["Brief"] = brief
            batch = BriefBatch.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
            batch.pop("$defs", None)  # Brief's, already there
            components["BriefBatch"] = batch
        return app.openapi_schema

    app.openapi = openapi


def build_api(args: AppArgs, ingress=None, metrics: bool = True) -> FastAPI:
    """The ingress app for one replica. `ingress=None` (in-process tests of the middleware): routes that need
    the replica answer 503."""
    app = FastAPI(title="Packaging design recommender", version="1.0", description=DESCRIPTION)
    app.router.route_class = BoundedBodyRoute  # body models held to their bounds first (serve_app.bounds)
    app.state.ingress = ingress
    # API keys, JSON-only bodies, size limit, CORS; metrics outermost.
    security.install(app, security.SecuritySettings.from_args(args))
    http_metrics.install(app, enabled=metrics)
    errors.install(app)

    @app.post(
        "/v1/recommend", summary="Design directions for a brief", response_class=Response,
        responses={200: {"model": Recommendation, "description": "The design directions", "content": {JSON: {}}},
                   422: {"description": "Invalid brief (the field is named)"},
                   503: {"description": "Over capacity; retry after Retry-After seconds"}},
        openapi_extra={"requestBody": {"required": True, "content": {JSON: {"schema": {"$ref": BRIEF_REF}}}}},
    )
    async def recommend(
        request: Request,
        heatmaps: HeatmapEncoding = Query(
            default="u8_base64", description="u8_base64 (compact, default) or grid (rows of 0-1 numbers)."),
    ):
        try:
            brief = parse_brief(await request.body())
        except ValidationError as exc:
            return errors.body_validation_error(exc)
        answer = await _ingress(request).answer_http(brief, heatmaps, request)
        return Response(answer, media_type=JSON) if isinstance(answer, bytes) else answer

    @app.post(
        "/v1/recommend/batch", summary="Design directions for several briefs in one request",
        description=f"Up to {MAX_BRIEFS_PER_REQUEST} briefs, each answered as `/v1/recommend` would answer it alone, "
                    "in the order sent. A brief that passes the schema but cannot be used (e.g. its reference image "
                    "does not decode) gets `{\"error\": {...}}` in its place; a body that fails the schema is a 422 "
                    "naming `briefs.<i>.<field>`, and nothing of it is answered. Brief i's `request_id` is the "
                    "request's id followed by `-i`.",
        response_class=Response,
        responses={200: {"model": BatchRecommendation, "description": "One answer per brief", "content": {JSON: {}}},
                   422: {"description": "Invalid body (the brief and field are named)"},
                   503: {"description": "Over capacity; retry after Retry-After seconds"}},
        openapi_extra={"requestBody": {"required": True,
                                       "content": {JSON: {"schema": {"$ref": BRIEF_BATCH_REF}}}}},
    )
    async def recommend_batch(
        request: Request,
        heatmaps: HeatmapEncoding = Query(
            default="u8_base64", description="u8_base64 (compact, default) or grid (rows of 0-1 numbers)."),
    ):
        try:
            batch = parse_json_body(BriefBatch, await request.body())
        except ValidationError as exc:
            return errors.body_validation_error(exc)
        answer = await _ingress(request).answer_http_batch(batch.briefs, heatmaps, request)
        return Response(answer, media_type=JSON) if isinstance(answer, bytes) else answer

    @app.get("/v1/options", summary="Every brief vocabulary with English and Chinese labels")
    async def options() -> dict:
        return all_options()

    @app.post("/v1/feedback", summary="Record a designer's reaction to one scheme")
    async def feedback(request: Request, event: Feedback):
        try:
            created = await _ingress(request).record_feedback(event.request_id, event.scheme_index,
                                                              event.action.value, _tenant(request))
        except UnknownAnswer as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        except IndexError as exc:
            return errors.field_error("scheme_index", str(exc))
        return {"status": "recorded" if created else "duplicate", "request_id": event.request_id}

    @app.get("/v1/learner/preferences", summary="What the learner has learned of this tenant's taste",
             description="The tenant is the API key's id (or the shared default tenant when keys are off). "
                         "Lists the features its choices weigh most, the learner version, and the choose / reject "
                         "events since its last reset.")
    async def learned_preferences(request: Request) -> dict:
        return await _ingress(request).learned_preferences(_tenant(request))

    @app.delete("/v1/learner/preferences", summary="Forget this tenant's learned taste",
                description="Answers stop being re-ranked for the tenant at once, and its events so far are left "
                            "out of every later training.")
    async def reset_preferences(request: Request) -> dict:
        return await _ingress(request).reset_preferences(_tenant(request))

    @app.get("/healthz", summary="Liveness of the whole graph")
    async def healthz(request: Request) -> dict:
        return await _ingress(request).health()

    # The designer page, its assets and POST /v1/preview.
    designer.install(app)
    _with_brief_schema(app)
    return app
