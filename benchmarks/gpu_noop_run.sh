#!/usr/bin/env bash
# The no-op Serve ceiling on the GPU node, in one call after gpu_kit.sh has installed Ray:
# first what the load generator itself offers against a C target (HAProxy answering 200), then the no-op
# app of this project's shape per Serve variant. Writes $OUT_DIR/loadgen.json, noop.json, log.txt.
#   bash benchmarks/gpu_noop_run.sh OUT_DIR [SERVE_CPUS] [LOAD_CPUS] [PROCS] [RATES...]
set -uo pipefail
OUT_DIR=${1:?output folder}; SERVE_CPUS=${2:-0-9}; LOAD_CPUS=${3:-10-15}; PROCS=${4:-6}
shift 4 2>/dev/null || shift $#
RATES=${*:-1500 3000 6000 12000}
mkdir -p "$OUT_DIR"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# 1. The generator's own ceiling: HAProxy on SERVE_CPUS (4 threads), the generator on LOAD_CPUS.
python3 -m benchmarks.trivial_server --port 8099 --cpus "$SERVE_CPUS" --threads 4 > "$OUT_DIR/trivial.log" 2>&1 &
trivial=$!
sleep 2
timeout 100 python3 -m benchmarks.loadgen --url http://127.0.0.1:8099 --rate 15000 20000 --duration 8 \
  --procs "$PROCS" --cpus "$LOAD_CPUS" --warm-path / --out "$OUT_DIR/loadgen.json" 2>&1 | cut -c1-600
kill "$trivial"
# 2. The no-op app: Ray and Serve pinned to SERVE_CPUS (10 logical CPUs), load from LOAD_CPUS.
timeout 400 python3 -m benchmarks.noop_bench --variants haproxy throughput default --rates $RATES \
  --duration 10 --procs "$PROCS" --cpus "$LOAD_CPUS" --serve-cpus "$SERVE_CPUS" --num-cpus 10 \
  --replicas "${NOOP_REPLICAS:-Ingress=6,BriefEncoder=2,Recommender=2}" --out "$OUT_DIR/noop.json" 2>&1 | cut -c1-600
