"""The pydantic models of deploy.yaml v1: the single source of schemas/deploy.schema.json.

Every user-facing field is described exactly once, in ``Field(description=...)``;
that text feeds the JSON Schema (editor completion) and the hints of
validation errors. The core never names a target: ``targets`` is a mapping
whose values each registered target validates against its own options model.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from deployc.compiler import gpus

API_VERSIONS = ("deployc/v1",)

# Control characters (newlines included), Unicode line separators and bidi controls (which make
# reviewed text read differently from what runs: "Trojan Source") never belong in a name or path.
_CONTROL = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
LOCAL_PREFIXES = ("./", "../", "/", "~")


def is_local(source: str) -> bool:
    return source.startswith(LOCAL_PREFIXES) or source in (".", "..")


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters (newlines, tabs, line separators, bidi controls) are not allowed here")
    return value


def _model_ref(value: str) -> str:
    _no_control(value)
    if is_local(value) or _HUB_ID.match(value):
        return value
    raise ValueError(f"{value!r} is neither a hub repo id (\"org/name\") nor a local path "
                     "(starting with ./, ../, / or ~)")


def _path(value: str) -> str:
    _no_control(value)
    if not value.strip():
        raise ValueError("the path is empty")
    if value.startswith("-"):
        raise ValueError("a path may not start with '-'; write ./" + value)
    return value


Plain = Annotated[str, AfterValidator(_no_control)]
# A tool or reasoning parser: `auto` or an engine's registered name (argv-safe: no spaces, no leading '-').
ParserName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
ModelRef = Annotated[str, AfterValidator(_model_ref)]
PathStr = Annotated[str, AfterValidator(_path)]

_DTYPE_ALIASES = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32",
                  "float": "float32"}
Dtype = Literal["auto", "bfloat16", "float16", "float32", "bf16", "fp16", "half", "fp32", "float"]
Quantization = Literal["none", "fp8", "awq", "gptq", "int8", "int4", "bitsandbytes", "gguf", "mxfp4", "nvfp4"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False,
                              strict=True)


class Adapter(Strict):
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$",
        description="Name clients send as \"model\" to use this LoRA adapter: letters, digits, "
                    "'.', '_' and '-', starting with a letter or digit.",
        examples=["sql"])
    source: ModelRef = Field(description="Hub repo id or local path (./, ../, / or ~) of the LoRA adapter.",
                             examples=["./adapters/sql"])
    rank: int | None = Field(
        default=None, ge=1, le=1024,
        description="LoRA rank r of the adapter; default: read from a local adapter_config.json.")


class ModelFacts(Strict):
    layers: int | None = Field(default=None, ge=1, description="Number of transformer layers (num_hidden_layers).")
    hidden_size: int | None = Field(default=None, ge=1, description="Hidden size of the model.")
    attention_heads: int | None = Field(default=None, ge=1, description="Attention heads (num_attention_heads).")
    kv_heads: int | None = Field(default=None, ge=1, description="Key/value heads (num_key_value_heads; GQA).")
    head_dim: int | None = Field(default=None, ge=1, description="Dimension of one attention head.")
    vocab_size: int | None = Field(default=None, ge=1, description="Vocabulary size.")
    max_position_embeddings: int | None = Field(
        default=None, ge=1, description="Longest context the model was trained for (before rope scaling).")
    parameters: float | None = Field(default=None, gt=0, description="Parameter count, e.g. 7.6e9.")
    sliding_window: int | None = Field(default=None, ge=1, description="Sliding attention window, in tokens.")
    kv_lora_rank: int | None = Field(default=None, ge=1, description="MLA latent KV rank (DeepSeek-V2/V3).")
    tie_word_embeddings: bool | None = Field(default=None, description="Whether input and output embeddings are shared.")
    rope_theta: float | None = Field(default=None, gt=0, description="RoPE base frequency (config.json rope_theta); "
                                                                     "written with model.rope_scaling where an engine "
                                                                     "replaces the rope settings whole.")


class RopeScaling(Strict):
    """Issue 20, item 4: context extension the checkpoint does not declare."""

    rope_type: Literal["yarn", "linear", "dynamic", "llama3"] = Field(
        description="RoPE scaling method: yarn, linear, dynamic (NTK) or llama3.")
    factor: float = Field(gt=1, le=1024, description="Scaling factor: the extended context is the original one "
                                                      "times this, e.g. 4.0.")
    original_max_position_embeddings: int | None = Field(
        default=None, ge=1, description="The context the model was trained for (yarn, llama3). Default: the "
                                        "model's max_position_embeddings.")
    low_freq_factor: float | None = Field(default=None, gt=0, description="llama3 only: low-frequency factor.")
    high_freq_factor: float | None = Field(default=None, gt=0, description="llama3 only: high-frequency factor.")


class Cache(Strict):
    """Issue 20, item 4: the engine's cache toggles (null: the engine's default)."""

    prefix_caching: bool | None = Field(
        default=None, description="Reuse the KV cache of shared prompt prefixes across requests; null: the "
                                  "engine's default.")
    chunked_prefill: bool | None = Field(
        default=None, description="Split long prompts into chunks scheduled with decodes; null: the engine's "
                                  "default. false needs limits.max_batch_tokens >= the context.")


# How a string that reaches artifacts is treated (tests/test_injection.py proves it per target).
INERT = (" Spaces, quotes, $ and other shell characters are allowed and written inert (shell-quoted in "
         "scripts, encoded in YAML/JSON/protobuf text/Modelfiles); control characters, line breaks and "
         "bidi controls are rejected.")


class NgramWindow(Strict):
    min: int | None = Field(default=None, ge=1, le=64, description="Shortest prompt n-gram to match.")
    max: int | None = Field(default=None, ge=1, le=64, description="Longest prompt n-gram to match.")


class Speculative(Strict):
    """Issue 20, item 2: speculative decoding (absent: none)."""

    method: Literal["mtp", "eagle", "eagle3", "ngram", "draft"] = Field(
        description="mtp (the checkpoint's own multi-token-prediction layers), eagle, eagle3 (a trained head in "
                    "model), ngram (prompt lookup, no model) or draft (a smaller draft model in model). Each engine's "
                    "own name is written (vLLM's draft_model, SGLang's EAGLE3, ...).")
    model: ModelRef | None = Field(default=None, description="The draft model or EAGLE head: hub id or local path; "
                                                              "none for mtp and ngram." + INERT)
    revision: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.][A-Za-z0-9._/-]{0,254}$",
                                 description="Branch, tag or commit of the draft model.")
    num_tokens: int | None = Field(default=None, ge=1, le=64, description="Tokens proposed per step; null: the "
                                   "engine's default where it has one (vLLM reads MTP depth from the checkpoint).")
    topk: int | None = Field(default=None, ge=1, le=64, description="Draft tree width; > 1 only where the engine "
                                                                    "builds trees.")
    tensor: int | None = Field(default=None, ge=1, le=1024, description="Tensor-parallel size of the draft model.")
    ngram: NgramWindow = Field(default_factory=NgramWindow, description="Prompt-lookup window for method ngram.")


class Model(Strict):
    source: ModelRef = Field(
        description="The model: a hub repo id \"org/name\", or a local path starting with ./, ../, / or ~."
                    + INERT,
        examples=["Qwen/Qwen2.5-7B-Instruct", "./models/my-finetune"])
    revision: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.][A-Za-z0-9._/-]{0,254}$",
        description="Branch, tag or commit of a hub model (hub ids only).", examples=["main"])
    served_name: Plain | None = Field(
        default=None, pattern=r"^[^\s\x00-\x1f\x7f-][^\s\x00-\x1f\x7f]{0,255}$",
        description="The name clients send as \"model\"; no spaces or control characters, not starting "
                    "with '-' (rejected: they would split or start an argv token). Quotes, $ and other shell "
                    "characters are emitted quoted. Default: the last part of source, lower-cased.")
    tokenizer: ModelRef | None = Field(default=None, description="Tokenizer hub id or local path, if not the model's "
                                                                 "own." + INERT)
    trust_remote_code: bool = Field(default=False, description="Allow the model repo's own Python code to run.")
    chat_template: PathStr | None = Field(
        default=None, description="Path to a Jinja chat template file, relative to this file." + INERT,
        examples=["./chat_template.jinja"])
    gguf: PathStr | None = Field(default=None, pattern=r"\.gguf$",
                                 description="Path to a .gguf file (Ollama and llama.cpp-based engines load it "
                                             "directly)." + INERT)
    adapters: list[Adapter] = Field(default_factory=list, description="LoRA adapters served next to the base model.")
    facts: ModelFacts = Field(default_factory=ModelFacts,
                              description="Architecture facts, when config.json is out of reach.")
    # Issue 20, item 3: tool and reasoning parsers.
    tool_parser: ParserName | None = Field(
        default=None,
        description="Turns on tool calling (automatic tool choice): auto (each target's parser for this model "
                    "family, from a table citing where the engine documents it) or a parser name. Names differ "
                    "between engines: a bare name needs a single target, else targets.<name>.tool_parser.",
        examples=["auto", "hermes"])
    reasoning_parser: ParserName | None = Field(
        default=None,
        description="Returns the model's reasoning apart from its answer: auto (each target's parser for this "
                    "model family) or a parser name; as tool_parser, a bare name needs a single target.",
        examples=["auto", "qwen3"])
    # Issue 20, item 4.
    rope_scaling: RopeScaling | None = Field(
        default=None,
        description="Context extension the checkpoint does not declare, e.g. {rope_type: yarn, factor: 4.0, "
                    "original_max_position_embeddings: 32768}. deployc writes the engine's whole setting and the "
                    "extended context; the context check and the plan use it.")


def _dtype(value: str) -> str:
    return _DTYPE_ALIASES.get(value, value)


class Precision(Strict):
    dtype: Annotated[Dtype, AfterValidator(_dtype)] = Field(
        default="auto",
        description="Weight and activation dtype: auto (the checkpoint's own; float16 on GPUs without "
                    "bfloat16), bfloat16, float16 or float32. Aliases: bf16, fp16, half, fp32, float.")
    quantization: Quantization = Field(
        default="none",
        description="Weight quantization: none, or the checkpoint's method (awq, gptq, fp8, ...); for an "
                    "unquantized checkpoint, fp8, int8, int4 or bitsandbytes ask the engine to quantize at load. "
                    "mxfp4 and nvfp4 name FP4 checkpoint families (gpt-oss's MXFP4; ModelOpt or "
                    "compressed-tensors NVFP4): each engine reads the checkpoint's own method, and the memory "
                    "plan counts their real bits per weight (4.25 and 4.5).")
    kv_cache_dtype: Literal["auto", "fp8"] = Field(
        default="auto", description="KV cache dtype: auto (same as the model) or fp8 (half the memory).")


class Parallelism(Strict):
    tensor: int = Field(default=1, ge=1, le=1024, description="GPUs that shard each layer (tensor parallel size).")
    pipeline: int = Field(default=1, ge=1, le=1024, description="Pipeline stages (pipeline parallel size).")
    data: int = Field(default=1, ge=1, le=1024, description="Data-parallel copies of the whole model, or (with "
                      "data_mode attention) data-parallel attention ranks of one engine.")
    # issue 20, item 1
    data_mode: Literal["replicas", "attention"] | None = Field(
        default=None,
        description="replicas: `data` whole copies of the model. attention: ONE engine whose attention runs "
                    "data-parallel on `data` ranks (each with its own KV cache) while its MoE layers span all "
                    "tensor x data GPUs (vLLM --data-parallel-size with a MoE model, SGLang --attn-dp-size, "
                    "TensorRT-LLM enable_attention_dp). Default: replicas for dense models; for a MoE model with "
                    "data > 1 it must be chosen. limits.max_concurrency is per data rank in both modes.")
    expert: int = Field(
        default=1, ge=1, le=4096,
        description="Expert-parallel size of the MoE layers (1: none). With data_mode attention it divides "
                    "tensor x data (vLLM: 1 or tensor x data; TensorRT-LLM: tensor must be 1); with replicas it "
                    "divides tensor.")
    nodes: int | None = Field(
        default=None, ge=1, le=1024,
        description="Machines one copy of the model (tensor x pipeline GPUs) spans; each data-parallel copy "
                    "gets its own. Default: the fewest that hold tensor x pipeline GPUs with "
                    "hardware.gpus_per_node each and divide them evenly.")


class Limits(Strict):
    max_model_len: int | None = Field(
        default=None, ge=16, le=16_777_216,
        description="Context window in tokens, prompt + completion. Default: the model's own.")
    max_input_tokens: int | None = Field(
        default=None, ge=1, description="Longest prompt in tokens. Default: max_model_len - 1 where a target needs it.")
    max_output_tokens: int | None = Field(default=None, ge=1, description="Most tokens generated per request.")
    max_concurrency: int | None = Field(
        default=None, ge=1, description="Concurrent sequences per data-parallel copy.")
    max_batch_tokens: int | None = Field(
        default=None, ge=16, description="Tokens per scheduler step (the prefill chunk size).")
    # Issue 20, item 4.
    max_loras: int | None = Field(
        default=None, ge=1, le=4096, description="LoRA adapters served in one batch; null: the engine's default.")
    mm_per_prompt: dict[Literal["image", "video", "audio"], Annotated[int, Field(ge=0, le=1024)]] | None = Field(
        default=None, description="Multimodal items per prompt, e.g. {image: 4, video: 1, audio: 0}; null: the "
                                  "engine's default.")


class Server(Strict):
    host: str = Field(
        default="0.0.0.0",
        pattern=r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9A-Fa-f:.]+)$",
        description="Address the server binds to: an IP address or a host name.")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port of the HTTP server, 1..65535.")
    api_key_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="NAME of the environment variable that holds the API key (never the key itself).",
        examples=["VLLM_API_KEY"])


class GpuSpec(Strict):
    name: Plain = Field(min_length=1, max_length=64, description="A label for this GPU.")
    memory_gib: float = Field(gt=0, le=4096, description="Device memory in GiB as the driver reports it.")
    compute_capability: Annotated[str | float, AfterValidator(_compute_capability)] = Field(
        description="CUDA compute capability, e.g. 8.9 (a number or a string).", examples=[8.9, "9.0"])
    bf16: bool | None = Field(default=None, description="Supports bfloat16. Default: compute capability >= 8.0.")
    fp8: bool | None = Field(default=None, description="Native FP8. Default: compute capability >= 8.9.")


def _compute_capability(value: str | float) -> str:
    text = str(value)
    if not re.fullmatch(r"\d+\.\d+", text):
        raise ValueError(f"{text!r} is not a compute capability such as 8.9")
    return text


def _gpu_name(value: Any) -> Any:
    if isinstance(value, str) and gpus.lookup(value) is None:
        from deployc.compiler.diagnostics import did_you_mean
        close = did_you_mean(value, gpus.CATALOG, n=3)
        raise ValueError(f"unknown GPU {value!r}" + (f"; closest: {', '.join(close)}" if close else "")
                         + ". Known: " + ", ".join(gpus.CATALOG)
                         + "; or describe it as {name, memory_gib, compute_capability}")
    return value


class Hardware(Strict):
    gpu: Annotated[str | GpuSpec, AfterValidator(_gpu_name)] = Field(
        default="H100-80GB",
        description="A GPU from the catalog (`deployc gpus`), matched case-insensitively, or "
                    "{name, memory_gib, compute_capability} for any other GPU.",
        examples=["H100-80GB", "A100-80GB", "L40S", "T4"])
    count: int | None = Field(
        default=None, ge=1, le=4096,
        description="GPUs in all. Default: tensor * pipeline * data; fewer is an error.")
    gpus_per_node: int = Field(
        default=8, ge=1, le=64,
        description="GPUs in each machine. A copy of the model that needs more spans several machines "
                    "(see parallelism.nodes).")
    memory_utilization: float | None = Field(
        default=None, gt=0, le=1,
        description="Share of each GPU's memory the engine may take, 0 < x <= 1, in vLLM's sense (everything "
                    "the engine allocates); deployc converts it for engines whose fraction means something else "
                    "(SGLang's static fraction, TensorRT-LLM's and LMDeploy's share of the memory free after the "
                    "weights). Default: each engine's own default at its pinned version (`deployc plan` says "
                    "which and what it means); nothing is written then.")


_K8S_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_QUANTITY = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$"
# Kubernetes' label syntax (k8s.io/apimachinery pkg/util/validation/validation.go: IsQualifiedName,
# IsValidLabelValue, IsDNS1123Subdomain): a key is [prefix/]name, a value a name or empty.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _label_key(value: str) -> str:
    prefix, slash, name = value.rpartition("/")
    if not (0 < len(name) <= 63 and _LABEL_NAME.fullmatch(name)):
        raise ValueError(f"{value!r} is not a Kubernetes label key: [prefix/]name, the name 1-63 letters, digits, "
                         "'-', '_' or '.', starting and ending with a letter or digit")
    if slash and not (0 < len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix)):
        raise ValueError(f"{value!r} is not a Kubernetes label key: its prefix must be a DNS subdomain (lower-case "
                         "letters, digits, '-' and '.', at most 253)")
    return value


def _label_value(value: str) -> str:
    if value and not (len(value) <= 63 and _LABEL_NAME.fullmatch(value)):
        raise ValueError(f"{value!r} is not a Kubernetes label value: empty, or 1-63 letters, digits, '-', '_' or "
                         "'.', starting and ending with a letter or digit")
    return value


LabelKey = Annotated[str, AfterValidator(_label_key)]
LabelValue = Annotated[str, AfterValidator(_label_value)]


class Toleration(Strict):
    key: LabelKey | None = Field(default=None, max_length=316, description="Taint key the toleration matches; "
                              "empty with operator Exists matches every taint.", examples=["nvidia.com/gpu"])
    operator: Literal["Exists", "Equal"] = Field(default="Exists", description="Exists (any value) or Equal.")
    value: LabelValue | None = Field(default=None, max_length=63, description="Taint value, with operator Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect to match; empty matches every effect.")


class Kubernetes(Strict):
    """Options of `deployc build --platform kubernetes`; ignored by the default platform."""

    namespace: str | None = Field(
        default=None, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Namespace of every object; default: none written, so kubectl's current namespace.")
    replicas: int = Field(
        default=1, ge=1, le=1000,
        description="Pods, each a full copy of the deployment (hardware.count GPUs each), behind one Service "
                    "that spreads connections over them. Unlike parallelism.data, which runs data-parallel "
                    "copies inside ONE engine process on one pod (the engine balances requests itself and "
                    "needs tensor x pipeline x data GPUs on one node), replicas are independent pods that can "
                    "land on different nodes, restart alone and scale with `kubectl scale`.")
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(
        default="ClusterIP", description="Type of the Service in front of the pods.")
    service_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="Port of the Service; it forwards to the container's server.port. Default: server.port.")
    storage_class: str | None = Field(
        default=None, max_length=253, pattern=_K8S_NAME,
        description="StorageClass of the model-cache PersistentVolumeClaim; default: the cluster's default class. "
                    "With replicas > 1 the claim is ReadWriteMany, which the class must support (NFS, CephFS, "
                    "cloud file stores).")
    storage_size: str | None = Field(
        default=None, pattern=_QUANTITY,
        description="Size of the model-cache claim, a Kubernetes quantity such as 200Gi; default: the weights' "
                    "size x 2 (download and converted copies), at least 20Gi.", examples=["200Gi"])
    shm_size: str | None = Field(
        default=None, pattern=_QUANTITY,
        description="Size limit of /dev/shm (an in-memory emptyDir; the container runtime's 64 MiB default breaks "
                    "NCCL). Default: the engine's own recommendation, else 2Gi.", examples=["8Gi"])
    cpu: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?m?$",
                            description="CPU request of the engine container, e.g. \"8\" or \"8000m\".")
    memory: str | None = Field(default=None, pattern=_QUANTITY,
                               description="Memory request and limit of the engine container, e.g. 64Gi.")
    secret: str | None = Field(
        default=None, max_length=253, pattern=_K8S_NAME,
        description="Secret the pods read credentials from by reference (deployc never writes a value): key "
                    "HF_TOKEN (optional; gated models) and, with server.api_key_env, a key of that NAME. "
                    "Default: NAME-secrets, after the spec's name.")
    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Node labels the pods must match, e.g. "
                                          "{nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}.")
    tolerations: list[Toleration] = Field(
        default_factory=list, description="Taints the pods tolerate (GPU nodes are often tainted).")
    image_pull_secrets: list[Annotated[str, Field(max_length=253, pattern=_K8S_NAME)]] = Field(
        default_factory=list, description="Secrets (docker-registry type) for pulling the engine image.")
    startup_seconds: int | None = Field(
        default=None, ge=60, le=86400,
        description="How long the startupProbe lets the engine load before Kubernetes restarts it. Default: "
                    "max(600, 300 + weights bytes / 100 MiB/s) seconds: about 10 s per GiB of weights plus 5 "
                    "minutes of engine start. A shorter value is flagged: probes that kill pods mid-load are the "
                    "most common failure.")


class Spec(Strict):
    api_version: Literal["deployc/v1"] = Field(
        alias="apiVersion", description="Format version of this file: deployc/v1.")
    name: str = Field(
        max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Name of this deployment: a DNS label (lower-case letters, digits and '-', at most 63).",
        examples=["qwen-chat"])
    model: Model = Field(description="The model to serve.")
    precision: Precision = Field(default_factory=Precision, description="Numeric precision and quantization.")
    parallelism: Parallelism = Field(default_factory=Parallelism, description="How the model is spread over GPUs.")
    cache: Cache = Field(default_factory=Cache, description="The engine's KV cache toggles (issue 20).")
    speculative: Speculative | None = Field(default=None, description="Speculative decoding; absent: none.")
    disaggregation: Any = Field(
        default=None, description="Reserved: prefill/decode disaggregation is not expressible in deploy.yaml v1; "
                                  "any value is an error.")
    limits: Limits = Field(default_factory=Limits, description="Context and batching limits.")
    server: Server = Field(default_factory=Server, description="The HTTP endpoint.")
    hardware: Hardware = Field(default_factory=Hardware, description="The GPUs the deployment runs on.")
    kubernetes: Kubernetes | None = Field(
        default=None, description="Options of `deployc build --platform kubernetes` (namespace, replicas, storage, "
                                  "scheduling); the default platform ignores them.")
    targets: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="The targets this deployment is meant for; keys are target names (`deployc targets`), "
                    "values their options.")

    @field_validator("disaggregation")
    @classmethod
    def _no_disaggregation(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("prefill/decode disaggregation is not expressible in deploy.yaml v1 (each engine "
                             "runs it as several cooperating deployments with a router: vLLM's --kv-transfer-config, "
                             "SGLang's --disaggregation-mode); remove the key and deploy the prefill and decode "
                             "sides as separate specs")
        return value

    @field_validator("targets", mode="before")
    @classmethod
    def _null_options(cls, value: Any) -> Any:
        # `targets:` with every target commented out (the starter) means none; `vllm:` with nothing
        # after it means "no options".
        if value is None:
            return {}
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value
