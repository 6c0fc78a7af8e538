"""Train every tenant's taste from the feedback log and write the versioned artefact.

    python -m learning --db artifacts/feedback.sqlite3 [--out artifacts/learner]

Prints the artefact path and the `user_config` line that rolls it out without a restart (Ingress in
serve_config.yaml, then `serve deploy serve_config.yaml`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from tqdm import tqdm

from learning.train import REGULARISATION_C, train
from serve_app.feedback import FeedbackStore


def _inverse_strength(text: str) -> float:
    value = float(text)
    if not (value > 0 and math.isfinite(value)):  # LogisticRegression's C, refused before the log is read
        raise argparse.ArgumentTypeError(f"must be > 0 and finite, got {text}")
    return value


_inverse_strength.__name__ = "float"  # argparse names the type in "invalid float value: 'x'"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m learning", description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path("artifacts/feedback.sqlite3"))
    parser.add_argument("--out", type=Path, default=Path("artifacts/learner"))
    parser.add_argument("--c", type=_inverse_strength, default=REGULARISATION_C, help="inverse L2 strength")
    args = parser.parse_args(argv)
    if not args.db.exists():  # FeedbackStore would create an empty log: say what is wrong instead
        parser.error(f"no feedback database at {args.db}")
    store = FeedbackStore(args.db)
    try:
        events = store.learning_events()
    finally:
        store.close()
    model = train(events, lambda tenants: tqdm(tenants, desc="tenants", unit="tenant", file=sys.stderr), args.c)
    if model is None:
        print(json.dumps({"events": len(events), "artefact": None, "why": "no tenant has a usable event"}))
        return 1
    path = model.save(args.out)
    print(json.dumps({"events": len(events), "tenants": len(model.tenants), "learner_version": model.version,
                      "artefact": str(path)}))
    print(f"roll out: serve_config.yaml, Ingress -> user_config: {{learner_artefact: {path}}}; then serve deploy",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
