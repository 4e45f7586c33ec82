"""The xinference target's checks: what the launch can name, and the extra `args` as `xinference
launch` reads them (click options first, then `--key value` pairs)."""

from __future__ import annotations

from deployc.compiler import api
from deployc.compiler.api import CLICK, Diagnostic, Plan, SpecPath, error
from deployc.targets.xinference.options import (ENGINES, LAUNCH, LORA_RANKS, ONLINE_QUANT, REQUEST_FIELDS, Lowering,
                                                XinferenceOptions, owned_env)
from deployc.targets.xinference.versions import XinferenceVersion

NAME = "xinference"


def check(plan: Plan, o: XinferenceOptions, v: XinferenceVersion) -> list[Diagnostic]:
    c = Lowering(plan, o, v, None, lambda ref, _where: ref)
    return (check_model(plan, o, c) + check_engine(plan, o, c) + check_limits(plan, c.engine) + check_expert(plan)
            + check_args(o, v, c.engine) + api.env_conflicts(o.env, owned_env(v), NAME))


def check_expert(plan: Plan) -> list[Diagnostic]:
    """vLLM's enable_expert_parallel makes the expert-parallel size the engine's tensor size (each XInference
    replica is its own vLLM engine)."""
    par = plan.parallelism
    if par.expert > 1 and par.expert != par.tensor:
        return [error("xinference-expert-size", f"XInference's vLLM engine runs expert parallelism over its "
                      f"tensor-parallel GPUs ({par.tensor}); expert {par.expert} cannot be expressed",
                      hint=f"use expert: {par.tensor}, or expert: 1", path=("parallelism", "expert"))]
    return []


def check_model(plan: Plan, o: XinferenceOptions, c: Lowering) -> list[Diagnostic]:
    """Which model the launch names: built in or registered (choice.py), its adapters."""
    out: list[Diagnostic] = []
    m = plan.model
    if o.image is not None:
        out.append(error("xinference-image", "the xinference target writes scripts for a local XInference "
                         "install, not a container", hint="remove targets.xinference.image",
                         path=("targets", NAME, "image")))
    if o.model_name is not None and m.revision is not None:
        out.append(error(
            "xinference-revision", f"built-in model {o.model_name!r} downloads the revision XInference's "
            "registry pins; a model revision applies to a registered model",
            hint="remove model.revision, or remove targets.xinference.model_name to register model.source",
            path=("model", "revision")))
    if o.model_name is not None and o.model_family is not None:
        out.append(error(
            "xinference-model-family", f"model_family applies to a registered model; built-in model "
            f"{o.model_name!r} brings its own chat template", hint="remove one of model_name and model_family",
            path=("targets", NAME, "model_family")))
    else:
        out += c.choice.errors
    return out


def check_engine(plan: Plan, o: XinferenceOptions, c: Lowering) -> list[Diagnostic]:
    """What each engine of XInference can take (options.py KWARGS, from each engine's core.py)."""
    out: list[Diagnostic] = []
    engine, title = c.engine, ENGINES[c.engine]
    at_engine = ("targets", NAME, "engine") if o.engine is not None else ("precision", "quantization")
    par, lim, prec = plan.parallelism, plan.limits, plan.precision

    def refuse(code: str, what: str, hint: str, *path: str | int) -> None:
        out.append(error(code, f"XInference's {title} engine {what}", hint=hint, path=path))

    fmt = c.choice.format
    if engine == "llama.cpp" and fmt != "ggufv2":
        refuse("xinference-engine", f"serves only GGUF (ggufv2) checkpoints, and this one is {fmt} "
               "(llama_cpp/core.py match_json)", "set precision.quantization: gguf with a GGUF model, or "
               "targets.xinference.engine: vllm", *at_engine)
    if fmt == "ggufv2" and engine in ("sglang", "transformers"):
        refuse("xinference-engine", "does not load GGUF checkpoints (model/llm/__init__.py: ggufv2 runs on "
               "llama.cpp or vLLM)", "set targets.xinference.engine: llama.cpp", "targets", NAME, "engine")
    if engine in ("sglang", "llama.cpp") and plan.model.adapters:
        refuse("xinference-engine-lora", "takes no LoRA adapters through the launch",
               "serve adapters with targets.xinference.engine: vllm or transformers", "model", "adapters")
    if engine == "vllm":
        for i, adapter in enumerate(plan.model.adapters):
            if adapter.rank is not None and adapter.rank > max(LORA_RANKS):
                out.append(error(
                    "xinference-lora-rank", f"adapter {adapter.name!r} has LoRA rank {adapter.rank}; XInference's "
                    f"vLLM engine serves ranks up to {max(LORA_RANKS)}",
                    hint="retrain or merge the adapter with a lower rank",
                    path=("model", "adapters", i, "rank" if "rank" in adapter.model_fields_set else "source")))
    if engine == "sglang" and prec.quantization in ONLINE_QUANT and fmt == "pytorch":
        refuse("xinference-engine-quantization", "cannot be told to quantize at load: the request's "
               "`quantization` is XInference's registry name, and only the vLLM engine maps model_quantization "
               "to the engine's (vllm/core.py)", "use targets.xinference.engine: vllm, or a pre-quantized "
               "checkpoint", "precision", "quantization")
    if engine in ("llama.cpp", "transformers"):
        if plan.multi_node:
            refuse("xinference-engine-nodes", "runs on one worker (only vLLM and SGLang shard over n_worker)",
                   "use targets.xinference.engine: vllm or sglang over several nodes", "parallelism", "nodes")
        if par.tensor > 1:
            refuse("xinference-engine-tensor", "splits the model over its GPUs by layers, not tensor-parallel",
                   f"write parallelism.pipeline: {par.tensor * par.pipeline} and tensor: 1 (the GPUs it gets)",
                   "parallelism", "tensor")
        if prec.kv_cache_dtype == "fp8":
            refuse("xinference-engine-kv", "has no FP8 KV cache", "remove precision.kv_cache_dtype: fp8",
                   "precision", "kv_cache_dtype")
        if prec.quantization in ONLINE_QUANT and fmt == "pytorch":
            refuse("xinference-engine-quantization", "does not quantize to FP8 at load",
                   "use targets.xinference.engine: vllm", "precision", "quantization")
    if engine == "transformers":
        if lim.max_model_len is not None:
            refuse("xinference-engine-context", "serves the model's own context window (no max_model_len "
                   "kwarg in transformers/core.py)", "remove limits.max_model_len, or use the vllm or sglang engine",
                   "limits", "max_model_len")
        if lim.max_batch_tokens is not None:
            refuse("xinference-engine-batch", "has no token budget per step", "remove limits.max_batch_tokens",
                   "limits", "max_batch_tokens")
    return out


def check_limits(plan: Plan, engine: str) -> list[Diagnostic]:
    lim = plan.limits
    if engine == "vllm" and lim.max_concurrency is not None and lim.max_batch_tokens is not None \
            and lim.max_batch_tokens < lim.max_concurrency:
        return [error(
            "xinference-batch-tokens", f"vLLM refuses to start when max_num_batched_tokens "
            f"({lim.max_batch_tokens}) is below max_num_seqs ({lim.max_concurrency})",
            hint=f"set limits.max_batch_tokens to {lim.max_concurrency} or more, or lower max_concurrency",
            path=("limits", "max_batch_tokens"))]
    return []


def check_args(o: XinferenceOptions, v: XinferenceVersion, engine: str) -> list[Diagnostic]:
    """Extra args as `xinference launch` reads them: click options first, then `--key value` pairs
    (a valueless flag shifts every later pair)."""
    out: list[Diagnostic] = []
    args, i = o.args, 0
    owners = LAUNCH[engine].owners(v)
    while i < len(args):
        token, at = args[i], ("targets", NAME, "args", i)
        key = token.split("=", 1)[0]
        if key in v.launch_options:
            out.append(error(
                "xinference-args-option", f"{key} is an option of `xinference launch` {v.version}, not an "
                "engine kwarg; deployc sets the launch options it needs and passes no others",
                hint="remove it from targets.xinference.args", path=at))
            i += 2
        elif not token.startswith("--") or len(token) == 2:
            out.append(error(
                "xinference-args-pair", f"{token!r} is not a --key: XInference reads extra args two at a time "
                "as --key value", hint="write each engine option as two items: \"--name\", \"value\"", path=at))
            i += 1
            while i < len(args) and not args[i].startswith("-"):  # one report per stray run
                i += 1
        elif "=" in token:
            out.append(error(
                "xinference-args-spelling", f"XInference does not split {token}: it reads extra args two at "
                "a time as --key value", hint=f"write it as two items: \"{key}\", \"{token.split('=', 1)[1]}\"",
                path=at))
            i += 1
        elif i + 1 >= len(args) or args[i + 1].startswith("--"):
            out.append(error(
                "xinference-args-pair", f"{token} has no value: XInference reads extra args two at a time, so "
                "a flag without a value shifts every pair after it", hint=f"give it a value, e.g. {token} true",
                path=at))
            i += 1
        else:
            out += _kwarg(token, i, owners)
            i += 2
    return out


def _kwarg(token: str, i: int, owners: dict[str, SpecPath]) -> list[Diagnostic]:
    """A `--key value` pair's key, which XInference passes to the engine verbatim."""
    name = token[2:]
    if "-" in name:
        return [error(
            "xinference-args-spelling", f"XInference passes {token} to the engine as the keyword {name!r} "
            "verbatim, which no engine takes", hint=f"write it as \"--{name.replace('-', '_')}\" followed by its value",
            path=("targets", NAME, "args", i))]
    owner = CLICK.match(token, owners)
    if owner is not None:
        return [api.args_conflict(token, owner, NAME, i)]
    if name in REQUEST_FIELDS:
        return [error("xinference-args-field", f"{name} is a field of the launch request, not an engine kwarg",
                      hint="remove it from targets.xinference.args", path=("targets", NAME, "args", i))]
    return []
