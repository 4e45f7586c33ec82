#!/usr/bin/env bash
# Conformance tier for the TGI target: the Compose specification's JSON Schema + jsonschema.
#
#   conformance/install_tgi.sh DEST
#
# TGI itself (text-generation-launcher, a Rust binary in a CUDA image) cannot run here; its
# option tables are committed data (targets/tgi/tgi-launcher-*.json, extracted from the
# pinned tags' launcher/src/main.rs) and need no install. What this installs is a judge for
# compose.yaml besides the docker-compose binary (install.sh's compose/ venv):
#
#   DEST/compose-schema/ : a venv with jsonschema and its requirements, and check-jsonschema
#                          for the compose-spec.json it vendors (only that file is used; the
#                          sha256 is pinned in conformance/compose_schema_probe.py).
# All pinned and installed with --no-deps; a stamp makes a re-run with the same pins take
# about a second. Env: PYTHON (default python3), SKIP_SMOKE=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:?usage: install_tgi.sh DEST}"
PYTHON="${PYTHON:-python3}"
STAMP_NAME=".deployc-conformance-stamp"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

# jsonschema 4.26.0's requirements, as pip resolves them for check-jsonschema 0.39.0 (Python 3.11).
REQS="
check-jsonschema==0.39.0
jsonschema==4.26.0
attrs==26.1.0
jsonschema-specifications==2025.9.1
referencing==0.37.0
rpds-py==2026.9.1
typing_extensions==4.16.0
"

log() { printf '[conformance/tgi] %s\n' "$*" >&2; }
run() { printf '+ %s\n' "$*" >&2; "$@"; }

venv="$DEST/compose-schema"
fp="$({ echo compose-schema; "$PYTHON" -c 'import sys; print(sys.version_info[:3])'; echo "$REQS";
        sha256sum "$HERE/compose_schema_probe.py" | cut -d' ' -f1; } | sha256sum | cut -d' ' -f1)"
if [ -f "$venv/$STAMP_NAME" ] && [ "$(cat "$venv/$STAMP_NAME")" = "$fp" ] && [ -x "$venv/bin/python" ]; then
  log "compose-schema: up to date ($venv)"; exit 0
fi
log "compose-schema: building $venv"
mkdir -p "$DEST"
if [ -e "$venv" ]; then run rm -rf "$venv"; fi
run "$PYTHON" -m venv "$venv"
printf '%s\n' "$REQS" | sed '/^[[:space:]]*$/d' > "$venv/.deployc-requirements.txt"
run "$venv/bin/python" -m pip install -q --no-deps --no-compile --progress-bar off -r "$venv/.deployc-requirements.txt"
if [ "${SKIP_SMOKE:-0}" != 1 ]; then
  log "compose-schema: smoke test (one valid and one invalid document)"
  echo '[{"id": "good", "document": {"services": {"a": {"image": "x", "shm_size": "1g"}}}},
         {"id": "bad", "document": {"services": {"a": {"image": "x", "shm_sise": "1g"}}}}]' \
    | "$venv/bin/python" "$HERE/compose_schema_probe.py" \
    | "$venv/bin/python" -c '
import json, sys
r = {x["id"]: x["ok"] for x in json.load(sys.stdin)["results"]}
assert r == {"good": True, "bad": False}, r
print("[conformance/tgi] smoke ok: compose-spec.json judges", file=sys.stderr)'
fi
echo "$fp" > "$venv/$STAMP_NAME"
log "compose-schema: done"
