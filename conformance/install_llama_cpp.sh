#!/usr/bin/env bash
# Conformance tier, llama.cpp: a CPU build of the real llama-server, from the llama.cpp source that
# PyPI's llama-cpp-python source distribution carries (vendor/llama.cpp), and a venv that converts
# a Hugging Face model to GGUF with that same source's own converter.
#
#   conformance/install_llama_cpp.sh DEST
#
# Creates:
#   DEST/llama-cpp-src/<llama-cpp-python version>/   the unpacked sdists (and their sha256): the
#       llama.cpp trees the option tables are extracted from (conformance/extract/llama_cpp.py):
#         0.3.35 vendors ggml-org/llama.cpp 4df29be4f4c3673f428170fda944a5b19f743bb8 (b10454)
#         0.3.34 vendors ggml-org/llama.cpp e3546c7948e3af463d0b401e6421d5a4c2faf565 (b9976)
#       (the submodule pointer vendor/llama.cpp of llama-cpp-python's tags v0.3.35 and v0.3.34;
#       targets/llama_cpp/versions.py says how the b-numbers were established).
#   DEST/llama-cpp-b10454/bin/llama-server   CPU build of 0.3.35's vendored tree: cmake Release,
#       only the llama-server target, -j2, no Web UI, no OpenSSL, no GPU backends; the build number
#       and commit are passed to cmake so `llama-server --version` names them.
#   DEST/llama-cpp-convert/                  python -m venv: CPU torch 2.13.0 (local wheel),
#       transformers 4.57.6 (the pin of the tree's requirements-convert_legacy_llama.txt),
#       sentencepiece, protobuf<5, numpy and the tree's own gguf-py (all pinned, --no-deps), plus
#       the openai client; it builds the tiny test model (conformance/tiny_llama.py), converts it
#       with the tree's convert_hf_to_gguf.py and runs the client of tests/conformance/test_e2e_llama_cpp.py.
# Each part gets a stamp once its smoke test passed; a re-run with the same pins takes seconds.
# Measured 2026-12-05 on the shared 2-core machine: the llama-server build alone 734 s wall with -j2
# (731 s of CPU: user 676 s + sys 55 s, so about 6-7 minutes on 2 idle cores; 2314 s when four other
# jobs shared the cores); the two sdists (75 MB each) and the convert venv about 2.5 min; 15 MB binary.
# Env: PYTHON (default python3; pins are for 3.11), TORCH_SPEC (default torch==2.13.0+cpu),
#      SKIP_LLAMA_CPP=1 (install nothing), SKIP_LLAMA_CPP_BUILD=1 (sources and venv only), JOBS (default 2).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="$(mkdir -p "${1:?usage: install_llama_cpp.sh DEST}" && cd "$1" && pwd)"
PYTHON="${PYTHON:-python3}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0+cpu}"
JOBS="${JOBS:-2}"
# shellcheck source=conformance/common.sh
source "$HERE/common.sh"

# llama-cpp-python version -> "build-number commit" of the llama.cpp it vendors.
declare -A VENDORED=(
  [0.3.35]="10454 4df29be4f4c3673f428170fda944a5b19f743bb8"
  [0.3.34]="9976 e3546c7948e3af463d0b401e6421d5a4c2faf565"
)
SERVED_PYPKG="0.3.35"   # the build the end-to-end test serves with

REQS_CONVERT="
annotated-types==0.8.0
anyio==4.16.0
certifi==2026.10.18
charset-normalizer==3.5.2
h11==0.16.0
hf-xet==1.8.0
httpcore2==2.16.2
httpx2==2.16.2
huggingface_hub==0.36.2
idna==3.20
jiter==0.19.0
numpy==2.4.6
openai==3.60.0
packaging==26.3
protobuf==4.25.9
pydantic==2.14.3
pydantic_core==2.50.4
PyYAML==6.0.3
regex==2026.11.15
requests==2.34.2
safetensors==0.8.0
sentencepiece==0.2.3
sniffio==1.3.1
tokenizers==0.22.2
tqdm==4.70.1
transformers==4.57.6
truststore==0.10.5
typing-inspection==0.4.5
urllib3==2.8.0
"

fetch_source() {  # $1 = llama-cpp-python version; prints the vendored llama.cpp dir
  local ver="$1" dir="$DEST/llama-cpp-src/$1" fp
  fp="$(fingerprint "llama-cpp-src-$ver" "${VENDORED[$ver]}")"
  if [ -f "$dir/$STAMP_NAME" ] && [ "$(cat "$dir/$STAMP_NAME")" = "$fp" ]; then
    echo "$dir/llama_cpp_python-$ver/vendor/llama.cpp"; return 0
  fi
  rm -rf "$dir"; mkdir -p "$dir"
  run "$PYTHON" -m pip download --no-deps --no-binary :all: --progress-bar off -d "$dir" "llama-cpp-python==$ver" >&2
  (cd "$dir" && sha256sum "llama_cpp_python-$ver.tar.gz" > sdist.sha256 && tar xzf "llama_cpp_python-$ver.tar.gz" \
     && rm "llama_cpp_python-$ver.tar.gz")
  [ -f "$dir/llama_cpp_python-$ver/vendor/llama.cpp/common/arg.cpp" ] || { log "no vendor/llama.cpp in $ver"; return 1; }
  echo "$fp" > "$dir/$STAMP_NAME"
  echo "$dir/llama_cpp_python-$ver/vendor/llama.cpp"
}

need_toolchain() {  # cmake and a C++ compiler: on this machine kind already; apt-get them where missing
  if command -v cmake >/dev/null && command -v g++ >/dev/null; then return 0; fi
  log "llama.cpp: cmake or g++ missing; apt-get install cmake g++"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends cmake g++ >/dev/null
}

build_server() {  # $1 = llama-cpp-python version
  local ver="$1" src number commit out fp t0
  need_toolchain
  read -r number commit <<< "${VENDORED[$ver]}"
  src="$(fetch_source "$ver")"
  out="$DEST/llama-cpp-b$number"
  fp="$(fingerprint "llama-server-b$number" "$commit" "gcc=$(gcc -dumpfullversion)" "cmake=$(cmake --version | head -1)")"
  if [ -f "$out/$STAMP_NAME" ] && [ "$(cat "$out/$STAMP_NAME")" = "$fp" ] && [ -x "$out/bin/llama-server" ]; then
    log "llama-server b$number: up to date ($out)"; return 0
  fi
  log "llama-server b$number: building from $src (-j$JOBS; about 6-7 minutes on 2 idle cores, 12 when shared)"
  t0=$SECONDS
  rm -rf "$out"; mkdir -p "$out/bin"
  run cmake -S "$src" -B "$out/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF \
    -DGGML_NATIVE=OFF -DLLAMA_BUILD_NUMBER="$number" -DLLAMA_BUILD_COMMIT="${commit:0:9}" >"$out/cmake.log" 2>&1 \
    || { tail -30 "$out/cmake.log" >&2; return 1; }
  run cmake --build "$out/build" --target llama-server -j "$JOBS" >"$out/build.log" 2>&1 \
    || { tail -40 "$out/build.log" >&2; return 1; }
  cp "$out/build/bin/llama-server" "$out/bin/llama-server"
  rm -rf "$out/build"   # the objects: ~1 GB we never need again
  "$out/bin/llama-server" --version >"$out/version.txt" 2>&1 || true
  grep -q "$number" "$out/version.txt" || { log "llama-server --version does not name b$number:"; cat "$out/version.txt" >&2; return 1; }
  "$out/bin/llama-server" --help >"$out/help.txt" 2>&1
  echo "$((SECONDS - t0))" > "$out/build-seconds.txt"
  echo "$fp" > "$out/$STAMP_NAME"
  log "llama-server b$number: built in $((SECONDS - t0))s ($(du -sh "$out/bin/llama-server" | cut -f1))"
}

install_convert() {
  local venv="$DEST/llama-cpp-convert" src fp t0
  src="$(fetch_source "$SERVED_PYPKG")"
  fp="$(fingerprint llama-cpp-convert "$TORCH_SPEC" "$TORCH_DEPS" "$REQS_CONVERT" "${VENDORED[$SERVED_PYPKG]}")"
  if is_current "$venv" "$fp"; then log "llama-cpp-convert: up to date ($venv)"; return 0; fi
  t0=$SECONDS
  rm -rf "$venv"; run "$PYTHON" -m venv "$venv"
  printf '%s\n' "$TORCH_SPEC" "$TORCH_DEPS" "$REQS_CONVERT" | sed '/^[[:space:]]*$/d' > "$venv/.deployc-requirements.txt"
  run "$venv/bin/python" -m pip install "${PIP_FLAGS[@]}" --report "$venv/$PIP_REPORT_NAME" -r "$venv/.deployc-requirements.txt"
  run "$venv/bin/python" -m pip install "${PIP_FLAGS[@]}" "$src/gguf-py"
  "$venv/bin/python" -c 'import torch, transformers, gguf, openai, sentencepiece; print("[conformance] convert venv ok:", torch.__version__, transformers.__version__)' >&2
  echo "$fp" > "$venv/$STAMP_NAME"
  log "llama-cpp-convert: done in $((SECONDS - t0))s"
}

main() {
  if [ "${SKIP_LLAMA_CPP:-0}" = 1 ]; then log "SKIP_LLAMA_CPP=1: nothing installed"; return 0; fi
  mkdir -p "$DEST"
  local t0=$SECONDS ver
  for ver in "${!VENDORED[@]}"; do fetch_source "$ver" >/dev/null; done
  install_convert
  if [ "${SKIP_LLAMA_CPP_BUILD:-0}" != 1 ]; then build_server "$SERVED_PYPKG"; fi
  log "llama.cpp: done in $((SECONDS - t0))s"
}

main
