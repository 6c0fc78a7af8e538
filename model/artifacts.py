"""Where the assembled model files live, and the checks that tie them to this knowledge base (no torch)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from knowledge.fonts import load_font_pairs
from knowledge.palettes import load_palettes
from knowledge.taxonomy import LayoutElement, Style

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "artifacts" / "model"
ONNX_FILES = {
    "fp32": MODEL_DIR / "recommender.onnx",
    "fp16": MODEL_DIR / "recommender.fp16.onnx",
    "int8": MODEL_DIR / "recommender.int8.onnx",
}
# CPU variants for ONNX Runtime (calibration/cpu_variants.py builds them; docs/precision.md has the figures).
CPU_VARIANTS = {
    "fp32_fused": MODEL_DIR / "recommender.cpu-fp32-fused.onnx",
    "fp32_fused_ln": MODEL_DIR / "recommender.cpu-fp32-fused-ln.onnx",
    "int8_cpu": MODEL_DIR / "recommender.cpu-int8.onnx",
}
ONNX_FILES.update(CPU_VARIANTS)
# ONNX Runtime's own graph fusions to switch off per variant: its CPU SkipLayerNormalization kernel is slower
# than LayerNormalization + Add (measured, docs/precision.md), so the *_ln graphs keep the pair unfused.
DISABLED_OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "fp32_fused_ln": ("SkipLayerNormFusion",),
    "int8_cpu": ("SkipLayerNormFusion",),
}
# Written by the build: the gates' results and the variant every replica serves for precision "auto".
CPU_MANIFEST = MODEL_DIR / "cpu_manifest.json"



class ModelMismatch(RuntimeError):
    """A model file was built against other palette/font/style tables than the ones installed."""


def onnx_path(precision: str = "fp32") -> Path:
    if precision not in ONNX_FILES:
        raise ValueError(f"unknown precision {precision!r}; expected one of {sorted(ONNX_FILES)}")
    return ONNX_FILES[precision]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def reference_sha256() -> str | None:
    """The FP32 reference's hash, from the sidecar the export writes (None if there is none)."""
    sidecar = ONNX_FILES["fp32"].with_suffix(".json")
    try:
        return json.loads(sidecar.read_text()).get("onnx_sha256")
    except (OSError, ValueError):
        return None


def resolve_auto(manifest_path: Path | None = None) -> tuple[str, dict | None, str | None]:
    """Precision "auto": (variant, its manifest entry, why FP32 instead). FP32 whenever the manifest is missing,
    unreadable, built for another FP32 model, or names nothing usable; the caller logs the reason."""
    path = manifest_path or CPU_MANIFEST
    try:
        manifest = json.loads(path.read_text())
        served = manifest["served"]
        entry = manifest["variants"].get(served) if served != "fp32" else None
    except FileNotFoundError:
        return "fp32", None, f"no CPU variant manifest at {path} (run `make model`); serving the FP32 reference"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return "fp32", None, f"CPU variant manifest {path} is corrupt ({exc!r}); serving the FP32 reference"
    if manifest.get("reference_onnx_sha256") != reference_sha256():
        return "fp32", None, f"CPU variant manifest {path} was built for another FP32 model; serving the FP32 reference"
    if served == "fp32":
        return "fp32", None, None
    if served not in CPU_VARIANTS or not isinstance(entry, dict) or not entry.get("passed"):
        return "fp32", None, (f"CPU variant manifest {path} names {served!r}, which is unknown or did not pass its "
                              "gates; serving the FP32 reference")
    return served, entry, None


def _sha(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def label_tables() -> dict[str, str]:
    """Hashes of the id tables the graph's output indices refer to."""
    return {
        "palette_table_sha": _sha([p.id for p in load_palettes()]),
        "font_table_sha": _sha([p.id for p in load_font_pairs()]),
        "style_table_sha": _sha([s.value for s in Style]),
        "layout_table_sha": _sha([e.value for e in LayoutElement]),
    }


def check_model_metadata(metadata: dict[str, str], source: Path | str) -> None:
    """Refuse a model whose indices would point into different tables than ours."""
    expected = label_tables()
    wrong = [k for k, v in expected.items() if metadata.get(k) != v]
    if wrong:
        raise ModelMismatch(
            f"{source} was built for other knowledge tables ({', '.join(wrong)} differ); rebuild it with "
            "`python -m model.export`"
        )
