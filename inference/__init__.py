"""Inference backends behind one small interface: ONNX Runtime, torch, TensorRT."""
