"""TensorRT-LLM 1.x: what deployc owns on the command line of `trtllm-serve serve` and in its options YAML
(`--config FILE`, whose keys are LLM-API arguments: TorchLlmArgs and its nested configs).

Both are tables, one row per spec setting, so a new setting is a new row:

- SERVE (flags.OptionTable, click): the argv, the owned spellings that extra `args` may not restate, and
  through them the check of `args` against the version's option table (engine_options/<version>.json).
- KEYS (``Key`` rows): the YAML. A row names its key path (("kv_cache_config", "dtype")), the spec
  setting that owns it and a value function; None leaves the key out. ``options_yaml`` nests the rows;
  ``key_paths`` lists them, and the tests hold every path to the LLM-API classes of the version's table
  (BaseLlmArgs/TorchLlmArgs forbid unknown keys: a misspelt key stops the server at startup).

The YAML overrides the command line (trtllm-serve.html, "Configuring with YAML Files"), so a setting
lives in one of the two places only; SERVE owns the YAML's flag and the KV-cache fraction's flags so that
`args` can restate neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from deployc.compiler.api import CLICK, OptionTable, Plan, SpecPath, fixed, opt, owned
from deployc.targets.tensorrt_llm.engine import NAME
from deployc.targets.tensorrt_llm.versions import TrtLlmServeVersion


@dataclass(frozen=True)
class Serving:
    """What the 1.x commands are written for: the model as trtllm-serve reads it (hub id, or a path as the
    script or the container sees it), the chat template's path likewise, the KV cache's share of free
    memory, the address, the options file (None: no YAML) and the adapters' paths (name, path)."""

    plan: Plan
    v: TrtLlmServeVersion
    model: str
    revision: str | None
    tokenizer: str | None
    chat_template: str | None
    fraction: float | None   # None: TensorRT-LLM's own default, not written
    host: str
    config: str | None
    max_batch_size: int | None
    adapters: tuple[tuple[str, str], ...] = ()
    parsers: tuple[str | None, str | None] = (None, None)   # (tool, reasoning): targets/tensorrt_llm/parsers.py
    draft: str | None = None   # speculative.model as trtllm-serve reads it (hub id, or a path the script or container sees)


SERVE: OptionTable[Serving] = OptionTable(CLICK, [
    opt(None, "model.source", lambda c: c.model),
    opt("--tokenizer", "model.tokenizer", lambda c: c.tokenizer),
    opt("--revision", "model.revision", lambda c: c.revision),
    opt("--host", "server.host", lambda c: c.host),
    opt("--port", "server.port", lambda c: c.plan.server.port),
    fixed("--backend", "pytorch", why="the PyTorch backend this target writes for (no engine build): trtllm-serve's "
                                      "--backend has no default of its own (engine_options/1.2.1.json: null)"),
    # With data-parallel attention (tensor 1) --tp_size counts the data ranks: the LLM API's attention DP
    # runs attention on each of them (enable_attention_dp in the options YAML, KEYS below).
    opt("--tp_size", "parallelism.tensor",
        lambda c: _tp(c.plan) if _tp(c.plan) > 1 else None, aliases=("--tensor_parallel_size",),
        why=lambda c: "data: with enable_attention_dp TensorRT-LLM's --tp_size counts the data-parallel "
                      "attention ranks" if c.plan.attention_dp else None),
    opt("--ep_size", "parallelism.expert",
        lambda c: c.plan.parallelism.expert if c.plan.parallelism.expert > 1 else None,
        aliases=("--moe_expert_parallel_size",)),
    opt("--pp_size", "parallelism.pipeline",
        lambda c: c.plan.parallelism.pipeline if c.plan.parallelism.pipeline > 1 else None,
        aliases=("--pipeline_parallel_size",)),
    opt("--max_batch_size", "limits.max_concurrency", lambda c: c.max_batch_size),
    opt("--max_num_tokens", "limits.max_batch_tokens", lambda c: c.plan.limits.max_batch_tokens),
    opt("--max_seq_len", "limits.max_model_len", lambda c: c.plan.limits.max_model_len),
    opt("--trust_remote_code", "model.trust_remote_code", lambda c: c.plan.model.trust_remote_code),
    opt("--chat_template", "model.chat_template", lambda c: c.chat_template),
    # Issue 20, item 4: chunked prefill is off unless asked (LLM API enable_chunked_prefill False): true is the
    # flag, false leaves the default.
    opt("--enable_chunked_prefill", "cache.chunked_prefill", lambda c: c.plan.cache.chunked_prefill is True),
    # Issue 20, item 3: trtllm-serve's own flags (serve.py; prototype stability at 1.2.1)
    opt("--tool_parser", "model.tool_parser", lambda c: c.parsers[0]),
    opt("--reasoning_parser", "model.reasoning_parser", lambda c: c.parsers[1]),
    owned("--free_gpu_memory_fraction", "hardware.memory_utilization", aliases=("--kv_cache_free_gpu_memory_fraction",)),
    opt("--config", ("targets", NAME), lambda c: c.config, aliases=("--extra_llm_api_options",),
        why="the LLM-API options file deployc writes beside serve.sh, for the settings trtllm-serve has no flag "
            "for"),
])


@dataclass(frozen=True)
class Key:
    """One LLM-API argument deployc writes: its key path, the spec setting that owns it, its value."""

    path: tuple[str, ...]
    owner: SpecPath
    value: Callable[[Serving], Any]


def _adapter_rank(c: Serving) -> int | None:
    ranks = [a.rank for a in c.plan.model.adapters if a.rank is not None]
    return max(ranks) if ranks else None


# spec method -> speculative_config.decoding_type: DecodingBaseConfig.from_dict's map at 1.2.1 (engine_options/
# 1.2.1.json llm_api_decoding_types; features/speculative-decoding.html: "Eagle (for EAGLE 3)"). EAGLE-1 heads
# have no PyTorch-backend path (serve_checks.check_speculative refuses method eagle).
DECODING_TYPES = {"mtp": "MTP", "eagle3": "Eagle", "ngram": "NGram", "draft": "DraftTarget"}


def _spec(c: Serving, *methods: str) -> bool:
    s = c.plan.speculative
    return s is not None and s.method in methods


def _draft_len(c: Serving) -> int | None:
    """speculative.num_tokens as max_draft_len; MTP takes it as num_nextn_predict_layers instead
    (MTPDecodingConfig.__init__ copies that into max_draft_len)."""
    s = c.plan.speculative
    return s.num_tokens if s is not None and s.method != "mtp" else None


def _tp(plan: Plan) -> int:
    par = plan.parallelism
    return par.tensor * par.data if plan.attention_dp else par.tensor


KEYS: tuple[Key, ...] = (
    # TorchLlmArgs.enable_attention_dp (the llm_args table of 1.2.1): attention data-parallel over --tp_size
    Key(("enable_attention_dp",), ("parallelism", "data_mode"), lambda c: True if c.plan.attention_dp else None),
    # Issue 20, item 4: KvCacheConfig.enable_block_reuse (prefix caching; null: the LLM API's default)
    Key(("kv_cache_config", "enable_block_reuse"), ("cache", "prefix_caching"), lambda c: c.plan.cache.prefix_caching),
    # KvCacheConfig.free_gpu_memory_fraction: a share of the memory free after weights and buffers
    Key(("kv_cache_config", "free_gpu_memory_fraction"), ("hardware", "memory_utilization"), lambda c: c.fraction),
    # KvCacheConfig.dtype: "fp8" on any checkpoint (features/quantization.md, "FP8 KV Cache")
    Key(("kv_cache_config", "dtype"), ("precision", "kv_cache_dtype"),
        lambda c: "fp8" if c.plan.precision.kv_cache_dtype == "fp8" else None),
    # LoraConfig (features/lora.html): the adapters, their largest rank, all of them resident
    Key(("lora_config", "lora_dir"), ("model", "adapters"), lambda c: [path for _, path in c.adapters] or None),
    Key(("lora_config", "max_lora_rank"), ("model", "adapters"), _adapter_rank),
    Key(("lora_config", "max_loras"), ("limits", "max_loras"),
        lambda c: (c.plan.limits.max_loras or len(c.adapters)) if c.adapters else None),
    Key(("lora_config", "max_cpu_loras"), ("model", "adapters"), lambda c: len(c.adapters) or None),
    # Issue 20, item 2: speculative_config, the decoding config its decoding_type names (llm_args.py at 1.2.1:
    # DecodingBaseConfig.max_draft_len / speculative_model, MTPDecodingConfig.num_nextn_predict_layers,
    # NGramDecodingConfig.max_matching_ngram_size); unset numbers keep TensorRT-LLM's defaults
    Key(("speculative_config", "decoding_type"), ("speculative", "method"),
        lambda c: DECODING_TYPES.get(c.plan.speculative.method) if c.plan.speculative else None),
    Key(("speculative_config", "max_draft_len"), ("speculative", "num_tokens"), _draft_len),
    Key(("speculative_config", "num_nextn_predict_layers"), ("speculative", "num_tokens"),
        lambda c: c.plan.speculative.num_tokens if c.plan.speculative and _spec(c, "mtp") else None),
    Key(("speculative_config", "speculative_model"), ("speculative", "model"), lambda c: c.draft),
    Key(("speculative_config", "max_matching_ngram_size"), ("speculative", "ngram"),
        lambda c: c.plan.speculative.ngram.max if c.plan.speculative and _spec(c, "ngram") else None),
)


def options_yaml(c: Serving) -> dict[str, Any]:
    """The LLM-API arguments of KEYS with a value, nested by key path, in row order."""
    out: dict[str, Any] = {}
    for key in KEYS:
        value = key.value(c)
        if value is None:
            continue
        node = out
        for part in key.path[:-1]:
            node = node.setdefault(part, {})
        node[key.path[-1]] = value
    return out


def key_paths() -> list[tuple[str, ...]]:
    return [k.path for k in KEYS]


def serve_argv(c: Serving) -> list[str]:
    return ["trtllm-serve", "serve", *SERVE.argv(c, c.v)]
