"""One CLI for the offline pipeline: train -> export -> quantise -> cpu -> build (each step skippable).

    python -m trt_build                                   # everything (build needs TensorRT + a GPU)
    python -m trt_build --skip train                      # reuse the committed heads weights
    python -m trt_build --skip train build                # up to the FP16/INT8 ONNX files + CPU variants (any CPU)
    python -m trt_build --skip train export quantise build    # only the CPU variants, their gates and manifest
    python -m trt_build --skip train export quantise --precisions fp16

Artefacts (docs/pipeline.md):
    model/weights/heads.safetensors, manifest.json   train      (committed)
    artifacts/model/recommender.onnx (+ .json)        export
    artifacts/model/recommender.{fp16,int8}.onnx      quantise
    artifacts/model/recommender.cpu-*.onnx, cpu_manifest.json   cpu (fused FP32 / INT8 for ONNX Runtime, gated)
    artifacts/engines/recommender.<precision>.sm<cc>.engine (+ .json sidecar), artifacts/engines/timing.cache  build
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("train", "export", "quantise", "cpu", "build")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m trt_build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip", nargs="*", default=[], choices=STEPS, help="steps to skip")
    parser.add_argument("--precisions", nargs="+", default=["fp16", "int8"], choices=["fp16", "int8", "fp32"])
    parser.add_argument("--engine-dir", type=Path, default=ROOT / "artifacts" / "engines")
    parser.add_argument("--serve-config", type=Path, default=ROOT / "serve_config.yaml",
                        help="the optimisation profile's max batch follows the Recommender's max_batch_size")
    parser.add_argument("--workspace-mb", type=int, default=4096)
    args = parser.parse_args(argv)

    for step in STEPS:
        if step in args.skip:
            print(f"== {step}: skipped", flush=True)
            continue
        started = time.perf_counter()
        print(f"== {step}", flush=True)
        if step == "train":
            from model.train import train

            train()
        elif step == "export":
            from model.export import export

            export()
        elif step == "quantise":
            from calibration.quantize import to_fp16, to_int8
            from model.artifacts import onnx_path

            if "fp16" in args.precisions:
                print(to_fp16(onnx_path("fp32"), onnx_path("fp16")))
            if "int8" in args.precisions:
                print(to_int8(onnx_path("fp32"), onnx_path("int8")))
        elif step == "cpu":
            from calibration.cpu_variants import build as build_cpu_variants, summary

            print(summary(build_cpu_variants(force=True)))
        elif step == "build":
            from model.artifacts import onnx_path
            from trt_build.builder import build_engine
            from trt_build.profiles import profile_from_serve_config

            profile = profile_from_serve_config(args.serve_config)
            for precision in args.precisions:
                path = build_engine(onnx_path(precision), args.engine_dir, precision, profile,
                                    workspace_mb=args.workspace_mb, timing_cache=args.engine_dir / "timing.cache")
                print(f"built {path}")
        print(f"== {step} done in {time.perf_counter() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
