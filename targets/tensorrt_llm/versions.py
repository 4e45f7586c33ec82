"""What deployc knows about each pinned TensorRT-LLM release: data, not if-statements.

0.19.0, with its Triton backend release tensorrtllm_backend v0.19.0:
  tensorrtllm_backend tag v0.19.0 = commit c1e19638304d287f554f738c1411746555ed348c, whose
  tensorrt_llm submodule pins TensorRT-LLM commit c6f7d423354214df818e206e87680fb2d513a718.

Where each fact comes from (read, never copied):
- Triton model repository (exact, from the v0.19.0 tag): all_models/inflight_batcher_llm/
  {preprocessing,tensorrt_llm,postprocessing,ensemble}/config.pbtxt (tensor interface extracted
  into triton_io.json by conformance/extract_trtllm_tables.py), */1/model.py (which parameters the
  Python models require: preprocessing reads tokenizer_dir and multimodal_model_path with [],
  model.py:63-69), docs/model_config.md (parameter meanings; kv_cache_free_gpu_mem_fraction is
  "the maximum fraction of GPU memory (after loading the model) that may be used for KV cache",
  max_tokens_in_paged_kv_cache caps it, the KV cache takes the min of both),
  scripts/launch_triton_server.py get_cmd (the mpirun/tritonserver argv launch.sh writes out:
  one `-n 1 tritonserver` per rank, rank > 0 with --model-control-mode=explicit
  --load-model=tensorrt_llm, every rank with --disable-auto-complete-config and
  --backend-config=python,shm-region-prefix-name=prefix{rank}_).
- TensorRT-LLM side: neither the release wheel (PyPI carries only a stub that redirects to
  NVIDIA's index) nor the git mirror (2.5 GB) is reachable here, so the option tables in
  cli_options.json come from the stored source files named there (commit per file) and the
  release's published command reference; tests check every emitted flag against them.
  * trtllm-build: tensorrt_llm/commands/build.py parse_arguments; plugin flags from
    tensorrt_llm/plugin/plugin.py add_plugin_argument (str plugins take auto|float16|float32|
    bfloat16|disable; bool features take enable|disable).
  * convert_checkpoint.py: examples/models/core/{llama,qwen}/convert_checkpoint.py (the llama
    one also converts Mistral); both read quantization_config.quant_method awq/gptq from the
    checkpoint's config.json and convert a pre-quantized checkpoint without extra flags
    (update_quant_config_from_hf); weight-only int8/int4 is --use_weight_only
    --weight_only_precision; only the llama converter has --fp8_kv_cache.
  * quantize.py: examples/quantization/quantize.py (ModelOpt): --qformat fp8|full_prec|...,
    --kv_cache_dtype fp8|int8, calibrates on cnn_dailymail from the Hub.
  * trtllm-serve: https://nvidia.github.io/TensorRT-LLM/0.18.2/commands/trtllm-serve.html and
    0.19.0rc0: `trtllm-serve [OPTIONS] MODEL`, MODEL may be a TensorRT engine folder, options
    --tokenizer --host --port --backend (pytorch; default: the C++/TensorRT path) --max_beam_width
    --max_batch_size --max_num_tokens --max_seq_len --tp_size --pp_size
    --kv_cache_free_gpu_memory_fraction --trust_remote_code. No --served_model_name: the API
    reports a local model folder by its base name (tensorrt_llm/serve/openai_server.py
    OpenAIServer.__init__: `self.model = model_dir.name`), so deployc names the engine folder
    after model.served_name.
- FP8 (weights or KV cache) needs Ada or Hopper: the support matrix gives FP8 for Hopper (SM90)
  and Ada Lovelace (SM89), not for Ampere (SM80, SM86), and lists nothing older than Ampere
  ("community support") - https://nvidia.github.io/TensorRT-LLM/0.18.2/reference/support-matrix.html
  (the page of the release before 0.19.0; deployc found no 0.19.0 hardware table to read).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from compiler.target_api import Capability

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Family:
    """A model family: which converter script handles it and what that converter can do."""

    converter: str                  # examples/models/core/<converter>/convert_checkpoint.py
    architectures: tuple[str, ...]  # config.json `architectures` it converts
    fp8_kv_flag: bool               # the converter has --fp8_kv_cache


FAMILIES: dict[str, Family] = {
    "llama": Family("llama", ("LlamaForCausalLM",), fp8_kv_flag=True),
    "mistral": Family("llama", ("MistralForCausalLM",), fp8_kv_flag=True),
    "qwen": Family("qwen", ("Qwen2ForCausalLM",), fp8_kv_flag=False),
}

# Hub ids whose family is plain from the repo name (case-insensitive search in "org/name").
# First match wins; "" means "looks like a family name but is another architecture".
HUB_FAMILIES: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"mixtral|vision|llama-?4|-vl\b", re.I), ""),  # MoE / multimodal: other converters
    (re.compile(r"llama", re.I), "llama"),
    (re.compile(r"mistral", re.I), "mistral"),
    (re.compile(r"qwen2|qwq|distill-qwen", re.I), "qwen"),
)


@dataclass(frozen=True)
class TrtLlmVersion:
    version: str
    commit: str
    backend_tag: str
    backend_commit: str
    capabilities: frozenset[Capability]
    # trtllm-build defaults deployc spells out when the spec leaves them open
    # (BuildConfig.max_num_tokens = 8192; the batch size is deployc's choice, see __init__).
    default_max_batch_size: int
    default_max_num_tokens: int
    fp8_min_sm: float
    logits_datatype: str
    encoder_input_features_data_type: str
    executor_worker_path: str

    @property
    def options(self) -> dict:
        return cli_options(self.version)

    def triton_io(self) -> dict:
        return triton_io(self.version)


@lru_cache(maxsize=None)
def cli_options(version: str) -> dict:
    return json.loads((HERE / "cli_options.json").read_text(encoding="utf-8"))[version]


@lru_cache(maxsize=None)
def triton_io(version: str) -> dict:
    data = json.loads((HERE / "triton_io.json").read_text(encoding="utf-8"))
    return data["models"]


VERSIONS: dict[str, TrtLlmVersion] = {
    "0.19.0": TrtLlmVersion(
        version="0.19.0",
        commit="c6f7d423354214df818e206e87680fb2d513a718",
        backend_tag="v0.19.0",
        backend_commit="c1e19638304d287f554f738c1411746555ed348c",
        capabilities=frozenset({
            Capability.TENSOR_PARALLEL, Capability.PIPELINE_PARALLEL, Capability.REVISION,
            Capability.CUSTOM_TOKENIZER, Capability.KV_CACHE_FP8, Capability.MAX_CONCURRENCY,
            Capability.MAX_BATCH_TOKENS, Capability.QUANT_FP8, Capability.QUANT_AWQ, Capability.QUANT_GPTQ,
            Capability.QUANT_INT8, Capability.QUANT_INT4,
        }),
        default_max_batch_size=256,
        default_max_num_tokens=8192,
        fp8_min_sm=8.9,
        # the values the backend's own docs/llama.md fills in (fill_template.py line)
        logits_datatype="TYPE_FP32",
        encoder_input_features_data_type="TYPE_FP16",
        # tensorrt_llm/config.pbtxt, parameter executor_worker_path (a constant in the template)
        executor_worker_path="/opt/tritonserver/backends/tensorrtllm/trtllmExecutorWorker",
    ),
}
