"""XInference's own model registry, as data: which hub ids are built-in models, and under which name,
size, format and quantization XInference launches them.

registry/<version>.json is read from each pinned release's wheel by conformance/extract/xinference.py
(4.x: xinference/model/llm/models/*.json; 1.x: xinference/model/llm/llm_family.json; the wheel's
sha256 and every file's sha256 are in its "source"), and the conformance tier re-extracts it and
compares byte for byte. Per family it keeps the name, architectures, abilities and context length;
per spec the format, the size (XInference's spelling: 7, or "0_5") and per hub the model_id and the
quantizations (a model_id may hold "{quantization}", which XInference fills in: llm_family.py).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from deployc.compiler.api import model_spellings

REGISTRY = Path(__file__).parent / "registry"
HUB = "huggingface"   # the hub XInference downloads from by default (download_hub None -> huggingface)


@dataclass(frozen=True)
class Builtin:
    """One built-in checkpoint: the launch's model_name, model_size_in_billions, model_format and the
    registry's quantizations for it (one when the hub id names it)."""

    name: str
    size: int | str
    format: str
    quantizations: tuple[str, ...]
    model_id: str


@cache
def models(version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REGISTRY / f"{version}.json").read_text(encoding="utf-8"))["models"]
    return data


@cache
def _by_hub_id(version: str) -> dict[str, Builtin]:
    """lower-cased hub id -> the built-in checkpoint it is (templated ids expanded per quantization)."""
    out: dict[str, Builtin] = {}
    for name in sorted(models(version)):
        for spec in models(version)[name]["specs"]:
            hub = spec["hubs"].get(HUB)
            if not hub or not hub.get("model_id"):
                continue
            mid, quants = hub["model_id"], tuple(hub.get("quantizations") or ())
            pairs = [(mid.replace("{quantization}", q), (q,)) for q in quants] if "{quantization}" in mid \
                else [(mid, quants)]
            for repo, qs in pairs:
                out.setdefault(repo.lower(), Builtin(name, spec["model_size_in_billions"], spec["model_format"],
                                                     qs, repo))
    return out


def by_hub_id(version: str, repo_id: str) -> Builtin | None:
    """The built-in checkpoint a hub id is in XInference `version`'s registry, or None; a renamed repo
    matches under either name (api.model_spellings: meta-llama/Llama-3.1-8B-Instruct is the registry's
    meta-llama/Meta-Llama-3.1-8B-Instruct)."""
    table = _by_hub_id(version)
    return next((table[s.lower()] for s in model_spellings(repo_id) if s.lower() in table), None)


def checkpoints(version: str, name: str) -> list[Builtin]:
    """Every checkpoint of built-in model `name` (in registry order); [] when the name is not built in."""
    entry = models(version).get(name)
    if entry is None:
        return []
    out = []
    for spec in entry["specs"]:
        hub: dict[str, Any] = spec["hubs"].get(HUB) or next(iter(spec["hubs"].values()), {})
        out.append(Builtin(name, spec["model_size_in_billions"], spec["model_format"],
                           tuple(hub.get("quantizations") or ()), hub.get("model_id") or ""))
    return out


def size_value(size: int | str) -> float:
    """7 -> 7.0, "0_5" -> 0.5 (XInference's spelling of a fractional size)."""
    return float(str(size).replace("_", "."))


def closest_names(version: str, name: str, n: int = 3) -> list[str]:
    names = sorted(models(version))
    lower = {x.lower(): x for x in names}
    return [lower[x] for x in difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.5)]


def families_for(version: str, architecture: str | None, near: str, n: int = 3) -> list[str]:
    """Chat-capable built-in families of this architecture, the names closest to `near` first; [] when
    the architecture is unknown or no family has it."""
    if architecture is None:
        return []
    names = [name for name, e in models(version).items()
             if architecture in e["architectures"] and "chat" in e["abilities"]]
    near = near.lower()
    return sorted(names, key=lambda x: (-difflib.SequenceMatcher(None, x.lower(), near).ratio(), x))[:n]
