"""Where the assembled model files live, and the checks that tie them to this knowledge base (no torch)."""

from __future__ import annotations

import hashlib
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


class ModelMismatch(RuntimeError):
    """A model file was built against other palette/font/style tables than the ones installed."""


def onnx_path(precision: str = "fp32") -> Path:
    if precision not in ONNX_FILES:
        raise ValueError(f"unknown precision {precision!r}; expected one of {sorted(ONNX_FILES)}")
    return ONNX_FILES[precision]


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
