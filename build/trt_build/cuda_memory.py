"""Small RAII wrappers over cuda-python (`cuda.bindings.runtime`): device buffers, pinned host buffers,
streams and CUDA graphs, in the style of TensorRT's samples/python/common_runtime.py.

cuda-python rather than pycuda: pycuda contexts are bound to the thread that made them, and Ray Serve runs
replica code on worker threads; the runtime API uses the device's primary context from any thread.
"""

from __future__ import annotations

import ctypes

import numpy as np


class CudaError(RuntimeError):
    pass


def _runtime():
    from cuda.bindings import runtime as cudart

    return cudart


def cuda_call(result):
    """Unpack a cuda.bindings (error, *values) tuple, raising on any error."""
    cudart = _runtime()
    err, *values = result
    if err != cudart.cudaError_t.cudaSuccess:
        _, name = cudart.cudaGetErrorName(err)
        _, text = cudart.cudaGetErrorString(err)
        raise CudaError(f"{name.decode() if isinstance(name, bytes) else name}: "
                        f"{text.decode() if isinstance(text, bytes) else text}")
    if not values:
        return None
    return values[0] if len(values) == 1 else values


class DeviceBuffer:
    def __init__(self, nbytes: int) -> None:
        self.nbytes = int(nbytes)
        self.ptr = int(cuda_call(_runtime().cudaMalloc(max(self.nbytes, 1))))

    def free(self) -> None:
        if self.ptr:
            cuda_call(_runtime().cudaFree(self.ptr))
            self.ptr = 0


class PinnedBuffer:
    """Page-locked host memory viewed as a numpy array, so async copies really are asynchronous."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.capacity = int(np.prod(shape)) * self.dtype.itemsize
        self.ptr = int(cuda_call(_runtime().cudaMallocHost(max(self.capacity, 1))))
        raw = (ctypes.c_byte * max(self.capacity, 1)).from_address(self.ptr)
        self.flat = np.frombuffer(raw, dtype=self.dtype, count=int(np.prod(shape)))

    def view(self, shape: tuple[int, ...]) -> np.ndarray:
        count = int(np.prod(shape))
        if count * self.dtype.itemsize > self.capacity:
            raise ValueError(f"shape {shape} exceeds the pinned buffer ({self.capacity} bytes)")
        return self.flat[:count].reshape(shape)

    def free(self) -> None:
        if self.ptr:
            self.flat = np.empty(0, dtype=self.dtype)  # no view may outlive the memory
            self.capacity = 0
            cuda_call(_runtime().cudaFreeHost(self.ptr))
            self.ptr = 0


class CudaStream:
    def __init__(self) -> None:
        cudart = _runtime()
        self.handle = cuda_call(cudart.cudaStreamCreateWithFlags(cudart.cudaStreamNonBlocking))

    @property
    def ptr(self) -> int:
        return int(self.handle)

    def copy_to_device(self, device: DeviceBuffer, host: np.ndarray) -> None:
        cudart = _runtime()
        cuda_call(cudart.cudaMemcpyAsync(device.ptr, host.ctypes.data, host.nbytes,
                                         cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self.handle))

    def copy_to_host(self, host: np.ndarray, device: DeviceBuffer) -> None:
        cudart = _runtime()
        cuda_call(cudart.cudaMemcpyAsync(host.ctypes.data, device.ptr, host.nbytes,
                                         cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.handle))

    def synchronize(self) -> None:
        cuda_call(_runtime().cudaStreamSynchronize(self.handle))

    def destroy(self) -> None:
        if self.handle is not None:
            cuda_call(_runtime().cudaStreamDestroy(self.handle))
            self.handle = None


class CudaGraph:
    """Capture work enqueued on a stream once; replay it with one launch."""

    def __init__(self, stream: CudaStream, enqueue) -> None:
        cudart = _runtime()
        self.stream = stream
        self.exec = None
        cuda_call(cudart.cudaStreamBeginCapture(
            stream.handle, cudart.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal))
        failure = None
        try:
            enqueue()
        except Exception as exc:  # noqa: BLE001 - re-raised below once the capture is closed
            failure = exc
        # End the capture whatever happened, or the stream stays in capture mode.
        err, graph = cudart.cudaStreamEndCapture(stream.handle)
        if failure is not None or err != cudart.cudaError_t.cudaSuccess:
            if graph:
                cudart.cudaGraphDestroy(graph)
            cudart.cudaGetLastError()  # clear the sticky capture error so later calls work
            raise CudaError(f"graph capture failed: {failure or err}")
        try:
            self.exec = cuda_call(cudart.cudaGraphInstantiate(graph, 0))
        finally:
            cuda_call(cudart.cudaGraphDestroy(graph))  # the executable graph no longer needs it

    def launch(self) -> None:
        cuda_call(_runtime().cudaGraphLaunch(self.exec, self.stream.handle))

    def destroy(self) -> None:
        if self.exec is not None:
            cuda_call(_runtime().cudaGraphExecDestroy(self.exec))
            self.exec = None


def device_properties(device: int = 0) -> dict:
    props = cuda_call(_runtime().cudaGetDeviceProperties(device))
    name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
    return {"name": name.rstrip("\x00"), "compute_capability": f"{props.major}.{props.minor}",
            "total_memory_mb": int(props.totalGlobalMem) // 2**20}
