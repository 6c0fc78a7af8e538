"""CPU a brief of each request-path stage, in one process, at the micro-batch sizes the Ingress forms: what the
app itself costs beside the framework (the no-op app, `benchmarks.noop_bench`, measures the framework's part).

    .venv/bin/python -m benchmarks.stage_costs [--briefs 1024] [--sizes 1 2 4 8 16 64] [--out FILE.json]

Each micro-batch goes through the functions the Serve graph runs, in its order: the Ingress's validation
(`Brief.model_validate_json` of the request body) and the encoder hop's payload (`model_dump_json`), the
BriefEncoder's parse (`serve_app.encoder.decode_briefs`) and `encode_batch` (micro-batches holding a reference image
counted apart: their decoding and k-means), the model (ONNX Runtime, the variant `make serve` serves, one thread; on
the GPU node the recommender runs it, so it is reported but not in the total), the post-processing pass a child runs
(`serve_app.post_pass.post_process`: answers as bytes and the answer-log records) and the answer log's group commit
(`FeedbackStore`, its writer thread included). Briefs are `benchmarks.workload.brief_mix` (distinct, 10 % with a
reference image, as the load generator sends), BLAS at one thread, process CPU time; each size passes over every
brief once after a warm-up pass, in the order given.
"""

from __future__ import annotations

from benchmarks import one_blas_thread, positive_int

one_blas_thread()  # before numpy is imported

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import orjson  # noqa: E402


STAGES = ("validate", "hop_payload", "encoder_parse", "encode_text", "encode_image", "post", "commit")


def stage_costs(bodies: list[bytes], sizes: list[int], backend, store) -> list[dict]:
    """Per micro-batch size: ms of CPU a brief per stage (over all briefs), the model's apart, and the total."""
    from contract.brief import MAX_IMAGE_BYTES, Brief
    from pipeline.features import encode_batch
    from serve_app.encoder import decode_briefs
    from serve_app.model_io import ModelOutputs
    from serve_app.post_pass import Inferred, Pending, post_process

    clock = time.process_time
    rows = []
    for size in sizes:
        spent = dict.fromkeys(STAGES + ("model",), 0.0)
        for start in range(0, len(bodies), size):
            tick = clock()
            briefs = [Brief.model_validate_json(body) for body in bodies[start:start + size]]
            spent["validate"] += clock() - tick
            tick = clock()
            payload = [brief.model_dump_json().encode() for brief in briefs]
            spent["hop_payload"] += clock() - tick
            tick = clock()
            parsed = decode_briefs(payload)
            spent["encoder_parse"] += clock() - tick
            tick = clock()
            encoded = encode_batch(parsed, MAX_IMAGE_BYTES)
            spent["encode_image" if any(b.reference_image for b in parsed) else "encode_text"] += clock() - tick
            tick = clock()
            outputs = backend.infer(encoded.input_ids, encoded.attention_mask, encoded.features)
            spent["model"] += clock() - tick
            now = time.perf_counter()
            items = [Pending(brief, "u8_base64", "default", uuid.uuid4().hex, now) for brief in briefs]
            inferred = Inferred(items, encoded, ModelOutputs(outputs, "onnxruntime", "bench", 0.0, len(items)),
                                now, now, now)
            tick = clock()
            [[(answers, records)]] = post_process([([inferred], None)])
            spent["post"] += clock() - tick
            tick = clock()
            store.submit_answers(records).result()
            spent["commit"] += clock() - tick
            if len(answers) != len(briefs):
                raise RuntimeError(f"{len(answers)} answers for {len(briefs)} briefs")
        per_brief = {stage: round(seconds / len(bodies) * 1000, 4) for stage, seconds in spent.items()}
        rows.append({"micro_batch": size, "ms_a_brief": per_brief,
                     "total_without_model": round(sum(v for k, v in per_brief.items() if k != "model"), 4)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--briefs", type=positive_int, default=1024)
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=[1, 2, 4, 8, 16, 64])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from benchmarks.workload import brief_mix, describe
    from inference.registry import select_backend
    from pipeline import postprocess
    from pipeline.features import warm as warm_encoding
    from serve_app.feedback import FeedbackStore

    mix = brief_mix(args.briefs, seed=args.seed)
    bodies = [orjson.dumps(brief) for brief in mix]
    warm_encoding()
    postprocess.warm()
    backend = select_backend("onnxruntime", {"onnxruntime": {"precision": "auto", "intra_op_threads": 1}})
    with tempfile.TemporaryDirectory() as folder:
        store = FeedbackStore(Path(folder) / "answers.sqlite3")
        try:
            stage_costs(bodies[: min(64, len(bodies))], [max(args.sizes)], backend, store)  # warm-up pass
            rows = stage_costs(bodies, args.sizes, backend, store)
        finally:
            store.close()
    report = {"briefs": describe(mix), "clock": "process CPU time, BLAS at one thread", "rows": rows}
    print(f"{'micro-batch':>11} | " + " | ".join(f"{s:>13}" for s in STAGES) + " | total (model apart) | model")
    for row in rows:
        ms = row["ms_a_brief"]
        cells = " | ".join(f"{ms[s]:>13.3f}" for s in STAGES)
        print(f"{row['micro_batch']:>11} | {cells} | {row['total_without_model']:>19.3f} | {ms['model']:.3f}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
