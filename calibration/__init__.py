"""Calibration set and FP16/INT8 ONNX variants (ModelOpt, or ONNX Runtime QDQ as the CPU fallback)."""
