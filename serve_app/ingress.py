"""HTTP ingress and the Python entry point for DeploymentHandle callers, batch-first.

Per request the ingress does only what cannot be shared: parse and validate the brief (pydantic's Rust JSON
parser, no FastAPI body model), admission, and waiting for its micro-batch. Concurrent requests coalesce
(`serve_app.microbatch`, whose batches grow with the backlog where `@serve.batch`'s do not) into a micro-batch
that makes ONE call to the encoder deployment (arrays back) and ONE to the recommender replicas (arrays back), is
post-processed as a whole straight to answer bytes (`pipeline.postprocess` + `pipeline.answer`) in a worker thread,
or in a warm child process (`ingress_post_processes`, off the replica's GIL; `serve_app.post_pass`), and has its
answer records group-committed before any of its answers is sent. Nothing per request crosses a process boundary,
and nothing CPU-heavy runs on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from ray import serve
from ray.exceptions import RayActorError
from ray.serve.exceptions import BackPressureError, ReplicaUnavailableError
from ray.serve.handle import DeploymentHandle
from ray.serve.metrics import Histogram

from contract.brief import Brief
from contract.scheme import HeatmapEncoding, Recommendation
from pipeline import postprocess
from pipeline.answer import batch_answer_json, brief_answer_json
from pipeline.features import BriefRejection, EncodedBatch, encode_batch
from pipeline.features import warm as warm_encoding
from pipeline.taste import TasteBatch, TasteModel
from serve_app.autoscaling import ReportsCpu
from serve_app.config import AppArgs
from serve_app.encoder import inline_on_loop
from serve_app.errors import field_error
from serve_app.feedback import DEFAULT_TENANT, AnswerRecord, FeedbackStore
from serve_app.heap import freeze_startup_heap
from serve_app.microbatch import MicroBatcher
from serve_app.model_io import ModelInputs, ModelOutputs
from serve_app.post_pass import (Inferred, Pending, children_warm, join_split, live_children, post_in_child,
                                 post_process, split_pass, start_post_processes)

log = logging.getLogger("ray.serve")


class InvalidBrief(ValueError):
    """Raised to handle callers (and caught by the HTTP route) when the encoder rejects a brief."""

    def __init__(self, rejection: BriefRejection) -> None:
        super().__init__(f"{rejection.field}: {rejection.message}")
        self.rejection = rejection


class Overloaded(RuntimeError):
    """The graph cannot take this request now: answered 503 + Retry-After, never dropped silently."""


# A replica that died (killed, OOM, node lost) mid-call. Both hops are pure functions of their input, so
# one retry lands on a live replica (Serve's router stops picking the dead one); a second failure is a 503.
_REPLICA_GONE = (RayActorError, ReplicaUnavailableError)
# What a new replica sends through the path before it takes traffic (any valid brief would do).
WARM_UP_BRIEF = Brief(product_category="beverage", package_format="can", tone=["fresh"], keywords="warm-up")
# Micro-batches in flight per ingress replica unless serve_config.yaml says otherwise
# (`ingress_max_concurrent_batches`): while they wait on the encoder and recommender, the next one gathers
# everything that arrives.
CONCURRENT_MICRO_BATCHES = AppArgs.model_fields["ingress_max_concurrent_batches"].default
# Post-processing runs one pass at a time per replica, over every micro-batch whose model outputs are back by
# then (at most this many): it costs ~3 ms for one brief but ~0.5 ms a brief for 64 (benchmarks.postprocess_bench),
# and passes in parallel threads would only contend for the GIL.
POST_MAX_MICRO_BATCHES = 8
STAGE_BOUNDARIES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
# How often the event loop's lag is sampled: a timer due every this many seconds, and how late it ran.
LOOP_LAG_PERIOD_S = 0.05


async def _call_with_one_retry(call):
    try:
        return await call()
    except _REPLICA_GONE as exc:
        log.warning("replica died mid-call (%s); retrying once", exc.__class__.__name__)
    try:
        return await call()
    except _REPLICA_GONE as exc:
        raise Overloaded(f"a replica failed twice: {exc.__class__.__name__}") from exc


def request_id() -> str:
    """Serve's request id (from the x-request-id header, or generated) so logs and answers agree."""
    try:
        rid = serve.context._get_serve_request_context().request_id
    except Exception:  # noqa: BLE001 - private API; a fresh id is always acceptable
        rid = ""
    rid = "".join(ch for ch in rid if ch.isalnum() or ch in "-_")[:64]
    return rid if len(rid) >= 8 else uuid.uuid4().hex


@serve.deployment(ray_actor_options={"num_cpus": 0.25}, max_ongoing_requests=128)
@serve.ingress()  # the FastAPI app is built per replica by __serve_build_asgi_app__ (state per app)
class Ingress(ReportsCpu):
    async def __init__(self, encoder: DeploymentHandle | None, recommender: DeploymentHandle,
                       args: dict | None = None) -> None:
        # async: Serve awaits it on the replica's event loop, so the warm-up below can use the handles.
        self.args = AppArgs.model_validate(args or {})
        self.encoder = encoder
        self.recommender = recommender
        self.feedback = FeedbackStore(self.args.feedback_db)
        # The tenants' learned taste (pipeline.taste): off until `reconfigure` (user_config in serve_config.yaml)
        # names an artefact. Swapped whole, so a micro-batch uses one version throughout.
        self.taste: TasteModel | None = None
        self.taste_resets: dict[str, float] = {}
        self._resets_thread: threading.Thread | None = None
        self.in_flight = 0  # /v1/recommend briefs admitted and not yet answered (this replica)
        self.arrived = 0  # briefs offered to this replica so far, admitted or turned away (autoscaling's arrivals)
        # One thread for post-processing passes (one at a time) and, with `encoder: inline`, one for encoding: both
        # hold the GIL for much of their time, and more threads contending for it burn CPU on the hand-offs (the
        # BriefEncoder's calls 4 at a time in a pool: 10.7-10.9 ms of CPU a call against 8.7-9.4 in one thread,
        # benchmarks.encoder_hop); the event loop keeps its share between numpy calls.
        concurrent = self.args.ingress_max_concurrent_batches
        self.workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="post")
        self.encoding = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
        self.micro_batches = MicroBatcher(self._coalesced, self.args.ingress_max_batch_size,
                                          self.args.ingress_batch_wait_s, concurrent)
        # `ingress_post_processes`: passes in warm child processes instead (each its own GIL), one pass per child.
        # They start now and warm while this replica does (below); only the warm-up brief's pass waits for them.
        self.post_processes, children = start_post_processes(self.args.ingress_post_processes)
        self._children_cpu: dict[int, float] = {}  # child pid -> its CPU seconds after its last pass
        self._runs_out = 0  # post-processing runs sent to the children and not back yet (`ingress_post_processes` > 1)
        self._restarting: asyncio.Task | None = None  # a fresh pool after a child died
        self.post_passes = MicroBatcher(self._post_pass, POST_MAX_MICRO_BATCHES, 0.0,
                                        max(1, self.args.ingress_post_processes))
        self.micro_batch_metric = Histogram(
            "packdesign_ingress_batch_size", description="Briefs per ingress micro-batch (one encoder and one "
            "recommender call each).", boundaries=[1, 2, 4, 8, 16, 32, 64, 128])
        self.stage_metric = Histogram(
            "packdesign_ingress_stage_ms", description="Milliseconds of each micro-batch stage: wait (oldest brief, "
            "to forming), encode, infer, post, commit.", boundaries=STAGE_BOUNDARIES_MS, tag_keys=("stage",))
        # Every stage's end is seen on this replica's event loop, so a loop held by other work (HTTP parsing,
        # Serve's bookkeeping, a post-processing pass holding the GIL) delays every request in flight at once.
        self.loop_lag_metric = Histogram(
            "packdesign_ingress_loop_lag_ms", description="How late this replica's event loop ran a timer due every "
            f"{LOOP_LAG_PERIOD_S * 1000:.0f} ms: the time it was held by other work.", boundaries=STAGE_BOUNDARIES_MS)
        self._loop_watch: asyncio.Task | None = None
        # Warm before taking traffic: a replica added during a spike must not fill lazy caches on live requests.
        if encoder is None:  # `encoder: inline`: this replica encodes, so it loads what the encoder replicas do
            warm_encoding()
        if self.post_processes is None:  # with children, they hold the tables (~75 MB) and this process does not
            postprocess.warm()
        self.warm_up = await self._warm_path(children)
        freeze_startup_heap()  # after the warm-up: the routers and connections it made are start-up state too

    async def _warm_path(self, children: list[Future]) -> dict:
        """One brief through the whole path, never logged or answered: the first call through each handle sets up
        its router and connection (measured on 2 cores: a new replica's first request 75 ms, encode hop 35 and infer
        hop 35, against ~20 ms after), and it waits until the encoder and recommender replicas run and this
        replica's post-processing children (`children`: done when warm) are warm. A downstream deployment that does
        not answer within `warm_up_timeout_s` is reported (/healthz), not waited on forever."""
        started = time.perf_counter()
        item = Pending(WARM_UP_BRIEF, "grid", DEFAULT_TENANT, "warm-up", started)

        async def through_model_with_children_warm() -> Inferred:
            inferred = await self._through_model([item])
            await children_warm(children)
            return inferred

        try:
            inferred = await asyncio.wait_for(through_model_with_children_warm(), self.args.warm_up_timeout_s)
            await self._post_pass([inferred])
        except Exception as exc:  # noqa: BLE001 - take traffic anyway; the first requests pay the set-up instead
            log.warning("warm-up brief failed after %.1f s: %r", time.perf_counter() - started, exc)
            return {"ok": False, "ms": round((time.perf_counter() - started) * 1000, 1), "error": repr(exc)}
        return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}

    def reconfigure(self, config: dict) -> None:
        """Serve's user_config, changed in place (no restart, no request dropped): `learner_artefact`, a taste
        artefact written by `python -m learning` (or null: learner off)."""
        path = (config or {}).get("learner_artefact")
        taste = TasteModel.load(path) if path else None  # a bad artefact fails here and keeps the old one
        if taste is not None:
            self.taste_resets = self.feedback.resets()
            self._refresh_resets_every(float(config.get("learner_reset_refresh_s", 2.0)))
        self.taste = taste
        log.info("learner %s", f"version {taste.version}, {len(taste.tenants)} tenants" if taste else "off")

    def _refresh_resets_every(self, period_s: float) -> None:
        """Resets made through another ingress replica reach this one within `period_s` (one tiny query)."""
        if self._resets_thread is not None:
            return

        def refresh() -> None:
            while True:
                time.sleep(period_s)
                try:
                    self.taste_resets = self.feedback.resets()
                except Exception as exc:  # noqa: BLE001 - keep the last known resets; try again next period
                    log.warning("learner resets not refreshed: %s", exc)

        self._resets_thread = threading.Thread(target=refresh, name="learner-resets", daemon=True)
        self._resets_thread.start()

    def __serve_build_asgi_app__(self):
        from serve_app.api import build_api  # the routes import this module's types; built once per replica

        return build_api(self.args, ingress=self)

    # --- entry points -------------------------------------------------------------------------------------

    async def recommend(self, brief: Brief | dict, heatmaps: HeatmapEncoding = "grid") -> Recommendation:
        """One brief (DeploymentHandle callers): the answer as the contract model. Grid heatmaps by default,
        as handle callers always had them; raises InvalidBrief for a brief the encoder rejects."""
        answer = await self.answer(self._brief(brief), heatmaps, DEFAULT_TENANT, request_id())
        if isinstance(answer, BriefRejection):
            raise InvalidBrief(answer)
        return Recommendation.model_validate_json(answer)

    async def recommend_batch(self, briefs: list[Brief | dict | bytes | str],
                              heatmaps: HeatmapEncoding = "u8_base64") -> list[bytes]:
        """Many briefs in one handle call: each answer as JSON bytes (`Recommendation`), or for a brief the
        encoder rejects `{"error": {"field": ..., "message": ...}}`. Invalid briefs raise before any work."""
        parsed = [self._brief(b) for b in briefs]
        prefix = uuid.uuid4().hex[:16]
        rids = [f"{prefix}-{i}" for i in range(len(parsed))]
        answers = await self.answer_many(parsed, heatmaps, DEFAULT_TENANT, rids)
        return [brief_answer_json(a) for a in answers]

    async def answer_http(self, brief: Brief, heatmaps: HeatmapEncoding, request):
        """POST /v1/recommend: answer bytes, or the error response (422 rejection, 503 over capacity)."""
        answers = await self._admitted([brief], heatmaps, request, [request_id()])
        if not isinstance(answers, list):
            return answers
        if isinstance(answers[0], BriefRejection):
            return field_error(answers[0].field, answers[0].message)
        return answers[0]

    async def answer_http_batch(self, briefs: list[Brief], heatmaps: HeatmapEncoding, request):
        """POST /v1/recommend/batch: `{"answers": [...]}` in the briefs' order, each answer as the single route's
        bytes or the brief's rejection, joined without a second serialisation; or a 503 for all of them. Brief i's
        request id is the request's id + "-i" (what feedback on its schemes names)."""
        rid = request_id()
        answers = await self._admitted(briefs, heatmaps, request, [f"{rid}-{i}" for i in range(len(briefs))])
        if not isinstance(answers, list):
            return answers
        return batch_answer_json(answers)

    async def _admitted(self, briefs: list[Brief], heatmaps: HeatmapEncoding, request, rids: list[str]):
        """Admission, then the briefs' answers; a 503 response where the graph cannot take them now."""
        # Past max_in_flight briefs the answers could not come within budget anyway; say so at once.
        if self.in_flight + len(briefs) > max(self.args.max_in_flight, len(briefs)):
            self.arrived += len(briefs)  # demand all the same: what the autoscaler must see in a spike
            return self.unavailable("over capacity; retry shortly")
        self.in_flight += len(briefs)
        try:
            tenant = getattr(request.state, "tenant", DEFAULT_TENANT)
            return await asyncio.wait_for(self.answer_many(briefs, heatmaps, tenant, rids),
                                          timeout=self.args.recommend_timeout_s)
        except TimeoutError:
            return self.unavailable("recommendation timed out; retry shortly")
        except BackPressureError:  # a downstream deployment's max_queued_requests is reached
            return self.unavailable("over capacity; retry shortly")
        except Overloaded as exc:
            return self.unavailable(f"{exc}; retry shortly")
        finally:
            self.in_flight -= len(briefs)

    def unavailable(self, detail: str):
        from fastapi.responses import JSONResponse

        return JSONResponse(status_code=503, content={"detail": detail},
                            headers={"Retry-After": str(self.args.retry_after_s)})

    async def answer(self, brief: Brief, encoding: HeatmapEncoding, tenant: str, rid: str) -> bytes | BriefRejection:
        return (await self.answer_many([brief], encoding, tenant, [rid]))[0]

    async def answer_many(self, briefs: list[Brief], encoding: HeatmapEncoding, tenant: str,
                          rids: list[str]) -> list[bytes | BriefRejection]:
        if self._loop_watch is None:  # on the replica's event loop, which exists once requests arrive
            self._loop_watch = asyncio.get_running_loop().create_task(self._watch_loop())
        self.arrived += len(briefs)
        now = time.perf_counter()
        items = [Pending(brief, encoding, tenant, rid, now) for brief, rid in zip(briefs, rids)]
        if len(items) == 1:  # the common case: no gather around a single future
            return [await self.micro_batches.submit(items[0])]
        return await self.micro_batches.submit_many(items)

    async def _watch_loop(self) -> None:
        """Sample the event loop's lag for as long as the replica lives (~20 cheap wake-ups a second)."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LOOP_LAG_PERIOD_S
            await asyncio.sleep(LOOP_LAG_PERIOD_S)
            self.loop_lag_metric.observe(max(0.0, loop.time() - due) * 1000)

    @staticmethod
    def _brief(brief: Brief | dict | bytes | str) -> Brief:
        if isinstance(brief, Brief):
            return brief
        if isinstance(brief, (bytes, str)):
            return Brief.model_validate_json(brief)
        return Brief.model_validate(brief)

    # --- the micro-batch ----------------------------------------------------------------------------------

    async def _coalesced(self, items: list[Pending]) -> list[bytes | BriefRejection]:
        self.micro_batch_metric.observe(len(items))
        inferred = await self._through_model(items)
        started, encoded_at, inferred_at = inferred.started, inferred.encoded_at, inferred.inferred_at
        answers, records = await self.post_passes.submit(inferred)
        posted_at = time.perf_counter()
        # Group-committed by the store's writer thread; the answers are on disk before any client sees one.
        if records:
            await asyncio.wrap_future(self.feedback.submit_answers(records))
        # Where a micro-batch's time goes (a metric, since throughput mode buffers log lines): waiting to form,
        # each hop, post-processing, the answer log's commit.
        stages = {"wait": started - min(item.started for item in items), "encode": encoded_at - started,
                  "infer": inferred_at - encoded_at, "post": posted_at - inferred_at,
                  "commit": time.perf_counter() - posted_at}
        for stage, seconds in stages.items():
            self.stage_metric.observe(seconds * 1000, tags={"stage": stage})
        if log.isEnabledFor(logging.DEBUG):  # the stage metric has these; a line per micro-batch is for debugging
            log.debug("recommend batch=%d model_batch=%d backend=%s %s", len(items), inferred.result.batch_size,
                      inferred.result.backend, " ".join(f"{k}_ms={v * 1000:.1f}" for k, v in stages.items()))
        return answers

    async def _through_model(self, items: list[Pending]) -> Inferred:
        """The micro-batch's two hops: one encoder call (or encoding here, `encoder: inline`), one recommender call."""
        started = time.perf_counter()
        briefs = [item.brief for item in items]
        if self.encoder is not None:
            payload = [brief.model_dump_json().encode() for brief in briefs]
            encoded: EncodedBatch = await _call_with_one_retry(lambda: self.encoder.encode_batch.remote(payload))
        elif inline_on_loop(briefs):  # `encoder: inline`: same function, no hop; a few text-only briefs right here
            encoded = encode_batch(briefs, self.args.max_image_bytes)
        else:
            encoded = await asyncio.get_running_loop().run_in_executor(
                self.encoding, encode_batch, briefs, self.args.max_image_bytes)
        encoded_at = time.perf_counter()
        inputs = ModelInputs(encoded.input_ids, encoded.attention_mask, encoded.features)
        result: ModelOutputs = await _call_with_one_retry(lambda: self.recommender.infer_batch.remote(inputs))
        return Inferred(items, encoded, result, started, encoded_at, time.perf_counter())

    async def _post_pass(self, parts: list[Inferred]) -> list[tuple[list, list[AnswerRecord]]]:
        """Micro-batches whose model outputs are back -> per micro-batch, its answers and log records: one pass for
        those of one model version and backend, in the worker thread or a child process (`ingress_post_processes`).
        """
        groups: dict[tuple[str, str], list[int]] = {}
        for index, part in enumerate(parts):
            groups.setdefault((part.result.model_version, part.result.backend), []).append(index)
        model, resets = self.taste, self.taste_resets  # one version for the whole pass, whatever reconfigure does

        def with_taste(group: list[Inferred]) -> tuple[list[Inferred], TasteBatch | None]:
            tenants = [item.tenant for part in group for item in part.items]
            return group, model.batch(tenants, resets) if model is not None else None

        in_pass = [[parts[i] for i in indices] for indices in groups.values()]
        done = None
        if (pool := self.post_processes) is not None:
            try:  # one child or several: with one, each pass is a single run
                done = await self._split_between_children(pool, in_pass, with_taste)
            except BrokenProcessPool:  # a child died (killed, out of memory): its pass goes to the thread
                self._replace_post_processes(pool)
        if done is None:
            passes = [with_taste(group) for group in in_pass]
            done = await asyncio.get_running_loop().run_in_executor(self.workers, post_process, passes)
        results: list = [None] * len(parts)
        for indices, answered in zip(groups.values(), done):
            for i, result in zip(indices, answered):
                results[i] = result
        return results

    async def _split_between_children(self, pool: ProcessPoolExecutor, in_pass: list[list[Inferred]],
                                      with_taste) -> list:
        """Each pass cut into runs of briefs, one a child left idle by the passes already out (`split_pass`), the
        runs post-processed side by side, and joined back: with one micro-batch in flight a second child would
        otherwise sit idle while the first works through the whole pass, and with every child busy a cut only adds
        a pass's fixed cost. With one child (or every child busy) each pass goes whole, as one run. Each run's taste
        is read for its own briefs (`with_taste`)."""
        idle = max(1, self.args.ingress_post_processes - self._runs_out) if self.args.ingress_split_passes else 1
        runs_by_pass = [split_pass(group, idle) for group in in_pass]
        futures = [asyncio.wrap_future(pool.submit(post_in_child, [with_taste([part for _, part in run])]))
                   for runs in runs_by_pass for run in runs]
        self._runs_out += len(futures)
        try:
            results = iter(await asyncio.gather(*futures))
        finally:
            self._runs_out -= len(futures)
        done = []
        for group, runs in zip(in_pass, runs_by_pass):
            answered = []
            for _ in runs:
                pid, cpu_s, (one_pass,) = next(results)
                # A child's running total (the autoscaler's CPU signal counts the children's work too); passes can
                # finish out of order, so never step it back.
                self._children_cpu[pid] = max(cpu_s, self._children_cpu.get(pid, 0.0))
                answered.append(one_pass)
            done.append(join_split(len(group), runs, answered))
        return done

    def _replace_post_processes(self, broken: ProcessPoolExecutor) -> None:
        """Passes go to the worker thread until a fresh pool of warm children replaces the broken one (started off
        the event loop: spawning and warming takes ~1 s). Nothing accepted is lost meanwhile."""
        if self.post_processes is not broken:
            return  # another pass saw it first
        log.warning("a post-processing child died; passes run in the worker thread until new children are warm")
        self.post_processes = None
        broken.shutdown(wait=False, cancel_futures=True)
        # The thread's first pass waits for this (one worker, in order): the tables load once, on this rare path.
        self.workers.submit(postprocess.warm)

        async def restart() -> None:
            pool, children = await asyncio.to_thread(start_post_processes, self.args.ingress_post_processes)
            await children_warm(children)
            self.post_processes = pool

        self._restarting = asyncio.get_running_loop().create_task(restart())

    def children_cpu_s(self) -> float:
        # Dead children keep their last count: the sum only grows, as a process's CPU time does.
        return sum(self._children_cpu.values())

    # --- feedback and health ------------------------------------------------------------------------------

    async def record_feedback(self, request_id: str, scheme_index: int, action: str,
                              tenant: str | None = None) -> bool:
        return await asyncio.to_thread(self.feedback.record_feedback, request_id, scheme_index, action, tenant)

    async def learned_preferences(self, tenant: str) -> dict:
        """What the learner holds for `tenant` (for transparency), and the events the next training would use."""
        model, resets = self.taste, self.taste_resets
        events = await asyncio.to_thread(self.feedback.tenant_events, tenant)
        if model is None:
            found = {"learned": False, "learner_version": None, "events": 0, "preferences": []}
        elif resets.get(tenant, 0.0) > model.trained_at:  # reset since this version was trained
            found = {"learned": False, "learner_version": model.version, "events": 0, "preferences": []}
        else:
            found = model.describe(tenant)
        return {"tenant": tenant, **found, "events_since_reset": events,
                "reset_at": resets.get(tenant)}

    async def reset_preferences(self, tenant: str) -> dict:
        """Forget `tenant`'s learned taste: at once on this replica, within the refresh period on the others,
        and for every later training (its events so far are left out)."""
        at = await asyncio.to_thread(self.feedback.reset_tenant, tenant)
        self.taste_resets = {**self.taste_resets, tenant: at}
        return {"tenant": tenant, "status": "reset", "reset_at": at}

    async def health(self) -> dict:
        stats = await self.recommender.stats.remote()
        return {"status": "ok", "backend": stats["backend"], "precision": stats["precision"],
                "model_version": stats["model_version"],
                "learner_version": self.taste.version if self.taste is not None else None,
                "warm_up": self.warm_up,
                # Live post-processing children of this replica (`ingress_post_processes`; 0: the worker thread).
                "post_processes": live_children(self.post_processes)}
