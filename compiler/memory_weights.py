"""Weights and activations on one GPU, for one rank of a Layout.

Weights: the parameter count in parts (compiler/params.py) at the widths checkpoints store them.
Linear layers take the quantized width: 4-bit AWQ/GPTQ with group-128 scales and zeros 4.16
bits, compressed-tensors' w4a16 (group 32) 4.5, NVFP4 (modelopt; an fp8 scale per 16) 4.5,
MXFP4 (an e8m0 scale per 32) 4.25, fp8/int8 8. Embeddings, Gemma's per-layer embeddings and the
vision/audio towers stay 16-bit; gpt-oss keeps attention 16-bit too (its quantization_config
lists self_attn in modules_to_not_convert), so only its experts are MXFP4. An exact safetensors
size (a local checkpoint) wins over the count.

Sharding: tensor parallelism shards attention, dense MLPs and the vocabulary (vLLM's
VocabParallelEmbedding and ParallelLMHead); routed experts are split over the expert-parallel
ranks when there are any, else sharded by tensor parallelism: per rank the same bytes either
way. MLA's down projections, the DSA indexer and MoE routers are held whole by every rank
(compiler/params.py, with the engines' sources); routers and the indexer's weights_proj load
unquantized. Pipeline stages hold their layers as vLLM's get_pp_indices splits them (the remainder
goes to the stages before the last), the first stage the embeddings and the towers, the last the LM
head.

A checkpoint's own size (local safetensors or a lock file) is split the way the count splits it, less
the multi-token-prediction layers it also stores (num_nextn_predict_layers): vLLM skips them unless
they draft (model_executor/models/deepseek_v2.py load_weights, get_spec_layer_idx_from_weight_name,
0.11.2 and 0.34.0 alike), and memory_draft.py counts them when they do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from deployc.compiler.facts import Facts

if TYPE_CHECKING:
    from deployc.compiler.plan import Plan

GIB = float(1 << 30)

# bits per weight of the quantized linear layers (module docstring)
_BITS = {"awq": 4 + 20 / 128, "gptq": 4 + 20 / 128, "int4": 4 + 20 / 128, "awq_marlin": 4 + 20 / 128,
         "gptq_marlin": 4 + 20 / 128, "auto-round": 4 + 20 / 128, "auto_round": 4 + 20 / 128,
         "bitsandbytes": 4 + 32 / 64, "fp8": 8.0, "int8": 8.0, "fbgemm_fp8": 8.0, "modelopt": 8.0,
         "mxfp4": 4 + 8 / 32, "nvfp4": 4 + 8 / 16, "modelopt_fp4": 4 + 8 / 16, "gguf": 4.85,
         "compressed-tensors": 4 + 16 / 32}


@dataclass(frozen=True)
class Layout:
    """How one copy of the model is split over GPUs, seen from one rank.

    tensor: the GPUs one MoE layer spans (tensor x data with data_mode attention, where the experts
    are split over every GPU of the engine, by expert or tensor parallelism: the same bytes per rank);
    attention_data: ranks that each hold all of attention, the dense layers and the embeddings, sharded
    only by tensor // attention_data, with a KV pool of their own (vLLM's data-parallel attention,
    SGLang's --attn-dp-size, TensorRT-LLM's enable_attention_dp); expert: parallelism.expert.
    """
    tensor: int = 1
    pipeline: int = 1
    expert: int = 1
    attention_data: int = 1

    @classmethod
    def of(cls, plan: Plan) -> Layout:
        par = plan.parallelism
        if plan.attention_dp:
            return cls(tensor=par.tensor * par.data, pipeline=par.pipeline, expert=par.expert,
                       attention_data=par.data)
        return cls(tensor=par.tensor, pipeline=par.pipeline, expert=par.expert)

    @property
    def attention_tensor(self) -> int:
        """Ranks that shard one attention layer (SGLang's DP attention divides tp by dp)."""
        return max(1, self.tensor // self.attention_data)

    @property
    def expert_shards(self) -> int:
        """Ranks one MoE layer's experts are split over: expert parallelism over `expert` ranks, tensor
        parallelism inside each expert over the rest, so every GPU of the layer holds 1/tensor of them."""
        return self.tensor


def stages(layers: int, pipeline: int) -> list[range]:
    """vLLM's get_pp_indices: even shares, the remainder to the stages before the last."""
    sizes = [layers // pipeline] * pipeline
    for i in range(2, layers % pipeline + 2):
        sizes[-i] += 1
    out, start = [], 0
    for n in sizes:
        out.append(range(start, start + n))
        start += n
    return out


def checkpoint_family(facts: Facts) -> str | None:
    """The spec's name (precision.quantization) of the format the checkpoint declares: quant_method, and
    for ModelOpt and compressed-tensors checkpoints the algorithm or format inside it (NVFP4 and FP8 share
    modelopt; nvfp4-pack-quantized, float-quantized and pack-quantized share compressed-tensors)."""
    method, algo = facts.quant_method, (facts.quant_algo or "").lower()
    if method is None:
        return None
    if method in ("modelopt", "modelopt_fp4", "compressed-tensors"):
        if algo.startswith(("nvfp4", "fp4")) or method == "modelopt_fp4":
            return "nvfp4"
        if algo.startswith("mxfp4"):
            return "mxfp4"
        if algo.startswith(("fp8", "float")):
            return "fp8"
        if method == "modelopt":   # no algorithm known (a checkpoint named -FP4 / -FP8): its bits say
            return "nvfp4" if (facts.quant_bits or 8) <= 4 else "fp8"
        if algo.startswith("pack"):
            return "int4" if (facts.quant_bits or 4) <= 4 else "int8"
        if algo.startswith("int"):
            return "int8"
        return None
    return {"awq": "awq", "gptq": "gptq", "fp8": "fp8", "fbgemm_fp8": "fp8", "bitsandbytes": "bitsandbytes",
            "gguf": "gguf", "mxfp4": "mxfp4"}.get(method)


def weight_method(plan: Plan, facts: Facts) -> str | None:
    """The quantization the weights are stored in: the spec's, else the checkpoint's own (its family where
    the method alone does not say the width: ModelOpt and compressed-tensors)."""
    q = plan.precision.quantization
    method = q if q != "none" else facts.quant_method
    if method in ("modelopt", "modelopt_fp4", "compressed-tensors") and checkpoint_family(facts) in (
            "nvfp4", "mxfp4", "fp8"):
        return checkpoint_family(facts)
    return method


def mtp_layers(facts: Facts) -> int:
    """Multi-token-prediction layers the checkpoint stores beside its decoder layers."""
    return facts.arch.mtp_layers if facts.arch is not None else 0


def dtype_bytes(plan: Plan) -> int:
    return 4 if plan.precision.dtype == "float32" else 2


@dataclass(frozen=True)
class Weights:
    """Bytes on one rank of each pipeline stage, and how they were counted."""
    per_stage: tuple[float, ...]
    notes: tuple[str, ...]
    per_layer: float = 0.0       # one decoder layer on one rank (the average: MoE and dense layers alike)

    @property
    def worst(self) -> float:
        return max(self.per_stage)


def weights(plan: Plan, facts: Facts, layout: Layout, towers: bool = True,
            gguf_bits: float | None = None) -> Weights:
    """Weights per rank of every pipeline stage (module docstring). gguf_bits: the bits per weight of the
    GGUF quant type a target names (llama.cpp's -hf org/repo:Q4_K_M), when no local file gives the size."""
    notes: list[str] = []
    d = dtype_bytes(plan)
    embed = (facts.vocab_size or 0) * (facts.hidden_size or 0)
    head = 0 if facts.tie_word_embeddings else embed
    extra = max(0.0, (facts.embedding_parameters or 0.0) - embed - head)      # per-layer embeddings
    vision = (facts.vision_parameters or 0.0) if towers else 0.0
    skipped = 0.0 if towers else (facts.vision_parameters or 0.0)
    method = weight_method(plan, facts)
    params = (facts.parameters or 0.0) - skipped
    rest = max(0.0, params - embed - head - extra - vision)
    share = (facts.expert_parameters or 0.0) / rest if rest and facts.expert_parameters else 0.0
    bits = 16.0 if method is None else _BITS.get(method, float(facts.quant_bits or 16))
    if method == "gguf" and gguf_bits is not None:
        bits = gguf_bits
    if method in ("awq", "gptq", "compressed-tensors") and facts.quant_bits:
        bits = facts.quant_bits + (20 / 128 if method != "compressed-tensors" else 16 / 32)
    linear_bits = 16.0 if facts.quant_dense else bits
    # the count at the checkpoint's widths: routed experts, linear layers sharded by tensor parallelism,
    # and the parts every tensor rank holds whole (compiler/params.py), routers and weights_proj 16-bit
    unquantized = min(rest, facts.unquantized_parameters or 0.0)
    replicated_q = min(rest - unquantized, max(0.0, (facts.replicated_parameters or 0.0) - unquantized))
    experts_b = rest * min(share, 1.0) * bits / 8
    sharded_b = max(0.0, rest * (1 - min(share, 1.0)) - replicated_q - unquantized) * linear_bits / 8
    replicated_b = replicated_q * linear_bits / 8 + unquantized * d
    layers = facts.layers or 1
    if plan.precision.quantization == "gguf" and facts.gguf_bytes:
        body = float(facts.gguf_bytes) - (embed + head) * d
        experts_b, sharded_b, replicated_b = 0.0, body, 0.0
        notes.append(f"weights: the .gguf file, {facts.gguf_bytes / GIB:.2f} GiB")
    elif facts.checkpoint_bytes and plan.precision.quantization in ("none", facts.quant_method,
                                                                     checkpoint_family(facts)):
        body = float(facts.checkpoint_bytes) - (embed + head + extra + (facts.vision_parameters or 0.0)) * d
        notes.append(f"weights: {facts.checkpoint_bytes / GIB:.2f} GiB of safetensors in the checkpoint")
        counted = experts_b + sharded_b + replicated_b
        mtp = mtp_layers(facts)
        if mtp and counted:
            # the checkpoint also stores the multi-token-prediction layers, which the engines skip unless they
            # draft with them (vLLM deepseek_v2.py load_weights: get_spec_layer_idx_from_weight_name); each is
            # about one MoE layer (a checkpoint that also copies the embeddings and LM head into it keeps them)
            per_moe = experts_b / (facts.moe_layers or layers) + (sharded_b + replicated_b) / layers
            body -= body * mtp * per_moe / (counted + mtp * per_moe)
            notes.append(f"weights: the checkpoint's {mtp} multi-token-prediction layer(s) are not loaded "
                         "without speculative mtp")
        if counted:   # the checkpoint's bytes, split the way the count splits them
            experts_b, sharded_b, replicated_b = (x * body / counted for x in (experts_b, sharded_b, replicated_b))
        else:
            experts_b, sharded_b, replicated_b = 0.0, body, 0.0
    else:
        what = f"linear layers at {bits:.2f} bits ({method})" if method else f"at {d * 8} bits"
        if method and facts.quant_dense:
            what = f"experts at {bits:.2f} bits ({method}), attention 16-bit"
        notes.append(f"weights: {params / 1e9:.2f}B parameters, {what}, embeddings"
                     + (" and vision/audio towers" if vision else "") + " 16-bit")
        if skipped:
            notes.append(f"--language-model-only: the {skipped / 1e9:.2f}B-parameter vision/audio towers stay unloaded")
    if replicated_b and layout.attention_tensor > 1:
        arch = facts.arch
        parts = [name for name, has in (("MLA down projections", arch is not None and arch.mla is not None),
                                        ("the DSA indexer", arch is not None and arch.indexer_dim is not None),
                                        ("MoE routers", bool(facts.experts))) if has]
        notes.append(f"weights: {replicated_b / GIB:.2f} GiB on every tensor rank whole ({', '.join(parts)})")
    # experts split over the expert-parallel ranks, the rest sharded by tensor parallelism
    per_layer_rank = (experts_b / layout.expert_shards + sharded_b / layout.attention_tensor + replicated_b) / layers
    out = []
    split = stages(layers, layout.pipeline)
    for i, s in enumerate(split):
        w = len(s) * per_layer_rank
        if i == 0:   # embeddings and LM head: sharded like attention (replicated per data-parallel attention rank)
            w += (embed + extra + vision) * d / layout.attention_tensor
        if i == len(split) - 1:
            w += head * d / layout.attention_tensor
        out.append(w)
    if layout.pipeline > 1:
        notes.append(f"pipeline: {', '.join(str(len(s)) for s in split)} layers per stage; embeddings on the "
                     "first, LM head on the last")
    return Weights(tuple(out), tuple(notes), per_layer_rank)
