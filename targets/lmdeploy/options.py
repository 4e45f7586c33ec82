"""Spec -> `lmdeploy serve api_server` options: one row per setting, in argv order. The argv, the check
of extra `args` and the owned-option list come from this table (deployc.compiler.api.flags); LMDeploy's
own option table per version (engine_options/<version>.json, extracted from its real parser by
conformance/extract/lmdeploy_options.py) judges the extra args.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal
from collections.abc import Callable

from pydantic import Field

from deployc.compiler import api
from deployc.compiler.api import Plan, opt, owned
from deployc.targets.lmdeploy.versions import LmdeployVersion

Backend = Literal["turbomind", "pytorch"]


class LmdeployOptions(api.TargetOptions):
    """targets.lmdeploy: the common options (version, image, args, env) and LMDeploy's own knobs."""

    backend: Backend | None = Field(
        default=None, description="Inference engine: turbomind or pytorch. Default: TurboMind where the pinned "
                                  "version supports the model's architecture, else PyTorch (LoRA adapters and "
                                  "non-CUDA devices need PyTorch).")
    device: Literal["cuda", "ascend", "maca", "camb"] = Field(
        default="cuda", description="Accelerator (--device): cuda, or Huawei Ascend NPUs (ascend), MetaX "
                                    "(maca), Cambricon (camb), which only the PyTorch engine serves.")
    kv_quant: Literal["int4", "int8", "fp8"] | None = Field(
        default=None, description="KV cache quantization (--quant-policy): int4 or int8 (both versions), fp8 "
                                  "(0.18). Default: from precision.kv_cache_dtype (fp8 -> fp8), else none.")


ENGINE_OPTIONS = Path(__file__).parent / "engine_options"


def engine_table(version: str) -> api.EngineOptions:
    return api.EngineOptions.load(ENGINE_OPTIONS / f"{version}.json")


@cache
def registry(version: str, name: str) -> tuple[str, ...]:
    """Names LMDeploy registers at that version (parsers, architectures), from its option table file."""
    data = json.loads((ENGINE_OPTIONS / f"{version}.json").read_text(encoding="utf-8"))
    return tuple((data.get("registries", {}).get(name) or {}).get("names", ()))


# model_type (config.json) -> the architecture class its checkpoints name (config.json "architectures";
# transformers' MODEL_FOR_CAUSAL_LM_MAPPING_NAMES), for the backends' architecture lists.
ARCHITECTURES = {
    "llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen2_moe": "Qwen2MoeForCausalLM",
    "qwen3": "Qwen3ForCausalLM", "qwen3_moe": "Qwen3MoeForCausalLM", "mistral": "MistralForCausalLM",
    "mixtral": "MixtralForCausalLM", "internlm2": "InternLM2ForCausalLM", "internlm3": "InternLM3ForCausalLM",
    "gemma": "GemmaForCausalLM", "gemma2": "Gemma2ForCausalLM", "gemma3_text": "Gemma3ForCausalLM",
    "gemma3": "Gemma3ForConditionalGeneration", "phi3": "Phi3ForCausalLM", "deepseek_v2": "DeepseekV2ForCausalLM",
    "deepseek_v3": "DeepseekV3ForCausalLM", "gpt_oss": "GptOssForCausalLM", "glm4": "Glm4ForCausalLM",
}


def architecture(plan: Plan) -> str | None:
    return ARCHITECTURES.get(plan.facts.model_type or "")


@dataclass(frozen=True)
class Choice:
    """The engine deployc writes for, and why (said in serve.sh and by `build`)."""

    backend: Backend
    why: str


def choose_backend(plan: Plan, opts: LmdeployOptions, v: LmdeployVersion) -> Choice:
    arch = architecture(plan)
    if opts.backend is not None:
        return Choice(opts.backend, "targets.lmdeploy.backend")
    if opts.device != "cuda":
        return Choice("pytorch", f"only the PyTorch engine runs on {opts.device}")
    if plan.model.adapters:
        return Choice("pytorch", "LoRA adapters (--adapters) are a PyTorch engine argument")
    if arch is not None and arch not in registry(v.version, "turbomind_archs"):
        return Choice("pytorch", f"TurboMind {v.version} does not list {arch} "
                                 "(lmdeploy/turbomind/supported_models.py SUPPORTED_ARCHS)")
    if arch is None:
        return Choice("turbomind", "LMDeploy's default; it falls back to PyTorch at start for an architecture "
                                   "TurboMind lacks (the model's architecture is unknown here)")
    return Choice("turbomind", f"TurboMind {v.version} supports {arch}")


def kv_policy(plan: Plan, opts: LmdeployOptions, v: LmdeployVersion) -> str | None:
    name = opts.kv_quant or ("fp8" if plan.precision.kv_cache_dtype == "fp8" else None)
    return v.kv_policies.get(name) if name else None


def cache_fraction(plan: Plan) -> tuple[float | None, float]:
    """(--cache-max-entry-count, weights GiB per GPU): LMDeploy's fraction is of what is free after the
    weights (api.share_after_weights); u unset: None, LMDeploy's own default (versions.py
    default_cache_fraction) holds and nothing is written."""
    return api.share_after_weights(plan)


@dataclass(frozen=True)
class Lowering:
    """What one argv is written for: where(ref, container_path) maps a local spec path to where the engine
    sees it (itself for serve.sh, a bind mount in containers); batch is --max-batch-size (None: unset)."""

    plan: Plan
    opts: LmdeployOptions
    v: LmdeployVersion
    host: str
    where: Callable[[str, str], str]
    backend: Backend
    batch: int | None

    def parser(self, kind: api.ParserKind) -> str | None:
        from deployc.targets.lmdeploy import parsers
        return api.parser_name(self.plan, self.opts, "lmdeploy", parsers.support(self.v.version), kind)


def _adapters(c: Lowering) -> list[str]:
    return [f"{a.name}={c.where(a.source, f'/deployc/adapters/{a.name}')}" for a in c.plan.model.adapters]


def _dtype(c: Lowering) -> str | None:
    d = c.plan.precision.dtype
    return d if d in ("float16", "bfloat16") else None


def _has(option: str) -> Callable[[Any], bool]:
    return lambda v: option in engine_table(v.version).by_spelling


# argparse with allow_abbrev (the engine_options files record prefix_matching: true).
PARSER = api.ARGPARSE

TABLE: api.OptionTable[Lowering] = api.OptionTable(PARSER, [
    opt(None, "model.source", lambda c: c.where(c.plan.model.source, "/deployc/model")),
    opt("--model-name", "model.served_name", lambda c: c.plan.model.served_name),
    opt("--backend", ("targets", "lmdeploy", "backend"), lambda c: c.backend,
        why="the engine deployc chose for this model and GPU (serve.sh says why): LMDeploy's own pick at startup "
            "depends on the installed build, so the argv names it"),
    opt("--device", ("targets", "lmdeploy", "device"), lambda c: c.opts.device if c.opts.device != "cuda" else None),
    opt("--revision", "model.revision", lambda c: c.plan.model.revision),
    opt("--trust-remote-code", "model.trust_remote_code", lambda c: c.plan.model.trust_remote_code,
        when=_has("--trust-remote-code")),
    opt("--dtype", "precision.dtype", _dtype),
    opt("--model-format", "precision.quantization", lambda c: c.v.model_formats.get(c.plan.precision.quantization)),
    opt("--quant-policy", "precision.kv_cache_dtype", lambda c: kv_policy(c.plan, c.opts, c.v),
        why=lambda c: "targets.lmdeploy.kv_quant" if c.opts.kv_quant else None),
    opt("--tp", "parallelism.tensor", lambda c: c.plan.parallelism.tensor if c.plan.parallelism.tensor > 1 else None),
    opt("--session-len", "limits.max_model_len", lambda c: c.plan.limits.max_model_len),
    opt("--max-batch-size", "limits.max_concurrency", lambda c: c.batch),
    opt("--max-prefill-token-num", "limits.max_batch_tokens", lambda c: c.plan.limits.max_batch_tokens),
    opt("--cache-max-entry-count", "hardware.memory_utilization", lambda c: cache_fraction(c.plan)[0]),
    opt("--adapters", "model.adapters", _adapters),
    # Issue 20, item 4: prefix caching is off by default (a switch): true writes it, false leaves the default.
    opt("--enable-prefix-caching", "cache.prefix_caching", lambda c: c.plan.cache.prefix_caching is True),
    # Issue 20, item 3 (model.tool_parser / targets.lmdeploy.tool_parser; targets/lmdeploy/parsers.py).
    opt("--tool-call-parser", "model.tool_parser", lambda c: c.parser("tool")),
    opt("--reasoning-parser", "model.reasoning_parser", lambda c: c.parser("reasoning")),
    opt("--server-name", "server.host", lambda c: c.host),
    opt("--server-port", "server.port", lambda c: c.plan.server.port),
    # The key travels on the command line (LMDeploy reads no variable for it): serve.sh appends
    # `--api-keys "${NAME:?...}"` after this argv, compose.yaml a `${NAME:?...}` reference.
    owned("--api-keys", "server.api_key_env"),
])


def engine_args(c: Lowering) -> list[str]:
    """Everything after `lmdeploy serve api_server`: the table's options, then the user's extra args."""
    return TABLE.argv(c, c.v) + list(c.opts.args)
