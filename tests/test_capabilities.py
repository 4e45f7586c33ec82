"""Capability table: each spec feature -> what each target (at each version) does with it.

"ok" means the target expresses it; "unsupported" means a target-unsupported
diagnostic at the feature's YAML key. A new target adds its column here.
"""

from __future__ import annotations

import pytest

from compiler.pipeline import compile_target, load_spec
from compiler.registry import Registry
from compiler.target_api import FEATURES, BuildContext, Capability
from conftest import MINIMAL

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
    Capability.MULTI_NODE: ("", "parallelism:\n  tensor: 2\n  nodes: 2\n"),
}

UNSUPPORTED = "unsupported"
EXPECTED: dict[tuple[str, str], set[Capability]] = {  # (target, version) -> features it cannot express
    ("vllm", "0.33.0"): {Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF},
    ("vllm", "0.11.2"): set(),
    **{("ollama", v): {Capability.TENSOR_PARALLEL, Capability.PIPELINE_PARALLEL, Capability.DATA_PARALLEL,
                       Capability.REVISION, Capability.CUSTOM_TOKENIZER, Capability.REMOTE_CODE,
                       Capability.CHAT_TEMPLATE, Capability.API_KEY, Capability.QUANT_FP8,
                       Capability.QUANT_AWQ, Capability.QUANT_GPTQ, Capability.QUANT_BITSANDBYTES}
       | {Capability.MULTI_NODE} for v in ("0.32.15", "0.12.11")},
    ("tensorrt-llm", "0.19.0"): {Capability.DATA_PARALLEL, Capability.REMOTE_CODE, Capability.CHAT_TEMPLATE,
                                 Capability.LORA, Capability.API_KEY, Capability.MAX_OUTPUT_TOKENS,
                                 Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF, Capability.MULTI_NODE},
    **{("tgi", v): {Capability.PIPELINE_PARALLEL, Capability.DATA_PARALLEL, Capability.CUSTOM_TOKENIZER,
                    Capability.CHAT_TEMPLATE, Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_INT8,
                    Capability.QUANT_INT4, Capability.QUANT_GGUF, Capability.MULTI_NODE} for v in ("3.3.7", "2.4.1")},
    ("sglang", "0.5.23"): {Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF},
    ("sglang", "0.4.10.post2"): {Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_BITSANDBYTES,
                                 Capability.QUANT_GGUF},
    ("xinference", "4.1.0"): {Capability.CUSTOM_TOKENIZER, Capability.CHAT_TEMPLATE,
                              Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_INT8, Capability.QUANT_INT4,
                              Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF},
    ("xinference", "1.17.1"): {Capability.CUSTOM_TOKENIZER, Capability.CHAT_TEMPLATE,
                               Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_INT8, Capability.QUANT_INT4,
                               Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF, Capability.API_KEY},
}

# Lines a target needs under model: to build at all (Ollama loads a GGUF file, not a hub id, and
# needs a known context).
BASE_MODEL: dict[str, str] = {"ollama": "  gguf: ./base.gguf\n  facts: {max_position_embeddings: 4096}\n",
                              "tensorrt-llm": "  facts: {max_position_embeddings: 4096}\n"}
# Target options a target needs to build at all (TensorRT-LLM picks its converter by model family;
# XInference registers a custom model).
TARGET_OPTIONS: dict[str, str] = {
    "tensorrt-llm": ", family: qwen",
    "xinference": ", model_family: qwen2.5-instruct, size_in_billions: 0.5",  # custom registration needs both
}
# A target's own spelling of a feature, where the generic one cannot work for it (Ollama imports local adapters).
FEATURE_OVERRIDES: dict[tuple[str, Capability], tuple[str, str]] = {
    ("ollama", Capability.LORA): ("  adapters: [{name: a, source: ./lora}]\n", ""),
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
    text = (MINIMAL.replace("  source: Qwen/Qwen2.5-0.5B-Instruct\n", "  source: example/model\n"
                            + base + model_lines)
            .replace("targets:\n  vllm: {}\n", sections + f"targets:\n  {target}: {{version: '{version}'{TARGET_OPTIONS.get(target, '')}}}\n"))
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
