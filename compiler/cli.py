"""The deployc command line: the only module that reads argv, prints or exits.

Exit codes: 0 success; 1 the spec or the committed outputs are wrong; 2 the
command itself was used wrongly (unknown target, missing file, bad option).
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from compiler.diagnostics import Diagnostic, has_errors, render_text, sort_key

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Compile one reviewed deploy.yaml into serving artifacts for LLM engines.")

OK, SPEC_ERROR, USAGE_ERROR = 0, 1, 2
DEFAULT_SPEC = Path("deploy.yaml")


class Format(str, Enum):
    text = "text"
    json = "json"


def _usage(message: str) -> typer.Exit:
    typer.echo(f"deployc: error: {message}", err=True)
    return typer.Exit(USAGE_ERROR)


def _registry():
    from compiler.registry import Registry

    return Registry.discover()


def _existing(specs: List[Path]) -> List[Path]:
    for spec in specs:
        if not spec.is_file():
            raise _usage(f"{spec}: no such file" + (" (SPEC defaults to ./deploy.yaml; `deployc init` writes one)"
                                                    if spec == DEFAULT_SPEC else ""))
    return specs


def _emit(diags: List[Diagnostic]) -> None:
    if diags:
        typer.echo(render_text(diags), err=True)


def _context(spec: Path, out_dir: Path, compiled):
    from compiler.target_api import BuildContext

    rel = os.path.relpath(spec.parent.resolve(), out_dir.resolve())
    return BuildContext(spec_dir=Path(rel).as_posix(), spec_name=spec.name, spec_digest=compiled.source.digest)


def _out_dir(spec: Path, out: Optional[Path], target: str) -> Path:
    return (out if out is not None else spec.parent / "deploy") / target


def _compile_all(spec: Path, registry, names: Optional[List[str]], out: Optional[Path]):
    """Load one spec and lower the named targets (default: the ones it lists). Returns (compiled, results)."""
    from compiler.pipeline import check_target_keys, compile_target, load_spec

    compiled = load_spec(spec, str(spec))
    results = []
    if not compiled.ok:
        return compiled, results
    compiled.diagnostics += check_target_keys(compiled, registry)
    for name in names if names is not None else [n for n in compiled.plan.targets if n in registry.points]:
        results.append(compile_target(compiled, registry, name, _context(spec, _out_dir(spec, out, name), compiled)))
    return compiled, results


@app.command()
def validate(
    specs: List[Path] = typer.Argument(None, help="deploy.yaml files (default: ./deploy.yaml)."),
    fmt: Format = typer.Option(Format.text, "--format", help="Output format of the diagnostics."),
) -> None:
    """Check specs: schema, semantics and every target they list. Writes nothing."""
    registry = _registry()
    paths = _existing(specs or [DEFAULT_SPEC])
    every: List[Diagnostic] = list(registry.problems)
    for spec in paths:
        compiled, results = _compile_all(spec, registry, None, None)
        every += compiled.diagnostics
        for r in results:
            every += r.diagnostics
        if fmt is Format.text and not has_errors(compiled.diagnostics + [d for r in results for d in r.diagnostics]):
            listed = ", ".join(r.name for r in results) or "no targets listed"
            typer.echo(f"{spec}: ok ({listed})")
    if fmt is Format.json:
        typer.echo(json.dumps({"diagnostics": [d.to_json() for d in sorted(every, key=sort_key)]}, indent=2))
    else:
        _emit(every)
    raise typer.Exit(SPEC_ERROR if has_errors(every) else OK)


@app.command()
def build(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="The deploy.yaml to compile."),
    target: str = typer.Option(..., "--target", "-t", help="A target name, or `all` for the ones the spec lists."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Output folder; each target writes to OUT/<target>/ (default: "
                                            "deploy/ beside the spec)."),
    as_json: bool = typer.Option(False, "--json", help="Print the artifacts as one JSON object; write nothing."),
    force: bool = typer.Option(False, "--force", help="Overwrite generated files that were edited by hand."),
) -> None:
    """Compile a spec into artifacts for one target or all of them."""
    from compiler import writer

    registry = _registry()
    _existing([spec])
    if target == "all":
        if as_json:
            raise _usage("--json prints one target; name it with --target")
        names = None
    elif target not in registry.points:
        from compiler.diagnostics import did_you_mean

        close = did_you_mean(target, registry.names)
        raise _usage(f"unknown target {target!r}" + (f" (did you mean {close[0]}?)" if close else "")
                     + "; registered: " + ", ".join(registry.names) + ", or all")
    else:
        names = [target]
    compiled, results = _compile_all(spec, registry, names, out)
    if as_json:
        r = results[0] if results else None
        lowered = r.lowered if r is not None and r.ok else None
        diags = compiled.diagnostics + (r.diagnostics if r else [])
        typer.echo(json.dumps({
            "target": target,
            "version": r.version if r else None,
            "artifacts": [{"path": a.path, "mode": a.mode, "content": a.content}
                          for a in (lowered.artifacts if lowered else ())],
            "command": list(lowered.command) if lowered and lowered.command is not None else None,
            "diagnostics": [d.to_json() for d in sorted(diags, key=sort_key)],
        }, indent=2, ensure_ascii=False))
        raise typer.Exit(SPEC_ERROR if has_errors(diags) or lowered is None else OK)
    every = list(compiled.diagnostics) + [d for r in results for d in r.diagnostics]
    if compiled.ok and names is None and not results:
        every.append(Diagnostic("targets-empty", "the spec lists no targets", hint="add e.g. `targets: {vllm: {}}` "
                                "or build one with --target NAME", file=str(spec), line=1, column=1))
    if has_errors(every):
        _emit(every)
        raise typer.Exit(SPEC_ERROR)
    plans = [(r, writer.plan_build(_out_dir(spec, out, r.name), r.name, r.version, r.lowered.artifacts, force))
             for r in results]
    every += [d for _, wp in plans for d in wp.diagnostics]
    _emit(every)
    if has_errors(every):
        raise typer.Exit(SPEC_ERROR)
    for r, wp in plans:
        try:
            writer.apply(wp)
        except OSError as exc:
            raise _usage(f"cannot write {wp.out_dir}: {exc.strerror or exc}"
                         + (f" ({exc.filename})" if exc.filename else ""))
        typer.echo(f"{r.name} {r.version}: {wp.out_dir}/ ({len(wp.writes)} written, {len(wp.unchanged)} unchanged"
                   + (f", {len(wp.deletes)} removed" if wp.deletes else "") + ")")
    raise typer.Exit(OK)


@app.command()
def check(
    specs: List[Path] = typer.Argument(None, help="deploy.yaml files (default: ./deploy.yaml)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder the outputs were built into."),
) -> None:
    """Rebuild in memory and compare with the committed outputs; show a diff when they drifted."""
    from compiler import writer

    registry = _registry()
    paths = _existing(specs or [DEFAULT_SPEC])
    every: List[Diagnostic] = list(registry.problems)
    diffs: List[str] = []
    for spec in paths:
        compiled, results = _compile_all(spec, registry, None, out)
        every += compiled.diagnostics
        for r in results:
            every += r.diagnostics
            if not r.ok:
                continue
            for drift in writer.compare(_out_dir(spec, out, r.name), r.name, r.version, r.lowered.artifacts):
                every.append(drift.diagnostic)
                if drift.diff:
                    diffs.append(drift.diff)
        if not has_errors(every):
            typer.echo(f"{spec}: outputs up to date ({', '.join(r.name for r in results) or 'no targets listed'})")
    _emit(every)
    for diff in diffs:
        typer.echo(diff, nl=False)
    raise typer.Exit(SPEC_ERROR if has_errors(every) else OK)


@app.command()
def schema() -> None:
    """Print the JSON Schema of deploy.yaml (the committed schemas/deploy.schema.json)."""
    from compiler.schema import schema_text

    sys.stdout.write(schema_text(_registry()))


@app.command()
def targets(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the registered targets, their engine versions and what each supports."""
    registry = _registry()
    rows = []
    for name in registry.names:
        t, problem = registry.load(name)
        if t is None:
            registry.problems.append(problem)
            continue
        rows.append({"name": name, "title": t.title, "versions": list(t.versions), "default": t.versions[0],
                     "capabilities": {v: sorted(c.value for c in t.capabilities(v)) for v in t.versions}})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            typer.echo(f"{row['name']:<14} {row['title']:<14} versions: {', '.join(row['versions'])} "
                       f"(default {row['default']})")
            typer.echo(f"{'':<14} supports: {', '.join(row['capabilities'][row['default']])}")
    _emit(registry.problems)
    raise typer.Exit(SPEC_ERROR if has_errors(registry.problems) else OK)


@app.command()
def gpus() -> None:
    """List the GPU catalog that hardware.gpu names refer to."""
    from compiler.gpus import CATALOG

    typer.echo(f"{'name':<16} {'memory GiB':>10}  {'compute':>8}  bf16  fp8")
    for g in CATALOG.values():
        typer.echo(f"{g.name:<16} {g.memory_gib:>10.1f}  {g.compute_capability:>8}  "
                   f"{'yes' if g.bf16 else 'no':<4}  {'yes' if g.fp8 else 'no'}")


def main() -> None:
    app(prog_name="deployc")
