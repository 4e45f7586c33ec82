"""Spec -> SGLang server options: one row per setting, in argv order. The argv, the check of extra
`args` and the owned-option list all come from this table (deployc.compiler.api.flags).

Spellings are read from SGLang's source at each pinned version (versions.py names the release
artifacts and lines; the conformance tier parses every sample's argv with the real
prepare_server_args): 0.4.10.post2 python/sglang/srt/server_args.py ServerArgs.add_cli_args,
0.5.23 the ServerArgs fields in python/sglang/srt/arg_groups/fields/.
"""

from __future__ import annotations

import json

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from deployc.compiler import api
from deployc.compiler.api import NodeRefs, Plan, opt, owned
from deployc.targets.sglang.versions import KV_FP8, SglangVersion

# Share of the GPU kept out of --mem-fraction-static for activations and CUDA graphs.
ACTIVATION_SHARE = 0.10

# The port node 0 opens for torch.distributed initialization (--dist-init-addr LEADER:PORT).
DIST_INIT_PORT = 20000


class SglangOptions(api.TargetOptions):
    """targets.sglang: the common options, and the static memory fraction."""

    mem_fraction_static: float | None = Field(
        default=None, gt=0, lt=1,
        description="SGLang's --mem-fraction-static (weights plus KV cache pool, as a share of each GPU). "
                    "Default: hardware.memory_utilization - 0.10, keeping a tenth of the GPU for activations; "
                    "with memory_utilization unset too, SGLang's own choice (none is written).")


def mem_fraction(plan: Plan, opts: SglangOptions) -> float | None:
    """--mem-fraction-static: the option, else converted from memory_utilization; None: SGLang's own."""
    if opts.mem_fraction_static is not None:
        return opts.mem_fraction_static
    share = plan.hardware.memory_utilization
    return round(share - ACTIVATION_SHARE, 4) if share is not None else None


@dataclass(frozen=True)
class Lowering:
    """What one SGLang argv (everything after the launcher) is written for. where(ref, container_path)
    maps a local path of the spec to where the engine sees it (itself for serve.sh, a bind mount for
    containers)."""

    plan: Plan
    opts: SglangOptions
    v: SglangVersion
    host: str
    where: Callable[[str, str], str | None]

    def parser(self, kind: api.ParserKind) -> str | None:
        from deployc.targets.sglang import parsers
        return api.parser_name(self.plan, self.opts, "sglang", parsers.support(self.v.data_version, self.v.version),
                               kind)


def _path(c: Lowering, ref: str | None, container_path: str) -> str | None:
    return c.where(ref, container_path) if ref else None


def _lora_paths(c: Lowering) -> list[str]:
    return [f"{a.name}={c.where(a.source, f'/deployc/adapters/{a.name}')}" for a in c.plan.model.adapters]


def _loras_per_batch(c: Lowering) -> int | None:
    """limits.max_loras plus the base model (SGLang counts base-only requests as a slot), else the adapters
    plus the base model, only beyond SGLang's default slots per batch."""
    if not c.plan.model.adapters:
        return None
    if c.plan.limits.max_loras is not None:
        return c.plan.limits.max_loras + 1
    slots = len(c.plan.model.adapters) + 1
    return slots if slots > c.v.default_max_loras_per_batch else None


def _model_overrides(c: Lowering) -> str | None:
    """model.rope_scaling for --json-model-override-args: rope_type, never the legacy `type` key (0.5.23 merges
    the override into the config's rope_parameters, whose rope_type would win; hf_transformers/config.py), and
    for yarn/llama3 the extended max_position_embeddings (get_context_length does not multiply those)."""
    return api.rope_override(c.plan, "rope_scaling")


# spec method -> SGLang's --speculative-algorithm (engine_options registries speculative_algorithm: 0.4.10.post2
# has EAGLE, EAGLE3, NEXTN; 0.5.23 adds NGRAM and STANDALONE, its draft-model method).
SPEC_ALGORITHMS = {"mtp": "NEXTN", "eagle": "EAGLE", "eagle3": "EAGLE3", "ngram": "NGRAM", "draft": "STANDALONE"}


def speculative_algorithms(version: str) -> tuple[str, ...]:
    return api.named_registry(ENGINE_OPTIONS / f"{version}.json", "speculative_algorithm")


def _spec_numbers(c: Lowering) -> tuple[int, int, int] | None:
    """(--speculative-num-steps, --speculative-eagle-topk, --speculative-num-draft-tokens): SGLang takes all three
    or none (none: it picks its own). A chain of num_tokens steps (topk 1) verifies num_tokens + 1 tokens, the
    proposals plus the one the target model adds; a tree's token budget has no field here (checks refuse topk > 1)."""
    s = c.plan.speculative
    if s is None or s.num_tokens is None or s.method == "ngram":
        return None
    return s.num_tokens, 1, s.num_tokens + 1


def _has(v: SglangVersion, flag: str) -> bool:
    """The version's own option table has the flag (a row only some versions take)."""
    return flag in engine_table(v.data_version).by_spelling


def _no_chunking(c: Lowering) -> bool:
    return c.plan.cache.chunked_prefill is False


def _tp(plan: Plan) -> int:
    par = plan.parallelism
    return par.tensor * par.data if plan.attention_dp else par.tensor


def _attn_dp_size(v: SglangVersion) -> bool:
    """The version spells data-parallel attention --attn-dp-size (0.5.23), not --enable-dp-attention."""
    return "--attn-dp-size" in engine_table(v.data_version).by_spelling


def _running_requests(c: Lowering) -> int | None:
    """limits.max_concurrency is per data rank; with data-parallel attention SGLang's --max-running-requests is
    the engine's total, which it splits over the attention ranks (0.5.23 arg_groups/moe_hook.py:669
    max_running_requests // attn_dp_size)."""
    n = c.plan.limits.max_concurrency
    return n * c.plan.parallelism.data if n is not None and c.plan.attention_dp else n


# Plain argparse (allow_abbrev left True): any unique prefix of a long option is that option, and users
# write `--tp` for --tp-size, so prefixes count from four characters.
PARSER = api.Parser(shortest_prefix=len("--tp"))

# SGLang's own option table per version, extracted from the parser prepare_server_args builds
# (conformance/extract/sglang_options.py).
ENGINE_OPTIONS = Path(__file__).parent / "engine_options"


def engine_table(version: str) -> api.EngineOptions:
    return api.EngineOptions.load(ENGINE_OPTIONS / f"{version}.json")

TABLE: api.OptionTable[Lowering] = api.OptionTable(PARSER, [
    # `sglang serve` (0.5.23) takes --model-type before the server options, and deployc writes it in the
    # launcher; 0.4.10.post2's launch_server has no such option.
    owned("--model-type", "model.source", when=lambda v: "--model-type" in v.launcher),
    opt("--model-path", "model.source", lambda c: c.where(c.plan.model.source, "/deployc/model"),
        aliases=("--model",)),
    opt("--tokenizer-path", "model.tokenizer", lambda c: _path(c, c.plan.model.tokenizer, "/deployc/tokenizer")),
    opt("--revision", "model.revision", lambda c: c.plan.model.revision or None),
    opt("--trust-remote-code", "model.trust_remote_code", lambda c: c.plan.model.trust_remote_code),
    opt("--chat-template", "model.chat_template",
        lambda c: _path(c, c.plan.model.chat_template, "/deployc/chat_template.jinja")),
    opt("--served-model-name", "model.served_name", lambda c: c.plan.model.served_name),
    opt("--dtype", "precision.dtype", lambda c: c.plan.precision.dtype if c.plan.precision.dtype != "auto" else None),
    # awq, gptq, int8, int4: SGLang reads the checkpoint's quantization_config and picks its kernel.
    # mxfp4, nvfp4 and a ModelOpt / compressed-tensors FP8 checkpoint: SGLang reads the checkpoint's own method.
    opt("--quantization", "precision.quantization",
        lambda c: "fp8" if c.plan.precision.quantization == "fp8" and c.plan.facts.quant_method in (None, "fp8")
        else None),
    opt("--kv-cache-dtype", "precision.kv_cache_dtype",
        lambda c: KV_FP8 if c.plan.precision.kv_cache_dtype == "fp8" else None),
    # With data-parallel attention --tp-size counts every GPU of the engine (tensor x data): the MoE layers span
    # them all and --attn-dp-size (0.5.23) / --dp-size with --enable-dp-attention (0.4.10.post2) splits attention.
    opt("--tp-size", "parallelism.tensor", lambda c: _tp(c.plan) if _tp(c.plan) > 1 else None,
        aliases=("--tensor-parallel-size",),
        why=lambda c: "tensor x data: with data-parallel attention SGLang's --tp-size counts every GPU of the "
                      "engine" if c.plan.attention_dp else None),
    opt("--pp-size", "parallelism.pipeline",
        lambda c: c.plan.parallelism.pipeline if c.plan.parallelism.pipeline > 1 else None,
        aliases=("--pipeline-parallel-size",)),
    # Multi-node: each data-parallel copy is its own group of nodes, never SGLang's data parallelism; with
    # data-parallel attention the one engine spans the nodes (--tp-size counts all their GPUs).
    opt("--dp-size", "parallelism.data",
        lambda c: c.plan.parallelism.data if c.plan.parallelism.data > 1
        and (c.plan.attention_dp or not c.plan.multi_node)
        and not (c.plan.attention_dp and _attn_dp_size(c.v)) else None,
        aliases=("--data-parallel-size",)),
    # 0.5.23 arg_groups/fields/parallel.py:81-89 attn_dp_size (its :192-194 resolve the older
    # `--dp-size N --enable-dp-attention` spelling to it); 0.4.10.post2 server_args.py enable_dp_attention.
    opt("--attn-dp-size", "parallelism.data_mode", lambda c: c.plan.parallelism.data if c.plan.attention_dp else None,
        aliases=("--attention-data-parallel-size",), when=_attn_dp_size),
    opt("--enable-dp-attention", "parallelism.data_mode", lambda c: c.plan.attention_dp,
        when=lambda v: not _attn_dp_size(v)),
    opt("--ep-size", "parallelism.expert", lambda c: c.plan.parallelism.expert if c.plan.parallelism.expert > 1
        else None, aliases=("--ep", "--expert-parallel-size")),
    opt("--context-length", "limits.max_model_len", lambda c: c.plan.limits.max_model_len),
    # Unset: SGLang's own default (it grows with the KV pool), never a number deployc derives.
    opt("--max-running-requests", "limits.max_concurrency", _running_requests),
    # chunked_prefill false: -1 turns chunking off, and the step's budget is --max-prefill-tokens instead.
    opt("--chunked-prefill-size", "limits.max_batch_tokens",
        lambda c: -1 if _no_chunking(c) else c.plan.limits.max_batch_tokens),
    opt("--max-prefill-tokens", "cache.chunked_prefill",
        lambda c: c.plan.limits.max_batch_tokens if _no_chunking(c) else None),
    opt("--disable-radix-cache", "cache.prefix_caching", lambda c: c.plan.cache.prefix_caching is False),
    opt("--json-model-override-args", "model.rope_scaling", _model_overrides),
    opt("--speculative-algorithm", "speculative",
        lambda c: SPEC_ALGORITHMS[s.method] if (s := c.plan.speculative) else None),
    opt("--speculative-draft-model-path", "speculative.model",
        lambda c: c.where(s.model, "/deployc/speculative") if (s := c.plan.speculative) and s.model else None),
    opt("--speculative-draft-model-revision", "speculative.revision",
        lambda c: s.revision if (s := c.plan.speculative) else None, when=lambda v: _has(v, "--speculative-draft-model-revision")),
    opt("--speculative-num-steps", "speculative.num_tokens", lambda c: (n := _spec_numbers(c)) and n[0],
        why="SGLang takes --speculative-num-steps, --speculative-eagle-topk and --speculative-num-draft-tokens all "
            "three or none: the spec's num_tokens as a chain (steps n, top-k 1, n + 1 draft tokens)"),
    opt("--speculative-eagle-topk", "speculative.topk", lambda c: (n := _spec_numbers(c)) and n[1],
        why="SGLang takes --speculative-num-steps, --speculative-eagle-topk and --speculative-num-draft-tokens all "
            "three or none: the spec's num_tokens as a chain (steps n, top-k 1, n + 1 draft tokens)"),
    opt("--speculative-num-draft-tokens", "speculative.num_tokens",
        lambda c: (n[2] if (n := _spec_numbers(c)) else None)
        or (s.num_tokens if (s := c.plan.speculative) and s.method == "ngram" else None),
        why="SGLang takes --speculative-num-steps, --speculative-eagle-topk and --speculative-num-draft-tokens all "
            "three or none: the spec's num_tokens as a chain (steps n, top-k 1, n + 1 draft tokens)"),
    opt("--limit-mm-data-per-request", "limits.mm_per_prompt",
        lambda c: json.dumps(dict(sorted(m.items())), separators=(",", ":")) if (m := c.plan.limits.mm_per_prompt)
        is not None else None, when=lambda v: _has(v, "--limit-mm-data-per-request")),
    opt("--mem-fraction-static", "hardware.memory_utilization", lambda c: mem_fraction(c.plan, c.opts),
        why=lambda c: "targets.sglang.mem_fraction_static" if c.opts.mem_fraction_static is not None else None),
    opt("--enable-lora", "model.adapters", lambda c: bool(c.plan.model.adapters)),
    opt("--lora-paths", "model.adapters", _lora_paths),
    opt("--max-loras-per-batch", "limits.max_loras", _loras_per_batch),
    # Issue 20, item 3: SGLang turns tool calling on with the parser alone.
    opt("--tool-call-parser", "model.tool_parser", lambda c: c.parser("tool")),
    opt("--reasoning-parser", "model.reasoning_parser", lambda c: c.parser("reasoning")),
    opt("--host", "server.host", lambda c: c.host,
        why="SGLang's own default is 127.0.0.1: written so it listens where server.host (default 0.0.0.0) says, "
            "like every target"),
    opt("--port", "server.port", lambda c: c.plan.server.port,
        why="SGLang's own default port is 30000: written so it serves on server.port (default 8000), like every "
            "target"),
    # SGLang reads the API key only from --api-key: deployc appends it after the user's args (__init__.py).
    owned("--api-key", "server.api_key_env"),
    # The per-node flags (node_args below); --nccl-init-addr is --dist-init-addr's other spelling.
    owned("--nnodes", "parallelism.nodes"),
    owned("--node-rank", "parallelism.nodes"),
    owned("--dist-init-addr", "parallelism.nodes", aliases=("--nccl-init-addr",)),
])


def node_args(plan: Plan, refs: NodeRefs, rank: str) -> list[str]:
    """The flags that make one SGLang launcher node rank `rank` of plan.nodes (rank "0" serves HTTP)."""
    return ["--nnodes", str(plan.nodes), "--node-rank", rank, "--dist-init-addr", f"{refs.leader}:{DIST_INIT_PORT}"]


def node_derived(plan: Plan) -> tuple[api.Derived, ...]:
    """The per-node flags' value that no spec setting states."""
    return (api.Derived("--dist-init-addr", "parallelism.nodes", f"LEADER:{DIST_INIT_PORT}",
                        "SGLang has no default rendezvous port for several nodes: --dist-init-addr needs one, and "
                        f"{DIST_INIT_PORT} is the one SGLang's multi-node docs and LeaderWorkerSet example use"),)


def server_options(c: Lowering) -> list[str]:
    """Everything after the launcher: the table's options, then the user's extra args."""
    return TABLE.argv(c, c.v) + list(c.opts.args)
