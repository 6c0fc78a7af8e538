"""FP16 and INT8 variants of the ONNX model, the TensorRT 10/11 way: precision lives in the ONNX.

- FP16: NVIDIA ModelOpt AutoCast when `modelopt` is importable (the `gpu` extra), else ONNX Runtime's
  float16 converter. Inputs/outputs stay FP32/INT64, so every backend sees the same I/O.
- INT8: ModelOpt ONNX PTQ (explicit Q/DQ, entropy calibration) when importable, else ONNX Runtime static
  quantisation in QDQ format with symmetric INT8 activations and per-channel symmetric INT8 weights (zero
  points 0, as TensorRT requires for explicit quantisation), calibrated on calibration/briefs.jsonl.

    python -m calibration.quantize                 # both, with the layers listed in KEEP_FP32 unquantised
    python -m calibration.quantize --int8-only --method minmax
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import onnx

from calibration.calibration_set import load as load_calibration
from model.artifacts import onnx_path
from model.features import encode_brief
from model.tokenization import pad_batch

CALIBRATION_BATCH = 32


def calibration_batches(batch_size: int = CALIBRATION_BATCH) -> list[dict[str, np.ndarray]]:
    """The calibration briefs, every batch padded to the set's longest brief: calibrators stack the
    activations of all batches, so shapes must agree (padding is masked out, so ranges are unaffected)."""
    encoded = [encode_brief(s.brief, s.reference_colors) for s in load_calibration()]
    ids, mask = pad_batch([e.token_ids for e in encoded])
    features = np.stack([e.features for e in encoded]).astype(np.float32)
    return [{"input_ids": ids[i : i + batch_size], "attention_mask": mask[i : i + batch_size],
             "features": features[i : i + batch_size]} for i in range(0, len(encoded), batch_size)]


def modelopt_available() -> bool:
    try:
        import modelopt.onnx.quantization  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "use the fallback"
        return False
    return True


def keep_fp32_nodes(model: onnx.ModelProto) -> list[str]:
    """Layers kept in higher precision (found by per-layer sensitivity; docs/precision.md):
    the retrieval scoring matmuls whose outputs feed TopK directly. INT8 noise there reorders near-tied
    palettes and fonts, which top-k agreement measures; everything before them quantises well."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    producers = {out: node for node in model.graph.node for out in node.output}
    keep = []
    for node in model.graph.node:
        if node.op_type != "TopK":
            continue
        # Walk back through elementwise ops (adds of the colour-match terms) to the scoring MatMul/Gemm.
        frontier = [node.input[0]]
        seen = set()
        while frontier:
            tensor = frontier.pop()
            producer = producers.get(tensor)
            if producer is None or producer.name in seen:
                continue
            seen.add(producer.name)
            if producer.op_type in ("MatMul", "Gemm"):
                keep.append(producer.name)
            elif producer.op_type in ("Add", "Mul", "Sub", "Div"):
                frontier.extend(producer.input)
    return sorted(set(keep))


def to_fp16(source: Path, target: Path) -> dict:
    started = time.perf_counter()
    if modelopt_available():
        from modelopt.onnx.autocast import convert_to_mixed_precision

        model = convert_to_mixed_precision(onnx_path=str(source), low_precision_type="fp16", keep_io_types=True)
        tool = "modelopt.autocast"
    else:
        from onnxruntime.transformers.float16 import convert_float_to_float16

        model = onnx.load(str(source))
        # TopK and the softmax over 5,607 palette scores stay FP32: their inputs are close together and
        # FP16 rounding would reorder them; everything else is safe in FP16.
        model = convert_float_to_float16(model, keep_io_types=True, op_block_list=["TopK"],
                                         node_block_list=keep_fp32_nodes(model))
        tool = "onnxruntime.transformers.float16"
    onnx.save_model(model, str(target))
    return {"tool": tool, "seconds": round(time.perf_counter() - started, 1)}


class _Reader:
    def __init__(self, batches: list[dict[str, np.ndarray]]) -> None:
        self.batches = batches
        self.position = 0

    def get_next(self):
        if self.position >= len(self.batches):
            return None
        self.position += 1
        return self.batches[self.position - 1]

    def rewind(self) -> None:
        self.position = 0


def to_int8(source: Path, target: Path, method: str = "entropy", keep_fp32: bool = True) -> dict:
    started = time.perf_counter()
    batches = calibration_batches()
    model = onnx.load(str(source))
    excluded = keep_fp32_nodes(model) if keep_fp32 else []
    if modelopt_available():
        from modelopt.onnx.quantization import quantize

        # ModelOpt takes one array per input holding every calibration brief.
        stacked = calibration_batches(batch_size=len(load_calibration()))[0]
        quantize(onnx_path=str(source), quantize_mode="int8", calibration_data=stacked,
                 calibration_method=method, nodes_to_exclude=excluded, output_path=str(target))
        tool = "modelopt.onnx.quantization"
    else:
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

        quantize_static(
            str(source), str(target), _Reader(batches),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul", "Gemm", "Conv"],
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=excluded,
            calibrate_method={"entropy": CalibrationMethod.Entropy, "minmax": CalibrationMethod.MinMax,
                              "percentile": CalibrationMethod.Percentile}[method],
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
                           "CalibMaxIntermediateOutputs": 8},
        )
        tool = "onnxruntime.quantization.quantize_static (QDQ)"
    _copy_metadata(source, target)
    return {"tool": tool, "calibration_method": method, "calibration_briefs": sum(len(b["input_ids"]) for b in batches),
            "kept_fp32": excluded, "seconds": round(time.perf_counter() - started, 1)}


def _copy_metadata(source: Path, target: Path) -> None:
    """Quantisers drop metadata_props; the runtime needs the version and table hashes."""
    meta = onnx.load(str(source), load_external_data=False).metadata_props
    model = onnx.load(str(target))
    present = {p.key for p in model.metadata_props}
    for prop in meta:
        if prop.key not in present:
            entry = model.metadata_props.add()
            entry.key, entry.value = prop.key, prop.value
    onnx.save_model(model, str(target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", default="entropy", choices=["entropy", "minmax", "percentile"])
    parser.add_argument("--int8-only", action="store_true")
    parser.add_argument("--fp16-only", action="store_true")
    parser.add_argument("--quantize-everything", action="store_true", help="no layers kept in FP32")
    args = parser.parse_args()
    report = {}
    if not args.int8_only:
        report["fp16"] = to_fp16(onnx_path("fp32"), onnx_path("fp16"))
        _copy_metadata(onnx_path("fp32"), onnx_path("fp16"))
    if not args.fp16_only:
        report["int8"] = to_int8(onnx_path("fp32"), onnx_path("int8"), args.method, not args.quantize_everything)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
