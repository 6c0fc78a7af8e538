"""TensorRT engine builds from the ONNX model (offline, per GPU architecture and TensorRT version)."""
