"""Helpers shared by the source-reading option-table extractors (tgi, tensorrt_llm, ollama, xinference).

Stdlib only. Every extractor writes one JSON file per engine version in the shared format
(see conformance/README.md, "Option tables"): sorted keys, indent 1, ASCII, one trailing
newline, nothing that depends on when or where it ran, so a re-run is byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def dumps(data: dict) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(data), encoding="utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class GitTag:
    """Read files of one tag of a (bare) git mirror and remember the sha256 of each file read."""

    def __init__(self, git_dir: str, tag: str):
        self.git_dir, self.tag = git_dir, tag
        self.commit = self._git("rev-parse", f"{tag}^{{commit}}").decode().strip()
        self.read: dict[str, str] = {}

    def _git(self, *args: str) -> bytes:
        return subprocess.run(["git", "--git-dir", self.git_dir, *args], check=True, capture_output=True).stdout

    def show(self, path: str) -> str:
        data = self._git("show", f"{self.commit}:{path}")
        self.read[path] = sha256(data)
        return data.decode("utf-8")

    def source(self, repo: str) -> dict:
        return {"repo": repo, "tag": self.tag, "commit": self.commit, "files": sorted(self.read),
                "file_sha256": dict(sorted(self.read.items()))}


def option(*, aliases=(), dest, takes_value, type, choices=None, default=None, env=None, multiple=False,
           deprecated=False, **extra) -> dict:
    """One option entry with every key of the shared format present (extra keys are engine-specific)."""
    return {"aliases": sorted(aliases), "dest": dest, "takes_value": takes_value, "type": type,
            "choices": list(choices) if choices is not None else None, "default": default, "env": env,
            "multiple": multiple, "deprecated": deprecated, **extra}
