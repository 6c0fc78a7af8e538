"""Accuracy of the FP16 and INT8 ONNX variants against FP32, on ONNX Runtime, on the held-out briefs.

    python -m evaluation.precision            # prints the tables; --out writes docs/precision.md's data
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


from calibration.gates import GOALS
from evaluation.__main__ import evaluate, format_table, run_model
from evaluation.agreement import agreement
from inference.onnxruntime_backend import OnnxRuntimeBackend
from model.briefs import generate_briefs

__all__ = ["GOALS", "main"]  # GOALS is calibration.gates' (the CPU build gates with the same figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--briefs", type=int, default=1000)
    parser.add_argument("--int8-model", type=Path, help="another INT8 file to compare (e.g. all layers quantised)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    samples = generate_briefs(args.briefs, "heldout")
    backends = {p: OnnxRuntimeBackend(precision=p) for p in ("fp32", "fp16", "int8")}
    if args.int8_model:
        backends["int8-alt"] = OnnxRuntimeBackend(precision="int8", model_path=str(args.int8_model))
    outputs = {name: run_model(backend, samples)[1] for name, backend in backends.items()}
    agreements = {name: agreement(outputs["fp32"], out) for name, out in outputs.items() if name != "fp32"}
    lines = ["| vs FP32 | " + " | ".join(agreements) + " | goal |", "|---|" + "---|" * (len(agreements) + 1)]
    for key in next(iter(agreements.values())):
        goal = f">= {GOALS[key]}" if key in GOALS else ""
        lines.append(f"| {key} | " + " | ".join(f"{a[key]:.4f}" for a in agreements.values()) + f" | {goal} |")
    print("\n".join(lines))
    quality = {name: evaluate(backend, args.briefs) for name, backend in backends.items()}
    print()
    print(format_table({f"onnxruntime-{k}": v for k, v in quality.items()}))
    if args.out:
        args.out.write_text(json.dumps({"agreement": agreements, "quality": quality}, indent=2) + "\n")


if __name__ == "__main__":
    main()
