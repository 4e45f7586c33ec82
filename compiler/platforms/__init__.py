"""Platforms: where a target's engine container runs. `local` (the default) is each target's own
scripts and compose.yaml; `kubernetes` turns the same container (Lowered.service) into manifests
(compiler/platforms/kubernetes.py), written to OUT/<target>/kubernetes/."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from compiler.diagnostics import has_errors
from compiler.target_api import BuildContext, Lowered

if TYPE_CHECKING:
    from compiler.pipeline import Compiled, TargetResult
    from compiler.registry import Registry

PLATFORMS = ("local", "kubernetes")
DEFAULT = "local"


def subfolder(platform: str) -> str | None:
    """The folder inside a target's output folder that a platform writes to (None: the folder itself)."""
    return None if platform == DEFAULT else platform


def lower(platform: str, compiled: "Compiled", result: "TargetResult", registry: "Registry",
          ctx: BuildContext) -> "TargetResult":
    """A target's result for the platform: the platform's artifacts in place of the target's own."""
    if platform == DEFAULT or not result.ok:
        return result
    from compiler.platforms import kubernetes

    assert compiled.plan is not None and compiled.spec is not None and result.lowered is not None
    target, _ = registry.load(result.name)
    title = target.title if target is not None else result.name
    opts = kubernetes.options(compiled.spec.kubernetes)
    plan, place = compiled.plan, compiled.source.place
    common = dict(target=result.name, title=title, version=result.version or "", ctx=ctx)
    group = result.lowered.group
    if group is not None:  # one copy over several nodes: a LeaderWorkerSet, or a coordinator and its workers
        from compiler.platforms import lws, pool

        world = group.kind != "pool"
        checks = kubernetes.check(plan, opts, group.leader, result.name) + (
            lws.check(plan, opts, group) if world else [])
        make = lambda: (lws if world else pool).lower(plan, group, compiled.spec.kubernetes, **common)  # noqa: E731
        keep: dict = {"group": group}
    else:
        svc = result.lowered.service
        checks = kubernetes.check(plan, opts, svc, result.name)
        make = lambda: kubernetes.lower(plan, svc, compiled.spec.kubernetes, **common)  # noqa: E731
        keep = {"service": svc}
    diags = [place(d) for d in checks]
    out = replace(result, diagnostics=result.diagnostics + diags)
    if has_errors(diags):
        return replace(out, lowered=None)
    made = make()
    return replace(out, lowered=Lowered(artifacts=made.artifacts, command=made.command, **keep),
                   diagnostics=out.diagnostics + [place(d) for d in made.diagnostics])
