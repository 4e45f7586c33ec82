"""`sglang serve ...` / `python -m sglang.launch_server ...` read back into a spec: the reverse of options.py's
TABLE, one row per parsed setting (the dest in engine_options/<version>.json; 0.4.10.post2 names the
parallel sizes tensor_parallel_size, data_parallel_size, ..., 0.5.23 tp_size, dp_size, ...).

SGLang's parser is plain argparse (python/sglang/srt/server_args.py ServerArgs.add_cli_args): unique
prefixes of long options (`--tp` is --tp-size), store_true switches (`--disable-radix-cache`). Its own
defaults for the address differ from deploy.yaml's (127.0.0.1:30000 against 0.0.0.0:8000), so the import
states them (``restate``): the spec serves where the command served.
"""

from __future__ import annotations

import json
from typing import Any

from deployc.compiler.api.importing import Ctx, Dialect, Importer, Keep, Result, rev
from deployc.targets.sglang.options import ENGINE_OPTIONS, SPEC_ALGORITHMS
from deployc.targets.sglang.versions import KV_FP8, VERSIONS

_METHODS = {v: k for k, v in SPEC_ALGORITHMS.items()}


def _first(ctx: Ctx, *dests: str) -> Any:
    return next((ctx[d] for d in dests if ctx[d] is not None), None)


def _attention_dp(ctx: Ctx) -> int:
    """The data-parallel attention size: --attn-dp-size (0.5.23), or --dp-size with --enable-dp-attention."""
    if (ctx["attn_dp_size"] or 1) > 1:
        return int(ctx["attn_dp_size"])
    if ctx["enable_dp_attention"]:
        return int(_first(ctx, "dp_size", "data_parallel_size") or 1)
    return 1


def _tensor(value: Any, ctx: Ctx) -> Result:
    if not isinstance(value, int) or isinstance(value, bool):
        return Keep("parallelism.tensor takes an int")
    d = _attention_dp(ctx)
    if value % d:
        return Keep(f"--tp-size {value} does not divide into {d} data-parallel attention ranks")
    return {"parallelism.tensor": value // d}   # with data-parallel attention --tp-size counts tensor x data


def _data(value: Any, ctx: Ctx) -> Result:
    if ctx["enable_dp_attention"] and (ctx["attn_dp_size"] or 1) <= 1:
        return {"parallelism.data": value, "parallelism.data_mode": "attention"}
    return {"parallelism.data": value}


def _attn_dp(value: Any, ctx: Ctx) -> Result:
    return {"parallelism.data": value, "parallelism.data_mode": "attention"} if value > 1 else {}


def _enable_dp_attention(value: Any, ctx: Ctx) -> Result:
    return {} if value else Keep("--enable-dp-attention off")


def _running(value: Any, ctx: Ctx) -> Result:
    d = _attention_dp(ctx)   # limits.max_concurrency is per data rank; SGLang's total is split over them
    if value % d:
        return Keep(f"--max-running-requests {value} does not split evenly over {d} attention ranks")
    return {"limits.max_concurrency": value // d}


def _chunked(value: Any, ctx: Ctx) -> Result:
    if value == -1:
        tokens = ctx["max_prefill_tokens"]
        return {"cache.chunked_prefill": False, "limits.max_batch_tokens": tokens}
    return {"limits.max_batch_tokens": value}


def _prefill_tokens(value: Any, ctx: Ctx) -> Result:
    return {} if ctx["chunked_prefill_size"] == -1 else Keep(
        "--max-prefill-tokens has a deploy.yaml field only with chunking off (--chunked-prefill-size -1)")


def _radix(value: Any, ctx: Ctx) -> Result:
    return {"cache.prefix_caching": False} if value is True else {}


def _quantization(value: Any, ctx: Ctx) -> Result:
    if value == "fp8":
        return {"precision.quantization": "fp8"}
    if value in ("awq", "gptq", "awq_marlin", "gptq_marlin"):
        method = value.removesuffix("_marlin")
        ctx.notes.append(f"--quantization {value}: deploy.yaml says the checkpoint is {method}; deployc lets SGLang "
                         "read the checkpoint's quantization_config, so the rebuilt command does not name it")
        return {"precision.quantization": method}
    return Keep(f"deploy.yaml's precision.quantization has no {value!r}")


def _kv(value: Any, ctx: Ctx) -> Result:
    return {"precision.kv_cache_dtype": "fp8"} if value == KV_FP8 else Keep(
        f"deploy.yaml's precision.kv_cache_dtype fp8 is SGLang's {KV_FP8}, not {value!r}")


_ROPE_KEYS = ("rope_type", "factor", "original_max_position_embeddings", "low_freq_factor", "high_freq_factor")


def _overrides(value: Any, ctx: Ctx) -> Result:
    try:
        obj = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError:
        return Keep("not JSON")
    if isinstance(obj, dict) and set(obj) <= {"rope_scaling", "max_position_embeddings"}:
        rope = obj.get("rope_scaling")
        if isinstance(rope, dict) and "rope_type" in rope and set(rope) - {"rope_theta"} <= set(_ROPE_KEYS):
            return {"model.rope_scaling": {k: rope[k] for k in _ROPE_KEYS if k in rope}}
    return Keep("only a rope scaling override has a deploy.yaml field (model.rope_scaling)")


def _algorithm(value: Any, ctx: Ctx) -> Result:
    method = _METHODS.get(str(value).upper())
    if method is None:
        return Keep(f"deploy.yaml's speculative.method has no SGLang {value!r}")
    out: dict[str, Any] = {"speculative.method": method}
    steps, topk, draft = ctx["speculative_num_steps"], ctx["speculative_eagle_topk"], ctx["speculative_num_draft_tokens"]
    if method == "ngram":
        if draft is not None:
            out["speculative.num_tokens"] = draft
    elif steps is not None or topk is not None or draft is not None:
        # deployc writes a chain: steps n, top-k 1, n + 1 draft tokens (options.py _spec_numbers)
        if steps is None or topk != 1 or draft != steps + 1:
            return Keep("a speculative tree (top-k > 1, or a draft budget other than steps + 1) has no deploy.yaml "
                        "field: --speculative-num-steps, --speculative-eagle-topk and "
                        "--speculative-num-draft-tokens stay raw with it")
        out["speculative.num_tokens"] = steps
    return out


def _spec_number(value: Any, ctx: Ctx) -> Result:
    algo = ctx["speculative_algorithm"]
    if algo is None:
        return Keep("a speculative setting without --speculative-algorithm")
    if isinstance(_algorithm(algo, ctx), Keep):
        return Keep("goes with --speculative-algorithm, which stays raw")
    return {}


def _spec_model(value: Any, ctx: Ctx) -> Result:
    if ctx["speculative_algorithm"] is None or isinstance(_algorithm(ctx["speculative_algorithm"], ctx), Keep):
        return Keep("goes with --speculative-algorithm, which stays raw")
    return {"speculative.model": value}


def _lora_paths(value: Any, ctx: Ctx) -> Result:
    adapters = []
    for item in value or ():
        if not isinstance(item, str) or "=" not in item or item.lstrip().startswith("{"):
            return Keep("a LoRA path that is not name=path")
        name, path = item.split("=", 1)
        adapters.append({"name": name, "source": path})
    return {"model.adapters": adapters}


def _enable_lora(value: Any, ctx: Ctx) -> Result:
    return {} if value and ctx["lora_paths"] else Keep("--enable-lora without --lora-paths")


def _loras_per_batch(value: Any, ctx: Ctx) -> Result:
    if not ctx["lora_paths"]:
        return Keep("--max-loras-per-batch without --lora-paths")
    return {"limits.max_loras": value - 1} if value > 1 else Keep("one slot is the base model's")


ROWS = (
    rev("model_path", "model.source", str),
    rev("tokenizer_path", "model.tokenizer", str),
    rev("revision", "model.revision", str),
    rev("trust_remote_code", "model.trust_remote_code", bool),
    rev("chat_template", "model.chat_template", str),
    rev("served_model_name", "model.served_name", str),
    rev("dtype", "precision.dtype", str),
    rev("quantization", fn=_quantization),
    rev("kv_cache_dtype", fn=_kv),
    rev("tp_size", fn=_tensor),
    rev("tensor_parallel_size", fn=_tensor),
    rev("pp_size", "parallelism.pipeline", int),
    rev("pipeline_parallel_size", "parallelism.pipeline", int),
    rev("dp_size", fn=_data),
    rev("data_parallel_size", fn=_data),
    rev("attn_dp_size", fn=_attn_dp),
    rev("enable_dp_attention", fn=_enable_dp_attention),
    rev("ep_size", "parallelism.expert", int),
    rev("expert_parallel_size", "parallelism.expert", int),
    rev("context_length", "limits.max_model_len", int),
    rev("max_running_requests", fn=_running),
    rev("chunked_prefill_size", fn=_chunked),
    rev("max_prefill_tokens", fn=_prefill_tokens),
    rev("disable_radix_cache", fn=_radix),
    rev("json_model_override_args", fn=_overrides),
    rev("speculative_algorithm", fn=_algorithm),
    rev("speculative_num_steps", fn=_spec_number),
    rev("speculative_eagle_topk", fn=_spec_number),
    rev("speculative_num_draft_tokens", fn=_spec_number),
    rev("speculative_draft_model_path", fn=_spec_model),
    rev("speculative_draft_model_revision", fn=lambda v, c: {"speculative.revision": v}
        if not isinstance(_spec_model(v, c), Keep) else Keep("goes with --speculative-algorithm, which stays raw")),
    # SGLang's static fraction is not deploy.yaml's share of the GPU: it stays SGLang's own knob
    rev("mem_fraction_static", "targets.sglang.mem_fraction_static", float),
    rev("enable_lora", fn=_enable_lora),
    rev("lora_paths", fn=_lora_paths),
    rev("max_loras_per_batch", fn=_loras_per_batch),
    rev("tool_call_parser", "model.tool_parser", str),
    rev("reasoning_parser", "model.reasoning_parser", str),
    rev("host", "server.host", str),
    rev("port", "server.port", int),
)


def _effective(config: dict[str, Any]) -> dict[str, Any]:
    """What SGLang acts on: no served name means the model path; in 0.5.23 `--dp-size N --enable-dp-attention`
    resolves to attn_dp_size N, dp_size 1 (python/sglang/srt/arg_groups/parallel_hook.py
    _handle_deprecated_dp_attention, run before any handler reads the DP layout)."""
    out = dict(config)
    if "attn_dp_size" in out and out.get("enable_dp_attention") and (out.get("attn_dp_size") or 1) <= 1:
        out.update(attn_dp_size=out.get("dp_size") or 1, dp_size=1, enable_dp_attention=False)
    out["served_model_name"] = out.get("served_model_name") or out.get("model_path")
    return out


def _prefix(version: str) -> tuple[str, ...]:
    v = VERSIONS.get(version) or next(iter(VERSIONS.values()))
    return tuple(v.launcher)


IMPORTER = Importer(
    target="sglang", title="SGLang",
    commands=(("sglang", "serve"), ("python", "-m", "sglang.launch_server")),
    table=lambda version: ENGINE_OPTIONS / f"{version}.json",
    versions=tuple(VERSIONS),
    dialect=Dialect(),
    rows=ROWS,
    rebuilt_prefix=_prefix,
    # SGLang reads the key only from --api-key; deployc passes it from the variable server.api_key_env names
    secrets={"api_key": "SGLANG_API_KEY"},
    restate=("host", "port"),
    effective=_effective,
)
