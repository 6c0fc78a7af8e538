"""TensorRT backend (TensorRT 10.x / 11.x Python API, cuda-python buffers and stream).

One engine per replica, deserialised once; device and pinned host buffers are sized for the optimisation
profile's maximum shapes and bound once with `set_tensor_address`; each call sets the input shapes, copies
in, runs `execute_async_v3` on the replica's own stream and copies the outputs out. Optionally one CUDA
graph per (batch, seq_len) bucket removes the per-call launch overhead.

TensorRT cannot be installed on the machines this project is developed on, so this file is exercised by
tests through `EngineIO` (the shape/profile/buffer planning, pure Python) and not end to end.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.base import BATCH_BUCKETS, SEQ_BUCKETS, BackendInfo, BackendUnavailable, InferenceBackend, bucket
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


class TensorRTBackend(InferenceBackend):
    def __init__(self, engine_dir: str = "artifacts/engines", precision: str = "fp16", cuda_graphs: bool = False,
                 device: int = 0, **_: object) -> None:
        try:
            import tensorrt as trt
        except ImportError as exc:
            raise BackendUnavailable(f"tensorrt not importable: {exc}") from exc
        try:
            from cuda.bindings import runtime as cudart

            from trt_build.cuda_memory import CudaError
        except ImportError as exc:
            raise BackendUnavailable(f"cuda-python (cuda.bindings) not importable: {exc}") from exc
        self.trt, self.cudart, self.device_index = trt, cudart, device
        self.device, self.host, self.graphs, self.contexts = {}, {}, {}, {}
        self.stream = self.scratch = self.context = self.engine = None
        try:
            self._load(Path(engine_dir), precision, cuda_graphs)
        except BackendUnavailable:
            self.close()
            raise
        except (CudaError, OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
            # No GPU/driver, corrupt sidecar, out of memory...: fall back to the next backend, never crash-loop.
            self.close()
            raise BackendUnavailable(f"TensorRT backend failed to start: {exc.__class__.__name__}: {exc}") from exc

    def _load(self, engine_dir: Path, precision: str, cuda_graphs: bool) -> None:
        from trt_build.cuda_memory import CudaStream, DeviceBuffer, PinnedBuffer, cuda_call, device_properties
        from trt_build.sidecar import EngineMismatch, EngineSidecar, check_compatible, engine_path

        trt = self.trt
        cuda_call(self.cudart.cudaSetDevice(self.device_index))
        gpu = device_properties(self.device_index)
        path = engine_path(engine_dir, precision, gpu["compute_capability"])
        if not path.exists():
            raise BackendUnavailable(f"no {precision} engine for compute capability {gpu['compute_capability']} "
                                     f"at {path}; build one with `python -m trt_build`")
        try:
            sidecar = EngineSidecar.read(path)
            check_compatible(sidecar, tensorrt_version=trt.__version__, compute_capability=gpu["compute_capability"],
                             label_tables=label_tables())
        except EngineMismatch as exc:
            raise BackendUnavailable(str(exc)) from exc

        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:  # corrupt file, or a skew the sidecar did not catch
            raise BackendUnavailable(f"TensorRT could not deserialize {path}")
        self.io = EngineIO.from_engine(self.engine, trt)
        extra = set(self.io.specs) - set(INPUT_NAMES + OUTPUT_NAMES)
        if extra:
            raise BackendUnavailable(f"engine has unexpected I/O tensors {sorted(extra)}")
        self.use_graphs = cuda_graphs
        # One scratch allocation shared by every execution context (calls are serialised by the lock):
        # CUDA graphs need one context per captured shape, and contexts must not each own scratch memory.
        self.scratch = DeviceBuffer(int(self.engine.device_memory_size_v2))
        self.context = self._new_context()
        self.stream = CudaStream()
        self.lock = threading.Lock()

        # Buffers for the profile maximum, bound once: later calls change shapes, not addresses.
        max_inputs = self.io.max_input_shapes()
        self._set_shapes(self.context, max_inputs)
        max_outputs = {s.name: tuple(self.context.get_tensor_shape(s.name)) for s in self.io.outputs}
        sizes = self.io.buffer_bytes(max_inputs | max_outputs)
        self.device = {name: DeviceBuffer(n) for name, n in sizes.items()}
        self.host = {name: PinnedBuffer((n // self.io.specs[name].dtype.itemsize,), self.io.specs[name].dtype)
                     for name, n in sizes.items()}
        self._bind(self.context)
        self.info = BackendInfo(
            name="tensorrt", precision=precision, device=f"cuda:{self.device_index}",
            detail={"engine": str(path), "gpu": gpu["name"], "tensorrt": trt.__version__,
                    "model_version": sidecar.model_metadata.get("model_version"), "cuda_graphs": cuda_graphs,
                    "device_memory_bytes": int(self.engine.device_memory_size_v2)},
        )

    def _new_context(self):
        trt = self.trt
        context = self.engine.create_execution_context(trt.ExecutionContextAllocationStrategy.USER_MANAGED)
        if context is None:
            raise BackendUnavailable("TensorRT could not create an execution context (out of GPU memory?)")
        context.set_device_memory(self.scratch.ptr, self.scratch.nbytes)
        return context

    def _bind(self, context) -> None:
        for name, buffer in self.device.items():
            if not context.set_tensor_address(name, buffer.ptr):
                raise RuntimeError(f"TensorRT refused the address of {name}")

    def _set_shapes(self, context, shapes: dict[str, tuple[int, ...]]) -> None:
        for name, shape in shapes.items():
            if not context.set_input_shape(name, shape):
                raise ShapeOutOfProfile(f"TensorRT refused shape {shape} for {name}")

    def _enqueue(self, context) -> None:
        if not context.execute_async_v3(self.stream.ptr):
            raise RuntimeError("TensorRT execute_async_v3 failed")

    def _graph_for(self, shapes: dict[str, tuple[int, ...]]):
        """One execution context + CUDA graph per bucketed shape: a graph is only valid for the shapes it was
        captured with, and re-setting shapes on a shared context would invalidate the others."""
        from trt_build.cuda_memory import CudaError, CudaGraph

        key = shapes["input_ids"]
        if key not in self.graphs:
            context = self._new_context()
            self._set_shapes(context, shapes)
            self._bind(context)
            self._enqueue(context)  # one plain run first: TensorRT finalises shape-dependent state outside capture
            self.stream.synchronize()
            try:
                self.graphs[key] = CudaGraph(self.stream, lambda: self._enqueue(context))
            except (CudaError, RuntimeError) as exc:
                log.warning("CUDA graph capture failed for %s (%s); running without graphs", key, exc)
                self.use_graphs = False
                return None, context
            self.contexts[key] = context
        return self.graphs[key], self.contexts[key]

    def _run(self, input_ids, attention_mask, features) -> dict[str, np.ndarray]:
        from trt_build.cuda_memory import cuda_call

        cuda_call(self.cudart.cudaSetDevice(self.device_index))  # per thread: Serve calls from worker threads
        batch, seq = input_ids.shape
        if self.use_graphs:  # pad to a bucket so a handful of graphs cover every request
            rows = bucket(batch, tuple(b for b in BATCH_BUCKETS if b <= self.io.max_batch) or (self.io.max_batch,))
            cols = bucket(seq, tuple(s for s in SEQ_BUCKETS if s <= self.io.max_seq) or (self.io.max_seq,))
            input_ids = np.pad(input_ids, ((0, rows - batch), (0, cols - seq)))
            attention_mask = np.pad(attention_mask, ((0, rows - batch), (0, cols - seq)))
            features = np.pad(features, ((0, rows - batch), (0, 0)))
        arrays = {"input_ids": input_ids, "attention_mask": attention_mask, "features": features}
        shapes = {name: tuple(a.shape) for name, a in arrays.items()}
        self.io.check(shapes)
        if shapes["input_ids"] != shapes["attention_mask"] or shapes["features"][0] != shapes["input_ids"][0]:
            raise ShapeOutOfProfile(f"inconsistent input shapes {shapes}")
        for name, array in arrays.items():
            staged = self.host[name].view(array.shape)
            np.copyto(staged, array.astype(self.io.specs[name].dtype, copy=False))
            self.stream.copy_to_device(self.device[name], staged)
        graph, context = self._graph_for(shapes) if self.use_graphs else (None, self.context)
        if graph is not None:
            graph.launch()
        else:
            self._set_shapes(context, shapes)
            self._enqueue(context)
        results = {}
        for spec in self.io.outputs:
            staged = self.host[spec.name].view(tuple(context.get_tensor_shape(spec.name)))
            self.stream.copy_to_host(staged, self.device[spec.name])
            results[spec.name] = staged
        self.stream.synchronize()
        # Copy out of the pinned buffers (reused by the next call) and drop padded rows.
        return {name: np.array(value[:batch]) for name, value in results.items()}

    def infer(self, input_ids, attention_mask, features):
        if len(input_ids) == 0:
            raise ValueError("empty batch")
        with self.lock:
            parts = [self._run(input_ids[s], attention_mask[s], features[s]) for s in self.io.split(len(input_ids))]
        return {k: np.concatenate([p[k] for p in parts]) for k in OUTPUT_NAMES}

    def close(self) -> None:
        lock = getattr(self, "lock", None) or threading.Lock()
        with lock:
            if self.stream is not None:
                self.stream.synchronize()  # nothing in flight may touch the buffers freed below
            for graph in self.graphs.values():
                graph.destroy()
            self.graphs.clear()
            self.contexts.clear()
            self.context = None  # contexts before the engine, the engine before the runtime
            self.engine = None
            for buffer in [*self.device.values(), *self.host.values(), self.scratch]:
                if buffer is not None:
                    buffer.free()
            self.device, self.host, self.scratch = {}, {}, None
            if self.stream is not None:
                self.stream.destroy()
                self.stream = None
