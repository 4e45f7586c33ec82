#!/usr/bin/env bash
# Conformance tier, LMDeploy: the real `lmdeploy serve api_server` parser of each pinned version.
#
#   conformance/install_lmdeploy.sh DEST
#
# Creates DEST/lmdeploy-<version>/ (python -m venv, no system site-packages) for each version the
# lmdeploy target pins: lmdeploy itself installed --no-deps (its Requires-Dist pulls CUDA torch,
# triton, ray, tilelang and the nvidia-* wheels, none of which building the parser needs), CPU
# torch 2.13.0 from the local wheel, and only the packages the parser's imports reach, pinned and
# --no-deps. Found by trial (import, ModuleNotFoundError, add) for what the console script does:
#   from lmdeploy.cli.cli import CLI; from lmdeploy.cli.serve import SubCliServe
#   CLI.add_parsers(); SubCliServe.add_parsers(); CLI.parser.parse_args([...])
# 0.18.0 also needs pillow, psutil and pybase64 (lmdeploy/vl, lmdeploy/serve); 0.9.2.post1
# needs partial-json-parser (its tool parsers register at import). openai_harmony is optional in
# 0.18.0 (a warning; its GPT-OSS response parser falls back) and left out.
# tests/conformance/test_lmdeploy_parser.py parses every sample's argv with it;
# conformance/extract/lmdeploy_options.py writes targets/lmdeploy/engine_options/<version>.json.
# A stamp records the pins once the smoke test passed; a re-run with the same pins takes a second.
# Env: PYTHON (default python3; pins are for 3.11), TORCH_SPEC (default torch==2.13.0+cpu),
#      LMDEPLOY_VERSIONS (default "0.18.0 0.9.2.post1"), SKIP_LMDEPLOY=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="$(mkdir -p "${1:?usage: install_lmdeploy.sh DEST}" && cd "$1" && pwd)"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0+cpu}"
LMDEPLOY_VERSIONS="${LMDEPLOY_VERSIONS:-0.18.0 0.9.2.post1}"
# shellcheck source=conformance/common.sh
source "$HERE/common.sh"

REQS_COMMON="
addict==2.4.0
annotated-types==0.8.0
certifi==2026.10.18
charset-normalizer==3.5.2
hf-xet==1.8.0
huggingface_hub==0.36.2
idna==3.20
mmengine-lite==0.10.7
numpy==2.4.6
packaging==26.3
platformdirs==4.14.9
pydantic==2.14.3
pydantic_core==2.50.4
PyYAML==6.0.3
regex==2026.11.15
requests==2.34.2
rich==15.0.0
safetensors==0.8.0
shortuuid==1.0.13
termcolor==3.3.0
tokenizers==0.22.2
tqdm==4.70.1
transformers==4.57.6
typing-inspection==0.4.5
urllib3==2.8.0
yapf==0.43.0
"
REQS_0_18_0="
lmdeploy==0.18.0
pillow==13.0.0
psutil==7.2.2
pybase64==1.5.1
$REQS_COMMON
"
REQS_0_9_2_post1="
lmdeploy==0.9.2.post1
partial-json-parser==0.2.1.1.post7
$REQS_COMMON
"

SMOKE='
import sys
sys.argv = ["lmdeploy"]
from lmdeploy.cli.cli import CLI
from lmdeploy.cli.serve import SubCliServe
CLI.add_parsers(); SubCliServe.add_parsers()
ns = CLI.parser.parse_args(["serve", "api_server", "Qwen/Qwen2.5-7B-Instruct", "--tp", "2", "--backend", "pytorch"])
assert (ns.tp, ns.backend) == (2, "pytorch"), ns
import lmdeploy
print("[conformance] smoke ok: lmdeploy", lmdeploy.__version__, file=sys.stderr)
'

install_one() {  # $1 = version
  local ver="$1" var reqs venv fp t0
  var="REQS_${ver//./_}"
  reqs="${!var:?no pin list for lmdeploy $ver}"
  venv="$DEST/lmdeploy-$ver"
  fp="$(fingerprint "lmdeploy-$ver" "$TORCH_SPEC" "$TORCH_DEPS" "$reqs")"
  if is_current "$venv" "$fp"; then log "lmdeploy $ver: up to date ($venv)"; return 0; fi
  log "lmdeploy $ver: building $venv"
  t0=$SECONDS
  rm -rf "$venv"; run "$PYTHON" -m venv "$venv"
  printf '%s\n' "$TORCH_SPEC" "$TORCH_DEPS" "$reqs" | sed '/^[[:space:]]*$/d' > "$venv/.deployc-requirements.txt"
  run "$venv/bin/python" -m pip install "${PIP_FLAGS[@]}" --report "$venv/$PIP_REPORT_NAME" -r "$venv/.deployc-requirements.txt"
  (cd "$venv" && HF_HUB_OFFLINE=1 "$venv/bin/python" -c "$SMOKE")
  echo "$fp" > "$venv/$STAMP_NAME"
  log "lmdeploy $ver: done in $((SECONDS - t0))s, $(du -sh "$venv" | cut -f1)"
}

if [ "${SKIP_LMDEPLOY:-0}" = 1 ]; then log "SKIP_LMDEPLOY=1: nothing installed"; exit 0; fi
mkdir -p "$DEST"
T0=$SECONDS
for v in $LMDEPLOY_VERSIONS; do install_one "$v"; done
log "lmdeploy: done in $((SECONDS - T0))s"
