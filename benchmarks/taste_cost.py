"""What the learned re-ranking costs post-processing, per brief at batch 64, on one core with BLAS at one thread.

    .venv/bin/python -m benchmarks.taste_cost [--briefs 1024] [--repeats 3]

Times `pipeline.postprocess.answer_batch` (model outputs -> answer bytes) on the same micro-batches three ways,
alternating: learner off; learner on but no tenant of the batch taught (`TasteModel.batch` -> None); every brief's
tenant taught (a model of 50 tenants, the batch's briefs spread over them). The re-ranking's cost is the third
minus the first. Briefs: `benchmarks.workload.brief_mix` (held-out, ~half zh, ~half with brand colours); model
outputs from ONNX Runtime FP32, computed before any timing.
"""

from __future__ import annotations

import os

from benchmarks import at_least, one_blas_thread, positive_int

one_blas_thread()  # before numpy is imported

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402


BATCH = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--briefs", type=at_least(BATCH), default=1024, help=f"a multiple of {BATCH}")
    parser.add_argument("--repeats", type=positive_int, default=3)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    from benchmarks.postprocess_bench import _model_outputs
    from benchmarks.workload import brief_mix
    from contract.brief import Brief
    from inference.onnxruntime_backend import OnnxRuntimeBackend
    from pipeline import postprocess
    from pipeline.taste import TasteModel, feature_tables

    postprocess.warm()
    n = args.briefs // BATCH * BATCH
    briefs = [Brief.model_validate(b) for b in brief_mix(n, seed=7)]
    encodings, outputs = _model_outputs(briefs, OnnxRuntimeBackend(precision="fp32"))
    rng = np.random.default_rng(0)
    tenants = [f"tenant-{k:02d}" for k in range(50)]
    model = TasteModel.build({t: rng.standard_normal(feature_tables().width) for t in tenants},
                             {t: 50 for t in tenants}, 1_780_000_000.0)
    times = {"off": [], "on, none taught": [], "on, all taught": []}
    for _ in range(args.repeats):
        for start in range(0, n, BATCH):
            chunk, encoded = briefs[start:start + BATCH], encodings[start // BATCH]
            out = {k: v[start:start + BATCH] for k, v in outputs.items()}
            ids, enc = [str(i) for i in range(BATCH)], ["u8_base64"] * BATCH
            for label, batch_tenants in (("off", None), ("on, none taught", ["default"] * BATCH),
                                         ("on, all taught", [tenants[i % 50] for i in range(BATCH)])):
                began = time.perf_counter()
                taste = model.batch(batch_tenants) if batch_tenants else None
                postprocess.answer_batch(chunk, encoded, out, ids, enc, "m", "onnxruntime", {}, [0.0] * BATCH,
                                         time.perf_counter, taste)
                times[label].append((time.perf_counter() - began) * 1000 / BATCH)
    print(f"post-processing ms per brief at batch {BATCH}, {n} briefs x {args.repeats} passes, one core, BLAS 1 thread")
    for label, values in times.items():
        print(f"  {label:16s} median {statistics.median(values):.3f}  mean {statistics.mean(values):.3f}")
    extra = statistics.median(times["on, all taught"]) - statistics.median(times["off"])
    print(f"  re-ranking cost (all taught - off, medians): {extra:.3f} ms per brief")


if __name__ == "__main__":
    main()
