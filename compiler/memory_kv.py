"""The KV cache on one GPU: what each layer caches per rank, and how each engine pools it.

Per rank (compiler/memory_weights.py Layout): attention layers keep max(1, kv_heads / tensor)
heads (a KV head is replicated when tensor > kv_heads); an MLA latent is the same on every tensor
rank; a linear-attention state is split over tensor ranks (vLLM gated_delta_net_state_shape
divides conv_dim and the value heads by tp). Pipeline stages hold their own layers.

How the pool becomes tokens, by engine (EngineMemory.kv_manager):

- BLOCK_GROUPS, vLLM (V1 KV cache manager; vllm/v1/core/kv_cache_utils.py at 0.11.2, kv_cache_planning.py at
  0.33.0 and 0.34.0). One pool of blocks shared by every layer. A model whose layers all cache the
  same way is one group. A hybrid model (sliding + full, chunked + full, linear + full) is split
  into groups of equal size (_get_kv_cache_groups_uniform_page_size: the group size is the
  smallest layer count of a kind, or the largest when that is under 1.5x the smallest; short
  groups are padded); every group takes whole blocks from the same pool, a block holding one
  page of each of group_size layers. Pages are unified first (unify_kv_cache_spec_page_size: a
  smaller page gets a larger block size; Gemma 4's global layers, 2 heads x 512, get blocks of
  32 tokens next to 16 for 8 x 256 sliding heads). With linear attention the attention block
  size grows until its page holds one recurrent state (0.11.2 HybridAttentionMambaModelConfig,
  0.33.0 platforms/interface.py _align_hybrid_block_size), and the state is padded to it. A
  request at max_model_len needs, per group: full cdiv(L, block); sliding
  cdiv(min(window - 1 + in-flight tokens, L), block) + 1 (in flight: max_num_batched_tokens at
  0.11.2, x max_concurrent_batches = 2 with async scheduling at 0.33.0); chunked
  cdiv(min(chunk + in-flight, L), block); linear one block, two with prefix caching on (the default
  for hybrid models from 0.21: MambaSpec "align" mode). Maximum concurrency is blocks over
  that sum (get_max_concurrency_for_kv_cache_config). The "GPU KV cache size: N tokens" line is
  num_blocks // groups x smallest block size up to 0.19 (_report_kv_cache_config, 0.11.2
  kv_cache_utils.py:1219-1229; vllm#40691 shows it at 0.19.0) and int(concurrency x L) from 0.21
  on (get_kv_cache_capacity, 0.33.0 kv_cache_utils.py:1120-1128; vllm#40694): for a hybrid model
  the line is a derived figure, not blocks x block size.
- SPLIT_POOLS, SGLang: separate pools. Full-attention (or MLA) layers share one token pool; sliding layers
  have their own, swa_full_tokens_ratio (0.8) times as many tokens (0.4.10.post2
  model_runner.py set_num_token_hybrid; 0.5.23 pool_configurator.py HybridSWAPoolConfigurator):
  full tokens = pool / (full bytes + 0.8 x sliding bytes per token). "#tokens" is the full pool.
- PER_LAYER (TGI, TensorRT-LLM, Ollama): every layer caches every token, sliding layers at most
  their window per sequence; tokens = pool / bytes per token.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import floor
from collections.abc import Sequence

from deployc.compiler.arch import CHUNKED, FULL, LINEAR, SHARED, SLIDING, Arch


@dataclass(frozen=True)
class LayerCache:
    """One layer's cache on one rank: bytes per token (attention) or per sequence (linear state)."""
    kind: str
    per_token: int
    per_seq: int = 0
    span: int | None = None          # window or chunk, tokens


@dataclass(frozen=True)
class Pool:
    """What a KV pool holds, in the engine's own figures."""
    kv_bytes: float                  # the pool (vLLM: "Available KV cache memory")
    tokens: int                      # the engine's token line
    concurrency: float               # sequences of max_model_len at once
    per_token: int                   # bytes per token across the growing layers
    per_seq: int                     # bytes of one max_model_len sequence
    block_size: int
    groups: int = 1
    notes: tuple[str, ...] = ()
    state_bytes: float = 0.0         # SGLang: linear-attention state slots kept beside the KV pool


def layer_caches(arch: Arch, kinds: Sequence[str], tensor: int, kv_bytes: int, state_bytes: int,
                 ssm_fp32_default: bool = False, first: int | None = None) -> list[LayerCache]:
    """Per-rank caches of the given layers (one pipeline stage). ssm_fp32_default: the recurrent state is
    float32 unless config.json states mamba_ssm_dtype (SGLang 0.5.23 configs/mamba_utils.py mamba2_state_dtype;
    vLLM's default is the model dtype). first: the model layer kinds[0] is, so a DSA layer that reuses an
    earlier layer's top-k keeps no indexer keys (arch.indexer_layers); None (drafter layers): every layer does."""
    out = []
    for i, kind in enumerate(kinds):
        if kind == SHARED:
            continue
        if kind == LINEAR and arch.linear is not None:
            ls = arch.linear
            fp32 = ls.ssm_fp32 or (ssm_fp32_default and ls.ssm_dtype is None)
            seq = ls.conv_elems // tensor * state_bytes + ls.ssm_elems // tensor * (4 if fp32 else state_bytes)
            out.append(LayerCache(LINEAR, 0, per_seq=seq))
            continue
        if arch.mla is not None:
            own = arch.indexer_dim and (first is None or arch.indexer_layers is None or first + i in arch.indexer_layers)
            per = (arch.mla[0] + arch.mla[1]) * kv_bytes + ((arch.indexer_dim or 0) + 4 if own else 0)
            out.append(LayerCache(FULL, per))
            continue
        full = kind == FULL
        heads = arch.kv_heads if full else arch.swa_kv_heads
        dim = arch.head_dim if full else arch.swa_head_dim
        per = 2 * max(1, heads // tensor) * dim * kv_bytes
        span = arch.window if kind == SLIDING else arch.chunk if kind == CHUNKED else None
        out.append(LayerCache(kind if span else FULL, per, span=span))
    return out


def simple_pool(caches: list[LayerCache], pool: float, length: int, block: int) -> Pool:
    """Every layer caches every token; a window bounds one sequence's share of a sliding layer."""
    per_token = sum(c.per_token for c in caches)
    seq = sum(c.per_token * min(length, c.span or length) + c.per_seq for c in caches)
    if per_token <= 0:
        return Pool(pool, 0, 0.0, 0, seq, block)
    blocks = floor(max(pool, 0) / (per_token * block)) if block else 0
    kv = blocks * per_token * block if block else max(pool, 0)
    slide = any(c.span for c in caches)
    tokens = int(kv / seq * length) if slide and seq else int(kv // per_token)
    return Pool(kv, tokens, kv / seq if seq else 0.0, per_token, seq, block)


@dataclass(frozen=True)
class StatePool:
    """SGLang's pool of linear-attention (Mamba/Gated DeltaNet) state slots beside the KV pool, sized before it
    (0.5.23 mem_cache/kv_cache_configurator.py _handle_max_mamba_cache, the default path: radix cache on, no
    --max-mamba-cache-size). The state gets mamba_full_memory_ratio / (1 + ratio) of the memory left after the
    weights (schedule.py: fallback 0.9); one slot per tracked request state plus a padding slot. With
    speculative decoding the slots are solved jointly with the per-draft-token intermediate states
    (draft_tokens = --speculative-num-draft-tokens) of min(running, slots // slots_per_request) requests.
    Running requests are capped at slots // slots_per_request (resolve_max_num_reqs): 3 per request
    (MAMBA_CACHE_SIZE_MAX_RUNNING_REQUESTS_RATIO), 2 more with the extra-buffer radix strategy that
    overlap scheduling picks for the Gated DeltaNet models (arg_groups/overrides.py
    _mamba_radix_cache_resolution, _MAMBA_EXTRA_BUFFER_ARCHS; allocation_sizing.py get_mamba_tracking_slots)."""
    memory_ratio: float = 0.9
    slots_per_request: int = 3
    draft_tokens: int = 0
    running: int = 0

    def take(self, pool: float, per_req: int) -> tuple[float, int]:
        """(bytes the state takes out of the pool, state slots)."""
        budget = pool * self.memory_ratio / (1 + self.memory_ratio)
        d = self.draft_tokens
        if d:
            slots = int((budget - per_req * (1 + d)) // (per_req * (1 + d / self.slots_per_request)))
            capped = min(max(1, self.running), max(slots, 0) // self.slots_per_request)
            scratch = per_req * (capped + 1) * d
        else:
            slots, scratch = int((budget - per_req) // per_req), 0
        if slots <= 0:
            return max(pool, 0.0), 0
        return (slots + 1) * per_req + scratch, slots


def sglang_pool(caches: list[LayerCache], pool: float, length: int, ratio: float,
                state: StatePool | None = None) -> Pool:
    """Full and sliding layers in separate token pools, the sliding one `ratio` times as large; with
    linear-attention layers and a StatePool, their state slots come out of the pool first."""
    per_req = sum(c.per_seq for c in caches)
    if state is None or not per_req:
        return _split_pools(caches, pool, length, ratio)
    taken, slots = state.take(pool, per_req)
    slot_cap = slots // state.slots_per_request
    note = (f"SGLang linear-attention state: {slots} slots of {per_req / 2**20:.1f} MiB "
            f"({taken / 2**30:.2f} GiB, mamba_full_memory_ratio {state.memory_ratio:g}"
            + (f", with the intermediate states of {state.draft_tokens} draft tokens" if state.draft_tokens else "")
            + f") taken before the KV pool; at most {slot_cap} running requests "
            f"({state.slots_per_request} state slots each)")
    p = _split_pools(caches, pool - taken, length, ratio)
    return replace(p, concurrency=min(p.concurrency, float(slot_cap)), notes=(note,) + p.notes, state_bytes=taken)


def _split_pools(caches: list[LayerCache], pool: float, length: int, ratio: float) -> Pool:
    full = sum(c.per_token for c in caches if not c.span)
    swa = sum(c.per_token for c in caches if c.span)
    cell = full + (ratio * swa if full else swa)
    if cell <= 0 or pool <= 0:
        return Pool(max(pool, 0), 0, 0.0, int(cell), 0, 1)
    tokens = int(pool // cell)
    swa_tokens = int(tokens * ratio) if full else tokens
    kv = tokens * full + swa_tokens * swa
    window = max((c.span or 0) for c in caches)
    limits = [tokens / length] if full else []
    if swa:
        limits.append(swa_tokens / min(length, window))
    notes = ((f"SGLang sliding-window pool: {swa_tokens} tokens beside {tokens} full-attention tokens "
              f"(swa_full_tokens_ratio {ratio:g})"),) if full and swa else ()
    return Pool(kv, tokens, min(limits), int(full + swa), full * length + swa * min(length, window), 1, notes=notes)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def vllm_pool(caches: list[LayerCache], pool: float, length: int, block: int, in_flight: int,
              token_report: str, state_blocks: int = 1) -> Pool:
    """vLLM V1's hybrid KV cache manager (module docstring), for the layers of one stage."""
    if not caches:
        return Pool(max(pool, 0), 0, 0.0, 0, 0, block)
    attn = [c for c in caches if c.kind != LINEAR]
    kinds = {(c.kind, c.span) for c in caches}
    page_1 = max((c.per_token for c in attn), default=0)          # the largest attention page per token
    sizes: dict[tuple[str, int | None], int] = {}                  # block size per cache kind
    notes: list[str] = []
    if any(c.kind == LINEAR for c in caches) and page_1:
        state = max(c.per_seq for c in caches if c.kind == LINEAR)
        block = block * _cdiv(state, block * page_1)
        notes.append(f"vLLM hybrid manager: attention blocks of {block} tokens so one page holds a "
                     f"{state / 2**20:.2f} MiB linear-attention state")
    uniform_type = len(kinds) == 1
    for c in attn:      # unify_kv_cache_spec_page_size: a smaller page gets a proportionally larger block
        fits = not uniform_type and page_1 % c.per_token == 0
        sizes[(c.kind, c.span)] = block * page_1 // c.per_token if fits else block
    page = block * page_1 if page_1 else max(c.per_seq for c in caches)
    counts: dict[tuple[str, int | None], int] = {}
    for c in caches:
        counts[(c.kind, c.span)] = counts.get((c.kind, c.span), 0) + 1
    if uniform_type:    # one group; pages of several sizes side by side (UniformTypeKVCacheSpecs)
        group_size = len(caches)
        bytes_per_block = sum(block * c.per_token for c in caches)
    else:
        small, large = min(counts.values()), max(counts.values())
        group_size = large if large < small * 1.5 else small
        bytes_per_block = group_size * page
    blocks = max(int(pool // bytes_per_block), 0) if bytes_per_block else 0
    per_request = 0
    n_groups = 0
    min_block = block
    for (kind, span), n in counts.items():
        groups = _cdiv(n, group_size)
        n_groups += groups
        size = sizes.get((kind, span), block)
        min_block = min(min_block, size) if kind != LINEAR else min_block
        if kind == LINEAR:
            need = state_blocks
        elif kind == SLIDING:
            need = _cdiv(min((span or length) - 1 + in_flight, length), size) + 1
        elif kind == CHUNKED:
            need = _cdiv(min((span or length) + in_flight, length), size)
        else:
            need = _cdiv(length, size)
        per_request += groups * need
    concurrency = blocks / per_request if per_request else 0.0
    if token_report == "groups":
        tokens = blocks // max(n_groups, 1) * min_block
    else:
        tokens = int(concurrency * length)
    per_token = sum(c.per_token for c in attn)
    if n_groups > 1:
        notes.append(f"vLLM hybrid manager: {n_groups} groups of {group_size} layers share {blocks} blocks; "
                     f"one {length}-token request takes {per_request} of them")
    return Pool(max(pool, 0), tokens, concurrency, per_token, per_request * bytes_per_block, min_block,
                n_groups, tuple(notes))
