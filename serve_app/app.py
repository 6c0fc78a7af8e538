"""Application builder: `import_path: serve_app.app:build_app` in serve_config.yaml.

Deployment options (replicas, autoscaling, batching, CPU/GPU shares) live in serve_config.yaml; the code
only composes the graph.
"""

# No `from __future__ import annotations`: Serve inspects the builder's annotation as a class to
# validate `args:` with AppArgs.
from ray.serve import Application

from serve_app.config import AppArgs
from serve_app.encoder import BriefEncoder
from serve_app.ingress import Ingress
from serve_app.recommender import Recommender


def build_app(args: AppArgs) -> Application:
    encoder = BriefEncoder.bind(args.max_image_bytes) if args.encoder == "deployment" else None
    recommender = Recommender.bind(args.backend, args.backend_options())
    return Ingress.bind(encoder, recommender, args.model_dump())
