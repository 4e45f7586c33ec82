#!/usr/bin/env bash
# Conformance tier for the tensorrt-llm target: Triton's own protobuf message for config.pbtxt.
#
#   conformance/install_tensorrt_llm.sh [DEST]     (default DEST: <repo>/.conformance)
#
# Creates DEST/tritonclient/, an isolated venv with tritonclient[grpc] 2.58.0 (the Triton 25.05
# client, whose tritonclient/grpc/model_config_pb2.py is the ModelConfig message tritonserver
# parses config.pbtxt into) and the packages its grpc module imports, all pinned, --no-deps.
# TensorRT-LLM itself (trtllm-build, trtllm-serve, tritonserver) has no CPU build: its flags are
# checked against option tables extracted from the pinned source (targets/tensorrt_llm/).
# A stamp file makes a re-run with the same pins take about a second; SKIP_SMOKE=1 skips the smoke test.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
DEST="${1:-$REPO/.conformance}"
PYTHON="${PYTHON:-python3}"
STAMP_NAME=".deployc-conformance-stamp"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

REQS="
tritonclient==2.58.0
grpcio==1.67.1
protobuf==5.29.6
numpy==2.4.6
packaging==26.3
python-rapidjson==1.25
urllib3==2.8.0
"

log() { printf '[conformance] %s\n' "$*" >&2; }
run() { printf '+ %s\n' "$*" >&2; "$@"; }

venv="$DEST/tritonclient"
fp="$({ echo tritonclient; "$PYTHON" -c 'import sys; print(sys.version_info[:3])'; printf '%s\n' "$REQS"; } | sha256sum | cut -d' ' -f1)"
if [ -f "$venv/$STAMP_NAME" ] && [ "$(cat "$venv/$STAMP_NAME")" = "$fp" ] && [ -x "$venv/bin/python" ]; then
  log "tritonclient: up to date ($venv)"; exit 0
fi
log "tritonclient: building $venv"
mkdir -p "$DEST"
if [ -e "$venv" ]; then run rm -rf "$venv"; fi
run "$PYTHON" -m venv "$venv"
printf '%s\n' "$REQS" | sed '/^[[:space:]]*$/d' > "$venv/.deployc-requirements.txt"
run "$venv/bin/python" -m pip install --no-deps --no-compile --progress-bar off -r "$venv/.deployc-requirements.txt"
if [ "${SKIP_SMOKE:-0}" != 1 ]; then
  printf 'name: "smoke"\nbackend: "python"\nparameters {\n  key: "k"\n  value {\n    string_value: "\\303\\274"\n  }\n}\n' \
    > "$venv/.smoke.pbtxt"
  run "$venv/bin/python" "$HERE/pbtxt_probe.py" "$venv/.smoke.pbtxt" > "$venv/.smoke.json"
  "$venv/bin/python" -c '
import json, sys
[r] = json.load(open(sys.argv[1]))
assert r["ok"] and r["config"]["parameters"]["k"]["string_value"] == "\u00fc", r
print("[conformance] smoke ok: tritonclient model_config_pb2 parses config.pbtxt", file=sys.stderr)' "$venv/.smoke.json"
fi
echo "$fp" > "$venv/$STAMP_NAME"
log "tritonclient: done"
