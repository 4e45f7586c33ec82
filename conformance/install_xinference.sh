#!/usr/bin/env bash
# Conformance tier installer for the xinference target: the real `xinference` click CLI and
# the real xinference-client, per pinned version, with no model runtime (no torch, no vLLM).
#
#   conformance/install_xinference.sh DEST
#
# Creates DEST/xinference-4.1.0/ and DEST/xinference-1.17.1/ (python -m venv): xinference and
# xinference-client installed --no-deps plus only what importing xinference.deploy.cmdline
# and xinference_client needs (found by trial: import, ModuleNotFoundError, add). Enough to
# parse launch.sh's argv with the real click command and run the real launch_model up to its
# HTTP request; nothing can load a model. 4.1.0 also gets what importing its model registry
# (xinference.model.llm.llm_family) needs, CPU torch and transformers (about 1.2 GB), to parse
# register.json and look built-in models up; 1.17.1's registry imports torchvision, whose
# PyPI wheel does not load on CPU torch, so it has no registry judge.
# A stamp file per venv makes a re-run with the same pins take seconds.
#
# Env: PYTHON (default python3; pins are for 3.11), XINFERENCE_VERSIONS (subset), SKIP_SMOKE=1,
#      TORCH_SPEC (default torch==2.13.0+cpu, found in /opt/wheels when present; never let it
#      float: plain `torch` pulls multi-GB CUDA builds).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:?usage: install_xinference.sh DEST}"
PYTHON="${PYTHON:-python3}"
XINFERENCE_VERSIONS="${XINFERENCE_VERSIONS:-4.1.0 1.17.1}"
STAMP_NAME=".deployc-conformance-stamp"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0+cpu}"
PIP_FLAGS=(--no-deps --no-compile --progress-bar off)
if [ -d /opt/wheels ]; then PIP_FLAGS+=(--find-links /opt/wheels); fi

log() { printf '[conformance] %s\n' "$*" >&2; }
run() { printf '+ %s\n' "$*" >&2; "$@"; }

# What importing xinference.deploy.cmdline (xoscar, pandas via xoscar) and xinference_client needs.
REQS_COMMON="
aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiosignal==1.4.0
annotated-types==0.8.0
attrs==26.1.0
certifi==2026.10.18
charset-normalizer==3.5.2
click==8.1.8
cloudpickle==3.1.2
frozenlist==1.8.0
idna==3.20
multidict==7.2.1
numpy==2.4.6
pandas==3.1.1
propcache==0.5.4
psutil==7.2.2
pydantic==2.14.3
pydantic_core==2.50.4
python-dateutil==4.0.0
pytz==2026.6
requests==2.34.2
six==1.17.0
tblib==3.2.2
tqdm==4.70.1
typing-inspection==0.4.5
typing_extensions==4.16.0
tzdata==2026.6
urllib3==2.8.0
xoscar==0.12.2
yarl==1.25.1
"
# What importing xinference.model.llm.llm_family (the model registry) adds.
REQS_REGISTRY="
anyio==4.16.0
filelock==4.2.11
fsspec==2026.9.0
httpx2==2.16.2
huggingface_hub==0.36.2
Jinja2==3.1.6
MarkupSafe==3.0.4
mpmath==1.3.0
networkx==3.6.1
openai==3.54.0
orjson==3.13.0
packaging==26.3
pillow==13.0.0
PyYAML==6.0.3
regex==2026.11.15
safetensors==0.8.0
sniffio==1.3.1
sse-starlette==3.7.0
starlette==1.10.0
sympy==1.14.0
tokenizers==0.22.2
transformers==4.57.6
"
# click<8.2.0 and xoscar>=0.12.1 (4.1.0) / >=0.7.13 (1.17.1): xinference's own Requires-Dist.
REQS_4_1_0="xinference==4.1.0
xinference-client==4.1.0
$TORCH_SPEC
$REQS_REGISTRY"
REQS_1_17_1="xinference==1.17.1
xinference-client==1.16.0"

fingerprint() {
  { echo "$1"; "$PYTHON" -c 'import sys; print(sys.version_info[:3])'; shift; printf '%s\n' "$@"; } | sha256sum | cut -d' ' -f1
}

install_version() {
  local ver="$1" var reqs venv fp reqfile
  var="REQS_${ver//./_}"
  reqs="${!var:?no pin list for xinference $ver}"
  venv="$DEST/xinference-$ver"
  fp="$(fingerprint "xinference-$ver" "$reqs" "$REQS_COMMON")"
  if [ -f "$venv/$STAMP_NAME" ] && [ "$(cat "$venv/$STAMP_NAME")" = "$fp" ] && [ -x "$venv/bin/python" ]; then
    log "xinference $ver: up to date ($venv)"; return 0
  fi
  log "xinference $ver: building $venv"
  if [ -e "$venv" ]; then run rm -rf "$venv"; fi
  run "$PYTHON" -m venv "$venv"
  reqfile="$venv/.deployc-requirements.txt"
  printf '%s\n%s\n' "$reqs" "$REQS_COMMON" | sed '/^[[:space:]]*$/d' > "$reqfile"
  run "$venv/bin/python" -m pip install "${PIP_FLAGS[@]}" -r "$reqfile"
  if [ "${SKIP_SMOKE:-0}" != 1 ]; then
    "$venv/bin/python" - "$ver" <<'PY'
import sys
import xinference, xinference_client
from xinference.deploy.cmdline import cli
registry = "no model registry"
if sys.argv[1] != "1.17.1":
    from xinference.model.llm.llm_family import BUILTIN_LLM_FAMILIES
    registry = f"{len(BUILTIN_LLM_FAMILIES)} built-in LLMs"
ctx = cli.get_command(None, "launch").make_context(
    "launch", ["--model-name", "m", "--model-engine", "vllm", "--max_model_len", "4096"])
assert xinference.__version__ == sys.argv[1], xinference.__version__
assert ctx.params["model_engine"] == "vllm" and ctx.args == ["--max_model_len", "4096"], (ctx.params, ctx.args)
print(f"[conformance] smoke ok: xinference {xinference.__version__} launch parser, "
      f"{registry}, xinference-client {xinference_client.__version__}",
      file=sys.stderr)
PY
  fi
  echo "$fp" > "$venv/$STAMP_NAME"
}

mkdir -p "$DEST"
for v in $XINFERENCE_VERSIONS; do install_version "$v"; done
