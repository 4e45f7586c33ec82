"""Parameter counts from config.json shapes, split the way the memory plan needs them.

Weights are what a GPU holds first, and checkpoints store their parts at different widths: a
quantized checkpoint keeps embeddings (and Gemma's per-layer embeddings) in 16 bits, gpt-oss keeps
attention in 16 bits and only its experts in MXFP4, vision towers usually stay 16-bit. So the count
comes in parts: embeddings, routed experts, the other linear layers (attention, dense MLPs, shared
experts), and vision/audio towers. Norms and biases are left out (well under 0.1%).

Shapes per layer, as the engines build them:
- attention: q (x2 with Qwen3-Next/3.5's output gate), k, v, o; Gemma 4's global layers use
  global_head_dim and num_global_key_value_heads; KV-shared layers have q and o only;
- MLA (DeepSeek-V2/V3): q (through q_lora_rank when set), the kv down projection to the latent,
  the up projection to per-head keys and values, o;
- Gated DeltaNet (linear_attention layers): in_proj_qkvz, in_proj_ba, conv1d, out_proj;
- MLP: gated (3 x hidden x intermediate); MoE layers: experts x 3 x hidden x moe_intermediate,
  shared experts, the router; which layers are dense follows first_k_dense_replace,
  mlp_only_layers / decoder_sparse_step (Qwen MoE) or interleave_moe_layer_step (Llama 4).
  Gemma 4 (enable_moe_block) runs a dense MLP beside the experts in every layer; with
  use_double_wide_mlp its KV-shared layers have twice the intermediate size.
- DSA indexer (DeepSeek-V3.2, GLM-5.x), on the layers that build their own (arch.indexer_layers): wq_b
  (q_lora_rank -> index_n_heads x index_head_dim), wk (hidden -> index_head_dim), weights_proj
  (hidden -> index_n_heads).

Some of these every tensor-parallel rank holds whole, so they do not shrink with tensor parallelism
(`replicated`): MLA's down projections (q_a_proj and kv_a_proj_with_mqa, fused_qkv_a_proj with
disable_tp=True), the whole DSA indexer ("no tensor parallel, just replicated") and MoE routers
(ReplicatedLinear / GateLinear). The routers and the indexer's weights_proj load with
quant_config=None, so a quantized checkpoint keeps them 16-bit (`unquantized`). vLLM 0.34.0
model_executor/models/deepseek_v2.py DeepSeekV2FusedQkvAProjLinear, DeepseekV2MLAAttention, Indexer,
DeepseekV2MoE (GateLinear, layers/fused_moe/router/gate_linear.py: a ReplicatedLinear); 0.11.2 the
same file (fused_qkv_a_proj disable_tp=True, Indexer wq_b / wk / weights_proj ReplicatedLinear, gate
ReplicatedLinear quant_config=None); SGLang 0.5.23 models/deepseek_v2.py (fused_qkv_a_proj_with_mqa
ReplicatedLinear, MoEGate a plain parameter) and layers/attention/dsa/dsa_indexer.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

from deployc.compiler.arch import LINEAR, SHARED, SLIDING, indexer_layers, layer_kinds, vision_parameters


@dataclass(frozen=True)
class Parameters:
    embedding: float      # input embeddings, untied LM head, per-layer embeddings: kept 16-bit
    experts: float        # routed experts (sharded by expert parallelism, MXFP4 in gpt-oss)
    linear: float         # attention, dense MLPs, shared experts, routers
    vision: float         # vision and audio towers (skipped with --language-model-only)
    replicated: float = 0.0    # of linear: held whole by every tensor rank (module docstring)
    unquantized: float = 0.0   # of replicated: 16-bit whatever the checkpoint (routers, weights_proj)
    moe_layers: int = 0        # decoder layers with routed experts

    @property
    def total(self) -> float:
        return self.embedding + self.experts + self.linear + self.vision


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def _attention(cfg: Mapping[str, Any], kind: str, hidden: int, heads: int, kv: int, head_dim: int) -> int:
    if _int(cfg.get("kv_lora_rank")):
        rank, rope = cfg["kv_lora_rank"], _int(cfg.get("qk_rope_head_dim")) or 0
        nope, v = _int(cfg.get("qk_nope_head_dim")) or head_dim, _int(cfg.get("v_head_dim")) or head_dim
        q_rank = _int(cfg.get("q_lora_rank"))
        q = (hidden * q_rank + q_rank * heads * (nope + rope)) if q_rank else hidden * heads * (nope + rope)
        return int(q + hidden * (rank + rope) + rank * heads * (nope + v) + heads * v * hidden)
    if kind == LINEAR:
        kh, vh = cfg.get("linear_num_key_heads") or 0, cfg.get("linear_num_value_heads") or 0
        kd, vd = cfg.get("linear_key_head_dim") or 0, cfg.get("linear_value_head_dim") or 0
        key, value = kh * kd, vh * vd
        conv = (2 * key + value) * (cfg.get("linear_conv_kernel_dim") or 4)
        return hidden * (2 * key + 2 * value) + hidden * 2 * vh + conv + value * hidden
    if kind not in (SLIDING, "chunked"):          # full attention: Gemma 4's global shape when given
        kv = _int(cfg.get("num_global_key_value_heads")) or kv
        head_dim = _int(cfg.get("global_head_dim")) or head_dim
    gate = 2 if cfg.get("attn_output_gate") else 1
    q_o = hidden * heads * head_dim * (gate + 1)
    return q_o if kind == SHARED else q_o + 2 * hidden * kv * head_dim


def _replicated(cfg: Mapping[str, Any], layers: int, hidden: int) -> tuple[int, int, int]:
    """(replicated, unquantized, indexer) parameters of MLA's down projections and the DSA indexer
    (module docstring); the routers are added by count()."""
    if not _int(cfg.get("kv_lora_rank")):
        return 0, 0, 0
    q_rank = _int(cfg.get("q_lora_rank")) or 0
    down = layers * hidden * (q_rank + cfg["kv_lora_rank"] + (_int(cfg.get("qk_rope_head_dim")) or 0))
    dim, heads = _int(cfg.get("index_head_dim")), _int(cfg.get("index_n_heads"))
    if not (dim and heads and q_rank):
        return down, 0, 0
    own = indexer_layers(cfg, layers)
    n = layers if own is None else len(own)
    indexer = n * (q_rank * heads * dim + hidden * dim + hidden * heads)
    return down + indexer, n * hidden * heads, indexer


def _eagle3(outer: Mapping[str, Any]) -> bool:
    archs = outer.get("architectures")
    return isinstance(archs, list) and any("eagle3" in str(a).lower() for a in archs)


def _moe_layers(cfg: Mapping[str, Any], layers: int) -> set[int]:
    if isinstance(cfg.get("mlp_only_layers"), list) and cfg["mlp_only_layers"]:
        return set(range(layers)) - set(cfg["mlp_only_layers"])
    if _int(cfg.get("first_k_dense_replace")):
        return set(range(cfg["first_k_dense_replace"], layers))
    step = _int(cfg.get("interleave_moe_layer_step")) or _int(cfg.get("decoder_sparse_step")) or 1
    return {i for i in range(layers) if (i + 1) % step == 0}


def count(cfg: Mapping[str, Any], outer: Mapping[str, Any], layers: int | None, hidden: int | None,
          heads: int | None, kv: int | None, head_dim: int | None, experts: int | None,
          tied: bool) -> Parameters | None:
    """The parts of a text config (text_config merged in; outer: the whole config, for the towers)."""
    vocab = _int(cfg.get("vocab_size"))
    inter = _int(cfg.get("intermediate_size")) or _int(cfg.get("ffn_dim")) or _int(cfg.get("n_inner"))
    moe_inter = _int(cfg.get("moe_intermediate_size")) or inter
    if not (layers and hidden and heads and head_dim and vocab and (inter or moe_inter)):
        return None
    inter = inter or 0
    kinds = layer_kinds(cfg, layers)
    attention = sum(_attention(cfg, k, hidden, heads, kv or heads, head_dim) for k in kinds)
    dense_inter = _int(cfg.get("intermediate_size_mlp")) or inter      # Llama 4's dense layers
    routed = shared = 0.0
    dense_mlp = 0
    moe: set[int] = set()
    replicated, unquantized, indexer = _replicated(cfg, layers, hidden)
    attention += indexer                    # the down projections are in _attention already
    if experts:
        moe = _moe_layers(cfg, layers)
        n_shared = _int(cfg.get("n_shared_experts")) or _int(cfg.get("num_shared_experts")) or 0
        shared_inter = (_int(cfg.get("shared_expert_intermediate_size")) or 0) + n_shared * (moe_inter or 0)
        if str(cfg.get("model_type", "")).startswith("llama4"):
            shared_inter = inter                                          # one shared expert of intermediate_size
        per_moe = experts * 3 * hidden * (moe_inter or 0)
        routed = float(len(moe) * per_moe)
        shared = float(len(moe) * (3 * hidden * shared_inter + hidden * experts))
        replicated += len(moe) * hidden * experts                         # the routers
        unquantized += len(moe) * hidden * experts
        both = cfg.get("enable_moe_block") is True                        # Gemma 4: a dense MLP in every layer too
        dense_mlp = (layers if both else layers - len(moe)) * 3 * hidden * dense_inter
    else:
        dense_mlp = layers * 3 * hidden * inter
    if cfg.get("use_double_wide_mlp") is True:                           # Gemma 4 E2B: KV-shared layers 2x wide
        dense_mlp += kinds.count(SHARED) * 3 * hidden * inter
    embedding = vocab * hidden * (1 if tied else 2)
    if _eagle3(outer):
        # An EAGLE3 head (vLLM 0.34.0 model_executor/models/llama_eagle3.py): the first layer's q/k/v read
        # 2 x hidden (the embedding and the fused target states), fc fuses three target hidden states into one
        # (ReplicatedLinear 3 x hidden -> hidden), and its LM head spans draft_vocab_size (vocab_size if unset).
        attention += hidden * (heads * head_dim + 2 * (kv or heads) * head_dim) + 3 * hidden * hidden
        embedding = vocab * hidden + (_int(cfg.get("draft_vocab_size")) or vocab) * hidden
    ple = _int(cfg.get("hidden_size_per_layer_input"))
    if ple:                                                               # Gemma 3n/4 per-layer embeddings
        embedding += (_int(cfg.get("vocab_size_per_layer_input")) or vocab) * layers * ple
        attention += layers * 2 * hidden * ple + hidden * layers * ple
    towers = vision_parameters(outer.get("vision_config")) + vision_parameters(outer.get("audio_config"))
    return Parameters(embedding=float(embedding), experts=routed, linear=float(attention + dense_mlp) + shared,
                      vision=towers, replicated=float(replicated), unquantized=float(unquantized),
                      moe_layers=len(moe))
