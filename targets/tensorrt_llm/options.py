"""Spec -> the options of the commands the tensorrt-llm target writes: one table per command, in argv
order. The argv, the check of extra `args` (they go to trtllm-build) and the owned-option list all come
from these tables (deployc.compiler.api.flags).

Every spelling is one of the pinned release's option tables in cli_options.json (the tests hold every
emitted flag to them): trtllm-build (tensorrt_llm/commands/build.py parse_arguments, plugin switches from
tensorrt_llm/plugin/plugin.py add_plugin_argument), trtllm-serve (click; the 0.18.2/0.19.0rc0 command
reference), examples/models/core/{llama,qwen}/convert_checkpoint.py and examples/quantization/quantize.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from deployc.compiler.api import ARGPARSE, CLICK, Opt, OptionTable, Plain, Plan, TargetOptions, fixed, opt, owned
from deployc.targets.tensorrt_llm.engine import Paths, Shapes
from deployc.targets.tensorrt_llm.versions import FAMILIES, TrtLlmVersion


class TensorRtLlmOptions(TargetOptions):
    """targets.tensorrt-llm: the common options plus the engine build's own knobs (`args` are extra
    trtllm-build flags for 0.19.0 and extra `trtllm-serve serve` flags for 1.x)."""

    family: Literal["llama", "mistral", "qwen"] | None = Field(
        default=None, description="Model family, which picks the checkpoint converter. Default: from the "
                                  "hub id (Llama, Mistral, Qwen2/2.5); required for local models.")
    max_batch_size: int | None = Field(
        default=None, ge=1, le=65536,
        description="Engine batch size (trtllm-build --max_batch_size) when limits.max_concurrency is not "
                    "set. Default: 256.")
    workdir: Plain = Field(
        default="work", pattern=r"^[A-Za-z0-9_./][A-Za-z0-9_./-]*$",
        description="Folder for downloads, the converted checkpoint and the engine, relative to the "
                    "output folder (or absolute).")
    streaming: bool = Field(default=True, description="Triton decoupled mode, needed for streaming responses.")
    max_queue_delay_microseconds: int = Field(
        default=0, ge=0, description="Triton dynamic batching: how long a request may wait for others.")
    max_queue_size: int | None = Field(
        default=None, ge=1, description="Triton: requests queued beyond this are rejected. Default: no limit.")
    tokenizer_instances: int = Field(
        default=1, ge=1, le=256, description="Instances of the Triton pre- and postprocessing (tokenizer) models.")
    grpc_port: int | None = Field(default=None, ge=1, le=65535, description=(
        "Triton's gRPC port. Default: Triton's own 8001, or the next port above it that server.port and "
        "metrics_port leave free."))
    metrics_port: int | None = Field(default=None, ge=1, le=65535, description=(
        "Triton's Prometheus metrics port. Default: Triton's own 8002, or the next port above it that "
        "server.port and the gRPC port leave free."))
    quantize: bool | None = Field(
        default=None,
        description="TensorRT-LLM 1.x: quantize model.source offline with ModelOpt (quantize.sh) to "
                    "precision.quantization fp8 or int4 before serving (true), or serve it as it is because "
                    "it is already quantized (false). Default: from the checkpoint's config.json.")


@dataclass(frozen=True)
class Lowering:
    """What the commands are written for: the engine's shapes and paths (the script's, or the container's),
    the KV cache's share of free memory, and the address trtllm-serve listens on."""

    plan: Plan
    shapes: Shapes
    paths: Paths
    fraction: float | None   # None: TensorRT-LLM's own default, not written
    host: str


# trtllm-build: the engine is compiled for fixed shapes, so the spec's limits become its own. The plugin
# switches are deployc's choice, not a spec setting: args may override them (argparse keeps the last).
BUILD: OptionTable[Lowering] = OptionTable(ARGPARSE, [
    opt("--checkpoint_dir", "model.source", lambda c: c.paths.checkpoint),
    opt("--output_dir", "model.served_name", lambda c: c.paths.engine,  # the engine folder is named after it
        why="the engine folder, named after the served name: trtllm-serve 0.19 has no --served_model_name and "
            "names the model after its folder"),
    opt("--max_batch_size", "limits.max_concurrency", lambda c: c.shapes.max_batch_size,
        why="the engine is compiled for a fixed batch: the version's default (or targets.tensorrt-llm."
            "max_batch_size), spelled out because the Triton model configuration must repeat it"),
    opt("--max_input_len", "limits.max_input_tokens", lambda c: c.shapes.max_input_len,
        why="the engine is compiled for fixed shapes: max_model_len - 1, so prompts up to the context less one "
            "generated token are admitted, as on every target (trtllm-build's own default is 1024)"),
    opt("--max_seq_len", "limits.max_model_len", lambda c: c.shapes.max_seq_len),
    owned("--max_decoder_seq_len", "limits.max_model_len"),
    opt("--max_num_tokens", "limits.max_batch_tokens", lambda c: c.shapes.max_num_tokens,
        why="the engine is compiled for fixed shapes: large enough that every admitted prompt is prefilled in "
            "one step (the version's default, or the longest prompt if that is more)"),
    fixed("--gemm_plugin", "auto", why="the GEMM plugin in the checkpoint's dtype, what TensorRT-LLM's examples "
                                       "build with for in-flight batching"),
    fixed("--gpt_attention_plugin", "auto", why="in-flight batching in the Triton backend needs the attention "
                                                "plugin"),
    # in-flight batching needs the paged KV cache, whose type the spec's kv_cache_dtype decides
    opt("--kv_cache_type", "precision.kv_cache_dtype", lambda c: "paged",
        why="in-flight batching in the Triton backend needs the paged KV cache"),
    owned("--paged_kv_cache", "precision.kv_cache_dtype"),
    fixed("--remove_input_padding", "enable", why="in-flight batching in the Triton backend needs packed inputs"),
    fixed("--context_fmha", "enable", why="fused attention for prefills, needed by --use_paged_context_fmha"),
    fixed("--use_paged_context_fmha", "enable", why="chunked prefills (prompts longer than max_num_tokens) and KV "
                                                    "reuse need paged context attention"),
    opt("--workers", "parallelism.tensor", lambda c: c.plan.gpus_per_replica,
        why="one build worker per GPU of the engine (tensor x pipeline ranks), so the ranks build in parallel"),
])

# `trtllm-serve [OPTIONS] MODEL` (click) on the engine folder. No --served_model_name in 0.19: the API
# reports a local model folder by its base name, which is why the engine folder is model.served_name.
SERVE: OptionTable[Lowering] = OptionTable(CLICK, [
    opt(None, "model.served_name", lambda c: c.paths.engine,
        why="the engine folder, named after the served name: trtllm-serve 0.19 names the model after it"),
    opt("--tokenizer", "model.tokenizer", lambda c: c.paths.tokenizer,
        why="an engine folder holds no tokenizer: trtllm-serve is given the model's own, which build.sh fetches"),
    opt("--host", "server.host", lambda c: c.host),
    opt("--port", "server.port", lambda c: c.plan.server.port),
    opt("--max_batch_size", "limits.max_concurrency", lambda c: c.shapes.max_batch_size,
        why="the shape the engine was built with (trtllm-build --max_batch_size): serving must repeat it"),
    opt("--max_num_tokens", "limits.max_batch_tokens", lambda c: c.shapes.max_num_tokens,
        why="the shape the engine was built with (trtllm-build --max_num_tokens): serving must repeat it"),
    opt("--max_seq_len", "limits.max_model_len", lambda c: c.shapes.max_seq_len),
    opt("--tp_size", "parallelism.tensor", lambda c: c.plan.parallelism.tensor,
        why="the engine's own tensor-parallel size: serving must repeat it"),
    opt("--pp_size", "parallelism.pipeline", lambda c: c.plan.parallelism.pipeline,
        why="the engine's own pipeline-parallel size: serving must repeat it"),
    opt("--kv_cache_free_gpu_memory_fraction", "hardware.memory_utilization", lambda c: c.fraction),
])


def _weight_only(c: Lowering) -> str | None:
    q = c.plan.precision.quantization
    return q if q in ("int8", "int4") else None


def _fp8_cache(c: Lowering) -> bool:
    return c.plan.precision.kv_cache_dtype == "fp8"


# The checkpoint step's options, common to the converters and quantize.py.
_CHECKPOINT: list[Opt[Lowering]] = [
    opt("--model_dir", "model.source", lambda c: c.paths.model),
    opt("--output_dir", "targets.tensorrt-llm.workdir", lambda c: c.paths.checkpoint),
    opt("--dtype", "precision.dtype", lambda c: c.plan.precision.dtype),
    opt("--tp_size", "parallelism.tensor", lambda c: c.plan.parallelism.tensor),
    opt("--pp_size", "parallelism.pipeline", lambda c: c.plan.parallelism.pipeline),
]
# convert_checkpoint.py: awq and gptq checkpoints declare themselves (quantization_config in config.json);
# int8/int4 are weight-only; only the llama converter has --fp8_kv_cache (checks.py refuses the rest).
CONVERT: OptionTable[Lowering] = OptionTable(ARGPARSE, [
    *_CHECKPOINT,
    opt("--use_weight_only", "precision.quantization", lambda c: _weight_only(c) is not None),
    opt("--weight_only_precision", "precision.quantization", _weight_only),
    opt("--fp8_kv_cache", "precision.kv_cache_dtype", _fp8_cache),
])
# quantize.py (ModelOpt, calibrated): fp8 weights, or an fp8 KV cache on a 16-bit model (full_prec).
QUANTIZE: OptionTable[Lowering] = OptionTable(ARGPARSE, [
    *_CHECKPOINT,
    opt("--qformat", "precision.quantization",
        lambda c: {"fp8": "fp8", "awq": "int4_awq"}.get(c.plan.precision.quantization, "full_prec")),
    opt("--kv_cache_dtype", "precision.kv_cache_dtype", lambda c: "fp8" if _fp8_cache(c) else None),
])


def quantizes(plan: Plan) -> bool:
    """The checkpoint step is quantize.py: fp8 weights, AWQ of a checkpoint config.json says is 16-bit
    (--qformat int4_awq; an AWQ checkpoint is converted as it is), or an fp8 KV cache on an unquantized
    model."""
    p, f = plan.precision, plan.facts
    return (p.quantization == "fp8" or (p.quantization == "none" and p.kv_cache_dtype == "fp8")
            or (p.quantization == "awq" and f.from_checkpoint and f.quant_method is None))


def checkpoint_argv(c: Lowering, family: str, v: TrtLlmVersion) -> tuple[str, list[str]]:
    """(tool, args) of the checkpoint step: quantize.py, or the family's convert_checkpoint.py."""
    if quantizes(c.plan):
        return "quantize.py", QUANTIZE.argv(c, v)
    return f"convert_checkpoint.py:{FAMILIES[family].converter}", CONVERT.argv(c, v)


def build_argv(c: Lowering, v: TrtLlmVersion, extra: list[str]) -> list[str]:
    return ["trtllm-build", *BUILD.argv(c, v), *extra]


def serve_argv(c: Lowering, v: TrtLlmVersion) -> list[str]:
    return ["trtllm-serve", *SERVE.argv(c, v)]


# Triton's own defaults (tritonserver --grpc-port / --metrics-port)
TRITON_GRPC_PORT, TRITON_METRICS_PORT = 8001, 8002


def _free(start: int, taken: set[int | None]) -> int:
    return next(p for p in range(start, 65536) if p not in taken)


def triton_ports(plan: Plan, opts: TensorRtLlmOptions) -> tuple[int, int]:
    """(gRPC, metrics): the user's, else Triton's defaults moved up past the ports already in use, so
    server.port 8001 or 8002 (the HTTP port) never collides with a port the user did not set."""
    grpc = opts.grpc_port if opts.grpc_port is not None else _free(
        TRITON_GRPC_PORT, {plan.server.port, opts.metrics_port})
    metrics = opts.metrics_port if opts.metrics_port is not None else _free(
        TRITON_METRICS_PORT, {plan.server.port, grpc})
    return grpc, metrics
