#!/usr/bin/env bash
# The GPU verification run (docs/gpu.md), as executed on the GPU machine: torch CUDA backend tests,
# cuda-python buffer tests, and the model-level benchmark of the CUDA configurations.
# Needs: MiniLM files in $PACKDESIGN_MINILM_DIR, benchmark inputs in artifacts/bench/inputs.npz,
# and python3 with torch (CUDA), numpy, onnx, tokenizers, safetensors, cuda-bindings, pytest.
set -euo pipefail
OUT_DIR=${1:-docs/bench}
mkdir -p "$OUT_DIR"
export PYTHONPATH="$PWD:$PWD/build${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
status=0
python3 -m pytest -q -p no:cacheprovider tests/inference/test_gpu.py tests/inference/test_tensorrt_logic.py \
  2>&1 | tee "$OUT_DIR/gpu-tests.txt" || status=$?
python3 -m benchmarks.model_bench run --out "$OUT_DIR/model-gpu.json" --seconds "${BENCH_SECONDS:-1.5}" \
  --only torch-cuda-eager-fp32,torch-cuda-eager-fp16,torch-cuda-graphs-fp16,tensorrt-fp16,tensorrt-int8 \
  2>&1 | tee "$OUT_DIR/model-gpu.txt"
exit $status
