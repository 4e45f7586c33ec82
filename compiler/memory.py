"""The memory plan: what one GPU of each replica holds, in the engine's own terms.

Per GPU of the busiest pipeline stage:

- weights: parameters x bytes per parameter. Linear layers take the
  quantized width (4-bit AWQ/GPTQ with group-128 scales and zeros: 4.16
  bits; fp8/int8: 8 bits); embeddings and the LM head stay 16-bit. Tensor
  parallelism shards everything (vocab-parallel embeddings included);
  pipeline stages hold layers/pipeline layers, the first stage adds the
  embeddings and the last the LM head. An exact safetensors size (a local
  checkpoint) wins over the parameter count.
- KV bytes per token: 2 x layers x max(1, kv_heads / tensor) x head_dim x
  KV dtype bytes (a KV head is replicated when tensor > kv_heads). MLA
  (DeepSeek): layers x (kv_lora_rank + rope dim) x bytes, one latent, the
  same on every tensor rank. Sliding-window layers hold at most the window
  per sequence.
- the engine's budget (EngineMemory, data each target gives per version)
  minus weights, activation peak, memory outside PyTorch and CUDA graphs is
  the KV pool, rounded down to whole blocks; tokens = pool / bytes per
  token; concurrency = pool / bytes of one max_model_len sequence.

Semantics of the budget, by engine (each target's memory_model() cites its source):

- TOTAL (vLLM): gpu_memory_utilization x total memory must hold everything.
- STATIC (SGLang): mem_fraction_static x total holds weights + KV only;
  activations and CUDA graphs live in the rest.
- FREE (TensorRT-LLM): kv_cache_free_gpu_mem_fraction of the memory still
  free after weights and activations.
- TGI is TOTAL too: after a warmup prefill it keeps free memory minus
  (1 - cuda_memory_fraction x TGI_WIGGLE_ROOM) x total for KV blocks
  (server/text_generation_server/utils/import_utils.py get_cuda_free_memory,
  models/flash_causal_lm.py warmup), i.e. a budget of fraction x 0.90 of total.
- CONTEXT (Ollama): the KV cache is num_ctx x OLLAMA_NUM_PARALLEL tokens,
  allocated up front; it fits or the model spills to the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from math import ceil, floor

from compiler.diagnostics import Diagnostic, error, warning
from compiler.facts import Facts

GIB = float(1 << 30)


class Budget(str, Enum):
    TOTAL = "total"
    STATIC = "static"
    FREE = "free"
    CONTEXT = "context"


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
    source: str = ""


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

    @property
    def concurrency(self) -> int:
        """Whole sequences of max_model_len that fit at once."""
        return floor(self.max_concurrency + 1e-9)

    def to_json(self) -> dict:
        r = lambda x: round(x, 2)  # noqa: E731
        return {"engine": self.engine, "gpu": self.gpu, "gpu_memory_gib": r(self.gpu_memory_gib),
                "budget_gib": r(self.budget_gib), "weights_gib_per_gpu": r(self.weights_gib_per_gpu),
                "activation_gib": r(self.activation_gib), "overhead_gib": r(self.overhead_gib),
                "kv_cache_gib_per_gpu": r(self.kv_cache_gib_per_gpu), "kv_bytes_per_token": self.kv_bytes_per_token,
                "kv_cache_tokens": self.kv_cache_tokens, "max_model_len": self.max_model_len,
                "max_concurrency": r(self.max_concurrency), "headroom_gib": r(self.headroom_gib),
                "assumptions": list(self.assumptions)}


# bits per weight of the quantized linear layers; group-wise 4-bit adds a 16-bit scale and a 4-bit zero per 128
_BITS = {"awq": 4 + 20 / 128, "gptq": 4 + 20 / 128, "int4": 4 + 20 / 128, "awq_marlin": 4 + 20 / 128,
         "gptq_marlin": 4 + 20 / 128, "bitsandbytes": 4 + 32 / 64, "fp8": 8.0, "int8": 8.0, "fbgemm_fp8": 8.0,
         "modelopt": 8.0, "mxfp4": 4 + 8 / 32, "gguf": 4.85}


def weight_method(plan, facts: Facts) -> str | None:
    """The quantization the weights are stored in: the spec's, else the checkpoint's own."""
    q = plan.precision.quantization
    return q if q != "none" else facts.quant_method


def _dtype_bytes(plan) -> int:
    return 4 if plan.precision.dtype == "float32" else 2


def weights_per_gpu(plan, facts: Facts) -> tuple[float, list[str]]:
    """Bytes of weights on one GPU of the busiest pipeline stage."""
    notes: list[str] = []
    tp, pp = plan.parallelism.tensor, plan.parallelism.pipeline
    dbytes = _dtype_bytes(plan)
    embed = (facts.vocab_size or 0) * (facts.hidden_size or 0)
    head = 0 if facts.tie_word_embeddings else embed
    method = weight_method(plan, facts)
    if plan.precision.quantization == "gguf" and facts.gguf_bytes:
        total = float(facts.gguf_bytes)
        body = total - embed * dbytes - head * dbytes
        notes.append(f"weights: the .gguf file, {total / GIB:.2f} GiB")
    elif facts.checkpoint_bytes and (plan.precision.quantization in ("none", facts.quant_method)):
        total = float(facts.checkpoint_bytes)
        body = total - (embed + head) * dbytes
        notes.append(f"weights: {total / GIB:.2f} GiB of safetensors in the checkpoint")
    else:
        params = facts.parameters or 0.0
        bits = 16.0 if method is None else _BITS.get(method, facts.quant_bits or 16.0)
        if method is not None and facts.quant_bits and method in ("awq", "gptq", "compressed-tensors"):
            bits = facts.quant_bits + (20 / 128 if facts.quant_bits <= 4 else 0)
        body = max(0.0, params - embed - head) * bits / 8
        total = body + (embed + head) * dbytes
        notes.append(f"weights: {params / 1e9:.2f}B parameters"
                     + (f", linear layers at {bits:.2f} bits ({method})" if method else f" at {dbytes * 8} bits")
                     + ", embeddings and LM head 16-bit")
    layers = facts.layers or 1
    per_layer = body / layers
    stage_layers = ceil(layers / pp)
    first = stage_layers * per_layer + embed * dbytes
    last = (layers - stage_layers * (pp - 1)) * per_layer + head * dbytes if pp > 1 else first + head * dbytes
    worst = max(first, last)
    if pp > 1:
        notes.append(f"pipeline: {stage_layers} layers per stage; embeddings on the first, LM head on the last")
    return worst / tp, notes


def kv_bytes(plan, facts: Facts) -> tuple[int, int, list[str]]:
    """(bytes per token of the full-attention layers, of the sliding-window layers) on one GPU."""
    notes: list[str] = []
    tp, pp = plan.parallelism.tensor, plan.parallelism.pipeline
    kvb = 1 if plan.precision.kv_cache_dtype == "fp8" else _dtype_bytes(plan)
    layers = ceil((facts.layers or 0) / pp)
    sliding = ceil((facts.sliding_layers or 0) / pp) if facts.sliding_window else 0
    if facts.mla:
        per_layer = (facts.kv_lora_rank + (facts.qk_rope_head_dim or 64)) * kvb
        notes.append(f"MLA: one latent of {facts.kv_lora_rank}+{facts.qk_rope_head_dim or 64} per layer, "
                     "replicated on every tensor rank")
    else:
        heads = max(1, (facts.kv_heads or 1) // tp) if (facts.kv_heads or 1) >= tp else 1
        per_layer = 2 * heads * (facts.head_dim or 0) * kvb
        if (facts.kv_heads or 1) < tp:
            notes.append(f"{facts.kv_heads} KV heads on {tp} tensor ranks: each rank keeps a replica")
    if sliding:
        notes.append(f"{sliding} of {layers} layers use a {facts.sliding_window}-token window")
    return per_layer * (layers - sliding), per_layer * sliding, notes


def activation_bytes(plan, facts: Facts, eng: EngineMemory) -> float:
    """Peak of a prefill pass over batch_tokens tokens plus the sampler's logits for max_seqs sequences.

    Per token: the gated MLP's gate/up output (2 x intermediate / tensor) and about six hidden-size
    buffers (residual, norm, attention in/out), 16-bit; the sampler holds one fp32 row of logits per
    sequence. Calibrated on vLLM's own log lines (benchmarks/plan_accuracy.py): 2.07 GiB logged vs
    1.98 planned for Llama-3.1-8B at 20000 tokens (vllm#10517), 1.26 vs 1.09 for Qwen2.5-32B TP2 at
    10000 (vllm#15815).
    """
    tp = plan.parallelism.tensor
    inter = (facts.intermediate_size or 4 * (facts.hidden_size or 0))
    if facts.experts and facts.experts_per_token:
        inter = inter * min(facts.experts_per_token, 2)
    per_token = 2 * (2 * inter / tp + 6 * (facts.hidden_size or 0))
    logits = 4 * eng.max_seqs * (facts.vocab_size or 0) / tp
    return eng.batch_tokens * per_token + logits


def estimate(plan, facts: Facts, eng: EngineMemory) -> MemoryPlan | None:
    """The plan for one GPU, or None when the facts are too thin (missing() says which)."""
    if facts.missing("layers", "head_dim", "hidden_size", "vocab_size") or (
            facts.parameters is None and facts.checkpoint_bytes is None):
        return None
    gpu = plan.hardware.gpu
    total = gpu.memory_gib * GIB
    L = plan.limits.max_model_len or facts.context or facts.max_position_embeddings or 0
    weights, notes = weights_per_gpu(plan, facts)
    full, slide, kv_notes = kv_bytes(plan, facts)
    notes += kv_notes
    act = activation_bytes(plan, facts, eng)
    overhead = (eng.non_torch_gib + eng.cuda_graph_gib) * GIB
    if eng.budget is Budget.TOTAL:
        budget = total * eng.fraction
        pool = budget - weights - act - overhead
        headroom = total - budget
    elif eng.budget is Budget.STATIC:
        budget = total * eng.fraction
        pool = budget - weights
        headroom = total - budget - act - overhead
    elif eng.budget is Budget.FREE:
        free = total - weights - act - overhead
        budget = total
        pool = free * eng.fraction
        headroom = free - pool
    else:  # CONTEXT: the cache is allocated up front for context_tokens; the rest of the budget is spare
        budget = total * eng.fraction
        tokens = eng.context_tokens or L
        pool = full * tokens + slide * min(tokens, facts.sliding_window or tokens)
        headroom = budget - weights - act - overhead - pool
    notes.append(f"{eng.engine}: {eng.fraction_flag} {eng.fraction:g}; batch {eng.batch_tokens} tokens, "
                 f"{eng.max_seqs} sequences; {eng.non_torch_gib:g} GiB runtime outside the weights and KV cache"
                 + (f", {eng.cuda_graph_gib:g} GiB CUDA graphs" if eng.cuda_graph_gib else ""))
    per_token = full + slide
    seq = full * L + slide * min(L, facts.sliding_window or L)
    if pool > 0 and per_token > 0 and eng.budget is not Budget.CONTEXT:
        block = per_token * eng.block_size
        pool = floor(pool / block) * block if block else pool
    # CONTEXT: concurrency is how many num_ctx slots the free budget could hold, not what is allocated
    room = pool if eng.budget is not Budget.CONTEXT else budget - weights - act - overhead
    concurrency = room / seq if seq > 0 and room > 0 else 0.0
    if eng.budget is Budget.CONTEXT:
        tokens = eng.context_tokens or L
    else:
        tokens = int(concurrency * L) if slide else (int(pool // full) if full > 0 and pool > 0 else 0)
    return MemoryPlan(
        engine=eng.engine, gpu=gpu.name, gpu_memory_gib=gpu.memory_gib, budget_gib=budget / GIB,
        weights_gib_per_gpu=weights / GIB, activation_gib=act / GIB, overhead_gib=overhead / GIB,
        kv_cache_gib_per_gpu=max(pool, 0.0) / GIB, kv_bytes_per_token=int(per_token), kv_cache_tokens=tokens,
        max_model_len=L, sequence_bytes=int(seq), max_concurrency=concurrency, headroom_gib=headroom / GIB,
        assumptions=tuple(notes))


def check(plan, mp: MemoryPlan, eng: EngineMemory) -> list[Diagnostic]:
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


def derived_concurrency(plan, mp: MemoryPlan | None, engine_default: int) -> int | None:
    """What a target passes as its running-sequence cap when the spec gives none."""
    if plan.limits.max_concurrency is not None:
        return plan.limits.max_concurrency
    if mp is None or mp.concurrency < 1:
        return None
    return min(mp.concurrency, engine_default)


def _next_pow2(n: int) -> int:
    p = 1
    while p < n:
        p *= 2
    return p


def _round_down(n: int) -> int:
    step = 1024 if n >= 4096 else 256
    return max(step, n // step * step)
