"""The JSON sidecar written next to each TensorRT engine, and the compatibility check made before loading.

Engines are specific to a GPU architecture (compute capability) and a TensorRT version; the ONNX hash and
the label-table hashes tie an engine to the model and knowledge base it was built from.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

PRECISIONS = ("fp16", "int8", "fp32")


class EngineMismatch(RuntimeError):
    """This engine cannot serve here; the message says why and how to rebuild."""


@dataclass
class EngineSidecar:
    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # "9.0"
    precision: str
    profiles: list[dict]  # [{input name: {"min": [...], "opt": [...], "max": [...]}}]
    onnx_sha256: str
    onnx_path: str
    built_at: str  # ISO 8601 UTC
    build_seconds: float
    model_metadata: dict[str, str] = field(default_factory=dict)  # copied from the ONNX metadata_props

    def write(self, engine_path: Path) -> Path:
        path = sidecar_path(engine_path)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def read(cls, engine_path: Path) -> EngineSidecar:
        path = sidecar_path(engine_path)
        if not path.exists():
            raise EngineMismatch(f"{engine_path} has no sidecar {path.name}; rebuild it with `python -m trt_build`")
        try:
            return cls(**json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise EngineMismatch(f"{path} is not a valid engine sidecar ({exc}); rebuild the engine") from exc


def sidecar_path(engine_path: Path) -> Path:
    return engine_path.with_suffix(".json")


def engine_path(engine_dir: Path, precision: str, compute_capability: str) -> Path:
    """One engine per precision and GPU architecture: recommender.fp16.sm90.engine."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    return Path(engine_dir) / f"recommender.{precision}.sm{compute_capability.replace('.', '')}.engine"


def check_compatible(sidecar: EngineSidecar, *, tensorrt_version: str, compute_capability: str,
                     label_tables: dict[str, str]) -> None:
    """Refuse an engine built for another GPU architecture, TensorRT release or knowledge base."""
    problems = []
    if sidecar.compute_capability != compute_capability:
        problems.append(f"built for compute capability {sidecar.compute_capability} ({sidecar.gpu_name}), "
                        f"this GPU is {compute_capability}")
    # Plans are tied to the exact TensorRT build unless built version-compatible (not done here).
    if sidecar.tensorrt_version != tensorrt_version:
        problems.append(f"built with TensorRT {sidecar.tensorrt_version}, runtime is {tensorrt_version}")
    stale = [k for k, v in label_tables.items() if sidecar.model_metadata.get(k) != v]
    if stale:
        problems.append(f"built from a model with other knowledge tables ({', '.join(stale)})")
    if problems:
        raise EngineMismatch("engine cannot be used: " + "; ".join(problems)
                             + ". Rebuild it on this machine: `python -m trt_build --skip train export`")
