"""`vllm serve ...` (and `python -m vllm.entrypoints.openai.api_server ...`) read back into a spec: the
reverse of options.py's TABLE, one row per parsed setting (the dest in engine_options/<version>.json).

vLLM's parser (vllm/utils/argparse_utils.py FlexibleArgumentParser, 0.34.0 @ 62d4bc3c7): `_` and `-`
are the same in option names, dotted `--x.y v` options build the JSON of `--x` and are appended after the
rest, human-readable integers (`32k` = 32000, `32K` = 32768); `--model X` is the positional model_tag.
"""

from __future__ import annotations

import json
from typing import Any

from deployc.compiler import api
from deployc.compiler.api.importing import Ctx, Dialect, Fn, Importer, Keep, Result, rev
from deployc.targets.vllm.options import ENGINE_OPTIONS, SPEC_METHODS
from deployc.targets.vllm.versions import VERSIONS

_METHODS = {v: k for k, v in SPEC_METHODS.items()}


def _model(value: Any, ctx: Ctx) -> Result:
    return {"model.source": value}


def _model_option(value: Any, ctx: Ctx) -> Result:
    # `vllm serve --model X` moves X to the positional (argparse_utils.py); the positional wins if both
    return {} if ctx.config.get("model_tag") else {"model.source": value}


def _served(value: Any, ctx: Ctx) -> Result:
    names = list(value or [])
    if len(names) != 1:
        return Keep("deploy.yaml serves one name (model.served_name); vLLM was given several")
    return {"model.served_name": names[0]}


def _expert(value: Any, ctx: Ctx) -> Result:
    """--enable-expert-parallel: the experts span tensor x data GPUs (ParallelConfig), never a bool in an int."""
    if value is not True:
        return {}
    data = int(ctx["data_parallel_size"] or 1)
    size = int(ctx["tensor_parallel_size"] or 1) * data
    if size == 1:
        ctx.notes.append("--enable-expert-parallel over 1 GPU changes nothing: parallelism.expert stays 1")
        return {}
    # one engine whose attention runs data-parallel while the experts span tensor x data GPUs
    return {"parallelism.expert": size, **({"parallelism.data_mode": "attention"} if data > 1 else {})}


def _quantization(value: Any, ctx: Ctx) -> Result:
    if value in ("fp8", "fp8_per_tensor"):
        return {"precision.quantization": "fp8"}
    if value in ("awq", "gptq", "awq_marlin", "gptq_marlin", "bitsandbytes"):
        method = value.removesuffix("_marlin")
        ctx.notes.append(f"--quantization {value}: deploy.yaml says the checkpoint is {method}; deployc lets vLLM "
                         "read the checkpoint's own quant_method and pick its kernel, so the rebuilt command "
                         "does not name it")
        return {"precision.quantization": method}
    return Keep(f"deploy.yaml's precision.quantization has no {value!r}")


def _kv_cache(value: Any, ctx: Ctx) -> Result:
    return {"precision.kv_cache_dtype": "fp8"} if value == "fp8" else Keep(
        f"deploy.yaml's precision.kv_cache_dtype is auto or fp8, not {value!r}")


def _generation(value: Any, ctx: Ctx) -> Result:
    if isinstance(value, dict) and set(value) == {"max_new_tokens"} and isinstance(value["max_new_tokens"], int):
        return {"limits.max_output_tokens": value["max_new_tokens"]}
    return Keep("only {\"max_new_tokens\": N} has a deploy.yaml field (limits.max_output_tokens)")


def _switch(path: str) -> Fn:  # a tri-state cache toggle: true, false (the --no- spelling) or the engine's default
    def fn(value: Any, ctx: Ctx) -> Result:
        return {path: value} if isinstance(value, bool) else Keep(f"{path} takes true or false")
    return fn


def _tool_choice(value: Any, ctx: Ctx) -> Result:
    if value and ctx["tool_call_parser"]:
        return {}   # read with --tool-call-parser: model.tool_parser writes both
    return Keep("--enable-auto-tool-choice without --tool-call-parser has no deploy.yaml field")


def _tool_parser(value: Any, ctx: Ctx) -> Result:
    if not ctx["enable_auto_tool_choice"]:
        return Keep("a tool parser without --enable-auto-tool-choice: deploy.yaml's model.tool_parser turns both on")
    return {"model.tool_parser": value}


_ROPE_KEYS = ("rope_type", "factor", "original_max_position_embeddings", "low_freq_factor", "high_freq_factor")


def _hf_overrides(value: Any, ctx: Ctx) -> Result:
    if isinstance(value, dict) and value and set(value) <= {"rope_scaling", "rope_parameters",
                                                           "max_position_embeddings"}:
        rope = value.get("rope_scaling") or value.get("rope_parameters")
        if isinstance(rope, dict) and set(rope) - {"rope_theta"} <= set(_ROPE_KEYS) and "rope_type" in rope:
            return {"model.rope_scaling": {k: rope[k] for k in _ROPE_KEYS if k in rope}}
    return Keep("only a rope scaling override has a deploy.yaml field (model.rope_scaling)")


def _speculative(value: Any, ctx: Ctx) -> Result:
    if not isinstance(value, dict) or value.get("method") not in _METHODS:
        return Keep("a speculative method deploy.yaml does not name (mtp, eagle, eagle3, ngram, draft_model)")
    keys = {"method", "model", "revision", "num_speculative_tokens", "draft_tensor_parallel_size",
            "prompt_lookup_min", "prompt_lookup_max"}
    if set(value) - keys:
        return Keep("speculative keys deploy.yaml has no field for: " + ", ".join(sorted(set(value) - keys)))
    out: dict[str, Any] = {"speculative.method": _METHODS[value["method"]]}
    for key, path in (("model", "speculative.model"), ("revision", "speculative.revision"),
                      ("num_speculative_tokens", "speculative.num_tokens"),
                      ("draft_tensor_parallel_size", "speculative.tensor"),
                      ("prompt_lookup_min", "speculative.ngram.min"), ("prompt_lookup_max", "speculative.ngram.max")):
        if value.get(key) is not None:
            out[path] = value[key]
    return out


def _mm(value: Any, ctx: Ctx) -> Result:
    if isinstance(value, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
        return {"limits.mm_per_prompt": dict(value)}
    return Keep("limits.mm_per_prompt takes {modality: count}")


def _lora_modules(value: Any, ctx: Ctx) -> Result:
    adapters: list[dict[str, object]] = []
    for item in value or ():
        name: object   # a str, or what a JSON module gives (the spec's own validation judges it)
        path: object
        if isinstance(item, str) and "=" in item and not item.lstrip().startswith("{"):
            name, path = item.split("=", 1)
        else:
            try:
                obj = json.loads(item) if isinstance(item, str) else item
            except json.JSONDecodeError:
                return Keep("a LoRA module that is neither name=path nor JSON")
            if not isinstance(obj, dict) or set(obj) - {"name", "path"}:
                return Keep("a LoRA module with keys deploy.yaml has no field for")
            name, path = obj.get("name"), obj.get("path")
        adapters.append({"name": name, "source": path})
    rank = ctx["max_lora_rank"] if "max_lora_rank" in ctx.given else None
    if rank is not None:
        for a in adapters:
            a["rank"] = rank
    return {"model.adapters": adapters}


def _enable_lora(value: Any, ctx: Ctx) -> Result:
    return {} if value and ctx["lora_modules"] else Keep("--enable-lora without --lora-modules: adapters loaded at "
                                                         "run time have no deploy.yaml field")


def _lora_rank(value: Any, ctx: Ctx) -> Result:
    return {} if ctx["lora_modules"] else Keep("a LoRA rank without --lora-modules")


def _host(value: Any, ctx: Ctx) -> Result:
    return {"server.host": value} if isinstance(value, str) else Keep("server.host takes an address")


ROWS = (
    rev("model_tag", fn=_model),
    rev("model", fn=_model_option),
    rev("tokenizer", "model.tokenizer", str),
    rev("revision", "model.revision", str),
    rev("trust_remote_code", "model.trust_remote_code", bool),
    rev("chat_template", "model.chat_template", str),
    rev("served_model_name", fn=_served),
    rev("dtype", "precision.dtype", str),
    rev("quantization", fn=_quantization),
    rev("kv_cache_dtype", fn=_kv_cache),
    rev("tensor_parallel_size", "parallelism.tensor", int),
    rev("pipeline_parallel_size", "parallelism.pipeline", int),
    rev("data_parallel_size", "parallelism.data", int),
    rev("enable_expert_parallel", fn=_expert),
    rev("max_model_len", "limits.max_model_len", int),
    rev("max_num_seqs", "limits.max_concurrency", int),
    rev("max_num_batched_tokens", "limits.max_batch_tokens", int),
    rev("override_generation_config", fn=_generation),
    rev("gpu_memory_utilization", "hardware.memory_utilization", float),
    rev("enable_lora", fn=_enable_lora),
    rev("lora_modules", fn=_lora_modules),
    rev("max_loras", "limits.max_loras", int),
    rev("max_lora_rank", fn=_lora_rank),
    rev("enable_prefix_caching", fn=_switch("cache.prefix_caching")),
    rev("enable_chunked_prefill", fn=_switch("cache.chunked_prefill")),
    rev("hf_overrides", fn=_hf_overrides),
    rev("speculative_config", fn=_speculative),
    rev("limit_mm_per_prompt", fn=_mm),
    rev("enable_auto_tool_choice", fn=_tool_choice),
    rev("tool_call_parser", fn=_tool_parser),
    rev("reasoning_parser", "model.reasoning_parser", str),
    rev("host", fn=_host),
    rev("port", "server.port", int),
)


def _lora(item: Any) -> Any:
    """A --lora-modules item as LoRAParserAction reads it (vllm/entrypoints/common/cli_args.py, 0.34.0):
    `name=path` (no comma) or JSON, both a LoRAModulePath."""
    if isinstance(item, str) and "=" in item and "," not in item:
        name, path = item.split("=", 1)
        return {"name": name, "path": path}
    try:
        return json.loads(item) if isinstance(item, str) else item
    except json.JSONDecodeError:
        return item


def _effective(config: dict[str, Any]) -> dict[str, Any]:
    """What vLLM acts on: the model is the positional or --model (api_server's), the served name defaults to
    it, no --host listens on every interface (serve_http binds (host or "", port)), LoRA modules as parsed."""
    out = dict(config)
    if out.get("lora_modules"):
        out["lora_modules"] = [_lora(x) for x in out["lora_modules"]]
    model = out.pop("model_tag", None) or out.get("model")
    out["model"] = model
    out["served_model_name"] = out.get("served_model_name") or [model]
    if out.get("host") in (None, ""):
        out["host"] = "0.0.0.0"
    return out


def _config_args(text: str, negatable: set[str]) -> list[str]:
    """A --config YAML as FlexibleArgumentParser.load_config_file flattens it (vllm/utils/argparse_utils.py,
    0.34.0): true -> --key, false -> --no-key where that spelling exists, a list -> --key v1 v2, a mapping ->
    --key JSON, anything else -> --key value."""
    from ruamel.yaml import YAML

    config = YAML(typ="safe").load(text) or {}
    out: list[str] = []
    for key, value in config.items():
        if isinstance(value, bool):
            if value:
                out.append(f"--{key}")
            elif f"--no-{key}" in negatable:
                out.append(f"--no-{key}")
        elif isinstance(value, list):
            if value:
                out += [f"--{key}", *map(str, value)]
        elif isinstance(value, dict):
            out += [f"--{key}", json.dumps(value)]
        else:
            out += [f"--{key}", str(value)]
    return out


def _pull_config(argv: list[str], read: Any) -> list[str]:
    """--config FILE's options inserted after the model (the command line then overrides them), as
    FlexibleArgumentParser._pull_args_from_config does."""
    if "--config" not in argv:
        return argv
    i = argv.index("--config")
    if i + 1 >= len(argv):
        return argv
    data = json.loads((ENGINE_OPTIONS / f"{next(iter(VERSIONS))}.json").read_text(encoding="utf-8"))
    negatable = {a for o in data["options"].values() for a in o.get("aliases", ()) if a.startswith("--no-")}
    extra = _config_args(read(argv[i + 1]), negatable)
    rest = argv[:i] + argv[i + 2:]
    head = 1 if rest and not rest[0].startswith("-") else 0
    return rest[:head] + extra + rest[head:]


IMPORTER = Importer(
    target="vllm", title="vLLM",
    commands=(("vllm", "serve"), ("python", "-m", "vllm.entrypoints.openai.api_server"),
              ("python", "-m", "vllm.entrypoints.cli.main", "serve")),
    table=lambda version: ENGINE_OPTIONS / f"{version}.json",
    versions=tuple(VERSIONS),
    dialect=Dialect(underscores=True, dotted_json=True, positional="model_tag"),
    rows=ROWS,
    rebuilt_prefix=lambda version: ("vllm", "serve"),
    # vllm/envs.py VLLM_API_KEY: what serve.sh exports from server.api_key_env
    secrets={"api_key": "VLLM_API_KEY"},
    effective=_effective,
    preprocess=_pull_config,
)

__all__ = ["IMPORTER", "api"]
