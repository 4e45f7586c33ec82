"""Spec -> text-generation-launcher options: one row per setting, in argv order. The argv, the check
of extra `args`, and the environment variables the launcher reads for an owned option all come from
this table (deployc.compiler.api.flags) and the pinned launcher's clap table (engine_options/<version>.json).

Spellings and values are checked against launcher/src/main.rs `struct Args` at each pinned tag
(versions.py names the commits; the conformance tier parses every emitted argv as clap does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from deployc.compiler import api
from deployc.compiler.api import Plan, SpecPath, is_local, opt, owned
from deployc.targets.tgi.versions import (CHUNKING_MIN_SM, DEFAULT_PREFILL_TOKENS, KV_CACHE_FP8, QUANTIZE,
                                          QUANTIZE_WITH_DTYPE, TgiVersion)

TgiQuantize = Literal["awq", "compressed-tensors", "eetq", "exl2", "gptq", "marlin", "bitsandbytes",
                      "bitsandbytes-nf4", "bitsandbytes-fp4", "fp8"]


class TgiOptions(api.TargetOptions):
    """targets.tgi: the common options, plus TGI's own quantization methods."""

    quantize: TgiQuantize | None = Field(
        default=None,
        description="TGI's --quantize method, for methods deploy.yaml has no word for (eetq: 8-bit at load, "
                    "any model; bitsandbytes: 8-bit; bitsandbytes-fp4; marlin, exl2, compressed-tensors "
                    "checkpoints). Only with precision.quantization: none.")


def quantize(plan: Plan, opts: TgiOptions) -> str | None:
    return opts.quantize or QUANTIZE.get(plan.precision.quantization)


def chunking_gpu(plan: Plan) -> bool:
    sm = plan.hardware.gpu.sm
    return sm is None or sm >= CHUNKING_MIN_SM


def chunking(plan: Plan, opts: TgiOptions, v: TgiVersion) -> bool:
    """Whether TGI will chunk prefills: the version's default or env PREFILL_CHUNKING, on a GPU that gets flash attention."""
    env = opts.env.get("PREFILL_CHUNKING")
    on = v.prefill_chunking if env is None else env.lower() in ("1", "true")
    return on and chunking_gpu(plan)


def input_tokens(plan: Plan) -> int | None:
    lim = plan.limits
    if lim.max_input_tokens is not None:
        return lim.max_input_tokens
    return lim.max_model_len - 1 if lim.max_model_len is not None else None


def prefill_tokens(plan: Plan, opts: TgiOptions, v: TgiVersion) -> int | None:
    """--max-batch-prefill-tokens: limits.max_batch_tokens, else, where TGI cannot chunk prefills and its
    default (as low as 4096) would be below the longest prompt, which the router refuses, that prompt."""
    if plan.limits.max_batch_tokens is not None:
        return plan.limits.max_batch_tokens
    prompt = input_tokens(plan)
    if prompt is not None and prompt > DEFAULT_PREFILL_TOKENS and not chunking(plan, opts, v):
        return prompt
    return None


@dataclass(frozen=True)
class Lowering:
    """What one launcher argv (everything after the image) is written for. where(ref, container_path)
    maps a local path of the spec to where the container sees it."""

    plan: Plan
    opts: TgiOptions
    v: TgiVersion
    where: Callable[[str, str], str | None]


def _dtype(c: Lowering) -> str | None:
    """dtype auto: TGI's per-model default; with --quantize only for the bitsandbytes family (checks.py
    refuses the rest, or leaves float16 out where TGI runs float16 anyway)."""
    q, dtype = quantize(c.plan, c.opts), c.plan.precision.dtype
    return dtype if dtype != "auto" and (q is None or q in QUANTIZE_WITH_DTYPE) else None


def _lora_adapters(c: Lowering) -> str | None:
    """`name=path` for a local adapter; a hub adapter only by its repo id (`id=path` takes a local path)."""
    return ",".join(f"{a.name}={c.where(a.source, f'/deployc/adapters/{a.name}')}" if is_local(a.source)
                    else a.source for a in c.plan.model.adapters) or None


# clap 4 without infer_long_args: long options match exactly; `-p8001` is `-p 8001`.
TABLE: api.OptionTable[Lowering] = api.OptionTable(api.CLAP, [
    opt("--model-id", "model.source", lambda c: c.where(c.plan.model.source, "/deployc/model")),
    opt("--revision", "model.revision", lambda c: c.plan.model.revision or None),
    # Always written: the launcher would otherwise shard over every visible GPU.
    opt("--num-shard", "parallelism.tensor", lambda c: c.plan.parallelism.tensor,
        why="TGI's launcher shards over every visible GPU unless told: written so it runs tensor x GPUs, the "
            "deployment every target serves"),
    owned("--sharded", "parallelism.tensor"),      # implied by --num-shard
    opt("--quantize", "precision.quantization", lambda c: quantize(c.plan, c.opts)),
    opt("--dtype", "precision.dtype", _dtype),
    opt("--kv-cache-dtype", "precision.kv_cache_dtype",
        lambda c: KV_CACHE_FP8 if c.plan.precision.kv_cache_dtype == "fp8" else None),
    opt("--trust-remote-code", "model.trust_remote_code", lambda c: c.plan.model.trust_remote_code),
    # --max-input-length: the legacy spelling, which the launcher refuses next to --max-input-tokens.
    opt("--max-input-tokens", "limits.max_input_tokens", lambda c: input_tokens(c.plan),
        aliases=("--max-input-length",),
        why="max_model_len - 1: prompts up to the context less one generated token, what every other target "
            "admits (TGI's own default depends on the model and version)"),
    opt("--max-total-tokens", "limits.max_model_len", lambda c: c.plan.limits.max_model_len),
    opt("--speculate", "speculative", lambda c: s.num_tokens if (s := c.plan.speculative) else None),
    opt("--rope-scaling", "model.rope_scaling",
        lambda c: r.rope_type if (r := c.plan.model.rope_scaling) and r.rope_type in ("linear", "dynamic") else None),
    opt("--rope-factor", "model.rope_scaling",
        lambda c: r.factor if (r := c.plan.model.rope_scaling) and r.rope_type in ("linear", "dynamic") else None),
    opt("--max-batch-prefill-tokens", "limits.max_batch_tokens", lambda c: prefill_tokens(c.plan, c.opts, c.v),
        why="TGI cannot chunk prefills here, and its router refuses to start when max_batch_prefill_tokens is "
            "below the longest prompt (max_input_tokens)"),
    opt("--max-concurrent-requests", "limits.max_concurrency", lambda c: c.plan.limits.max_concurrency),
    # Unset: TGI's own default, 1.0 (launcher --cuda-memory-fraction), which the plan uses.
    opt("--cuda-memory-fraction", "hardware.memory_utilization", lambda c: c.plan.hardware.memory_utilization),
    opt("--lora-adapters", "model.adapters", _lora_adapters),
    # Inside the container: docker's HOSTNAME would otherwise reach the launcher through clap's env fallback.
    opt("--hostname", "server.host", lambda c: "0.0.0.0",
        why="inside the container TGI listens on every interface (docker's HOSTNAME would otherwise reach the "
            "launcher through clap's env fallback); server.host picks the address the port is published on"),
    opt("--port", "server.port", lambda c: c.plan.server.port, aliases=("-p",)),
    # The API key travels as API_KEY, the launcher's clap env for --api-key (run.sh exports it).
    owned("--api-key", "server.api_key_env"),
])


def owned_env(v: TgiVersion) -> dict[str, SpecPath]:
    """The clap `env` variables of the owned options (MAX_TOTAL_TOKENS, PORT, ...): the launcher reads them
    for a flag deployc writes, and the command line silently wins."""
    return {v.options[flag]["env"]: owner for flag, owner in TABLE.owners(v).items()
            if flag in v.options and v.options[flag]["env"]}


def launcher_args(c: Lowering) -> list[str]:
    """Everything after the image: the table's options, then the user's extra args."""
    return TABLE.argv(c, c.v) + list(c.opts.args)
