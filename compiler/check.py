"""Stage 4, target check: one target against a plan, before anything is lowered.

In order: the engine version and the target's options; the core's rules (every capability the plan
uses that the version lacks, in the feature table's words; an unpinned image; what every container
needs); the target's own check(); then its memory model and the memory plan's checks. Every
diagnostic belongs here: `deployc validate` stops after this stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployc.compiler import memory
from deployc.compiler.api import parsers
from deployc.compiler.api.container import port_binding
from deployc.compiler.api.target import FEATURES, Capability, EngineVersion, Target, TargetOptions
from deployc.compiler.diagnostics import Diagnostic, did_you_mean, error, format_path, has_errors, warning
from deployc.compiler.plan import Plan, unquantized_checkpoint
from deployc.compiler.registry import Registry
from deployc.compiler.results import Compiled
from deployc.compiler.validate import validate_options


@dataclass
class Checked:
    """A target that passed (or failed) its checks: what lowering needs."""

    target: Target[Any, Any] | None
    version: str | None
    v: EngineVersion | None
    opts: TargetOptions | None
    diagnostics: list[Diagnostic]
    memory: memory.MemoryPlan | None = None

    @property
    def ok(self) -> bool:
        return self.v is not None and self.opts is not None and not has_errors(self.diagnostics)


def check_target(compiled: Compiled, registry: Registry, name: str) -> Checked:
    assert compiled.plan is not None
    plan, place = compiled.plan, compiled.source.place
    target, problem = registry.load(name)
    if target is None:
        return Checked(None, None, None, None, [place(problem or unknown_target(name, registry))])
    diags: list[Diagnostic] = []
    raw = plan.targets.get(name, {})
    asked = raw.get("version")
    version: str = asked if isinstance(asked, str) else next(iter(target.versions))
    v = target.version_for(version)
    if v is None:
        diags.append(error("target-version", f"{target.title} {version} is not supported",
                           hint="supported: " + ", ".join(target.versions) + (
                               " (and any other patch release of those minor versions)" if target.patch_releases
                               else ""), path=("targets", name, "version")))
    elif v.based_on is not None:
        diags.append(warning("target-version-patch", f"{target.title} {version} is written from what deployc read of "
                             f"{v.based_on} (its flags, defaults and option table)",
                             hint=f"pin {v.based_on}, or check what {version} changed in the engine's release notes",
                             path=("targets", name, "version")))
    opts, opt_diags = validate_options(target, raw, compiled.source)
    diags = [place(d) for d in diags] + opt_diags
    if opts is None or v is None:
        return Checked(target, None, None, opts, diags)
    local = core_rules(target, plan, opts, v) + target.check(plan, opts, v)
    engine = target.memory_model(plan, opts, v) if not has_errors(local) else None
    mp = memory.estimate(plan, plan.facts, engine) if engine is not None else None
    if mp is not None and engine is not None:
        local += memory.check(plan, mp, engine)
    return Checked(target, version, v, opts, diags + [place(d) for d in local], mp)


def core_rules(target: Target[Any, Any], plan: Plan, opts: TargetOptions, v: EngineVersion) -> list[Diagnostic]:
    """What the core says of every target: the capabilities the plan uses that the version lacks (one
    code for all targets, with the target's nearest alternative), awq/gptq of a 16-bit checkpoint the
    target does not quantize offline (Target.quantizes_offline), an image that is not pinned, and
    what every engine container needs (a publishable host; an image for the GPU's vendor)."""
    out: list[Diagnostic] = []
    name = target.name
    if opts.image and (opts.image.endswith(":latest") or ":" not in opts.image.rsplit("/", 1)[-1]):
        out.append(warning("target-image-unpinned", f"image {opts.image} is not pinned: `latest` moves under you",
                           hint="pin a release tag or a digest", path=("targets", name, "image")))
    caps = target.capabilities(v)
    for cap, feature in FEATURES.items():
        if feature.used(plan) and cap not in caps:
            hint = target.unsupported_hint(cap, v) or (feature.hint(plan, name) if feature.hint else None)
            at = feature.unstated if feature.unstated and not plan.states(feature.path) else feature.path
            out.append(error(
                "target-unsupported", f"{target.title} {v.version} cannot express {feature.what} "
                f"({format_path(at)})", path=at,
                hint=hint or f"remove {format_path(feature.path)} or leave {name} out of targets"))
    # awq/gptq of a 16-bit checkpoint: refused unless this target quantizes to it before serving
    unquantized = unquantized_checkpoint(plan)
    if (unquantized is not None and plan.precision.quantization not in target.quantizes_offline(plan, opts, v)
            and not any(d.code == "target-unsupported" and d.path == unquantized.path for d in out)):
        out.append(unquantized)
    out += parsers.check(plan, opts, name, target.parsers(v))
    if target.runs_container:
        _, problem = port_binding(plan.server.host, plan.server.port)
        if problem:
            out.append(problem)
        if (plan.hardware.gpu.vendor == "amd" and Capability.AMD_GPU in caps and v.rocm_image is None
                and opts.image is None):
            out.append(error(
                "target-rocm-image", f"{plan.hardware.gpu.name} needs {target.title}'s ROCm build; deployc pins "
                f"only the CUDA image of {target.title} {v.version}",
                hint=f"set targets.{name}.image to a ROCm {target.title} image pinned by tag",
                path=("hardware", "gpu")))
    return out


def check_target_keys(compiled: Compiled, registry: Registry) -> list[Diagnostic]:
    """Every key under targets: must be a registered target."""
    assert compiled.plan is not None
    return [compiled.source.place(unknown_target(name, registry))
            for name in compiled.plan.targets if name not in registry.points]


def unknown_target(name: str, registry: Registry) -> Diagnostic:
    close = did_you_mean(name, registry.names)
    return error("target-unknown", f"unknown target {name!r}", path=("targets", name), anchor="key",
                 hint=(f"did you mean {close[0]}? " if close else "") + "registered targets: "
                 + ", ".join(registry.names))
