"""What the engine is built for: its shapes, its paths, the KV cache's share of free memory, and the
converter family. Every command (options.py), script and Triton config reads these."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deployc.compiler import api
from deployc.compiler.api import BuildContext, Diagnostic, Plan, error, is_local
from deployc.targets.tensorrt_llm.versions import FAMILIES, HUB_FAMILIES, TrtLlmVersion

if TYPE_CHECKING:
    from deployc.targets.tensorrt_llm.options import TensorRtLlmOptions

TITLE = "TensorRT-LLM"
NAME = "tensorrt-llm"


@dataclass(frozen=True)
class Shapes:
    """The engine's build-time limits."""

    max_batch_size: int
    max_input_len: int | None   # None: trtllm-build's default (1024)
    max_seq_len: int | None     # None: trtllm-build reads it from config.json
    max_num_tokens: int

    @property
    def chunked_context(self) -> bool:
        """Prompts may be longer than one step's tokens: Triton prefills them in chunks."""
        return self.max_input_len is not None and self.max_num_tokens < self.max_input_len


def shapes(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmVersion) -> Shapes:
    lim = plan.limits
    seq = lim.max_model_len or plan.facts.context
    max_input = lim.max_input_tokens or (seq - 1 if seq else None)
    return Shapes(
        max_batch_size=lim.max_concurrency or opts.max_batch_size or v.default_max_batch_size,
        max_input_len=max_input,
        max_seq_len=seq,
        # unset: large enough that every admitted prompt is prefilled in one step, on both paths
        max_num_tokens=lim.max_batch_tokens or max(v.default_max_num_tokens, max_input or 0))


@dataclass(frozen=True)
class Paths:
    """Every path the scripts and configs use, relative to the output folder (or absolute)."""

    model: str
    tokenizer: str
    checkpoint: str
    engine: str
    work: str
    download_model: bool
    download_tokenizer: bool

    @classmethod
    def of(cls, plan: Plan, workdir: str, ctx: BuildContext) -> Paths:
        work = workdir.rstrip("/") or "/"
        m = plan.model

        def local(p: str) -> str:
            return p if p.startswith("/") else posixpath.normpath(posixpath.join(ctx.spec_dir, p))

        model = local(m.source) if is_local(m.source) else f"{work}/hf/model"
        if m.tokenizer is None:
            tokenizer = model
        else:
            tokenizer = local(m.tokenizer) if is_local(m.tokenizer) else f"{work}/hf/tokenizer"
        return cls(model=model, tokenizer=tokenizer, checkpoint=f"{work}/checkpoint",
                   engine=f"{work}/engines/{repository_name(m.served_name)}", work=work,
                   download_model=not is_local(m.source),
                   download_tokenizer=m.tokenizer is not None and not is_local(m.tokenizer))


def repository_name(served: str | None) -> str:
    """The Triton model (and engine folder) a served name becomes: a model repository entry is a folder,
    so every run of characters a folder name should not hold ('/', spaces, ...) becomes "--"
    ("Qwen/Qwen2.5-7B-Instruct" -> "Qwen--Qwen2.5-7B-Instruct"); a name that is one already stays."""
    return re.sub(r"[^A-Za-z0-9._-]+", "--", served or "ensemble").strip("-.")   # "" : refused (checks.py)


# TensorRT-LLM's own KV-cache share of the memory free after the weights when none is given: 0.9 both in the
# Triton backend (tensorrtllm_backend docs/model_config.md, kv_cache_free_gpu_mem_fraction "default 0.9") and
# in the LLM API (tensorrt_llm/llmapi/llm_args.py KvCacheConfig.free_gpu_memory_fraction = 0.9).
DEFAULT_KV_FRACTION = 0.9


def kv_fraction(plan: Plan) -> tuple[float | None, float]:
    """(kv_cache_free_gpu_mem_fraction, weights GiB per GPU) for hardware.memory_utilization: a share of the
    memory free after the weights (api.share_after_weights), at least 0.01 when they fit; None: unset,
    TensorRT-LLM's own default (DEFAULT_KV_FRACTION) holds and nothing is written."""
    return api.share_after_weights(plan, least=0.01)


def resolve_family(plan: Plan, opts: TensorRtLlmOptions) -> tuple[str | None, Diagnostic | None]:
    """The converter family: targets.tensorrt-llm.family, else what the hub id names."""
    if opts.family:
        return opts.family, None
    source = plan.model.source
    if not is_local(source):
        for pattern, found in HUB_FAMILIES:
            if pattern.search(source):
                if found:
                    return found, None
                break
    known = ", ".join(f"{arch} -> {name}" for name, f in FAMILIES.items() for arch in f.architectures)
    return None, error(
        "tensorrt-llm-family", f"deployc cannot tell which {TITLE} checkpoint converter {source} needs",
        hint=f"set targets.{NAME}.family from config.json's architectures ({known}); other architectures "
             "are not supported by this target", path=("model", "source"))
