"""The Triton model repository for in-flight batching: four config.pbtxt files.

preprocessing (Python: tokenize) -> tensorrt_llm (C++ backend: the engine) -> postprocessing
(Python: detokenize), chained by an ensemble named after model.served_name, so clients call
/v2/models/<served_name>/generate. The tensor interface (names, types, shapes, ensemble
wiring) is the backend release's own, extracted into triton_io.json; everything deployc
decides is set here, by value, through the typed serializer in pbtxt.py. A parameter the
spec does not decide is left out, never left as a ${placeholder}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployc.targets.tensorrt_llm.pbtxt import Enum, Map, dumps
from deployc.targets.tensorrt_llm.versions import TrtLlmVersion

ENUM_FIELDS = ("data_type", "kind")
PYTHON_MODELS = ("preprocessing", "postprocessing")
ENGINE_MODEL = "tensorrt_llm"


@dataclass(frozen=True)
class Repository:
    """What the model repository is made of; paths are relative to launch.sh's folder."""

    ensemble: str
    max_batch_size: int
    decoupled: bool
    queue_delay_us: int
    max_queue_size: int | None
    engine_dir: str
    tokenizer_dir: str
    kv_cache_free_gpu_mem_fraction: float | None   # None: the backend's own default (0.9)
    max_tokens_in_paged_kv_cache: int | None
    chunked_context: bool
    tokenizer_instances: int


def _typed(node: Any, key: str | None = None) -> Any:
    """JSON from triton_io.json -> serializer values (enums bare, int64 dims as ints)."""
    if isinstance(node, dict):
        if key in ("input_map", "output_map"):
            return Map(node)
        return {k: _typed(v, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_typed(v, key) for v in node]
    if key in ENUM_FIELDS and isinstance(node, str):
        return Enum(node)
    if key in ("dims", "shape", "model_version") and isinstance(node, str):
        return int(node)
    return node


def _io(version: TrtLlmVersion, model: str) -> dict[str, Any]:
    fill = {"@logits_datatype": version.logits_datatype,
            "@encoder_input_features_data_type": version.encoder_input_features_data_type}

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return fill.get(node, node) if isinstance(node, str) else node

    io = version.triton_io()[model]
    return {k: _typed(resolve(io[k]), k) for k in ("input", "output", "ensemble_scheduling") if k in io}


def _params(values: dict[str, str]) -> Map:
    return Map({k: {"string_value": v} for k, v in values.items()})


def _batching(repo: Repository) -> dict[str, Any]:
    out: dict[str, Any] = {"preferred_batch_size": [repo.max_batch_size],
                           "max_queue_delay_microseconds": repo.queue_delay_us}
    if repo.max_queue_size is not None:
        out["default_queue_policy"] = {"max_queue_size": repo.max_queue_size}
    return out


def configs(repo: Repository, version: TrtLlmVersion, header: str) -> dict[str, str]:
    """model name -> config.pbtxt text."""
    out: dict[str, dict[str, Any]] = {}
    pre = _io(version, "preprocessing")
    out["preprocessing"] = {
        "name": "preprocessing", "backend": "python", "max_batch_size": repo.max_batch_size,
        "dynamic_batching": _batching(repo), **pre,
        # model.py reads tokenizer_dir and multimodal_model_path with [] (both must exist); "" = text only
        "parameters": _params({"tokenizer_dir": repo.tokenizer_dir, "add_special_tokens": "true",
                               "multimodal_model_path": "", "gpt_model_path": repo.engine_dir}),
        "instance_group": [{"count": repo.tokenizer_instances, "kind": Enum("KIND_CPU")}],
    }
    engine_params = {
        "max_beam_width": "1",
        "FORCE_CPU_ONLY_INPUT_TENSORS": "no",
        "gpt_model_type": "inflight_fused_batching",
        "gpt_model_path": repo.engine_dir,
        "batch_scheduler_policy": "guaranteed_no_evict",
        "exclude_input_in_output": "true",
        "enable_kv_cache_reuse": "false",
        "enable_chunked_context": "true" if repo.chunked_context else "false",
        "executor_worker_path": version.executor_worker_path,
    }
    if repo.kv_cache_free_gpu_mem_fraction is not None:
        engine_params["kv_cache_free_gpu_mem_fraction"] = f"{repo.kv_cache_free_gpu_mem_fraction:g}"
    if repo.max_tokens_in_paged_kv_cache is not None:
        engine_params["max_tokens_in_paged_kv_cache"] = str(repo.max_tokens_in_paged_kv_cache)
    out[ENGINE_MODEL] = {
        "name": ENGINE_MODEL, "backend": "tensorrtllm", "max_batch_size": repo.max_batch_size,
        "model_transaction_policy": {"decoupled": repo.decoupled},
        "dynamic_batching": _batching(repo), **_io(version, ENGINE_MODEL),
        "instance_group": [{"count": 1, "kind": Enum("KIND_CPU")}],
        "parameters": _params(engine_params),
    }
    out["postprocessing"] = {
        "name": "postprocessing", "backend": "python", "max_batch_size": repo.max_batch_size,
        "dynamic_batching": {}, **_io(version, "postprocessing"),
        "parameters": _params({"tokenizer_dir": repo.tokenizer_dir, "skip_special_tokens": "true"}),
        "instance_group": [{"count": repo.tokenizer_instances, "kind": Enum("KIND_CPU")}],
    }
    ens = _io(version, "ensemble")
    out[repo.ensemble] = {"name": repo.ensemble, "platform": "ensemble", "max_batch_size": repo.max_batch_size,
                          "input": ens["input"], "output": ens["output"],
                          "ensemble_scheduling": ens["ensemble_scheduling"]}
    return {name: dumps(message, header) for name, message in out.items()}
