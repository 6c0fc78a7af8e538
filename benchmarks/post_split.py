"""A post-processing pass in one child against the same pass cut between two (`ingress_post_processes: 2`), wall
time from submit to the last answer, the two alternating on one pool, BLAS at one thread as in a Ray worker.

    .venv/bin/python -m benchmarks.post_split [--sizes 2 4 8 16 32] [--repeats 40]
"""

from __future__ import annotations

from benchmarks import one_blas_thread

one_blas_thread()  # before numpy is imported

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402


def micro_batch(size: int, seed: int = 11):
    """One Inferred micro-batch of `size` distinct held-out briefs with their ONNX Runtime outputs."""
    from benchmarks.postprocess_bench import _model_outputs
    from benchmarks.workload import brief_mix
    from contract.brief import Brief
    from inference.registry import select_backend
    from serve_app.model_io import ModelOutputs
    from serve_app.post_pass import Inferred, Pending

    briefs = [Brief.model_validate(b) for b in brief_mix(size, seed=seed, image_share=0)]
    encodings, outputs = _model_outputs(briefs, select_backend("onnxruntime", {}), batch=size)
    now = time.perf_counter()
    items = [Pending(brief, "u8_base64", "bench", f"req-{i}", now) for i, brief in enumerate(briefs)]
    return Inferred(items, encodings[0], ModelOutputs(outputs, "onnxruntime", "bench", 1.0, size), now, now, now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    from serve_app.post_pass import post_in_child, split_pass, start_post_processes

    pool, children = start_post_processes(2)
    try:
        for child in children:
            child.result(timeout=120)  # both children warm
        print(f"{'briefs':>6s} {'one child ms':>13s} {'split ms':>9s} {'runs':>5s}")
        for size in args.sizes:
            part = micro_batch(size)
            runs = split_pass([part], 2)
            whole, split = [], []
            for _ in range(args.repeats):
                started = time.perf_counter()
                pool.submit(post_in_child, [([part], None)]).result(timeout=120)
                whole.append(time.perf_counter() - started)
                started = time.perf_counter()
                for future in [pool.submit(post_in_child, [([p for _, p in run], None)]) for run in runs]:
                    future.result(timeout=120)
                split.append(time.perf_counter() - started)
            print(f"{size:6d} {statistics.median(whole) * 1e3:13.2f} {statistics.median(split) * 1e3:9.2f} "
                  f"{len(runs):5d}", flush=True)
    finally:
        pool.shutdown()


if __name__ == "__main__":
    main()
