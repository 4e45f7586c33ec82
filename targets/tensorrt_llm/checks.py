"""The tensorrt-llm target's checks, in the order their diagnostics appear: the model and its
quantization, what the scripts can serve, the engine's memory, and the extra trtllm-build args."""

from __future__ import annotations

import re

from deployc.compiler.api import Diagnostic, Plan, error, has_errors, is_local, warning
from deployc.targets.tensorrt_llm import triton
from deployc.targets.tensorrt_llm.engine import NAME, kv_fraction, repository_name, resolve_family, shapes
from deployc.targets.tensorrt_llm.options import BUILD, TensorRtLlmOptions, triton_ports
from deployc.targets.tensorrt_llm.versions import FAMILIES, TrtLlmVersion

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmVersion) -> list[Diagnostic]:
    out = check_model(plan, opts, v) + check_serving(plan, opts)
    if not has_errors(out):
        out += check_memory(plan, opts, v)
    return out + check_args(opts, v)


def check_model(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmVersion) -> list[Diagnostic]:
    """The converter family, fp8 on this GPU, the GPU itself, and a known context length."""
    out: list[Diagnostic] = []
    p, gpu = plan.precision, plan.hardware.gpu
    family, problem = resolve_family(plan, opts)
    if problem:
        out.append(problem)
    if family and p.kv_cache_dtype == "fp8" and p.quantization not in ("none", "fp8") \
            and not FAMILIES[family].fp8_kv_flag:
        out.append(error(
            "tensorrt-llm-kv-cache", f"the {family} converter of TensorRT-LLM {v.version} cannot add an fp8 KV "
            f"cache to a {p.quantization} checkpoint (it has no --fp8_kv_cache)",
            hint="use kv_cache_dtype: auto, or quantization: fp8 or none (quantize.py calibrates the fp8 "
                 "KV cache)", path=("precision", "kv_cache_dtype")))
    for key, used in (("quantization", p.quantization == "fp8"), ("kv_cache_dtype", p.kv_cache_dtype == "fp8")):
        if used and gpu.sm is not None and gpu.sm < v.fp8_min_sm:
            out.append(error(
                "tensorrt-llm-fp8-gpu", f"TensorRT-LLM {v.version} runs FP8 on compute capability "
                f"{v.fp8_min_sm} and newer (Ada, Hopper); {gpu.name} has {gpu.compute_capability}",
                hint=("use quantization: int8 (weight-only) or none on this GPU" if key == "quantization"
                      else "use kv_cache_dtype: auto on this GPU"), path=("precision", key)))
    if gpu.vendor == "nvidia" and gpu.sm is not None and gpu.sm < 8.0:
        out.append(warning(
            "tensorrt-llm-gpu-untested", f"TensorRT-LLM {v.version}'s support matrix lists Ampere (8.0) and "
            f"newer; {gpu.name} ({gpu.compute_capability}) has community support only",
            hint="expect build or kernel failures; vllm serves this GPU", path=("hardware", "gpu")))
    if plan.limits.max_model_len is None and plan.facts.context is None:
        out.append(warning(
            "tensorrt-llm-max-seq-len", "deployc does not know this model's context length: trtllm-build "
            "takes max_seq_len from config.json, but keeps its default max_input_len of 1024, so longer "
            "prompts are refused", hint="set limits.max_model_len (or model.facts.max_position_embeddings)",
            path=("model", "source")))
    return out


def check_serving(plan: Plan, opts: TensorRtLlmOptions) -> list[Diagnostic]:
    """Settings the scripts and the Triton repository cannot write as given."""
    out: list[Diagnostic] = []
    m = plan.model
    if opts.max_batch_size is not None and plan.limits.max_concurrency is not None:
        out.append(error(
            "tensorrt-llm-max-batch-size", "targets.tensorrt-llm.max_batch_size restates limits.max_concurrency",
            hint="keep one of them", path=("targets", NAME, "max_batch_size")))
    repo = repository_name(m.served_name)
    if not _MODEL_NAME.match(repo) or repo in (*triton.PYTHON_MODELS, triton.ENGINE_MODEL):
        out.append(error(
            "tensorrt-llm-served-name", f"served name {m.served_name!r} names the Triton ensemble model and the "
            f"engine folder ({repo!r}), which must be a folder name (letters, digits, '.', '_', '-', up to 128) "
            "other than preprocessing, postprocessing and tensorrt_llm",
            hint="set model.served_name to another name", path=("model", "served_name")))
    if opts.image is not None:
        out.append(error("tensorrt-llm-image", "the tensorrt-llm target writes scripts, not a container file",
                         hint="run build.sh and launch.sh inside the Triton TensorRT-LLM image of your "
                              "choice; remove targets.tensorrt-llm.image", path=("targets", NAME, "image")))
    out += check_ports(plan, opts)
    for key, value in (("source", m.source), ("tokenizer", m.tokenizer)):
        if value and is_local(value) and value.startswith("~"):
            out.append(error("tensorrt-llm-home-path", "build.sh quotes every path, so ~ would not expand",
                             hint="write the path from / or relative to the spec", path=("model", key)))
    return out


def check_memory(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmVersion) -> list[Diagnostic]:
    """Prompts longer than one step's tokens, and weights that leave no room for the KV cache."""
    out: list[Diagnostic] = []
    if shapes(plan, opts, v).chunked_context:
        out.append(warning(
            "tensorrt-llm-chunked-context", "prompts may be longer than max_batch_tokens: Triton prefills them "
            "in chunks (enable_chunked_context), but trtllm-serve 0.19 has no flag for that and rejects them",
            hint="raise limits.max_batch_tokens to max_input_tokens if you use serve.sh",
            path=("limits", "max_batch_tokens")))
    return out + check_memory_fraction(plan)


def check_ports(plan: Plan, opts: TensorRtLlmOptions) -> list[Diagnostic]:
    """Triton's three ports, and listen addresses deployc can write."""
    out: list[Diagnostic] = []
    grpc, metrics = triton_ports(plan, opts)
    ports = {"server.port": plan.server.port, "grpc_port": grpc, "metrics_port": metrics}
    if len(set(ports.values())) < 3:
        out.append(error("tensorrt-llm-ports", "Triton's HTTP, gRPC and metrics ports must differ: "
                         + ", ".join(f"{key} {port}" for key, port in ports.items()),
                         hint="set targets.tensorrt-llm.grpc_port and metrics_port to free ports",
                         path=("targets", NAME)))
    if ":" in plan.server.host:
        out.append(error("tensorrt-llm-host", "deployc writes Triton's listen addresses for IPv4 and host "
                         "names only", hint="use 0.0.0.0, 127.0.0.1 or a host name", path=("server", "host")))
    return out


def check_memory_fraction(plan: Plan) -> list[Diagnostic]:
    """Weights that leave no room for the KV cache within memory_utilization."""
    fraction, w = kv_fraction(plan)
    if fraction is None or fraction > 0:
        return []
    gpu = plan.hardware.gpu
    return [error(
        "tensorrt-llm-memory", f"the weights take about {w:.1f} GiB per GPU, more than "
        f"memory_utilization {plan.hardware.memory_utilization:g} of {gpu.memory_gib:g} GiB leaves",
        hint="raise parallelism.tensor, quantize, or raise hardware.memory_utilization",
        path=("hardware", "memory_utilization"))]


def check_args(opts: TensorRtLlmOptions, v: TrtLlmVersion) -> list[Diagnostic]:
    """Extra trtllm-build args: none may restate what the table derives (argparse also reads unambiguous
    prefixes), and each must be a trtllm-build option of the pinned release."""
    owners = BUILD.owners(v)
    out = BUILD.conflicts(opts.args, v, NAME)
    known = v.options["trtllm-build"]["options"]
    for i, token in enumerate(opts.args):
        flag = token.split("=", 1)[0]
        if flag.startswith("--") and not any(k.startswith(flag[2:]) for k in known) and flag not in owners:
            out.append(error("tensorrt-llm-args-unknown", f"{flag} is not a trtllm-build flag of "
                             f"TensorRT-LLM {v.version}", hint="see `trtllm-build --help` of that release",
                             path=("targets", NAME, "args", i)))
    return out
