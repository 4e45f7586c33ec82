"""Capability table: each spec feature -> what each target (at each version) does with it.

"ok" means the target expresses it; "unsupported" means a target-unsupported
diagnostic at the feature's YAML key. A new target adds its column here.
"""

from __future__ import annotations

import pytest

from deployc.compiler.driver import compile_spec as load_spec, compile_target
from deployc.compiler.registry import Registry
from deployc.compiler.api.target import FEATURES, BuildContext, Capability
from conftest import spec_text

REGISTRY = Registry.discover()

# feature -> YAML inserted before `targets:`; model lines go under `model:`.
FEATURE_SPECS: dict[Capability, tuple[str, str]] = {
    Capability.TENSOR_PARALLEL: ("", "parallelism:\n  tensor: 2\n"),
    Capability.PIPELINE_PARALLEL: ("", "parallelism:\n  pipeline: 2\n"),
    Capability.DATA_PARALLEL: ("", "parallelism:\n  data: 2\n"),
    Capability.REVISION: ("  revision: main\n", ""),
    Capability.CUSTOM_TOKENIZER: ("  tokenizer: org/tokenizer\n", ""),
    Capability.REMOTE_CODE: ("  trust_remote_code: true\n", ""),
    Capability.CHAT_TEMPLATE: ("  chat_template: ./t.jinja\n", ""),
    Capability.LORA: ("  adapters: [{name: a, source: org/lora}]\n", ""),
    Capability.API_KEY: ("", "server:\n  api_key_env: KEY\n"),
    Capability.KV_CACHE_FP8: ("", "precision:\n  kv_cache_dtype: fp8\n"),
    Capability.MAX_CONCURRENCY: ("", "limits:\n  max_concurrency: 8\n"),
    Capability.MAX_BATCH_TOKENS: ("", "limits:\n  max_batch_tokens: 4096\n"),
    Capability.MAX_OUTPUT_TOKENS: ("", "limits:\n  max_output_tokens: 512\n"),
    Capability.QUANT_FP8: ("", "precision:\n  quantization: fp8\n"),
    Capability.QUANT_AWQ: ("", "precision:\n  quantization: awq\n"),
    Capability.QUANT_GPTQ: ("", "precision:\n  quantization: gptq\n"),
    Capability.QUANT_INT8: ("", "precision:\n  quantization: int8\n"),
    Capability.QUANT_INT4: ("", "precision:\n  quantization: int4\n"),
    Capability.QUANT_BITSANDBYTES: ("", "precision:\n  quantization: bitsandbytes\n"),
    Capability.QUANT_GGUF: ("  gguf: ./m.gguf\n", "precision:\n  quantization: gguf\n"),
    Capability.ATTENTION_DATA_PARALLEL: ("", "parallelism:\n  data: 2\n  data_mode: attention\n"),
    Capability.EXPERT_PARALLEL: ("", "parallelism:\n  tensor: 2\n  expert: 2\n"),
    Capability.QUANT_MXFP4: ("", "precision:\n  quantization: mxfp4\n"),
    Capability.QUANT_NVFP4: ("", "precision:\n  quantization: nvfp4\nhardware:\n  gpu: B200\n"),   # Blackwell
    Capability.MULTI_NODE: ("", "parallelism:\n  tensor: 2\n  nodes: 2\n"),
    Capability.MAX_INPUT_TOKENS: ("", "limits:\n  max_model_len: 4096\n  max_input_tokens: 1000\n"),
    Capability.AMD_GPU: ("", "hardware:\n  gpu: MI300X\n"),
    # auto on a model whose family deployc does not know is an error of its own (parser-auto-family),
    # never target-unsupported: the outcome here is only whether the target takes the feature at all.
    Capability.TOOL_PARSER: ("  tool_parser: auto\n", ""),
    Capability.REASONING_PARSER: ("  reasoning_parser: auto\n", ""),
    Capability.PREFIX_CACHING: ("", "cache:\n  prefix_caching: true\n"),
    Capability.CHUNKED_PREFILL: ("", "cache:\n  chunked_prefill: true\n"),
    Capability.ROPE_SCALING: ("  rope_scaling: {rope_type: linear, factor: 2.0}\n", ""),
    Capability.MAX_LORAS: ("  adapters: [{name: a, source: org/lora}]\n", "limits:\n  max_loras: 1\n"),
    Capability.MM_PER_PROMPT: ("", "limits:\n  mm_per_prompt: {image: 2}\n"),
    Capability.SPECULATIVE: ("", "speculative: {method: ngram, num_tokens: 3}\n"),
}

UNSUPPORTED = "unsupported"
EXPECTED: dict[tuple[str, str], set[Capability]] = {  # (target, version) -> features it cannot express
    ("vllm", "0.33.0"): {Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF, Capability.MAX_INPUT_TOKENS},
    ("vllm", "0.11.2"): {Capability.MAX_INPUT_TOKENS},
    ("vllm", "0.34.0"): {Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF, Capability.MAX_INPUT_TOKENS},
    **{("ollama", v): {Capability.ATTENTION_DATA_PARALLEL, Capability.EXPERT_PARALLEL, Capability.QUANT_MXFP4, Capability.QUANT_NVFP4, Capability.PREFIX_CACHING, Capability.CHUNKED_PREFILL, Capability.ROPE_SCALING, Capability.MAX_LORAS, Capability.MM_PER_PROMPT, Capability.TENSOR_PARALLEL, Capability.PIPELINE_PARALLEL, Capability.DATA_PARALLEL,
                       Capability.REVISION, Capability.CUSTOM_TOKENIZER, Capability.REMOTE_CODE,
                       Capability.CHAT_TEMPLATE, Capability.API_KEY, Capability.QUANT_FP8,
                       Capability.QUANT_AWQ, Capability.QUANT_GPTQ, Capability.QUANT_BITSANDBYTES}
       | {Capability.MULTI_NODE, Capability.MAX_INPUT_TOKENS} | extra
       for v, extra in (("0.32.15", set()), ("0.12.11", {Capability.SPECULATIVE}))},
    ("tensorrt-llm", "1.2.1"): {Capability.ROPE_SCALING, Capability.MM_PER_PROMPT, Capability.DATA_PARALLEL, Capability.API_KEY, Capability.MAX_OUTPUT_TOKENS,
                                Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF,
                                Capability.MULTI_NODE, Capability.AMD_GPU, Capability.MAX_INPUT_TOKENS},
    ("tensorrt-llm", "0.19.0"): {Capability.ATTENTION_DATA_PARALLEL, Capability.EXPERT_PARALLEL, Capability.QUANT_MXFP4, Capability.QUANT_NVFP4, Capability.SPECULATIVE, Capability.PREFIX_CACHING, Capability.CHUNKED_PREFILL, Capability.ROPE_SCALING, Capability.MAX_LORAS, Capability.MM_PER_PROMPT, Capability.TOOL_PARSER, Capability.REASONING_PARSER, Capability.DATA_PARALLEL, Capability.REMOTE_CODE, Capability.CHAT_TEMPLATE,
                                 Capability.LORA, Capability.API_KEY, Capability.MAX_OUTPUT_TOKENS,
                                 Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF, Capability.MULTI_NODE,
                                 Capability.AMD_GPU},
    **{("tgi", v): {Capability.ATTENTION_DATA_PARALLEL, Capability.EXPERT_PARALLEL, Capability.QUANT_MXFP4, Capability.QUANT_NVFP4, Capability.PREFIX_CACHING, Capability.CHUNKED_PREFILL, Capability.MAX_LORAS, Capability.MM_PER_PROMPT, Capability.REASONING_PARSER, Capability.PIPELINE_PARALLEL, Capability.DATA_PARALLEL, Capability.CUSTOM_TOKENIZER,
                    Capability.CHAT_TEMPLATE, Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_INT8,
                    Capability.QUANT_INT4, Capability.QUANT_GGUF, Capability.MULTI_NODE, Capability.AMD_GPU}
       for v in ("3.3.7", "2.4.1")},
    **{("sglang", v): {Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF,
                       Capability.MAX_INPUT_TOKENS} | extra
       for v, extra in (("0.5.23", set()), ("0.4.10.post2", {Capability.QUANT_MXFP4, Capability.MM_PER_PROMPT}))},
    ("xinference", "4.1.0"): {Capability.ATTENTION_DATA_PARALLEL, Capability.QUANT_MXFP4, Capability.QUANT_NVFP4, Capability.SPECULATIVE, Capability.PREFIX_CACHING, Capability.CHUNKED_PREFILL, Capability.ROPE_SCALING, Capability.MAX_LORAS, Capability.MM_PER_PROMPT, Capability.REASONING_PARSER, Capability.CUSTOM_TOKENIZER, Capability.CHAT_TEMPLATE,
                              Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_INT8, Capability.QUANT_INT4,
                              Capability.QUANT_BITSANDBYTES, Capability.MAX_INPUT_TOKENS, Capability.AMD_GPU},
    ("xinference", "1.17.1"): {Capability.ATTENTION_DATA_PARALLEL, Capability.QUANT_MXFP4, Capability.QUANT_NVFP4, Capability.SPECULATIVE, Capability.PREFIX_CACHING, Capability.CHUNKED_PREFILL, Capability.ROPE_SCALING, Capability.MAX_LORAS, Capability.MM_PER_PROMPT, Capability.REASONING_PARSER, Capability.CUSTOM_TOKENIZER, Capability.CHAT_TEMPLATE,
                               Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_INT8, Capability.QUANT_INT4,
                               Capability.QUANT_BITSANDBYTES, Capability.API_KEY,
                               Capability.MAX_INPUT_TOKENS, Capability.AMD_GPU},
    **{("lmdeploy", v): {Capability.ATTENTION_DATA_PARALLEL, Capability.EXPERT_PARALLEL, Capability.QUANT_MXFP4, Capability.QUANT_NVFP4, Capability.SPECULATIVE, Capability.CHUNKED_PREFILL, Capability.ROPE_SCALING, Capability.MAX_LORAS, Capability.MM_PER_PROMPT, Capability.PIPELINE_PARALLEL, Capability.DATA_PARALLEL, Capability.CUSTOM_TOKENIZER,
                         Capability.CHAT_TEMPLATE, Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_INT8,
                         Capability.QUANT_INT4, Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF,
                         Capability.MULTI_NODE, Capability.MAX_INPUT_TOKENS, Capability.AMD_GPU}
       | extra for v, extra in (("0.18.0", set()), ("0.9.2.post1", {Capability.REMOTE_CODE, Capability.KV_CACHE_FP8}))},
    **{("llama-cpp", v): {Capability.ATTENTION_DATA_PARALLEL, Capability.EXPERT_PARALLEL, Capability.QUANT_MXFP4, Capability.QUANT_NVFP4, Capability.SPECULATIVE, Capability.PREFIX_CACHING, Capability.CHUNKED_PREFILL, Capability.MAX_LORAS, Capability.MM_PER_PROMPT, Capability.DATA_PARALLEL, Capability.REVISION, Capability.CUSTOM_TOKENIZER,
                          Capability.REMOTE_CODE, Capability.LORA, Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_FP8,
                          Capability.QUANT_AWQ, Capability.QUANT_GPTQ, Capability.QUANT_INT8, Capability.QUANT_INT4,
                          Capability.QUANT_BITSANDBYTES, Capability.MULTI_NODE, Capability.MAX_INPUT_TOKENS}
       for v in ("b10454", "b9976")},
}

# Lines a target needs under model: to build at all (Ollama loads a GGUF file, not a hub id, and
# needs a known context).
BASE_MODEL: dict[str, str] = {"ollama": "  gguf: ./base.gguf\n  facts: {max_position_embeddings: 4096}\n",
                              "llama-cpp": "  gguf: ./base.gguf\n",
                              "tensorrt-llm": "  facts: {max_position_embeddings: 4096}\n"}
# Target options a target needs to build at all (TensorRT-LLM picks its converter by model family;
# XInference registers a custom model).
TARGET_OPTIONS: dict[str, str] = {
    "tensorrt-llm": ", family: qwen",
    "xinference": ", model_family: qwen2.5-instruct, size_in_billions: 0.5",  # custom registration needs both
}
# Targets that serve AMD GPUs from an image the user names (deployc pins no ROCm image for them).
ROCM_IMAGE_OPTION = {"vllm": ", image: 'rocm/vllm:rocm6.4.1_vllm_0.10.1'", "sglang": ", image: 'lmsysorg/sglang:v0.5.2-rocm630'"}
# A target's own spelling of a feature, where the generic one cannot work for it (Ollama imports local adapters).
FEATURE_OVERRIDES: dict[tuple[str, Capability], tuple[str, str]] = {
    ("ollama", Capability.LORA): ("  adapters: [{name: a, source: ./lora}]\n", ""),
    # trtllm-serve 1.x loads an adapter from a path on the server (a request's lora_path)
    ("tensorrt-llm", Capability.LORA): ("  adapters: [{name: a, source: ./lora}]\n", ""),
    # vLLM 0.33 on writes rope_theta with the scaling (it replaces rope_parameters whole)
    ("vllm", Capability.ROPE_SCALING): ("  rope_scaling: {rope_type: linear, factor: 2.0}\n"
                                           "  facts: {rope_theta: 10000}\n", ""),
    ("ollama", Capability.SPECULATIVE): ("", "speculative: {method: draft, model: ./draft.gguf}\n"),
    ("sglang", Capability.SPECULATIVE): ("", "speculative: {method: eagle3, model: org/head, num_tokens: 3}\n"),
    # TensorRT-LLM's NGram needs max_matching_ngram_size (its default 0 matches nothing)
    ("tensorrt-llm", Capability.SPECULATIVE): ("", "speculative: {method: ngram, num_tokens: 3, ngram: {max: 4}}\n"),
    ("ollama", Capability.MAX_LORAS): ("  adapters: [{name: a, source: ./lora}]\n", "limits:\n  max_loras: 1\n"),
    ("tensorrt-llm", Capability.MAX_LORAS): ("  adapters: [{name: a, source: ./lora}]\n",
                                             "limits:\n  max_loras: 1\n"),
    # the model is one no family table knows: engines that take parser names get a registered one
    **{(target, cap): (f"  {key}: {name}\n", "")
       for target, names in {"vllm": ("hermes", "qwen3"), "sglang": ("qwen25", "qwen3"),
                             "lmdeploy": ("qwen", "deepseek-r1"), "tensorrt-llm": ("qwen3", "qwen3")}.items()
       for cap, key, name in ((Capability.TOOL_PARSER, "tool_parser", names[0]),
                              (Capability.REASONING_PARSER, "reasoning_parser", names[1]))},
}


def test_every_feature_and_target_version_has_a_row():
    assert set(FEATURE_SPECS) == set(FEATURES) == set(Capability)
    pairs = {(name, v) for name in REGISTRY.names for v in REGISTRY.load(name)[0].versions}
    assert pairs == set(EXPECTED), "add the new target/version to EXPECTED"


@pytest.mark.parametrize("feature", list(FEATURE_SPECS), ids=lambda c: c.value)
@pytest.mark.parametrize("target, version", sorted(EXPECTED), ids=lambda x: str(x))
def test_capability_outcome(target, version, feature, tmp_path):
    model_lines, sections = FEATURE_OVERRIDES.get((target, feature), FEATURE_SPECS[feature])
    base = BASE_MODEL.get(target, "")
    if "gguf:" in model_lines:  # the feature brings its own
        base = "".join(ln + "\n" for ln in base.splitlines() if "gguf:" not in ln)
    # A model the facts catalog does not know: capabilities must not hinge on checkpoint facts.
    options = TARGET_OPTIONS.get(target, "") + (ROCM_IMAGE_OPTION.get(target, "") if feature is Capability.AMD_GPU
                                                 else "")
    text = spec_text(target, sections, f"{{version: '{version}'{options}}}", model=base + model_lines,
                     source="example/model")
    path = tmp_path / "deploy.yaml"
    path.write_text(text)
    compiled = load_spec(path, "deploy.yaml")
    assert compiled.ok, [d.render() for d in compiled.diagnostics]
    result = compile_target(compiled, REGISTRY, target, BuildContext("../..", "deploy.yaml", "0" * 64))
    # (a target may also refuse what the feature's spelling needs, e.g. Ollama and tensor: 2 for nodes: 2)
    unsupported = [d for d in result.diagnostics if d.code == "target-unsupported"
                   and FEATURES[feature].what in d.message]
    outcome = UNSUPPORTED if unsupported else "ok"
    assert outcome == (UNSUPPORTED if feature in EXPECTED[(target, version)] else "ok"), result.diagnostics
    if unsupported:
        key = FEATURES[feature].path[-1]
        line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.strip().startswith(f"{key}:"))
        assert unsupported[0].line == line, "the diagnostic points at the feature's YAML key"
    else:
        assert result.ok, [d.render() for d in result.diagnostics]


@pytest.mark.parametrize("target", sorted(ROCM_IMAGE_OPTION))
def test_an_amd_gpu_without_an_image_is_one_core_diagnostic(target, tmp_path):
    """Targets that pin only a CUDA image need the user's ROCm image on an AMD GPU: the core says so for
    every target in one code, at hardware.gpu."""
    path = tmp_path / "deploy.yaml"
    path.write_text(spec_text(target, "hardware:\n  gpu: MI300X\n"))
    compiled = load_spec(path, "deploy.yaml")
    result = compile_target(compiled, REGISTRY, target, BuildContext("../..", "deploy.yaml", "0" * 64))
    title = REGISTRY.load(target)[0].title
    version = next(iter(REGISTRY.load(target)[0].versions))
    assert [d.render() for d in result.diagnostics] == [
        f"deploy.yaml:6:8: error[target-rocm-image]: MI300X needs {title}'s ROCm build; deployc pins only the "
        f"CUDA image of {title} {version}\n  hint: set targets.{target}.image to a ROCm {title} image pinned by tag"]
