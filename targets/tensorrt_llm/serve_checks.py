"""TensorRT-LLM 1.x checks (trtllm-serve on the PyTorch backend), in the order their diagnostics appear:
the quantization and the GPU, the served name and the adapters, Triton's ports, the weights against the
memory, and the extra `args` against the version's trtllm-serve table."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from deployc.compiler import api
from deployc.compiler.api import Diagnostic, EngineOptions, Plan, error, is_local, warning
from deployc.targets.tensorrt_llm import modelopt
from deployc.targets.tensorrt_llm.checks import check_memory_fraction, check_ports
from deployc.targets.tensorrt_llm.engine import NAME, TITLE
from deployc.targets.tensorrt_llm.llmapi import SERVE
from deployc.targets.tensorrt_llm.options import TensorRtLlmOptions
from deployc.targets.tensorrt_llm.versions import HERE, VERSIONS, TrtLlmServeVersion


@cache
def table(version: str) -> EngineOptions:
    return EngineOptions.load(HERE / "engine_options" / f"{version}.json")


@cache
def stale(version: str) -> dict[str, str]:
    """trtllm-build flags (0.19.0's `args`) that trtllm-serve of this version does not take: what to do."""
    import json
    old = json.loads(Path(HERE / "engine_options" / "0.19.0.json").read_text(encoding="utf-8"))
    serve = table(version).by_spelling
    return {flag: f"a trtllm-build flag; TensorRT-LLM {version} builds no engine (pin targets.{NAME}.version: "
                  "0.19.0 for the engine build, or give trtllm-serve flags)"
            for flag in old["commands"]["trtllm-build"]["options"] if flag not in serve}


def check(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmServeVersion) -> list[Diagnostic]:
    out = check_quantization(plan, opts, v) + check_speculative(plan, v) + check_serving(plan, opts, v)
    out += check_ports(plan, opts)
    out += check_memory_fraction(plan)
    others = [table(k) for k, o in VERSIONS.items() if isinstance(o, TrtLlmServeVersion) and k != v.data_version]
    out += api.check_args(opts.args, table(v.data_version), "trtllm-serve", NAME, api.CLICK, SERVE.owners(v),
                          others, stale(v.data_version))
    return out


def check_speculative(plan: Plan, v: TrtLlmServeVersion) -> list[Diagnostic]:
    """What 1.2.1's speculative_config cannot express (llm_args.py, engine_options/1.2.1.json llm_api): EAGLE-1
    (decoding_type Eagle is EAGLE 3 on the PyTorch backend: features/speculative-decoding.html), a draft tree
    (EagleDecodingConfig's trees are "still under development, PLEASE DO NOT USE IT" and need
    max_total_draft_tokens), a draft TP size or revision (no such field), a prompt-lookup minimum (NGram has only
    max_matching_ngram_size, whose default 0 matches nothing), and an unset draft length where no class has a
    default (EagleDecodingConfig raises "max_draft_len is required for Eagle"; DraftTarget and NGram copy it)."""
    s = plan.speculative
    if s is None:
        return []
    out: list[Diagnostic] = []
    where = f"{TITLE} {v.version}"
    if s.method == "eagle":
        out.append(error("tensorrt-llm-speculative-method", f"{where}'s PyTorch backend runs EAGLE 3 heads "
                         "(speculative_config decoding_type Eagle), not EAGLE-1", path=("speculative", "method"),
                         hint="use method: eagle3 with an EAGLE 3 head, or leave tensorrt-llm out of targets"))
    elif s.num_tokens is None and s.method in ("eagle3", "draft", "ngram"):
        out.append(error("tensorrt-llm-speculative-tokens", f"{where} needs max_draft_len for {s.method}: its "
                         "decoding config has no default", path=("speculative", "method"),
                         hint="set speculative.num_tokens (tokens proposed per step, e.g. 3)"))
    if s.topk is not None and s.topk > 1:
        out.append(error("tensorrt-llm-speculative-topk", f"{where} drafts one chain: its draft trees need "
                         "max_total_draft_tokens, which deploy.yaml does not carry, and are marked not for use",
                         hint="remove speculative.topk (or set 1) for tensorrt-llm", path=("speculative", "topk")))
    if s.tensor is not None:
        out.append(error("tensorrt-llm-speculative-tensor", f"{where}'s speculative_config has no draft "
                         "tensor-parallel size: the drafter runs on the target's GPUs and mapping",
                         hint="remove speculative.tensor for tensorrt-llm", path=("speculative", "tensor")))
    if s.revision is not None:
        out.append(error("tensorrt-llm-speculative-revision", f"{where}'s speculative_config takes no draft "
                         "revision (speculative_model is a hub id or a path)", path=("speculative", "revision"),
                         hint="download that revision and point speculative.model at the folder"))
    if s.method == "ngram" and s.ngram.min is not None:
        out.append(error("tensorrt-llm-speculative-ngram", f"{where}'s NGram drafter has no minimum match "
                         "length (only max_matching_ngram_size)", hint="remove speculative.ngram.min for tensorrt-llm",
                         path=("speculative", "ngram", "min")))
    elif s.method == "ngram" and s.ngram.max is None:
        out.append(error("tensorrt-llm-speculative-ngram", f"{where}'s max_matching_ngram_size defaults to 0, "
                         "which matches no prompt suffix", path=("speculative", "method"),
                         hint="set speculative.ngram.max (e.g. 4, what TensorRT-LLM's example uses)"))
    return out


def check_quantization(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmServeVersion) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    p, gpu = plan.precision, plan.hardware.gpu
    decided = modelopt.decision(plan, opts)
    if decided is None:
        out.append(warning(
            "tensorrt-llm-quantize", f"quantization {p.quantization}: deployc cannot tell whether "
            f"{plan.model.source} is already quantized (no config.json was read) and {TITLE} {v.version} does not "
            "quantize while loading, so it quantizes it with ModelOpt first (quantize.sh)",
            path=("precision", "quantization"),
            hint=f"set targets.{NAME}.quantize: false if it is a pre-quantized checkpoint (true to silence this)"))
    elif opts.quantize and p.quantization not in modelopt.QFORMAT:
        out.append(error(
            "tensorrt-llm-quantize", f"targets.{NAME}.quantize asks for ModelOpt, but quantization is "
            f"{p.quantization}", hint="use quantization: fp8, int8, int4 or awq with quantize: true, or remove quantize",
            path=("targets", NAME, "quantize")))
    elif opts.quantize and plan.facts.quant_method is not None:
        out.append(error(
            "tensorrt-llm-quantize", f"{plan.model.source} is already quantized ({plan.facts.quant_method}, "
            f"{plan.facts.origin})", hint="remove quantize: true: the checkpoint is served as it is",
            path=("targets", NAME, "quantize")))
    fmt = plan.weight_format   # the checkpoint's own family counts when the spec says none
    checks = (("quantization", fmt == "fp8", v.fp8_min_sm, "FP8 weights"),
              ("quantization", fmt == "nvfp4", v.nvfp4_min_sm, "NVFP4 weights"),
              ("quantization", fmt == "mxfp4", v.mxfp4_min_sm, "MXFP4 weights"),
              ("kv_cache_dtype", p.kv_cache_dtype == "fp8", v.kv_fp8_min_sm, "an FP8 KV cache"))
    for key, used, need, what in checks:
        if used and gpu.sm is not None and gpu.sm < need:
            stated = key != "quantization" or p.quantization != "none"
            out.append(error(
                "tensorrt-llm-fp4-gpu" if "FP4" in what else "tensorrt-llm-fp8-gpu",
                f"{TITLE} {v.version} runs {what} on compute capability {need} and newer "
                f"(features/quantization.md, hardware matrix); {gpu.name} has {gpu.compute_capability}",
                hint=("use quantization: int4 (W4A16 AWQ) or none" if key == "quantization"
                      else "use kv_cache_dtype: auto") + " on this GPU",
                path=("precision", key) if stated else ("model", "source")))
    if gpu.vendor == "nvidia" and gpu.sm is not None and gpu.sm < v.min_sm:
        out.append(warning(
            "tensorrt-llm-gpu-untested", f"{TITLE} {v.version}'s quantization hardware matrix starts at Ampere "
            f"({v.min_sm}); {gpu.name} ({gpu.compute_capability}) is not listed",
            hint="expect kernel failures; vllm serves this GPU", path=("hardware", "gpu")))
    return out


def check_serving(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmServeVersion) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    par = plan.parallelism
    if plan.attention_dp and par.tensor > 1:
        out.append(error(
            "tensorrt-llm-attention-tensor", f"{TITLE}'s attention data parallelism runs attention whole on every "
            f"rank of --tp_size (enable_attention_dp): tensor {par.tensor} cannot shard it as well",
            hint=f"use tensor: 1 with data: {par.tensor * par.data} on the same GPUs",
            path=("parallelism", "tensor")))
    m = plan.model
    if opts.max_batch_size is not None and plan.limits.max_concurrency is not None:
        out.append(error("tensorrt-llm-max-batch-size", f"targets.{NAME}.max_batch_size restates "
                         "limits.max_concurrency", hint="keep one of them", path=("targets", NAME, "max_batch_size")))
    for i, adapter in enumerate(m.adapters):
        if not is_local(adapter.source):
            out.append(error(
                "tensorrt-llm-lora-source", f"adapter {adapter.name!r} comes from the Hub; trtllm-serve {v.version} "
                "loads an adapter from the lora_path a request names, on the server's filesystem",
                hint="download it (huggingface-cli download ID --local-dir DIR) and set source to that folder",
                path=("model", "adapters", i, "source")))
    if m.adapters:
        out.append(warning(
            "tensorrt-llm-lora-request", f"trtllm-serve {v.version} does not serve adapters under their own model "
            "names: a request picks one with extra_body {\"lora_request\": {\"lora_name\", \"lora_int_id\", "
            "\"lora_path\"}} (features/lora.html)", hint="send lora_request with the adapter's path as the server "
            "sees it (serve.sh: the path in trtllm-config.yaml; containers: /deployc/adapters/NAME)",
            path=("model", "adapters")))
    return out
