"""Benchmarks: model level (backends x precisions x batch sizes) and end to end (load on the Serve app)."""
