"""Turn a run of benchmarks/truth/runs.json into the deploy.yaml deployc plans, or say why it cannot.

A run becomes a spec with the run's own settings: GPU, tensor/pipeline sizes, memory fraction,
max_model_len, batch tokens, sequences, dtypes. The model is the run's checkpoint when deployc's
catalog resolves it (model_catalog.json, derivatives included); otherwise a local folder holding
the run's model_configs.json entry as config.json, with the checkpoint's quantization_config added
the way the run states it (an AWQ, FP8, NVFP4 or GPTQ checkpoint of the same architecture). Such a
local folder also gets the checkpoint's size when the start printed it, as the safetensors index deployc
reads from a real folder.

A run deployc cannot express is "not plannable yet: <why>" (never dropped): what a target refuses
(llama.cpp's drafters), a KV connector's own buffers, a model whose config.json was not read, an
engine era older than every version deployc writes for where the accounting differs. Data-parallel
attention (parallelism.data_mode) and speculative decoding (speculative:) are spec fields since
issue 20 and are planned. Stdlib only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

# model id -> (config.json, parameters) from deployc's catalog (derivatives resolved), or None
CatalogLookup = Callable[[str], "tuple[dict[str, Any], float | None] | None"]

TRUTH = Path(__file__).resolve().parent / "truth"

# The checkpoint's quantization_config, by what the run says it loaded (the keys vLLM and SGLang read).
QUANT_CONFIGS: dict[str, dict[str, Any]] = {
    "awq": {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True},
    "gptq": {"quant_method": "gptq", "bits": 4, "group_size": 128},
    "fp8": {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": [128, 128]},
    "modelopt": {"quant_method": "modelopt", "quant_algo": "NVFP4"},
    "auto_round": {"quant_method": "auto-round", "bits": 4, "group_size": 128, "sym": True},
    "compressed-tensors": {"quant_method": "compressed-tensors",
                           "config_groups": {"group_0": {"weights": {"num_bits": 4, "group_size": 32}}}},
}

# Run GPU text -> (catalog name, fallback {memory_gib, compute_capability} when the catalog lacks it).
# Fallbacks are the totals the runs or vendors state; each is noted where it is an inference.
GPUS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("rtx pro 6000", "RTX-PRO-6000", None), ("rtx 5090", "RTX-5090", None),
    ("rtx 4090", "RTX-4090", None), ("rtx 3090", "RTX-3090", None),
    ("rtx 4080", "", {"memory_gib": 15.99, "compute_capability": "8.9"}),   # total_gpu_memory in the run
    ("dgx spark", "", {"memory_gib": 119.21, "compute_capability": "12.1"}),  # 128 GB unified (128e9 B)
    ("24 gb", "", {"memory_gib": 23.54, "compute_capability": "8.9"}),       # 24,564 MiB class card
    ("mi355x", "MI355X", None),
    ("gh200", "GH200", None), ("h200", "H200", None), ("b200", "B200", None), ("h20", "H20", None),
    ("h100", "H100-80GB", None), ("a100", "A100-80GB", None), ("l40s", "L40S", None), ("l40", "L40", None),
    ("a10g", "A10G", None), ("t4", "T4", None), ("l4", "L4", None),
]

TARGET_VERSIONS = {"tgi": "2.4.1"}

# Where vLLM's memory accounting changed (newest first): 0.34 blocks of 64 tokens and the KV cache
# sized after warmup; 0.21 CUDA graphs inside the budget (and the hybrid token line). A run is
# planned with the deployc version of its era (0.11.2 stands for every build before 0.21).
VLLM_ERAS = ((0, 34, 0), (0, 21, 0), (0,))

# vLLM's version of a main checkout without tags, "0.1.devN+g<sha>" (not "0.20.1.dev1", a dev build of 0.20.1)
DEV_MAIN = re.compile(r"0\.1\.dev\d")


@dataclass
class Planned:
    """A run as deployc sees it: the spec text, the target and version, the local config (if any)."""
    target: str
    version: str
    spec: str
    config: dict[str, Any] | None = None        # config.json to write beside the spec (local model)
    notes: list[str] = field(default_factory=list)
    release: str | None = None                  # vLLM: the run's own build, whose accounting data applies
    checkpoint_bytes: int | None = None         # the local checkpoint's size, as its start printed it


def number(value: Any) -> float | None:
    """The first number in a run's setting: 0.9, "default (0.9)", "0.50 (ASR_MEMORY ...)"; else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    m = re.search(r"(?<![\w.])(\d+(?:\.\d+)?)", str(value).replace(",", ""))
    return float(m.group(1)) if m else None


def version_tuple(text: str) -> tuple[int, ...]:
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return (0,)
    return tuple(int(x or 0) for x in m.groups())


def engine_version(run: dict[str, Any], versions: dict[str, list[str]]) -> tuple[str | None, str | None]:
    """(deployc target version whose accounting applies, or None with the reason)."""
    engine, text = run["engine"], run["engine_version"]
    if engine == "vllm":
        v = version_tuple(text)
        if DEV_MAIN.match(text):
            v = (0, 10, 0)   # a main build between 0.9.2 and 0.10.0 (version_evidence)
        if v < (0, 6, 0) and "mla" in run["arch_tags"]:
            return None, (f"vLLM {text} cached DeepSeek-V2 without the MLA latent; deployc writes for 0.11.2 and "
                          "later, whose cache is the latent")
        known = sorted(versions["vllm"], key=version_tuple)
        era = next(e for e in VLLM_ERAS if v >= e)
        same = [k for k in known if next(e for e in VLLM_ERAS if version_tuple(k) >= e) == era]
        return (same[0] if same else [k for k in known if version_tuple(k) < (0, 34)][-1]), None
    if engine == "sglang":
        v = version_tuple(text)
        known = sorted(versions["sglang"], key=version_tuple)
        return (known[-1] if v >= (0, 5, 0) else known[0]), None
    if engine == "tgi":
        return TARGET_VERSIONS["tgi"], None
    if engine == "lmdeploy" and version_tuple(text) < (0, 9):
        return None, (f"LMDeploy {text}'s TurboMind sized a block cap from total memory and allocated on demand; "
                      "deployc writes for 0.9.2 and later, whose cache is a share of the memory free after the weights")
    if engine == "llama.cpp" and run["config"].get("spec_type"):
        return None, (f"speculative decoding (--spec-type {run['config']['spec_type']}): deployc's llama-cpp target "
                      "refuses speculative, so its plan has no drafter context")
    return None, f"no {engine} version of this era in deployc"


def release_of(run: dict[str, Any]) -> str:
    """The vLLM build a run used, as a release number (the lower end of a stated range)."""
    text = run["engine_version"]
    if DEV_MAIN.match(text):
        return "0.10.0"
    return ".".join(str(x) for x in version_tuple(text))


def unexpressible(run: dict[str, Any]) -> str | None:
    """Why the spec cannot state this run's layout, or None."""
    c = run["config"]
    dp = number(c.get("data_parallel_size"))
    if dp and dp > 1 and not c.get("enable_expert_parallel"):
        return f"data-parallel ranks (data_parallel_size {c['data_parallel_size']}) without expert parallelism"
    if c.get("kv_transfer_config"):
        return (f"KV connector {c['kv_transfer_config'].get('kv_connector')} attached: its own GPU buffers are "
                "outside what a spec states")
    return None


def speculative(run: dict[str, Any]) -> list[str]:
    """The run's speculative decoding as the spec's `speculative:` block (issue 20), or no lines.

    vLLM's speculative_config {"method": "mtp", "num_speculative_tokens": n} is method mtp with num_tokens n;
    SGLang's EAGLE without a draft model path on a checkpoint with MTP layers (Qwen3.5/3.6) runs those
    layers as the draft: method mtp, the engine's own step count."""
    c = run["config"]
    cfg = c.get("speculative_config")
    if isinstance(cfg, dict):
        method = {"mtp": "mtp", "eagle": "eagle", "eagle3": "eagle3", "ngram": "ngram",
                  "draft_model": "draft"}[str(cfg["method"])]
        tokens = cfg.get("num_speculative_tokens")
        return ["speculative:", f"  method: {method}"] + ([f"  num_tokens: {int(tokens)}"] if tokens else [])
    algo = str(c.get("speculative_algorithm") or "")
    if algo.startswith("EAGLE") and "MTP" in algo:
        return ["speculative:", "  method: mtp"]
    if algo:
        raise ValueError(f"{run['id']}: speculative_algorithm {algo!r} has no mapping")
    return []


def model_config(run: dict[str, Any], configs: dict[str, dict[str, Any]],
                 catalog: CatalogLookup) -> tuple[dict[str, Any] | None, float | None, str]:
    """(config.json, parameters, why not): the catalog's entry for the run's architecture, else the
    truth set's own model_configs.json entry when it was read in full."""
    cid = run["model_config_id"]
    found = catalog(cid)
    if found is not None:
        return found[0], found[1], ""
    entry = configs.get(cid)
    need = ("num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size")
    if entry is None:
        return None, None, f"no config.json read for {run['model']}"
    cfg = entry["config"]
    text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else cfg
    missing = [k for k in need if k not in text]
    if missing:
        return None, None, f"config.json of {entry['id']} only partly read (no {', '.join(missing)})"
    return dict(cfg), entry.get("parameters"), ""


def quantization(run: dict[str, Any]) -> str | None:
    q = str(run["config"].get("quantization") or "").lower()
    if "int4-awq" in " ".join(run["arch_tags"]):
        return "awq"   # MiniMax-M2.1-FP8-INT4-AWQ: int4 AWQ experts (most of the weights), fp8 attention
    for key in QUANT_CONFIGS:
        if q.startswith(key):
            return key
    return None


def gpu_yaml(run: dict[str, Any], catalog_names: set[str]) -> tuple[str, list[str]] | None:
    text = run["gpu"].lower()
    for needle, name, fallback in GPUS:
        if needle in text:
            if name and name.lower() in catalog_names:
                return name, []
            if fallback is None:
                return None
            printed = run["reported"].get("total_gpu_memory_gib")   # the total the engine itself printed
            if printed:
                fallback = {**fallback, "memory_gib": printed}
            label = name or re.sub(r"[^A-Za-z0-9-]+", "-", run["gpu"].split(" (")[0]).strip("-")[:40]
            body = ", ".join(f"{k}: {json.dumps(v) if isinstance(v, str) else v}" for k, v in fallback.items())
            return f"{{name: {label}, {body}}}", [f"GPU not in the catalog: {label} with {fallback['memory_gib']} GiB"]
    return None


def plan_inputs(run: dict[str, Any], configs: dict[str, dict[str, Any]], versions: dict[str, list[str]],
                catalog: CatalogLookup, catalog_names: set[str],
                default_util: Callable[[str], float]) -> Planned | str:
    """The spec deployc plans for this run, or the reason it cannot yet."""
    version, why = engine_version(run, versions)
    if version is None:
        return str(why)
    why = unexpressible(run)
    if why:
        return why
    gpu = gpu_yaml(run, catalog_names)
    if gpu is None:
        return f"GPU {run['gpu']!r} is neither in the catalog nor described by the run"
    engine, c = run["engine"], run["config"]
    notes = list(gpu[1])
    quant = quantization(run)
    source, local, params = run["model"], None, None
    # fp8 quantization of a 16-bit checkpoint while loading (--quantization fp8 on a catalog model)
    online_fp8 = quant == "fp8" and catalog(run["model"]) is not None
    if catalog(run["model"]) is None:
        cfg, params, why = model_config(run, configs, catalog)
        if cfg is None:
            return why
        if quant:
            cfg["quantization_config"] = QUANT_CONFIGS[quant]
        source, local = "./model", cfg
        notes.append(f"model: {run['model_config_id']} config.json" + (f" + {quant} quantization_config"
                                                                       if quant else ""))
    tp = int(number(c.get("tensor_parallel_size") or c.get("tp_size") or c.get("tp")) or 1)
    pp = int(number(c.get("pipeline_parallel_size") or c.get("pp_size")) or 1)
    length = number(c.get("max_model_len") or c.get("context_length") or c.get("max_total_tokens"))
    if engine == "tgi" and length is None:
        length = 4096
    if length and local is not None:
        text = local.get("text_config") if isinstance(local.get("text_config"), dict) else local
        if (text.get("max_position_embeddings") or 0) < length:
            text["max_position_embeddings"] = int(length)   # a derivative checkpoint with a longer context
            text.pop("rope_scaling", None)
    batch = number(c.get("max_num_batched_tokens") or c.get("chunked_prefill_size"))
    if batch is None and "(V0" in run["engine_version"] and length:
        batch = length   # V0 without chunked prefill profiles a max_model_len prefill (README, reading rules)
    seqs = number(c.get("max_num_seqs") or c.get("max_running_requests"))
    util_text = str(c.get("gpu_memory_utilization") or c.get("cuda_memory_fraction") or "default")
    util = None if util_text.startswith("default") else number(util_text)
    release = release_of(run) if engine == "vllm" else None
    dtype = str(c.get("dtype") or "auto").split(" ")[0].lower()
    kv = "fp8" if str(c.get("kv_cache_dtype") or "").startswith("fp8") else "auto"
    lines = ["apiVersion: deployc/v1", f"name: {re.sub('[^a-z0-9-]', '-', run['id'].lower())[:63].strip('-')}",
             "model:", f"  source: {source}"] + ([f"  facts: {{parameters: {params:.0f}}}"] if params else []) + [
             "precision:",
             f"  dtype: {dtype if dtype in ('float16', 'bfloat16', 'float32') else 'auto'}",
             f"  kv_cache_dtype: {kv}"] + (["  quantization: fp8"] if online_fp8 else []) + ["parallelism:"]
    dp = int(number(c.get("data_parallel_size") or c.get("dp_size")) or 1)
    if c.get("enable_dp_attention"):   # SGLang --tp T --dp D --enable-dp-attention: tensor x data is T GPUs
        lines += [f"  tensor: {tp // dp}", f"  pipeline: {pp}", f"  data: {dp}", "  data_mode: attention"]
    else:
        lines += [f"  tensor: {tp}", f"  pipeline: {pp}"]
        if c.get("enable_expert_parallel"):   # vLLM: experts span tensor x data ranks (parallelism.expert)
            lines += [f"  expert: {tp * dp}"] + ([f"  data: {dp}", "  data_mode: attention"] if dp > 1 else [])
    limits: list[str] = []
    if length:
        limits.append(f"  max_model_len: {int(length)}")
    if batch:
        limits.append(f"  max_batch_tokens: {int(batch)}")
    if seqs and engine != "sglang":
        limits.append(f"  max_concurrency: {int(seqs)}")
    if isinstance(c.get("limit_mm_per_prompt"), dict):   # limits.mm_per_prompt (spec field, not an engine flag)
        limits.append(f"  mm_per_prompt: {json.dumps(c['limit_mm_per_prompt'], separators=(', ', ': '))}")
    lines += (["limits:"] + limits) if limits else []     # an empty `limits:` is null, which the spec refuses
    lines += speculative(run)
    if c.get("enable_prefix_caching") is False:           # cache.prefix_caching (spec field)
        lines += ["cache:", "  prefix_caching: false"]
    options: list[str] = [f"version: '{version}'"]
    if engine == "sglang":
        fraction = number(c.get("mem_fraction_static"))
        if fraction is None:
            return "SGLang's mem_fraction_static for this start is not stated"
        options.append(f"mem_fraction_static: {fraction}")
        if "mi3" in run["gpu"].lower():   # deployc pins only the CUDA image; the run used SGLang's ROCm build
            options.append("image: 'lmsysorg/sglang:v0.5.8.post1-rocm-mi35x'")
        util = min(1.0, round(fraction + 0.10, 4))
    elif util is None:   # the default of the run's own build (vLLM 0.9 up to 0.20, 0.92 from 0.21)
        util = 1.0 if engine == "tgi" else default_util(release or version)
    lines += ["hardware:", f"  gpu: {gpu[0]}", f"  memory_utilization: {util}"]
    args = vllm_args(c) if engine == "vllm" else []
    if args:
        options.append("args: " + json.dumps(args))
    lines += ["targets:", f"  {engine}: {{{', '.join(options)}}}"]
    size = printed_checkpoint(run) if local is not None else None
    if size:
        notes.append(f"model: the checkpoint's printed size, {size / (1 << 30):.2f} GiB, as its safetensors index")
    return Planned(engine, version, "\n".join(lines) + "\n", local, notes, release, size)


def printed_checkpoint(run: dict[str, Any]) -> int | None:
    """The size of a checkpoint served from a local folder, when the start printed it (vLLM's weight_utils
    "Checkpoint size: N GiB"): deployc reads the same figure from the folder's safetensors."""
    line = next((x for x in run["log"] if "Checkpoint size:" in x), None)
    m = re.search(r"Checkpoint size: ([\d.]+) GiB", line or "")
    return round(float(m.group(1)) * (1 << 30)) if m else None


def vllm_args(c: dict[str, Any]) -> list[str]:
    """Engine flags the spec has no field for but the memory plan reads (targets.vllm.args)."""
    args: list[str] = []
    if c.get("enforce_eager") is True:
        args.append("--enforce-eager")
    if c.get("language_model_only") is True:
        args.append("--language-model-only")
    dcp = number(c.get("decode_context_parallel_size"))
    if dcp and dcp > 1:
        args += ["--decode-context-parallel-size", str(int(dcp))]
    return args


def load() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    runs = json.loads((TRUTH / "runs.json").read_text(encoding="utf-8"))["runs"]
    configs = {m["id"]: m for m in json.loads((TRUTH / "model_configs.json").read_text(encoding="utf-8"))["models"]}
    return runs, configs
