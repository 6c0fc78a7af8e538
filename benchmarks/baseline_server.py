"""The baseline the Ray Serve graph is measured against: the same contract, model and post-processing in ONE
plain FastAPI process (uvicorn, one worker), no Ray, no batching, no hops.

    PACKDESIGN_BASELINE_THREADS=1 uvicorn benchmarks.baseline_server:app --port 8100

Each request runs validation -> image colours -> encoding -> ONNX Runtime -> post-processing -> answer record in
SQLite on a worker thread (sync route), like the Serve app does across its deployments. It exists only to
measure what the Ray graph costs (benchmarks/servers.py starts it); it is not a deployment option.
"""

import contextlib
import os
import time
import uuid

import anyio
import numpy as np
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from contract.brief import MAX_IMAGE_BYTES, Brief
from contract.scheme import Recommendation, Timings
from inference.base import create_backend
from pipeline.features import encode_brief
from pipeline.postprocess import assemble_schemes
from pipeline.reference_image import ReferenceImageError, reference_colors
from pipeline.tokenization import pad_batch, tokenizer
from serve_app.feedback import FeedbackStore

_backend = create_backend("onnxruntime", precision="fp32",
                          intra_op_threads=int(os.environ.get("PACKDESIGN_BASELINE_THREADS", "1")))
_backend.warmup((1,))
tokenizer()
_store = FeedbackStore(os.environ.get("PACKDESIGN_BASELINE_DB", "/tmp/packdesign-baseline.sqlite3"))


@contextlib.asynccontextmanager
async def _lifespan(_app: FastAPI):
    # Sync routes run on AnyIO's thread pool; its size is the server's concurrency.
    anyio.to_thread.current_default_thread_limiter().total_tokens = int(
        os.environ.get("PACKDESIGN_BASELINE_CONCURRENCY", "8"))
    yield


app = FastAPI(title="packdesign baseline (no Ray)", lifespan=_lifespan)


@app.get("/healthz")
def healthz() -> dict:
    return {"status": "ok", "backend": _backend.info.name}


@app.post("/v1/recommend", response_model=Recommendation)
def recommend(brief: Brief):
    started = time.perf_counter()
    colors: list[str] = []
    if brief.reference_image:
        try:
            colors = reference_colors(brief.reference_image, MAX_IMAGE_BYTES)
        except ReferenceImageError as exc:
            return JSONResponse(status_code=422, content={"detail": [
                {"loc": ["body", "reference_image"], "msg": str(exc), "type": "value_error"}]})
    encoded = encode_brief(brief, colors)
    encoded_at = time.perf_counter()
    ids, mask = pad_batch([encoded.token_ids])
    outputs = _backend.infer(ids, mask, encoded.features[None].astype(np.float32))
    inferred_at = time.perf_counter()
    schemes = assemble_schemes(brief, encoded, {name: value[0] for name, value in outputs.items()})
    done = time.perf_counter()
    request_id = uuid.uuid4().hex
    version = _backend.info.detail.get("model_version") or "unknown"
    _store.record_answer(request_id, brief.model_dump(mode="json"), [s.model_dump(mode="json") for s in schemes],
                         version)
    return Recommendation(
        request_id=request_id, model_version=version, backend=_backend.info.name,
        timings_ms=Timings(encode=round((encoded_at - started) * 1000, 2),
                           infer=round((inferred_at - encoded_at) * 1000, 2),
                           post=round((done - inferred_at) * 1000, 2), total=round((done - started) * 1000, 2)),
        schemes=schemes,
    )
