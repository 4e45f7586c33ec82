"""`deployc plan --search`: the questions asked before choosing hardware, answered by re-planning.

For the spec's model, engine versions and GPU, each answer is the memory plan of a changed copy of
the Plan (compiler/check.py check_target, the same code `deployc plan` runs):
- layouts: tensor x pipeline sizes on the spec's GPU (tensor dividing the attention heads) and
  how many full-length sequences each holds, and the fewest GPUs of that kind that hold one;
- longest context: for each layout that fits, the largest max_model_len with room for one sequence
  (bisected on the plan, up to the model's own limit);
- GPUs for a concurrency: for every GPU in the catalog, the smallest tensor size that holds one
  sequence at the spec's context and how many GPUs (copies x tensor) reach limits.max_concurrency
  (default 16) sequences at once.
"""

from __future__ import annotations

from dataclasses import replace
from math import ceil
from typing import Any
from collections.abc import Sequence

from deployc.compiler import gpus
from deployc.compiler.check import check_target
from deployc.compiler.plan import Plan
from deployc.compiler.registry import Registry
from deployc.compiler.results import Compiled

TENSOR = (1, 2, 4, 8, 16)
PIPELINE = (1, 2, 4)
DEFAULT_CONCURRENCY = 16


def _plan(compiled: Compiled, registry: Registry, name: str, plan: Plan) -> Any:
    return check_target(replace(compiled, plan=plan), registry, name).memory


def _with(plan: Plan, tensor: int | None = None, pipeline: int | None = None, length: int | None = None,
          gpu: gpus.Gpu | None = None) -> Plan:
    par = plan.parallelism.model_copy(update={k: v for k, v in (("tensor", tensor), ("pipeline", pipeline))
                                              if v is not None} | {"data": 1, "nodes": None})
    lim = plan.limits.model_copy(update={"max_model_len": length} if length else {})
    hw = replace(plan.hardware, gpu=gpu or plan.hardware.gpu, count=par.tensor * par.pipeline)
    return replace(plan, parallelism=par, limits=lim, hardware=hw, nodes=1)


def _heads_ok(plan: Plan, tensor: int) -> bool:
    heads = plan.facts.attention_heads
    return heads is None or heads % tensor == 0


def longest_context(compiled: Compiled, registry: Registry, name: str, plan: Plan) -> int:
    low, high = 0, plan.facts.context or plan.context or 0
    while high - low > 256:
        mid = (low + high) // 2 // 256 * 256 or 256
        mp = _plan(compiled, registry, name, _with(plan, length=mid))
        if mp is not None and mp.kv_cache_gib_per_gpu > 0 and mp.max_concurrency >= 1:
            low = mid
        else:
            high = mid
    return low


def search(compiled: Compiled, registry: Registry, names: Sequence[str]) -> dict[str, Any]:
    plan = compiled.plan
    assert plan is not None
    want = plan.limits.max_concurrency or DEFAULT_CONCURRENCY
    out: dict[str, Any] = {"gpu": plan.hardware.gpu.name, "max_model_len": plan.context, "concurrency": want,
                           "targets": {}}
    for i, name in enumerate(names):
        layouts = []
        for tp in TENSOR:
            for pp in PIPELINE:
                if not _heads_ok(plan, tp):
                    continue
                trial = _with(plan, tensor=tp, pipeline=pp)
                mp = _plan(compiled, registry, name, trial)
                if mp is None or mp.max_concurrency < 1:
                    continue
                layouts.append({"tensor": tp, "pipeline": pp, "gpus": tp * pp,
                                "concurrency": round(mp.max_concurrency, 2),
                                "longest_context": longest_context(compiled, registry, name, trial)})
        entry: dict[str, Any] = {"layouts": layouts,
                                 "fewest_gpus": min((lay["gpus"] for lay in layouts), default=None)}
        if i == 0:
            entry["gpus_for_concurrency"] = gpus_for(compiled, registry, name, plan, want)
        out["targets"][name] = entry
    return out


def gpus_for(compiled: Compiled, registry: Registry, name: str, plan: Plan, want: int) -> list[dict[str, Any]]:
    rows = []
    for gpu in gpus.CATALOG.values():
        for tp in TENSOR:
            if not _heads_ok(plan, tp):
                continue
            mp = _plan(compiled, registry, name, _with(plan, tensor=tp, pipeline=1, gpu=gpu))
            if mp is not None and mp.max_concurrency >= 1:
                copies = ceil(want / mp.max_concurrency) if mp.max_concurrency < want else 1
                rows.append({"gpu": gpu.name, "tensor": tp, "per_copy": round(mp.max_concurrency, 2),
                             "copies": copies, "gpus": copies * tp})
                break
    return sorted(rows, key=lambda r: (r["gpus"], r["gpu"]))
