#!/usr/bin/env bash
# Conformance tier for --platform kubernetes: kubernetes-validate, which checks manifests against
# the OpenAPI-derived JSON Schemas of a Kubernetes release it bundles (1.25-1.37 in 1.37.0), with
# --strict rejecting unknown fields. No cluster is needed (kubectl needs one even for dry runs).
#
#   conformance/install_kubernetes.sh DEST
#
#   DEST/kubernetes-validate/ : a venv with kubernetes-validate and its requirements, all pinned
#                               and installed with --no-deps.
# The tests validate at KUBERNETES_VERSION (pinned in tests/conformance/test_kubernetes.py; the
# smoke test below uses the same value). A stamp makes a re-run with the same pins take about a
# second. Env: PYTHON (default python3), SKIP_SMOKE=1.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:?usage: install_kubernetes.sh DEST}"
PYTHON="${PYTHON:-python3}"
KUBERNETES_VERSION="1.34.0"
# shellcheck source=conformance/common.sh
source "$HERE/common.sh"

# kubernetes-validate 1.37.0's requirements as pip resolves them on Python 3.11.
REQS="
kubernetes-validate==1.37.0
attrs==26.1.0
importlib_resources==7.1.0
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
packaging==26.3
PyYAML==6.0.3
referencing==0.37.0
rpds-py==2026.9.1
typing_extensions==4.16.0
"

venv="$DEST/kubernetes-validate"
fp="$(fingerprint kubernetes-validate "$REQS" "$KUBERNETES_VERSION")"
if is_current "$venv" "$fp"; then
  log "kubernetes-validate: up to date ($venv)"; exit 0
fi
log "kubernetes-validate: building $venv"
t0=$SECONDS
mkdir -p "$DEST"
if [ -e "$venv" ]; then run rm -rf "$venv"; fi
run "$PYTHON" -m venv "$venv"
printf '%s\n' "$REQS" | sed '/^[[:space:]]*$/d' > "$venv/.deployc-requirements.txt"
run "$venv/bin/python" -m pip install -q "${PIP_FLAGS[@]}" -r "$venv/.deployc-requirements.txt"
if [ "${SKIP_SMOKE:-0}" != 1 ]; then
  log "kubernetes-validate: smoke test at Kubernetes $KUBERNETES_VERSION (one valid, one invalid Service)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  printf 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports: [{port: 80, targetPort: http}]\n' > "$tmp/good.yaml"
  printf 'apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports: [{port: 80, targetPortt: http}]\n' > "$tmp/bad.yaml"
  run "$venv/bin/kubernetes-validate" --strict --quiet -k "$KUBERNETES_VERSION" "$tmp/good.yaml"
  if "$venv/bin/kubernetes-validate" --strict --quiet -k "$KUBERNETES_VERSION" "$tmp/bad.yaml" >/dev/null 2>&1; then
    log "kubernetes-validate: smoke test FAILED: an unknown field passed --strict"; exit 1
  fi
  log "kubernetes-validate: smoke ok ($("$venv/bin/kubernetes-validate" --version))"
fi
echo "$fp" > "$venv/$STAMP_NAME"
log "kubernetes-validate: done in $((SECONDS - t0))s"
