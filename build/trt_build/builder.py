"""ONNX -> serialized TensorRT engine with the TensorRT 10.x / 11.x Python API.

Networks are strongly typed: precision comes from the ONNX itself (FP16 from AutoCast, INT8 from explicit
Q/DQ nodes), which is the only way TensorRT 11 accepts (its FP16/INT8 builder flags and calibrators are
gone) and works the same on TensorRT 10.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path

from trt_build.profiles import ProfileSpec
from trt_build.sidecar import EngineSidecar, engine_path


class BuildError(RuntimeError):
    pass


def _progress_monitor(trt):
    """A console IProgressMonitor: builds take minutes and otherwise print nothing."""

    class ConsoleProgress(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._started: dict[str, float] = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            self._started[phase_name] = time.perf_counter()
            indent = "  " if parent_phase else ""
            print(f"{indent}[trt] {phase_name} ({num_steps} steps)", flush=True)

        def step_complete(self, phase_name, step):
            return True  # returning False would cancel the build

        def phase_finish(self, phase_name):
            seconds = time.perf_counter() - self._started.pop(phase_name, time.perf_counter())
            print(f"[trt] {phase_name} done in {seconds:.1f}s", flush=True)

    return ConsoleProgress()


def onnx_metadata(onnx_path: Path) -> dict[str, str]:
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def build_engine(onnx_path: Path, engine_dir: Path, precision: str, profile: ProfileSpec,
                 workspace_mb: int = 4096, timing_cache: Path | None = None) -> Path:
    import tensorrt as trt

    from trt_build.cuda_memory import device_properties

    started = time.perf_counter()
    gpu = device_properties()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # STRONGLY_TYPED: required for precision-from-ONNX on TensorRT 10, the only behaviour on 11 (flag ignored).
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise BuildError(f"TensorRT could not parse {onnx_path}:\n" + "\n".join(errors))

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb * 2**20)
    config.progress_monitor = _progress_monitor(trt)
    trt_profile = builder.create_optimization_profile()
    shapes = profile.shapes()
    for name, dims in shapes.items():
        trt_profile.set_shape(name, dims["min"], dims["opt"], dims["max"])
    config.add_optimization_profile(trt_profile)

    # A persisted timing cache makes rebuilds (new model weights, same GPU) much faster. One file per GPU
    # architecture and TensorRT version; a cache TensorRT rejects is replaced by a fresh one.
    cache_file = None
    if timing_cache:
        cache_file = timing_cache.with_name(f"{timing_cache.stem}.sm{gpu['compute_capability'].replace('.', '')}"
                                            f".trt{trt.__version__}{timing_cache.suffix}")
    cache = config.create_timing_cache(cache_file.read_bytes() if cache_file and cache_file.exists() else b"")
    if not config.set_timing_cache(cache, ignore_mismatch=False):
        print(f"[trt] timing cache {cache_file} rejected; starting a fresh one", flush=True)
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)

    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BuildError(f"TensorRT failed to build an engine from {onnx_path} (see the log above)")
    path = engine_path(engine_dir, precision, gpu["compute_capability"])
    path.parent.mkdir(parents=True, exist_ok=True)
    if cache_file and config.get_timing_cache() is not None:
        cache_file.write_bytes(bytes(config.get_timing_cache().serialize()))

    # The sidecar first, the engine last (atomically): a half-written build never looks servable.
    EngineSidecar(
        tensorrt_version=trt.__version__,
        gpu_name=gpu["name"],
        compute_capability=gpu["compute_capability"],
        precision=precision,
        profiles=[shapes],
        onnx_sha256=hashlib.sha256(Path(onnx_path).read_bytes()).hexdigest(),
        onnx_path=str(onnx_path),
        built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        build_seconds=round(time.perf_counter() - started, 1),
        model_metadata=onnx_metadata(Path(onnx_path)),
    ).write(path)
    partial = path.with_suffix(".engine.partial")
    partial.write_bytes(bytes(serialized))
    partial.replace(path)
    return path
