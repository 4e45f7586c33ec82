"""Derivative checkpoints: a hub id the catalog lacks, resolved to the catalog entry it is built on.

A new release of the same architecture (DeepSeek-V3-0324), a re-quantized copy (nvidia/...-FP8,
RedHatAI/...-quantized.w4a16, unsloth/...-bnb-4bit, Qwen/...-AWQ) or a mirror under another
organisation has its base model's layers, heads and context, and its own quantization. The rows are
data (model_aliases.json): releases the catalog cites (model_catalog.json "derivatives"), other spellings of a name, and the
quantization a name's suffix states. What a row cites is a fact; what a name suggests is an
inference, and says so (``Derived.inferred``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from collections.abc import Collection, Iterable, Mapping


@dataclass(frozen=True)
class Derived:
    base: str                       # the catalog id whose architecture the checkpoint has
    why: str                        # for messages: the row's source, or the name rule that matched
    quant: tuple[str | None, int | None] | None = None   # the checkpoint's (method, bits); None: the base's own
    inferred: bool = False          # read from the checkpoint's name, not from a cited row


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(__file__).with_name("model_aliases.json").read_text(encoding="utf-8"))
    return data


def _split(repo_id: str) -> tuple[str, str]:
    org, _, name = repo_id.rpartition("/")
    return org, name


def resolve(repo_id: str, catalog_ids: Collection[str], rows: Iterable[Mapping[str, Any]] = ()) -> Derived | None:
    """The catalog entry repo_id derives from, or None. catalog_ids: the catalog's ids (any case); rows: the
    catalog's cited derivative checkpoints ({id, base, note}: model_catalog.json "derivatives")."""
    rows = list(rows)
    by_lower = {c.lower(): c for c in catalog_ids}
    if repo_id.lower() in by_lower:
        return None
    row = _row(repo_id, by_lower, rows)
    if row is not None:
        return row
    org, name = _split(repo_id)
    for suffix in _table()["suffixes"]:
        orgs = [o.lower() for o in suffix.get("orgs", [])]
        if (orgs and org.lower() not in orgs) or not name.lower().endswith(suffix["suffix"].lower()):
            continue
        stem = name[: -len(suffix["suffix"])]
        found = _by_name(org, stem, by_lower, rows)
        if found is not None:
            bits = suffix["bits"]
            label = f"{suffix['quant_method']} ({bits}-bit)" if suffix["quant_method"] else f"{bits}-bit"
            return Derived(found.base, f"{found.why}; its quantization, {label}, read from the suffix "
                           f"{suffix['suffix']!r} of its name", (suffix["quant_method"], bits), inferred=True)
        break
    found = _by_name(org, name, by_lower, rows)
    return found if found is None or found.base.lower() != repo_id.lower() else None


def spellings(repo_id: str) -> tuple[str, ...]:
    """repo_id and its other spellings under the table's renames (Meta-Llama-3.1-8B-Instruct is
    Llama-3.1-8B-Instruct, either way round), for matching hub ids written either way."""
    org, name = _split(repo_id)
    out = [repo_id]
    for r in _table()["renames"]:
        for a, b in ((r["from"], r["to"]), (r["to"], r["from"])):
            if name.lower().startswith(a.lower()):
                out.append(f"{org}/{b}{name[len(a):]}" if org else b + name[len(a):])
    return tuple(dict.fromkeys(out))


def _row(repo_id: str, by_lower: dict[str, str], rows: list[Mapping[str, Any]]) -> Derived | None:
    for row in rows:
        if row["id"].lower() == repo_id.lower() and row["base"].lower() in by_lower:
            return Derived(by_lower[row["base"].lower()], row.get("note", ""))
    return None


def _by_name(org: str, name: str, by_lower: dict[str, str], rows: list[Mapping[str, Any]]) -> Derived | None:
    """A catalog entry (or a cited release) of the same name, under any organisation, after renames."""
    names = [name] + [r["to"] + name[len(r["from"]):] for r in _table()["renames"]
                      if name.lower().startswith(r["from"].lower())]
    for candidate in names:
        same_org = f"{org}/{candidate}".lower()
        if same_org in by_lower:
            return Derived(by_lower[same_org], f"named after {by_lower[same_org]}", inferred=True)
        for lower, original in sorted(by_lower.items()):
            if _split(lower)[1] == candidate.lower():
                return Derived(original, f"named after {original}", inferred=True)
        for row in rows:
            if _split(row["id"])[1].lower() == candidate.lower() and row["base"].lower() in by_lower:
                return Derived(by_lower[row["base"].lower()], f"named after {row['id']} ({row.get('note', '')})",
                               inferred=True)
    return None
