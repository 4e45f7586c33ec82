"""The imported spec as a commented deploy.yaml (ruamel.yaml's round-trip dumper: every value quoted as
YAML needs, every comment on one line with control characters escaped)."""

from __future__ import annotations

import io
import re
from typing import Any
from collections.abc import Sequence

from deployc.compiler.imports import Imported, printable, shown

# deploy.yaml's top-level order
ORDER = ("apiVersion", "name", "model", "precision", "parallelism", "speculative", "limits", "cache", "server",
         "hardware", "targets")


def name_for(source: str) -> str:
    """A DNS label from the model id: its last part, lower-cased, other characters as '-'."""
    last = source.rstrip("/").rsplit("/", 1)[-1].lower()
    label = re.sub(r"[^a-z0-9-]+", "-", last).strip("-")[:63].strip("-")
    return label or "imported"


def _comment(text: str) -> str:
    return printable(text).replace("#", "#")


def to_yaml(items: Sequence[Imported], gpu: str | None, sources: Sequence[str]) -> str:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    root = CommentedMap()
    first = items[0]
    root["apiVersion"] = "deployc/v1"
    root["name"] = name_for(str(first.fields["model.source"][0]))
    comments: list[tuple[CommentedMap, str, str]] = []
    merged: dict[str, tuple[Any, str]] = {}
    for item in items:
        for path, (value, why) in item.fields.items():
            if path not in merged:
                merged[path] = (value, f"{item.title}: {why}")
    if gpu:
        merged["hardware.gpu"] = (gpu, "from --gpu (a command line does not say)")
    own: dict[str, dict[str, tuple[Any, str]]] = {}
    for path in [p for p in merged if p.startswith("targets.")]:
        _, name, key = path.split(".", 2)
        own.setdefault(name, {})[key] = merged.pop(path)
    for path in sorted(merged, key=lambda p: (ORDER.index(p.split(".")[0]) if p.split(".")[0] in ORDER else 99)):
        value, why = merged[path]
        node = root
        parts = path.split(".")
        for part in parts[:-1]:
            if part not in node:
                node[part] = CommentedMap()
            node = node[part]
        node[parts[-1]] = _plain(value)
        comments.append((node, parts[-1], why))
    targets = CommentedMap()
    root["targets"] = targets
    for item in items:
        t = CommentedMap()
        t["version"] = item.version
        comments.append((t, "version", "the version whose option table read the command"))
        for key, (value, why) in own.get(item.target, {}).items():
            t[key] = _plain(value)
            comments.append((t, key, why))
        if item.args:
            seq = CommentedSeq()
            for i, (tokens, why) in enumerate(item.args):
                for token in tokens:
                    seq.append(token)
                seq.yaml_add_eol_comment(_comment("raw: " + why), len(seq) - len(tokens))
                _ = i
            t["args"] = seq
        if item.env:
            env = CommentedMap()
            for k, (v, why) in item.env.items():
                env[k] = v
                comments.append((env, k, why))
            t["env"] = env
        targets[item.target] = t
    for node, key, why in comments:
        node.yaml_add_eol_comment(_comment(why), key)
    header = ["Imported by `deployc import` from:"] + [f"  {printable(s)}" for s in sources] + [
        "Review it: the comments say where each value came from; `deployc import --check` proves the round trip."]
    root.yaml_set_start_comment("\n".join(_comment(h) for h in header))
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.allow_unicode = True
    buf = io.StringIO()
    yaml.dump(root, buf)
    return buf.getvalue()


def _plain(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        m = CommentedMap()
        for k, v in value.items():
            m[str(k)] = _plain(v)
        return m
    if isinstance(value, (list, tuple)):
        s = CommentedSeq()
        s.extend(_plain(v) for v in value)
        return s
    return value


def report(items: Sequence[Imported]) -> str:
    lines: list[str] = []
    for item in items:
        lines.append(f"{item.title} {item.version}: {item.count('mapped', 'consumed')} mapped, "
                     f"{item.count('raw')} kept raw, {item.count('default')} dropped as default, "
                     f"{item.count('unknown')} unknown, {item.count('secret')} secret")
        lines += ["  " + e.line() for e in item.entries]
        lines += ["  note: " + printable(n) for n in item.notes]
    return "\n".join(lines) + "\n"


__all__ = ["name_for", "report", "shown", "to_yaml"]
