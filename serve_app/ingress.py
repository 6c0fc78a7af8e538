"""HTTP ingress (FastAPI via @serve.ingress) and the Python entry point for DeploymentHandle callers.

Flow per brief: encoder hop (CPU: validate, tokenise, features, image colours) -> recommender hop
(batched model call) -> post-processing here (distinct schemes, brand colours, contrast, boxes).
Post-processing runs in the ingress so that the recommender replicas spend their time on the model.
"""

# No `from __future__ import annotations`: FastAPI resolves route parameter types from real annotations
# (string ones stay unresolved forward references once Serve wraps the methods).
import asyncio
import logging
import time
import uuid

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from ray import serve
from ray.serve.handle import DeploymentHandle

from contract.brief import Brief, Feedback
from contract.scheme import Recommendation, Timings
from knowledge.labels import all_options
from model.postprocess import assemble_schemes
from serve_app.config import AppArgs
from serve_app.encoder import BriefRejection
from serve_app.feedback import FeedbackStore, UnknownAnswer

log = logging.getLogger("ray.serve")

api = FastAPI(
    title="Packaging design recommender",
    version="1.0",
    description=(
        "Send a packaging brief (category, audience, tone, keywords in English or Chinese, package format, "
        "brand colours, optional reference image) and get several distinct design directions back: palette "
        "with roles, font pairing, style scores and a front-panel layout."
    ),
)


class InvalidBrief(ValueError):
    """Raised to handle callers (and caught by the HTTP route) when the encoder rejects a brief."""

    def __init__(self, rejection: BriefRejection) -> None:
        super().__init__(f"{rejection.field}: {rejection.message}")
        self.rejection = rejection


def _request_id() -> str:
    """Serve's request id (from the x-request-id header, or generated) so logs and answers agree."""
    try:
        rid = serve.context._get_serve_request_context().request_id
    except Exception:  # noqa: BLE001 - private API; a fresh id is always acceptable
        rid = ""
    rid = "".join(ch for ch in rid if ch.isalnum() or ch in "-_")[:64]
    return rid if len(rid) >= 8 else uuid.uuid4().hex


def _validation_error(field: str, message: str) -> JSONResponse:
    # Same shape as FastAPI's own 422 so clients handle schema and semantic errors alike.
    return JSONResponse(status_code=422, content={"detail": [
        {"loc": ["body", field], "msg": message, "type": "value_error"}]})


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=200)
@serve.ingress(api)
class Ingress:
    def __init__(self, encoder: DeploymentHandle, recommender: DeploymentHandle, args: dict | None = None) -> None:
        self.args = AppArgs.model_validate(args or {})
        self.encoder = encoder
        self.recommender = recommender
        self.feedback = FeedbackStore(self.args.feedback_db)

    async def recommend(self, brief: Brief | dict) -> Recommendation:
        """Python entry point (DeploymentHandle callers); the HTTP route calls it too."""
        if not isinstance(brief, Brief):
            brief = Brief.model_validate(brief)
        request_id = _request_id()
        started = time.perf_counter()
        encoded = await self.encoder.encode.remote(brief)
        if isinstance(encoded, BriefRejection):
            raise InvalidBrief(encoded)
        encoded_at = time.perf_counter()
        result = await self.recommender.infer.remote(encoded)
        inferred_at = time.perf_counter()
        # Post-processing is CPU work in Python; a worker thread keeps this replica's event loop responsive.
        schemes = await asyncio.to_thread(assemble_schemes, brief, encoded, result.outputs)
        done = time.perf_counter()
        answer = Recommendation(
            request_id=request_id,
            model_version=result.model_version,
            backend=result.backend,
            timings_ms=Timings(
                encode=round((encoded_at - started) * 1000, 2),
                infer=round((inferred_at - encoded_at) * 1000, 2),
                post=round((done - inferred_at) * 1000, 2),
                total=round((done - started) * 1000, 2),
            ),
            schemes=schemes,
        )
        await asyncio.to_thread(
            self.feedback.record_answer, request_id, brief.model_dump(mode="json"),
            [s.model_dump(mode="json") for s in schemes], result.model_version,
        )
        log.info("recommend request_id=%s backend=%s batch=%d total_ms=%.1f schemes=%d", request_id,
                 result.backend, result.batch_size, answer.timings_ms.total, len(schemes),
                 extra={"packdesign_request_id": request_id})
        return answer

    @api.post("/v1/recommend", response_model=Recommendation, summary="Design directions for a brief")
    async def recommend_http(self, brief: Brief):
        try:
            return await asyncio.wait_for(self.recommend(brief), timeout=self.args.recommend_timeout_s)
        except InvalidBrief as exc:
            return _validation_error(exc.rejection.field, exc.rejection.message)
        except TimeoutError as exc:
            raise HTTPException(status_code=503, detail="recommendation timed out; retry shortly",
                                headers={"Retry-After": "1"}) from exc

    @api.get("/v1/options", summary="Every brief vocabulary with English and Chinese labels")
    async def options(self) -> dict:
        return all_options()

    @api.post("/v1/feedback", summary="Record a designer's reaction to one scheme")
    async def feedback_http(self, event: Feedback):
        try:
            created = await asyncio.to_thread(
                self.feedback.record_feedback, event.request_id, event.scheme_index, event.action.value
            )
        except UnknownAnswer as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        except IndexError as exc:
            return _validation_error("scheme_index", str(exc))
        return {"status": "recorded" if created else "duplicate", "request_id": event.request_id}

    @api.get("/healthz", summary="Liveness of the whole graph")
    async def healthz(self) -> dict:
        stats = await self.recommender.stats.remote()
        return {"status": "ok", "backend": stats["backend"], "precision": stats["precision"]}
