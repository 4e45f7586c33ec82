"""Speculative decoding in the memory plan: the draft model, EAGLE head or MTP layers on the target's GPUs.

vLLM and SGLang load the drafter on the same GPUs as the target, before they size the KV pool, so its
weights come out of the same budget and its attention layers cache every token too. What each engine does
(EngineMemory.draft_kv says which):

- vLLM 0.34.0 (commit 62d4bc3c7): the drafter's weights load inside the target's load_model
  (v1/worker/gpu/model_runner.py load_model: DraftModelSpeculator.load_model under the same
  DeviceMemoryProfiler), and its attention layers are registered next to the target's, so
  get_kv_cache_spec (v1/worker/gpu/attn_utils.py) returns them too, tagged is_draft, a flag "excluded from
  equality so it never affects grouping" (v1/kv_cache_interface.py): the draft layers join the one block
  pool at their own shapes (DraftKv.OWN), sharded over the draft's tensor-parallel size
  (config/speculative.py _verify_and_get_draft_tp: 1 or the target's, default the target's).
- SGLang 0.5.23: one token pool shared by target and drafter; for EAGLE, EAGLE3, NEXTN (MTP) and STANDALONE
  the target's bytes per token grow by its own per-layer size times the draft's layer count
  (model_executor/pool_configurator.py: `draft_kv_size = cell_size * draft_num_layers / num_layers`, and
  for hybrid models `_full_per_token * (full layers + draft full layers)`); the layer count is the
  checkpoint's num_nextn_predict_layers, else max(num_hidden_layers, num_attention_layers) of the draft
  (model_runner_components/spec_aux_hidden_state.py _resolve_eagle_aux_hidden_state): DraftKv.TARGET.
  The draft's weights load after that pool is sized: the scheduler builds the draft worker
  (managers/scheduler.py maybe_init_draft_worker) once the target worker has its pool, which takes what is
  free less the (1 - mem_fraction_static) slack (mem_cache/kv_cache_configurator.py _profile_available_bytes),
  so they come out of the memory outside --mem-fraction-static, not out of the KV pool.

Weights: EAGLE and MTP drafters use the target's embeddings and LM head (vLLM
v1/worker/gpu/spec_decode/eagle/utils.py maybe_share_target_embed, share_target_lm_head; SGLang
speculative/eagle_worker_v2.py set_embed_and_head); an EAGLE3 head keeps its own LM head over
draft_vocab_size and shares only the embeddings (SGLang: "most cases EAGLE3 models don't share lm_head"). A
draft model (method draft) loads whole. An MTP layer is one decoder layer of the target plus eh_proj
(nn.Linear 2 x hidden -> hidden, replicated; vLLM model_executor/models/deepseek_mtp.py).

A draft whose config.json no source has (no local folder, lock entry or catalog entry) is not guessed: the
plan leaves it out and says so (plan.py _check_speculative warns at speculative.model).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from deployc.compiler import arch as archmod
from deployc.compiler import memory_kv as kvmod
from deployc.compiler.facts import Facts
from deployc.compiler.memory_weights import _BITS, GIB, Layout, Weights, dtype_bytes, mtp_layers

if TYPE_CHECKING:
    from deployc.compiler.plan import Plan


class DraftKv(str, Enum):
    """Where an engine keeps the drafter's KV cache (module docstring)."""
    NONE = "none"        # the engine's plan does not count the drafter
    OWN = "own"          # vLLM: the draft layers at their own shapes, in the one block pool
    TARGET = "target"    # SGLang: the target's per-layer bytes per token, times the draft's layers


@dataclass(frozen=True)
class Draft:
    """What the drafter adds to the last pipeline stage of one GPU."""
    weight_bytes: float = 0.0
    caches: tuple[kvmod.LayerCache, ...] = ()
    notes: tuple[str, ...] = ()
    outside_budget: bool = False     # SGLang: the weights load after the KV pool is sized (module docstring)


def _bits(facts: Facts, d: int) -> float:
    """Bits per weight of a drafter's own checkpoint (engines read its quantization_config, not the spec's)."""
    if facts.quant_method is None:
        return d * 8.0
    return _BITS.get(facts.quant_method, float(facts.quant_bits or d * 8))


def draft(plan: Plan, facts: Facts, engine: str, kv: DraftKv, layout: Layout, w: Weights,
          kv_bytes: int) -> Draft | None:
    """The drafter on one GPU of the last pipeline stage, or None without speculative decoding or with ngram."""
    s = plan.speculative
    if s is None or s.method == "ngram":
        return None
    outside = kv is DraftKv.TARGET
    if kv is DraftKv.NONE:
        return Draft(notes=(f"{engine}: the {s.method} drafter's weights and KV cache are not in this plan",))
    d = dtype_bytes(plan)
    arch = facts.arch
    if s.method == "mtp":
        n = mtp_layers(facts)
        if n == 0 or arch is None:
            return Draft(notes=(f"speculative mtp: {plan.model.source} declares no multi-token-prediction layers "
                                f"(facts from {facts.origin}), so the plan counts none",))
        hidden = facts.hidden_size or 0
        weights = n * (w.per_layer + 2 * hidden * hidden * d)
        caches = kvmod.layer_caches(arch, (archmod.FULL,) * n, layout.attention_tensor, kv_bytes, d)
        head = (facts.vocab_size or 0) * hidden * d / layout.attention_tensor
        return Draft(weights, tuple(caches), (
            f"speculative mtp: {n} MTP layer(s) of {plan.model.source}, {weights / GIB:.2f} GiB per GPU (a decoder "
            f"layer and eh_proj each; embeddings and LM head shared with the target; an MTP module that keeps its "
            f"own LM head copy adds {head / GIB:.2f} GiB), KV cache of {n} more layer(s) at the target's shape"
            + _outside(engine, outside),), outside)
    df = plan.draft_facts
    source = s.model or ""
    if df is None or not df.known or df.missing("hidden_size", "vocab_size"):
        return Draft(notes=(f"speculative {s.method}: {source} has no known config.json, so its weights and KV "
                            "cache are not in this plan",))
    tp = s.tensor or layout.attention_tensor
    hidden, vocab = df.hidden_size or 0, df.vocab_size or 0
    shared = 0.0
    if s.method == "eagle":
        shared = float(df.embedding_parameters or 0.0)
    elif s.method == "eagle3":
        shared = float(vocab * hidden)
    if df.checkpoint_bytes:
        total = float(df.checkpoint_bytes)
        how = f"{total / GIB:.2f} GiB of safetensors"
    else:
        params = max(0.0, (df.parameters or 0.0) - shared)
        total = params * _bits(df, d) / 8
        how = f"{params / 1e9:.3f}B parameters at {_bits(df, d):g} bits" + (
            " (embeddings" + (" and LM head" if s.method == "eagle" else "") + " shared with the target)"
            if shared else "")
    weights = total / tp
    draft_arch = df.arch or archmod.simple(df.layers or 0, df.kv_heads or 1, df.head_dim or 0, df.sliding_window,
                                           df.sliding_layers, df.kv_lora_rank, df.qk_rope_head_dim)
    n = len(draft_arch.kinds)
    if kv is DraftKv.OWN:
        caches = kvmod.layer_caches(draft_arch, draft_arch.kinds, tp, kv_bytes, d)
        kv_how = f"{n} layer(s) at its own shape ({draft_arch.kv_heads} KV heads x {draft_arch.head_dim}) in the one pool"
    else:
        target_arch = facts.arch or archmod.simple(facts.layers or 0, facts.kv_heads or 1, facts.head_dim or 0,
                                                   None, None, facts.kv_lora_rank, facts.qk_rope_head_dim)
        caches = kvmod.layer_caches(target_arch, (archmod.FULL,) * n, layout.attention_tensor, kv_bytes, d)
        kv_how = f"{n} layer(s) at the target's per-layer size, in the target's token pool"
    return Draft(weights, tuple(caches), (
        f"speculative {s.method}: {source} ({df.origin}), {how}, {weights / GIB:.2f} GiB per GPU over tensor "
        f"{tp}; KV cache of {kv_how}" + _outside(engine, outside),), outside)


def _outside(engine: str, outside: bool) -> str:
    return (f"; {engine} loads these weights after sizing its KV pool, so they take the memory outside "
            "--mem-fraction-static (runtime overhead below)") if outside else ""
