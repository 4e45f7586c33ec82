"""resolve(spec) -> Plan: frozen, every default explicit, target-neutral.

The Plan is what targets lower. Defaults that depend on other fields are
filled here once (served name, GPU count, dtype on GPUs without bfloat16), and
the checks that hold for every engine (GPU count, head divisibility, context
arithmetic, dtype support) run here and point at the YAML key at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from compiler import gpus
from compiler.diagnostics import Diagnostic, error, warning
from compiler.facts import Facts, from_user
from compiler.spec import GpuSpec, Limits, Model, Parallelism, Precision, Server, Spec, is_local


@dataclass(frozen=True)
class HardwarePlan:
    gpu: gpus.Gpu
    count: int
    memory_utilization: float
    gpus_per_node: int = 8


@dataclass(frozen=True)
class Plan:
    name: str
    model: Model            # served_name filled in
    precision: Precision    # dtype resolved ("auto" stays auto only where the GPU takes bfloat16)
    parallelism: Parallelism
    limits: Limits
    server: Server
    hardware: HardwarePlan
    targets: Mapping[str, Mapping[str, Any]]
    facts: Facts = Facts()  # merged from model.facts, config.json and the catalog (compiler/facts.py)
    nodes: int = 1          # machines one copy of the model spans (parallelism.nodes, or derived)

    @property
    def model_is_local(self) -> bool:
        return is_local(self.model.source)

    @property
    def gpus_per_replica(self) -> int:
        return self.parallelism.tensor * self.parallelism.pipeline

    @property
    def gpus_needed(self) -> int:
        return self.gpus_per_replica * self.parallelism.data

    @property
    def multi_node(self) -> bool:
        return self.nodes > 1

    @property
    def gpus_per_node_used(self) -> int:
        """GPUs each machine of one copy runs (tensor x pipeline split evenly over the nodes)."""
        return max(self.gpus_per_replica // self.nodes, 1)


def default_served_name(source: str) -> str:
    last = source.rstrip("/").rsplit("/", 1)[-1]
    return (last or source).lower()


def _gpu(value: str | GpuSpec) -> gpus.Gpu:
    if isinstance(value, GpuSpec):
        sm = float(value.compute_capability)
        return gpus.Gpu(value.name, value.memory_gib, value.compute_capability,
                        bf16=value.bf16 if value.bf16 is not None else sm >= 8.0,
                        fp8=value.fp8 if value.fp8 is not None else sm >= 8.9)
    found = gpus.lookup(value)
    assert found is not None, "spec validation admits catalog names only"
    return found


def resolve(spec: Spec, facts: Facts | None = None) -> tuple[Plan, list[Diagnostic]]:
    """The Plan; ``facts`` come from compiler.facts.resolve_facts (default: model.facts alone)."""
    diags: list[Diagnostic] = []
    facts = facts if facts is not None else from_user(spec.model.facts)
    gpu = _gpu(spec.hardware.gpu)
    par = spec.parallelism
    needed = par.tensor * par.pipeline * par.data
    count = spec.hardware.count if spec.hardware.count is not None else needed

    model = spec.model
    if model.served_name is None:
        model = model.model_copy(update={"served_name": default_served_name(model.source)})

    precision = spec.precision
    if precision.dtype == "auto" and not gpu.bf16:
        # Checkpoints are mostly bfloat16; engines refuse it below SM 8.0 (vllm#1157).
        precision = precision.model_copy(update={"dtype": "float16"})

    nodes = par.nodes if par.nodes is not None else derive_nodes(par.tensor * par.pipeline,
                                                                 spec.hardware.gpus_per_node)
    plan = Plan(spec.name, model, precision, par, spec.limits, spec.server,
                HardwarePlan(gpu, count, spec.hardware.memory_utilization, spec.hardware.gpus_per_node),
                spec.targets, facts, nodes)
    diags += _check_hardware(plan, spec)
    diags += _check_nodes(plan, spec)
    diags += _check_model(plan)
    diags += _check_server(plan)
    diags += _check_checkpoint(plan)
    diags += _check_limits(plan)
    return plan, diags


def derive_nodes(gpus: int, per_node: int) -> int:
    """The fewest machines of per_node GPUs that hold gpus GPUs split evenly (engines give every
    node the same share: vLLM asserts world_size % nnodes == 0, SGLang (tp x pp) % nnodes == 0)."""
    return next(n for n in range(-(-gpus // per_node), gpus + 1) if gpus % n == 0)


def _check_nodes(plan: Plan, spec: Spec) -> list[Diagnostic]:
    """parallelism.nodes against tensor x pipeline and hardware.gpus_per_node."""
    par, per_node, gpus = spec.parallelism, spec.hardware.gpus_per_node, plan.gpus_per_replica
    shape = f"tensor {par.tensor} x pipeline {par.pipeline} = {gpus} GPU(s)"
    fits = [n for n in range(1, gpus + 1) if gpus % n == 0 and gpus // n <= per_node]
    if par.nodes is None:
        if plan.nodes > 1 and gpus % per_node:
            return [warning(
                "parallelism-nodes-partial",
                f"{shape} over machines of {per_node} GPUs: {plan.nodes} nodes of {gpus // plan.nodes} GPUs "
                f"each, so {per_node - gpus // plan.nodes} GPU(s) of every node stay idle",
                hint=f"choose tensor x pipeline as a multiple of {per_node}, or set hardware.gpus_per_node to "
                     "what each machine really has", path=("parallelism", "tensor"))]
        return []
    if par.nodes > 1 and gpus == 1:
        return [error("parallelism-nodes", "one GPU per copy of the model cannot span nodes",
                      hint="remove parallelism.nodes; for more copies on more machines raise parallelism.data",
                      path=("parallelism", "nodes"))]
    if gpus % par.nodes:
        return [error(
            "parallelism-nodes", f"{shape} cannot be split evenly over {par.nodes} nodes: every node runs the "
            "same number of GPUs", path=("parallelism", "nodes"),
            hint="use nodes: " + ", ".join(map(str, fits)) if fits else "change tensor or pipeline")]
    if gpus // par.nodes > per_node:
        return [error(
            "parallelism-nodes", f"{par.nodes} node(s) of {per_node} GPUs cannot run {shape}: each would need "
            f"{gpus // par.nodes} GPUs", path=("parallelism", "nodes"),
            hint=(f"use nodes: {fits[0]}" if fits else "change tensor or pipeline")
            + " or raise hardware.gpus_per_node if the machines have more GPUs")]
    return []


def _divisors(n: int, limit: int) -> list[int]:
    return [d for d in range(1, min(n, limit) + 1) if n % d == 0]


def _check_hardware(plan: Plan, spec: Spec) -> list[Diagnostic]:
    out = []
    par, hw = plan.parallelism, plan.hardware
    if hw.count < plan.gpus_needed:
        out.append(error(
            "hardware-count",
            f"{hw.count} GPU(s) cannot hold tensor {par.tensor} x pipeline {par.pipeline} x data {par.data} "
            f"= {plan.gpus_needed} GPUs",
            hint=f"set hardware.count to {plan.gpus_needed} or lower the parallelism", path=("hardware", "count")))
    elif hw.count > plan.gpus_needed:
        out.append(warning(
            "hardware-count-unused",
            f"{hw.count} GPUs are listed but the parallelism uses {plan.gpus_needed}",
            hint=f"raise parallelism.data to use them, or set hardware.count to {plan.gpus_needed}",
            path=("hardware", "count")))
    if spec.precision.dtype == "bfloat16" and not hw.gpu.bf16:
        out.append(error(
            "precision-dtype-gpu",
            f"bfloat16 needs compute capability 8.0 or newer; {hw.gpu.name} has {hw.gpu.compute_capability}",
            hint="use dtype: float16 (or auto, which picks float16 on this GPU)", path=("precision", "dtype")))
    if plan.precision.kv_cache_dtype == "fp8" and hw.gpu.sm is not None and hw.gpu.sm < 8.0:
        out.append(error(
            "precision-kv-fp8-gpu",
            f"an fp8 KV cache needs compute capability 8.0 or newer; {hw.gpu.name} has {hw.gpu.compute_capability}",
            hint="use kv_cache_dtype: auto", path=("precision", "kv_cache_dtype")))
    return out


def _check_model(plan: Plan) -> list[Diagnostic]:
    out = []
    m, f, par = plan.model, plan.facts, plan.parallelism
    if m.revision is not None and plan.model_is_local:
        out.append(error("model-revision-local", "revision applies to hub models, not to a local path",
                         hint="remove model.revision, or check out that revision into the local folder",
                         path=("model", "revision")))
    seen: dict[str, int] = {}
    for i, adapter in enumerate(m.adapters):
        if adapter.name in seen:
            out.append(error("model-adapter-duplicate", f"adapter name {adapter.name!r} is used twice",
                             hint=f"adapter names must be unique (first used at adapters[{seen[adapter.name]}])",
                             path=("model", "adapters", i, "name")))
        seen.setdefault(adapter.name, i)
        if adapter.name == m.served_name:
            out.append(error("model-adapter-name", f"adapter name {adapter.name!r} equals the served name",
                             hint="clients pick the adapter by this name; give it its own",
                             path=("model", "adapters", i, "name")))
    if f.attention_heads is not None and f.attention_heads % par.tensor:
        ok = [d for d in _divisors(f.attention_heads, plan.hardware.count) if d > 1]
        out.append(error(
            "parallelism-heads",
            f"tensor parallel size {par.tensor} does not divide the model's {f.attention_heads} attention heads",
            hint=(f"use tensor: {', '.join(map(str, ok))}" if ok else "use tensor: 1")
            + "; spread the rest with parallelism.pipeline or parallelism.data",
            path=("parallelism", "tensor")))
    if f.kv_heads is not None:
        kv, tp = f.kv_heads, par.tensor
        if (kv >= tp and kv % tp) or (kv < tp and tp % kv):
            out.append(error(
                "parallelism-kv-heads",
                f"tensor parallel size {tp} and the model's {kv} KV heads must divide one another",
                hint="choose a tensor size that divides, or is a multiple of, the KV head count",
                path=("parallelism", "tensor")))
        elif kv < tp:
            out.append(warning(
                "parallelism-kv-replicated",
                f"tensor parallel size {tp} exceeds the model's {kv} KV heads: each KV head is replicated "
                f"{tp // kv} times, so the KV cache takes {tp // kv}x the memory",
                hint=f"tensor: {kv} with pipeline or data parallelism for the rest uses memory better",
                path=("parallelism", "tensor")))
    if f.layers is not None and par.pipeline > f.layers:
        out.append(error("parallelism-pipeline-layers",
                         f"{par.pipeline} pipeline stages for a model with {f.layers} layers",
                         hint=f"use at most {f.layers} stages", path=("parallelism", "pipeline")))
    return out


def _check_server(plan: Plan) -> list[Diagnostic]:
    """Every interface and no key: anyone who reaches the port can use the GPUs."""
    if plan.server.host not in ("0.0.0.0", "::") or plan.server.api_key_env is not None:
        return []
    return [warning(
        "server-open", f"the server listens on every interface ({plan.server.host}) and needs no API key",
        hint="set server.api_key_env to the NAME of a variable holding a key (clients send it as "
             "`Authorization: Bearer ...`), or bind host: 127.0.0.1 behind a proxy that authenticates",
        path=("server", "host"))]


# The checkpoint's quant_method -> the spec quantization that describes it.
_CHECKPOINT_METHOD = {"awq": "awq", "gptq": "gptq", "fp8": "fp8", "fbgemm_fp8": "fp8", "bitsandbytes": "bitsandbytes",
                      "gguf": "gguf"}


def _check_checkpoint(plan: Plan) -> list[Diagnostic]:
    """The spec's quantization against what the checkpoint says it is (config.json quantization_config)."""
    f, q = plan.facts, plan.precision.quantization
    if not f.from_checkpoint or q in ("none", "gguf"):
        return []
    have = f.quant_method
    if have is None:
        if q in ("awq", "gptq"):
            return [error(
                "precision-quant-checkpoint",
                f"quantization {q} needs a checkpoint quantized with {q.upper()}, but {f.origin} has no "
                "quantization_config: engines cannot quantize to it while loading",
                hint=f"serve a pre-quantized {q.upper()} checkpoint, or use quantization: fp8 (quantized while "
                     "loading, on GPUs with compute capability 8.9+)", path=("precision", "quantization"))]
        return []
    expected = _CHECKPOINT_METHOD.get(have)
    if expected == q or (have == "compressed-tensors" and q in ("fp8", "int8", "int4")):
        return []
    return [error(
        "precision-quant-checkpoint",
        f"quantization {q} contradicts the checkpoint, which {f.origin} says is {have}"
        + (f" ({f.quant_bits}-bit)" if f.quant_bits else "")
        + ": engines fail at startup when the two disagree",
        hint=(f"use quantization: {expected}" if expected else "use quantization: none")
        + " (engines read the checkpoint's own method), or point model.source at a checkpoint quantized with "
        + q, path=("precision", "quantization"))]


def _check_limits(plan: Plan) -> list[Diagnostic]:
    out = []
    lim, f = plan.limits, plan.facts
    if lim.max_model_len is not None:
        if lim.max_input_tokens is not None and lim.max_input_tokens >= lim.max_model_len:
            out.append(error("limits-input", f"max_input_tokens ({lim.max_input_tokens}) must be less than "
                             f"max_model_len ({lim.max_model_len}): the window holds prompt and completion",
                             hint=f"use max_input_tokens: {lim.max_model_len - 1} or less",
                             path=("limits", "max_input_tokens")))
        elif (lim.max_input_tokens is not None and lim.max_output_tokens is not None
              and lim.max_input_tokens + lim.max_output_tokens > lim.max_model_len):
            out.append(error("limits-window", f"max_input_tokens + max_output_tokens = "
                             f"{lim.max_input_tokens + lim.max_output_tokens} exceeds max_model_len "
                             f"({lim.max_model_len})",
                             hint="lower one of them or raise max_model_len", path=("limits", "max_output_tokens")))
        if lim.max_output_tokens is not None and lim.max_output_tokens >= lim.max_model_len:
            out.append(error("limits-output", f"max_output_tokens ({lim.max_output_tokens}) leaves no room for "
                             f"a prompt in max_model_len ({lim.max_model_len})",
                             hint="lower max_output_tokens", path=("limits", "max_output_tokens")))
        if f.context is not None and lim.max_model_len > f.context:
            scaled = f" ({f.max_position_embeddings} positions, {f.rope_scaling} rope scaling)" \
                if f.rope_scaling and f.context != f.max_position_embeddings else " positions"
            out.append(error(
                "limits-context",
                f"max_model_len {lim.max_model_len} exceeds the model's {f.context}{scaled}; "
                f"facts from {f.origin}",
                hint=f"use max_model_len: {f.context} or less; longer needs rope scaling (e.g. yarn) "
                     "in the model's config.json", path=("limits", "max_model_len")))
    elif lim.max_input_tokens is not None and f.context is not None \
            and lim.max_input_tokens >= f.context:
        out.append(error("limits-input", f"max_input_tokens ({lim.max_input_tokens}) must be less than the "
                         f"model's context ({f.context})",
                         hint="lower max_input_tokens or set max_model_len", path=("limits", "max_input_tokens")))
    return out
