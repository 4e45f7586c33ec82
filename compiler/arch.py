"""The architecture a memory plan needs, read from config.json: what each decoder layer caches.

A decoder layer keeps one of these per sequence:

- FULL: keys and values of every token (num_key_value_heads x head_dim each);
- SLIDING: the same within ``sliding_window`` tokens (gpt-oss, Gemma 2/3/4, Mistral-style
  ``layer_types``); CHUNKED: within ``attention_chunk_size`` tokens (Llama 4's local layers);
- MLA: one compressed latent of ``kv_lora_rank + qk_rope_head_dim`` per token, the same on every
  tensor rank (DeepSeek-V2/V3, Kimi-K2, GLM-5); DeepSeek-V3.2's DSA indexer adds a small key;
- LINEAR: a fixed recurrent state, whatever the length (Gated DeltaNet in Qwen3-Next/3.5/3.6);
- SHARED: nothing of its own (Gemma 3n/4 layers that reuse an earlier layer's KV,
  ``num_kv_shared_layers``).

The per-layer kinds follow the configs the engines read: ``layer_types``; Gemma 2 (every other
layer local) and Gemma 3 (``sliding_window_pattern``: every pattern-th layer global); Qwen3-Next
style ``full_attention_interval``; Llama 4's ``no_rope_layers`` (a rope layer is chunked-local,
vllm/model_executor/models/llama4.py ``use_chunked_local_attn = not self.nope``). A bare
``sliding_window`` without a pattern (Mistral v0.1, Qwen2 with use_sliding_window off) attends
fully: vLLM applies a window only per layer type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

FULL, SLIDING, CHUNKED, LINEAR, SHARED = "full", "sliding", "chunked", "linear", "shared"


SSM_DTYPES = ("float32", "bfloat16", "float16")   # the mamba_ssm_dtype values the engines take


@dataclass(frozen=True)
class LinearState:
    """Gated DeltaNet state of one layer for one sequence, before tensor sharding (vLLM
    mamba_utils.py gated_delta_net_state_shape: conv (key_dim x 2 + value_dim) x (kernel - 1);
    recurrent v_heads x v_dim x k_dim)."""
    conv_elems: int
    ssm_elems: int
    ssm_dtype: str | None     # config.json's mamba_ssm_dtype (float32 in Qwen3.5/3.6 configs), None: not stated

    @property
    def ssm_fp32(self) -> bool:
        return self.ssm_dtype == "float32"


@dataclass(frozen=True)
class Arch:
    kinds: tuple[str, ...]                 # one per decoder layer
    kv_heads: int                          # full-attention layers
    head_dim: int
    swa_kv_heads: int                      # sliding / chunked layers
    swa_head_dim: int
    window: int | None = None              # sliding_window
    chunk: int | None = None               # attention_chunk_size
    mla: tuple[int, int] | None = None     # (kv_lora_rank, qk_rope_head_dim)
    indexer_dim: int | None = None         # DSA lightning indexer key (DeepSeek-V3.2)
    indexer_layers: frozenset[int] | None = None   # layers with an indexer of their own (None: every layer)
    linear: LinearState | None = None
    mtp_layers: int = 0                    # next-token heads a speculative draft would load

    def count(self, kind: str) -> int:
        return sum(1 for k in self.kinds if k == kind)


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def layer_kinds(cfg: Mapping[str, Any], layers: int) -> tuple[str, ...]:
    """The cache kind of every decoder layer (module docstring)."""
    types = cfg.get("layer_types")
    window = _int(cfg.get("sliding_window"))
    if isinstance(types, list) and len(types) == layers:
        names = {"full_attention": FULL, "sliding_attention": SLIDING, "linear_attention": LINEAR,
                 "chunked_attention": CHUNKED, "attention": FULL}
        kinds = [names.get(str(t), FULL) for t in types]
        if not window:
            kinds = [FULL if k == SLIDING else k for k in kinds]
    elif _int(cfg.get("full_attention_interval")) and cfg.get("linear_num_value_heads"):
        every = cfg["full_attention_interval"]
        kinds = [FULL if (i + 1) % every == 0 else LINEAR for i in range(layers)]
    elif window and _int(cfg.get("sliding_window_pattern")):
        every = cfg["sliding_window_pattern"]                      # Gemma 3: every pattern-th layer global
        kinds = [FULL if (i + 1) % every == 0 else SLIDING for i in range(layers)]
    elif window and str(cfg.get("model_type", "")) == "gemma2":
        kinds = [SLIDING if i % 2 == 0 else FULL for i in range(layers)]
    elif _int(cfg.get("attention_chunk_size")) and str(cfg.get("model_type", "")).startswith("llama4"):
        rope = cfg.get("no_rope_layers")
        if isinstance(rope, list) and len(rope) == layers:
            kinds = [CHUNKED if r else FULL for r in rope]
        else:
            step = _int(cfg.get("nope_layer_interval")) or 4
            kinds = [FULL if (i + 1) % step == 0 else CHUNKED for i in range(layers)]
    else:
        kinds = [FULL] * layers
    shared = _int(cfg.get("num_kv_shared_layers")) or 0
    if shared:
        kinds[layers - shared:] = [SHARED] * min(shared, layers)
    return tuple(kinds)


def from_config(cfg: Mapping[str, Any], layers: int | None, kv_heads: int | None,
                head_dim: int | None) -> Arch | None:
    """The Arch of a text config (text_config already merged in), or None when the shapes are missing.

    Gemma 4's global layers have their own KV heads and head size (num_global_key_value_heads,
    global_head_dim); vLLM stores K and V for them even with attention_k_eq_v (gemma4.py loads the K
    weights into both slots), so the cache is K + V everywhere."""
    if not (layers and kv_heads and head_dim):
        return None
    kinds = layer_kinds(cfg, layers)
    mla = None
    if _int(cfg.get("kv_lora_rank")):
        mla = (cfg["kv_lora_rank"], _int(cfg.get("qk_rope_head_dim")) or 64)
    global_heads = _int(cfg.get("num_global_key_value_heads")) or kv_heads
    global_dim = _int(cfg.get("global_head_dim")) or head_dim
    linear = None
    if _int(cfg.get("linear_num_value_heads")) and LINEAR in kinds:
        kh, vh = cfg.get("linear_num_key_heads") or 0, cfg["linear_num_value_heads"]
        kd, vd = cfg.get("linear_key_head_dim") or 0, cfg.get("linear_value_head_dim") or 0
        kernel = cfg.get("linear_conv_kernel_dim") or 4
        linear = LinearState(conv_elems=(kh * kd * 2 + vh * vd) * (kernel - 1), ssm_elems=vh * vd * kd,
                             ssm_dtype=dtype if (dtype := cfg.get("mamba_ssm_dtype")) in SSM_DTYPES else None)
    mtp = _int(cfg.get("num_nextn_predict_layers")) or _int(cfg.get("mtp_num_hidden_layers")) or 0
    return Arch(kinds=kinds, kv_heads=global_heads, head_dim=global_dim,
                swa_kv_heads=kv_heads, swa_head_dim=head_dim, window=_int(cfg.get("sliding_window")),
                chunk=_int(cfg.get("attention_chunk_size")), mla=mla, indexer_dim=_int(cfg.get("index_head_dim")),
                indexer_layers=indexer_layers(cfg, layers) if _int(cfg.get("index_head_dim")) else None,
                linear=linear, mtp_layers=mtp)


def indexer_layers(cfg: Mapping[str, Any], layers: int) -> frozenset[int] | None:
    """The DSA layers that build their own indexer and so keep its key cache; the others reuse the top-k of
    the closest indexer layer before them (GLM-5.x: 1 in 4 after the first three). The engines read the same
    keys in the same order: indexer_types ("full" / "shared"), else index_topk_pattern ("S" skips), else
    index_topk_freq with index_skip_topk_offset (default 2): layer i skips when max(i - offset + 1, 0) % freq
    != 0 (vLLM 0.34.0 model_executor/models/utils.py compute_skip_topk_layers, used by
    models/deepseek_v32/attention.py:171-184; 0.33.0 deepseek_v2.py:1142-1192; SGLang 0.5.23
    configs/model_config.py dsa_layer_skips_topk, whose index pool allocates only those layers,
    mem_cache/memory_pool.py _should_allocate_index_layer). None: every layer (DeepSeek-V3.2)."""
    types = cfg.get("indexer_types")
    if isinstance(types, list) and len(types) == layers:
        return frozenset(i for i, t in enumerate(types) if t == "full")
    pattern = cfg.get("index_topk_pattern")
    if isinstance(pattern, (list, str)):
        return frozenset(i for i in range(layers) if not (i < len(pattern) and pattern[i] == "S"))
    freq = _int(cfg.get("index_topk_freq")) or 1
    if freq == 1:
        return None
    offset = _int(cfg.get("index_skip_topk_offset")) or 2
    return frozenset(i for i in range(layers) if max(i - offset + 1, 0) % freq == 0)


def simple(layers: int, kv_heads: int, head_dim: int, window: int | None, sliding_layers: int | None,
           kv_lora_rank: int | None, rope_dim: int | None) -> Arch:
    """An Arch from the flat facts a user can state (model.facts): sliding layers first, then full."""
    n_sliding = (sliding_layers or 0) if window else 0
    kinds = tuple([SLIDING] * n_sliding + [FULL] * (layers - n_sliding))
    mla = (kv_lora_rank, rope_dim or 64) if kv_lora_rank else None
    return Arch(kinds=kinds, kv_heads=kv_heads, head_dim=head_dim, swa_kv_heads=kv_heads,
                swa_head_dim=head_dim, window=window if n_sliding else None, mla=mla)


def vision_parameters(vision: Mapping[str, Any] | None) -> float:
    """Parameters of a vision (or audio) tower: its transformer blocks and patch embedding."""
    if not isinstance(vision, Mapping):
        return 0.0
    depth = _int(vision.get("depth")) or _int(vision.get("num_hidden_layers")) or _int(vision.get("vt_num_hidden_layers")) or 0
    hidden = _int(vision.get("hidden_size")) or _int(vision.get("embed_dim")) or _int(vision.get("vt_hidden_size")) or 0
    inter = _int(vision.get("intermediate_size")) or _int(vision.get("vt_intermediate_size")) or 4 * hidden
    patch = _int(vision.get("patch_size")) or 14
    channels = _int(vision.get("in_channels")) or _int(vision.get("num_channels")) or 3
    temporal = _int(vision.get("temporal_patch_size")) or 1
    out = _int(vision.get("out_hidden_size")) or 0
    merge = (_int(vision.get("spatial_merge_size")) or 1) ** 2
    blocks = depth * (4 * hidden * hidden + 2 * hidden * inter)
    embed = channels * temporal * patch * patch * hidden
    merger = hidden * merge * (hidden * merge) + hidden * merge * out if out else 0
    return float(blocks + embed + merger)
