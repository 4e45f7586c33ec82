"""The memory plan: what one GPU of each replica holds, in the engine's own terms.

Per GPU (one rank of a Layout; every pipeline stage is planned and the engine sizes all of them
to the smallest pool, vLLM's get_kv_cache_configs):

- weights: compiler/memory_weights.py (parameters in parts at their stored widths, sharded);
- the KV cache: compiler/memory_kv.py (what each layer caches per rank, and how the engine pools
  it: vLLM's hybrid KV cache manager, SGLang's separate pools, or every layer every token);
- the engine's budget (EngineMemory, data each target gives per version) minus weights, the
  profiling pass's activation peak, memory outside PyTorch and CUDA graphs is the KV pool.

Semantics of the budget, by engine (each target's memory_model() cites its source):

- TOTAL (vLLM): gpu_memory_utilization x total memory must hold everything.
- STATIC (SGLang): mem_fraction_static x the memory free before the weights load holds weights +
  KV only; activations and CUDA graphs live in the rest (0.4.10.post2 model_runner.py
  profile_max_num_token: rest = free now - free at start x (1 - mem_fraction_static)).
- FREE (TensorRT-LLM): kv_cache_free_gpu_mem_fraction of the memory still free after weights
  and activations.
- TGI is TOTAL too: after a warmup prefill it keeps free memory minus
  (1 - cuda_memory_fraction x TGI_WIGGLE_ROOM) x total for KV blocks
  (server/text_generation_server/utils/import_utils.py get_cuda_free_memory,
  models/flash_causal_lm.py warmup), i.e. a budget of fraction x 0.90 of total.
- CONTEXT (Ollama): the KV cache is num_ctx x OLLAMA_NUM_PARALLEL tokens, allocated up front;
  it fits or the model spills to the CPU.
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field, replace
from enum import Enum
from math import ceil, floor
from typing import TYPE_CHECKING, Any

from deployc.compiler import arch as archmod
from deployc.compiler import memory_kv as kvmod
from deployc.compiler.diagnostics import Diagnostic, error, warning
from deployc.compiler.facts import Facts
from deployc.compiler.memory_draft import DraftKv, draft
from deployc.compiler.memory_report import render
from deployc.compiler.memory_weights import GIB, Layout, dtype_bytes, stages, weight_method, weights

if TYPE_CHECKING:
    from deployc.compiler.plan import Plan

__all__ = ["Budget", "DraftKv", "EngineMemory", "KvManager", "Layout", "MemoryPlan", "check",
           "estimate", "share_after_weights", "weight_method", "weights_per_gpu"]


class Budget(str, Enum):
    TOTAL = "total"
    STATIC = "static"
    FREE = "free"
    CONTEXT = "context"


class KvManager(str, Enum):
    """How the engine turns its KV memory into tokens (compiler/memory_kv.py): every layer every token;
    one block pool shared by groups of layers (vLLM's hybrid manager); a token pool per attention kind
    (SGLang's full and sliding-window pools)."""
    PER_LAYER = "per-layer"
    BLOCK_GROUPS = "block-groups"
    SPLIT_POOLS = "split-pools"


@dataclass(frozen=True)
class EngineMemory:
    """How one engine version spends GPU memory. Targets return it from memory_model()."""
    engine: str                  # "vLLM 0.33.0"
    budget: Budget
    fraction: float              # the value the artifacts pass (utilization, static or free fraction)
    fraction_flag: str           # how the engine spells it, for messages
    batch_tokens: int            # tokens in the profiling / warmup prefill
    max_seqs: int                # the engine's default cap on running sequences
    non_torch_gib: float         # CUDA context, NCCL and cuBLAS workspaces outside PyTorch, per GPU
    cuda_graph_gib: float = 0.0  # CUDA graph pool the engine subtracts from the budget
    block_size: int = 16         # KV tokens per block; the pool is whole blocks
    context_tokens: int | None = None   # CONTEXT budget: tokens allocated up front
    weight_bits: float | None = None    # bits per weight of a GGUF file the engine names by quant type (Q4_K_M)
    source: str = ""
    kv_manager: KvManager = KvManager.PER_LAYER
    token_report: str = "blocks"        # vLLM's token line: "groups" (to 0.19) or "concurrency" (0.21 on)
    in_flight_batches: int = 1          # vLLM: batches a sliding window must also hold (2 with async scheduling)
    tp_overhead_gib: float = 0.0        # per GPU, once tensor parallel >= 2 on an NVLS board (gpus.py: NCCL's
                                        # NVLink SHARP buffers; PCIe boards keep the TP 1 runtime)
    sampler_flat: bool = False          # the sampler pass is its own peak, full vocabulary on every rank (vLLM)
    act_mlp: float = 1.0                # prefill activations per token: act_mlp x 2 x intermediate / tensor
    act_hidden: float = 6.0             #   + act_hidden x hidden, 16-bit
    sampler_bytes: float = 4.0          # bytes per vocabulary entry per sequence in the sampler's pass
    startup_gib: float = 0.0            # STATIC: memory gone before the engine's free-memory baseline
    swa_full_ratio: float = 0.8         # SGLang: sliding-window pool tokens per full-pool token
    load_towers: bool = True            # False: vision/audio towers not loaded (--language-model-only)
    state_blocks: int = 1               # blocks a request holds in a linear-attention group (block-groups pool)
    state_pool: kvmod.StatePool | None = None   # SGLang: linear-attention state slots sized before the KV pool
    context_shards: int = 1             # vLLM decode context parallelism: attention KV interleaved over ranks
    notes: tuple[str, ...] = ()         # what the engine would do on its own, for the plan's notes
    # The spec leaves the memory share (hardware.memory_utilization) / the running-sequence cap
    # (limits.max_concurrency) to the engine: fraction / max_seqs are the engine's defaults, not written.
    fraction_default: bool = False
    max_seqs_default: bool = False
    report: tuple[str, ...] = ()        # how the engine prints its figures (compiler/memory_report.py)
    log_fields: tuple[tuple[str, str], ...] = ()   # where a startup log prints them: (field, regex)
    draft_kv: DraftKv = DraftKv.NONE    # how a speculative drafter's KV cache is pooled (memory_draft.py)
    kv_bytes: int | None = None         # bytes per KV element the engine picks by itself with
                                        # precision.kv_cache_dtype auto (None: the model's dtype)


@dataclass(frozen=True)
class MemoryPlan:
    engine: str
    gpu: str
    gpu_memory_gib: float
    budget_gib: float
    weights_gib_per_gpu: float
    activation_gib: float
    overhead_gib: float
    kv_cache_gib_per_gpu: float
    kv_bytes_per_token: int
    kv_cache_tokens: int
    max_model_len: int
    sequence_bytes: int
    max_concurrency: float
    headroom_gib: float
    assumptions: tuple[str, ...] = field(default=())
    kv_manager: str = "per-layer"
    block_size: int = 16
    kv_groups: int = 1
    report_lines: tuple[str, ...] = ()              # the figures as the engine will print them
    log_fields: tuple[tuple[str, str], ...] = ()    # how to read them back from its startup log
    state_gib_per_gpu: float = 0.0                  # SGLang: linear-attention state slots beside the KV cache

    @property
    def concurrency(self) -> int:
        """Whole sequences of max_model_len that fit at once."""
        return floor(self.max_concurrency + 1e-9)

    def to_json(self) -> dict[str, Any]:
        def r(x: float) -> float:
            return round(x, 2)

        return {"engine": self.engine, "gpu": self.gpu, "gpu_memory_gib": r(self.gpu_memory_gib),
                "budget_gib": r(self.budget_gib), "weights_gib_per_gpu": r(self.weights_gib_per_gpu),
                "activation_gib": r(self.activation_gib), "overhead_gib": r(self.overhead_gib),
                "kv_cache_gib_per_gpu": r(self.kv_cache_gib_per_gpu), "kv_bytes_per_token": self.kv_bytes_per_token,
                "kv_cache_tokens": self.kv_cache_tokens, "max_model_len": self.max_model_len,
                "max_concurrency": r(self.max_concurrency), "headroom_gib": r(self.headroom_gib),
                "block_size": self.block_size, "kv_groups": self.kv_groups,
                "engine_log": list(self.report_lines), "assumptions": list(self.assumptions)}


def share_after_weights(plan: Plan, least: float = 0.0) -> tuple[float | None, float]:
    """(f, weights GiB per GPU) for engines whose KV budget is a share f of the memory left FREE after the
    weights W (LMDeploy's --cache-max-entry-count, TensorRT-LLM's free_gpu_memory_fraction), given
    hardware.memory_utilization u, a share of ALL memory M: f = (u*M - W) / (M - W), rounded down to 0.01,
    keeps weights + KV cache within u*M (0 when the weights alone exceed it, else at least `least`). Without
    parameter facts, f = u. u unset: None, the engine's own default holds and nothing is written."""
    u, total = plan.hardware.memory_utilization, plan.hardware.gpu.memory_gib
    if u is None:
        return None, 0.0
    if plan.facts.parameters is None and plan.facts.checkpoint_bytes is None:
        return u, 0.0
    weights = weights_per_gpu(plan, plan.facts)[0] / 2**30
    if weights >= u * total:
        return 0.0, weights
    return max(least, math.floor((u * total - weights) / (total - weights) * 100) / 100), weights


def weights_per_gpu(plan: Plan, facts: Facts, layout: Layout | None = None) -> tuple[float, list[str]]:
    """Bytes of weights on one GPU of the busiest pipeline stage."""
    w = weights(plan, facts, layout or Layout.of(plan))
    return w.worst, list(w.notes)


def activation_bytes(plan: Plan, facts: Facts, eng: EngineMemory, layout: Layout, last_stage: bool = True) -> float:
    """Peak of the profiling pass: a prefill of batch_tokens tokens, and the sampler's pass over
    max_seqs rows of logits.

    Per token: the gated MLP's gate/up output (2 x intermediate, or top-k x 2 x the expert width in
    a MoE layer, sharded over tensor ranks) and a few hidden-size buffers (residual, norm, attention
    in/out, not sharded), 16-bit, weighted by eng.act_mlp and eng.act_hidden. The sampler holds max_seqs rows of the whole vocabulary:
    with sampler_flat (vLLM's profile_run: _dummy_run, then _dummy_sampler_run on gathered logits)
    on every rank of the last pipeline stage, eng.sampler_bytes per entry (fp32 logits, probabilities,
    the top-p/top-k sort), after the forward pass has freed its buffers, so the peak is the larger of
    the two; the other stages run only the forward pass (last_stage=False: vLLM calls
    _dummy_sampler_run only `if get_pp_group().is_last_rank`, vllm/v1/worker/gpu_model_runner.py
    profile_run, 0.11.2 275de3417 and 0.33.0 4ba787ec9). Otherwise fp32 logits sharded with the
    vocabulary, on top of the forward pass.
    """
    tp = layout.tensor
    hidden = facts.hidden_size or 0
    inter = facts.intermediate_size or 4 * hidden
    if facts.experts and facts.experts_per_token:
        inter = inter * min(facts.experts_per_token, 2)
    forward = eng.batch_tokens * 2 * (eng.act_mlp * 2 * inter / tp + eng.act_hidden * hidden)
    rows = eng.max_seqs * (facts.vocab_size or 0)
    if eng.sampler_flat:
        return float(max(forward, eng.sampler_bytes * rows)) if last_stage else float(forward)
    return float(forward + eng.sampler_bytes * rows / tp)


def _arch(facts: Facts) -> archmod.Arch:
    if facts.arch is not None:
        return facts.arch
    return archmod.simple(facts.layers or 0, facts.kv_heads or 1, facts.head_dim or 0, facts.sliding_window,
                          facts.sliding_layers, facts.kv_lora_rank, facts.qk_rope_head_dim)


def estimate(plan: Plan, facts: Facts, eng: EngineMemory, layout: Layout | None = None) -> MemoryPlan | None:
    """The plan for one GPU, or None when the facts are too thin (missing() says which)."""
    if facts.missing("layers", "head_dim", "hidden_size", "vocab_size") or (
            facts.parameters is None and facts.checkpoint_bytes is None) or (facts.kv_heads is None and not facts.mla):
        return None   # (without kv_heads the KV cache would be sized for one head)
    layout = layout or Layout.of(plan)
    gpu = plan.hardware.gpu
    total = gpu.memory_gib * GIB
    L = plan.limits.max_model_len or facts.context or facts.max_position_embeddings or 0
    arch = _arch(facts)
    w = weights(plan, facts, layout, towers=eng.load_towers, gguf_bits=eng.weight_bits)
    notes = list(w.notes)
    if layout.attention_data > 1:
        notes.append(f"data-parallel attention: attention, dense layers and embeddings held by each of the "
                     f"{layout.attention_data} data ranks (sharded over {layout.attention_tensor} GPU(s)), the routed "
                     f"experts split over all {layout.tensor} GPUs"
                     + (f" (expert parallel {layout.expert})" if layout.expert > 1 else "")
                     + "; the KV cache and concurrency below are per data rank")
    act = activation_bytes(plan, facts, eng, layout)
    tp_extra = eng.tp_overhead_gib if layout.tensor > 1 and gpu.nvls else 0.0
    overhead = (eng.non_torch_gib + eng.cuda_graph_gib + tp_extra) * GIB
    kvb = 1 if plan.precision.kv_cache_dtype == "fp8" else (eng.kv_bytes or dtype_bytes(plan))
    drafter = draft(plan, facts, eng.engine, eng.draft_kv, layout, w, kvb)
    if drafter is not None and drafter.outside_budget:    # SGLang: loaded after the KV pool is sized
        overhead += drafter.weight_bytes
    plans = []
    ranges = stages(len(arch.kinds), layout.pipeline)
    for i, (stage, layers) in enumerate(zip(w.per_stage, ranges)):
        caches = kvmod.layer_caches(arch, arch.kinds[layers.start:layers.stop], layout.attention_tensor, kvb,
                                    dtype_bytes(plan), ssm_fp32_default=eng.state_pool is not None, first=layers.start)
        if eng.context_shards > 1:   # each rank keeps every n-th token: per rank, 1/n of a token's bytes
            caches = [replace(c, per_token=max(1, c.per_token // eng.context_shards)) if c.per_token else c for c in caches]
        stage_act = act if i == len(ranges) - 1 else activation_bytes(plan, facts, eng, layout, last_stage=False)
        if drafter is not None and i == len(ranges) - 1:   # the drafter runs beside the last stage
            caches += list(drafter.caches)
            stage += 0.0 if drafter.outside_budget else drafter.weight_bytes
        plans.append(_stage(eng, caches, stage, stage_act, overhead, total, L))
    if drafter is not None:
        notes += list(drafter.notes)
    budget, _, headroom, kv = min(plans, key=lambda p: (p[3].concurrency, p[3].tokens))
    notes += _kv_notes(arch, layout)
    notes += list(kv.notes) + list(eng.notes)
    notes.append(f"{eng.engine}: {eng.fraction_flag} {eng.fraction:g}"
                 + (" (the engine's default: hardware.memory_utilization is unset, nothing is written)"
                    if eng.fraction_default else "")
                 + f"; batch {eng.batch_tokens} tokens, {eng.max_seqs} sequences"
                 + (" at most (the engine's default: limits.max_concurrency is unset)" if eng.max_seqs_default else "")
                 + f"; {eng.non_torch_gib:g} GiB runtime outside the weights and KV cache"
                 + (f" (+{tp_extra:g} GiB of NCCL NVLink SHARP buffers with tensor parallelism on "
                    f"{gpu.name})" if tp_extra else "")
                 + (f", {eng.cuda_graph_gib:g} GiB CUDA graphs" if eng.cuda_graph_gib else ""))
    if eng.max_seqs_default and kv.concurrency >= 1 and eng.max_seqs > kv.concurrency + 1e-9:
        notes.append(f"{eng.engine} admits up to {eng.max_seqs} running sequences by default, while the KV cache "
                     f"holds {floor(kv.concurrency + 1e-9)} of the full max_model_len {L}: shorter requests share it, "
                     "and when it fills the engine queues or preempts (set limits.max_concurrency to cap it)")
    mp = MemoryPlan(
        engine=eng.engine, gpu=gpu.name, gpu_memory_gib=gpu.memory_gib, budget_gib=budget / GIB,
        weights_gib_per_gpu=(w.worst if drafter is None or drafter.outside_budget else max(
            w.per_stage[:-1] + (w.per_stage[-1] + drafter.weight_bytes,))) / GIB, activation_gib=act / GIB, overhead_gib=overhead / GIB,
        kv_cache_gib_per_gpu=max(kv.kv_bytes, 0.0) / GIB, kv_bytes_per_token=int(kv.per_token),
        kv_cache_tokens=kv.tokens, max_model_len=L, sequence_bytes=int(kv.per_seq), max_concurrency=kv.concurrency,
        headroom_gib=headroom / GIB, assumptions=tuple(notes), kv_manager=eng.kv_manager.value,
        block_size=kv.block_size, kv_groups=kv.groups, log_fields=eng.log_fields,
        state_gib_per_gpu=kv.state_bytes / GIB)
    return replace(mp, report_lines=tuple(render(eng.report, mp)))


def _stage(eng: EngineMemory, caches: list[kvmod.LayerCache], weights_b: float, act: float, overhead: float,
           total: float, L: int) -> tuple[float, float, float, kvmod.Pool]:
    """(budget, pool bytes, headroom, Pool) of one pipeline stage."""
    if eng.budget is Budget.TOTAL:
        budget = total * eng.fraction
        pool = budget - weights_b - act - overhead
        headroom = total - budget
    elif eng.budget is Budget.STATIC:
        budget = (total - eng.startup_gib * GIB) * eng.fraction
        pool = budget - weights_b
        headroom = total - budget - act - overhead
    elif eng.budget is Budget.FREE:
        free = total - weights_b - act - overhead
        budget = total
        pool = free * eng.fraction
        headroom = free - pool
    else:  # CONTEXT: the cache is allocated up front for context_tokens; the rest of the budget is spare
        budget = total * eng.fraction
        tokens = eng.context_tokens or L
        per_token = sum(c.per_token for c in caches)
        seq = sum(c.per_token * min(L, c.span or L) + c.per_seq for c in caches)
        room = budget - weights_b - act - overhead
        used = sum(c.per_token * min(tokens, c.span or tokens) for c in caches)
        return budget, used, room - used, kvmod.Pool(used, tokens, room / seq if seq and room > 0 else 0.0,
                                                 per_token, seq, eng.block_size)
    kv: kvmod.Pool
    if eng.kv_manager is KvManager.BLOCK_GROUPS:
        kv = kvmod.vllm_pool(caches, pool, L, eng.block_size, eng.in_flight_batches * eng.batch_tokens,
                             eng.token_report, eng.state_blocks)
    elif eng.kv_manager is KvManager.SPLIT_POOLS:
        kv = kvmod.sglang_pool(caches, pool, L, eng.swa_full_ratio, eng.state_pool)
    else:
        kv = kvmod.simple_pool(caches, pool, L, eng.block_size)
    return budget, pool, headroom, kv


def _kv_notes(arch: archmod.Arch, layout: Layout) -> list[str]:
    notes = []
    n = len(arch.kinds)
    if arch.mla:
        notes.append(f"MLA: one latent of {arch.mla[0]}+{arch.mla[1]} per layer, replicated on every tensor rank"
                     + (f"; DSA indexer keys of {arch.indexer_dim}" if arch.indexer_dim else ""))
    elif arch.kv_heads < layout.attention_tensor:
        notes.append(f"{arch.kv_heads} KV heads on {layout.attention_tensor} tensor ranks: each rank keeps a replica")
    for kind, what in ((archmod.SLIDING, f"a {arch.window}-token window"), (archmod.CHUNKED, f"{arch.chunk}-token chunks"),
                       (archmod.LINEAR, "a fixed linear-attention state per sequence"),
                       (archmod.SHARED, "an earlier layer's KV (no cache of their own)")):
        if arch.count(kind):
            notes.append(f"{arch.count(kind)} of {n} layers use {what}")
    return notes


def check(plan: Plan, mp: MemoryPlan, eng: EngineMemory) -> list[Diagnostic]:
    """The three questions: do the weights fit, does one sequence fit, does max_concurrency fit."""
    out: list[Diagnostic] = []
    tp = plan.parallelism.tensor
    if eng.budget is Budget.CONTEXT:
        if mp.headroom_gib < 0:
            out.append(warning(
                "memory-offload",
                f"{mp.engine}: weights ({mp.weights_gib_per_gpu:.1f} GiB) and a KV cache of {mp.kv_cache_tokens} "
                f"tokens ({mp.kv_cache_gib_per_gpu:.1f} GiB) exceed the {mp.budget_gib:.1f} GiB it may use on "
                f"{mp.gpu}: the engine moves layers to the CPU and runs far slower",
                hint="lower max_model_len or max_concurrency (the KV cache is context x parallel slots), "
                     "or quantize harder", path=("limits", "max_model_len")))
        return out
    if mp.kv_cache_gib_per_gpu <= 0:
        room = mp.budget_gib - (0 if eng.budget is Budget.STATIC else mp.activation_gib + mp.overhead_gib)
        need = ceil(tp * mp.weights_gib_per_gpu / max(0.1, room))
        out.append(error(
            "memory-weights",
            f"{mp.engine}: the weights take {mp.weights_gib_per_gpu:.1f} GiB per GPU, but {eng.fraction_flag} "
            f"{eng.fraction:g} of {mp.gpu}'s {mp.gpu_memory_gib:.1f} GiB leaves {max(room, 0):.1f} GiB for them "
            "and the KV cache",
            hint=f"shard over more GPUs (tensor: {_next_pow2(max(need, tp + 1))}, or pipeline stages), serve a "
                 "quantized checkpoint (awq, gptq, fp8), or pick a GPU with more memory",
            path=("parallelism", "tensor") if tp > 1 else ("model", "source")))
        return out
    if mp.kv_cache_tokens < mp.max_model_len:
        path = ("limits", "max_model_len") if plan.limits.max_model_len is not None else ("model", "source")
        out.append(error(
            "memory-kv-sequence",
            f"{mp.engine}: the KV cache holds {mp.kv_cache_tokens} tokens ({mp.kv_cache_gib_per_gpu:.2f} GiB per "
            f"GPU), less than one sequence of max_model_len {mp.max_model_len}; the engine refuses to start",
            hint=(f"set max_model_len: {_round_down(mp.kv_cache_tokens)} or less, " if mp.kv_cache_tokens >= 256
                  else "") + "use kv_cache_dtype: fp8, raise hardware.memory_utilization, or add tensor-parallel GPUs",
            path=path))
        return out
    want = plan.limits.max_concurrency
    if want is not None and want > mp.max_concurrency + 1e-9:
        out.append(warning(
            "memory-concurrency",
            f"{mp.engine}: the KV cache holds {mp.kv_cache_tokens} tokens, so {mp.concurrency} sequences of "
            f"max_model_len {mp.max_model_len} fit at once, not {want}",
            hint=f"set max_concurrency: {max(1, mp.concurrency)} to never preempt, or keep {want} if most requests "
                 "are much shorter than max_model_len (the engine queues or preempts when the cache is full)",
            path=("limits", "max_concurrency")))
    return out


def _next_pow2(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


def _round_down(n: int) -> int:
    step = 1024 if n >= 4096 else 256
    return max(step, n // step * step)
