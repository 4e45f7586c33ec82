"""The model-facts lock: config.json of a hub model at one commit, committed beside the spec.

``deployc facts MODEL [--revision R]`` fetches a checkpoint's config.json (and the size of its
safetensors weights) once, through huggingface_hub, and records it here with the commit it came
from; every build after that, on any machine, reads the same numbers. One file per folder holds
every model its specs name::

    {
      "generator": "deployc facts",
      "models": {
        "org/name": {"revision": "main", "commit": "<40 hex>", "base_model": "org/base" | null,
                     "weights_bytes": 16060522496 | null, "config": {...config.json...}},
        "org/name@v2": {...}
      }
    }

A key is the hub id, with ``@revision`` when the spec pins one other than main. This module only
reads and formats the file; the CLI writes it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Mapping

LOCK_NAME = "model-facts.lock.json"
MAX_LOCK_BYTES = 16 << 20
GENERATOR = "deployc facts"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Locked:
    """One model's entry: what the hub served for (model, revision) at commit."""

    model: str
    revision: str
    commit: str
    config: Mapping[str, Any]
    base_model: str | None = None
    weights_bytes: int | None = None

    @property
    def cite(self) -> str:
        return f"https://huggingface.co/{self.model}/blob/{self.commit}/config.json"

    @property
    def label(self) -> str:
        """Where the facts came from, for `plan` and messages: the file and the commit."""
        return f"{LOCK_NAME} ({self.model}@{self.commit[:12]})"

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "commit": self.commit, "base_model": self.base_model,
                "weights_bytes": self.weights_bytes, "config": dict(self.config)}


def key(model: str, revision: str | None) -> str:
    return model if revision in (None, "main") else f"{model}@{revision}"


def read(folder: Path) -> tuple[dict[str, Locked], str | None]:
    """(entries by key, problem): no file is ({}, None); a file deployc cannot use says why."""
    path = folder / LOCK_NAME
    try:
        if not path.is_file():
            return {}, None
        if path.stat().st_size > MAX_LOCK_BYTES:
            return {}, f"{LOCK_NAME} is larger than {MAX_LOCK_BYTES >> 20} MiB"
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return {}, f"cannot read {LOCK_NAME}: {exc}"
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        return {}, f"{LOCK_NAME} has no \"models\" object"
    out: dict[str, Locked] = {}
    for k, v in models.items():
        entry = _entry(k, v)
        if entry is None:
            return {}, f"{LOCK_NAME}: the entry {k!r} is not one `deployc facts` writes (rerun it)"
        out[k] = entry
    return out, None


def _entry(k: Any, v: Any) -> Locked | None:
    if not isinstance(k, str) or not isinstance(v, dict):
        return None
    model = k.split("@", 1)[0]
    commit, config, revision = v.get("commit"), v.get("config"), v.get("revision", "main")
    base, size = v.get("base_model"), v.get("weights_bytes")
    if not (isinstance(commit, str) and _COMMIT.match(commit) and isinstance(config, dict)
            and isinstance(revision, str) and (base is None or isinstance(base, str))
            and (size is None or (isinstance(size, int) and not isinstance(size, bool) and size > 0))):
        return None
    return Locked(model, revision, commit, config, base, size)


def lookup(folder: Path, model: str, revision: str | None) -> tuple[Locked | None, str | None]:
    """The entry for model at revision (a pinned commit matches the entry locked at it), or None and,
    when the file cannot be used or holds the model only at another revision, why."""
    entries, problem = read(folder)
    if problem:
        return None, problem
    mine = {k: e for k, e in entries.items() if e.model.lower() == model.lower()}
    wanted = key(model, revision).lower()
    for k, e in mine.items():
        if k.lower() == wanted or (revision is not None and revision.lower() == e.commit):
            return e, None
    if mine:
        have = ", ".join(sorted(f"{e.revision} ({e.commit[:12]})" for e in mine.values()))
        return None, f"{LOCK_NAME} holds {model} at {have}, not at {revision or 'main'}"
    return None, None


def updated_text(folder: Path, entry: Locked) -> str:
    """The lock file's new text with entry added (or replacing the same model and revision); entries
    sorted, so the same facts give the same bytes."""
    entries, problem = read(folder)
    if problem:
        raise ValueError(problem)
    entries = {k: e for k, e in entries.items() if k.lower() != key(entry.model, entry.revision).lower()}
    entries[key(entry.model, entry.revision)] = entry
    body = {"generator": GENERATOR,
            "models": {k: entries[k].to_json() for k in sorted(entries, key=str.lower)}}
    return json.dumps(body, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
