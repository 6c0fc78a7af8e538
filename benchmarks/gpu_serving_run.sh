#!/usr/bin/env bash
# The whole serving measurement on one GPU node (16 cores: Ray on 0-11, the load generator on 12-15), run
# through benchmarks/gpu_kit.sh after its stash calls (.whl1, .whl2, .kit3, .kit4), in two device calls of under 10 minutes each:
#   bash benchmarks/gpu_kit.sh run .kit5 -- "bash benchmarks/gpu_serving_run.sh capacity \$OUT"
#   bash benchmarks/gpu_kit.sh again -- "bash benchmarks/gpu_serving_run.sh more \$OUT"
# capacity (~9 min), one setting throughout (HAProxy + throughput mode, REPLICAS fixed): (1) the real app, a
# rate sweep to p99 <= 50 ms with CPU by process and each micro-batch stage's time, (2) the no-op Serve app of
# this project's shape with the same replica counts and settings (the framework's ceiling here), (3) the plain
# multi-process baseline with the same batch functions and GPU backend, (4) a spike, 10 % -> 100 % of the
# capacity (1) found in 5 s, starting from the shipped config's initial replicas and autoscaling.
# more: what the generator itself offers against a C target; the app with a longer micro-batch wait
# (BATCH_WAIT); py-spy of every role at PROFILE_RATE.
# profile: py-spy of every role at PROFILE_RATE after a two-rate sweep, then the spike at PEAK.
# run 18's two-call plan for what issue 13 asks of one start (after the three stash calls):
#   bash benchmarks/gpu_kit.sh run .kit5 -- "PACK=1 RATES='400 700 1000' bash benchmarks/gpu_serving_run.sh app \$OUT/a"
#   bash benchmarks/gpu_kit.sh again -- "PACK=1 RATES='400 700 1000' BULK_RATES='200 250 300' bash benchmarks/gpu_serving_run.sh baseline-bulk \$OUT/b"
# PACK=1: the stage's files end as one OUT.tgz (the device tool brings back at most 8 files a call).
# ab: the app's sweep on the code before a change (AB_DIR: its files, laid over a copy of this tree), then on this tree.
# layouts: the app's sweep under each replica layout of LAYOUTS, in that order.
# Every step has its own timeout, so one that hangs leaves the others' results; each sweep row is printed as a
# JSON line when measured, so a step cut short still leaves its rows in log-<step>.txt.
set -uo pipefail
stage=${1:?capacity | app | sweep | ab | concurrency | posts | logs | app-args | encoders | layouts | waits | bulk | bulk-inline | baseline-bulk | noop | framework | baseline | more | rest | profile | spike | spikes | spike-bulk | encoder-hop}; OUT=${2:?output folder}; PEAK=${3:-1000}
REPLICAS=${REPLICAS:-Ingress=6,BriefEncoder=3,Recommender=2}
RATES=${RATES:-500 1000 1500 2000 2500 3000}
LOAD_CPUS=${LOAD_CPUS:-12-15}; PROCS=${PROCS:-4}
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# Ray's own Python daemons (dashboard, its agents, log monitor) too, and `ray stop`, so a step killed at its timeout
# leaves nothing running into the next. (Not the cause of the `ab` stage's order effect: run 8's second sweep of
# either order used ~20 % more CPU a request at 400-500 req/s with these killed too, and no more daemon processes.)
stray() { ray stop --force >/dev/null 2>&1
  pkill -9 -f "ray::|raylet|gcs_server|haproxy|ray/dashboard/|log_monitor|autoscaler/_private/monitor|runtime_env/agent|benchmarks[.]baseline_server|benchmarks[.]trivial_server" 2>/dev/null; sleep 1; }
# Output to a file, not a pipe: a server's worker processes inherit stdout and would hold a pipe (and the step)
# open past its timeout. SIGTERM first (gpu_serve writes what it has), SIGKILL 10 s later.
# The node's aggregate CPU line of /proc/stat: user nice system idle iowait irq softirq steal ...
cpustat() { awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6, $9}' /proc/stat; }
step() { local seconds=$1 name=$2; shift 2; echo "== $name ($(date +%T)); busiest processes before it:"
  ps -eo pcpu,comm --sort=-pcpu | sed -n 2,4p | tr '\n' ';'; echo
  local before; before=$(cpustat)
  timeout -k 10 "$seconds" "$@" > "$OUT/log-$name.txt" 2>&1; echo "rc $? ($(date +%T))"
  # Steal: time the hypervisor gave this VM's vCPUs to others while they wanted to run (jiffies over the step).
  read -r b_busy b_idle b_steal <<<"$before"; read -r a_busy a_idle a_steal <<<"$(cpustat)"
  echo "cpu over the step: busy $((a_busy - b_busy)) idle $((a_idle - b_idle)) steal $((a_steal - b_steal)) jiffies"
  stray
  # The node's core speed again after each step: it moved by up to 1.7x within one call (run 16).
  echo "{\"after\": \"$name\", \"calibration\": $(python3 -m benchmarks.cpu_calibration --cpu "${LOAD_CPUS%%-*}")}" \
    >> "$OUT/cpu-calibration-steps.jsonl"
  cut -c1-400 "$OUT/log-$name.txt" | grep -v "^\s*$" | tail -n 12; }
sweep() { step "$1" "$2" python3 -m benchmarks.gpu_serve --out "$OUT" --server serve --variant haproxy \
  --replicas "$REPLICAS" --rates $RATES --step-seconds 6 --procs "$PROCS" --load-cpus "$LOAD_CPUS" "${@:3}"; }
# The app's sweep once per value, in the order given (a second sweep on a start drifts, run 8), each step's limit
# SWEEP_S (230 s: a ~35 s start and ~40 s a rate fit four rates; run 28's 170 cut each sweep after three): $1 the gpu_serve flag
# each value goes with (--app-arg NAME=VALUE, --access-log on), $2 a tag prefix; a sweep is tagged PREFIX, the value
# (after any NAME=) and its position, e.g. post1-2.
# A value may join several settings with "+" (e.g. ingress_post_processes=2+ingress_max_concurrent_batches=2), each
# passed with the flag; its tag then holds each setting's value (post2-2-1).
sweep_each() { local flag=$1 prefix=$2 i=0 v part tag; shift 2
  for v in "$@"; do
    i=$((i + 1)); local flags=(); tag=""
    for part in ${v//+/ }; do flags+=("$flag" "$part"); tag+="${part#*=}-"; done
    sweep "${SWEEP_S:-230}" "serve-$prefix$tag$i" --tag "$prefix$tag$i" "${flags[@]}"
  done; }
# The plain multi-process baseline at RATES, one brief a request (its step's limit in seconds).
baseline_sweep() { step "$1" baseline python3 -m benchmarks.gpu_serve --out "$OUT" --server baseline \
  --workers "${WORKERS:-12}" --rates $RATES --step-seconds 6 --procs "$PROCS" --load-cpus "$LOAD_CPUS"; }
# The batch route (BULK briefs a request) with `encoder: inline`: REPLICAS_INLINE, BULK_RATES and SWEEP_S, else the
# stage's defaults $1 (replicas), $2 (rates), $3 (the step's limit in seconds).
bulk_inline() { local k=${BULK:-16}
  REPLICAS=${REPLICAS_INLINE:-$1} RATES=${BULK_RATES:-$2} sweep "${SWEEP_S:-$3}" "serve-bulk$k-inline" \
    --tag "bulk$k-inline" --briefs-per-request "$k" --encoder inline; }
# The no-op Serve app of this project's shape at NOOP_RATES, REPLICAS and the GPU config's micro-batching (size, wait
# and micro-batches in flight, read from the config; run 29's no-op had 1 in flight beside the app's 2) (its step's
# limit in seconds).
# NOOP_ACCESS_LOG (on / off): Serve's access log, else the config's; NOOP_TAG names the step and its file.
noop_step() { step "$1" "noop${NOOP_TAG:-}" python3 -m benchmarks.noop_bench --variants haproxy --rates ${NOOP_RATES:-1000 2000 3000 4000} \
  --duration 6 --procs "$PROCS" --cpus "$LOAD_CPUS" --serve-cpus 0-11 --num-cpus 12 --replicas "$REPLICAS" \
  ${NOOP_ACCESS_LOG:+--access-log $NOOP_ACCESS_LOG} \
  --out "$OUT/noop${NOOP_TAG:-}.json"; }
# The spike, 10 % -> 100 % of PEAK in 5 s held 30 s, from the shipped config's replicas and autoscaling: step name,
# tag, then further gpu_serve arguments.
spike_step() { step 230 "$1" python3 -m benchmarks.gpu_serve --out "$OUT" --tag "$2" --server serve --variant haproxy \
  --rates --spike --spike-peak "$PEAK" --spike-hold 30 --procs "$PROCS" --load-cpus "$LOAD_CPUS" "${@:3}"; }

# One core's speed on the code the request path is made of, first, so that CPU a request compares across machine
# starts (the VM image and host change between sessions).
# One file a stage: two stages into one OUT keep both readings (run 16's first was overwritten; the node's speed
# moved 63 -> 36 ns a loop step between them).
python3 -m benchmarks.cpu_calibration --cpu "${LOAD_CPUS%%-*}" | tee "$OUT/cpu-calibration-$stage.json"
# Which vCPUs share a physical core (hyperthreads): a busy sibling slows a core, so where Ray and the load generator
# sit would matter; recorded once per call.
{ lscpu | grep -E "^(Model name|Thread|Core|Socket|NUMA node\(s\)|CPU\(s\))"; lscpu -e=CPU,CORE,SOCKET,NODE; } \
  > "$OUT/topology.txt" 2>&1 || true
sed -n 1,6p "$OUT/topology.txt"

case "$stage" in
capacity)
  sweep 170 serve --tag fixed
  noop_step 125
  baseline_sweep 110
  # The spike at the capacity the sweep found (p99 <= 50 ms), or PEAK where none held.
  found=$(python3 -c "import json; print(int(json.load(open('$OUT/gpu-serve-haproxy-fixed.json'))['sweep']['max_rate_at_slo']))" 2>/dev/null)
  [ "${found:-0}" -gt 0 ] && PEAK=$found
  echo "spike peak: $PEAK req/s"
  spike_step spike spike
  ;;
sweep)  # the app's sweep alone (~3 min; py-spy of every role at PROFILE_RATE after it, where set)
  sweep "${SWEEP_S:-260}" serve --tag fixed ${PROFILE_RATE:+--profile-rate $PROFILE_RATE}
  ;;
app)  # what one call fits (~9 min): the app's sweep (py-spy of every role at PROFILE_RATE after it, where set),
  # the spike at the capacity it found, the no-op app. SWEEP_S / NOOP_S: their limits; the defaults fit ~2 rates
  # after a ~50 s start plus ~4 no-op rates (run 24 lost its 400 and 500 req/s steps and the no-op's 3,000 to them).
  sweep "${SWEEP_S:-190}" serve --tag fixed ${PROFILE_RATE:+--profile-rate $PROFILE_RATE}
  found=$(python3 -c "import json; print(int(json.load(open('$OUT/gpu-serve-haproxy-fixed.json'))['sweep']['max_rate_at_slo']))" 2>/dev/null)
  [ "${found:-0}" -gt 0 ] && PEAK=$found
  echo "spike peak: $PEAK req/s"
  spike_step spike spike
  # (run 18: 1,000-3,000 req/s took 100 s with the start, so 4,000 needs the longer limit)
  noop_step "${NOOP_S:-145}"
  ;;
more)
  python3 -m benchmarks.trivial_server --port 8099 --cpus 0-9 --threads 4 > "$OUT/trivial.log" 2>&1 &
  sleep 2
  step 40 loadgen python3 -m benchmarks.loadgen --url http://127.0.0.1:8099 --rate 15000 20000 --duration 5 \
    --procs 6 --cpus 10-15 --warm-path / --out "$OUT/loadgen.json"
  sweep 170 serve-wait --tag "wait${BATCH_WAIT:-0.008}" --batch-wait "${BATCH_WAIT:-0.008}" \
    ${PROFILE_RATE:+--profile-rate $PROFILE_RATE}
  ;;
rest)  # what a cut-short capacity call left: baseline, spike at PEAK, generator
  baseline_sweep 200
  spike_step spike spike
  python3 -m benchmarks.trivial_server --port 8099 --cpus 0-9 --threads 4 > "$OUT/trivial.log" 2>&1 &
  sleep 2
  step 40 loadgen python3 -m benchmarks.loadgen --url http://127.0.0.1:8099 --rate 15000 20000 --duration 5 \
    --procs 6 --cpus 10-15 --warm-path / --out "$OUT/loadgen.json"
  ;;
spikes)  # the spike at PEAK once per POLICY_KWARGS entry, in that order, one machine start: the autoscaling
  # policy's settings side by side (machines differ between starts). An entry is NAME=VALUE[,NAME=VALUE...], e.g.
  # POLICY_KWARGS="recent_s=0,target_briefs_per_s=null recent_s=2,target_briefs_per_s=100"; a NAME of the form
  # ingress.FIELD sets the Ingress's autoscaling_config FIELD instead (ingress.upscaling_factor=1).
  for entry in ${POLICY_KWARGS:?e.g. "recent_s=0,target_briefs_per_s=null recent_s=2"}; do
    args=(); for kwarg in ${entry//,/ }; do
      case "$kwarg" in
        ingress.*) args+=(--ingress-autoscaling "${kwarg#ingress.}") ;;
        *) args+=(--policy-kwarg "$kwarg") ;;
      esac
    done
    tag=${entry//target_briefs_per_s/arrivals}; tag=${tag//ingress.upscaling_factor/up}
    tag="spike-$(echo "$tag" | tr -cd 'a-z0-9,' | tr ',' '-')"
    spike_step "$tag" "$tag" "${args[@]}"
  done
  ;;
profile)  # py-spy of every role at PROFILE_RATE (default 2,000) after a short sweep, then the spike at PEAK
  RATES=${RATES_PROFILE:-2000 2500} sweep 150 serve-profile --tag profile --profile-rate "${PROFILE_RATE:-2000}"
  spike_step spike spike
  ;;
ab)  # the same sweep on two versions of the code, one machine start (machines differ between starts): "before"
  # is a copy of this tree with AB_DIR's files laid over it (e.g. the previous post-processing), then this tree
  before=/tmp/ab-before
  rm -rf "$before" && mkdir -p "$before"
  tar --exclude='./.kit*' --exclude='./.whl*' --exclude="./${AB_DIR:?folder of the before-files}" -cf - . \
    | tar -xf - -C "$before"
  cp -r "$AB_DIR"/. "$before"/
  site=${SITE:-/tmp/site}
  run_before() { (cd "$before" && PYTHONPATH="$site:$before:$before/build" sweep "${SWEEP_S:-200}" serve-before --tag before); }
  # AB_FIRST=after runs this tree first: the order flips between calls, since a machine drifts within one.
  [ "${AB_FIRST:-before}" = after ] || run_before
  sweep "${SWEEP_S:-200}" serve --tag fixed ${PROFILE_RATE:+--profile-rate $PROFILE_RATE}
  [ "${AB_FIRST:-before}" = after ] && run_before
  ;;
encoders)  # the app's sweep with the BriefEncoder hop and with `encoder: inline`, in the order of ENCODERS (flip it
  # between calls: a second sweep on a start drifts, run 8)
  # (inline: REPLICAS_INLINE, by default the same Ingress and Recommender replicas without the encoder's)
  for encoder in ${ENCODERS:-deployment inline}; do
    layout=$REPLICAS; [ "$encoder" = inline ] && layout=${REPLICAS_INLINE:-Ingress=6,Recommender=2}
    REPLICAS=$layout sweep "${SWEEP_S:-200}" "serve-$encoder" --tag "enc-$encoder" --encoder "$encoder"
  done
  ;;
layouts)  # the app's sweep under each replica layout in LAYOUTS (space-separated, e.g. "Ingress=6,BriefEncoder=3,Recommender=2
  # Ingress=8,BriefEncoder=2,Recommender=2"), one machine start, in the order given (flip it between calls: a second
  # sweep on a start drifts, run 8)
  for layout in ${LAYOUTS:?replica layouts}; do
    tag=$(echo "$layout" | sed -E 's/Ingress=/i/; s/BriefEncoder=/e/; s/Recommender=/r/; s/,//g')
    REPLICAS=$layout sweep "${SWEEP_S:-200}" "serve-$tag" --tag "$tag"
  done
  ;;
concurrency)  # the app's sweep at each ingress_max_concurrent_batches of CONCURRENCY (micro-batches in flight per
  # ingress replica; the GPU config ships 2 with two children since run 28, 1 from run 20, 3 before), in the order given (flip it between calls: a second sweep on a start
  # drifts, run 8); then, where SPIKE_C is set, the spike to PEAK with that many in flight; then, where NOOP_RATES is
  # set, the no-op app at those rates
  for c in ${CONCURRENCY:-1 3}; do
    sweep "${SWEEP_S:-230}" "serve-c$c" --tag "c$c" --app-arg "ingress_max_concurrent_batches=$c"
  done
  [ -z "${SPIKE_C:-}" ] || spike_step "spike-c$SPIKE_C" "spike-c$SPIKE_C" --app-arg "ingress_max_concurrent_batches=$SPIKE_C"
  [ -z "${NOOP_RATES:-}" ] || noop_step 145
  ;;
posts)  # the app's sweep at each ingress_post_processes of POSTS (0: post-processing in the ingress replica's worker
  # thread; N: in N child processes of it, off the replica's GIL), in the order given (e.g. "0 1 0": a second sweep on
  # a start drifts, run 8)
  sweep_each --app-arg post $(printf 'ingress_post_processes=%s ' ${POSTS:-0 1 0})
  ;;
logs)  # the app's sweep with Serve's access log as each of ACCESS_LOGS says (on / off, in that order, e.g. "off on
  # off": a second sweep on a start drifts, run 8; ACCESS_LOGS="" none); then the no-op app with each of NOOP_LOGS (e.g.
  # "on off"), where set; then, where SPIKE is set, the spike to PEAK with the config as shipped.
  # Throughput mode buffers 1,000 access-log lines a replica and formats and writes them at once on its event loop.
  sweep_each --access-log log ${ACCESS_LOGS-off on off}
  for a in ${NOOP_LOGS:-}; do
    NOOP_TAG="-log$a" NOOP_ACCESS_LOG=$a noop_step 145
  done
  [ -z "${SPIKE:-}" ] || spike_step spike spike
  ;;
app-args)  # the app's sweep once per setting of APP_ARGS (space-separated NAME=VALUE, each passed as --app-arg; "+"
  # joins several into one sweep, e.g. "ingress_post_processes=2+ingress_max_concurrent_batches=2"), in the order given (e.g. "ingress_max_concurrent_batches=1 ingress_max_concurrent_batches=3": a second sweep on a
  # start drifts, run 8; run 23 compared ingress_slot_until=model and =answer, a setting of commit ca61f78's tree)
  sweep_each --app-arg "" ${APP_ARGS:?NAME=VALUE settings}
  ;;
waits)  # the ingress micro-batch wait A/B at light load, one after the other: the config's, then WAIT_B (~6 min)
  sweep "${SWEEP_S:-190}" serve --tag fixed
  sweep "${SWEEP_S:-190}" serve-wait --tag "wait${WAIT_B:-0}" --batch-wait "${WAIT_B:-0}"
  ;;
bulk)  # POST /v1/recommend/batch, BULK briefs a request: the app's sweep (BULK_RATES in requests/s), then the plain
  # baseline's on the same rates and route (unless BULK_BASELINE=0), then with `encoder: inline` where BULK_INLINE is
  # set (~2 min each).
  # Rates step finely: run 13 (H100, a slow start) answered 100 requests/s of 16 (p99 135 ms), and its step at 200
  # overloaded the app, whose requests then ran to the 30 s client timeout until the step's own timeout killed it.
  k=${BULK:-16}
  RATES=${BULK_RATES:-50 75 100 125 150 175} sweep "${SWEEP_S:-230}" "serve-bulk$k" --tag "bulk$k" \
    --briefs-per-request "$k"
  [ "${BULK_BASELINE:-1}" = 0 ] || step "${SWEEP_S:-150}" "baseline-bulk$k" python3 -m benchmarks.gpu_serve --out "$OUT" --server baseline \
    --workers "${WORKERS:-12}" --tag "bulk$k" --briefs-per-request "$k" --rates ${BULK_RATES:-50 75 100 125 150 175} \
    --step-seconds 6 --procs "$PROCS" --load-cpus "$LOAD_CPUS"
  [ -z "${BULK_INLINE:-}" ] || bulk_inline Ingress=8,Recommender=2 "50 75 100 125 150 175" 170
  ;;
bulk-inline)  # the batch route with `encoder: inline` alone (REPLICAS_INLINE, BULK_RATES; run 18: 4,000 briefs/s at
  # p99 <= 50 ms with Ingress=11,Recommender=1)
  bulk_inline Ingress=11,Recommender=1 "200 250 300" 200
  ;;
baseline-bulk)  # the second call of run 18's plan (~7 min): the plain baseline at RATES, then the batch route inline
  baseline_sweep 150
  bulk_inline Ingress=11,Recommender=1 "200 250 300" 200
  ;;
noop)  # the no-op Serve app of this shape alone (~2 min)
  noop_step 165
  ;;
framework)  # what of the app's CPU is the framework's own (~6 min): the app's sweep, then the no-op app at the same
  # RATES, replicas and micro-batching, each fitted to a cost a micro-batch and one a request by role
  # (benchmarks.cpu_bound; run 29 read 5.33 of the app's 7.15 ms a request at 1,000 req/s as the no-op's)
  sweep "${SWEEP_S:-230}" serve --tag fixed
  NOOP_RATES="$RATES" noop_step "${NOOP_S:-165}"
  for f in "$OUT/gpu-serve-haproxy-fixed.json" "$OUT/noop.json"; do
    echo "== $(basename "$f"): CPU a request = F / micro-batch + P"; python3 -m benchmarks.cpu_bound "$f" | tail -n 9
  done
  ;;
baseline)  # the plain multi-process baseline alone (~2 min)
  baseline_sweep 150
  ;;
spike)  # startup ~40 s, replicas ready ~30 s, the load 70 s; A/Bs: LOOK_BACK (every look_back_period_s),
  # INGRESS_TARGET (the Ingress's target_ongoing_requests)
  spike_step spike "spike${LOOK_BACK:+-lb$LOOK_BACK}${INGRESS_TARGET:+-t$INGRESS_TARGET}" \
    ${LOOK_BACK:+--look-back $LOOK_BACK} ${INGRESS_TARGET:+--ingress-autoscaling target_ongoing_requests=$INGRESS_TARGET}
  ;;
spike-bulk)  # the spike with BULK briefs a request (PEAK in requests/s), under the shipped autoscaling policy (CPU or
  # requests, serve_app/autoscaling.py) and then under Serve's default rule alone, one machine start (~4 min each)
  k=${BULK:-16}
  for scale_on in cpu-or-requests requests; do
    spike_step "spike-bulk$k-$scale_on" "spike-bulk$k-$scale_on" --briefs-per-request "$k" --scale-on "$scale_on"
  done
  ;;
encoder-hop)  # one BriefEncoder replica's CPU a call against encode_batch's own, 1/4/8 calls in flight (~30 s a run);
  # ENCODER_B: another serve_app/encoder.py to run alternately with this tree's (A B A B), for an A/B on one start
  cp serve_app/encoder.py "$OUT/encoder-a.py"
  for round in 1 2; do
    for side in a ${ENCODER_B:+b}; do
      if [ "$side" = b ]; then cp "$ENCODER_B" serve_app/encoder.py; else cp "$OUT/encoder-a.py" serve_app/encoder.py; fi
      step 120 "encoder-hop-$side-$round" python3 -m benchmarks.encoder_hop --briefs-per-call "${BULK:-16}" --calls 400 \
        --concurrency 1 4 8 --num-cpus 4
    done
  done
  cp "$OUT/encoder-a.py" serve_app/encoder.py
  grep -h "^{" "$OUT"/log-encoder-hop-*.txt
  ;;
*) echo "unknown stage $stage" >&2; exit 2 ;;
esac
ls -la "$OUT"
if [ "${PACK:-0}" = 1 ]; then  # one file back instead of many (the device tool returns at most 8 a call)
  tar czf "$OUT.tgz" -C "$(dirname "$OUT")" "$(basename "$OUT")" && rm -rf "$OUT" && ls -la "$OUT.tgz"
fi
