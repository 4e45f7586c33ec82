"""`deployc import --check`: build the imported spec and compare what the engine's parser makes of the
original command with what it makes of deployc's rebuilt one.

Both argvs are read with the same version's option table (argv.py) and put in the form the engine acts
on (the importer's ``effective``: vLLM's --model is its positional, no served name means the model id).
A secret compares as set/unset: the rebuilt command reads it from the variable server.api_key_env names.
A value deployc writes because the spec does not state it (build's `derived`) with the engine's own
meaning (the model's own context window) is not a difference.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from deployc.compiler.api.importing import Importer
from deployc.compiler.diagnostics import Diagnostic, has_errors
from deployc.compiler.imports import Imported, env_tokens, match_command
from deployc.compiler.imports.container import parse_run, runner
from deployc.compiler.imports.argv import parse, table_data

SET = "<set>"


@dataclass
class RoundTrip:
    target: str
    rebuilt: list[str] | None
    differences: list[tuple[str, Any, Any]] = field(default_factory=list)
    why: dict[str, str] = field(default_factory=dict)   # option -> why deployc writes it (build's derived)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rebuilt is not None and not self.differences


def build_command(spec_text: str, target: str, artifacts: dict[str, str] | None = None
                  ) -> tuple[list[str] | None, list[Any], list[Diagnostic]]:
    """The main command the imported spec builds to for `target`, build's derived values and diagnostics."""
    from deployc.compiler import driver
    from deployc.compiler.registry import Registry

    with tempfile.TemporaryDirectory(prefix="deployc-import-") as tmp:
        path = Path(tmp) / "deploy.yaml"
        path.write_text(spec_text, encoding="utf-8")
        done = driver.build(driver.Request(path, [target]), Registry.discover())
        diags = list(done.diagnostics)
        result = done.results[0] if done.results else None
        if result is None or not result.ok or result.lowered is None or result.lowered.command is None \
                or has_errors(diags):
            return None, [], diags
        if artifacts is not None:
            artifacts.update({a.path: a.content for a in result.lowered.artifacts})
        return list(result.lowered.command), list(result.lowered.derived), diags


def compare(item: Imported, imp: Importer, data_version: str, spec_text: str) -> RoundTrip:
    artifacts: dict[str, str] = {}
    command, derived, diags = build_command(spec_text, imp.target, artifacts)
    out = RoundTrip(item.target, None, diagnostics=diags)
    if command is None:
        return out
    if item.file_config is not None and imp.rebuilt_file is not None:
        out.rebuilt = command
        now = imp.rebuilt_file(artifacts)
        out.why = {d.option: d.why for d in derived if d.why}
        for key in sorted(set(item.file_config) | set(now)):
            if item.file_config.get(key) != now.get(key):
                out.differences.append((key, item.file_config.get(key), now.get(key)))
        return out
    out.rebuilt = command
    data = table_data(str(imp.table(data_version)))
    ignore = set(imp.ignore)
    if runner(command):
        run_ = parse_run(command[runner(command):])
        assert run_ is not None
        rebuilt = list(run_.args)
        hit = match_command(rebuilt, [imp])
        rebuilt = rebuilt[hit[1]:] if hit else rebuilt
        rebuilt = env_tokens(run_.env, data, imp)[0] + rebuilt
        if item.container:   # where it listens inside differs; the published port is what clients use
            ignore |= set(imp.inside)
            inside = parse(rebuilt, data, imp.dialect).config.get("port")
            was = item.fields.get("server.port", (8000, ""))[0]
            published = run_.published(int(inside)) if isinstance(inside, int) else None
            if was != published:
                out.differences.append(("published port", was, published))
    else:
        prefix = list(imp.rebuilt_prefix(item.version))
        rebuilt = command[len(prefix):] if command[:len(prefix)] == prefix else command
    if imp.preprocess is not None:   # the files the rebuilt command reads are the build's own artifacts
        rebuilt = imp.preprocess(list(rebuilt), lambda path: next(
            (c for p, c in artifacts.items() if p.rsplit("/", 1)[-1] == path.rsplit("/", 1)[-1]), ""))
    before = parse(item.argv, data, imp.dialect)
    after = parse(rebuilt, data, imp.dialect)
    a, b = before.config, after.config
    if imp.effective is not None:
        a, b = imp.effective(a), imp.effective(b)
    has_key = "server.api_key_env" in item.fields
    for dest in imp.secrets:
        a[dest] = SET if a.get(dest) else None
        b[dest] = SET if b.get(dest) or has_key else None
    owned_by_default = {d.option for d in derived if d.setting == "limits.max_model_len"}
    out.why = {d.option: d.why for d in derived if d.why}
    for dest in sorted(set(a) | set(b)):
        if dest in ignore or a.get(dest) == b.get(dest):
            continue
        option = (before.options.get(dest) or after.options.get(dest) or {}).get("name", dest)
        if option in owned_by_default and dest not in before.given:
            out.notes.append(f"{option} {b.get(dest)!r}: written by deployc as the model's own context window, "
                             f"what {imp.title} uses without it")
            continue
        out.differences.append((option, a.get(dest), b.get(dest)))
    return out


def lines(rt: RoundTrip, title: str) -> list[str]:
    from deployc.compiler.imports import printable, shown

    if rt.rebuilt is None:
        errors = [d for d in rt.diagnostics if d.severity == "error"]
        return [f"{title}: the imported spec does not build:"] + [
            f"  {printable(d.code)}: {printable(d.message)}" for d in errors]
    out = [f"{title}: rebuilt: {shown(rt.rebuilt)}"]
    out += [f"  note: {printable(n)}" for n in rt.notes]
    if not rt.differences:
        out.append(f"{title}: round trip ok: the engine's parsed configuration is the same")
    for option, was, now in rt.differences:
        out.append(f"  differs: {option}: original {printable(repr(was))}, rebuilt {printable(repr(now))}"
                   + (f" (deployc writes it: {printable(rt.why[option])})" if option in rt.why else ""))
    return out


__all__: Sequence[str] = ["RoundTrip", "compare", "lines"]
