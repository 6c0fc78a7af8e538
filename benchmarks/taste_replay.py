"""Offline replay of designers teaching the learner, through the service's own batch functions.

    .venv/bin/python -m benchmarks.taste_replay [--seeds 3] [--heldout 300] [--events 50]

Each simulated designer is a tenant with a consistent but noisy taste. Every round it gets answers to training
briefs (`pipeline.features.encode_batch` -> ONNX Runtime FP32 -> `pipeline.postprocess.schemes_batch` with the
current learned taste) and reacts with at most one event per answer: 80 % on taste (choose a scheme that
matches), 20 % off taste (choose one that does not); an answer with no scheme to its taste gets no event (the
designer moves on; a reject of every scheme would say nothing about which one is better). The events go through
the real answer log (`serve_app.feedback.FeedbackStore`, a temporary SQLite file) into the real
trainer (`learning.train`), as `python -m learning` would read them. After N events the share of held-out answers
whose FIRST scheme matches the designer's taste is measured (N = 0 is the learner off). Next to it, the feasible
limit: a hand-set taste (`ORACLE`: weights on the features nearest each taste, at the best of `ORACLE_GAINS`) shows
what re-ranking among brief-meeting candidates reaches: the learner only re-orders candidates that meet the brief,
and a brief whose tones ask for a sans heading or for neon, or a zh brief for which no CJK serif pair fits its
style, has no matching first scheme to give. Per taste the table prints that limit, the share of the gap from N = 0
to it closed at N events, and the match share on the feasible briefs alone (those where the hand-set taste's first
scheme matches), where the issue's ">= 90 %" can be judged. The hand-set weights are a lower bound of what is
feasible, not an upper one: a learner can exceed them on a taste no feature names (dark grounds).

Tastes (matching judged on the answered scheme, with the evaluation's grader `evaluation.fit.grade`):
- serif: the heading face is a serif;
- warm: the palette meets the frozen `warm` tone's OKLCH rule (docs/teacher.md);
- no neon: the palette does not meet the frozen `neon` tone's rule;
- dark ground (ours, no learner feature names it): the background's OKLCH lightness is below 0.40. The features
  hold palette lightness statistics over all colours, never the background's own.

A bystander tenant with no events is answered alongside in the same batches: its answers must be the bytes of
the learner off, and the held-out quality of every tenant (every named tone and cue met, type suits the style,
schemes distinct) is printed next to the learner off.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks import positive_float, positive_int

ROUND = 5  # events between retrainings (the log is re-read and every tenant refitted each round)
CHECKPOINTS = (0, 10, 25, 50)
NOISE = 0.2
DARK_GROUND_L = 0.40


@dataclass(frozen=True)
class Taste:
    tenant: str
    label: str
    own: bool  # a taste of ours that no learner feature names directly


TASTES = (Taste("serif", "always serif headings", False), Taste("warm", "warm palettes", False),
          Taste("no-neon", "never neon", False), Taste("dark-ground", "dark grounds (ours)", True))
BYSTANDER = "bystander"
# Hand-set weights per taste (feature name -> weight), large enough to saturate the bonuses.
SERIF_STYLES = ("luxury_premium", "elegant_classic", "vintage_retro", "natural_organic", "guochao",
                "japanese_wabi_sabi")
ORACLE = {
    "serif": {"heading serif": 10.0, **{f"style {s}": 3.0 for s in SERIF_STYLES}},
    "warm": {"palette warm share": 10.0},
    "no-neon": {"palette fluorescent share": -10.0},
    "dark-ground": {"palette lightness": -10.0},
}


# The hand-set weights at a few strengths: saturated (x 1) keeps only the sign of each feature, weaker ones keep
# the order within it (the darkest palettes first, not any below the mean). The limit is the best of them.
ORACLE_GAINS = (0.1, 0.3, 1.0)


def oracle_model(gain: float = 1.0):
    from pipeline.taste import TasteModel, feature_tables

    names = feature_tables().names
    weights = {}
    for tenant, wanted in ORACLE.items():
        w = np.zeros(len(names))
        for feature, value in wanted.items():
            w[names.index(feature)] = gain * value
        weights[tenant] = w
    return TasteModel.build(weights, {t: 0 for t in weights}, 0.0)


def feasible_limit(heldout: "Pool", tenant: str) -> tuple[float, np.ndarray, float]:
    """The hand-set taste's first-scheme match share at its best strength, the briefs where its first scheme
    matches (the taste is feasible there: a candidate meeting the brief matches it), and that strength."""
    best = None
    for gain in ORACLE_GAINS:
        _, m, first = first_scheme_share(heldout, tenant, oracle_model(gain))
        match = m[tenant][first]
        if best is None or match.mean() > best[0]:
            best = (float(match.mean()), match, gain)
    return best


def matches(briefs, answers) -> dict[str, np.ndarray]:
    """Per taste, (S,) whether each scheme of `answers` matches it, plus the scheme table's answer/rank."""
    from evaluation.fit import BACKGROUND, TONES, grade

    g = grade(briefs, answers)
    t = g.table
    return {
        "serif": t.heading_category == "serif",
        "warm": g.tone_palette[:, TONES.index("warm")],
        "no-neon": ~g.tone_palette[:, TONES.index("neon")],
        "dark-ground": t.lch[:, BACKGROUND, 0] < DARK_GROUND_L,
        "answer": t.answer,
        "rank": t.rank,
        "all_met": g.all_met,
        "font_ok": g.font_ok,
        "distinct": g.pair_distinct,
        "pair_answer": g.pair_answer,
    }


class Pool:
    """Briefs with their encodings and model outputs, computed once (outputs do not depend on the taste)."""

    def __init__(self, briefs, backend, batch: int = 64) -> None:
        from contract.brief import MAX_IMAGE_BYTES
        from pipeline.features import encode_batch

        self.briefs = briefs
        self.chunks = []
        for start in range(0, len(briefs), batch):
            chunk = briefs[start:start + batch]
            encoded = encode_batch(chunk, max_image_bytes=MAX_IMAGE_BYTES)
            assert not encoded.rejected
            outputs = backend.infer(encoded.input_ids, encoded.attention_mask, encoded.features)
            self.chunks.append((start, chunk, encoded, outputs))

    def answer(self, rows: list[int], tenants: list[str], model) -> list[list[dict]]:
        """Answers to briefs `rows` (any order, any repeats) for `tenants`, in micro-batches of one chunk each."""
        from pipeline.postprocess import schemes_batch

        out: list = [None] * len(rows)
        by_chunk: dict[int, list[int]] = {}
        for k, row in enumerate(rows):
            by_chunk.setdefault(row // 64, []).append(k)
        for c, ks in by_chunk.items():
            start, chunk, encoded, outputs = self.chunks[c]
            local = [rows[k] - start for k in ks]
            sub_briefs = [chunk[i] for i in local]
            sub_encoded = _take(encoded, local)
            sub_outputs = {name: array[local] for name, array in outputs.items()}
            taste = model.batch([tenants[k] for k in ks]) if model is not None else None
            for k, schemes in zip(ks, schemes_batch(sub_briefs, sub_encoded, sub_outputs, taste=taste)):
                out[k] = schemes
        return out


def _take(encoded, rows: list[int]):
    from pipeline.features import EncodedBatch

    pick = (lambda xs: None if xs is None else [xs[i] for i in rows])
    return EncodedBatch(encoded.input_ids[rows], encoded.attention_mask[rows], encoded.features[rows],
                        pick(encoded.texts), pick(encoded.cues), pick(encoded.reference_colors),
                        cue_ids=pick(encoded.cue_ids), cue_terms=pick(encoded.cue_terms),
                        keyword_colours=pick(encoded.keyword_colours), cues_zh=pick(encoded.cues_zh))


def react(match: np.ndarray, rng: np.random.Generator) -> tuple[int, str] | None:
    """A designer's event on one answer: (scheme index, action), on taste 80 % of the time; None (no event) where
    no scheme is to its taste."""
    hits, misses = np.flatnonzero(match), np.flatnonzero(~match)
    if not len(hits):
        return None
    if rng.random() >= NOISE or not len(misses):
        return int(rng.choice(hits)), "chosen"
    return int(rng.choice(misses)), "chosen"


def first_scheme_share(pool: Pool, tenant: str, model) -> tuple[list, dict, np.ndarray]:
    """Held-out answers for `tenant`, their taste matches, and the mask of first schemes."""
    rows = list(range(len(pool.briefs)))
    answers = pool.answer(rows, [tenant] * len(rows), model)
    m = matches(pool.briefs, answers)
    return answers, m, m["rank"] == 0


def run_seed(seed: int, train_pool: Pool, heldout: Pool, events: int, progress, c: float, penalty: str) -> dict:
    from learning.train import train
    from serve_app.feedback import AnswerRecord, FeedbackStore

    rng = np.random.default_rng(seed)
    # Each designer's stream of training briefs: the pool in its own order, again if it needs more.
    orders = {t.tenant: np.concatenate([rng.permutation(len(train_pool.briefs)) for _ in range(4)]) for t in TASTES}
    seen = {t.tenant: 0 for t in TASTES}
    counts = {t.tenant: 0 for t in TASTES}
    results: dict[str, dict[int, float]] = {t.tenant: {} for t in TASTES}
    quality: dict[str, dict[str, float]] = {}
    first_match: dict[str, dict[int, np.ndarray]] = {}
    bystander_same = True
    model = None
    with tempfile.TemporaryDirectory() as tmp:
        store = FeedbackStore(Path(tmp) / "feedback.sqlite3")
        try:
            models = {}  # per designer: the model in force when it reached each checkpoint
            rounds = 0
            while True:
                for t in TASTES:
                    if counts[t.tenant] in CHECKPOINTS and counts[t.tenant] not in models.get(t.tenant, {}):
                        models.setdefault(t.tenant, {})[counts[t.tenant]] = model
                if all(counts[t.tenant] >= events for t in TASTES):
                    break
                # One round: every designer still short of events gets up to ROUND events' worth of answers,
                # answered with the current taste, in one mixed batch.
                tenants, rows, quota = [], [], {}
                for t in TASTES:
                    want = min(events - counts[t.tenant], ROUND - counts[t.tenant] % ROUND)
                    quota[t.tenant] = want
                    if want > 0:
                        while len(orders[t.tenant]) < seen[t.tenant] + 3 * want:  # a small pool: go round again
                            orders[t.tenant] = np.concatenate([orders[t.tenant],
                                                               rng.permutation(len(train_pool.briefs))])
                        take = orders[t.tenant][seen[t.tenant]:seen[t.tenant] + 3 * want].tolist()
                        seen[t.tenant] += len(take)
                        tenants += [t.tenant] * len(take)
                        rows += take
                answers = train_pool.answer(rows, tenants, model)
                m = matches([train_pool.briefs[r] for r in rows], answers)
                ids = [f"s{seed}-{rounds}-{k}" for k in range(len(rows))]
                store.submit_answers(AnswerRecord.for_batch(
                    ids, tenants, [train_pool.briefs[r] for r in rows], "replay", answers)).result()
                for k, tenant in enumerate(tenants):
                    event = react(m[tenant][m["answer"] == k], rng)
                    if event is not None and quota[tenant] > 0:  # checkpoints fall on round boundaries
                        store.record_feedback(ids[k], *event, tenant)
                        counts[tenant] += 1
                        quota[tenant] -= 1
                rounds += 1
                model = train(store.learning_events(), c=c, penalty=penalty)
            for t in TASTES:
                for n, at in models[t.tenant].items():
                    if n > events:
                        continue
                    _, m, first = first_scheme_share(heldout, t.tenant, at)
                    results[t.tenant][n] = float(m[t.tenant][first].mean())
                    first_match.setdefault(t.tenant, {})[n] = m[t.tenant][first]
                    if n == events:
                        quality[t.tenant] = _quality(m)
                progress(f"seed {seed}: {t.tenant} measured")
            # The bystander: no events, answered by the final model next to everyone else.
            from pipeline.answer import schemes_json

            rows = list(range(len(heldout.briefs)))
            off = heldout.answer(rows, [BYSTANDER] * len(rows), None)
            mixed_tenants = [TASTES[i % len(TASTES)].tenant if i % 2 else BYSTANDER for i in rows]
            mixed = heldout.answer(rows, mixed_tenants, model)
            bystander_same = all(schemes_json(a) == schemes_json(b) for a, b, t in zip(off, mixed, mixed_tenants)
                                 if t == BYSTANDER)
            quality["off"] = _quality(matches(heldout.briefs, off))
            quality[BYSTANDER] = _quality(matches(heldout.briefs, heldout.answer(rows, [BYSTANDER] * len(rows),
                                                                                model)))
            weights = {t.tenant: model.describe(t.tenant, top=3)["preferences"] for t in TASTES}
        finally:
            store.close()
    return {"share": results, "quality": quality, "bystander_same": bystander_same, "weights": weights,
            "first": first_match}


def _quality(m: dict) -> dict[str, float]:
    return {"all_met": float(m["all_met"].mean()), "font_ok": float(m["font_ok"].mean()),
            "distinct": float(m["distinct"].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=positive_int, default=3)
    parser.add_argument("--heldout", type=positive_int, default=300, help="held-out briefs measured at each checkpoint")
    parser.add_argument("--train-briefs", type=positive_int, default=256, help="briefs the designers are answered on")
    parser.add_argument("--events", type=int, default=50, choices=[n for n in CHECKPOINTS if n],
                        help="events per designer: the table reports the checkpoints up to it")
    parser.add_argument("--c", type=positive_float, default=None,
                        help="the trainer's inverse regularisation (default: its own)")
    parser.add_argument("--penalty", choices=("l1", "l2"), default=None, help="default: the trainer's own")
    args = parser.parse_args()

    from benchmarks.workload import brief_mix
    from contract.brief import Brief
    from inference.onnxruntime_backend import OnnxRuntimeBackend
    from pipeline import postprocess

    started = time.perf_counter()
    postprocess.warm()
    backend = OnnxRuntimeBackend(precision="fp32")
    # Distinct pools (different generator seeds); no reference images (they only add colour sampling time).
    heldout = Pool([Brief.model_validate(b) for b in brief_mix(args.heldout, seed=7, image_share=0.0)], backend)
    train_pool = Pool([Brief.model_validate(b) for b in brief_mix(args.train_briefs, seed=2027, image_share=0.0)],
                      backend)
    from learning.train import PENALTY, PREFERENCE_LOGITS, REGULARISATION_C

    c = args.c if args.c is not None else REGULARISATION_C
    penalty = args.penalty or PENALTY
    runs = [run_seed(seed, train_pool, heldout, args.events, lambda msg: print(msg, flush=True), c, penalty)
            for seed in range(args.seeds)]

    checkpoints = [n for n in CHECKPOINTS if n <= args.events]
    print(f"\nFirst-scheme match share on {args.heldout} held-out briefs (en+zh, ~half with brand colours), "
          f"mean over {args.seeds} seeds [min-max]; {int(NOISE * 100)} % of each designer's events off taste; "
          f"{penalty.upper()}, C = {c}, scaled to {PREFERENCE_LOGITS} logits a typical pair")
    print("| taste | " + " | ".join(f"N={n}" for n in checkpoints) + f" | change at N={args.events} | feasible limit "
          f"| gap closed at N={args.events} | on feasible briefs, N=0 -> N={args.events} |")
    print("|---|" + "---|" * (len(checkpoints) + 4))
    strengths = []
    for t in TASTES:
        cells = []
        for n in checkpoints:
            values = [r["share"][t.tenant][n] for r in runs]
            cells.append(f"{np.mean(values):.3f} [{min(values):.3f}-{max(values):.3f}]")
        start = np.mean([r["share"][t.tenant][0] for r in runs])
        end = np.mean([r["share"][t.tenant][args.events] for r in runs])
        limit, feasible, gain = feasible_limit(heldout, t.tenant)
        strengths.append(f"{t.tenant} x {gain}")
        closed = (end - start) / (limit - start) if limit > start else float("nan")
        on_feasible = [np.mean([np.mean(r["first"][t.tenant][n][feasible]) for r in runs]) for n in (0, args.events)]
        print(f"| {t.label} | " + " | ".join(cells) + f" | {(end - start) * 100:+.1f} points | {limit:.3f} | "
              f"{closed * 100:.0f} % | {on_feasible[0]:.3f} -> {on_feasible[1]:.3f} ({feasible.sum()} briefs) |")
    print("Feasible limit at hand-set strength (of saturating weights): " + ", ".join(strengths))
    print(f"\nHeld-out quality at N={args.events} (mean over seeds): every named tone+cue met / type suits style / "
          "scheme pairs distinct")
    print("| tenant | all met | type suits style | pairs distinct |")
    print("|---|---|---|---|")
    for tenant in ["off", BYSTANDER, *(t.tenant for t in TASTES)]:
        q = [r["quality"][tenant] for r in runs]
        name = {"off": "learner off", BYSTANDER: "bystander (no events), learner on"}.get(tenant, tenant)
        print(f"| {name} | " + " | ".join(f"{np.mean([x[k] for x in q]):.3f}"
                                           for k in ("all_met", "font_ok", "distinct")) + " |")
    print(f"\nBystander answers byte-identical to the learner off in mixed batches: "
          f"{all(r['bystander_same'] for r in runs)} ({args.seeds} seeds x {args.heldout} briefs)")
    print("Strongest learned weights (seed 0): " + "; ".join(
        f"{t.tenant}: " + ", ".join(f"{p['feature']} {p['weight']:+.2f}" for p in runs[0]["weights"][t.tenant])
        for t in TASTES))
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
