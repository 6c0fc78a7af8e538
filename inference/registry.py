"""Which backend serves: `create_backend` by name and the `auto` chain (`select_backend`).

Kept apart from `inference.base` (the interface every backend imports) so that imports run one way:
registry -> backends -> base, never back.
"""

from __future__ import annotations

import logging

from inference.base import BackendUnavailable, InferenceBackend

log = logging.getLogger("packdesign.inference")

BACKENDS = ("tensorrt", "torch", "onnxruntime")  # `auto` tries them in this order


def create_backend(name: str, **options) -> InferenceBackend:
    """Instantiate one named backend; raises BackendUnavailable when it cannot run here."""
    if name == "onnxruntime":
        from inference.onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(**options)
    if name == "torch":
        from inference.torch_backend import TorchBackend

        return TorchBackend(**options)
    if name == "tensorrt":
        from inference.tensorrt_backend import TensorRTBackend

        return TensorRTBackend(**options)
    raise ValueError(f"unknown backend {name!r}; expected auto or one of {BACKENDS}")


def select_backend(preference: str = "auto", options: dict[str, dict] | None = None) -> InferenceBackend:
    """`auto`: TensorRT if importable with a matching engine, else torch on CUDA, else ONNX Runtime on CPU.

    A named backend that cannot run here falls back along the same chain (never to a backend before it),
    and the reason is logged, so a GPU config deployed on a CPU node still serves.
    """
    options = options or {}
    if preference != "auto" and preference not in BACKENDS:
        raise ValueError(f"unknown backend {preference!r}; expected auto or one of {BACKENDS}")
    chain = [(name, options.get(name, {})) for name in
             (BACKENDS if preference == "auto" else BACKENDS[BACKENDS.index(preference):])]
    ort = options.get("onnxruntime", {})
    if ort.get("precision", "fp32") != "fp32" or ort.get("model_path"):
        # Last resort: the FP32 reference model, when a quantised/fused/other ONNX file is missing or corrupt.
        chain.append(("onnxruntime", {**ort, "precision": "fp32", "model_path": None, "_last_resort": True}))
    reasons = []
    for name, kwargs in chain:
        if kwargs.pop("_last_resort", False):
            log.warning("ONNX Runtime model variant %r unusable (%s); falling back to the FP32 reference",
                        ort.get("model_path") or ort.get("precision"), reasons[-1] if reasons else "?")
        try:
            backend = create_backend(name, **kwargs)
        except BackendUnavailable as exc:
            reasons.append(f"{name}: {exc}")
            log.warning("backend %s unavailable (%s); trying the next one", name, exc)
            continue
        if reasons:
            log.warning("requested backend %r, serving with %r", preference, name)
        backend.info.detail.setdefault("fallback_reasons", reasons)
        log.info("inference backend: %s (%s on %s)", backend.info.name, backend.info.precision, backend.info.device)
        return backend
    raise BackendUnavailable("no inference backend can run here: " + "; ".join(reasons))
