"""Spec -> llama-server options: one row per setting, in argv order. The argv, the check of extra `args`
and the owned-option list come from this table; llama.cpp's own option table per build
(engine_options/b<N>.json, extracted from common/arg.cpp) judges the extra args with a parser that reads
them as llama.cpp does: exact spellings only (no abbreviations, no `--opt=value`, no glued short
options), '_' read as '-' after `--`, negative spellings (--no-jinja) naming the same option.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, TypedDict
from collections.abc import Callable

from pydantic import Field

from deployc.compiler import api
from deployc.compiler.api import Plan, SpecPath, is_local, opt, owned
from deployc.targets.llama_cpp.versions import QUANT_BITS, LlamaCppVersion


class LlamaCppOptions(api.TargetOptions):
    """targets.llama-cpp: the common options (version, image, args, env) and llama-server's own knobs."""

    quant: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_]{1,32}$",
        description="Quant tag of a hub GGUF repository (`-hf org/repo:QUANT`), e.g. Q4_K_M or Q8_0. Default: "
                    "none written, and llama.cpp takes Q4_K_M or else the repository's first file.")
    gpu_layers: int | Literal["auto", "all"] = Field(
        default="all", description="Layers offloaded to the GPUs (-ngl): all (the default here: a GPU "
                                   "deployment that fails loudly when it does not fit), auto (llama.cpp's "
                                   "--fit decides, spilling to the CPU), or a number.")
    kv_cache_type: str | None = Field(
        default=None, pattern=r"^[a-z0-9_]{2,8}$",
        description="KV cache type for keys and values (-ctk/-ctv): f16, q8_0, q4_0, ... Default: from "
                    "precision.kv_cache_dtype (fp8 -> q8_0, the 8-bit type llama.cpp has), else llama.cpp's f16.")


ENGINE_OPTIONS = Path(__file__).parent / "engine_options"


def engine_table(version: str) -> api.EngineOptions:
    return api.EngineOptions.load(ENGINE_OPTIONS / f"{version}.json")


class _Option(TypedDict):
    """An option of engine_options/b<N>.json: the keys this module reads."""

    aliases: list[str]
    env: str | None   # the LLAMA_* variable that sets it


class _Registry(TypedDict):
    names: list[str]


class _Table(TypedDict):
    options: dict[str, _Option]
    registries: dict[str, _Registry]


@cache
def _data(version: str) -> _Table:
    table: _Table = json.loads((ENGINE_OPTIONS / f"{version}.json").read_text(encoding="utf-8"))
    return table


def kv_types(version: str) -> tuple[str, ...]:
    return tuple(_data(version)["registries"]["kv_cache_types"]["names"])


def env_names(version: str, spellings: set[str]) -> dict[str, str]:
    """LLAMA_* variable -> the option it sets, for the options among `spellings`."""
    return {env: name for name, o in _data(version)["options"].items()
            if (env := o["env"]) and ({name, *o["aliases"]} & spellings)}


def gguf_path(plan: Plan) -> str | None:
    """The local .gguf file the spec names: model.gguf, or a model.source that is one."""
    m = plan.model
    if m.gguf:
        return m.gguf
    return m.source if is_local(m.source) and m.source.endswith(".gguf") else None


def cache_type(plan: Plan, opts: LlamaCppOptions) -> str | None:
    return opts.kv_cache_type or ("q8_0" if plan.precision.kv_cache_dtype == "fp8" else None)


def weight_bits(plan: Plan, opts: LlamaCppOptions) -> float | None:
    return QUANT_BITS.get(opts.quant.upper()) if opts.quant and gguf_path(plan) is None else None


@dataclass(frozen=True)
class Slots:
    """-c and -np, and why (said in serve.sh): context is -c, parallel -np (None: not written)."""

    context: int
    parallel: int | None
    unified: bool
    why: str


def slots(plan: Plan) -> Slots:
    L, N = plan.context, plan.limits.max_concurrency
    if N is None:
        return Slots(L or 0, None, False, f"-c {L or 0}: the context window" + (" (0: the model's own)" if not L else "")
                     + "; llama.cpp's automatic 4 slots share it as one unified KV cache")
    if L:
        return Slots(N * L, N, False, f"-c {N * L} = {N} slots x {L} tokens: -np {N} splits the KV cache into "
                     f"{N} slots of max_model_len {L} each")
    return Slots(0, N, True, f"-c 0 (the model's own context) --kv-unified: the context is unknown here, so the "
                 f"{N} slots share one cache rather than split it")


@dataclass(frozen=True)
class Lowering:
    plan: Plan
    opts: LlamaCppOptions
    v: LlamaCppVersion
    host: str
    where: Callable[[str, str], str]

    @property
    def slots(self) -> Slots:
        return slots(self.plan)


def _hf(c: Lowering) -> str | None:
    if gguf_path(c.plan) is not None:
        return None
    return c.plan.model.source + (f":{c.opts.quant}" if c.opts.quant else "")


def _split(c: Lowering) -> str | None:
    par = c.plan.parallelism
    return "row" if par.tensor > 1 else "layer" if par.pipeline > 1 else None


# No abbreviations, no --x=v, no glued short options; '_' is '-' after `--` (common_params_parse_ex).
PARSER = api.Parser(abbreviations=False, glued_short=False, underscores=True, inline_values=False)

TABLE: api.OptionTable[Lowering] = api.OptionTable(PARSER, [
    opt("--model", "model.gguf", lambda c: c.where(p, "/deployc/model.gguf") if (p := gguf_path(c.plan)) else None,
        aliases=("-m",)),
    opt("--hf-repo", "model.source", _hf, aliases=("-hf", "-hfr")),
    owned("--hf-file", "model.source", aliases=("-hff",)),
    owned("--model-url", "model.source", aliases=("-mu",)),
    opt("--alias", "model.served_name", lambda c: c.plan.model.served_name, aliases=("-a",)),
    opt("--chat-template-file", "model.chat_template",
        lambda c: c.where(t, "/deployc/chat_template.jinja") if (t := c.plan.model.chat_template) else None),
    owned("--chat-template", "model.chat_template"),
    opt("--ctx-size", "limits.max_model_len", lambda c: c.slots.context, aliases=("-c",),
        why=lambda c: f"llama.cpp allocates its whole context up front and splits it between slots: {c.slots.why}"),
    opt("--parallel", "limits.max_concurrency", lambda c: c.slots.parallel, aliases=("-np",)),
    opt("--kv-unified", "limits.max_concurrency", lambda c: c.slots.unified,
        aliases=("-kvu", "-no-kvu", "--no-kv-unified"), why=lambda c: c.slots.why),
    opt("--batch-size", "limits.max_batch_tokens", lambda c: c.plan.limits.max_batch_tokens, aliases=("-b",)),
    opt("--gpu-layers", ("targets", "llama-cpp", "gpu_layers"), lambda c: c.opts.gpu_layers,
        aliases=("-ngl", "--n-gpu-layers"),
        why="every layer on the GPUs: a GPU deployment that fails loudly when it does not fit, where llama.cpp's "
            "own --fit would spill layers to the CPU and serve far slower"),
    opt("--split-mode", "parallelism.tensor", _split, aliases=("-sm",),
        why="how the layers spread over the spec's GPUs: row for tensor, layer for pipeline"),
    owned("--tensor-split", "parallelism.tensor", aliases=("-ts",)),
    opt("--cache-type-k", "precision.kv_cache_dtype", lambda c: cache_type(c.plan, c.opts), aliases=("-ctk",)),
    opt("--cache-type-v", "precision.kv_cache_dtype", lambda c: cache_type(c.plan, c.opts), aliases=("-ctv",)),
    opt("--rope-scaling", "model.rope_scaling",
        lambda c: r.rope_type if (r := c.plan.model.rope_scaling) and r.rope_type in ("linear", "yarn") else None),
    opt("--rope-scale", "model.rope_scaling",
        lambda c: r.factor if (r := c.plan.model.rope_scaling) and r.rope_type in ("linear", "yarn") else None),
    opt("--yarn-orig-ctx", "model.rope_scaling",
        lambda c: (api.rope_parameters(c.plan) or {}).get("original_max_position_embeddings")
        if (r := c.plan.model.rope_scaling) and r.rope_type == "yarn" else None),
    opt("--host", "server.host", lambda c: c.host),
    opt("--port", "server.port", lambda c: c.plan.server.port),
    # The key travels by name: serve.sh exports LLAMA_API_KEY, which --api-key reads (.set_env).
    owned("--api-key", "server.api_key_env"),
    owned("--api-key-file", "server.api_key_env"),
])


def engine_args(c: Lowering) -> list[str]:
    """Everything after `llama-server`: the table's options, then the user's extra args."""
    return TABLE.argv(c, c.v) + list(c.opts.args)


def owned_env(v: LlamaCppVersion) -> dict[str, SpecPath]:
    """LLAMA_* variables that set an option the spec owns -> the owning spec path (llama.cpp reads every
    option's variable; an extra env entry would restate the setting)."""
    owners = TABLE.owners(v)
    return {env: owners[next(s for s in owners if s in {name, *_data(v.version)["options"][name]["aliases"]})]
            for env, name in env_names(v.version, set(owners)).items()}
