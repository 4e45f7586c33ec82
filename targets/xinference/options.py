"""Spec -> `xinference launch`: the options model and one table, in argv order, from which launch.sh's
command, the launch request (launch.py reads it back the way the CLI does) and the check of extra `args`
all derive (deployc.compiler.api.flags).

`xinference launch` (xinference/deploy/cmdline.py model_launch) is a click command: its own options
fill the named fields of the request; every token click does not know is read two at a time as
`--key value`, a model kwarg that XInference's vLLM engine passes to vLLM. So an engine kwarg is
spelled `--tensor_parallel_size` (the kwarg verbatim) and a spelling such as `--model_path` names
the same request key as the click option `--model-path`.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
from collections.abc import Callable
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, field_validator

from deployc.compiler.api import CLICK, Opt, OptionTable, Owned, Plan, SpecPath, TargetOptions, fixed, opt, owned
from deployc.targets.xinference.choice import Choice, choose, gguf_path
from deployc.targets.xinference.versions import XinferenceVersion

NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

# targets.xinference.engine -> XInference's engine name (model/llm/__init__.py SUPPORTED_ENGINES, 4.1.0
# :288-291; matched case-insensitively, llm_family.py check_engine_by_spec_parameters). Each takes its
# own model kwargs: vllm/core.py VLLMModelConfig (vLLM's AsyncEngineArgs names), sglang/core.py
# SGLANGModelConfig (passed to sgl.Runtime, i.e. SGLang's ServerArgs names), llama_cpp/core.py
# (xllamacpp CommonParams attributes, set one by one), transformers/core.py PytorchModelConfig.
ENGINES = {"vllm": "vLLM", "sglang": "SGLang", "llama.cpp": "llama.cpp", "transformers": "Transformers"}
# the pip extra of xinference that installs each engine (the wheel's METADATA Provides-Extra)
EXTRAS = {"vllm": "vllm", "sglang": "sglang", "llama.cpp": "llama-cpp", "transformers": "transformers"}
Engine = Literal["vllm", "sglang", "llama.cpp", "transformers"]

# spec quantization -> the engine's own quantization kwarg (vLLM's and SGLang's `quantization`; the
# request's `quantization` is the registry's name): fp8 of an unquantized checkpoint at load.
ONLINE_QUANT = {"fp8": "fp8"}

# vLLM's --max-lora-rank choices (vllm/config/lora.py MaxLoRARanks, the same in vLLM 0.11 to 0.33)
# and its default; XInference leaves the rank to vLLM.
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
DEFAULT_LORA_RANK = 16
# SGLang's static fraction covers weights and KV cache only: the sglang target's rule (targets/sglang
# options.py mem_fraction) keeps a tenth of the GPU for activations inside the spec's utilization.
SGLANG_ACTIVATION_SHARE = 0.10


class XinferenceOptions(TargetOptions):
    """targets.xinference: which model XInference launches, and with which engine."""

    engine: Engine | None = Field(
        default=None, description="XInference's model_engine: vllm, sglang, llama.cpp (GGUF) or transformers; "
                                  "each gets its own kwargs. Default: llama.cpp for a GGUF model, else vllm.")
    model_name: str | None = Field(
        default=None, pattern=NAME, max_length=200,
        description="A built-in XInference model name (e.g. qwen2.5-instruct), e.g. for a local copy of it. "
                    "Default: the built-in model whose checkpoint model.source is in XInference's registry, "
                    "else register model.source as a custom model (register.json) named after the spec.")
    model_family: str | None = Field(
        default=None, pattern=NAME, max_length=200,
        description="For a custom model: the built-in family whose chat template and architecture it shares "
                    "(e.g. qwen2.5-instruct). XInference requires one to register an LLM.")
    size_in_billions: float | None = Field(
        default=None, gt=0, le=100000,
        json_schema_extra={"anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": 100000},
                                     {"type": "string", "pattern": r"^\d+_\d+$"}, {"type": "null"}]},
        description="Model size in billions as XInference's registry lists it (0.5, or XInference's own "
                    "spelling 0_5). Default: from the registry, or for a custom model the model's parameter "
                    "count, to one decimal.")
    quantization: str | None = Field(
        default=None, pattern=NAME, max_length=40,
        description="XInference's own quantization name for the checkpoint (e.g. Int4, Int8, q4_k_m, none), "
                    "not the engine's. Default: the registry's only one, else none, or Int4 for awq and gptq.")

    @field_validator("size_in_billions", mode="before")
    @classmethod
    def _underscore_size(cls, v: Any) -> Any:
        """XInference writes 0.5 as 0_5 (its CLI and registry): accept that spelling too."""
        if isinstance(v, str) and re.fullmatch(r"\d+_\d+", v):
            return float(v.replace("_", "."))
        return v


def engine_of(plan: Plan, o: XinferenceOptions) -> str:
    """targets.xinference.engine, else llama.cpp for GGUF (the engine XInference pairs with ggufv2), else vllm."""
    if o.engine is not None:
        return o.engine
    return "llama.cpp" if plan.precision.quantization == "gguf" else "vllm"


@dataclass(frozen=True)
class Lowering:
    """What one launch is written for. where(ref, container_path) maps a local path of the spec to where
    the server sees it (itself for launch.sh, a bind mount in the server's container); seqs is vLLM's
    max_num_seqs (the spec's max_concurrency; None: XInference's own default)."""

    plan: Plan
    opts: XinferenceOptions
    v: XinferenceVersion
    seqs: int | None
    where: Callable[[str, str], str | None]

    @cached_property
    def choice(self) -> Choice:
        return choose(self.plan, self.opts, self.v.version)

    @property
    def engine(self) -> str:
        return engine_of(self.plan, self.opts)


def model_path(c: Lowering) -> str | None:
    """A local model is the launch's model_path (a registered model_uri would have to be absolute)."""
    if (gguf := gguf_path(c.plan)) is not None:
        return c.where(gguf, "/deployc/model.gguf")   # llama_cpp/core.py load: a file path is the model itself
    return c.where(c.plan.model.source, "/deployc/model") if c.plan.model_is_local else None


def lora_modules(c: Lowering) -> list[tuple[str, str]]:
    return [(a.name, str(c.where(a.source, f"/deployc/adapters/{a.name}"))) for a in c.plan.model.adapters]


def _n_gpu(c: Lowering) -> int:
    """tensor x pipeline; over several nodes, the GPUs of one worker ("if n_worker>1, means number of
    GPUs per worker", cmdline.py model_launch --n-gpu help)."""
    return c.plan.gpus_per_node_used if c.plan.multi_node else c.plan.gpus_per_replica


def _max_lora_rank(c: Lowering) -> int | None:
    """The smallest vLLM choice that holds every known rank, when one exceeds vLLM's default."""
    rank = max([a.rank for a in c.plan.model.adapters if a.rank is not None] or [DEFAULT_LORA_RANK])
    return min(r for r in LORA_RANKS if r >= rank) if rank > DEFAULT_LORA_RANK else None


def _pipeline(c: Lowering) -> int | None:
    """vLLM's pipeline_parallel_size: stated whenever it is not 1, and always over several workers, where
    XInference's vLLM engine would otherwise default it to n_worker (vllm/core.py _sanitize_model_config:
    setdefault("pipeline_parallel_size", self._n_worker), 4.1.0:1687, 1.17.1:789)."""
    pp = c.plan.parallelism.pipeline
    return pp if pp > 1 or c.plan.multi_node else None


def _slots(c: Lowering) -> tuple[int | None, int | None]:
    """llama.cpp's (n_ctx, n_parallel): n_ctx is the whole KV cache that n_parallel slots split, as the
    llama-cpp target writes -c and -np (targets/llama_cpp/options.py slots); XInference sets n_ctx to the
    family's context_length and n_parallel to min(8, CPUs) otherwise (llama_cpp/core.py)."""
    L, N = c.plan.limits.max_model_len, c.plan.limits.max_concurrency
    return (N * L if (N and L) else L), N


HEAD: list[Opt[Lowering] | Owned] = [
    # click options: the named fields of the request
    opt("--model-name", "targets.xinference.model_name", lambda c: c.choice.builtin or c.plan.name,
        aliases=("-n",), why="XInference launches a model by its registry name: the built-in model the checkpoint "
                             "is, or the custom model deployc registers (register.json), named after the spec"),
    fixed("--model-type", "LLM", why="XInference needs the model type of a launch; this target serves LLMs"),
    opt("--model-engine", "targets.xinference.engine", lambda c: ENGINES[c.engine], aliases=("-en",),
        why="XInference refuses a launch without an engine: the one targets.xinference.engine names, or the one "
            "the checkpoint's format needs (vLLM; llama.cpp for GGUF)"),
    opt("--model-uid", "model.served_name", lambda c: c.plan.model.served_name, aliases=("-u",)),
    opt("--model-format", "precision.quantization", lambda c: c.choice.format, aliases=("-f",),
        why="XInference picks the model spec by format, size and quantization: the checkpoint's, named as its "
            "registry names them"),
    opt("--size-in-billions", "targets.xinference.size_in_billions", lambda c: c.choice.size, aliases=("-s",),
        why="XInference picks the model spec by format, size and quantization: the registry's size of this model"),
    opt("--quantization", "precision.quantization", lambda c: c.choice.quantization, aliases=("-q",),
        why="XInference picks the model spec by format, size and quantization: the registry's name for the "
            "checkpoint's quantization (none for 16-bit)"),
    opt("--replica", "parallelism.data", lambda c: c.plan.parallelism.data if c.plan.parallelism.data > 1 else None,
        aliases=("-r",)),
    opt("--n-gpu", "parallelism", _n_gpu,
        why="XInference gives a model every GPU of the worker unless told; its engines need n_gpu = tensor x pipeline"),
    opt("--n-worker", "parallelism.nodes", lambda c: c.plan.nodes if c.plan.multi_node else None),
    opt("--lora-modules", "model.adapters", lora_modules, aliases=("-lm",)),
    opt("--model-path", "model.source", model_path, aliases=("-mp", "--model_path")),
    # a click bool whose DEFAULT IS TRUE, so always spelled; the CLI passes it on as a model kwarg
    opt("--trust-remote-code", "model.trust_remote_code",
        lambda c: "true" if c.plan.model.trust_remote_code else "false", aliases=("--trust_remote_code",),
        why="XInference's default is true: written so the model's own code runs only when the spec allows it"),
]

# model kwargs, `--key value`, per engine
KWARGS: dict[str, list[Opt[Lowering] | Owned]] = {
    # vLLM's AsyncEngineArgs names (vllm/core.py VLLMModelConfig)
    "vllm": [
        opt("--dtype", "precision.dtype", lambda c: c.plan.precision.dtype if c.plan.precision.dtype != "auto" else None),
        # the engine's quantization (vLLM's `quantization`, vllm/core.py: model_quantization -> quantization),
        # apart from the registry's name
        opt("--model_quantization", "precision.quantization",
            lambda c: ONLINE_QUANT.get(c.plan.precision.quantization) if c.choice.format == "pytorch" else None),
        opt("--kv_cache_dtype", "precision.kv_cache_dtype",
            lambda c: "fp8" if c.plan.precision.kv_cache_dtype == "fp8" else None),
        opt("--tensor_parallel_size", "parallelism.tensor", lambda c: c.plan.parallelism.tensor,
            why="XInference sets vLLM's tensor_parallel_size from the worker's GPUs when unset (_sanitize_model_config)"),
        opt("--pipeline_parallel_size", "parallelism.pipeline", _pipeline,
            why="XInference defaults vLLM's pipeline_parallel_size to n_worker (vllm/core.py)"),
        # vLLM's enable_expert_parallel as an engine kwarg: the expert-parallel size is the engine's tensor size
        opt("--enable_expert_parallel", "parallelism.expert",
            lambda c: "true" if c.plan.parallelism.expert > 1 else None),
        opt("--max_lora_rank", "model.adapters", _max_lora_rank),
        opt("--max_model_len", "limits.max_model_len", lambda c: c.plan.limits.max_model_len),
        opt("--max_num_seqs", "limits.max_concurrency", lambda c: c.seqs),
        opt("--max_num_batched_tokens", "limits.max_batch_tokens", lambda c: c.plan.limits.max_batch_tokens),
        # XInference's own defaults differ from vLLM's (_sanitize_model_config): always passed
        opt("--gpu_memory_utilization", "hardware.memory_utilization",
            lambda c: c.plan.hardware.memory_utilization),
        # XInference's vLLM engine passes enable_lora and max_loras to AsyncEngineArgs itself
        # (vllm/core.py:1076-1111): an extra kwarg of either name would be passed twice.
        owned("--enable_lora", "model.adapters"),
        owned("--max_loras", "model.adapters"),
    ],
    # SGLang's ServerArgs names, passed to sgl.Runtime (sglang/core.py SGLANGModelConfig and load)
    "sglang": [
        opt("--dtype", "precision.dtype", lambda c: c.plan.precision.dtype),
        opt("--kv_cache_dtype", "precision.kv_cache_dtype",
            lambda c: "fp8_e4m3" if c.plan.precision.kv_cache_dtype == "fp8" else None),
        # tp_size defaults to the worker's GPUs x n_worker (_sanitize_model_config): always stated
        opt("--tp_size", "parallelism.tensor", lambda c: c.plan.parallelism.tensor),
        opt("--pp_size", "parallelism.pipeline",
            lambda c: c.plan.parallelism.pipeline if c.plan.parallelism.pipeline > 1 else None),
        opt("--context_length", "limits.max_model_len", lambda c: c.plan.limits.max_model_len),
        opt("--max_running_requests", "limits.max_concurrency", lambda c: c.seqs),
        opt("--chunked_prefill_size", "limits.max_batch_tokens", lambda c: c.plan.limits.max_batch_tokens),
        # XInference picks 0.79-0.88 by tp_size when unset (_sanitize_model_config)
        opt("--mem_fraction_static", "hardware.memory_utilization",
            lambda c: None if c.plan.hardware.memory_utilization is None
            else round(c.plan.hardware.memory_utilization - SGLANG_ACTIVATION_SHARE, 4)),
        owned("--nnodes", "parallelism.nodes"),
        owned("--node_rank", "parallelism.nodes"),
    ],
    # xllamacpp CommonParams attributes (llama_cpp/core.py load sets each kwarg on the params)
    "llama.cpp": [
        opt("--n_ctx", "limits.max_model_len", lambda c: _slots(c)[0]),
        opt("--n_parallel", "limits.max_concurrency", lambda c: _slots(c)[1]),
        opt("--n_batch", "limits.max_batch_tokens", lambda c: c.plan.limits.max_batch_tokens),
    ],
    # transformers/core.py PytorchModelConfig: torch_dtype ("auto": the checkpoint's; unset, XInference
    # picks the device's preferred dtype), max_num_seqs (XInference's batching; default 16)
    "transformers": [
        opt("--torch_dtype", "precision.dtype", lambda c: c.plan.precision.dtype),
        opt("--max_num_seqs", "limits.max_concurrency", lambda c: c.plan.limits.max_concurrency),
    ],
}

TAIL: list[Opt[Lowering] | Owned] = [
    owned("--revision", "model.revision"),  # a registered model's revision lives in register.json
    owned("--context_length", "limits.max_model_len"),
    owned("--context-length", "limits.max_model_len", when=lambda v: "--context-length" in v.launch_options),
]

LAUNCH: dict[str, OptionTable[Lowering]] = {
    engine: OptionTable(CLICK, [*HEAD, *rows, *TAIL]) for engine, rows in KWARGS.items()}


# Named fields of the launch request (restful_api.py launch_model; client launch_model params): as an
# extra `--key` they would be passed twice.
REQUEST_FIELDS = frozenset({
    "model_uid", "model_name", "model_engine", "model_size_in_billions", "model_format", "model_type",
    "replica", "n_worker", "n_gpu", "peft_model_config", "request_limits", "worker_ip", "gpu_idx",
    "download_hub", "enable_thinking", "enable_virtual_env", "virtual_env_packages", "virtual_env_find_links",
    "envs", "replica_config", "wait_ready", "endpoint", "api_key",
})


@dataclass(frozen=True)
class Switch:
    """A server environment variable that a spec setting decides: start.sh exports it ("1" or "0"), and
    targets.xinference.env may not set it."""

    name: Callable[[XinferenceVersion], str | None]  # None: the version has no such switch
    owner: SpecPath
    on: Callable[[Plan], bool]

    def env(self, plan: Plan, v: XinferenceVersion) -> list[tuple[str, str]]:
        name = self.name(v)
        return [(name, "1" if self.on(plan) else "0")] if name else []


AUTH = Switch(lambda v: v.auth_env, ("server", "api_key_env"), lambda p: bool(p.server.api_key_env))
REMOTE_CODE = Switch(lambda v: v.remote_code_env, ("model", "trust_remote_code"), lambda p: p.model.trust_remote_code)


def owned_env(v: XinferenceVersion) -> dict[str, SpecPath]:
    return {name: s.owner for s in (AUTH, REMOTE_CODE) if (name := s.name(v))}
