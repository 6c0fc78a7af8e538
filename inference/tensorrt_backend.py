"""TensorRT backend (TensorRT 10.x / 11.x Python API, cuda-python buffers and stream).

One engine per replica, deserialised once; device and pinned host buffers are sized for the optimisation
profile's maximum shapes and bound once with `set_tensor_address`; each call sets the input shapes, copies
in, runs `execute_async_v3` on the replica's own stream and copies the outputs out. Optionally one CUDA
graph per (batch, seq_len) bucket removes the per-call launch overhead.

TensorRT cannot be installed on the machines this project is developed on, so this file is exercised by
tests through `EngineIO` (the shape/profile/buffer planning, pure Python) and not end to end.
"""

from __future__ import annotations

import bisect
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.base import BackendInfo, BackendUnavailable, InferenceBackend
from model.artifacts import label_tables
from model.net import INPUT_NAMES, OUTPUT_NAMES

log = logging.getLogger("packdesign.inference")


class ShapeOutOfProfile(ValueError):
    pass


@dataclass(frozen=True)
class TensorSpec:
    name: str
    is_input: bool
    dtype: np.dtype
    shape: tuple[int, ...]  # -1 for dynamic dimensions
    profile: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None = None  # inputs: (min, opt, max)


class EngineIO:
    """What the engine's I/O looks like and how to buffer it: everything here is plain Python."""

    def __init__(self, specs: list[TensorSpec]) -> None:
        self.specs = {s.name: s for s in specs}
        missing = [n for n in INPUT_NAMES + OUTPUT_NAMES if n not in self.specs]
        if missing:
            raise BackendUnavailable(f"engine lacks tensors {missing}; was it built from recommender.onnx?")
        self.inputs = [self.specs[n] for n in INPUT_NAMES]
        self.outputs = [self.specs[n] for n in OUTPUT_NAMES]

    @classmethod
    def from_engine(cls, engine, trt) -> EngineIO:
        specs = []
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            profile = None
            if is_input:
                profile = tuple(tuple(int(d) for d in s) for s in engine.get_tensor_profile_shape(name, 0))
            specs.append(TensorSpec(name, is_input, np.dtype(trt.nptype(engine.get_tensor_dtype(name))),
                                    tuple(int(d) for d in engine.get_tensor_shape(name)), profile))
        return cls(specs)

    @property
    def max_batch(self) -> int:
        return self.specs["input_ids"].profile[2][0]

    @property
    def max_seq(self) -> int:
        return self.specs["input_ids"].profile[2][1]

    def check(self, shapes: dict[str, tuple[int, ...]]) -> None:
        for name, shape in shapes.items():
            low, _, high = self.specs[name].profile
            if len(shape) != len(low) or any(s < lo or s > hi for s, lo, hi in zip(shape, low, high)):
                raise ShapeOutOfProfile(f"{name} shape {shape} is outside the engine profile {low}..{high}")

    def max_input_shapes(self) -> dict[str, tuple[int, ...]]:
        return {s.name: s.profile[2] for s in self.inputs}

    def buffer_bytes(self, shapes: dict[str, tuple[int, ...]]) -> dict[str, int]:
        return {name: int(np.prod(shape)) * self.specs[name].dtype.itemsize for name, shape in shapes.items()}

    def split(self, batch: int) -> list[slice]:
        """Batches larger than the profile run as several engine calls."""
        return [slice(i, min(batch, i + self.max_batch)) for i in range(0, batch, self.max_batch)]


def bucket(value: int, buckets: tuple[int, ...]) -> int:
    i = bisect.bisect_left(buckets, value)
    return buckets[min(i, len(buckets) - 1)] if i < len(buckets) else value


class TensorRTBackend(InferenceBackend):
    def __init__(self, engine_dir: str = "artifacts/engines", precision: str = "fp16", cuda_graphs: bool = False,
                 device: int = 0, **_: object) -> None:
        try:
            import tensorrt as trt
        except ImportError as exc:
            raise BackendUnavailable(f"tensorrt not importable: {exc}") from exc
        try:
            from inference.cuda_memory import CudaStream, DeviceBuffer, PinnedBuffer, cuda_call, device_properties
            from cuda.bindings import runtime as cudart
        except ImportError as exc:
            raise BackendUnavailable(f"cuda-python (cuda.bindings) not importable: {exc}") from exc
        from trt_build.sidecar import EngineMismatch, EngineSidecar, check_compatible, engine_path

        cuda_call(cudart.cudaSetDevice(device))
        gpu = device_properties(device)
        path = engine_path(Path(engine_dir), precision, gpu["compute_capability"])
        if not path.exists():
            raise BackendUnavailable(f"no {precision} engine for compute capability {gpu['compute_capability']} "
                                     f"at {path}; build one with `python -m trt_build`")
        try:
            sidecar = EngineSidecar.read(path)
            check_compatible(sidecar, tensorrt_version=trt.__version__, compute_capability=gpu["compute_capability"],
                             label_tables=label_tables())
        except EngineMismatch as exc:
            raise BackendUnavailable(str(exc)) from exc

        self.trt = trt
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:  # corrupt file or version skew the sidecar did not catch
            raise BackendUnavailable(f"TensorRT could not deserialize {path}")
        self.context = self.engine.create_execution_context()
        self.io = EngineIO.from_engine(self.engine, trt)
        self.stream = CudaStream()
        self.lock = threading.Lock()

        # Buffers for the profile maximum, bound once: later calls only change shapes, not addresses.
        max_inputs = self.io.max_input_shapes()
        for name, shape in max_inputs.items():
            self.context.set_input_shape(name, shape)
        max_outputs = {s.name: tuple(self.context.get_tensor_shape(s.name)) for s in self.io.outputs}
        sizes = self.io.buffer_bytes(max_inputs | max_outputs)
        self.device = {name: DeviceBuffer(n) for name, n in sizes.items()}
        self.host = {name: PinnedBuffer((n // self.io.specs[name].dtype.itemsize,), self.io.specs[name].dtype)
                     for name, n in sizes.items()}
        for name, buffer in self.device.items():
            self.context.set_tensor_address(name, buffer.ptr)
        self.use_graphs = cuda_graphs
        self.graphs: dict[tuple[int, int], object] = {}
        self.info = BackendInfo(
            name="tensorrt", precision=precision, device=f"cuda:{device}",
            detail={"engine": str(path), "gpu": gpu["name"], "tensorrt": trt.__version__,
                    "model_version": sidecar.model_metadata.get("model_version"), "cuda_graphs": cuda_graphs,
                    "device_memory_bytes": int(getattr(self.engine, "device_memory_size_v2", 0))},
        )

    def _enqueue(self) -> None:
        if not self.context.execute_async_v3(self.stream.ptr):
            raise RuntimeError("TensorRT execute_async_v3 failed")

    def _run(self, input_ids, attention_mask, features) -> dict[str, np.ndarray]:
        from inference.cuda_memory import CudaGraph

        arrays = {"input_ids": input_ids, "attention_mask": attention_mask, "features": features}
        shapes = {name: tuple(a.shape) for name, a in arrays.items()}
        self.io.check(shapes)
        for name, array in arrays.items():
            staged = self.host[name].view(array.shape)
            np.copyto(staged, array.astype(self.io.specs[name].dtype, copy=False))
            self.stream.copy_to_device(self.device[name], staged)
        for name, shape in shapes.items():
            self.context.set_input_shape(name, shape)
        key = shapes["input_ids"]
        if self.use_graphs:
            if key not in self.graphs:
                self._enqueue()  # one plain run first: TensorRT finalises shape-dependent state outside capture
                self.stream.synchronize()
                self.graphs[key] = CudaGraph(self.stream, self._enqueue)
            self.graphs[key].launch()
        else:
            self._enqueue()
        out_shapes = {s.name: tuple(self.context.get_tensor_shape(s.name)) for s in self.io.outputs}
        results = {}
        for name, shape in out_shapes.items():
            staged = self.host[name].view(shape)
            self.stream.copy_to_host(staged, self.device[name])
            results[name] = staged
        self.stream.synchronize()
        return {name: np.array(value) for name, value in results.items()}  # copy out of the pinned buffers

    def infer(self, input_ids, attention_mask, features):
        with self.lock:
            parts = [self._run(input_ids[s], attention_mask[s], features[s]) for s in self.io.split(len(input_ids))]
        return {k: np.concatenate([p[k] for p in parts]) for k in OUTPUT_NAMES}

    def close(self) -> None:
        for graph in self.graphs.values():
            graph.destroy()
        self.graphs.clear()
        for buffer in list(self.device.values()) + list(self.host.values()):
            buffer.free()
        self.stream.destroy()
        self.context = None
        self.engine = None
