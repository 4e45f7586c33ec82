"""The deployc command line: the only module that reads argv, prints or exits.

Exit codes: 0 success; 1 the spec or the committed outputs are wrong; 2 the
command itself was used wrongly (unknown target, missing file, bad option).
"""

from __future__ import annotations

import contextlib
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


class CheckFormat(str, Enum):
    text = "text"
    json = "json"
    github = "github"


def _usage(message: str) -> typer.Exit:
    typer.echo(f"deployc: error: {message}", err=True)
    return typer.Exit(USAGE_ERROR)


def _unknown_target(name: str, registry, more: str = "") -> typer.Exit:
    from compiler.diagnostics import did_you_mean

    close = did_you_mean(name, registry.names)
    return _usage(f"unknown target {name!r}" + (f" (did you mean {close[0]}?)" if close else "")
                  + "; registered: " + ", ".join(registry.names) + more)


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


def _out_dir(spec: Path, out: Optional[Path], target: str, platform: str = "local") -> Path:
    """OUT/<target>, default deploy/<target> beside deploy.yaml, deploy/<NAME>/<target> for NAME.deploy.yaml;
    a platform other than local writes to a folder of its name inside (deploy/<target>/kubernetes)."""
    from compiler.platforms import subfolder

    sub = tuple(filter(None, [subfolder(platform)]))
    if out is not None:
        return out.joinpath(target, *sub)
    name = spec.name
    for suffix in (".deploy.yaml", ".deploy.yml"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return spec.parent.joinpath("deploy", name[: -len(suffix)], target, *sub)
    return spec.parent.joinpath("deploy", target, *sub)


def _platform(name: str) -> str:
    from compiler.platforms import PLATFORMS

    if name not in PLATFORMS:
        raise _usage(f"unknown platform {name!r}; known: {', '.join(PLATFORMS)}")
    return name


def _compile_all(spec: Path, registry, names: Optional[List[str]], out: Optional[Path], lower: bool = True,
                 platform: str = "local"):
    """Load one spec and lower the named targets (default: the ones it lists) for a platform.
    Returns (compiled, results)."""
    from compiler.pipeline import check_target_keys, load_spec

    compiled = load_spec(spec, str(spec))
    if not compiled.ok:
        return compiled, []
    compiled.diagnostics += check_target_keys(compiled, registry)
    names = names if names is not None else [n for n in compiled.plan.targets if n in registry.points]
    return compiled, _compile_targets(spec, compiled, registry, names, out, lower, platform)


def _compile_targets(spec: Path, compiled, registry, names: List[str], out: Optional[Path], lower: bool = True,
                     platform: str = "local") -> list:
    """The named targets of an already loaded spec, lowered for a platform."""
    from compiler.pipeline import compile_target

    results = []
    for name in names:
        ctx = _context(spec, _out_dir(spec, out, name, platform), compiled)
        result = compile_target(compiled, registry, name, ctx, lower=lower)
        if platform != "local" and lower:
            from compiler import platforms

            result = platforms.lower(platform, compiled, result, registry, ctx)
        results.append(result)
    return results


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
        # every check, no artifacts: targets raise their diagnostics in check(), never while lowering
        compiled, results = _compile_all(spec, registry, None, None, lower=False)
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
    platform: str = typer.Option("local", "--platform", help="local: the target's scripts and compose.yaml; "
                                 "kubernetes: manifests in OUT/<target>/kubernetes/ (options under `kubernetes:`)."),
) -> None:
    """Compile a spec into artifacts for one target or all of them."""
    from compiler import writer

    platform = _platform(platform)
    registry = _registry()
    _existing([spec])
    if target == "all":
        if as_json:
            raise _usage("--json prints one target; name it with --target")
        names = None
    elif target not in registry.points:
        raise _unknown_target(target, registry, ", or all")
    else:
        names = [target]
    compiled, results = _compile_all(spec, registry, names, out, platform=platform)
    if as_json:
        r = results[0] if results else None
        lowered = r.lowered if r is not None and r.ok else None
        diags = compiled.diagnostics + (r.diagnostics if r else [])
        typer.echo(json.dumps({
            "target": target,
            "version": r.version if r else None,
            **({"platform": platform} if platform != "local" else {}),
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
    targets_out = [(r, _out_dir(spec, out, r.name, platform)) for r in results]
    for _, out_dir in targets_out:
        problem = writer.out_dir_problem(out_dir)
        if problem:
            raise _usage(problem)
    with contextlib.ExitStack() as stack:
        fresh = [d for _, d in targets_out if not d.exists()]
        for _, out_dir in sorted(targets_out, key=lambda x: str(x[1])):   # one order: no deadlock
            try:
                stack.enter_context(writer.locked(out_dir))
            except OSError as exc:
                raise _usage(f"cannot write {out_dir}: {exc.strerror or exc}")
        plans = [(r, writer.plan_build(d, r.name, r.version, r.lowered.artifacts, force)) for r, d in targets_out]
        every += [d for _, wp in plans for d in wp.diagnostics]
        _emit(every)
        if has_errors(every):
            for d in fresh:   # a refused build leaves no trace, not even the folders it locked
                with contextlib.suppress(OSError):
                    d.rmdir()
            raise typer.Exit(SPEC_ERROR)
        for r, wp in plans:
            try:
                writer.apply(wp)
            except OSError as exc:
                raise _usage(f"cannot write {wp.out_dir}: {exc.strerror or exc}"
                             + (f" ({exc.filename})" if exc.filename else ""))
            typer.echo(f"{r.name} {r.version}: {wp.out_dir}/ ({len(wp.writes)} written, {len(wp.unchanged)} unchanged"
                       + (f", {len(wp.deletes)} removed" if wp.deletes else "") + ")")
            for art in wp.writes:
                typer.echo(f"  {'changed' if art.path in wp.replaced else 'new':<9} {art.path}")
            for path in wp.unchanged:
                typer.echo(f"  {'unchanged':<9} {path}")
            for path in wp.deletes:
                typer.echo(f"  {'removed':<9} {path}")
    raise typer.Exit(OK)


@app.command()
def check(
    specs: List[Path] = typer.Argument(None, help="deploy.yaml files (default: every deploy.yaml and "
                                                  "NAME.deploy.yaml under the current folder, .gitignore respected)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder the outputs were built into."),
    fmt: CheckFormat = typer.Option(CheckFormat.text, "--format",
                                    help="text; json (one object); github (workflow annotations)."),
) -> None:
    """Rebuild in memory and compare with the committed outputs; show a diff when they drifted."""
    from compiler import writer
    from compiler.discover import find_specs

    registry = _registry()
    if specs:
        paths = _existing(specs)
    else:
        paths = find_specs(Path("."))
        if not paths:
            raise _usage("no deploy.yaml or NAME.deploy.yaml under the current folder")
    every: List[Diagnostic] = list(registry.problems)
    diffs: List[str] = []
    drift_rows: List[dict] = []
    checked: List[dict] = []
    for spec in paths:
        compiled, results = _compile_all(spec, registry, None, out)
        mine = list(compiled.diagnostics)

        def compare(found, platform: str) -> None:
            """Each result's diagnostics (a platform's repeat the target's own: those once), then how its
            committed outputs drifted from the rebuilt ones."""
            for r in found:
                mine.extend(r.diagnostics if platform == "local" else [d for d in r.diagnostics if d not in mine])
                if not r.ok:
                    continue
                regen = f"deployc build {spec} --target {r.name}" + (
                    f" --platform {platform}" if platform != "local" else "") + (f" --out {out}" if out else "")
                for drift in writer.compare(_out_dir(spec, out, r.name, platform), r.name, r.version,
                                            r.lowered.artifacts, regen):
                    mine.append(drift.diagnostic)
                    drift_rows.append({"spec": str(spec), "target": r.name,
                                       **({"platform": platform} if platform != "local" else {}),
                                       "code": drift.diagnostic.code, "file": drift.diagnostic.file,
                                       "regenerate": regen, "diff": drift.diff})
                    if drift.diff:
                        diffs.append(drift.diff)

        compare(results, "local")
        # Platform outputs: checked when the spec configures the platform or one was committed.
        wanted = [r.name for r in results if r.ok and (
            compiled.spec.kubernetes is not None
            or (_out_dir(spec, out, r.name, "kubernetes") / writer.MANIFEST).exists())]
        if wanted:
            compare(_compile_targets(spec, compiled, registry, wanted, out, platform="kubernetes"), "kubernetes")
        every += mine
        checked.append({"spec": str(spec), "targets": [r.name for r in results], "ok": not has_errors(mine)})
        if fmt is CheckFormat.text and not has_errors(mine):
            typer.echo(f"{spec}: outputs up to date ({', '.join(r.name for r in results) or 'no targets listed'})")
    if fmt is CheckFormat.json:
        typer.echo(json.dumps({"specs": checked, "drift": drift_rows,
                               "diagnostics": [d.to_json() for d in sorted(every, key=sort_key)]}, indent=2))
    elif fmt is CheckFormat.github:
        for d in sorted(every, key=sort_key):
            typer.echo(_github_annotation(d))
    else:
        _emit(every)
        for diff in diffs:
            typer.echo(diff, nl=False)
    raise typer.Exit(SPEC_ERROR if has_errors(every) else OK)


def _github_annotation(d: Diagnostic) -> str:
    """A GitHub Actions workflow command: the diagnostic shows on the file and line in the pull request."""
    def esc(text: str, prop: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if prop else text
    where = [f"file={esc(d.file, True)}"] + ([f"line={d.line}"] if d.line else []) \
        + ([f"col={d.column}"] if d.column else []) + [f"title={esc('deployc ' + d.code, True)}"]
    body = d.message + (f"\n{d.hint}" if d.hint else "")
    return f"::{'error' if d.severity == 'error' else 'warning'} {','.join(where)}::{esc(body)}"


@app.command()
def plan(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="The deploy.yaml to plan."),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="One target (default: the ones the spec lists)."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """Memory plan per GPU, in each engine's own terms: weights, KV cache, headroom, max concurrency."""
    registry = _registry()
    _existing([spec])
    if target is not None and target not in registry.points:
        raise _unknown_target(target, registry)
    compiled, results = _compile_all(spec, registry, [target] if target else None, None)
    every = list(compiled.diagnostics) + [d for r in results for d in r.diagnostics]
    facts = compiled.plan.facts if compiled.plan is not None else None
    rows = [(r, r.memory) for r in results]
    if as_json:
        typer.echo(json.dumps({
            "spec": str(spec),
            "facts": None if facts is None else {"origin": facts.origin, "cite": facts.cite, **{
                k: getattr(facts, k) for k in ("layers", "hidden_size", "attention_heads", "kv_heads", "head_dim",
                                               "vocab_size", "context", "sliding_window", "sliding_layers",
                                               "kv_lora_rank", "experts", "parameters", "quant_method")}},
            "layout": None if compiled.plan is None else {
                "nodes": compiled.plan.nodes, "gpus_per_node": compiled.plan.gpus_per_node_used,
                "copies": compiled.plan.parallelism.data},
            "targets": {r.name: m.to_json() | {"version": r.version} if m is not None
                        else {"version": r.version, "plan": None} for r, m in rows},
            "diagnostics": [d.to_json() for d in sorted(every, key=sort_key)],
        }, indent=2))
    else:
        if facts is not None:
            typer.echo(f"model facts: {facts.origin}" + (f" ({facts.cite})" if facts.cite else ""))
        if compiled.plan is not None and compiled.plan.multi_node:
            p = compiled.plan
            typer.echo(f"layout: each copy spans {p.nodes} nodes x {p.gpus_per_node_used} GPUs; "
                       f"{p.parallelism.data} cop{'y' if p.parallelism.data == 1 else 'ies'}")
        for r, m in rows:
            typer.echo("")
            if m is None:
                typer.echo(f"{r.name} {r.version or ''}: no memory plan"
                           + (" (model facts unknown: set model.facts)" if facts is not None and not facts.known
                              else ""))
                continue
            typer.echo(f"{r.name}: {m.engine} on {m.gpu} ({m.gpu_memory_gib:.1f} GiB), per GPU")
            for label, value in (
                    ("engine budget", f"{m.budget_gib:8.2f} GiB"),
                    ("weights", f"{m.weights_gib_per_gpu:8.2f} GiB"),
                    ("activation peak", f"{m.activation_gib:8.2f} GiB"),
                    ("runtime overhead", f"{m.overhead_gib:8.2f} GiB"),
                    ("KV cache", f"{m.kv_cache_gib_per_gpu:8.2f} GiB = {m.kv_cache_tokens} tokens "
                                 f"x {m.kv_bytes_per_token} B"),
                    ("max concurrency", f"{m.max_concurrency:8.2f} x {m.max_model_len} tokens"),
                    ("headroom", f"{m.headroom_gib:8.2f} GiB unused")):
                typer.echo(f"  {label:<17} {value}")
            for note in m.assumptions:
                typer.echo(f"  - {note}")
        _emit(every)
    raise typer.Exit(SPEC_ERROR if has_errors(every) else OK)


@app.command()
def init(
    spec: Path = typer.Argument(DEFAULT_SPEC, help="Where to write the starter spec."),
    model: str = typer.Option("Qwen/Qwen2.5-7B-Instruct", "--model", help="Hub id or local path of the model."),
    gpu: str = typer.Option("H100-80GB", "--gpu", help="A GPU from `deployc gpus`."),
    target: Optional[str] = typer.Option(None, "--target", help="A target to list (default: all of them, "
                                                                 "commented out)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter deploy.yaml (and deploy.schema.json beside it, for editor completion)."""
    from compiler.schema import schema_text
    from compiler.starter import starter_text

    if spec.exists() and not force:
        raise _usage(f"{spec} exists; pass --force to overwrite it")
    registry = _registry()
    if target is not None and target not in registry.points:
        raise _unknown_target(target, registry)
    schema_path = spec.parent / "deploy.schema.json"
    text = starter_text(spec.stem.replace(".deploy", "") if spec.name != "deploy.yaml" else spec.resolve().parent.name,
                        model, gpu, target, registry.names, "./deploy.schema.json", str(spec))
    try:
        spec.parent.mkdir(parents=True, exist_ok=True)
        spec.write_text(text, encoding="utf-8")
        if not schema_path.exists() or force:
            schema_path.write_text(schema_text(registry), encoding="utf-8")
    except OSError as exc:
        raise _usage(f"cannot write {spec}: {exc.strerror or exc}")
    typer.echo(f"wrote {spec} and {schema_path}; next: " + (
        f"deployc validate {spec} && deployc build {spec} --target {target}" if target else
        f"uncomment a target under targets:, then deployc validate {spec} && deployc build {spec} --target all"))


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

    typer.echo(f"{'name':<14} {'usable GiB':>10} {'smi MiB':>8}  {'compute':>7}  bf16  fp8")
    for g in CATALOG.values():
        typer.echo(f"{g.name:<14} {g.memory_gib:>10.2f} {g.smi_mib or '':>8}  {g.compute_capability:>7}  "
                   f"{'yes' if g.bf16 else 'no':<4}  {'yes' if g.fp8 else 'no'}")
    typer.echo("usable GiB: the total CUDA reports, which engines multiply by their memory fraction")


# deployc up / down / status / logs (Docker Engine API): their own module, docker loaded only when they run
from compiler.cli_up import register as _register_up  # noqa: E402

_register_up(app)


def main() -> None:
    app(prog_name="deployc")
