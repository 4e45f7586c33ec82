"""From the inputs of `deployc import` (a command, or files holding commands, Modelfiles, Compose files)
to one spec: each input read by its target's importer, several inputs merged into one spec with several
targets, the values they disagree on reported."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from deployc.compiler.api.importing import Importer
from deployc.compiler.imports import Imported, ImportError_, import_argv, match_command, printable
from deployc.compiler.imports.yamlout import report, to_yaml


@dataclass
class Input:
    argv: list[str]
    source: str          # how the report names it


@dataclass
class Outcome:
    items: list[Imported]
    spec: str
    report: str
    disagreements: list[str] = field(default_factory=list)
    checks: list[Any] = field(default_factory=list)


def importers() -> dict[str, tuple[Any, Importer]]:
    """Every registered target with an importer: name -> (target, importer)."""
    from deployc.compiler.registry import Registry

    reg = Registry.discover()
    out = {}
    for name in reg.names:
        target, _ = reg.load(name)
        imp = target.importer() if target is not None else None
        if imp is not None:
            out[name] = (target, imp)
    return out


def command_lines(text: str) -> list[list[str]]:
    """The commands of a shell snippet: `\\` continuations joined, comments and blank lines skipped."""
    joined = re.sub(r"\\\r?\n", " ", text)
    out = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            words = shlex.split(line, comments=True)
            if words:
                out.append(words)
    return out


def read_inputs(words: Sequence[str], known: dict[str, tuple[Any, Importer]]) -> list[Input]:
    if words and match_command(words, [imp for _, imp in known.values()]) is not None:
        return [Input(list(words), shlex.join(words))]
    out = []
    for word in words:
        path = Path(word)
        if not path.is_file():
            raise ImportError_(f"{word!r} is neither a command deployc can import nor a file")
        for argv in command_lines(path.read_text(encoding="utf-8")):
            out.append(Input(argv, f"{word}: {shlex.join(argv)}"))
        if not out:
            raise ImportError_(f"{word} holds no command")
    return out


def version_of(target: Any, imp: Importer, asked: str | None) -> tuple[str, str]:
    """(the version the spec pins, the version whose table reads the command)."""
    if asked is None:
        return imp.versions[0], imp.versions[0]
    v = target.version_for(asked)
    if v is None:
        raise ImportError_(f"{imp.title} {asked} is not a version deployc has read; it has "
                           + ", ".join(imp.versions))
    return asked, v.data_version


def run(words: Sequence[str], gpu: str | None, engine_version: str | None, check: bool) -> Outcome:
    known = importers()
    inputs = read_inputs(words, known)
    items: list[Imported] = []
    data_versions: dict[str, str] = {}
    for inp in inputs:
        hit = match_command(inp.argv, [imp for _, imp in known.values()])
        if hit is None:
            raise ImportError_(f"not a command deployc can import: {printable(inp.source)} (it reads "
                               + ", ".join(" ".join(c) for _, imp in known.values() for c in imp.commands) + ")")
        imp, n = hit
        target = known[imp.target][0]
        version, data_version = version_of(target, imp, engine_version)
        if any(i.target == imp.target for i in items):
            raise ImportError_(f"two commands for {imp.title}: a spec has one targets.{imp.target}")
        items.append(import_argv(inp.argv[n:], imp, version, data_version))
        data_versions[imp.target] = data_version
    disagreements = []
    for path in dict.fromkeys(p for i in items for p in i.fields):
        values = [(i.title, i.fields[path][0]) for i in items if path in i.fields]
        if len({repr(v) for _, v in values}) > 1:
            disagreements.append(f"{path}: " + ", ".join(f"{t} says {printable(repr(v))}" for t, v in values)
                                 + f"; the spec keeps {printable(repr(values[0][1]))}: pick one")
    spec = to_yaml(items, gpu, [i.source for i in inputs])
    out = Outcome(items, spec, report(items), disagreements)
    if check:
        from deployc.compiler.imports.roundtrip import compare

        for item in items:
            out.checks.append(compare(item, known[item.target][1], data_versions[item.target], spec))
    return out
