#!/usr/bin/env bash
# 2 cores: CPU per answered request by role, the no-op app against the real app, one replica each, HAProxy variant,
# the CPU config's settings, alternating.
cd "$(git rev-parse --show-toplevel)"; OUT=${OUT:-/tmp/s33}; mkdir -p "$OUT"
export PYTHONPATH=$PWD
PY=.venv/bin/python
for round in 1 2; do
  $PY -m benchmarks.noop_bench --variants haproxy --config serve_config.yaml --rates 30 60 --duration 20 \
     --replicas Ingress=1,BriefEncoder=1,Recommender=1 --num-cpus 4 --out $OUT/noop-$round.json 2>&1 | grep -v "^\s*$" | tail -4
  for rate in 30 60; do
    $PY -m benchmarks.profile_serve --variant haproxy --rate $rate --seconds 20 --no-pyspy \
      --replicas Ingress=1,BriefEncoder=1,Recommender=1 --out $OUT/app-$round-$rate 2>&1 | grep "^\[" | tail -2
  done
done
