"""The plan in the engine's own words, and a startup log read back against it.

Each target says, per engine version, how its engine prints the figures (EngineMemory.report:
format strings over the fields below) and how to find them in a startup log
(EngineMemory.log_fields: a field and a regular expression whose one group is the number). The
core renders and reads them without knowing which engine it is.

Fields: tokens (the engine's KV token figure), kv_gib (KV memory per GPU), k_gib and v_gib (its
halves, as SGLang prints them), concurrency (sequences of max_model_len), max_model_len,
weights_gib, blocks (V0's "# GPU blocks", tokens = blocks x block size). Several lines of one
capacity field (one per rank or pipeline stage: KV memory, tokens, blocks, concurrency) read as the
smallest, which is what the engine sizes every rank to (vLLM: get_kv_cache_configs, "Change the
num_blocks of each rank to the smallest among all ranks", vllm/v1/core/kv_cache_utils.py 0.11.2
275de3417; kv_cache_planning.py 0.33.0 4ba787ec9); several weights lines read as the largest, the
busiest rank the plan reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deployc.compiler.memory import MemoryPlan

FIELDS = ("tokens", "kv_gib", "concurrency", "max_model_len", "weights_gib")
SMALLEST = ("tokens", "blocks", "kv_gib", "k_gib", "v_gib", "concurrency")   # capacity: per rank, the least
LABELS = {"tokens": "KV cache tokens", "kv_gib": "KV cache GiB per GPU", "concurrency": "max concurrency",
          "max_model_len": "max_model_len", "weights_gib": "weights GiB per GPU"}


def values(mp: MemoryPlan) -> dict[str, float]:
    half = mp.kv_cache_gib_per_gpu / 2
    return {"tokens": mp.kv_cache_tokens, "kv_gib": mp.kv_cache_gib_per_gpu, "k_gib": half, "v_gib": half,
            "concurrency": mp.max_concurrency, "max_model_len": mp.max_model_len,
            "weights_gib": mp.weights_gib_per_gpu}


def render(report: tuple[str, ...], mp: MemoryPlan) -> list[str]:
    v = values(mp)
    return [line.format(**{k: (int(x) if k in ("tokens", "max_model_len") else x) for k, x in v.items()})
            for line in report]


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def read_log(text: str, fields: tuple[tuple[str, str], ...], block_size: int = 16) -> dict[str, float]:
    """The figures a startup log prints, by field (see the module docstring)."""
    found: dict[str, list[float]] = {}
    for name, pattern in fields:
        for m in re.finditer(pattern, text):
            found.setdefault(name, []).append(_number(m.group(1)))
    out = {name: (min(xs) if name in SMALLEST else max(xs) if name == "weights_gib" else xs[0])
           for name, xs in found.items()}
    if "kv_gib" not in out and "k_gib" in out and "v_gib" in out:
        out["kv_gib"] = out["k_gib"] + out["v_gib"]
    if "tokens" not in out and "blocks" in out:
        out["tokens"] = out["blocks"] * block_size
    return {k: v for k, v in out.items() if k in FIELDS}


@dataclass(frozen=True)
class Row:
    label: str
    plan: float
    log: float | None

    @property
    def error(self) -> float | None:
        return None if self.log in (None, 0) else (self.plan - self.log) / self.log


def compare(mp: MemoryPlan, found: dict[str, float]) -> list[Row]:
    v = values(mp)
    return [Row(LABELS[name], v[name], found.get(name)) for name in FIELDS]


def format_value(name_or_label: str, x: float | None) -> str:
    if x is None:
        return "-"
    if "tokens" in name_or_label or "max_model_len" in name_or_label:
        return f"{int(x):,}"
    return f"{x:.2f}"
