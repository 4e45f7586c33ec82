"""Plan runs with llm-d-planner and aiconfigurator. Runs INSIDE the benchmark's own venv.

    <venv>/bin/python benchmarks/planners_other.py < cases.json > predictions.json

benchmarks/compare_planners.py writes the cases and creates that venv (pip install
llm-d-planner==0.3.3 aiconfigurator==0.12.0); neither package is a deployc dependency. Each case
gives the same inputs deployc planned: the model's config.json (a local folder), its parameter
count, the GPU's CUDA total, gpu_memory_utilization, tensor/pipeline sizes, max_model_len, the
engine's batch tokens and sequences, the KV cache dtype. Neither planner may reach the Hub here, so
llm-d-planner's safetensors parameter count (model_params_by_dtype) is answered with the same
parameter count deployc uses, stored at the checkpoint's width; everything else is the packages'
own code. Output per case: KV cache GiB per GPU and tokens, or the error text.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
from types import SimpleNamespace
from typing import Any

logging.disable(logging.CRITICAL)

# deployc GPU name -> aiconfigurator system file (aiconfigurator_core/systems/<name>.yaml)
AIC_SYSTEMS = {"H100-80GB": "h100_sxm", "H200": "h200_sxm", "A100-80GB": "a100_sxm", "L40S": "l40s", "L4": "l4",
               "B200": "b200_sxm", "B300": "b300_sxm", "GB200": "gb200", "RTX-PRO-6000": "rtx_pro_6000_server"}


def ns(value: Any) -> Any:
    """config.json as the attribute object transformers' AutoConfig would give (quantization_config stays a dict)."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: (v if k == "quantization_config" else ns(v)) for k, v in value.items()})
    return value


def llmd(case: dict[str, Any]) -> dict[str, Any]:
    from planner import capacity_planner as cp

    width = case["weight_dtype"]          # "BF16", "F8_E4M3", "I4", "F32"
    cp.model_params_by_dtype = lambda _name, _tok=None: {width: int(case["parameters"])}
    cfg = ns(case["config"])
    tp, pp = case["tp"], case["pp"]
    total = cp.allocatable_kv_cache_memory(case["model"], cfg, case["gpu_gib"], case["util"], tp, pp, 1,
                                           max_model_len=case["max_model_len"])
    per_gpu = total / (tp * pp)
    detail = cp.KVCacheDetail(case["model"], cfg, case["max_model_len"])
    per_token = detail.per_token_memory_bytes / (tp * pp) * (0.5 if case["kv_fp8"] else 1.0)
    tokens = int(per_gpu * 2**30 // (per_token * 16)) * 16 if per_token else 0
    return {"kv_gib": per_gpu, "tokens": tokens}


def aic(case: dict[str, Any]) -> dict[str, Any]:
    from aiconfigurator_core.sdk.memory import estimate_kv_cache

    system = AIC_SYSTEMS.get(case["gpu"], "")
    version = {"a100_sxm": "0.14.0"}.get(system, "current")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        r = estimate_kv_cache(case["config_dir"], system or "unknown", "vllm", version,
                              max_num_tokens=case["batch_tokens"], max_batch_size=case["max_seqs"],
                              memory_fraction_kind="of_total", memory_fraction_value=case["util"],
                              tp_size=case["tp"], pp_size=case["pp"],
                              kvcache_quant_mode="fp8" if case["kv_fp8"] else None,
                              gpu_memory_capacity_bytes_override=int(case["gpu_gib"] * 2**30),
                              allow_naive_fallback=True)
    return {"kv_gib": r["total_kv_size_bytes"] / 2**30, "tokens": int(r["total_kv_size_tokens"]),
            "source": r["source"]}


def main() -> None:
    cases = json.load(sys.stdin)
    out = {}
    for case in cases:
        row = {}
        for name, fn in (("llm-d-planner", llmd), ("aiconfigurator", aic)):
            try:
                row[name] = fn(case)
            except Exception as e:  # a planner that cannot plan the run says so; the run is then not compared
                row[name] = {"error": f"{type(e).__name__}: {str(e)[:200]}"}
        out[case["id"]] = row
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
