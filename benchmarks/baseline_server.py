"""The baseline the Ray Serve graph is measured against: the same contract, batch functions, model and answer
log in plain server processes, no Ray: uvicorn workers sharing one listening socket, each micro-batching its
own concurrent requests in-process exactly as the Serve ingress does (same batch size and wait).

    .venv/bin/python -m benchmarks.baseline_server --port 8100 --workers 1 --backend onnxruntime --threads 1
    .venv/bin/python -m benchmarks.baseline_server --port 8100 --workers 12 --backend torch   # a GPU node

Per micro-batch: `pipeline.features.encode_batch` -> backend.infer -> `pipeline.answer.answer_batch` (the
post-processing and serialisation the ingress runs) -> one group commit of the answer records. It exists only
to measure what the Ray graph costs (benchmarks/servers.py starts it); it is not a deployment option.
"""

import argparse
import asyncio
import contextlib
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from benchmarks import one_blas_thread, positive_int

# Before numpy loads, in the parent and in each uvicorn worker it spawns (they import this module): one BLAS thread,
# as Ray gives each Serve replica (OMP_NUM_THREADS=1 for num_cpus <= 1). OpenBLAS otherwise starts a thread per core
# and, from passes of ~8 briefs, spins them in post-processing's products: 2 cores, 1.4-2.0x the process CPU a
# brief at batch 8-64 for the same wall time (2026-12-07), CPU the other workers needed.
one_blas_thread()

from fastapi import FastAPI, Query, Request, Response  # noqa: E402 - after the BLAS setting
from pydantic import ValidationError  # noqa: E402
from contract.brief import MAX_IMAGE_BYTES, BriefBatch
from contract.scheme import HeatmapEncoding
from inference.base import warm_for_serving
from inference.registry import select_backend
from pipeline import postprocess
from serve_app.heap import freeze_startup_heap
from pipeline.postprocess import answer_batch
from pipeline.features import BriefRejection, encode_batch
from pipeline.features import warm as warm_encoding
from pipeline.answer import batch_answer_json
from serve_app.api import parse_brief, parse_json_body
from serve_app.config import AppArgs
from serve_app.errors import body_validation_error, field_error
from serve_app.feedback import DEFAULT_TENANT, AnswerRecord, FeedbackStore

ENV = "PACKDESIGN_BASELINE_"
JSON = "application/json"


class MicroBatcher:
    """Coalesces concurrent requests of this process: a batch leaves when it is full or when its first
    request has waited `wait_s` (the policy of Serve's @serve.batch in the ingress)."""

    def __init__(self, handle_batch, max_batch: int, wait_s: float, concurrent: int) -> None:
        self.handle_batch, self.max_batch, self.wait_s = handle_batch, max_batch, wait_s
        self.slots = asyncio.Semaphore(concurrent)  # batches in flight; the next one fills meanwhile
        self.pending: list[tuple[object, asyncio.Future]] = []
        self.timer: asyncio.TimerHandle | None = None

    async def submit(self, item):
        future = asyncio.get_running_loop().create_future()
        self.pending.append((item, future))
        if len(self.pending) >= self.max_batch:
            self._flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.wait_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending, []
        if batch:
            asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch) -> None:
        async with self.slots:
            try:
                results = await self.handle_batch([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiting request learns of the failure
                for _, future in batch:
                    future.set_exception(exc)
                return
        for (_, future), result in zip(batch, results):
            future.set_result(result)


class Baseline:
    def __init__(self) -> None:
        length_group = AppArgs.model_fields["ort_length_group"].default  # as the Serve graph's recommender
        options = {"onnxruntime": {"precision": os.environ.get(ENV + "PRECISION", "fp32"),
                                   "intra_op_threads": int(os.environ.get(ENV + "THREADS", "1")),
                                   "length_group": int(os.environ.get(ENV + "LENGTH_GROUP", length_group))},
                   "torch": {"cuda_graphs": True}, "tensorrt": {"engine_dir": "artifacts/engines"}}
        self.backend = select_backend(os.environ.get(ENV + "BACKEND", "onnxruntime"), options)
        warm_for_serving(self.backend)
        self.version = self.backend.info.detail.get("model_version") or "unknown"
        warm_encoding()  # every table encoding reads, as the Serve encoder replicas do
        postprocess.warm()
        self.store = FeedbackStore(os.environ.get(ENV + "DB", f"/tmp/packdesign-baseline-{os.getpid()}.sqlite3"))
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="batch")
        self.batcher = MicroBatcher(self._batch, int(os.environ.get(ENV + "MAX_BATCH", "64")),
                                    float(os.environ.get(ENV + "BATCH_WAIT_S", "0.002")), concurrent=2)
        freeze_startup_heap()  # as the Serve replicas do: the same batch functions under the same collector

    def _compute(self, items):
        started = time.perf_counter()
        briefs = [brief for brief, _, _, _ in items]
        encoded = encode_batch(briefs, MAX_IMAGE_BYTES)
        encoded_at = time.perf_counter()
        outputs = self.backend.infer(encoded.input_ids, encoded.attention_mask, encoded.features)
        inferred_at = time.perf_counter()
        answers, batch_schemes = answer_batch(
            briefs, encoded, outputs, [rid for _, _, rid, _ in items], [enc for _, enc, _, _ in items],
            self.version, self.backend.info.name,
            {"encode": (encoded_at - started) * 1000, "infer": (inferred_at - encoded_at) * 1000},
            [t for _, _, _, t in items], time.perf_counter)
        records = AnswerRecord.for_batch([rid for _, _, rid, _ in items], [DEFAULT_TENANT] * len(items), briefs,
                                         self.version, batch_schemes)
        return answers, records

    async def _batch(self, items):
        answers, records = await asyncio.get_running_loop().run_in_executor(self.pool, self._compute, items)
        if records:  # answered only once the records are committed, as the Serve ingress does
            await asyncio.wrap_future(self.store.submit_answers(records))
        return answers


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    # Per worker process: each has its own backend, batcher and answer-log connection.
    app.state.baseline = Baseline()
    yield
    app.state.baseline.store.close()


app = FastAPI(title="packdesign baseline (no Ray)", lifespan=_lifespan)


@app.get("/healthz")
async def healthz(request: Request) -> dict:
    baseline = request.app.state.baseline
    return {"status": "ok", "backend": baseline.backend.info.name, "precision": baseline.backend.info.precision,
            "model_version": baseline.version, "pid": os.getpid()}


@app.post("/v1/recommend")
async def recommend(request: Request, heatmaps: HeatmapEncoding = Query(default="u8_base64")):
    started = time.perf_counter()
    try:
        brief = parse_brief(await request.body())
    except ValidationError as exc:
        return body_validation_error(exc)
    answer = await request.app.state.baseline.batcher.submit((brief, heatmaps, uuid.uuid4().hex, started))
    if isinstance(answer, BriefRejection):
        return field_error(answer.field, answer.message)
    return Response(answer, media_type=JSON)


@app.post("/v1/recommend/batch")
async def recommend_batch(request: Request, heatmaps: HeatmapEncoding = Query(default="u8_base64")):
    started = time.perf_counter()
    try:
        batch = parse_json_body(BriefBatch, await request.body())
    except ValidationError as exc:
        return body_validation_error(exc)
    rid, batcher = uuid.uuid4().hex, request.app.state.baseline.batcher
    answers = await asyncio.gather(*(batcher.submit((brief, heatmaps, f"{rid}-{i}", started))
                                     for i, brief in enumerate(batch.briefs)))
    return Response(batch_answer_json(answers), media_type=JSON)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=positive_int, default=1, help="server processes sharing the socket")
    parser.add_argument("--backend", default="onnxruntime", choices=["auto", "onnxruntime", "torch", "tensorrt"])
    parser.add_argument("--precision", default="fp32", help="ONNX Runtime variant")
    parser.add_argument("--threads", type=positive_int, default=1, help="ONNX Runtime intra-op threads per process")
    parser.add_argument("--max-batch", type=positive_int, default=64)
    parser.add_argument("--batch-wait-s", type=float, default=0.002)
    args = parser.parse_args()
    os.environ.update({ENV + "BACKEND": args.backend, ENV + "PRECISION": args.precision,
                       ENV + "THREADS": str(args.threads), ENV + "MAX_BATCH": str(args.max_batch),
                       ENV + "BATCH_WAIT_S": str(args.batch_wait_s)})
    uvicorn.run("benchmarks.baseline_server:app", host=args.host, port=args.port, workers=args.workers,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
