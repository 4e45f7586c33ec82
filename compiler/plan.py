"""resolve(spec) -> Plan: frozen, every default explicit, target-neutral.

The Plan is what targets lower. Defaults that depend on other fields are
filled here once (served name, GPU count, dtype on GPUs without bfloat16), and
the checks that hold for every engine (GPU count, head divisibility, context
arithmetic, dtype support) run here and point at the YAML key at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any
from collections.abc import Mapping

from deployc.compiler import gpus
from deployc.compiler.diagnostics import Diagnostic, SpecPath, error, warning
from deployc.compiler.facts import Facts, from_user
from deployc.compiler.memory_weights import checkpoint_family
from deployc.compiler.spec import (
    Cache,
    GpuSpec,
    Limits,
    Model,
    Parallelism,
    Precision,
    RopeScaling,
    Server,
    Spec,
    Speculative,
    is_local,
)


@dataclass(frozen=True)
class HardwarePlan:
    gpu: gpus.Gpu
    count: int
    memory_utilization: float | None   # None: each engine's own default
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
    facts: Facts = field(default_factory=Facts)  # merged from model.facts, config.json and the catalog (compiler/facts.py)
    nodes: int = 1          # machines one copy of the model spans (parallelism.nodes, or derived)
    # The settings the spec states itself (YAML paths, before any default is filled in): a value a target
    # writes for a path outside it is deployc's, and the target says why (api.Derived).
    stated: frozenset[tuple[str, ...]] = frozenset()

    def states(self, path: SpecPath | str) -> bool:
        """The spec itself sets path (or a key under it)."""
        p = tuple(path.split(".")) if isinstance(path, str) else tuple(path)
        return any(s[:len(p)] == p for s in self.stated)
    cache: Cache = field(default_factory=Cache)   # issue 20: prefix caching / chunked prefill toggles
    speculative: Speculative | None = None         # issue 20: speculative decoding
    draft_facts: Facts | None = None               # speculative.model's facts (compiler/memory_draft.py)

    @property
    def served_name(self) -> str:
        """model.served_name, which resolve() fills in (the source's default name when the spec has none)."""
        return self.model.served_name or default_served_name(self.model.source)

    @property
    def context(self) -> int | None:
        """The context window the engines serve: limits.max_model_len, else the model's own."""
        return self.limits.max_model_len or self.facts.context

    @property
    def moe(self) -> bool:
        """The model has routed experts (facts.experts > 1)."""
        return (self.facts.experts or 0) > 1

    @property
    def data_mode(self) -> str:
        """parallelism.data_mode, else replicas (a MoE model with data > 1 must choose: _check_parallel_modes)."""
        return self.parallelism.data_mode or "replicas"

    @property
    def attention_dp(self) -> bool:
        """One engine with data-parallel attention over parallelism.data ranks (issue 20, item 1)."""
        return self.data_mode == "attention" and self.parallelism.data > 1

    @property
    def weight_format(self) -> str:
        """How the weights are stored: precision.quantization, else the family the checkpoint declares
        (nvfp4 for a ModelOpt NVFP4 checkpoint), else none."""
        q = self.precision.quantization
        return q if q != "none" else (checkpoint_family(self.facts) or "none")

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
    def engine_gpus(self) -> int:
        """GPUs one engine spans: tensor x pipeline, times data with data-parallel attention (then one
        engine runs every data rank, and the experts span them all)."""
        return self.gpus_per_replica * (self.parallelism.data if self.attention_dp else 1)

    @property
    def copies(self) -> int:
        """Independent engines: parallelism.data, or 1 with data-parallel attention."""
        return 1 if self.attention_dp else self.parallelism.data

    @property
    def multi_node(self) -> bool:
        return self.nodes > 1

    @property
    def gpus_per_node_used(self) -> int:
        """GPUs each machine of one engine runs (engine_gpus split evenly over the nodes)."""
        return max(self.engine_gpus // self.nodes, 1)


def default_served_name(source: str) -> str:
    last = source.rstrip("/").rsplit("/", 1)[-1]
    return (last or source).lower()


def _gpu(value: str | GpuSpec) -> gpus.Gpu:
    if isinstance(value, GpuSpec):
        sm = float(value.compute_capability)
        return gpus.Gpu(value.name, value.memory_gib, str(value.compute_capability),
                        bf16=value.bf16 if value.bf16 is not None else sm >= 8.0,
                        fp8=value.fp8 if value.fp8 is not None else sm >= 8.9)
    found = gpus.lookup(value)
    assert found is not None, "spec validation admits catalog names only"
    return found


def resolve(spec: Spec, facts: Facts | None = None,
            draft_facts: Facts | None = None) -> tuple[Plan, list[Diagnostic]]:
    """The Plan; ``facts`` come from compiler.facts.resolve_facts (default: model.facts alone), ``draft_facts``
    likewise for speculative.model."""
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

    engine = par.tensor * par.pipeline * (par.data if par.data_mode == "attention" else 1)
    nodes = par.nodes if par.nodes is not None else derive_nodes(engine, spec.hardware.gpus_per_node)
    rope_diags: list[Diagnostic] = []
    if spec.model.rope_scaling is not None:
        facts, rope_diags = _rope_facts(facts, spec.model.rope_scaling)
    plan = Plan(spec.name, model, precision, par, spec.limits, spec.server,
                HardwarePlan(gpu, count, spec.hardware.memory_utilization, spec.hardware.gpus_per_node),
                spec.targets, facts, nodes, stated_paths(spec), cache=spec.cache,
                speculative=spec.speculative, draft_facts=draft_facts)
    diags += rope_diags
    diags += _check_hardware(plan, spec)
    diags += _check_nodes(plan, spec)
    diags += _check_model(plan)
    diags += _check_server(plan)
    diags += _check_checkpoint(plan)
    diags += _check_limits(plan)
    diags += _check_parallel_modes(plan)
    diags += _check_parsers(plan)
    diags += _check_cache(plan) + _check_max_loras(plan) + _check_speculative(plan)
    return plan, diags


def _check_parallel_modes(plan: Plan) -> list[Diagnostic]:
    """parallelism.data_mode and parallelism.expert against the model (issue 20, item 1); each engine's own
    rules (vLLM's expert size 1 or tensor x data, TensorRT-LLM's tensor 1) are its target's."""
    par, f = plan.parallelism, plan.facts
    out = []
    name = plan.model.source
    if plan.moe and par.data > 1 and par.data_mode is None:
        out.append(error(
            "parallelism-data-mode", f"{name} is a mixture-of-experts model ({f.experts} experts): with data "
            f"{par.data}, say whether the {par.data} ranks are whole copies or attention ranks of one engine",
            hint=f"data_mode: attention (one engine: attention data-parallel on {par.data} ranks, the experts over all "
                 f"{plan.gpus_needed} GPUs, what DeepSeek-style MoE recipes run) or data_mode: replicas "
                 f"({par.data} independent copies)", path=("parallelism", "data")))
    if par.expert > 1:
        if f.layers is not None and not plan.moe:
            out.append(warning(
                "parallelism-expert-dense", f"expert {par.expert}: {name} has no routed experts (facts from "
                f"{f.origin}), so expert parallelism changes nothing",
                hint="remove parallelism.expert; tensor and data parallelism split a dense model",
                path=("parallelism", "expert")))
        span = par.tensor * par.data if plan.attention_dp else par.tensor
        what = f"tensor x data = {span}" if plan.attention_dp else f"tensor {span}"
        if span % par.expert:
            ok = [d for d in _divisors(span, span) if d > 1]
            out.append(error(
                "parallelism-expert", f"expert-parallel size {par.expert} does not divide the GPUs the MoE layers "
                f"span ({what})", hint=(f"use expert: {', '.join(map(str, ok))}" if ok else "use expert: 1")
                + ("" if plan.attention_dp else "; with data_mode: attention the experts span tensor x data GPUs"),
                path=("parallelism", "expert")))
    return out


def stated_paths(model: Any, prefix: tuple[str, ...] = ()) -> frozenset[tuple[str, ...]]:
    """The leaf paths a validated spec sets explicitly (pydantic's fields set), target options included."""
    out: set[tuple[str, ...]] = set()
    for name in getattr(model, "model_fields_set", ()):
        value = getattr(model, name)
        here = prefix + (name,)
        if hasattr(value, "model_fields_set"):
            out |= stated_paths(value, here)
        elif name == "targets" and isinstance(value, dict):
            out |= {here + (key, k) for key, sub in value.items() if isinstance(sub, dict) for k in sub}
        else:
            out.add(here)
    return frozenset(out)


def _check_speculative(plan: Plan) -> list[Diagnostic]:
    """What every engine needs of a speculative method: a draft model for eagle/eagle3/draft, none for mtp and
    ngram, a prompt-lookup window only for ngram."""
    s = plan.speculative
    if s is None:
        return []
    out = []
    if s.method in ("eagle", "eagle3", "draft") and s.model is None:
        out.append(error("speculative-model", f"speculative method {s.method} needs the draft model or head it runs",
                         hint="set speculative.model to its hub id or local path", path=("speculative", "method")))
    if s.method in ("mtp", "ngram") and s.model is not None:
        out.append(error("speculative-model", f"speculative method {s.method} runs no separate model",
                         hint="remove speculative.model, or use method: draft / eagle3 for a separate model",
                         path=("speculative", "model")))
    if s.method != "ngram" and (s.ngram.min is not None or s.ngram.max is not None):
        out.append(error("speculative-ngram", "speculative.ngram is the prompt-lookup window of method ngram",
                         hint="remove speculative.ngram", path=("speculative", "ngram")))
    if s.ngram.min is not None and s.ngram.max is not None and s.ngram.min > s.ngram.max:
        out.append(error("speculative-ngram", f"ngram.min {s.ngram.min} exceeds ngram.max {s.ngram.max}",
                         hint="swap them", path=("speculative", "ngram", "min")))
    if s.revision is not None and s.model is None:
        out.append(error("speculative-revision", "speculative.revision needs speculative.model",
                         hint="remove speculative.revision", path=("speculative", "revision")))
    return out + _draft_facts(plan)


def _draft_facts(plan: Plan) -> list[Diagnostic]:
    """A drafter the memory plan cannot size is said out loud, never guessed (compiler/memory_draft.py)."""
    s, f = plan.speculative, plan.facts
    if s is None:
        return []
    if s.method == "mtp" and f.known and (f.arch is None or f.arch.mtp_layers == 0):
        return [warning("speculative-draft-facts", f"speculative mtp: {plan.model.source}'s config.json (facts from "
                        f"{f.origin}) declares no multi-token-prediction layers (num_nextn_predict_layers, "
                        "mtp_num_hidden_layers), so the memory plan counts no MTP weights or KV cache",
                        hint=(f"run `deployc facts {plan.model.source}` to lock the checkpoint's own config.json "
                              "if it ships MTP layers; " if not plan.model_is_local else "")
                        + "or use method: eagle3 / draft with a separate model", path=("speculative", "method"))]
    if s.model is None or s.method not in ("eagle", "eagle3", "draft") or s.model.lower().endswith(".gguf"):
        return []   # a .gguf draft is Ollama's or llama.cpp's, whose plans do not count drafters
    df = plan.draft_facts
    if df is not None and df.known and not df.missing("hidden_size", "vocab_size"):
        return []
    command = f"deployc facts {s.model}" + (f" --revision {s.revision}" if s.revision else "")
    return [warning("speculative-draft-facts", f"the memory plan leaves out the draft {s.model}: no config.json of "
                    "it is known here (no local folder, no entry in model-facts.lock.json, not in the catalog), so "
                    "its weights and KV cache are not counted",
                    hint=f"run `{command}` to lock its config.json" if not is_local(s.model)
                    else f"put the draft's config.json in {s.model}", path=("speculative", "model"))]


def _check_max_loras(plan: Plan) -> list[Diagnostic]:
    if plan.limits.max_loras is None or plan.model.adapters:
        return []
    return [error("limits-max-loras", "limits.max_loras bounds the LoRA adapters served in one batch, but "
                  "model.adapters lists none", hint="add the adapters under model.adapters, or remove "
                  "limits.max_loras", path=("limits", "max_loras"))]


def _check_cache(plan: Plan) -> list[Diagnostic]:
    """chunked_prefill: false means a whole prompt in one step: the step's token budget must hold the context."""
    if plan.cache.chunked_prefill is not False or plan.context is None:
        return []
    batch = plan.limits.max_batch_tokens
    if batch is not None and batch >= plan.context:
        return []
    return [error("cache-chunked-prefill", f"chunked_prefill: false prefills each prompt in one step, so "
                  f"limits.max_batch_tokens must hold the context ({plan.context} tokens)"
                  + (f"; it is {batch}" if batch is not None else "; it is unset"),
                  hint=f"set limits.max_batch_tokens: {plan.context} (or more), or lower limits.max_model_len",
                  path=("cache", "chunked_prefill"))]


def _check_parsers(plan: Plan) -> list[Diagnostic]:
    """A bare parser name (not auto) is one engine's spelling: with several targets listed, each needs its own."""
    out = []
    for kind in ("tool", "reasoning"):
        bare = getattr(plan.model, f"{kind}_parser")
        if bare in (None, "auto") or len(plan.targets) < 2:
            continue
        missing = [t for t, o in plan.targets.items() if not (isinstance(o, Mapping) and o.get(f"{kind}_parser"))]
        if missing:
            out.append(error(
                "parser-bare-name", f"model.{kind}_parser names one engine's parser ({bare!r}), but several targets "
                "are listed and parser names differ between engines (DeepSeek-V3.1's tool parser is deepseek_v31 in "
                "vLLM, deepseekv31 in SGLang)", path=("model", f"{kind}_parser"),
                hint=f"use {kind}_parser: auto, or give " + ", ".join(missing)
                + f" its own targets.<name>.{kind}_parser"))
    return out


def rope_base(facts: Facts, rope: RopeScaling) -> int | None:
    """The context a rope factor multiplies: yarn and llama3 scale the original (training) length, linear and
    dynamic the model's max_position_embeddings (vLLM's and SGLang's own derivations of the context)."""
    if rope.rope_type in ("yarn", "llama3"):
        return rope.original_max_position_embeddings or facts.max_position_embeddings
    return facts.max_position_embeddings


def extended_context(facts: Facts, rope: RopeScaling) -> int | None:
    base = rope_base(facts, rope)
    return int(base * rope.factor) if base else None


def _rope_facts(facts: Facts, rope: RopeScaling) -> tuple[Facts, list[Diagnostic]]:
    """The facts with model.rope_scaling applied: the context the engines serve and the plan uses."""
    out = []
    at = ("model", "rope_scaling")
    if rope.rope_type != "llama3" and (rope.low_freq_factor is not None or rope.high_freq_factor is not None):
        out.append(error("model-rope-fields", f"low_freq_factor and high_freq_factor belong to llama3 scaling, not "
                         f"{rope.rope_type}", hint="remove them, or use rope_type: llama3", path=at))
    if facts.rope_scaling and facts.from_checkpoint:
        out.append(warning("model-rope-replaces", f"the checkpoint already declares {facts.rope_scaling} rope scaling; "
                           "model.rope_scaling replaces it in every engine", path=at,
                           hint="remove model.rope_scaling to keep the checkpoint's own"))
    context = extended_context(facts, rope)
    if context is None:
        out.append(warning("model-rope-context", "model.rope_scaling: the model's max_position_embeddings is unknown, "
                           "so the extended context is too", path=at,
                           hint="set model.facts.max_position_embeddings, or rope_scaling.original_max_position_"
                                "embeddings, or limits.max_model_len"))
        return facts, out
    return replace(facts, context=context, rope_scaling=f"{rope.rope_type} x{rope.factor:g} (model.rope_scaling)"), out


def derive_nodes(gpus: int, per_node: int) -> int:
    """The fewest machines of per_node GPUs that hold gpus GPUs split evenly (engines give every
    node the same share: vLLM asserts world_size % nnodes == 0, SGLang (tp x pp) % nnodes == 0)."""
    return next(n for n in range(-(-gpus // per_node), gpus + 1) if gpus % n == 0)


def _check_nodes(plan: Plan, spec: Spec) -> list[Diagnostic]:
    """parallelism.nodes against tensor x pipeline and hardware.gpus_per_node."""
    par, per_node, gpus = spec.parallelism, spec.hardware.gpus_per_node, plan.engine_gpus
    shape = (f"tensor {par.tensor} x pipeline {par.pipeline} x data {par.data} (data-parallel attention) = {gpus} "
             "GPU(s)" if plan.attention_dp else f"tensor {par.tensor} x pipeline {par.pipeline} = {gpus} GPU(s)")
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




def unquantized_checkpoint(plan: Plan) -> Diagnostic | None:
    """awq or gptq asked of a checkpoint that says it is 16-bit: engines cannot quantize to either while
    loading. Checked per target (compiler/check.py core_rules), since a target with an offline
    quantization step (Target.quantizes_offline) makes one from the 16-bit checkpoint."""
    f, q = plan.facts, plan.precision.quantization
    if not f.from_checkpoint or f.quant_method is not None or q not in ("awq", "gptq", "mxfp4", "nvfp4"):
        return None
    report = warning if f.derived else error
    return report(
        "precision-quant-checkpoint",
        f"quantization {q} needs a checkpoint quantized with {q.upper()}, but "
        + ("its name says it is 16-bit" if f.derived else f"{f.origin} has no quantization_config")
        + ": engines cannot quantize to it while loading",
        hint=f"serve a pre-quantized {q.upper()} checkpoint, or use quantization: fp8 (quantized while "
             "loading, on GPUs with compute capability 8.9+)", path=("precision", "quantization"))


def _check_checkpoint(plan: Plan) -> list[Diagnostic]:
    """The spec's quantization against what the checkpoint says it is (config.json quantization_config);
    a 16-bit checkpoint is unquantized_checkpoint's, per target."""
    f, q = plan.facts, plan.precision.quantization
    if not f.from_checkpoint or q in ("none", "gguf"):
        return []
    have = f.quant_method
    # A quantization read from the checkpoint's name (a derivative of a catalog model) is a guess: a warning
    report, says = (warning, "its name says") if f.derived else (error, f"{f.origin} says")
    if have is None:
        return []
    expected = checkpoint_family(f)
    if expected == q or (have == "compressed-tensors" and expected is None and q in ("fp8", "int8", "int4", "nvfp4")):
        return []
    return [report(
        "precision-quant-checkpoint",
        f"quantization {q} contradicts the checkpoint, which {says} is {have}"
        + (f" ({f.quant_algo})" if f.quant_algo else f" ({f.quant_bits}-bit)" if f.quant_bits else "")
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
                hint=f"use max_model_len: {f.context} or less; longer needs rope scaling: model.rope_scaling "
                     "(e.g. {rope_type: yarn, factor: 4.0})", path=("limits", "max_model_len")))
    elif lim.max_input_tokens is not None and f.context is not None \
            and lim.max_input_tokens >= f.context:
        out.append(error("limits-input", f"max_input_tokens ({lim.max_input_tokens}) must be less than the "
                         f"model's context ({f.context})",
                         hint="lower max_input_tokens or set max_model_len", path=("limits", "max_input_tokens")))
    return out
