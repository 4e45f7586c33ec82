"""Stage 5, lower: a checked target turns the plan into artifacts (and its engine container), in memory."""

from __future__ import annotations

from typing import Any

from dataclasses import replace

from deployc.compiler.api.target import BuildContext, Lowered
from deployc.compiler.check import Checked
from deployc.compiler.plan import Plan
from deployc.compiler.source import Source


def lower(checked: Checked, plan: Plan, ctx: BuildContext, source: Source) -> tuple[Lowered, list[Any]]:
    """The target's Lowered for ctx (with the memory plan), and any diagnostics it carries, placed."""
    assert checked.ok and checked.target is not None
    lowered = checked.target.lower(plan, checked.opts, checked.v, replace(ctx, memory=checked.memory))
    return lowered, [source.place(d) for d in lowered.diagnostics]
