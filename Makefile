# Two commands do all set-up on a fresh machine (see README):
#   make serve   # install, assemble the model, serve on http://localhost:8000 (local Ray, ONNX Runtime CPU)
#   make test    # install, assemble the model, run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := artifacts/model/recommender.onnx

.PHONY: serve test setup model eval bench clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# The CPU build of torch (the machine's local wheel); a plain `torch` would pull the CUDA build.
	$(BIN)/python -m pip install -q "torch==2.13.0" || $(BIN)/python -m pip install -q torch
	$(BIN)/python -m pip install -q -e ".[train,dev]"
	# CJK web fonts for the designer page (npm @fontsource, ~53 MB, not committed); without them it uses system fonts.
	$(BIN)/python knowledge/tools/fetch_web_fonts.py cjk || echo "warning: CJK web fonts not fetched"
	touch $(STAMP)

setup: $(STAMP)

# Rebuilt from committed heads weights + MiniLM (pip package) + knowledge/, offline, ~1 minute; then the CPU
# variants (fused FP32, INT8), their accuracy gates and artifacts/model/cpu_manifest.json naming the fastest that
# passed (~2 minutes on 2 idle cores; skipped while up to date). Replicas with precision "auto" serve it.
model: $(STAMP)
	$(BIN)/python -c "from model.export import ensure_model; print(ensure_model())"
	$(BIN)/python -m calibration.cpu_variants
	$(BIN)/python -c "from pipeline.postprocess import warm; warm()"  # tables a replica loads (pipeline/table_cache.py)

# Serve's HTTP path: `haproxy` (default) = HAProxy in front with direct ingress to the Ingress replicas, plus
# throughput mode (user code on the replica's event loop, gRPC between deployments, GC frozen after start-up);
# `proxy` = Serve's own proxy. Read by Ray's processes at start, so they are set here, not in serve_config.yaml.
# Measured on 2 cores: capacity at p99 <= 100 ms 60 req/s with haproxy, 20 with proxy (docs/benchmarks.md).
SERVE_HTTP ?= haproxy
ifeq ($(SERVE_HTTP),haproxy)
SERVE_ENV := RAY_SERVE_ENABLE_HA_PROXY=1 RAY_SERVE_THROUGHPUT_OPTIMIZED=1
endif

serve: model
	$(SERVE_ENV) $(BIN)/serve run serve_config.yaml

# Headless Chromium for the browser tests only (Debian's package, driven by Playwright, which never downloads
# one): `make serve` does not need it.
browser:
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q --no-install-recommends chromium)

test: model browser
	$(BIN)/python -m pytest -q

eval: model
	$(BIN)/python -m evaluation

# Every CPU benchmark (model level, rate sweeps of four servers, tuning, two spikes) -> docs/benchmarks.md (~35 min).
bench: model
	$(BIN)/python -m benchmarks

clean:
	rm -rf artifacts/model artifacts/cache
