"""The deployc command line: the only module that reads argv, prints or exits.

Exit codes: 0 success; 1 the spec or the committed outputs are wrong; 2 the
command itself was used wrongly (unknown target, missing file, bad option).
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from deployc.compiler import driver
from deployc.compiler.cli_common import (
    DEFAULT_SPEC,
    OK,
    SPEC_ERROR,
    ReadableGroup,
    emit,
    existing,
    failure,
    registry as _registry,
    target_names,
    unknown_target,
    usage,
)
from deployc.compiler.diagnostics import Diagnostic, has_errors, printable, shown, sort_key
from deployc.compiler.discover import find_specs

app = typer.Typer(cls=ReadableGroup, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Compile one reviewed deploy.yaml into serving artifacts for LLM engines.")


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"deployc {version('deployc')}")
        raise typer.Exit(OK)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                       help="Print deployc's version and exit.")) -> None:
    """Compile one reviewed deploy.yaml into serving artifacts for LLM engines."""


HF_CACHE_HELP = ("Let model facts come from this machine's Hugging Face cache (after the spec's model.facts and "
                 "model-facts.lock.json); outputs then record it in their manifest. Default: never.")


def specs_under(paths: list[Path]) -> list[Path]:
    """Spec files as given, and for each folder the specs `check` finds under it (deploy.yaml and
    NAME.deploy.yaml, .gitignore respected)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = find_specs(path)
            if not found:
                raise usage(f"no deploy.yaml or NAME.deploy.yaml under {path}")
            out += existing(found)
        else:
            out += existing([path])
    return out


class Format(str, Enum):
    text = "text"
    json = "json"


class CheckFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


def _platform(name: str) -> str:
    from deployc.compiler.platforms import PLATFORMS

    if name not in PLATFORMS:
        raise usage(f"unknown platform {name!r}; known: {', '.join(PLATFORMS)}")
    return name


@app.command()
def validate(
    specs: list[Path] = typer.Argument(None, help="deploy.yaml files, or folders: the specs under each, as "
                                                  "`check` finds them (default: ./deploy.yaml)."),
    fmt: Format = typer.Option(Format.text, "--format", help="Output format of the diagnostics."),
    hf_cache: bool = typer.Option(False, "--hf-cache", help=HF_CACHE_HELP),
) -> None:
    """Check specs: schema, semantics and every target they list. Writes nothing."""
    registry = _registry()
    paths = specs_under(specs or [DEFAULT_SPEC])
    every: list[Diagnostic] = list(registry.problems)
    for spec in paths:
        # every check, no artifacts: targets raise their diagnostics in check(), never while lowering
        done = driver.build(driver.Request(spec, lower=False, hf_cache=hf_cache), registry)
        every += done.diagnostics
        if fmt is Format.text and not has_errors(done.diagnostics):
            listed = ", ".join(r.name for r in done.results) or "no targets listed"
            typer.echo(f"{printable(str(spec))}: ok ({listed})")
    if fmt is Format.json:
        typer.echo(json.dumps({"diagnostics": [d.to_json() for d in sorted(every, key=sort_key)]}, indent=2))
    else:
        emit(every)
    raise typer.Exit(SPEC_ERROR if has_errors(every) else OK)


@app.command()
def build(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="The deploy.yaml to compile."),
    target: str = typer.Option(..., "--target", "-t", help="A target name, or `all` for the ones the spec lists.",
                               autocompletion=target_names),
    out: Path | None = typer.Option(None, "--out", "-o",
                                       help="Output folder; each target writes to OUT/<target>/ (default: "
                                            "deploy/ beside the spec)."),
    as_json: bool = typer.Option(False, "--json", help="Print the artifacts as one JSON object; write nothing."),
    force: bool = typer.Option(False, "--force", help="Overwrite generated files that were edited by hand."),
    platform: str = typer.Option("local", "--platform", help="local: the target's scripts and compose.yaml; "
                                 "kubernetes: manifests in OUT/<target>/kubernetes/ (options under `kubernetes:`)."),
    hf_cache: bool = typer.Option(False, "--hf-cache", help=HF_CACHE_HELP),
) -> None:
    """Compile a spec into artifacts for one target or all of them."""

    platform = _platform(platform)
    registry = _registry()
    existing([spec])
    if target == "all":
        if as_json:
            raise usage("--json prints one target; name it with --target")
        names = None
    elif target not in registry.points:
        raise unknown_target(target, registry, ", or all")
    else:
        names = [target]
    done = driver.build(driver.Request(spec, names, platform, out, hf_cache=hf_cache), registry)
    if as_json:
        r = done.results[0] if done.results else None
        lowered = r.lowered if r is not None and r.ok else None
        diags = done.diagnostics
        typer.echo(json.dumps({
            "target": target,
            "version": r.version if r else None,
            **({"platform": platform} if platform != "local" else {}),
            "artifacts": [{"path": a.path, "mode": a.mode, "content": a.content}
                          for a in (lowered.artifacts if lowered else ())],
            "command": list(lowered.command) if lowered and lowered.command is not None else None,
            # every value written that the spec does not state, and why (the engine needs it, or every
            # target must serve the same deployment)
            "derived": [d.to_json() for d in (lowered.derived if lowered else ())],
            "diagnostics": [d.to_json() for d in sorted(diags, key=sort_key)],
        }, indent=2, ensure_ascii=False))
        raise typer.Exit(SPEC_ERROR if has_errors(diags) or lowered is None else OK)
    every = done.diagnostics
    # --target all builds every target it can: the spec's own errors stop everything, a target's stop that one
    failed = [r for r in done.results if not r.ok] if names is None else []
    if has_errors(every) and (names is not None or has_errors(done.compiled.diagnostics)
                              or len(failed) == len(done.results)):
        emit(every)
        raise typer.Exit(SPEC_ERROR)
    if failed:
        done = driver.Build(done.request, done.compiled, [r for r in done.results if r.ok])
    for r in done.results:
        if r.out_dir is not None and (problem := driver.folder_problem(done.request, r.out_dir)):
            raise usage(problem)
    try:
        written = driver.write(done, force)
    except OSError as exc:   # the folder, not the command, is at fault: exit 1 with the path and the reason
        raise failure(exc.strerror or str(exc)) from None
    every += written.diagnostics
    emit(every)
    if has_errors(written.diagnostics):
        raise typer.Exit(SPEC_ERROR)
    _report_written(written)
    if failed:
        raise failure(f"{len(failed)} of {len(failed) + len(done.results)} targets failed, nothing written for "
                      "them: " + ", ".join(f"{r.name} ({_count_errors(r)})" for r in failed))
    raise typer.Exit(OK)


def _count_errors(r: Any) -> str:
    n = sum(1 for d in r.diagnostics if d.is_error)
    return f"{n} error{'s' if n != 1 else ''}" if n else "no output"


def _report_written(written: Any) -> None:
    for r, wp in written.plans:
        typer.echo(f"{r.name} {r.version}: {printable(str(wp.out_dir))}/ ({len(wp.writes)} written, {len(wp.unchanged)} unchanged"
                   + (f", {len(wp.deletes)} removed" if wp.deletes else "") + ")")
        for art in wp.writes:
            typer.echo(f"  {'changed' if art.path in wp.replaced else 'new':<9} {art.path}")
        for path in wp.unchanged:
            typer.echo(f"  {'unchanged':<9} {path}")
        for path in wp.deletes:
            typer.echo(f"  {'removed':<9} {path}")


@app.command()
def check(
    specs: list[Path] = typer.Argument(None, help="deploy.yaml files or folders (default: every deploy.yaml and "
                                                  "NAME.deploy.yaml under the current folder, .gitignore respected)."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder the outputs were built into."),
    fmt: CheckFormat = typer.Option(CheckFormat.text, "--format",
                                    help="text; json (one object); github (workflow annotations)."),
    hf_cache: bool = typer.Option(False, "--hf-cache", help=HF_CACHE_HELP),
) -> None:
    """Rebuild in memory and compare with the committed outputs; show a diff when they drifted."""
    from deployc.compiler import writer

    registry = _registry()
    if specs:
        paths = specs_under(specs)
    else:
        paths = find_specs(Path("."))
        if not paths:
            raise usage("no deploy.yaml or NAME.deploy.yaml under the current folder")
        existing(paths)
    every: list[Diagnostic] = list(registry.problems)
    diffs: list[str] = []
    drift_rows: list[dict[str, Any]] = []
    checked: list[dict[str, Any]] = []
    for spec in paths:
        results: list[Any] = []
        try:
            done = driver.build(driver.Request(spec, out=out, hf_cache=hf_cache), registry)
            mine = list(done.diagnostics)
            results = done.results
            # Platform outputs: checked when the spec configures the platform or one was committed; the
            # platform moves the results already lowered (its diagnostics are its own).
            k8s = [driver.to_platform(done.compiled, registry, r, "kubernetes", spec, out) for r in results
                   if r.ok and done.compiled.spec is not None and (
                       done.compiled.spec.kubernetes is not None
                       or (driver.out_dir(spec, out, r.name, "kubernetes") / writer.MANIFEST).exists())]
            for r in results + k8s:
                if r.platform != "local":
                    mine += r.diagnostics
                if not r.ok or r.lowered is None or r.out_dir is None or r.version is None:
                    continue
                regen = f"deployc build {spec} --target {r.name}" + (
                    f" --platform {r.platform}" if r.platform != "local" else "") + (f" --out {out}" if out else "")
                mine += _facts_source_changed(done.compiled, r.out_dir, spec.parent)
                for drift in writer.compare(r.out_dir, r.name, r.version, r.lowered.artifacts, regen):
                    mine.append(drift.diagnostic)
                    drift_rows.append({"spec": str(spec), "target": r.name,
                                       **({"platform": r.platform} if r.platform != "local" else {}),
                                       "code": drift.diagnostic.code, "file": drift.diagnostic.file,
                                       "regenerate": regen, "diff": drift.diff})
                    if drift.diff:
                        diffs.append(drift.diff)
        except Exception as exc:  # one spec's bug never stops the others
            mine = [driver.internal_error(spec, exc)]
        every += mine
        checked.append({"spec": str(spec), "targets": [r.name for r in results], "ok": not has_errors(mine)})
        if fmt is CheckFormat.text and not has_errors(mine):
            typer.echo(f"{printable(str(spec))}: outputs up to date ({', '.join(r.name for r in results) or 'no targets listed'})")
    if fmt is CheckFormat.json:
        typer.echo(json.dumps({"specs": checked, "drift": drift_rows,
                               "diagnostics": [d.to_json() for d in sorted(every, key=sort_key)]}, indent=2))
    elif fmt is CheckFormat.github:
        for d in sorted(every, key=sort_key):
            typer.echo(_github_annotation(d))
    else:
        emit(every)
        for diff in diffs:
            typer.echo(diff, nl=False)
    raise typer.Exit(SPEC_ERROR if has_errors(every) else OK)


def _facts_source_changed(compiled: Any, folder: Path, spec_dir: Path) -> list[Diagnostic]:
    """The committed outputs' manifest records facts from another machine's cache, or this build reads
    this machine's: the two can differ without the spec changing."""
    from deployc.compiler import writer
    from deployc.compiler.diagnostics import warning

    recorded, now = writer.manifest_facts(folder), driver.facts_note(compiled)
    if recorded == now or not (folder / writer.MANIFEST).is_file():
        return []
    here = now or compiled.plan.facts.origin
    model = compiled.plan.model
    return [warning(
        "output-facts-source", f"the outputs in {folder} were built with model facts from "
        f"{recorded or 'the spec, its lock file and the catalog'}; here they come from {here}",
        hint=f"lock them beside the spec (`deployc facts {model.source}"
             + (f" --revision {model.revision}" if model.revision else "")
             + (f" --dir {spec_dir}" if str(spec_dir) != "." else "") + "`) so every machine reads the same "
             "numbers, then rebuild").at(str(folder / writer.MANIFEST), None, None)]


def _github_annotation(d: Diagnostic) -> str:
    """A GitHub Actions workflow command: the diagnostic shows on the file and line in the pull request."""
    def esc(text: str, prop: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if prop else text
    where = [f"file={esc(shown(d.file or ''), True)}"] + ([f"line={d.line}"] if d.line else []) \
        + ([f"col={d.column}"] if d.column else []) + [f"title={esc('deployc ' + d.code, True)}"]
    body = shown(d.message) + (f"\n{shown(d.hint)}" if d.hint else "")
    return f"::{'error' if d.severity == 'error' else 'warning'} {','.join(where)}::{esc(body)}"


@app.command()
def plan(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="The deploy.yaml to plan."),
    target: str | None = typer.Option(None, "--target", "-t", help="One target (default: the ones the spec lists)."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    log: Path | None = typer.Option(None, "--log", help="A vLLM or SGLang startup log: compare its memory "
                                                           "figures with the plan, line by line."),
    search: bool = typer.Option(False, "--search", help="Also list the layouts that fit on the spec's GPU, the "
                                                        "longest context of each, and the GPUs a concurrency needs."),
    hf_cache: bool = typer.Option(False, "--hf-cache", help=HF_CACHE_HELP),
) -> None:
    """Memory plan per GPU, in each engine's own terms: weights, KV cache, headroom, max concurrency, and the
    figures as the engine will print them at startup."""
    from deployc.compiler.cli_plan import plan_command

    plan_command(spec, target, as_json, log, search, hf_cache)


@app.command()
def schema() -> None:
    """Print the JSON Schema of deploy.yaml (the committed schemas/deploy.schema.json)."""
    from deployc.compiler.schema import schema_text

    sys.stdout.write(schema_text(_registry()))


@app.command()
def targets(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the registered targets, their engine versions and what each supports."""
    registry = _registry()
    rows: list[dict[str, Any]] = []
    for name in registry.names:
        t, problem = registry.load(name)
        if t is None:
            registry.problems += [problem] if problem else []
            continue
        rows.append({"name": name, "title": t.title, "versions": list(t.versions), "default": next(iter(t.versions)),
                     "patch_releases": t.patch_releases, "notice": t.notice,
                     "capabilities": {k: sorted(c.value for c in t.capabilities(v)) for k, v in t.versions.items()}})
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        for row in rows:
            typer.echo(f"{row['name']:<14} {row['title']:<14} versions: {', '.join(row['versions'])} "
                       f"(default {row['default']})")
            typer.echo(f"{'':<14} supports: {', '.join(row['capabilities'][row['default']])}")
            if row["notice"]:
                typer.echo(f"{'':<14} note: {row['notice']}")
    emit(registry.problems)
    raise typer.Exit(SPEC_ERROR if has_errors(registry.problems) else OK)


@app.command()
def gpus() -> None:
    """List the GPU catalog that hardware.gpu names refer to."""
    from deployc.compiler.gpus import CATALOG

    typer.echo(f"{'name':<14} {'usable GiB':>10} {'smi MiB':>8}  {'compute':>7}  bf16  fp8")
    for g in CATALOG.values():
        typer.echo(f"{g.name:<14} {g.memory_gib:>10.2f} {g.smi_mib or '':>8}  {g.compute_capability:>7}  "
                   f"{'yes' if g.bf16 else 'no':<4}  {'yes' if g.fp8 else 'no'}")
    typer.echo("usable GiB: the total CUDA reports, which engines multiply by their memory fraction")


# deployc up / down / status / logs (Docker Engine API): their own module, docker loaded only when they run
from deployc.compiler.cli_import import register as _register_import  # noqa: E402
from deployc.compiler.cli_start import register as _register_start  # noqa: E402
from deployc.compiler.cli_up import register as _register_up  # noqa: E402

_register_start(app)
_register_import(app)
_register_up(app)


def main() -> None:
    app(prog_name="deployc")
