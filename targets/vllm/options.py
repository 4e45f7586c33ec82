"""Spec -> `vllm serve` options: one row per setting, in argv order. The argv, the check of extra
`args` and the owned-option list all come from this table (deployc.compiler.api.flags).

Spellings are checked against vLLM's parser at each pinned version (versions.py names the
commits; the conformance tier parses every sample's argv with the real `vllm serve`):
vllm/engine/arg_utils.py EngineArgs.add_cli_args and the frontend's make_arg_parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Sequence

from deployc.compiler import api
from deployc.compiler.api import Adapter, NodeRefs, Plan, opt, owned
from deployc.targets.vllm import parsers
from deployc.targets.vllm.versions import VllmVersion


class VllmOptions(api.TargetOptions):
    """targets.vllm: the common options (version, image, args, env)."""


@dataclass(frozen=True)
class Lowering:
    """What one `vllm serve` argv is written for. where(ref, container_path) maps a local path of the
    spec to where the engine sees it (itself for serve.sh, a bind mount for containers)."""

    plan: Plan
    opts: VllmOptions
    v: VllmVersion
    host: str
    where: Callable[[str, str], str]

    @property
    def gguf(self) -> bool:
        return self.plan.precision.quantization == "gguf"

    def parser(self, kind: api.ParserKind) -> str | None:
        support = parsers.support(self.v.data_version, self.v.version)
        return api.parser_name(self.plan, self.opts, "vllm", support, kind)


def _quantization(c: Lowering) -> str | None:
    q = c.plan.precision.quantization
    if q == "fp8" and c.plan.facts.quant_method not in (None, "fp8"):
        return None   # a ModelOpt / compressed-tensors FP8 checkpoint: vLLM reads its own method
    if q == "fp8":
        # A 16-bit checkpoint is quantized while loading; an fp8 one declares itself (facts.quant_method).
        known_16bit = c.plan.facts.from_checkpoint and c.plan.facts.quant_method is None
        return c.v.online_fp8 if known_16bit else "fp8"
    # awq, gptq, int8, int4, mxfp4, nvfp4: vLLM reads the checkpoint's quant_method (mxfp4, modelopt_fp4,
    # compressed-tensors) and picks its kernel.
    return "bitsandbytes" if q == "bitsandbytes" else None


def _tokenizer(c: Lowering) -> str | None:
    m = c.plan.model
    if c.gguf:  # the .gguf is the model; the hub model (or model.tokenizer) is the tokenizer
        return c.where(m.tokenizer or m.source, "/deployc/model")
    return c.where(m.tokenizer, "/deployc/tokenizer") if m.tokenizer else None


def _lora_modules(c: Lowering) -> list[str]:
    return [json.dumps({"name": a.name, "path": c.where(a.source, f"/deployc/adapters/{a.name}")},
                       separators=(",", ":")) for a in c.plan.model.adapters]


def lora_rank(adapters: Sequence[Adapter], v: VllmVersion) -> int:
    """The smallest --max-lora-rank choice that holds every adapter (unknown ranks: vLLM's default)."""
    need = max([a.rank for a in adapters if a.rank is not None] or [v.default_max_lora_rank])
    return min(r for r in v.max_lora_ranks if r >= need) if need <= max(v.max_lora_ranks) else need


def _max_lora_rank(c: Lowering) -> int | None:
    if not c.plan.model.adapters:
        return None
    rank = lora_rank(c.plan.model.adapters, c.v)
    return rank if rank != c.v.default_max_lora_rank else None


def _hf_overrides(c: Lowering) -> str | None:
    """model.rope_scaling under the version's config key (rope_theta inside rope_parameters, which vLLM sets
    whole), and for yarn/llama3 the extended max_position_embeddings vLLM derives the context from."""
    theta = c.plan.facts.rope_theta if c.v.rope_key == "rope_parameters" else None
    return api.rope_override(c.plan, c.v.rope_key, theta)


# spec method -> vLLM's (vllm/config/speculative.py SpeculativeMethod; `draft` is draft_model, never `draft`).
SPEC_METHODS = {"mtp": "mtp", "eagle": "eagle", "eagle3": "eagle3", "ngram": "ngram", "draft": "draft_model"}


def speculative_methods(version: str) -> tuple[str, ...]:
    return api.named_registry(ENGINE_OPTIONS / f"{version}.json", "speculative_method")


def _speculative_config(c: Lowering) -> str | None:
    """SpeculativeConfig as JSON: only what the spec states (vLLM keeps its defaults for the rest; MTP depth is
    read from the checkpoint's num_nextn_predict_layers). draft_tensor_parallel_size, never tensor_parallel_size
    (0.34 refuses that key in _verify_args)."""
    s = c.plan.speculative
    if s is None:
        return None
    out: dict[str, object] = {"method": SPEC_METHODS[s.method]}
    if s.model is not None:
        out["model"] = c.where(s.model, "/deployc/speculative")
    for key, value in (("revision", s.revision), ("num_speculative_tokens", s.num_tokens),
                       ("draft_tensor_parallel_size", s.tensor), ("prompt_lookup_min", s.ngram.min),
                       ("prompt_lookup_max", s.ngram.max)):
        if value is not None:
            out[key] = value
    return json.dumps(out, separators=(",", ":"))


def _generation_config(c: Lowering) -> str | None:
    n = c.plan.limits.max_output_tokens
    return json.dumps({"max_new_tokens": n}) if n is not None else None


# FlexibleArgumentParser reads --max_model_len as --max-model-len; BooleanOptionalAction adds --no-X;
# 0.33's EnableDisableAction pairs --disable-X with --enable-X (vllm/utils/argparse_utils.py).
PARSER = api.Parser(underscores=True, negations=(("--no-", "--"), ("--disable-", "--enable-")))

TABLE: api.OptionTable[Lowering] = api.OptionTable(PARSER, [
    opt(None, "model.source",
        lambda c: c.where(c.plan.model.gguf, "/deployc/model.gguf") if c.gguf and c.plan.model.gguf
        else c.where(c.plan.model.source, "/deployc/model")),
    owned("--model", "model.source"),
    opt("--tokenizer", "model.tokenizer", _tokenizer),
    opt("--revision", "model.revision", lambda c: c.plan.model.revision),
    opt("--trust-remote-code", "model.trust_remote_code", lambda c: c.plan.model.trust_remote_code),
    opt("--chat-template", "model.chat_template",
        lambda c: c.where(c.plan.model.chat_template, "/deployc/chat_template.jinja")
        if c.plan.model.chat_template else None),
    opt("--served-model-name", "model.served_name", lambda c: c.plan.model.served_name),
    opt("--dtype", "precision.dtype", lambda c: c.plan.precision.dtype if c.plan.precision.dtype != "auto" else None),
    opt("--quantization", "precision.quantization", _quantization, aliases=("-q",)),
    opt("--kv-cache-dtype", "precision.kv_cache_dtype",
        lambda c: "fp8" if c.plan.precision.kv_cache_dtype == "fp8" else None),
    opt("--tensor-parallel-size", "parallelism.tensor",
        lambda c: c.plan.parallelism.tensor if c.plan.parallelism.tensor > 1 else None, aliases=("-tp",)),
    opt("--pipeline-parallel-size", "parallelism.pipeline",
        lambda c: c.plan.parallelism.pipeline if c.plan.parallelism.pipeline > 1 else None, aliases=("-pp",)),
    # Multi-node: each data-parallel copy is its own group of nodes, never vLLM's data parallelism; with
    # data-parallel attention the one engine spans the nodes, and --nnodes/--node-rank/--master-addr make vLLM
    # infer each node's --data-parallel-size-local, start rank and address (0.34.0 engine/arg_utils.py
    # create_engine_config: local_world_size // world_size_within_dp, data_parallel_address = master_addr).
    opt("--data-parallel-size", "parallelism.data",
        lambda c: c.plan.parallelism.data if c.plan.parallelism.data > 1
        and (c.plan.attention_dp or not c.plan.multi_node) else None,
        aliases=("-dp",)),
    # Experts over all tensor x data GPUs: the expert-parallel size is tensor x data (ParallelConfig
    # enable_expert_parallel; the flag in every pinned version's engine_options/<version>.json).
    # (-ep is its short spelling from 0.33 on; 0.11.2 lacks it, so the row names only the long one)
    opt("--enable-expert-parallel", "parallelism.expert", lambda c: c.plan.parallelism.expert > 1),
    opt("--max-model-len", "limits.max_model_len", lambda c: c.plan.limits.max_model_len),
    # Unset: vLLM's own default (256, or 1024 on large GPUs; versions.py), never a number deployc derives.
    opt("--max-num-seqs", "limits.max_concurrency", lambda c: c.plan.limits.max_concurrency),
    opt("--max-num-batched-tokens", "limits.max_batch_tokens", lambda c: c.plan.limits.max_batch_tokens),
    opt("--override-generation-config", "limits.max_output_tokens", _generation_config),
    # Unset: vLLM's own default (versions.py MEMORY default_utilization), which the plan uses.
    opt("--gpu-memory-utilization", "hardware.memory_utilization", lambda c: c.plan.hardware.memory_utilization),
    opt("--enable-lora", "model.adapters", lambda c: bool(c.plan.model.adapters)),
    opt("--lora-modules", "model.adapters", _lora_modules),
    opt("--max-loras", "limits.max_loras",
        lambda c: (c.plan.limits.max_loras or len(c.plan.model.adapters)) if c.plan.model.adapters else None,
        why="vLLM batches one LoRA adapter at a time by default (max_loras 1): written so every adapter of "
            "model.adapters can share a batch, as the other targets serve them"),
    opt("--max-lora-rank", "model.adapters", _max_lora_rank),
    # Issue 20, item 4: the cache toggles (null: nothing written, vLLM's default), rope scaling, multimodal items.
    opt("--enable-prefix-caching", "cache.prefix_caching", lambda c: c.plan.cache.prefix_caching is True),
    opt("--no-enable-prefix-caching", "cache.prefix_caching", lambda c: c.plan.cache.prefix_caching is False),
    opt("--enable-chunked-prefill", "cache.chunked_prefill", lambda c: c.plan.cache.chunked_prefill is True),
    opt("--no-enable-chunked-prefill", "cache.chunked_prefill", lambda c: c.plan.cache.chunked_prefill is False),
    opt("--hf-overrides", "model.rope_scaling", _hf_overrides),
    opt("--speculative-config", "speculative", _speculative_config),
    owned("-sc", "speculative", when=lambda v: v.data_version != "0.11.2"),   # the short spelling of 0.33 on
    owned("--spec-method", "speculative", when=lambda v: v.data_version != "0.11.2"),
    owned("--spec-model", "speculative", when=lambda v: v.data_version != "0.11.2"),
    owned("--spec-tokens", "speculative", when=lambda v: v.data_version != "0.11.2"),
    opt("--limit-mm-per-prompt", "limits.mm_per_prompt",
        lambda c: json.dumps(dict(sorted(m.items())), separators=(",", ":")) if (m := c.plan.limits.mm_per_prompt)
        is not None else None),
    # Issue 20, item 3: tool calling needs both flags (vllm/entrypoints/openai/cli_args.py: a parser
    # without --enable-auto-tool-choice is refused at startup).
    opt("--enable-auto-tool-choice", "model.tool_parser", lambda c: c.parser("tool") is not None),
    opt("--tool-call-parser", "model.tool_parser", lambda c: c.parser("tool")),
    opt("--reasoning-parser", "model.reasoning_parser", lambda c: c.parser("reasoning")),
    opt("--host", "server.host", lambda c: c.host),
    opt("--port", "server.port", lambda c: c.plan.server.port),
    # The API key travels by name: serve.sh exports VLLM_API_KEY, which vLLM reads (vllm/envs.py).
    owned("--api-key", "server.api_key_env"),
    # The per-node flags (node_args below).
    owned("--nnodes", "parallelism.nodes", aliases=("-n",)),
    owned("--node-rank", "parallelism.nodes", aliases=("-r",)),
    owned("--master-addr", "parallelism.nodes"),
    owned("--master-port", "parallelism.nodes"),
    owned("--headless", "parallelism.nodes"),
    owned("--data-parallel-size-local", "parallelism.nodes", aliases=("-dpl",)),
])

# vLLM's own option table per version, extracted from its `vllm serve` parser (conformance/extract/vllm_options.py).
ENGINE_OPTIONS = Path(__file__).parent / "engine_options"


def engine_table(version: str) -> api.EngineOptions:
    return api.EngineOptions.load(ENGINE_OPTIONS / f"{version}.json")


# Environment variables vLLM reads for a setting the spec owns.
OWNED_ENV = {"VLLM_API_KEY": ("server", "api_key_env")}

# ParallelConfig.master_port's default (config/parallel.py: 0.11.2 :216, 0.33.0 :320), spelled out:
# the port node 0 opens for the torch.distributed store the other nodes join.
MASTER_PORT = 29501
# ParallelConfig.data_parallel_rpc_port's default (0.11.2 config/parallel.py:87, 0.33.0 :161, 0.34.0 :169): where
# the engines of the other nodes reach node 0's front end when data-parallel attention spans nodes.
DP_RPC_PORT = 29550


def node_args(plan: Plan, refs: NodeRefs, rank: str) -> list[str]:
    """The flags that make one `vllm serve` node rank `rank` of plan.nodes (rank "0": the leader,
    which serves HTTP; any other: a --headless worker)."""
    args = ["--nnodes", str(plan.nodes), "--node-rank", rank, "--master-addr", refs.leader,
            "--master-port", str(MASTER_PORT)]
    if plan.attention_dp:
        args += ["--data-parallel-size-local", str(local_data_ranks(plan))]
    return args if rank == "0" else args + ["--headless"]


def local_data_ranks(plan: Plan) -> int:
    """The data-parallel ranks each node runs when data-parallel attention spans the nodes."""
    return plan.gpus_per_node_used // plan.gpus_per_replica


def node_derived(plan: Plan) -> tuple[api.Derived, ...]:
    """The per-node flags' value that no spec setting states."""
    out: tuple[api.Derived, ...] = (api.Derived("--master-port", "parallelism.nodes", str(MASTER_PORT),
                       "vLLM's own default master port, spelled out so serve-worker.sh and the LeaderWorkerSet "
                       "name the port node 0 opens (config/parallel.py ParallelConfig.master_port)"),)
    if plan.attention_dp:
        out += (api.Derived("--data-parallel-size-local", "parallelism.data", str(local_data_ranks(plan)),
                            "the data ranks each node runs (data / nodes), as vLLM's data-parallel deployment docs "
                            "spell it; ParallelConfig splits the ranks over the nodes by it (config/parallel.py "
                            "nnodes_within_dp)"),)
    return out


def engine_args(c: Lowering) -> list[str]:
    """Everything after `vllm serve`: the table's options, then the user's extra args."""
    return TABLE.argv(c, c.v) + list(c.opts.args)
