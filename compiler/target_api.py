"""The plugin API: everything a target sees of the core, and nothing more.

A target is a class registered in the ``deployc.targets`` entry-point group.
It declares what it supports as data (``versions``, ``capabilities``), checks
a resolved Plan, and lowers it into Artifacts. It never writes files, reads
the environment or prints: the writer and the CLI do that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Callable, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from compiler.diagnostics import Diagnostic
from compiler.spec import Plain

if TYPE_CHECKING:
    from compiler.memory import EngineMemory, MemoryPlan
    from compiler.plan import Plan


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
    MULTI_NODE = "multi-node"


@dataclass(frozen=True)
class Feature:
    """How the core sees that a Plan uses a capability, and where that lives in the YAML."""

    path: tuple[str, ...]
    used: Callable[["Plan"], bool]
    what: str


FEATURES: dict[Capability, Feature] = {
    Capability.TENSOR_PARALLEL: Feature(("parallelism", "tensor"), lambda p: p.parallelism.tensor > 1,
                                        "tensor parallelism"),
    Capability.PIPELINE_PARALLEL: Feature(("parallelism", "pipeline"), lambda p: p.parallelism.pipeline > 1,
                                          "pipeline parallelism"),
    Capability.DATA_PARALLEL: Feature(("parallelism", "data"), lambda p: p.parallelism.data > 1,
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
    **{
        cap: Feature(("precision", "quantization"), (lambda m: lambda p: p.precision.quantization == m)(method),
                     f"{method} quantization")
        for cap, method in (
            (Capability.QUANT_FP8, "fp8"), (Capability.QUANT_AWQ, "awq"), (Capability.QUANT_GPTQ, "gptq"),
            (Capability.QUANT_INT8, "int8"), (Capability.QUANT_INT4, "int4"),
            (Capability.QUANT_BITSANDBYTES, "bitsandbytes"), (Capability.QUANT_GGUF, "gguf"),
        )
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
    # The memory plan of this target's engine (None when the model facts are unknown). Targets
    # read memory.derived_concurrency(plan, ctx.memory, default) for their running-sequence cap.
    memory: "MemoryPlan | None" = None


# Environment variables every platform sets in an engine container, for the references targets write
# as ${NAME} in Service fields: the server's base URL where launch steps run, and the container's own
# address as the other nodes of a multi-node deployment reach it.
SERVER_ENV = "DEPLOYC_SERVER"
NODE_ADDR_ENV = "DEPLOYC_NODE_ADDR"


@dataclass(frozen=True)
class Lowered:
    artifacts: tuple[Artifact, ...]
    command: tuple[str, ...] | None
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    # The engine container (targets/_shared/container.Service) for targets that run one: the
    # compose file is written from it, and `deployc up` and --platform kubernetes start it.
    service: Any = None
    # One copy of the model over several nodes (targets/_shared/multinode.NodeGroup): the leader's and
    # the workers' containers, for --platform kubernetes. service is None then: no single container
    # runs the deployment.
    group: Any = None


class Target:
    """Base class of every target. Subclasses set the class attributes and implement lower()."""

    name: ClassVar[str]
    title: ClassVar[str]
    versions: ClassVar[tuple[str, ...]]  # newest first; the first is the default
    options: ClassVar[type[TargetOptions]] = TargetOptions

    def capabilities(self, version: str) -> frozenset[Capability]:
        raise NotImplementedError

    def unsupported_hint(self, capability: Capability, version: str) -> str | None:
        """The nearest thing this target can do instead of an unsupported capability."""
        return None

    def check(self, plan: "Plan", opts: TargetOptions, version: str) -> list[Diagnostic]:
        """Target-specific semantic checks; capability checks are the core's."""
        return []

    def memory_model(self, plan: "Plan", opts: TargetOptions, version: str) -> "EngineMemory | None":
        """How this engine version budgets GPU memory (compiler/memory.py); None: no memory plan."""
        return None

    def lower(self, plan: "Plan", opts: TargetOptions, version: str, ctx: BuildContext) -> Lowered:
        """The artifacts. Every diagnostic belongs in check(): `deployc validate` does not lower."""
        raise NotImplementedError
