"""The target contract: what a target is, what it gets and what it returns.

A target is a class registered in the ``deployc.targets`` entry-point group. It
declares what it supports as data (``versions``: one EngineVersion record per
engine version, each with its capabilities), checks a resolved Plan, and lowers
it into Artifacts and, for engines that run in a container, a Service. It never
writes files, reads the environment or prints: the writer and the CLI do that.

``Target`` is generic over its options model and its version record, so check()
and lower() receive the target's own types (``Target[VllmOptions, VllmVersion]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar
from collections.abc import Callable, Mapping

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from deployc.compiler.api.flags import Derived
from deployc.compiler.diagnostics import Diagnostic
from deployc.compiler.spec import ParserName, Plain

if TYPE_CHECKING:
    from deployc.compiler.api.container import NodeGroup, Service
    from deployc.compiler.api.importing import Importer
    from deployc.compiler.api.parsers import ParserSupport
    from deployc.compiler.memory import EngineMemory, MemoryPlan
    from deployc.compiler.plan import Plan


def _scalar_to_str(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


EnvValue = Annotated[Plain, BeforeValidator(_scalar_to_str)]


class TargetOptions(BaseModel):
    """Options every target accepts under ``targets.<name>``. Targets subclass it for their own knobs."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    version: str | None = Field(
        default=None, description="Engine version the artifacts are written for. Default: the newest "
                                  "version the target supports (`deployc targets`).")
    image: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9._/:@-]*[a-z0-9]$",
        description="Container image, pinned by tag or digest. Default: the engine's official image for the version.")
    args: list[Plain] = Field(
        default_factory=list,
        description="Extra engine arguments (argv tokens) appended verbatim after deployc's own; one that "
                    "contradicts a setting deployc derived is an error.",
        examples=[["--enable-prefix-caching"]])
    env: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], EnvValue] = Field(
        default_factory=dict,
        description="Extra environment variables for the engine; values may reference the caller's "
                    "environment as ${NAME}.")
    # Issue 20, item 3: this target's own parser names (model.tool_parser / reasoning_parser turn them on).
    tool_parser: ParserName | None = Field(
        default=None, description="This target's tool-call parser (auto or a name from the engine's registry), "
                                  "where model.tool_parser is meant for several targets.")
    reasoning_parser: ParserName | None = Field(
        default=None, description="This target's reasoning parser (auto or a name from the engine's registry), "
                                  "where model.reasoning_parser is meant for several targets.")


class Capability(str, Enum):
    """Features a spec can ask for. Targets list the ones they support; the core turns a
    used-but-unsupported one into a diagnostic at the YAML key (see ``FEATURES``)."""

    TENSOR_PARALLEL = "tensor-parallel"
    PIPELINE_PARALLEL = "pipeline-parallel"
    DATA_PARALLEL = "data-parallel"
    REVISION = "revision"
    CUSTOM_TOKENIZER = "custom-tokenizer"
    REMOTE_CODE = "trust-remote-code"
    CHAT_TEMPLATE = "chat-template"
    LORA = "lora"
    API_KEY = "api-key"
    KV_CACHE_FP8 = "kv-cache-fp8"
    MAX_CONCURRENCY = "max-concurrency"
    MAX_BATCH_TOKENS = "max-batch-tokens"
    MAX_OUTPUT_TOKENS = "max-output-tokens"
    QUANT_FP8 = "quantization-fp8"
    QUANT_AWQ = "quantization-awq"
    QUANT_GPTQ = "quantization-gptq"
    QUANT_INT8 = "quantization-int8"
    QUANT_INT4 = "quantization-int4"
    QUANT_BITSANDBYTES = "quantization-bitsandbytes"
    QUANT_GGUF = "quantization-gguf"
    QUANT_MXFP4 = "quantization-mxfp4"   # issue 20: FP4 checkpoint families
    QUANT_NVFP4 = "quantization-nvfp4"
    # issue 20, item 1: every target states these one by one (targets built from frozenset(Capability)
    # subtract PARALLEL_MODES first)
    ATTENTION_DATA_PARALLEL = "attention-data-parallel"
    EXPERT_PARALLEL = "expert-parallel"
    MULTI_NODE = "multi-node"
    MAX_INPUT_TOKENS = "max-input-tokens"
    AMD_GPU = "amd-gpu"
    # Issue 20, item 3 (each target states these explicitly in its versions).
    TOOL_PARSER = "tool-parser"
    REASONING_PARSER = "reasoning-parser"
    # Issue 20, item 4.
    PREFIX_CACHING = "prefix-caching"
    CHUNKED_PREFILL = "chunked-prefill"
    ROPE_SCALING = "rope-scaling"
    MAX_LORAS = "max-loras"
    MM_PER_PROMPT = "mm-per-prompt"
    # Issue 20, item 2.
    SPECULATIVE = "speculative"


# Issue 20 (items 2-4): capabilities every target states one by one in its versions, never by taking
# frozenset(Capability) whole (targets that do subtract these first).
RECIPE_CAPABILITIES = frozenset({
    Capability.TOOL_PARSER, Capability.REASONING_PARSER,
    Capability.PREFIX_CACHING, Capability.CHUNKED_PREFILL, Capability.ROPE_SCALING, Capability.MAX_LORAS,
    Capability.MM_PER_PROMPT, Capability.SPECULATIVE,
})


PARALLEL_MODES = frozenset({Capability.ATTENTION_DATA_PARALLEL, Capability.EXPERT_PARALLEL})


@dataclass(frozen=True)
class Feature:
    """How the core sees that a Plan uses a capability, and where that lives in the YAML. hint(plan,
    target name): the nearest thing any target lacking it can do, when the target names none."""

    path: tuple[str, ...]
    used: Callable[[Plan], bool]
    what: str
    hint: Callable[[Plan, str], str] | None = None
    # Where the diagnostic points when the spec does not state `path` (the feature comes from elsewhere,
    # e.g. the checkpoint's own quantization): model.source.
    unstated: tuple[str, ...] | None = None


def _prompt_limit(p: Plan) -> bool:
    """A prompt limit other than what the context implies (context - 1): engines without a limit of
    their own admit any prompt that fits the context together with the request's max_tokens."""
    n = p.limits.max_input_tokens
    return n is not None and (p.context is None or n != p.context - 1)


def _prompt_limit_hint(p: Plan, name: str) -> str:
    return f"remove limits.max_input_tokens for {name}" + (f", or set it to {p.context - 1} (the context - 1)"
                                                           if p.context else "")


FEATURES: dict[Capability, Feature] = {
    Capability.TENSOR_PARALLEL: Feature(("parallelism", "tensor"), lambda p: p.parallelism.tensor > 1,
                                        "tensor parallelism"),
    Capability.PIPELINE_PARALLEL: Feature(("parallelism", "pipeline"), lambda p: p.parallelism.pipeline > 1,
                                          "pipeline parallelism"),
    # whole copies; data ranks of one engine with data-parallel attention are ATTENTION_DATA_PARALLEL
    Capability.DATA_PARALLEL: Feature(("parallelism", "data"), lambda p: p.parallelism.data > 1 and not p.attention_dp,
                                      "data parallelism"),
    Capability.REVISION: Feature(("model", "revision"), lambda p: p.model.revision is not None, "a model revision"),
    Capability.CUSTOM_TOKENIZER: Feature(("model", "tokenizer"), lambda p: p.model.tokenizer is not None,
                                         "a separate tokenizer"),
    Capability.REMOTE_CODE: Feature(("model", "trust_remote_code"), lambda p: p.model.trust_remote_code,
                                    "trust_remote_code"),
    Capability.CHAT_TEMPLATE: Feature(("model", "chat_template"), lambda p: p.model.chat_template is not None,
                                      "a custom chat template"),
    Capability.LORA: Feature(("model", "adapters"), lambda p: bool(p.model.adapters), "LoRA adapters"),
    Capability.API_KEY: Feature(("server", "api_key_env"), lambda p: p.server.api_key_env is not None,
                                "an API key"),
    Capability.KV_CACHE_FP8: Feature(("precision", "kv_cache_dtype"), lambda p: p.precision.kv_cache_dtype == "fp8",
                                     "an fp8 KV cache"),
    Capability.MAX_CONCURRENCY: Feature(("limits", "max_concurrency"), lambda p: p.limits.max_concurrency is not None,
                                        "a concurrency limit"),
    Capability.MAX_BATCH_TOKENS: Feature(("limits", "max_batch_tokens"),
                                         lambda p: p.limits.max_batch_tokens is not None, "a batch token limit"),
    Capability.MAX_OUTPUT_TOKENS: Feature(("limits", "max_output_tokens"),
                                          lambda p: p.limits.max_output_tokens is not None, "an output token limit"),
    Capability.MULTI_NODE: Feature(("parallelism", "nodes"), lambda p: p.nodes > 1,
                                   "one copy of the model spanning several nodes"),
    Capability.MAX_INPUT_TOKENS: Feature(("limits", "max_input_tokens"), _prompt_limit,
                                         "a prompt-length limit apart from the context", _prompt_limit_hint),
    Capability.AMD_GPU: Feature(("hardware", "gpu"), lambda p: p.hardware.gpu.vendor == "amd", "AMD GPUs",
                                lambda p, name: f"pick an NVIDIA GPU, or leave {name} out of targets"),
    Capability.TOOL_PARSER: Feature(("model", "tool_parser"), lambda p: p.model.tool_parser is not None,
                                    "tool calling (a tool-call parser)",
                                    lambda p, name: f"remove model.tool_parser, or leave {name} out of targets"),
    Capability.REASONING_PARSER: Feature(("model", "reasoning_parser"),
                                         lambda p: p.model.reasoning_parser is not None,
                                         "separate reasoning output (a reasoning parser)",
                                         lambda p, name: f"remove model.reasoning_parser, or leave {name} out of "
                                                         "targets (its answer then carries the reasoning inline)"),
    Capability.PREFIX_CACHING: Feature(("cache", "prefix_caching"), lambda p: p.cache.prefix_caching is not None,
                                       "a prefix caching setting",
                                       lambda p, name: f"remove cache.prefix_caching (the engine's default stands), "
                                                       f"or leave {name} out of targets"),
    Capability.CHUNKED_PREFILL: Feature(("cache", "chunked_prefill"), lambda p: p.cache.chunked_prefill is not None,
                                        "a chunked prefill setting",
                                        lambda p, name: f"remove cache.chunked_prefill (the engine's default "
                                                        f"stands), or leave {name} out of targets"),
    Capability.ROPE_SCALING: Feature(("model", "rope_scaling"), lambda p: p.model.rope_scaling is not None,
                                     "rope scaling (context extension)",
                                     lambda p, name: f"serve a checkpoint whose config.json declares the scaling, or "
                                                     f"leave {name} out of targets"),
    Capability.SPECULATIVE: Feature(("speculative",), lambda p: p.speculative is not None,
                                    "speculative decoding",
                                    lambda p, name: f"remove speculative, or leave {name} out of targets"),
    Capability.MAX_LORAS: Feature(("limits", "max_loras"), lambda p: p.limits.max_loras is not None,
                                  "a limit on adapters per batch"),
    Capability.MM_PER_PROMPT: Feature(("limits", "mm_per_prompt"), lambda p: p.limits.mm_per_prompt is not None,
                                      "multimodal items per prompt"),
    **{
        cap: Feature(("precision", "quantization"), (lambda m: lambda p: p.precision.quantization == m)(method),
                     f"{method} quantization")
        for cap, method in (
            (Capability.QUANT_FP8, "fp8"), (Capability.QUANT_AWQ, "awq"), (Capability.QUANT_GPTQ, "gptq"),
            (Capability.QUANT_INT8, "int8"), (Capability.QUANT_INT4, "int4"),
            (Capability.QUANT_BITSANDBYTES, "bitsandbytes"), (Capability.QUANT_GGUF, "gguf"),
        )
    },
    Capability.ATTENTION_DATA_PARALLEL: Feature(
        ("parallelism", "data_mode"), lambda p: p.attention_dp, "data-parallel attention",
        lambda p, name: f"use data_mode: replicas ({p.parallelism.data} whole copies), or leave {name} out of targets"),
    Capability.EXPERT_PARALLEL: Feature(
        ("parallelism", "expert"), lambda p: p.parallelism.expert > 1, "expert parallelism",
        lambda p, name: f"remove parallelism.expert (tensor parallelism then shards the experts), or leave {name} "
                        "out of targets"),
    # The FP4 families count when the checkpoint declares one too (precision.quantization none): no engine
    # without FP4 kernels can load it.
    **{
        cap: Feature(("precision", "quantization"), (lambda m: lambda p: p.weight_format == m)(method),
                     f"{method} weights", unstated=("model", "source"))
        for cap, method in ((Capability.QUANT_MXFP4, "mxfp4"), (Capability.QUANT_NVFP4, "nvfp4"))
    },
}


@dataclass(frozen=True)
class Artifact:
    """One generated file: a relative POSIX path inside the target's output folder."""

    path: str
    content: str
    executable: bool = False

    @property
    def mode(self) -> str:
        return "0755" if self.executable else "0644"


@dataclass(frozen=True)
class BuildContext:
    """What a target may know about where its output goes.

    ``spec_dir`` is the folder of deploy.yaml relative to the target's output
    folder (e.g. ``../..``): scripts cd there so the spec's relative paths hold,
    and compose files mount local paths relative to it.
    """

    spec_dir: str
    spec_name: str
    spec_digest: str
    # The memory plan of this target's engine (None when the model facts are unknown), for what a target
    # says about memory in its artifacts (never for a value it writes: those come from the spec or the engine).
    memory: MemoryPlan | None = None


@dataclass(frozen=True)
class Lowered:
    """What a target made of a plan. service: the engine container, for targets that run one (the
    compose file is written from it; `deployc up` and --platform kubernetes start it). group: one copy
    of the model over several nodes (the leader's and the workers' containers); service is None then,
    since no single container runs the deployment."""

    artifacts: tuple[Artifact, ...]
    command: tuple[str, ...] | None
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    service: Service | None = None
    group: NodeGroup | None = None
    # Every value written that the spec does not state, with why (`deployc build --json` lists them).
    derived: tuple[Derived, ...] = ()


@dataclass(frozen=True, kw_only=True)
class EngineVersion:
    """One engine version a target writes for: the data that differs between versions. Targets
    subclass it with their own fields (image, flag spellings, defaults, with their sources)."""

    version: str
    capabilities: frozenset[Capability]
    # The engine's image for AMD GPUs (ROCm) at this version; None: deployc pins none, and a spec on an
    # AMD GPU must name one in targets.<name>.image (the core says so) when the target supports AMD_GPU.
    rocm_image: str | None = None
    # When a spec pins another patch release of this version's minor (0.33.2 for the 0.33.0 record): the
    # version whose tables this record carries. version is then the release the artifacts pin.
    based_on: str | None = None
    # The str fields that name the version itself (image tags), rewritten for a pinned patch release.
    pinned_fields: ClassVar[tuple[str, ...]] = ("image", "rocm_image")

    @property
    def data_version(self) -> str:
        """The version whose source the tables were read from (engine_options/<data_version>.json)."""
        return self.based_on or self.version

    def for_release(self: E, release: str) -> E:
        """This record for another patch release of the same minor: the artifacts pin `release`, the
        tables stay this version's."""
        changes: dict[str, Any] = {"version": release, "based_on": self.version}
        for name in self.pinned_fields:
            value = getattr(self, name, None)
            if isinstance(value, str) and self.version in value:
                changes[name] = value.replace(self.version, release)
        return replace(self, **changes)


E = TypeVar("E", bound=EngineVersion)


O = TypeVar("O", bound=TargetOptions)
V = TypeVar("V", bound=EngineVersion)


class Target(Generic[O, V]):
    """Base class of every target. Subclasses set name, title, options and versions, and implement
    lower(); check(), memory_model() and unsupported_hint() are optional."""

    name: ClassVar[str]
    title: ClassVar[str]
    # The target lowers a Service (its engine in a container): the core checks what every container
    # needs, such as a server.host that a port can be published on.
    runs_container: ClassVar[bool] = False
    options: type[O]
    # Newest first; the first is the default.
    versions: Mapping[str, V]

    # What a user should know before picking this engine (its upstream status), shown by `deployc targets`.
    notice: ClassVar[str | None] = None
    # A spec may pin any patch release of a minor deployc has read (0.33.2 with the 0.33.0 record), when
    # the engine keeps its options within a minor; False: only the listed versions.
    patch_releases: ClassVar[bool] = True

    def version_for(self, asked: str) -> V | None:
        """The record for the version a spec pins: a listed one, or (patch_releases) another patch
        release X.Y.Z of a listed minor X.Y, pinned as asked and read with the listed version's tables."""
        if asked in self.versions:
            return self.versions[asked]
        if not self.patch_releases or not re.fullmatch(r"\d+\.\d+\.\d+", asked):
            return None
        minor = asked.rsplit(".", 1)[0]
        same = [v for k, v in self.versions.items() if k.rsplit(".", 1)[0] == minor and re.fullmatch(r"[\d.]+", k)]
        return same[0].for_release(asked) if same else None

    def capabilities(self, v: V) -> frozenset[Capability]:
        return v.capabilities

    def unsupported_hint(self, capability: Capability, v: V) -> str | None:
        """The nearest thing this target can do instead of an unsupported capability."""
        return None

    def check(self, plan: Plan, opts: O, v: V) -> list[Diagnostic]:
        """Target-specific semantic checks; capability checks are the core's."""
        return []

    def quantizes_offline(self, plan: Plan, opts: O, v: V) -> frozenset[str]:
        """The precision.quantization values this target makes itself from a 16-bit checkpoint in a step
        before serving (e.g. TensorRT-LLM's ModelOpt), so the core's rule that awq/gptq need a
        pre-quantized checkpoint (compiler/plan.py unquantized_checkpoint) does not refuse them."""
        return frozenset()
    def parsers(self, v: V) -> ParserSupport | None:
        """How this engine version takes tool and reasoning parsers (compiler/api/parsers.py); None: it
        takes none (the capabilities TOOL_PARSER / REASONING_PARSER say the same)."""
        return None

    def importer(self) -> Importer | None:
        """How `deployc import` reads this engine's command line back into a spec (compiler/api/importing.py);
        None: it does not."""
        return None

    def memory_model(self, plan: Plan, opts: O, v: V) -> EngineMemory | None:
        """How this engine version budgets GPU memory (compiler/memory.py); None: no memory plan."""
        return None

    def lower(self, plan: Plan, opts: O, v: V, ctx: BuildContext) -> Lowered:
        """The artifacts. Every diagnostic belongs in check(): `deployc validate` does not lower."""
        raise NotImplementedError
