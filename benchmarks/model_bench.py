"""Model-level benchmark: every backend x precision available here, batch 1/8/32/64/128, typical and long
briefs; latency p50/p99, throughput, speed-up vs torch eager FP32 measured in the same run, agreement
with FP32, and GPU memory per configuration.

    python -m benchmarks.model_bench prepare           # inputs from held-out briefs -> artifacts/bench/inputs.npz
    python -m benchmarks.model_bench run --out docs/bench/model-cpu.json
    # a batch of mixed-length briefs on a CPU: one call at the padded length against length groups, one core
    python -m benchmarks.model_bench length-groups [--briefs 1024] [--rounds 3]
    # the CPU variants side by side (docs/precision.md): same threads, interleaved rounds, one run
    python -m benchmarks.model_bench run --cpu-variants --threads 2 --rounds 5 --batches 1,8,32,64 --kinds typical \
        --out docs/bench/model-cpu-variants.json

Runs on a machine with only torch + onnxruntime + numpy (the GPU machine): `run` needs no tokenizer,
pydantic or coloraide, since `prepare` stores token ids and features.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from benchmarks import positive_int
from evaluation.agreement import agreement

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ROOT / "artifacts" / "bench" / "inputs.npz"
BATCHES = (1, 8, 32, 64, 128)


def prepare(path: Path = INPUTS, n: int = 512) -> None:
    from model.briefs import generate_briefs
    from pipeline.features import encode_brief
    from pipeline.tokenization import pad_batch

    samples = generate_briefs(n * 4, "heldout")
    encoded = [encode_brief(s.brief, s.reference_colors) for s in samples]
    typical = [e for e in encoded if len(e.token_ids) <= 24][:n]
    long = sorted(encoded, key=lambda e: -len(e.token_ids))[:n]
    arrays = {}
    for name, group in (("typical", typical), ("long", long)):
        ids, mask = pad_batch([e.token_ids for e in group])
        arrays[f"{name}_ids"], arrays[f"{name}_mask"] = ids, mask
        arrays[f"{name}_features"] = np.stack([e.features for e in group])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    print({k: v.shape for k, v in arrays.items()})


def _batch(inputs, kind: str, batch: int, offset: int):
    ids, mask, feats = inputs[f"{kind}_ids"], inputs[f"{kind}_mask"], inputs[f"{kind}_features"]
    rows = (np.arange(batch) + offset) % len(ids)
    ids, mask = ids[rows], mask[rows]
    width = int(mask.sum(1).max())  # pad to this batch's longest, as the server does
    return ids[:, :width], mask[:, :width], feats[rows]


def time_backend(backend, inputs, kind: str, batch: int, seconds: float, sync=None) -> dict:
    for i in range(3):
        backend.infer(*_batch(inputs, kind, batch, i))
    latencies = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline or len(latencies) < 20:
        args = _batch(inputs, kind, batch, i * batch)
        start = time.perf_counter()
        backend.infer(*args)  # returns host numpy arrays: includes the device->host copy
        latencies.append((time.perf_counter() - start) * 1000.0)
        i += 1
        if len(latencies) >= 2000:
            break
    lat = np.array(latencies)
    return {"p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "throughput_per_s": float(batch * 1000.0 / lat.mean()), "iterations": len(lat),
            "latencies": latencies}


def configurations(device: str, threads: int | None = None) -> list[tuple[str, dict]]:
    configs: list[tuple[str, dict]] = []
    if device == "cuda":
        configs += [
            ("torch-cuda-eager-fp32", {"backend": "torch", "device": "cuda", "precision": "fp32", "cuda_graphs": False}),
            ("torch-cuda-eager-fp16", {"backend": "torch", "device": "cuda", "precision": "fp16", "cuda_graphs": False}),
            ("torch-cuda-graphs-fp16", {"backend": "torch", "device": "cuda", "precision": "fp16", "cuda_graphs": True}),
            ("tensorrt-fp16", {"backend": "tensorrt", "precision": "fp16"}),
            ("tensorrt-int8", {"backend": "tensorrt", "precision": "int8"}),
        ]
    configs += [
        ("torch-cpu-fp32", {"backend": "torch", "device": "cpu", "precision": "fp32", "cuda_graphs": False}),
        ("onnxruntime-cpu-fp32", {"backend": "onnxruntime", "precision": "fp32", "intra_op_threads": threads or 0}),
        ("onnxruntime-cpu-int8", {"backend": "onnxruntime", "precision": "int8", "intra_op_threads": threads or 0}),
    ]
    return configs


def cpu_variant_configurations(threads: int | None) -> list[tuple[str, dict]]:
    """Every ONNX Runtime variant (the reference, the TensorRT-oriented FP16 / Q/DQ INT8, the CPU ones)."""
    from model.artifacts import CPU_VARIANTS

    return [(f"onnxruntime-cpu-{p}", {"backend": "onnxruntime", "precision": p, "intra_op_threads": threads or 0})
            for p in ("fp32", "fp16", "int8", *CPU_VARIANTS)]


def run(out: Path, seconds: float, batches: tuple[int, ...], kinds: tuple[str, ...], only: list[str] | None,
        cpu_variants: bool = False, threads: int | None = None, rounds: int = 1) -> dict:
    """rounds > 1: every backend stays loaded and each (kind, batch) is timed round-robin across them, `seconds`
    split over the rounds, so a shared machine's noise falls on every configuration alike."""
    import torch

    from inference.base import BackendUnavailable
    from inference.registry import create_backend

    device = "cuda" if torch.cuda.is_available() else "cpu"
    configs = cpu_variant_configurations(threads) if cpu_variants else configurations(device, threads)
    if only and (unknown := sorted(set(only) - {name for name, _ in configs})):
        # Checked before anything loads: a misspelt name would otherwise time nothing and write an empty report.
        raise SystemExit(f"--only: no configuration named {', '.join(unknown)} here; "
                         f"the {device} configurations are {', '.join(name for name, _ in configs)}")
    inputs = dict(np.load(INPUTS))
    report = {
        "machine": {"platform": platform.platform(), "cpu_count": __import__("os").cpu_count(),
                    "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
                    "torch": torch.__version__, "ort_threads": threads, "rounds": rounds,
                    "cpu_variants": cpu_variants},
        "results": [], "skipped": {},
    }
    reference_outputs: dict[str, dict] = {}
    loaded: list[tuple[str, object, dict]] = []
    for name, options in configs:
        reference_key = "cuda" if "cuda" in name or "tensorrt" in name else "cpu"
        # Agreement is always against FP32 of the same device: a configuration --only leaves out is still
        # loaded when it is that reference (the first FP32 one of its device to load), just not timed.
        fp32 = options.get("precision") == "fp32"
        reference_only = bool(only) and name not in only
        if reference_only and not (fp32 and reference_key not in reference_outputs):
            continue
        kind_of_backend = options.pop("backend")
        if device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            base_memory = torch.cuda.memory_allocated()
        try:
            backend = create_backend(kind_of_backend, **options)
        except (BackendUnavailable, ValueError, TypeError) as exc:
            if reference_only:
                print(f"no FP32 reference from {name}: {exc}", flush=True)
                continue
            report["skipped"][name] = str(exc)
            print(f"skip {name}: {exc}", flush=True)
            continue
        # Agreement on a fixed batch of 64 typical briefs against the FP32 reference of the same device.
        probe = _batch(inputs, "typical", 64, 0)
        outputs = {}
        for start in range(0, 64, 8):  # batch 8 chunks: exercises the padding/bucket path too
            part = backend.infer(*(a[start : start + 8] for a in probe))
            for k, v in part.items():
                outputs.setdefault(k, []).append(v)
        outputs = {k: np.concatenate(v) for k, v in outputs.items()}
        if fp32:
            reference_outputs.setdefault(reference_key, outputs)
        if reference_only:
            backend.close()
            continue
        # No FP32 of this device loaded: agreement is unknown (None, "n/a" in the table), not 1.0 against itself.
        agree = (agreement(reference_outputs[reference_key], outputs) if reference_key in reference_outputs
                 else dict.fromkeys(agreement(outputs, outputs)))
        if rounds > 1:
            loaded.append((name, backend, agree))
            continue
        for kind in kinds:
            for batch in batches:
                timing = time_backend(backend, inputs, kind, batch, seconds)
                timing.pop("latencies")
                row = {"config": name, "kind": kind, "batch": batch, **timing, **agree}
                if device == "cuda" and reference_key == "cuda":
                    row["gpu_peak_mb"] = round((torch.cuda.max_memory_allocated() - base_memory) / 2**20, 1)
                report["results"].append(row)
                print(json.dumps(row), flush=True)
        backend.close()
        del backend
    for kind in kinds if loaded else ():
        for batch in batches:
            timings: dict[str, list] = {name: [] for name, _, _ in loaded}
            for _ in range(rounds):
                for name, backend, _ in loaded:
                    timings[name] += time_backend(backend, inputs, kind, batch, seconds / rounds)["latencies"]
            for name, _, agree in loaded:
                lat = np.array(timings[name])
                row = {"config": name, "kind": kind, "batch": batch, "p50_ms": float(np.percentile(lat, 50)),
                       "p99_ms": float(np.percentile(lat, 99)), "throughput_per_s": float(batch * 1000.0 / lat.mean()),
                       # from the median call: a shared machine's stalls move the mean, not the median
                       "briefs_per_s_p50": float(batch * 1000.0 / np.percentile(lat, 50)),
                       "iterations": len(lat), **agree}
                report["results"].append(row)
                print(json.dumps(row), flush=True)
    for _, backend, _ in loaded:
        backend.close()
    # Speed-up vs torch eager FP32 of the same device, same kind and batch, from this very run; and vs ONNX
    # Runtime FP32 (what the embedded default served before the CPU variants).
    for row in report["results"]:
        base_name = "torch-cuda-eager-fp32" if row["config"].startswith(("torch-cuda", "tensorrt")) else "torch-cpu-fp32"
        base = next((r for r in report["results"] if r["config"] == base_name and r["kind"] == row["kind"]
                     and r["batch"] == row["batch"]), None)
        row["speedup_vs_eager_fp32"] = round(base["p50_ms"] / row["p50_ms"], 2) if base else None
        base = next((r for r in report["results"] if r["config"] == "onnxruntime-cpu-fp32" and r["kind"] == row["kind"]
                     and r["batch"] == row["batch"]), None)
        key = "briefs_per_s_p50" if "briefs_per_s_p50" in row else "throughput_per_s"
        row["speedup_vs_ort_fp32"] = round(row[key] / base[key], 2) if base else None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _agreement_cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"  # None: no FP32 reference loaded


def markdown(report: dict) -> str:
    if report["machine"].get("cpu_variants"):
        lines = ["| config | kind | batch | p50 ms | p99 ms | briefs/s (median call) | × ORT FP32 | style top-1 | palette top-5 | "
                 "font top-5 |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in report["results"]:
            lines.append(f"| {r['config']} | {r['kind']} | {r['batch']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                         f"{r.get('briefs_per_s_p50', r['throughput_per_s']):.0f} | {r.get('speedup_vs_ort_fp32') or ''} | "
                         f"{_agreement_cell(r['style_top1'])} | "
                         f"{_agreement_cell(r['palette_top5'])} | {_agreement_cell(r['font_top5'])} |")
        lines += [f"- not run: `{k}`: {v}" for k, v in report.get("skipped", {}).items()]
        return "\n".join(lines)
    lines = ["| config | kind | batch | p50 ms | p99 ms | items/s | speed-up vs eager FP32 | style top-1 | palette top-5 | GPU MB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["results"]:
        lines.append(
            f"| {r['config']} | {r['kind']} | {r['batch']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['throughput_per_s']:.0f} | {r.get('speedup_vs_eager_fp32') or ''} | "
            f"{_agreement_cell(r['style_top1'])} | {_agreement_cell(r['palette_top5'])} | {r.get('gpu_peak_mb', '')} |")
    if report.get("skipped"):
        lines.append("")
        lines += [f"- not run: `{k}`: {v}" for k, v in report["skipped"].items()]
    return "\n".join(lines)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for kind, ax in zip(("typical", "long"), axes):
        for config in dict.fromkeys(r["config"] for r in report["results"]):
            rows = [r for r in report["results"] if r["config"] == config and r["kind"] == kind]
            if rows:
                ax.plot([r["batch"] for r in rows], [r["p50_ms"] for r in rows], marker="o", label=config)
        ax.set(xscale="log", yscale="log", xlabel="batch", ylabel="p50 latency per batch (ms)", title=f"{kind} briefs")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def length_group_run(n_briefs: int, rounds: int, batches: tuple[int, ...], multiples: tuple[int, ...]) -> None:
    """ONNX Runtime (the served CPU variant, one intra-op thread, one pinned core) on random batches of the
    benchmark's brief mix, real token lengths: one call at the batch's longest length rounded up to 8 (as the
    recommender pads with `pad_to_multiple: 8`) against `inference.base.infer_by_length` groups; the ways
    alternate within each round, every way on the same batches. ms of model a brief, best round."""
    import os

    from benchmarks.workload import brief_mix
    from contract.brief import MAX_IMAGE_BYTES, Brief
    from inference.onnxruntime_backend import OnnxRuntimeBackend
    from pipeline.features import encode_batch

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    encoded = encode_batch([Brief.model_validate(b) for b in brief_mix(n_briefs, seed=3)], MAX_IMAGE_BYTES)
    lengths = encoded.attention_mask.sum(axis=1)
    backend = OnnxRuntimeBackend(precision="auto", intra_op_threads=1, length_group=0)
    print(f"{backend.info.precision}, one thread on core {min(os.sched_getaffinity(0))}; {n_briefs} briefs, tokens "
          f"p50 {np.percentile(lengths, 50):.0f}, p90 {np.percentile(lengths, 90):.0f}, max {lengths.max()}")
    ways = {"one call, longest rounded up to 8": 0, **{f"groups of {m}": m for m in multiples}}
    rng = np.random.default_rng(0)
    print("batch | " + " | ".join(ways) + " | ms a brief (best of rounds); ratio to one call")
    for batch in batches:
        chosen = [rng.choice(n_briefs, batch, replace=False) for _ in range(max(8, 512 // batch))]
        times = {name: [] for name in ways}
        for _ in range(rounds):
            for name, multiple in ways.items():
                backend.length_group = multiple
                started = time.perf_counter()
                for rows in chosen:
                    width = min(encoded.input_ids.shape[1], int(-(-lengths[rows].max() // 8) * 8))
                    backend.infer(encoded.input_ids[rows, :width], encoded.attention_mask[rows, :width],
                                  encoded.features[rows])
                times[name].append((time.perf_counter() - started) * 1000 / (batch * len(chosen)))
        best = {name: min(t) for name, t in times.items()}
        one = best["one call, longest rounded up to 8"]
        print(f"{batch:5d} | " + " | ".join(f"{v:.3f} ({v / one:.2f})" for v in best.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("prepare")
    run_p = sub.add_parser("run")
    run_p.add_argument("--out", type=Path, default=ROOT / "docs" / "bench" / "model.json")
    run_p.add_argument("--seconds", type=float, default=2.0, help="timing budget per (config, kind, batch)")
    run_p.add_argument("--batches", default=",".join(map(str, BATCHES)))
    run_p.add_argument("--kinds", default="typical,long")
    run_p.add_argument("--only", help="comma-separated config names")
    run_p.add_argument("--cpu-variants", action="store_true", help="every ONNX Runtime variant, nothing else")
    run_p.add_argument("--threads", type=positive_int, help="ONNX Runtime intra-op threads (default: all cores)")
    run_p.add_argument("--rounds", type=int, default=1, help=">1: time the configurations round-robin")
    groups = sub.add_parser("length-groups")
    groups.add_argument("--briefs", type=positive_int, default=1024)
    groups.add_argument("--rounds", type=positive_int, default=3)
    groups.add_argument("--batches", default="1,4,16,64")
    groups.add_argument("--multiples", default="4,8,16")
    show = sub.add_parser("table")
    show.add_argument("report", type=Path)
    show.add_argument("--plot", type=Path)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare()
    elif args.command == "length-groups":
        batches = tuple(int(b) for b in args.batches.split(","))
        if max(batches) > args.briefs:  # each batch draws distinct briefs from the --briefs pool
            groups.error(f"--batches {max(batches)} is larger than --briefs {args.briefs}")
        length_group_run(args.briefs, args.rounds, batches, tuple(int(m) for m in args.multiples.split(",")))
    elif args.command == "run":
        report = run(args.out, args.seconds, tuple(int(b) for b in args.batches.split(",")),
                     tuple(args.kinds.split(",")), args.only.split(",") if args.only else None,
                     args.cpu_variants, args.threads, args.rounds)
        print(markdown(report))
    else:
        report = json.loads(args.report.read_text())
        print(markdown(report))
        if args.plot:
            plot(report, args.plot)


if __name__ == "__main__":
    main()
