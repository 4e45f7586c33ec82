"""FP4 checkpoint families and declared quantization methods (issue 20, item 5): what each engine is told,
the bits the plan counts, and the GPU each engine's kernels need (with the fallback the engine has)."""

from __future__ import annotations

import json

import pytest

from conftest import UNKNOWN_MODEL

R1_FP4 = "nvidia/DeepSeek-R1-FP4"          # a ModelOpt NVFP4 derivative of a catalog model (4-bit, named -FP4)
LLAMA_FP8 = "nvidia/Llama-3.1-8B-Instruct-FP8"   # ModelOpt FP8 (quant_method modelopt, 8-bit)


def diags(out):
    return [(d["severity"], d["code"], d["line"], d["column"], d["message"]) for d in out["diagnostics"]
            if d["code"] not in ("model-facts-derived", "server-open")]


def plan_notes(cli, spec, target):
    return json.loads(cli("plan", spec, "--target", target, "--json").stdout)["targets"][target]["assumptions"]


def test_a_declared_nvfp4_checkpoint_is_planned_at_its_real_bits(specs, cli):
    spec = specs.write("vllm", "parallelism:\n  tensor: 8\nlimits:\n  max_model_len: 32768\nhardware:\n  gpu: B200\n",
                       source=R1_FP4)
    notes = plan_notes(cli, spec, "vllm")
    assert notes[0] == "weights: 671.03B parameters, linear layers at 4.50 bits (nvfp4), embeddings 16-bit"


def test_nvfp4_below_blackwell_states_each_engines_fallback_or_refuses(specs):
    sections = "parallelism:\n  tensor: 8\nlimits:\n  max_model_len: 32768\nhardware:\n  gpu: H100-80GB\n"
    vllm = specs.build("vllm", sections, source=R1_FP4)
    assert diags(vllm) == [(
        "warning", "quantization-fallback", 4, 11, "vLLM 0.34.0 runs nvfp4 natively from compute capability 10.0; "
        "on H100-80GB (9.0) it runs NVFP4 weights through Marlin W4A16, activations 16-bit (utils/marlin_utils_fp4.py"
        ":32-33 is_fp4_marlin_supported, cc 7.5+)")]
    assert "--quantization" not in vllm["command"]          # vLLM reads modelopt_fp4 from the checkpoint
    sglang = specs.build("sglang", sections, source=R1_FP4)
    assert [d[1] for d in diags(sglang)] == ["quantization-fallback"]
    assert "--fp4-gemm-backend auto picks Marlin W4A16" in diags(sglang)[0][4]
    old = specs.build("sglang", sections, "{version: 0.4.10.post2}", source=R1_FP4, expect=1)
    assert diags(old) == [("error", "quantization-gpu", 4, 11, "SGLang 0.4.10.post2's nvfp4 kernels need compute "
                           "capability 10.0 or newer; H100-80GB has 9.0")]
    trt = specs.build("tensorrt-llm", sections, source=R1_FP4, expect=1)
    assert [d[1:4] for d in diags(trt)] == [("tensorrt-llm-fp4-gpu", 4, 11)]
    # TGI has no FP4 kernels at all: refused at model.source, since the checkpoint (not the spec) says nvfp4
    tgi = specs.build("tgi", sections, source=R1_FP4, expect=1)
    assert diags(tgi) == [("error", "target-unsupported", 4, 11,
                           "TGI 3.3.7 cannot express nvfp4 weights (model.source)")]


@pytest.mark.parametrize("target", ["ollama", "xinference", "lmdeploy", "llama-cpp", "tgi"])
def test_targets_without_fp4_kernels_refuse_the_spec_key_with_a_hint(specs, target):
    model = {"ollama": "  gguf: ./m.gguf\n", "llama-cpp": "  gguf: ./m.gguf\n"}.get(target, "")
    options = "{model_family: qwen2.5-instruct, size_in_billions: 7}" if target == "xinference" else "{}"
    out = specs.build(target, "precision:\n  quantization: mxfp4\n", options, model=model, source=UNKNOWN_MODEL,
                      expect=1)
    [d] = [d for d in out["diagnostics"] if d["code"] == "target-unsupported"]
    assert (d["line"], d["column"]) == (6 + model.count("\n"), 17)
    assert d["message"].endswith("cannot express mxfp4 weights (precision.quantization)")
    assert "vllm" in d["hint"] or "sglang" in d["hint"] or "GGUF" in d["hint"]


def test_fp4_on_a_16_bit_checkpoint_is_an_error(specs):
    out = specs.build("vllm", "precision:\n  quantization: nvfp4\nhardware:\n  gpu: B200\n", expect=1)
    [d] = [d for d in out["diagnostics"] if d["code"] == "precision-quant-checkpoint"]
    assert d["message"].startswith("quantization nvfp4 needs a checkpoint quantized with NVFP4")


def test_fp8_below_ada_runs_weight_only_through_marlin(specs):
    out = specs.build("vllm", "precision:\n  quantization: fp8\nhardware:\n  gpu: A100-80GB\n")
    assert [(d[1], d[4].split(";")[0]) for d in diags(out)] == [
        ("quantization-fallback", "vLLM 0.34.0 runs fp8 natively from compute capability 8.9")]
    assert "Marlin" in diags(out)[0][4]
    assert [d[1] for d in diags(specs.build("vllm", "precision:\n  quantization: fp8\nhardware:\n  gpu: L40S\n"))] == []


def test_mxfp4_needs_ampere_in_vllm(specs):
    out = specs.build("vllm", "precision:\n  quantization: mxfp4\nhardware:\n  gpu: T4\n", source=UNKNOWN_MODEL,
                      expect=1)
    assert ("error", "quantization-gpu", 6, 17, "vLLM 0.34.0's mxfp4 kernels need compute capability 8.0 or newer; "
            "T4 has 7.5") in diags(out)


def test_a_modelopt_fp8_checkpoint_is_told_nothing_it_declares_itself(specs):
    for target, flag in (("vllm", "--quantization"), ("sglang", "--quantization")):
        out = specs.build(target, "precision:\n  quantization: fp8\n", source=LLAMA_FP8)
        assert flag not in out["command"], target
