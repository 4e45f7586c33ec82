"""What the stages hand to each other: a compiled spec, and one target's result on one platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from deployc.compiler.api.target import Lowered
from deployc.compiler.diagnostics import Diagnostic, has_errors
from deployc.compiler.memory import MemoryPlan
from deployc.compiler.plan import Plan
from deployc.compiler.source import Source
from deployc.compiler.spec import Spec


@dataclass
class Compiled:
    """A spec through load, validate, probe, facts and plan. Diagnostics are placed at file:line:col."""

    source: Source
    spec: Spec | None = None
    plan: Plan | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.plan is not None and not has_errors(self.diagnostics)


@dataclass
class TargetResult:
    """One target of a spec: its version, checks, memory plan and (once lowered) artifacts, for one
    platform, written to out_dir."""

    name: str
    version: str | None
    lowered: Lowered | None
    diagnostics: list[Diagnostic]
    memory: MemoryPlan | None = None
    platform: str = "local"
    out_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return self.lowered is not None and not has_errors(self.diagnostics)
