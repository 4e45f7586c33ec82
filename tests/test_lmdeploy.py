"""The LMDeploy target's mapping decisions, asserted on the exact argv and diagnostics."""

from __future__ import annotations

import pytest

from conftest import codes


def flag(out, name):
    a = out["command"]
    return a[a.index(name) + 1] if name in a else None


def test_minimal_spec(specs):
    out = specs.build("lmdeploy", source="example/model")
    assert out["command"] == ["lmdeploy", "serve", "api_server", "example/model", "--model-name", "model",
                              "--backend", "turbomind", "--server-name", "0.0.0.0", "--server-port", "8000"]


def test_memory_utilization_becomes_a_share_of_what_is_free_after_the_weights(specs):
    # Qwen2.5-0.5B (catalog) on an H100: f = (0.9 x M - W) / (M - W), rounded down to 0.01
    assert flag(specs.build("lmdeploy"), "--cache-max-entry-count") is None   # unset: LMDeploy's own 0.8
    assert flag(specs.build("lmdeploy", "hardware:\n  gpu: H100-80GB\n  memory_utilization: 0.9\n"),
                "--cache-max-entry-count") == "0.89"
    out = specs.build("lmdeploy", "hardware:\n  gpu: L4\n  memory_utilization: 0.5\n")
    assert flag(out, "--cache-max-entry-count") == "0.47"


@pytest.mark.parametrize("sections, model, options, backend", [
    ("", "", "{}", "turbomind"),                                              # Qwen2ForCausalLM is in TurboMind's list
    ("", "  adapters: [{name: sql, source: org/sql-lora}]\n", "{}", "pytorch"),  # --adapters: PyTorch only
    ("", "", "{backend: pytorch}", "pytorch"),
    ("", "", "{device: ascend, image: 'registry.example/lmdeploy:ascend-a2'}", "pytorch"),
])
def test_backend(specs, sections, model, options, backend):
    out = specs.build("lmdeploy", sections, options, model=model)
    assert flag(out, "--backend") == backend


def test_gemma2_is_pytorch_only(specs):
    out = specs.build("lmdeploy", source="google/gemma-2-9b-it")
    assert flag(out, "--backend") == "pytorch"
    assert "TurboMind 0.18.0 does not list Gemma2ForCausalLM" in out["artifacts"][0]["content"]
    out = specs.build("lmdeploy", options="{backend: turbomind}", source="google/gemma-2-9b-it", expect=1)
    assert [c for c, *_ in codes(out)] == ["lmdeploy-backend"]


def test_limits_precision_and_parsers(specs):
    out = specs.build("lmdeploy", "precision:\n  quantization: awq\n  kv_cache_dtype: fp8\nlimits:\n"
                      "  max_model_len: 8192\n  max_concurrency: 16\n  max_batch_tokens: 4096\n",
                      "{tool_parser: qwen, reasoning_parser: deepseek-r1}", source="example/model")
    for name, value in (("--model-format", "awq"), ("--quant-policy", "fp8"), ("--session-len", "8192"),
                        ("--max-batch-size", "16"), ("--max-prefill-token-num", "4096"),
                        ("--tool-call-parser", "qwen"), ("--reasoning-parser", "deepseek-r1")):
        assert flag(out, name) == value, name


def test_old_version_spells_int8_kv_and_refuses_fp8(specs):
    out = specs.build("lmdeploy", options="{version: 0.9.2.post1, kv_quant: int8}", source="example/model")
    assert flag(out, "--quant-policy") == "8"
    out = specs.build("lmdeploy", options="{version: 0.9.2.post1, kv_quant: fp8}", source="example/model", expect=1)
    assert [c for c, *_ in codes(out)] == ["lmdeploy-kv-quant"]


def test_api_key_is_an_argument_with_the_process_list_caveat(specs):
    out = specs.build("lmdeploy", "server:\n  api_key_env: MY_KEY\n", source="example/model")
    serve = next(a["content"] for a in out["artifacts"] if a["path"] == "serve.sh")
    assert serve.rstrip().endswith('--api-keys "${MY_KEY:?set MY_KEY to the API key}"')
    assert "process list" in serve
    assert "--api-keys" not in out["command"]


@pytest.mark.parametrize("args, code", [
    (["--session-len", "4096"], "target-args-conflict"),     # restates limits.max_model_len
    (["--sess", "4096"], "target-args-conflict"),            # argparse abbreviation of the same
    (["--api-keys", "x"], "target-args-conflict"),
    (["--max-log", "100"], "target-args-abbreviated"),       # argparse would expand it to --max-log-len
    (["--no-such-flag"], "target-args-unknown"),
    (["--log-level", "LOUD"], "target-args-choice"),
])
def test_extra_args_are_read_as_lmdeploys_parser_reads_them(specs, args, code):
    out = specs.build("lmdeploy", options="{args: %s}" % args, source="example/model", expect=1)
    assert code in [c for c, *_ in codes(out)]


def test_unknown_parser_names_the_registered_ones(specs):
    """LMDeploy takes any --tool-call-parser string and fails at launch: deployc checks its registry."""
    out = specs.build("lmdeploy", options="{tool_parser: qwen25}", source="example/model", expect=1)
    d = out["diagnostics"][0]
    assert (d["code"], d["line"], d["column"]) == ("parser-unknown", 6, 27)
    assert d["message"] == "LMDeploy 0.18.0 has no tool-call parser 'qwen25'"
    assert d["hint"].startswith("did you mean qwen2d5 or qwen or qwen3? LMDeploy 0.18.0 registers: deepseek-v32, ")


def test_non_cuda_device_needs_an_image_and_writes_no_compose(specs):
    out = specs.build("lmdeploy", options="{device: ascend}", source="example/model", expect=1)
    assert "lmdeploy-image" in [c for c, *_ in codes(out)]
    out = specs.build("lmdeploy", options="{device: ascend, image: 'r.example/lmdeploy:a2'}", source="example/model")
    assert [a["path"] for a in out["artifacts"]] == ["serve.sh"] and flag(out, "--device") == "ascend"


def test_an_owned_option_and_an_unknown_one_are_both_said_at_their_items(specs):
    # restated options were once passed where check_args takes the owners: a traceback, not diagnostics
    out = specs.build("lmdeploy", options="{args: [--tp, '2', --sesion-len, '5']}", source="example/model", expect=1)
    assert codes(out) == [("target-args-conflict", 6, 21), ("target-args-unknown", 6, 32)]
