"""`trtllm-serve [serve] MODEL ...` with its options YAML (`--config` / `--extra_llm_api_options FILE`) read back
into a spec: the reverse of llmapi.py's SERVE flags and KEYS, for the 1.x releases (engine_options/<version>.json,
extracted from tensorrt_llm/commands/serve.py: click, so no abbreviations; values arrive as text).

The YAML's keys are LLM-API arguments that override the flags (trtllm-serve.html, "Configuring with YAML
Files"): the import reads the file in place of its path, maps the keys llmapi.py KEYS writes, and reports
the others as left out (deployc writes its own options file; deploy.yaml has no place for them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from collections.abc import Callable

from deployc.compiler.api.importing import Ctx, Dialect, Importer, Keep, Result, rev
from deployc.targets.tensorrt_llm.llmapi import DECODING_TYPES
from deployc.targets.tensorrt_llm.versions import VERSIONS, TrtLlmServeVersion

ENGINE_OPTIONS = Path(__file__).parent / "engine_options"
SERVE_VERSIONS = tuple(k for k, v in VERSIONS.items() if isinstance(v, TrtLlmServeVersion))


def _int(path: str) -> Callable[[Any, Ctx], Result]:
    def fn(value: Any, ctx: Ctx) -> Result:
        try:
            return {path: int(value)}
        except (TypeError, ValueError):
            return Keep(f"{path} takes a whole number, not {value!r}")
    return fn


def _attention_dp(ctx: Ctx) -> bool:
    config = _config(ctx["extra_llm_api_options"])
    return isinstance(config, dict) and config.get("enable_attention_dp") is True


def _tp(value: Any, ctx: Ctx) -> Result:
    """With enable_attention_dp, --tp_size counts the data-parallel attention ranks (llmapi.py _tp)."""
    try:
        tp = int(value)
    except (TypeError, ValueError):
        return Keep(f"--tp_size {value!r} is not a number")
    if _attention_dp(ctx):
        return {"parallelism.data": tp, "parallelism.data_mode": "attention"}
    return {"parallelism.tensor": tp}


def _config(value: Any) -> Any:
    try:
        return json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return None


# speculative_config.decoding_type -> speculative.method: llmapi.DECODING_TYPES reversed
_METHODS = {v: k for k, v in DECODING_TYPES.items()}


def _speculative(spec: Any, out: dict[str, Any]) -> list[str]:
    """speculative_config back to speculative: (llmapi.py KEYS); returns the keys left out."""
    if spec is None:
        return []
    if not isinstance(spec, dict) or spec.get("decoding_type") not in _METHODS:
        return ["speculative_config"]
    method = _METHODS[spec["decoding_type"]]
    out["speculative.method"] = method
    taken = {"decoding_type"}
    length = "num_nextn_predict_layers" if method == "mtp" else "max_draft_len"
    if isinstance(spec.get(length), int):
        out["speculative.num_tokens"] = spec[length]
        taken.add(length)
    for key in ("speculative_model", "speculative_model_dir"):   # DecodingBaseConfig's alias choices
        if isinstance(spec.get(key), str):
            out["speculative.model"] = spec[key]
            taken.add(key)
    if method == "ngram" and isinstance(spec.get("max_matching_ngram_size"), int):
        out["speculative.ngram.max"] = spec["max_matching_ngram_size"]
        taken.add("max_matching_ngram_size")
    return [f"speculative_config.{k}" for k in spec if k not in taken]


# the keys llmapi.py KEYS writes, back to their spec settings
def _options(value: Any, ctx: Ctx) -> Result:
    config = _config(value)
    if not isinstance(config, dict):
        return Keep("an options file deployc could not read")
    out: dict[str, Any] = {}
    kv = config.get("kv_cache_config") or {}
    left = [k for k in config if k not in ("enable_attention_dp", "kv_cache_config", "speculative_config")]
    left += _speculative(config.get("speculative_config"), out)
    left += [f"kv_cache_config.{k}" for k in kv if k not in ("enable_block_reuse", "dtype")]
    if isinstance(kv.get("enable_block_reuse"), bool):
        out["cache.prefix_caching"] = kv["enable_block_reuse"]
    if kv.get("dtype") == "fp8":
        out["precision.kv_cache_dtype"] = "fp8"
    elif "dtype" in kv:
        left.append("kv_cache_config.dtype")
    if left:
        ctx.notes.append("options YAML keys deploy.yaml has no field for, left out (deployc writes its own options "
                         "file): " + ", ".join(left))
    return out


ROWS = (
    rev("model", "model.source", str),
    rev("tokenizer", "model.tokenizer", str),
    rev("revision", "model.revision", str),
    rev("host", "server.host", str),
    rev("port", fn=_int("server.port")),
    rev("backend", fn=lambda v, c: {} if v == "pytorch" else Keep("deployc serves with the PyTorch backend")),
    rev("tensor_parallel_size", fn=_tp),
    rev("moe_expert_parallel_size", fn=_int("parallelism.expert")),
    rev("pipeline_parallel_size", fn=_int("parallelism.pipeline")),
    rev("max_batch_size", fn=_int("limits.max_concurrency")),
    rev("max_num_tokens", fn=_int("limits.max_batch_tokens")),
    rev("max_seq_len", fn=_int("limits.max_model_len")),
    rev("trust_remote_code", "model.trust_remote_code", bool),
    rev("chat_template", "model.chat_template", str),
    rev("enable_chunked_prefill", fn=lambda v, c: {"cache.chunked_prefill": True} if v else {}),
    rev("tool_parser", "model.tool_parser", str),
    rev("reasoning_parser", "model.reasoning_parser", str),
    rev("extra_llm_api_options", fn=_options),
    rev("free_gpu_memory_fraction", fn=lambda v, c: Keep(
        "TensorRT-LLM's share of the memory left after the weights, not deploy.yaml's share of the whole GPU "
        "(hardware.memory_utilization): convert it by hand")),
)


def _pull_options(argv: list[str], read: Any) -> list[str]:
    """The options YAML's content (as JSON) in place of its path, so the round trip compares contents."""
    from ruamel.yaml import YAML

    out = list(argv)
    for i, token in enumerate(out[:-1]):
        if token in ("--config", "--extra_llm_api_options"):
            text = read(out[i + 1])
            out[i + 1] = json.dumps(YAML(typ="safe").load(text) or {}, sort_keys=True)
    return out


# trtllm-serve's own defaults, which engine_options/1.2.1.json records as null: tensorrt_llm/commands/serve.py
# (NVIDIA/TensorRT-LLM 4c05a748, the stored version; not checked at v1.2.1's 376f7e1): --host "localhost",
# --port 8000, --backend "pytorch".
DEFAULTS = {"host": "localhost", "port": 8000, "backend": "pytorch"}


def _effective(config: dict[str, Any]) -> dict[str, Any]:
    """Values as TensorRT-LLM reads them: click converts the text, and fills its own defaults."""
    out = dict(config)
    for key, value in DEFAULTS.items():
        if out.get(key) is None:
            out[key] = value
    for key in ("port", "tensor_parallel_size", "pipeline_parallel_size", "moe_expert_parallel_size",
                "max_batch_size", "max_num_tokens", "max_seq_len"):
        if isinstance(out.get(key), str) and out[key].isdigit():
            out[key] = int(out[key])
    options = _config(out.get("extra_llm_api_options")) or None
    if isinstance(options, dict) and isinstance(options.get("speculative_config"), dict):
        # speculative_model_dir: the alias DecodingBaseConfig reads as speculative_model
        spec = {("speculative_model" if k == "speculative_model_dir" else k): v
                for k, v in options["speculative_config"].items()}
        options = {**options, "speculative_config": spec}
    out["extra_llm_api_options"] = options
    return out


IMPORTER = Importer(
    target="tensorrt-llm", title="TensorRT-LLM",
    commands=(("trtllm-serve", "serve"), ("trtllm-serve",)),
    table=lambda version: ENGINE_OPTIONS / f"{version}.json",
    versions=SERVE_VERSIONS,
    dialect=Dialect(abbreviations=False, positional="model", glued_short=False),
    rows=ROWS,
    rebuilt_prefix=lambda version: ("trtllm-serve", "serve"),
    effective=_effective,
    preprocess=_pull_options,
    defaults=DEFAULTS,
    restate=("host",),
    images=("nvcr.io/nvidia/tensorrt-llm/release",),
    container_port=8000,
    inside=("host", "port"),
)
