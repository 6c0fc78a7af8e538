"""The recommendation model: features, teacher, network, training, ONNX export, post-processing, eval."""
