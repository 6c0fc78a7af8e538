#!/usr/bin/env bash
# On the GPU machine (Python 3.12, no registry): Ray Serve + this project's missing packages in two device
# calls, from the folders benchmarks/gpu_kit_prepare.sh made here.
#   call 1 (carry .whl1):  bash benchmarks/gpu_kit.sh stash .whl1
#   call 2 (carry .whl2):  bash benchmarks/gpu_kit.sh run .whl2 -- 'COMMAND'
# `stash` copies a folder to /tmp/kit, which outlives the call while the machine stays warm (call 2 must
# follow promptly: a machine that went back comes fresh, and the stash is gone). `run` stashes its folder
# too, joins the split wheels, installs every wheel into /tmp/site, checks `from ray import serve`, and
# runs COMMAND with PYTHONPATH (/tmp/site, the repo, build/), PATH and PACKDESIGN_MINILM_DIR set.
# More stash calls fit in between for anything larger (e.g. the 87 MiB MiniLM weights, split like ray).
set -euo pipefail
KIT=${KIT:-/tmp/kit}
SITE=${SITE:-/tmp/site}
mode=${1:?usage: gpu_kit.sh stash DIR | run DIR -- COMMAND | again -- COMMAND}
if [ "$mode" = again ]; then
  # A later call on the same warm machine: the kit is installed; just run COMMAND in its environment.
  [ -d "$SITE/ray" ] || { echo "kit: nothing installed in $SITE (fresh machine?): stash and run again" >&2; exit 3; }
  shift
  [ "${1:-}" = "--" ] && shift
  export PYTHONPATH="$SITE:$PWD:$PWD/build${PYTHONPATH:+:$PYTHONPATH}" PATH="$SITE/bin:$PATH" PYTHONUNBUFFERED=1
  [ -d "$KIT/minilm" ] && export PACKDESIGN_MINILM_DIR="$KIT/minilm"
  mkdir -p artifacts/cache && cp -n "$KIT"/design_tensors-*.npz artifacts/cache/ 2>/dev/null || true
  exec bash -c "${1:?no command after --}"
fi
dir=${2:?folder to stash}
mkdir -p "$KIT"
cp -r "$dir"/. "$KIT"/
echo "kit: stashed $dir ($(du -sh "$dir" | cut -f1)); $KIT now holds $(ls "$KIT" | wc -l) entries, $(du -sh "$KIT" | cut -f1)"
[ "$mode" = stash ] && exit 0
[ "$mode" = run ] || { echo "unknown mode $mode" >&2; exit 2; }
shift 2
[ "${1:-}" = "--" ] && shift
command=${1:?no command after --}

# Join split files (NAME.part-00, NAME.part-01, ...): every part must be there. A later part without its first
# means a stash call did not land (run 20: a refused stash of .kit3 left the MiniLM weights half there, and the app
# failed at start-up minutes into the call): stop before anything starts.
for later in "$KIT"/*.part-0[1-9]; do
  [ -e "$later" ] || continue
  if [ ! -e "${later%.part-*}.part-00" ]; then
    echo "kit: $(basename "$later") without its part-00: a stash call is missing (refused, or a fresh machine); stash it, then run again" >&2
    exit 3
  fi
done
for first in "$KIT"/*.part-00; do
  [ -e "$first" ] || continue
  whole=${first%.part-00}
  parts=$(ls "$whole".part-* | wc -l)
  if [ "$parts" -lt 2 ]; then
    echo "kit: only $(basename "$first") of $(basename "$whole"): call 1's stash is missing (fresh machine?); run call 1 again, then call 2" >&2
    exit 3
  fi
  cat "$whole".part-* > "$whole" && rm "$whole".part-*
done
# MiniLM weights (FP16, split like ray) go where PACKDESIGN_MINILM_DIR points; the knowledge tables the model
# reads (built from MiniLM embeddings) go to the project's cache, so the GPU run uses the same ones as here.
if [ -e "$KIT/minilm-model.safetensors" ]; then mkdir -p "$KIT/minilm" && mv "$KIT/minilm-model.safetensors" "$KIT/minilm/model.safetensors"; fi
mkdir -p artifacts/cache && cp -n "$KIT"/design_tensors-*.npz artifacts/cache/ 2>/dev/null || true
if ! ls "$KIT"/ray-*.whl >/dev/null 2>&1; then
  echo "kit: no ray wheel in $KIT (call 1's stash is missing: run call 1 again, then call 2)" >&2
  exit 3
fi
started=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$KIT"/*.whl
echo "kit: installed $(ls "$KIT"/*.whl | wc -l) wheels into $SITE in $(( $(date +%s) - started )) s"
export PYTHONPATH="$SITE:$PWD:$PWD/build${PYTHONPATH:+:$PYTHONPATH}" PATH="$SITE/bin:$PATH" PYTHONUNBUFFERED=1
[ -d "$KIT/minilm" ] && export PACKDESIGN_MINILM_DIR="$KIT/minilm"
python3 -c "from ray import serve; import ray, fastapi, pydantic, aiohttp; print('kit: ray', ray.__version__, \
'fastapi', fastapi.__version__, 'pydantic', pydantic.__version__, 'aiohttp', aiohttp.__version__)"
echo "kit: $(nproc) cores; $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
exec bash -c "$command"
