"""Spec -> Ollama, stated once each: the `ollama create` options (an option table, from which create.sh's
command and the check of extra `args` derive), the Modelfile PARAMETERs and the environment of
`ollama serve` (rows from which both what deployc writes and what the spec owns derive)."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

from pydantic import Field

from deployc.compiler.api import PFLAG, SAME_DEPLOYMENT, Derived, OptionTable, Plain, Plan, SpecPath, TargetOptions, opt
from deployc.targets.ollama.model import quantize_level
from deployc.targets.ollama.versions import OllamaVersion


class OllamaOptions(TargetOptions):
    """targets.ollama: the common options plus the Modelfile settings deploy.yaml v1 lacks."""

    args: list[Plain] = Field(
        default_factory=list,
        description="Extra `ollama create` arguments appended after deployc's own (e.g. [\"--experimental\"]); "
                    "-f/--file and -q/--quantize are deployc's.")
    library: str | None = Field(
        default=None, pattern=r"^(?:[A-Za-z0-9_][A-Za-z0-9_-]{0,79}/)?[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"
                              r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,79})?$",
        description="An Ollama library model to build FROM (e.g. llama3.2:3b, qwen2.5:7b-instruct-q8_0); "
                    "model.source stays the hub id its facts come from. Default: the library or GGUF "
                    "counterpart of model.source that targets/ollama/counterparts.json lists.",
        examples=["llama3.2:3b"])
    quantize: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_]{1,16}$",
        description="Quantize level for `ollama create --quantize` (any case): q4_K_M, q4_K_S, q8_0, f16, bf16, "
                    "f32. Ollama quantizes only F16/BF16/F32 sources. For a hub id whose GGUF repo "
                    "counterparts.json lists, the file to pull (hf.co/<repo>:<QUANT>).", examples=["q4_K_M"])
    system: str | None = Field(default=None, min_length=1, description="SYSTEM message of the model (Modelfile SYSTEM).")
    template: str | None = Field(
        default=None, min_length=1,
        description="Prompt template in Ollama's Go template syntax (Modelfile TEMPLATE); Jinja chat "
                    "templates do not work here. Default: the template inside the GGUF / model folder.")
    stop: list[str] = Field(default_factory=list, description="Stop sequences (one PARAMETER stop each).")
    keep_alive: str | None = Field(
        default=None, pattern=r"^-?([0-9]+|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$",
        description="How long a model stays loaded after a request (OLLAMA_KEEP_ALIVE): a Go duration such as "
                    "5m or 24h, seconds, or -1 for ever. Default: Ollama's own (5m), not written.")
    parameters: dict[str, int | float | bool | str] = Field(
        default_factory=dict,
        description="Other Modelfile PARAMETERs by Ollama name (temperature, top_p, seed, ...); num_ctx, "
                    "num_predict, num_batch and stop come from the spec.", examples=[{"temperature": 0.7}])


@dataclass(frozen=True)
class Lowering:
    """What the commands, the Modelfile and the environment are written for: the context (num_ctx) and the
    address `ollama serve` listens on (server.host; 0.0.0.0 in the container)."""

    plan: Plan
    opts: OllamaOptions
    v: OllamaVersion
    context: int
    host: str


# `ollama create MODEL -f FILE -q LEVEL` (cmd/cmd.go createCmd, cobra/pflag: exact long names, `-qLEVEL`).
CREATE: OptionTable[Lowering] = OptionTable(PFLAG, [
    opt(None, "model.served_name", lambda c: c.plan.model.served_name),
    opt("-f", "targets.ollama", lambda c: "Modelfile", aliases=("--file",),
        why="the Modelfile deployc writes beside create.sh"),
    opt("--quantize", "targets.ollama.quantize", lambda c: quantize_level(c.plan, c.opts, c.v), aliases=("-q",)),
])


def create_argv(c: Lowering) -> list[str]:
    """`ollama create` of the model, then the user's extra args."""
    return ["ollama", "create", *CREATE.argv(c, c.v), *c.opts.args]


@dataclass(frozen=True)
class Parameter:
    """A Modelfile PARAMETER that a spec setting decides. value: one PARAMETER line per item (none: the
    line is not written, and Ollama's default holds)."""

    name: str
    owner: SpecPath
    value: Callable[[Lowering], list[int | str]]
    why: str | None = None   # why it is written when the spec does not state the owner


def _given(value: int | None) -> list[int | str]:
    return [] if value is None else [value]


# In this order after FROM; the user's own targets.ollama.parameters follow (api/types.go json tags).
PARAMETERS = (
    # always: Ollama's default context is small and it truncates longer prompts silently
    Parameter("num_ctx", ("limits", "max_model_len"), lambda c: [c.context],
              why="the model's own context window: Ollama's default context is far smaller and it truncates "
                  "longer prompts silently, so every target serves the same context only when it is written"),
    # a per-model default that a request's own num_predict / max_tokens replaces
    Parameter("num_predict", ("limits", "max_output_tokens"), lambda c: _given(c.plan.limits.max_output_tokens)),
    Parameter("num_batch", ("limits", "max_batch_tokens"), lambda c: _given(c.plan.limits.max_batch_tokens)),
    Parameter("stop", ("targets", "ollama", "stop"), lambda c: list(c.opts.stop)),
    # issue 20, item 2: tokens the DRAFT model proposes per step (api/types.go:595, 0.32.15; default 4)
    Parameter("draft_num_predict", ("speculative", "num_tokens"),
              lambda c: _given(c.plan.speculative.num_tokens if c.plan.speculative else None)),
)
OWNED_PARAMETERS = {p.name: p.owner for p in PARAMETERS}


@dataclass(frozen=True)
class EnvVar:
    """A variable of `ollama serve`'s environment (envconfig/config.go) that a spec setting decides,
    written when `when(plan)`; targets.ollama.env may not set it, unless free_unless_written and unwritten."""

    name: str
    owner: SpecPath
    value: Callable[[Lowering], str | None]   # None: not written (Ollama's own default holds)
    when: Callable[[Plan], bool] = lambda _plan: True
    free_unless_written: bool = False
    why: str | None = None   # why it is written when the spec does not state the owner


def _fp8_cache(plan: Plan) -> bool:
    return plan.precision.kv_cache_dtype == "fp8"


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _gpu_overhead(c: Lowering) -> str | None:
    """The bytes Ollama leaves free on each GPU: what memory_utilization does not grant (unset: Ollama's 0)."""
    gpu, share = c.plan.hardware.gpu, c.plan.hardware.memory_utilization
    return None if share is None else str(round((1 - share) * gpu.memory_gib * 2**30))


FLASH_ATTENTION = "OLLAMA_FLASH_ATTENTION"
ENV = (
    EnvVar("OLLAMA_HOST", ("server", "host"), lambda c: _host_port(c.host, c.plan.server.port),
           why="Ollama's own default is 127.0.0.1:11434: written so it serves on server.host:server.port (default "
               "0.0.0.0:8000), like every target"),
    # equal to num_ctx: the context of a model loaded without a Modelfile of deployc's
    EnvVar("OLLAMA_CONTEXT_LENGTH", ("limits", "max_model_len"), lambda c: str(c.context),
           why="equal to the Modelfile's num_ctx (the model's own context window), for a model loaded without "
               "that Modelfile: Ollama's default context is far smaller and truncates silently"),
    # unset: Ollama's own default, 1 (versions.py); the KV cache holds num_ctx x OLLAMA_NUM_PARALLEL tokens
    EnvVar("OLLAMA_NUM_PARALLEL", ("limits", "max_concurrency"),
           lambda c: str(c.plan.limits.max_concurrency) if c.plan.limits.max_concurrency is not None else None),
    EnvVar("OLLAMA_KEEP_ALIVE", ("targets", "ollama", "keep_alive"), lambda c: c.opts.keep_alive),
    EnvVar("OLLAMA_GPU_OVERHEAD", ("hardware", "memory_utilization"), _gpu_overhead),
    # Ollama has no fp8 cache: q8_0 is the nearest
    EnvVar("OLLAMA_KV_CACHE_TYPE", ("precision", "kv_cache_dtype"), lambda c: "q8_0", when=_fp8_cache),
    # without flash attention Ollama ignores the cache type; otherwise flash attention is the user's to set
    EnvVar(FLASH_ATTENTION, ("precision", "kv_cache_dtype"), lambda c: "1", when=_fp8_cache,
           free_unless_written=True),
)


def serve_env(c: Lowering) -> list[tuple[str, str]]:
    """deployc's variables of `ollama serve`, in ENV order."""
    return [(var.name, value) for var in ENV if var.when(c.plan) and (value := var.value(c)) is not None]


def derived(c: Lowering) -> tuple[Derived, ...]:
    """What create.sh, the Modelfile and serve.env write that the spec does not state, with why."""
    out = list(CREATE.derived(c, c.v, c.plan.states))
    for p in PARAMETERS:
        if not c.plan.states(p.owner):
            out += [Derived(f"PARAMETER {p.name}", ".".join(map(str, p.owner)), str(x), p.why) for x in p.value(c)]
    for var in ENV:
        value = var.value(c) if var.when(c.plan) else None
        if value is not None and not c.plan.states(var.owner):
            out.append(Derived(var.name, ".".join(map(str, var.owner)), value,
                               var.why or SAME_DEPLOYMENT.get(var.owner)))
    return tuple(out)


def owned_env(plan: Plan) -> dict[str, SpecPath]:
    return {var.name: var.owner for var in ENV if not var.free_unless_written or var.when(plan)}
