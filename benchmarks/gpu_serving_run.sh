#!/usr/bin/env bash
# The whole serving measurement on one GPU node (16 cores: Ray on 0-10, the load generator on 11-15), run
# through benchmarks/gpu_kit.sh after its stash calls, in two device calls of under 10 minutes each:
#   bash benchmarks/gpu_kit.sh run .kit4 -- "bash benchmarks/gpu_serving_run.sh capacity \$OUT"
#   bash benchmarks/gpu_kit.sh again -- "bash benchmarks/gpu_serving_run.sh loadgen \$OUT"
# capacity (~9 min): (1) the real app, rate sweep to p99 <= 50 ms with CPU by process and each micro-batch
# stage's time (PROFILE_RATE=R adds py-spy at R), (2) the no-op Serve app of this project's shape with the same
# replica counts and Serve settings (HAProxy + throughput mode), (3) the plain multi-process baseline with the
# same batch functions and GPU backend, (4) a spike, 10 % -> 100 % of the capacity (1) found in 5 s, with the
# shipped autoscaling config. loadgen: what the generator itself offers against a C target.
# spike: (4) alone at PEAK.
# Every step has its own timeout, so one that hangs leaves the others' results.
set -uo pipefail
stage=${1:?capacity | spike}; OUT=${2:?output folder}; PEAK=${3:-2000}
REPLICAS=${REPLICAS:-Ingress=4,BriefEncoder=2,Recommender=1}
RATES=${RATES:-250 500 750 1000 1500}
LOAD_CPUS=${LOAD_CPUS:-11-15}; PROCS=${PROCS:-5}
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
stray() { pkill -9 -f "ray::|raylet|gcs_server|haproxy|benchmarks.baseline_server|benchmarks.trivial_server" 2>/dev/null; sleep 1; }
step() { local seconds=$1 name=$2; shift 2; echo "== $name ($(date +%T))"; timeout "$seconds" "$@" 2>&1 \
  | grep -v '^\[serve-[a-z]*\] {' | cut -c1-900 | tee "$OUT/log-$name.txt"; stray; }

case "$stage" in
loadgen)  # what the generator itself offers against a C target (HAProxy answering 200 at once)
  python3 -m benchmarks.trivial_server --port 8099 --cpus 0-9 --threads 4 > "$OUT/trivial.log" 2>&1 &
  sleep 2
  step 45 loadgen python3 -m benchmarks.loadgen --url http://127.0.0.1:8099 --rate 15000 20000 --duration 6 \
    --procs 6 --cpus 10-15 --warm-path / --out "$OUT/loadgen.json"
  ;;
capacity)
  step 170 serve python3 -m benchmarks.gpu_serve --out "$OUT" --server serve --variant haproxy --replicas "$REPLICAS" \
    --rates $RATES --step-seconds 8 --procs "$PROCS" --load-cpus "$LOAD_CPUS" ${PROFILE_RATE:+--profile-rate $PROFILE_RATE}
  step 130 noop python3 -m benchmarks.noop_bench --variants haproxy --rates ${NOOP_RATES:-500 1000 1500 2000 3000} \
    --duration 8 --procs "$PROCS" --cpus "$LOAD_CPUS" --serve-cpus 0-10 --num-cpus 11 --replicas "$REPLICAS" \
    --out "$OUT/noop.json"
  step 130 baseline python3 -m benchmarks.gpu_serve --out "$OUT" --server baseline --workers "${WORKERS:-10}" \
    --rates $RATES --step-seconds 8 --procs "$PROCS" --load-cpus "$LOAD_CPUS"
  # The spike at the capacity the sweep found (p99 <= 50 ms), or PEAK where none held.
  found=$(python3 -c "import json; print(int(json.load(open('$OUT/gpu-serve-haproxy.json'))['sweep']['max_rate_at_slo']))" 2>/dev/null)
  [ "${found:-0}" -gt 0 ] && PEAK=$found
  step 135 spike python3 -m benchmarks.gpu_serve --out "$OUT/spike" --server serve --variant haproxy --rates \
    --spike --spike-peak "$PEAK" --spike-hold 30 --procs "$PROCS" --load-cpus "$LOAD_CPUS"
  ;;
spike)
  step 300 spike python3 -m benchmarks.gpu_serve --out "$OUT/spike" --server serve --variant haproxy --rates \
    --spike --spike-peak "$PEAK" --spike-hold 30 --procs "$PROCS" --load-cpus "$LOAD_CPUS"
  ;;
*) echo "unknown stage $stage" >&2; exit 2 ;;
esac
ls -la "$OUT"
