#!/usr/bin/env bash
# 2 cores: the no-op app's handle calls over gRPC (throughput mode's default) against Ray actor calls
# (_by_reference=True), CPU by role per answered request, alternating, one replica each, CPU config's settings.
cd "$(git rev-parse --show-toplevel)"; OUT=${OUT:-/tmp/s33}; mkdir -p "$OUT"
export PYTHONPATH=$PWD
PY=.venv/bin/python
for round in 1 2; do
  for t in grpc actor; do
    flag=""; [ $t = actor ] && flag=--by-reference
    $PY -m benchmarks.noop_bench --variants haproxy --config serve_config.yaml --rates 60 150 --duration 20 \
       --replicas Ingress=1,BriefEncoder=1,Recommender=1 --num-cpus 4 $flag --out $OUT/transport-$t-$round.json 2>&1 | grep "^\[" | tail -3 | cut -c1-200
  done
done
