"""The build driver: a spec path, targets, platforms and an output folder in; diagnostics, lowered
results and (on request) written files out. The CLI, `deployc up` and the tests all call it.

The stages, in order (each its own module):

1. load       compiler/source.py     YAML -> data + positions
2. validate   compiler/validate.py   data -> Spec (and secrets.py: no tokens in the spec)
3. plan       compiler/probe.py, facts.py, plan.py: local files, model facts, the resolved Plan
4. check      compiler/check.py      per target: version, options, capabilities, rules, memory plan
5. lower      compiler/lower.py      per target: artifacts and the engine container, in memory
6. platform   compiler/platforms/    per target: the same container as Kubernetes manifests
7. write      compiler/writer.py     the only stage that touches the output folder

Everything before write is pure: the same spec gives byte-identical results on any machine.
"""

from __future__ import annotations

import contextlib
import errno
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Sequence

from deployc.compiler import platforms, writer
from deployc.compiler.api.target import BuildContext
from deployc.compiler.check import check_target, check_target_keys
from deployc.compiler.diagnostics import Diagnostic, error, has_errors, printable
from deployc.compiler.coverage import facts_coverage
from deployc.compiler.facts import CACHE_ORIGIN, Facts, resolve_facts
from deployc.compiler.lower import lower
from deployc.compiler.plan import resolve
from deployc.compiler.probe import gguf_facts, local_source, probe_local
from deployc.compiler.registry import Registry
from deployc.compiler.results import Compiled, TargetResult
from deployc.compiler.source import Source, load
from deployc.compiler.spec import ModelFacts, Spec, is_local
from deployc.compiler.validate import validate_spec

LOCAL = platforms.DEFAULT


def compile_spec(path: Path, display: str | None = None, hf_cache: bool = False) -> Compiled:
    """Stages 1-3: load, validate, plan. Diagnostics are placed at file:line:col (display: the file name
    they show; default the path as given). hf_cache: model facts may come from this machine's Hugging
    Face cache (the one input that is not the spec's folder)."""
    return compile_source(load(path, display), path.parent, hf_cache)


def compile_source(src: Source, spec_dir: Path, hf_cache: bool = False) -> Compiled:
    """Stages 2-3 of a loaded spec whose relative paths (local model, lock file) start at spec_dir."""
    out = Compiled(src, diagnostics=list(src.diagnostics))
    if src.data is None:
        return out
    spec, diags = validate_spec(src)
    if spec is not None:
        spec, probe = probe_local(spec, spec_dir)
        facts, fact_diags = resolve_facts(spec.model.source, spec.model.revision, local_source(spec, spec_dir),
                                          spec.model.facts, spec_dir=spec_dir, hf_cache=hf_cache)
        draft, draft_diags = draft_facts(spec, spec_dir, hf_cache)
        plan, checks = resolve(spec, gguf_facts(spec, spec_dir, facts), draft)
        diags += probe + fact_diags + draft_diags + checks + facts_coverage(plan, Path(src.name).parent)
        out.spec, out.plan = spec, plan
    out.diagnostics += [src.place(d) for d in diags]
    return out


def draft_facts(spec: Spec, spec_dir: Path, hf_cache: bool) -> tuple[Facts | None, list[Diagnostic]]:
    """The facts of speculative.model, from the same sources as the model's (a local folder, the lock file, the
    catalog, the Hugging Face cache when asked), for the memory plan (compiler/memory_draft.py)."""
    s = spec.speculative
    if s is None or s.model is None:
        return None, []
    local = spec_dir / s.model if is_local(s.model) and not s.model.startswith("~") else None
    facts, diags = resolve_facts(s.model, s.revision, local, ModelFacts(), spec_dir=spec_dir, hf_cache=hf_cache)
    return facts, [replace(d, path=("speculative", "model")) for d in diags]


def facts_note(compiled: Compiled) -> str | None:
    """Where the model facts came from, when that was this machine's own cache (the manifest records it)."""
    facts = compiled.plan.facts if compiled.plan is not None else None
    return facts.origin if facts is not None and CACHE_ORIGIN in facts.origin else None


def out_dir(spec: Path, out: Path | None, target: str, platform: str = LOCAL) -> Path:
    """OUT/<target>, default deploy/<target> beside deploy.yaml, deploy/<NAME>/<target> for NAME.deploy.yaml;
    a platform other than local writes to a folder of its name inside (deploy/<target>/kubernetes)."""
    sub = tuple(filter(None, [platforms.subfolder(platform)]))
    if out is not None:
        return out.joinpath(target, *sub)
    name = spec_stem(spec)
    if name in (".", ".."):
        raise ValueError(spec_name_problem(spec))
    if name is not None:
        return spec.parent.joinpath("deploy", name, target, *sub)
    return spec.parent.joinpath("deploy", target, *sub)


def spec_stem(spec: Path) -> str | None:
    """NAME of NAME.deploy.yaml (None for deploy.yaml or any other name)."""
    for suffix in (".deploy.yaml", ".deploy.yml"):
        if spec.name.endswith(suffix) and len(spec.name) > len(suffix):
            return spec.name[: -len(suffix)]
    return None


def spec_name_problem(spec: Path) -> str | None:
    """Why this spec's file name cannot give its output folder: NAME `.` or `..` would put
    deploy/NAME/<target> at deploy/<target> or beside deploy/."""
    name = spec_stem(spec)
    if name in (".", ".."):
        return (f"{printable(str(spec))}: the NAME of NAME.deploy.yaml is {name!r}, which cannot name an output "
                "folder (deploy/NAME/); rename the file")
    return None


def context(spec: Path, folder: Path, compiled: Compiled) -> BuildContext:
    """Where a target's output goes, as far as the target may know: the spec's folder relative to it."""
    rel = os.path.relpath(spec.parent.resolve(), folder.resolve())
    return BuildContext(spec_dir=Path(rel).as_posix(), spec_name=printable(spec.name), spec_digest=compiled.source.digest)


def compile_target(compiled: Compiled, registry: Registry, name: str, ctx: BuildContext, lower_it: bool = True,
                   folder: Path | None = None) -> TargetResult:
    """Stages 4-5 for one target of a compiled spec: check, then (unless lower_it is False, as
    `validate` asks) lower in memory for ctx."""
    assert compiled.plan is not None
    checked = check_target(compiled, registry, name)
    result = TargetResult(name, checked.version, None, checked.diagnostics, checked.memory, out_dir=folder)
    if checked.ok and lower_it:
        result.lowered, diags = lower(checked, compiled.plan, ctx, compiled.source)
        result.diagnostics += diags
    return result


def to_platform(compiled: Compiled, registry: Registry, result: TargetResult, platform: str, spec: Path,
                out: Path | None) -> TargetResult:
    """Stage 6: a lowered local result as another platform's artifacts (no second lowering). The result
    carries only the platform's own diagnostics; the target's stay on the local result."""
    folder = out_dir(spec, out, result.name, platform)
    if result.lowered is None or result.version is None:
        return replace(result, lowered=None, diagnostics=[], platform=platform, out_dir=folder)
    target, _ = registry.load(result.name)
    title = target.title if target is not None else result.name
    lowered, diags = platforms.transform(platform, compiled, result.lowered, result.name, title, result.version,
                                         context(spec, folder, compiled))
    return replace(result, lowered=lowered, diagnostics=diags, platform=platform, out_dir=folder)


@dataclass(frozen=True)
class Request:
    """What to build. targets None: the ones the spec lists. lower False: stop after the checks (validate)."""

    spec: Path
    targets: Sequence[str] | None = None
    platform: str = LOCAL
    out: Path | None = None
    lower: bool = True
    hf_cache: bool = False   # model facts may come from this machine's Hugging Face cache


@dataclass
class Build:
    """A built spec: the compiled spec and one result per target (on the requested platform)."""

    request: Request
    compiled: Compiled
    results: list[TargetResult] = field(default_factory=list)
    # The targets' own diagnostics when the results are another platform's (they carry only theirs).
    target_diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.compiled.diagnostics + self.target_diagnostics + [d for r in self.results for d in r.diagnostics]

    @property
    def ok(self) -> bool:
        return self.compiled.ok and not has_errors(self.diagnostics)


def internal_error(spec: Path, exc: BaseException) -> Diagnostic:
    """An exception no stage turned into a diagnostic (a deployc bug): reported at the spec, so one
    spec's failure neither prints a traceback nor stops the other specs of `check` or `validate`."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return error("internal-error", f"deployc failed on this spec: {type(exc).__name__}" + (f": {text}" if text else ""),
                 hint="this is a deployc bug; please report it with the spec").at(str(spec), 1, 1)


def build(request: Request, registry: Registry) -> Build:
    """Stages 1-6 for a request: every target it names, lowered once, then moved to its platform.
    An unexpected exception becomes an internal-error diagnostic of the spec (no results)."""
    try:
        return _build(request, registry)
    except Exception as exc:  # never a traceback, never the other specs
        return Build(request, Compiled(Source(str(request.spec), None, []), diagnostics=[
            internal_error(request.spec, exc)]))


def _build(request: Request, registry: Registry) -> Build:
    compiled = compile_spec(request.spec, str(request.spec), request.hf_cache)
    done = Build(request, compiled)
    if not compiled.ok:
        return done
    assert compiled.plan is not None
    compiled.diagnostics += check_target_keys(compiled, registry)
    if request.targets is None and not compiled.plan.targets:
        # validate, build --target all, check and plan give the same answer for a spec with no targets
        compiled.diagnostics.append(compiled.source.place(error(
            "targets-empty", "the spec lists no targets", path=("targets",), anchor="key",
            hint="add one under targets: (e.g. `vllm: {}`; `deployc targets` lists them), or name one with "
                 "--target")))
    names = (list(request.targets) if request.targets is not None
             else [n for n in compiled.plan.targets if n in registry.points])
    for name in names:
        folder = out_dir(request.spec, request.out, name)
        result = compile_target(compiled, registry, name, context(request.spec, folder, compiled),
                                request.lower, folder)
        if request.platform != LOCAL and request.lower:
            done.target_diagnostics += result.diagnostics
            result = to_platform(compiled, registry, result, request.platform, request.spec, request.out)
        done.results.append(result)
    return done


def folder_problem(request: Request, folder: Path) -> str | None:
    """Why a result's folder cannot be written (writer.out_dir_problem): the root is --out, which
    the user chose and may be a link, or deploy/ beside the spec, which may not."""
    if request.out is not None:
        return writer.out_dir_problem(folder, request.out, chosen=True)
    return writer.out_dir_problem(folder, request.spec.parent / "deploy")


@dataclass
class Written:
    """Stage 7's outcome: one write plan per target (already applied unless diagnostics has errors)."""

    plans: list[tuple[TargetResult, writer.WritePlan]]
    diagnostics: list[Diagnostic]


def write(done: Build, force: bool) -> Written:
    """Stage 7: write every result to its folder, all or nothing. The folders are locked (in one
    order: no deadlock) while the writes are planned and applied; a refused build leaves no trace,
    not even the folders it locked. OSError reaches the caller with the folder in its message."""
    folders = [r.out_dir for r in done.results if r.out_dir is not None]
    for folder in folders:
        if (problem := folder_problem(done.request, folder)) is not None:
            raise OSError(errno.ELOOP, problem)
    recovered: list[Diagnostic] = []
    with contextlib.ExitStack() as stack:
        fresh = [d for d in folders if not d.exists()]
        for folder in sorted(folders, key=str):
            try:
                stack.enter_context(writer.locked(folder))
                recovered += writer.recover(folder)   # a build a crash interrupted is finished first
            except OSError as exc:
                raise OSError(exc.errno, f"cannot write {folder}: {exc.strerror or exc}") from exc
        plans = [(r, writer.plan_build(r.out_dir, r.name, r.version, r.lowered.artifacts, force,
                                       facts_note(done.compiled)))
                 for r in done.results if r.out_dir is not None and r.lowered is not None and r.version]
        diags = recovered + [d for _, wp in plans for d in wp.diagnostics]
        if has_errors(diags):
            for d in fresh:
                with contextlib.suppress(OSError):
                    d.rmdir()
            return Written(plans, diags)
        for _, wp in plans:
            try:
                writer.apply(wp)
            except OSError as exc:
                raise OSError(exc.errno, f"cannot write {wp.out_dir}: {exc.strerror or exc}"
                              + (f" ({exc.filename})" if exc.filename else "")) from exc
        return Written(plans, diags)

