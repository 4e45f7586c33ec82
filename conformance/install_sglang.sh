#!/usr/bin/env bash
# Conformance tier installer: SGLang's real server-argument parser, per pinned version.
#
#   conformance/install_sglang.sh [DEST]        (default DEST: <repo>/.conformance)
#
# Creates DEST/sglang-<version>/ (python -m venv, no system site-packages) for each pinned
# version: sglang (--no-deps) + only the packages that importing sglang.srt.server_args and
# sglang.cli.serve needs (it imports triton unconditionally), all pinned and installed with
# --no-deps, plus CPU torch from the local wheel (/opt/wheels). A stamp file marks a venv that
# passed its smoke test; a re-run with the same pins only checks stamps (seconds).
#
# Env: PYTHON (default python3, 3.11 for these pins), TORCH_SPEC (default torch==2.13.0+cpu;
#      never let it float: plain `torch` pulls multi-GB CUDA builds),
#      SGLANG_VERSIONS (subset, e.g. "0.5.23"), SKIP_SMOKE=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
DEST="${1:-$REPO/.conformance}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0+cpu}"
SGLANG_VERSIONS="${SGLANG_VERSIONS:-0.5.23 0.4.10.post2}"
# shellcheck source=conformance/common.sh
source "$HERE/common.sh"

# Found by trial (import, ModuleNotFoundError, add) for prepare_server_args(argv) and, for
# 0.5.23, sglang.cli.serve. Versions follow each release's Requires-Dist where it pins one
# (0.4.10.post2: transformers==4.54.1), except torch (2.13.0 CPU here).
REQS_COMMON="
aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiosignal==1.4.0
anyio==4.16.0
attrs==26.1.0
certifi==2026.10.18
frozenlist==1.8.0
idna==3.20
ipython==9.18.1
multidict==7.2.1
numpy==2.4.6
packaging==26.3
pillow==13.0.0
propcache==0.5.4
psutil==7.2.2
pybase64==1.5.1
pydantic==2.14.3
pydantic_core==2.50.4
Pygments==2.21.0
pyzmq==27.3.0
requests==2.34.2
tqdm==4.70.1
traitlets==5.16.1
triton==3.9.0
typing-inspection==0.4.5
urllib3==2.8.0
yarl==1.25.1
"

REQS_0_5_23="
sglang==0.5.23
httpx2==2.16.2
huggingface_hub==2.4.0
msgspec==0.22.0
orjson==3.13.0
starlette==1.10.0
$REQS_COMMON
"

REQS_0_4_10_post2="
sglang==0.4.10.post2
dill==0.4.1
annotated-doc==0.0.7
annotated-types==0.8.0
fastapi==0.116.1
h11==0.16.0
huggingface-hub==0.34.4
PyYAML==6.0.3
regex==2026.11.15
safetensors==0.6.2
sentencepiece==0.2.3
starlette==0.47.2
tokenizers==0.21.4
transformers==4.54.1
$REQS_COMMON
"

install_sglang() {  # $1 = version
  local ver="$1" var reqs venv fp reqfile
  var="REQS_${ver//./_}"
  if [ -z "${!var:-}" ]; then log "no pin list for sglang $ver"; return 1; fi
  reqs="${!var}"
  venv="$DEST/sglang-$ver"
  fp="$(fingerprint "sglang-$ver" "$TORCH_SPEC" "$TORCH_DEPS" "$reqs" "$PIP_REPORT_NAME")"
  if [ -f "$venv/$STAMP_NAME" ] && [ "$(cat "$venv/$STAMP_NAME")" = "$fp" ] && [ -x "$venv/bin/python" ]; then
    log "sglang $ver: up to date ($venv)"; return 0
  fi
  log "sglang $ver: building $venv"
  local t0=$SECONDS
  if [ -e "$venv" ]; then run rm -rf "$venv"; fi
  run "$PYTHON" -m venv "$venv"
  reqfile="$venv/.deployc-requirements.txt"
  printf '%s\n' "$TORCH_SPEC" "$TORCH_DEPS" "$reqs" | sed '/^[[:space:]]*$/d' > "$reqfile"
  # the report (wheel names and sha256) is the option tables' provenance (conformance/extract/)
  run "$venv/bin/python" -m pip install "${PIP_FLAGS[@]}" --report "$venv/$PIP_REPORT_NAME" -r "$reqfile"
  if [ "${SKIP_SMOKE:-0}" != 1 ]; then
    log "sglang $ver: smoke test (the real prepare_server_args parses one argv)"
    # Like every deployc argv it sets --mem-fraction-static: without it 0.4.10.post2 sizes memory
    # from the GPU and imports model code that this parser-only venv does not carry.
    local launcher='"python3","-m","sglang.launch_server"'
    case "$ver" in 0.4.*) ;; *) launcher='"sglang","serve","--model-type","llm"' ;; esac
    printf '[{"id":"smoke","argv":[%s,"--model-path","Qwen/Qwen2.5-7B-Instruct","--mem-fraction-static","0.8","--port","8000"]}]' "$launcher" \
      | "$venv/bin/python" "$HERE/sglang_probe.py" 2>"$venv/.smoke-stderr.txt" \
      | "$venv/bin/python" -c '
import json, sys
d = json.load(sys.stdin); r = d["results"][0]
assert d["sglang_version"] == sys.argv[1], d["sglang_version"]
assert r["ok"] and r["fields"]["port"] == 8000, r
print("[conformance] smoke ok: sglang %s, %d ServerArgs fields" % (d["sglang_version"], len(r["fields"])), file=sys.stderr)
' "$ver" || { log "sglang $ver: smoke test FAILED; stderr:"; cat "$venv/.smoke-stderr.txt" >&2; return 1; }
  fi
  echo "$fp" > "$venv/$STAMP_NAME"
  log "sglang $ver: done in $((SECONDS - t0))s"
}

main() {
  mkdir -p "$DEST"
  local v
  for v in $SGLANG_VERSIONS; do install_sglang "$v"; done
}

main
