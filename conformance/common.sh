# Shared by the conformance installers (sourced, not run): pip settings, logging, the pinned
# requirements of CPU torch, and the stamp files that make a re-run with unchanged pins take seconds.
# The sourcing script sets PYTHON first.

export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1
export GIT_TERMINAL_PROMPT=0
STAMP_NAME=".deployc-conformance-stamp"
PIP_REPORT_NAME=".deployc-pip-report.json"  # pip install --report: which wheel files, with sha256
PIP_FLAGS=(--no-deps --no-compile --progress-bar off)
if [ -d /opt/wheels ]; then PIP_FLAGS+=(--find-links /opt/wheels); fi

log() { printf '[conformance] %s\n' "$*" >&2; }
run() { printf '+ %s\n' "$*" >&2; "$@"; }

# torch 2.13.0's own runtime requirements (torch itself is installed --no-deps)
TORCH_DEPS="
filelock==4.2.11
fsspec==2026.9.0
Jinja2==3.1.6
MarkupSafe==3.0.4
mpmath==1.3.0
networkx==3.6.1
sympy==1.14.0
typing_extensions==4.16.0
"

pyver() { "$1" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])'; }

fingerprint() {  # $1 = venv name, $2... = spec text
  local name="$1"; shift
  { echo "$name"; echo "python=$(pyver "$PYTHON")"; echo "pip=${PIP_FLAGS[*]}"; printf '%s\n' "$@"; } | sha256sum | cut -d' ' -f1
}

is_current() {  # $1 = venv dir, $2 = fingerprint
  [ -f "$1/$STAMP_NAME" ] && [ "$(cat "$1/$STAMP_NAME")" = "$2" ] && [ -x "$1/bin/python" ]
}
