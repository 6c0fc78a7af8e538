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
from ray import serve
from ray.exceptions import RayActorError
from ray.serve.exceptions import BackPressureError, ReplicaUnavailableError
from ray.serve.handle import DeploymentHandle

from contract.brief import Brief, Feedback
from contract.scheme import Recommendation, Timings
from knowledge.labels import all_options
from pipeline.postprocess import assemble_schemes
from pipeline.tokenization import tokenizer
from serve_app.config import AppArgs
from serve_app.encoder import BriefRejection, encode_or_reject
from serve_app.feedback import FeedbackStore, UnknownAnswer
from serve_app import errors, http_metrics, security, web
from serve_app.errors import field_error

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
# API keys, JSON-only bodies, size limit, CORS (settings come from AppArgs in Ingress.__init__); metrics outermost.
security.install(api)
http_metrics.install(api)
errors.install(api)
# The designer page, its assets and POST /v1/preview (plain routes, outside the Ingress class).
web.install(api)


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


class Overloaded(RuntimeError):
    """The graph cannot take this request now: answered 503 + Retry-After, never dropped silently."""


# A replica that died (killed, OOM, node lost) mid-call. Both hops are pure functions of their input, so
# one retry lands on a live replica (Serve's router stops picking the dead one); a second failure is a 503.
_REPLICA_GONE = (RayActorError, ReplicaUnavailableError)


async def _call_with_one_retry(call):
    try:
        return await call()
    except _REPLICA_GONE as exc:
        log.warning("replica died mid-call (%s); retrying once", exc.__class__.__name__)
    try:
        return await call()
    except _REPLICA_GONE as exc:
        raise Overloaded(f"a replica failed twice: {exc.__class__.__name__}") from exc


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=200)
@serve.ingress(api)
class Ingress:
    def __init__(self, encoder: DeploymentHandle | None, recommender: DeploymentHandle,
                 args: dict | None = None) -> None:
        self.args = AppArgs.model_validate(args or {})
        security.configure(security.SecuritySettings.from_args(self.args))
        http_metrics.enable()
        web.attach(self)
        self.encoder = encoder
        if encoder is None:
            tokenizer()  # inline encoding: load it now, not on the first request
        self.recommender = recommender
        self.feedback = FeedbackStore(self.args.feedback_db)
        self.in_flight = 0  # /v1/recommend requests admitted and not yet answered (this replica)

    async def recommend(self, brief: Brief | dict) -> Recommendation:
        """Python entry point (DeploymentHandle callers); the HTTP route calls it too."""
        if not isinstance(brief, Brief):
            brief = Brief.model_validate(brief)
        request_id = _request_id()
        started = time.perf_counter()
        if self.encoder is None:  # `encoder: inline`: same work, no hop
            encoded = await asyncio.to_thread(encode_or_reject, brief, self.args.max_image_bytes)
        else:
            encoded = await _call_with_one_retry(lambda: self.encoder.encode.remote(brief))
        if isinstance(encoded, BriefRejection):
            raise InvalidBrief(encoded)
        encoded_at = time.perf_counter()
        result = await _call_with_one_retry(lambda: self.recommender.infer.remote(encoded))
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
        # Group-committed by the store's writer thread; the answer is on disk before the client sees it.
        await asyncio.wrap_future(self.feedback.submit_answer(
            request_id, brief.model_dump(mode="json"), [s.model_dump(mode="json") for s in schemes],
            result.model_version,
        ))
        log.info("recommend request_id=%s backend=%s batch=%d total_ms=%.1f schemes=%d", request_id,
                 result.backend, result.batch_size, answer.timings_ms.total, len(schemes),
                 extra={"packdesign_request_id": request_id})
        return answer

    @api.post("/v1/recommend", response_model=Recommendation, summary="Design directions for a brief")
    async def recommend_http(self, brief: Brief):
        # Admission: past max_in_flight the answer could not come within budget anyway; say so at once.
        if self.in_flight >= self.args.max_in_flight:
            raise self._unavailable("over capacity; retry shortly")
        self.in_flight += 1
        try:
            return await asyncio.wait_for(self.recommend(brief), timeout=self.args.recommend_timeout_s)
        except InvalidBrief as exc:
            return field_error(exc.rejection.field, exc.rejection.message)
        except TimeoutError as exc:
            raise self._unavailable("recommendation timed out; retry shortly") from exc
        except BackPressureError as exc:  # a downstream deployment's max_queued_requests is reached
            raise self._unavailable("over capacity; retry shortly") from exc
        except Overloaded as exc:
            raise self._unavailable(f"{exc}; retry shortly") from exc
        finally:
            self.in_flight -= 1

    def _unavailable(self, detail: str) -> HTTPException:
        return HTTPException(status_code=503, detail=detail, headers={"Retry-After": str(self.args.retry_after_s)})

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
            return field_error("scheme_index", str(exc))
        return {"status": "recorded" if created else "duplicate", "request_id": event.request_id}

    @api.get("/healthz", summary="Liveness of the whole graph")
    async def healthz(self) -> dict:
        stats = await self.recommender.stats.remote()
        return {"status": "ok", "backend": stats["backend"], "precision": stats["precision"]}
