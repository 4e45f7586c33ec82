"""What several targets write for the issue-20 settings (model.rope_scaling and friends): one spelling of
the facts, each target picking its engine's key names.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from deployc.compiler.diagnostics import Diagnostic, error

if TYPE_CHECKING:
    from deployc.compiler.plan import Plan


def rope_parameters(plan: Plan) -> dict[str, Any] | None:
    """model.rope_scaling as transformers spells it (rope_type, factor, and for yarn and llama3 the original
    context, which transformers v5 requires and both vLLM and SGLang read); None when unset."""
    r = plan.model.rope_scaling
    if r is None:
        return None
    out: dict[str, Any] = {"rope_type": r.rope_type, "factor": r.factor}
    if r.rope_type in ("yarn", "llama3"):
        original = r.original_max_position_embeddings or plan.facts.max_position_embeddings
        if original is not None:
            out["original_max_position_embeddings"] = original
    if r.rope_type == "llama3":
        out.update({k: v for k, v in (("low_freq_factor", r.low_freq_factor),
                                      ("high_freq_factor", r.high_freq_factor)) if v is not None})
    return out


def rope_positions(plan: Plan) -> int | None:
    """max_position_embeddings to write next to the rope setting: for yarn and llama3 the extended context.
    vLLM (0.33 on: config/model.py _get_and_verify_max_len) and SGLang (get_context_length) do not multiply
    these by the factor, and transformers v5's yarn takes max_position_embeddings / original as the factor;
    linear and dynamic are multiplied by the engines themselves (None: nothing to write)."""
    r = plan.model.rope_scaling
    if r is None or r.rope_type not in ("yarn", "llama3"):
        return None
    return plan.facts.context


def rope_override(plan: Plan, key: str, rope_theta: float | None = None) -> str | None:
    """model.rope_scaling as the JSON config override vLLM (--hf-overrides) and SGLang
    (--json-model-override-args) take: the rope parameters under key (rope_theta inside them where the
    engine sets the key whole), and rope_positions' max_position_embeddings beside them."""
    params = rope_parameters(plan)
    if params is None:
        return None
    if rope_theta is not None:
        params = {**params, "rope_theta": rope_theta}
    out: dict[str, object] = {key: params}
    if (positions := rope_positions(plan)) is not None:
        out["max_position_embeddings"] = positions
    return json.dumps(out, separators=(",", ":"))


def rope_type_check(plan: Plan, engine: str, allowed: tuple[str, ...]) -> list[Diagnostic]:
    """An error at model.rope_scaling when the engine takes only some rope types (TGI: linear and dynamic)."""
    r = plan.model.rope_scaling
    if r is None or r.rope_type in allowed:
        return []
    return [error("rope-type-unsupported", f"{engine} takes rope scaling of type {' and '.join(allowed)} only, not "
                  f"{r.rope_type}", hint=f"use rope_type: {allowed[0]}, or serve a checkpoint whose config.json "
                  f"declares {r.rope_type} scaling", path=("model", "rope_scaling"))]
