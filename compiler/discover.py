"""Finding the specs under a folder, the way `git` sees the tree (its ignore rules included)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

SPEC_NAME = re.compile(r"^(?:[^/]+\.)?deploy\.ya?ml$")
_SKIP = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", ".conformance"}


def is_spec_name(name: str) -> bool:
    """deploy.yaml, deploy.yml, and NAME.deploy.yaml: what the pre-commit hooks match too."""
    return bool(SPEC_NAME.match(name))


def find_specs(root: Path) -> list[Path]:
    """Every spec under root, sorted; .gitignore'd files are left out inside a git work tree."""
    listed = _git_files(root)
    if listed is None:
        listed = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith("."))
            listed += [Path(folder, f).relative_to(root) for f in files]
    found = sorted(p for p in listed if is_spec_name(p.name))
    return [root / p if root != Path(".") else p for p in found]


def _git_files(root: Path) -> list[Path] | None:
    try:
        proc = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                              cwd=root, capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    return [Path(p) for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0")
            if p and (root / p).is_file()]
