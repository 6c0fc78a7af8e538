"""CPU variants of the ONNX model for ONNX Runtime (the embedded default), their gates, and the build's choice.

    python -m calibration.cpu_variants            # build what is stale, gate, time, write the manifest
    python -m calibration.cpu_variants --force    # rebuild everything

Variants (artifacts/model/), separate from the TensorRT-oriented FP16 / Q/DQ INT8 graphs:
- fp32_fused     TorchScript export (the dynamo exporter's graphs do not match the optimiser's BERT patterns) +
                 ONNX Runtime's transformer optimiser: Attention, SkipLayerNormalization and (Bias)Gelu fused.
- fp32_fused_ln  the same with residual Add + LayerNormalization left as a pair (ONNX Runtime's CPU
                 SkipLayerNormalization kernel is slower than the two, measured; see docs/precision.md).
- int8_cpu       fp32_fused_ln with dynamic INT8 (per-channel symmetric INT8 weights, per-call UINT8 activations:
                 QAttention + MatMulInteger kernels) on every encoder MatMul; the heads stay FP32.

Every variant is run on held-out briefs against the FP32 reference (calibration.gates.GOALS, at batch 64 and
batch 1: dynamic INT8 scales depend on the batch), timed side by side at batch 1 and 32, and
artifacts/model/cpu_manifest.json names the fastest that passed (or FP32). Replicas with precision "auto"
serve what it names.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

from calibration.gates import GOALS, agreement, failures
from model.artifacts import (CPU_MANIFEST, CPU_VARIANTS, DISABLED_OPTIMIZERS, ONNX_FILES, file_sha256,
                             reference_sha256)
from model.net import INPUT_NAMES, OUTPUT_NAMES

TS_OPSET = 17  # LayerNormalization needs 17; the optimiser's BERT fusions are written against these graphs
GATE_BRIEFS = 1000  # held-out briefs at batch 64 (as evaluation/ runs them)
GATE_BRIEFS_BATCH1 = 200  # of those, one at a time
TIMING_BATCHES = (1, 32)
FUSED_OPS = {"Attention": ("Attention", "QAttention", "MultiHeadAttention"),
             "SkipLayerNorm": ("SkipLayerNormalization",),
             "Gelu": ("Gelu", "BiasGelu", "FastGelu", "QuickGelu")}


# ---------------------------------------------------------------------------------------------------- build
def export_torchscript(path: Path) -> None:
    """The same model as model.export, through the TorchScript exporter, whose graphs the optimiser fuses."""
    import torch

    from model.export import build_model, example_inputs

    model = build_model()
    axes = {"input_ids": {0: "batch", 1: "seq_len"}, "attention_mask": {0: "batch", 1: "seq_len"},
            "features": {0: "batch"}, **{name: {0: "batch"} for name in OUTPUT_NAMES}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer warnings
        torch.onnx.export(model, example_inputs(), str(path), input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                          opset_version=TS_OPSET, dynamo=False, dynamic_axes=axes)


def fuse(source: Path, target: Path, skip_layer_norm: bool = True) -> dict[str, int]:
    """ONNX Runtime's BERT optimiser (offline, opt_level 0 so the file stays portable); returns fusion counts."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    from model.text_encoder import HIDDEN
    from pipeline.tokenization import minilm_dir

    heads = json.loads((minilm_dir() / "config.json").read_text())["num_attention_heads"]
    options = FusionOptions("bert")
    options.enable_skip_layer_norm = skip_layer_norm
    optimized = optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=HIDDEN, opt_level=0,
                               optimization_options=options)
    optimized.save_model_to_file(str(target))
    return fusion_counts(target)


def quantize_int8(source: Path, target: Path, keep_fp32: tuple[str, ...] = ()) -> dict:
    """Dynamic INT8 of the encoder (fused Attention's QKV and the attention-output / FFN MatMuls). Weights
    per-channel symmetric INT8 (per-tensor wrecked agreement in the first probe); activations quantised per
    call. `keep_fp32`: substrings of node names left in FP32 (the sensitivity study in docs/precision.md)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source), load_external_data=False)
    nodes = [n.name for n in model.graph.node if n.op_type in ("MatMul", "Attention")
             and not n.name.startswith("/heads") and not any(k in n.name for k in keep_fp32)]
    quantize_dynamic(str(source), str(target), per_channel=True, weight_type=QuantType.QInt8,
                     op_types_to_quantize=["MatMul", "Attention"], nodes_to_quantize=nodes,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # contrib ops: no type inference
    return {"int8_nodes": len(nodes), "keep_fp32": list(keep_fp32)}


def fusion_counts(path: Path, runtime: bool = False, disabled_optimizers: tuple[str, ...] = ()) -> dict[str, int]:
    """Fused Attention / SkipLayerNorm / Gelu nodes in the file, or (runtime=True) in the graph ONNX Runtime
    actually runs after its own ORT_ENABLE_EXTENDED fusions (what the plain FP32 file gets at load time)."""
    import onnx

    if runtime:
        import tempfile

        import onnxruntime as ort

        with tempfile.TemporaryDirectory() as tmp:
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
            options.optimized_model_filepath = str(Path(tmp) / "runtime.onnx")
            ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                 disabled_optimizers=list(disabled_optimizers))
            ops = Counter(n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node)
    else:
        ops = Counter(n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node)
    counts = {key: sum(ops[o] for o in names) for key, names in FUSED_OPS.items()}
    counts["LayerNormalization"] = ops["LayerNormalization"]
    counts["int8_ops"] = sum(v for k, v in ops.items() if k in ("MatMulInteger", "QAttention", "DynamicQuantizeMatMul",
                                                                 "MatMulIntegerToFloat", "QLinearMatMul"))
    return counts


def _copy_metadata(source: Path, target: Path) -> None:
    from calibration.quantize import _copy_metadata as copy

    copy(source, target)


# ---------------------------------------------------------------------------------------------------- gates
def held_out_batches(n: int = GATE_BRIEFS, batch: int = 64) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    from model.briefs import generate_briefs
    from pipeline.features import encode_brief
    from pipeline.tokenization import pad_batch

    encoded = [encode_brief(s.brief, s.reference_colors) for s in generate_briefs(n, "heldout")]
    out = []
    for start in range(0, len(encoded), batch):
        chunk = encoded[start : start + batch]
        ids, mask = pad_batch([e.token_ids for e in chunk])
        out.append((ids, mask, np.stack([e.features for e in chunk]).astype(np.float32)))
    return out


def session(path: Path, variant: str, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"],
                                disabled_optimizers=list(DISABLED_OPTIMIZERS.get(variant, ())))


def run_outputs(sess, batches) -> dict[str, np.ndarray]:
    parts = [sess.run(OUTPUT_NAMES, {"input_ids": i, "attention_mask": m, "features": f}) for i, m, f in batches]
    return {name: np.concatenate([p[k] for p in parts]) for k, name in enumerate(OUTPUT_NAMES)}


def gate(reference: dict[str, dict], candidate: dict[str, dict]) -> dict:
    """Agreement per batching ("batch64", "batch1") and the goals missed in any of them."""
    measured = {key: agreement(reference[key], candidate[key]) for key in reference}
    missed = [f"{key}: {miss}" for key, a in measured.items() for miss in failures(a)]
    return {"agreement": measured, "passed": not missed, "failures": missed}


def time_sessions(sessions: dict, batches64, threads: int, rounds: int = 3, seconds: float = 0.4) -> dict:
    """Briefs/s per variant at TIMING_BATCHES from the median call, interleaved round by round (a shared
    machine's noise hits every variant alike; the median ignores the calls it stalls)."""
    rows = [r for i, m, f in batches64 for r in zip(i, m, f)]
    results: dict[str, dict[str, list[float]]] = {name: {str(b): [] for b in TIMING_BATCHES} for name in sessions}
    for batch in TIMING_BATCHES:
        feeds = []
        for start in range(0, 8 * batch, batch):
            chunk = [rows[(start + j) % len(rows)] for j in range(batch)]
            width = int(max(c[1].sum() for c in chunk))
            feeds.append({"input_ids": np.stack([c[0][:width] for c in chunk]),
                          "attention_mask": np.stack([c[1][:width] for c in chunk]),
                          "features": np.stack([c[2] for c in chunk])})
        for _ in range(rounds):
            for name, sess in sessions.items():
                sess.run(OUTPUT_NAMES, feeds[0])
                started = time.perf_counter()
                while time.perf_counter() - started < seconds or len(results[name][str(batch)]) < 3:
                    call = time.perf_counter()
                    sess.run(OUTPUT_NAMES, feeds[len(results[name][str(batch)]) % len(feeds)])
                    results[name][str(batch)].append(time.perf_counter() - call)
    return {name: {b: round(float(int(b) / np.median(v)), 1) for b, v in per.items()} for name, per in results.items()}


def choose(variants: dict[str, dict]) -> tuple[str, str]:
    """The fastest variant that passed its gates (geometric mean of briefs/s at batch 1 and 32), FP32 included:
    a variant that passes but is slower than the reference is not worth serving."""
    def score(entry: dict) -> float:
        speeds = [entry.get("briefs_per_s", {}).get(str(b)) for b in TIMING_BATCHES]
        return math.exp(np.mean([math.log(s) for s in speeds])) if all(s and s > 0 for s in speeds) else 0.0

    passed = {name: score(entry) for name, entry in variants.items() if entry.get("passed")}
    if not passed:
        return "fp32", "no variant passed its gates"
    best = max(passed, key=passed.get)
    rejected = sorted(n for n, e in variants.items() if not e.get("passed"))
    return best, (f"fastest passing variant ({passed[best]:.0f} briefs/s geometric mean of batch "
                  f"{'/'.join(map(str, TIMING_BATCHES))})" + (f"; failed gates: {', '.join(rejected)}" if rejected else ""))


# ---------------------------------------------------------------------------------------------------- driver
def up_to_date(manifest_path: Path = CPU_MANIFEST) -> bool:
    try:
        manifest = json.loads(manifest_path.read_text())
        return manifest["reference_onnx_sha256"] == reference_sha256() and all(
            CPU_VARIANTS[name].exists() and entry.get("bytes") == CPU_VARIANTS[name].stat().st_size
            for name, entry in manifest["variants"].items() if name in CPU_VARIANTS)
    except (OSError, ValueError, KeyError, TypeError):
        return False


def changed_settings(manifest: dict, threads: int | None, keep_fp32: tuple[str, ...] | None) -> list[str]:
    """The settings asked for (None: not asked) that differ from those the manifest's build used."""
    changed = []
    if threads is not None and threads != manifest.get("threads"):
        changed.append(f"threads {manifest.get('threads')} -> {threads}")
    recorded = manifest.get("variants", {}).get("int8_cpu", {}).get("keep_fp32", [])
    if keep_fp32 is not None and sorted(keep_fp32) != sorted(recorded):
        changed.append(f"keep_fp32 {recorded} -> {list(keep_fp32)}")
    return changed


def build(force: bool = False, threads: int | None = None, keep_fp32: tuple[str, ...] | None = None,
          manifest_path: Path = CPU_MANIFEST) -> dict:
    """`threads` / `keep_fp32` None: not asked for (all cores / none), and an up-to-date build is kept whatever
    it used; given, a build made with other values is redone."""
    asked_threads = threads  # None: not asked for
    threads = threads or int(os.environ.get("PACKDESIGN_ORT_THREADS", 0)) or os.cpu_count() or 1  # 0: all
    if not force and up_to_date(manifest_path):
        manifest = json.loads(manifest_path.read_text())
        changed = changed_settings(manifest, None if asked_threads is None else threads, keep_fp32)
        if not changed:
            print(f"CPU variants up to date; serving {manifest['served']} ({manifest_path})")
            return manifest
        print(f"CPU variants up to date but built with other settings ({'; '.join(changed)}): rebuilding")
    import onnxruntime as ort
    from tqdm import tqdm

    keep_fp32 = keep_fp32 or ()
    reference = ONNX_FILES["fp32"]
    ts_path = reference.with_name("recommender.cpu-ts.onnx")
    variants: dict[str, dict] = {}
    steps = ["export (TorchScript)", "fuse fp32_fused", "fuse fp32_fused_ln", "quantise int8_cpu",
             "held-out briefs", "gate fp32", *(f"gate {v}" for v in CPU_VARIANTS), "time", "manifest"]
    started = time.perf_counter()
    with tqdm(total=len(steps), desc="CPU variants", unit="step") as bar:
        def step(name: str) -> None:
            bar.set_postfix_str(name)

        step(steps[0]); export_torchscript(ts_path); bar.update()
        for name, sln in (("fp32_fused", True), ("fp32_fused_ln", False)):
            step(f"fuse {name}")
            fuse(ts_path, CPU_VARIANTS[name], skip_layer_norm=sln)
            _copy_metadata(reference, CPU_VARIANTS[name])
            variants[name] = {"made": f"TorchScript export + ORT BERT optimiser (skip_layer_norm={sln})"}
            bar.update()
        step("quantise int8_cpu")
        info = quantize_int8(CPU_VARIANTS["fp32_fused_ln"], CPU_VARIANTS["int8_cpu"], keep_fp32)
        _copy_metadata(reference, CPU_VARIANTS["int8_cpu"])
        variants["int8_cpu"] = {"made": "fp32_fused_ln + dynamic INT8, per-channel symmetric weights", **info}
        bar.update()
        ts_path.unlink(missing_ok=True)

        step("held-out briefs")
        batches64 = held_out_batches()
        rows = [r for i, m, f in batches64 for r in zip(i, m, f)][:GATE_BRIEFS_BATCH1]
        batches1 = [(i[None, : int(m.sum())], m[None, : int(m.sum())], f[None]) for i, m, f in rows]
        bar.update()
        step("gate fp32")
        sessions = {"fp32": session(reference, "fp32", threads)}
        ref = {"batch64": run_outputs(sessions["fp32"], batches64), "batch1": run_outputs(sessions["fp32"], batches1)}
        bar.update()
        for name, path in CPU_VARIANTS.items():
            step(f"gate {name}")
            entry = variants[name]
            entry.update(file=path.name, bytes=path.stat().st_size, sha256=file_sha256(path),
                         disabled_ort_optimizers=list(DISABLED_OPTIMIZERS.get(name, ())),
                         fusion=fusion_counts(path),
                         runtime_fusion=fusion_counts(path, True, DISABLED_OPTIMIZERS.get(name, ())))
            try:
                sessions[name] = session(path, name, threads)
                entry.update(gate({"batch64": ref["batch64"], "batch1": ref["batch1"]},
                                  {"batch64": run_outputs(sessions[name], batches64),
                                   "batch1": run_outputs(sessions[name], batches1)}))
            except Exception as exc:  # noqa: BLE001 - a variant that cannot run is a failed gate, not a failed build
                entry.update(passed=False, failures=[f"cannot run: {exc}"])
                sessions.pop(name, None)
            bar.update()
        step("time")
        speeds = time_sessions(sessions, batches64, threads)
        for name, entry in variants.items():
            entry["briefs_per_s"] = speeds.get(name, {})
        bar.update()
        step("manifest")
        fp32 = {"passed": True, "briefs_per_s": speeds["fp32"], "file": reference.name,
                "fusion": fusion_counts(reference), "runtime_fusion": fusion_counts(reference, True)}
        served, reason = choose({"fp32": fp32, **variants})
        manifest = {
            "served": served, "reason": reason, "goals": GOALS, "threads": threads,
            "reference_onnx_sha256": reference_sha256(), "onnxruntime": ort.__version__,
            "gate_briefs": {"batch64": GATE_BRIEFS, "batch1": GATE_BRIEFS_BATCH1},
            "built": time.strftime("%Y-%m-%dT%H:%M:%S"), "build_seconds": round(time.perf_counter() - started, 1),
            "variants": {"fp32": fp32, **variants},
        }
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        tmp.replace(manifest_path)
        bar.update()
    return manifest


def summary(manifest: dict) -> str:
    lines = [f"served: {manifest['served']} ({manifest['reason']})",
             "| variant | Attention | SkipLayerNorm | Gelu | INT8 ops | runtime Attention/SkipLN/Gelu | "
             "b1 briefs/s | b32 briefs/s | style top-1 | palette top-5 | font top-5 | gates |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|"]
    for name, v in manifest["variants"].items():
        f, r, s = v.get("fusion", {}), v.get("runtime_fusion", {}), v.get("briefs_per_s", {})
        worst = {k: min(a[k] for a in v["agreement"].values()) for k in GOALS} if "agreement" in v else {}
        lines.append(
            f"| {name} | {f.get('Attention', '')} | {f.get('SkipLayerNorm', '')} | {f.get('Gelu', '')} | "
            f"{f.get('int8_ops', '')} | {r.get('Attention', '')}/{r.get('SkipLayerNorm', '')}/{r.get('Gelu', '')} | "
            f"{s.get('1', '')} | {s.get('32', '')} | {worst.get('style_top1', 1.0):.4f} | "
            f"{worst.get('palette_top5', 1.0):.4f} | {worst.get('font_top5', 1.0):.4f} | "
            f"{'pass' if v.get('passed') else 'FAIL: ' + '; '.join(v.get('failures', []))} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rebuild even if the manifest is up to date")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads for gating and timing (default: all); "
                        "an up-to-date build made with another count is redone")
    parser.add_argument("--keep-fp32", nargs="*",
                        help="node-name substrings int8_cpu keeps in FP32 (e.g. /output/ for the FFN output; none "
                        "given: none); an up-to-date build made with others is redone")
    args = parser.parse_args()
    keep_fp32 = tuple(args.keep_fp32) if args.keep_fp32 is not None else None  # bare --keep-fp32: none kept
    print(summary(build(args.force, args.threads, keep_fp32)))


if __name__ == "__main__":
    main()
