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
}

UNSUPPORTED = "unsupported"
EXPECTED: dict[tuple[str, str], set[Capability]] = {  # (target, version) -> features it cannot express
    ("vllm", "0.33.0"): {Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF},
    ("vllm", "0.11.2"): set(),
    ("xinference", "4.1.0"): {Capability.CUSTOM_TOKENIZER, Capability.CHAT_TEMPLATE,
                              Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_INT8, Capability.QUANT_INT4,
                              Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF},
    ("xinference", "1.17.1"): {Capability.CUSTOM_TOKENIZER, Capability.CHAT_TEMPLATE,
                               Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_INT8, Capability.QUANT_INT4,
                               Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF, Capability.API_KEY},
}

# Options a target needs besides version to build the minimal spec (flow-mapping entries).
OPTIONS: dict[str, str] = {
    "xinference": ", model_family: qwen2.5-instruct, size_in_billions: 0.5",  # custom registration needs both
}


def test_every_feature_and_target_version_has_a_row():
    assert set(FEATURE_SPECS) == set(FEATURES) == set(Capability)
    pairs = {(name, v) for name in REGISTRY.names for v in REGISTRY.load(name)[0].versions}
    assert pairs == set(EXPECTED), "add the new target/version to EXPECTED"


@pytest.mark.parametrize("feature", list(FEATURE_SPECS), ids=lambda c: c.value)
@pytest.mark.parametrize("target, version", sorted(EXPECTED), ids=lambda x: str(x))
def test_capability_outcome(target, version, feature, tmp_path):
    model_lines, sections = FEATURE_SPECS[feature]
    text = (MINIMAL.replace("  source: Qwen/Qwen2.5-0.5B-Instruct\n", "  source: Qwen/Qwen2.5-0.5B-Instruct\n"
                            + model_lines)
            .replace("targets:\n  vllm: {}\n", sections + f"targets:\n  {target}: {{version: '{version}'{OPTIONS.get(target, '')}}}\n"))
    path = tmp_path / "deploy.yaml"
    path.write_text(text)
    compiled = load_spec(path, "deploy.yaml")
    assert compiled.ok, [d.render() for d in compiled.diagnostics]
    result = compile_target(compiled, REGISTRY, target, BuildContext("../..", "deploy.yaml", "0" * 64))
    unsupported = [d for d in result.diagnostics if d.code == "target-unsupported"]
    outcome = UNSUPPORTED if unsupported else "ok"
    assert outcome == (UNSUPPORTED if feature in EXPECTED[(target, version)] else "ok"), result.diagnostics
    if unsupported:
        key = FEATURES[feature].path[-1]
        line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.strip().startswith(f"{key}:"))
        assert unsupported[0].line == line, "the diagnostic points at the feature's YAML key"
    else:
        assert result.ok, [d.render() for d in result.diagnostics]
