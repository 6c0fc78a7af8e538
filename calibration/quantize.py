"""FP16 and INT8 variants of the ONNX model, the TensorRT 10/11 way: precision lives in the ONNX.

- FP16: NVIDIA ModelOpt AutoCast when `modelopt` is importable (the `gpu` extra), else ONNX Runtime's
  float16 converter. Inputs/outputs stay FP32/INT64, so every backend sees the same I/O.
- INT8: ModelOpt ONNX PTQ (explicit Q/DQ) when importable, else ONNX Runtime static quantisation in QDQ
  format with symmetric INT8 activations and per-channel symmetric INT8 weights (zero points 0, as
  TensorRT requires for explicit quantisation), calibrated on calibration/briefs.jsonl. Only the layers
  `int8_nodes` selects are quantised; the sensitivity analysis behind that is in docs/precision.md.

    python -m calibration.quantize                       # FP16 + selective INT8
    python -m calibration.quantize --int8-only --quantize-everything   # the all-layers INT8 comparison
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
from pipeline.features import encode_brief
from pipeline.tokenization import pad_batch

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


def _downstream_of(model: onnx.ModelProto, tensor: str) -> set[str]:
    """Names of the nodes that (transitively) consume `tensor`; the graph is topologically sorted."""
    reached, nodes = {tensor}, set()
    for node in model.graph.node:
        if any(i in reached for i in node.input):
            nodes.add(node.name)
            reached.update(node.output)
    return nodes


def keep_fp32_nodes(model: onnx.ModelProto) -> list[str]:
    """Nodes FP16 leaves in FP32: the retrieval scoring MatMuls whose outputs feed TopK. Their scores over
    5,607 palettes sit close together, and rounding them reorders near-ties."""
    producers = {out: node for node in model.graph.node for out in node.output}
    keep = set()
    for node in model.graph.node:
        if node.op_type != "TopK":
            continue
        frontier, seen = [node.input[0]], set()
        while frontier:  # walk back through the elementwise adds of the colour-match terms
            producer = producers.get(frontier.pop())
            if producer is None or producer.name in seen:
                continue
            seen.add(producer.name)
            if producer.op_type in ("MatMul", "Gemm"):
                keep.add(producer.name)
            elif producer.op_type in ("Add", "Mul", "Sub", "Div"):
                frontier.extend(producer.input)
    return sorted(keep)


def int8_nodes(model: onnx.ModelProto, hidden: int = 384) -> list[str]:
    """The layers INT8 quantises: MiniLM's attention projections (Q, K, V, output; 24 MatMuls with a
    constant hidden x hidden weight). Per-layer-group sensitivity on the held-out briefs (docs/precision.md)
    showed the FFN output projection (its input is the heavy-tailed GELU activation) alone drops style top-1
    agreement to ~0.74, the FFN input projection costs ~0.08, the attention act x act MatMuls and the heads
    (retrieval scores, colour matching) are kept too; so everything but these 24 stays FP32."""
    weights = {i.name: tuple(i.dims) for i in model.graph.initializer}
    heads = _downstream_of(model, "features")
    return [
        node.name for node in model.graph.node
        if node.op_type == "MatMul" and node.name not in heads
        and any(weights.get(i) == (hidden, hidden) for i in node.input)
    ]


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
    _copy_metadata(source, target)
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


def to_int8(source: Path, target: Path, method: str = "percentile", selective: bool = True) -> dict:
    started = time.perf_counter()
    batches = calibration_batches()
    model = onnx.load(str(source))
    quantized = int8_nodes(model) if selective else None
    matmuls = [n.name for n in model.graph.node if n.op_type in ("MatMul", "Gemm", "Conv")]
    excluded = [n for n in matmuls if quantized is not None and n not in quantized]
    if modelopt_available():
        from modelopt.onnx.quantization import quantize

        # ModelOpt takes one array per input holding every calibration brief.
        stacked = calibration_batches(batch_size=len(load_calibration()))[0]
        quantize(onnx_path=str(source), quantize_mode="int8", calibration_data=stacked,
                 calibration_method="entropy" if method == "entropy" else "max",
                 nodes_to_exclude=excluded, output_path=str(target))
        tool = "modelopt.onnx.quantization"
    else:
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

        quantize_static(
            str(source), str(target), _Reader(batches),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul", "Gemm", "Conv"],
            nodes_to_quantize=quantized,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method={"entropy": CalibrationMethod.Entropy, "minmax": CalibrationMethod.MinMax,
                              "percentile": CalibrationMethod.Percentile}[method],
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
                           "CalibMaxIntermediateOutputs": 8},  # bounds calibration memory
        )
        tool = "onnxruntime.quantization.quantize_static (QDQ)"
    _copy_metadata(source, target)
    return {"tool": tool, "calibration_method": method, "calibration_briefs": sum(len(b["input_ids"]) for b in batches),
            "int8_layers": len(quantized) if quantized is not None else "all", "fp32_layers": len(excluded),
            "seconds": round(time.perf_counter() - started, 1)}


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
    parser.add_argument("--method", default="percentile", choices=["entropy", "minmax", "percentile"])
    only = parser.add_mutually_exclusive_group()  # both at once would build neither
    only.add_argument("--int8-only", action="store_true")
    only.add_argument("--fp16-only", action="store_true")
    parser.add_argument("--quantize-everything", action="store_true", help="every MatMul/Gemm/Conv in INT8")
    args = parser.parse_args()
    report = {}
    if not args.int8_only:
        report["fp16"] = to_fp16(onnx_path("fp32"), onnx_path("fp16"))
    if not args.fp16_only:
        target = onnx_path("int8")
        if args.quantize_everything:
            target = target.with_name("recommender.int8-all.onnx")
        report["int8"] = to_int8(onnx_path("fp32"), target, args.method, not args.quantize_everything)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
