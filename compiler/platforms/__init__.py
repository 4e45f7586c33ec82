"""Platforms: where a target's engine container runs. `local` (the default) is each target's own
scripts and compose.yaml; `kubernetes` turns the same container (Lowered.service) into manifests
(compiler/platforms/kubernetes.py), written to OUT/<target>/kubernetes/."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deployc.compiler.diagnostics import Diagnostic, has_errors
from deployc.compiler.api.container import GroupKind
from deployc.compiler.api.target import BuildContext, Lowered

if TYPE_CHECKING:
    from deployc.compiler.results import Compiled

PLATFORMS = ("local", "kubernetes")
DEFAULT = "local"


def subfolder(platform: str) -> str | None:
    """The folder inside a target's output folder that a platform writes to (None: the folder itself)."""
    return None if platform == DEFAULT else platform


def transform(platform: str, compiled: Compiled, lowered: Lowered, name: str, title: str, version: str,
              ctx: BuildContext) -> tuple[Lowered | None, list[Diagnostic]]:
    """A target's lowered result for another platform: the platform's artifacts in place of the target's
    own, built from the same engine container(s), never by lowering again. Returns None (and the
    platform's errors) when the platform cannot run it; the diagnostics are placed."""
    from deployc.compiler.platforms import kubernetes

    assert platform != DEFAULT and compiled.plan is not None and compiled.spec is not None
    opts = kubernetes.options(compiled.spec.kubernetes)
    plan, place = compiled.plan, compiled.source.place
    group, svc = lowered.group, lowered.service
    if group is not None:  # one copy over several nodes: a LeaderWorkerSet, or a coordinator and its workers
        from deployc.compiler.platforms import lws, pool

        world = group.kind is GroupKind.WORLD
        checks = kubernetes.check(plan, opts, group.leader, name) + (lws.check(plan, opts, group) if world else [])
        diags = [place(d) for d in checks]
        if has_errors(diags):
            return None, diags
        made = (lws if world else pool).lower(plan, group, compiled.spec.kubernetes, target=name, title=title,
                                              version=version, ctx=ctx)
        out = Lowered(artifacts=made.artifacts, command=made.command, group=group, derived=lowered.derived)
    else:
        diags = [place(d) for d in kubernetes.check(plan, opts, svc, name)]
        if has_errors(diags) or svc is None:
            return None, diags
        made = kubernetes.lower(plan, svc, compiled.spec.kubernetes, target=name, title=title, version=version,
                               ctx=ctx)
        out = Lowered(artifacts=made.artifacts, command=made.command, service=svc, derived=lowered.derived)
    return out, diags + [place(d) for d in made.diagnostics]
