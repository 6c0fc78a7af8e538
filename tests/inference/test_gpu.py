"""GPU paths: the torch CUDA backend (FP16 + CUDA graphs) and the cuda-python buffers the TensorRT backend
uses. Skipped on machines without a CUDA device (CI); run on the GPU machine (docs/gpu.md)."""

import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(scope="module")
def inputs():
    data = np.load("artifacts/bench/inputs.npz")
    ids, mask, feats = data["typical_ids"][:48], data["typical_mask"][:48], data["typical_features"][:48]
    width = int(mask.sum(1).max())
    return ids[:, :width], mask[:, :width], feats


@pytest.fixture(scope="module")
def reference(inputs):
    from inference.torch_backend import TorchBackend

    return TorchBackend(device="cuda", precision="fp32", cuda_graphs=False).infer(*inputs)


def test_fp16_cuda_graphs_agree_with_fp32(inputs, reference):
    from inference.torch_backend import TorchBackend

    backend = TorchBackend(device="cuda", precision="fp16", cuda_graphs=True)
    got = backend.infer(*inputs)
    assert np.mean(got["style_probs"].argmax(1) == reference["style_probs"].argmax(1)) >= 0.97
    overlap = np.mean([len(set(a[:5]) & set(b[:5])) / 5 for a, b in zip(got["palette_ids"], reference["palette_ids"])])
    assert overlap >= 0.95
    assert np.abs(got["layout"] - reference["layout"]).mean() < 0.01


def test_padded_buckets_do_not_change_results(inputs):
    from inference.torch_backend import TorchBackend

    graphs = TorchBackend(device="cuda", precision="fp32", cuda_graphs=True)
    eager = TorchBackend(device="cuda", precision="fp32", cuda_graphs=False)
    ids, mask, feats = (a[:3] for a in inputs)  # batch 3 runs in the batch-4 graph, seq padded to 16/32
    a, b = graphs.infer(ids, mask, feats), eager.infer(ids, mask, feats)
    assert (a["palette_ids"][:, :5] == b["palette_ids"][:, :5]).all()
    assert np.abs(a["style_probs"] - b["style_probs"]).max() < 1e-4
    assert len(graphs.graphs) == 1


def test_two_replicas_share_a_gpu_on_their_own_streams(inputs, reference):
    """Fractional GPUs: two backends in one process, called from two threads at once, stay correct."""
    from inference.torch_backend import TorchBackend

    replicas = [TorchBackend(device="cuda", precision="fp16", cuda_graphs=True) for _ in range(2)]
    assert replicas[0].stream != replicas[1].stream
    results, errors = [None, None], []

    def work(i):
        try:
            for _ in range(20):
                results[i] = replicas[i].infer(*inputs)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got in results:
        assert np.mean(got["style_probs"].argmax(1) == reference["style_probs"].argmax(1)) >= 0.97


def test_cuda_python_buffers_round_trip_and_graph_replay():
    pytest.importorskip("cuda.bindings")
    from trt_build.cuda_memory import CudaGraph, CudaStream, DeviceBuffer, PinnedBuffer, device_properties

    props = device_properties()
    assert props["compute_capability"].count(".") == 1 and props["total_memory_mb"] > 1000
    stream = CudaStream()
    host = PinnedBuffer((1024,), np.float32)
    back = PinnedBuffer((1024,), np.float32)
    device = DeviceBuffer(host.capacity)
    data = host.view((4, 256))
    data[:] = np.arange(1024, dtype=np.float32).reshape(4, 256)
    stream.copy_to_device(device, data)
    out = back.view((4, 256))
    # Capture the device->host copy in a CUDA graph and replay it: the path TensorRT graphs take.
    graph = CudaGraph(stream, lambda: stream.copy_to_host(out, device))
    graph.launch()
    stream.synchronize()
    assert np.array_equal(out, data)
    with pytest.raises(ValueError):
        host.view((2048,))
    graph.destroy()
    for buffer in (device, host, back):
        buffer.free()
    stream.destroy()
