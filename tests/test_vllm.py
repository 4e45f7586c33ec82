"""The vLLM target's mapping decisions, asserted on the exact argv, files and diagnostics."""

from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

from conftest import codes


def argv(out) -> list[str]:
    return out["command"]


def flag(out, name):
    a = argv(out)
    return a[a.index(name) + 1] if name in a else None


def test_minimal_spec_writes_only_what_the_deployment_needs(specs):
    out = specs.build("vllm", source="example/model")
    assert argv(out) == ["vllm", "serve", "example/model", "--served-model-name", "model",
                         "--host", "0.0.0.0", "--port", "8000"]
    assert [(d["option"], d["setting"], d["value"]) for d in out["derived"]] == [
        ("--served-model-name", "model.served_name", "model"), ("--host", "server.host", "0.0.0.0"),
        ("--port", "server.port", "8000")]
    assert out["derived"][0]["why"].endswith("every target serves the model under the same name")


def test_without_max_concurrency_or_memory_utilization_vllm_keeps_its_own(specs, cli):
    # Qwen2.5-0.5B (catalog) on an H100 at its 32k context: the cache holds 197 full sequences, but the
    # cap stays vLLM's own default (1024 on this GPU), which the plan states, and so does the memory share.
    out = specs.build("vllm")
    assert flag(out, "--max-num-seqs") is None and flag(out, "--gpu-memory-utilization") is None
    assert flag(specs.build("vllm", "limits:\n  max_concurrency: 7\n"), "--max-num-seqs") == "7"
    plan = json.loads(cli("plan", specs.write(), "--target", "vllm", "--json").stdout)["targets"]["vllm"]
    notes = plan["assumptions"]
    assert any(n.startswith("vLLM 0.34.0: --gpu-memory-utilization 1 (the engine's default: "
                            "hardware.memory_utilization is unset, nothing is written); batch 8192 tokens, 1024 "
                            "sequences at most (the engine's default: limits.max_concurrency is unset)") for n in notes), notes
    assert any(n.startswith("vLLM 0.34.0 admits up to 1024 running sequences by default, while the KV cache holds "
                            "197 of the full max_model_len 32768") for n in notes), notes


@pytest.mark.parametrize("quant, emitted", [
    ("awq", None), ("gptq", None), ("int4", None), ("int8", None),  # pre-quantized: vLLM detects and upgrades
    ("fp8", "fp8"), ("none", None),
])
def test_quantization_flag_only_where_vllm_does_not_detect_it(specs, quant, emitted):
    out = specs.build("vllm", f"precision:\n  quantization: {quant}\n", source="example/model")
    assert flag(out, "--quantization") == emitted
    assert "-q" not in argv(out)


def test_fp8_on_a_known_16_bit_checkpoint_uses_the_online_spelling_of_the_version(specs):
    fp8 = "precision:\n  quantization: fp8\n"
    assert flag(specs.build("vllm", fp8), "--quantization") == "fp8_per_tensor"
    assert flag(specs.build("vllm", fp8, options="{version: 0.11.2}"), "--quantization") == "fp8"
    # DeepSeek-V3's config.json declares fp8: vLLM reads it, `fp8` matches it.
    out = specs.build("vllm", fp8 + "parallelism:\n  tensor: 8\nhardware:\n  gpu: H200\n",
                source="deepseek-ai/DeepSeek-V3")
    assert flag(out, "--quantization") == "fp8"


def test_bitsandbytes_and_gguf_exist_only_in_0_11(specs):
    out = specs.build("vllm", "precision:\n  quantization: bitsandbytes\n", expect=1)
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("target-unsupported", 6, 17)
    assert "vLLM 0.34.0 cannot express bitsandbytes quantization" in d["message"]
    assert "targets.vllm.version: 0.11.2" in d["hint"]
    out = specs.build("vllm", "precision:\n  quantization: bitsandbytes\n", options="{version: 0.11.2}")
    assert flag(out, "--quantization") == "bitsandbytes"
    out = specs.build("vllm", "precision:\n  quantization: gguf\n", options="{version: 0.11.2}", expect=1)
    assert codes(out) == [("vllm-gguf", 6, 17)]
    out = specs.build("vllm", "precision:\n  quantization: gguf\n", options="{version: 0.11.2}",
                model="  gguf: ./qwen-q4_k_m.gguf\n")
    assert argv(out)[:5] == ["vllm", "serve", "./qwen-q4_k_m.gguf", "--tokenizer", "Qwen/Qwen2.5-0.5B-Instruct"]


@pytest.mark.parametrize("version, gpu, quant, ok", [
    ("0.11.2", "T4", "fp8", False), ("0.33.0", "T4", "fp8", True), ("0.33.0", "V100-32GB", "fp8", False),
    ("0.33.0", "V100-32GB", "awq", False), ("0.33.0", "V100-32GB", "gptq", True), ("0.11.2", "A100-80GB", "fp8", True),
])
def test_quantization_kernels_need_a_recent_enough_gpu(specs, version, gpu, quant, ok):
    out = specs.build("vllm", f"precision:\n  dtype: float16\n  quantization: {quant}\nhardware:\n  gpu: {gpu}\n",
                options=f"{{version: {version}}}", expect=0 if ok else 1, source="example/model")
    if not ok:
        assert codes(out) == [("vllm-quantization-gpu", 7, 17)]


def test_dtype_auto_becomes_float16_on_a_t4_and_bf16_aliases_normalize(specs):
    assert flag(specs.build("vllm", "hardware:\n  gpu: T4\n"), "--dtype") == "float16"
    assert flag(specs.build("vllm", "precision:\n  dtype: bf16\n"), "--dtype") == "bfloat16"
    assert flag(specs.build("vllm", "precision:\n  dtype: half\n"), "--dtype") == "float16"


def test_limits_map_to_vllm_flags_and_max_output_caps_requests(specs):
    out = specs.build("vllm", "limits:\n  max_model_len: 16384\n  max_output_tokens: 2048\n"
                                "  max_concurrency: 64\n  max_batch_tokens: 4096\n")
    assert flag(out, "--max-model-len") == "16384"
    assert flag(out, "--max-num-seqs") == "64"
    assert flag(out, "--max-num-batched-tokens") == "4096"
    assert json.loads(flag(out, "--override-generation-config")) == {"max_new_tokens": 2048}


def test_parallelism_flags(specs):
    out = specs.build("vllm", "parallelism:\n  tensor: 2\n  pipeline: 2\n  data: 2\n")
    assert [flag(out, f) for f in ("--tensor-parallel-size", "--pipeline-parallel-size", "--data-parallel-size")] \
        == ["2", "2", "2"]
    compose = YAML(typ="safe").load(out["artifacts"][1]["content"])
    [svc] = compose["services"].values()
    assert svc["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": 8, "capabilities": ["gpu"]}]


def test_lora_adapters_rank_and_json_modules(specs, tmp_path):
    (tmp_path / "a" / "big").mkdir(parents=True)
    (tmp_path / "a" / "big" / "adapter_config.json").write_text(json.dumps({"r": 8, "rank_pattern": {"q_proj": 96}}))
    out = specs.build("vllm", model="  adapters:\n    - {name: big, source: ./a/big}\n    - {name: hub, source: org/lora}\n")
    a = argv(out)
    i = a.index("--lora-modules")
    assert a[i - 1] == "--enable-lora"
    assert [json.loads(x) for x in a[i + 1:i + 3]] == [{"name": "big", "path": "./a/big"},
                                                        {"name": "hub", "path": "org/lora"}]
    assert flag(out, "--max-loras") == "2"
    assert flag(out, "--max-lora-rank") == "128", "smallest vLLM choice >= the rank_pattern maximum 96"
    compose = out["artifacts"][1]["content"]
    assert '{"name":"big","path":"/deployc/adapters/big"}' in compose
    assert "../../a/big:/deployc/adapters/big:ro" in compose


def test_lora_rank_above_what_vllm_serves_is_an_error(specs):
    out = specs.build("vllm", model="  adapters:\n    - name: huge\n      source: org/lora\n      rank: 1024\n",
                expect=1)
    assert codes(out) == [("vllm-lora-rank", 8, 13)]


def test_max_input_tokens_vllm_cannot_express_is_an_error_unless_implied(specs):
    out = specs.build("vllm", "limits:\n  max_model_len: 8192\n  max_input_tokens: 4096\n", expect=1)
    assert codes(out) == [("target-unsupported", 7, 21)]
    specs.build("vllm", "limits:\n  max_model_len: 8192\n  max_input_tokens: 8191\n")


@pytest.mark.parametrize("arg, conflict", [
    ("--max-model-len=9", True), ("--max_model_len", True), ("--max-model", True), ("-tp", True), ("-tp4", True),
    ("--no-trust-remote-code", True), ("--disable-lora", True), ("--api-key", True), ("-q", True),
    ("--enable-prefix-caching", True), ("--disable-chunked-prefill", True), ("--hf-overrides={}", True),
    ("--disable-log-stats", False), ("--max-cpu-loras=2", False), ("--seed=1", False),
])
def test_args_that_restate_spec_settings_are_errors(specs, arg, conflict):
    out = specs.build("vllm", options=f"{{args: [{json.dumps(arg)}]}}", expect=1 if conflict else 0)
    if conflict:
        assert codes(out) == [("target-args-conflict", 6, 17)]
    else:
        assert argv(out)[-1] == arg


@pytest.mark.parametrize("version, arg", [("0.33.0", "--task"), ("0.33.0", "--swap-space"), ("0.11.2", "--preemption-mode"),
                                          ("0.33.0", "--disable-log-requests"), ("0.11.2", "-O3")])
def test_flags_the_pinned_version_dropped_are_errors(specs, version, arg):
    out = specs.build("vllm", options=f"{{version: {version}, args: [{json.dumps(arg)}]}}", expect=1)
    assert [d["code"] for d in out["diagnostics"]] == ["target-args-stale"]


def test_api_key_travels_by_name_only(specs):
    out = specs.build("vllm", "server:\n  api_key_env: MY_KEY\n")
    assert "--api-key" not in argv(out)
    script, compose = (a["content"] for a in out["artifacts"])
    assert 'export VLLM_API_KEY="${MY_KEY:?set MY_KEY to the API key}"' in script
    env = YAML(typ="safe").load(compose)["services"]["demo"]["environment"]
    assert env == ["HF_TOKEN", "VLLM_API_KEY=${MY_KEY:?set MY_KEY to the API key}"]


def test_host_binds_the_published_port_and_the_engine_listens_inside(specs):
    out = specs.build("vllm", "server:\n  host: 127.0.0.1\n  port: 9000\n")
    assert flag(out, "--host") == "127.0.0.1"
    svc = YAML(typ="safe").load(out["artifacts"][1]["content"])["services"]["demo"]
    assert svc["ports"] == ["127.0.0.1:9000:9000"]
    assert svc["command"][svc["command"].index("--host") + 1] == "0.0.0.0"
    assert "http://localhost:9000/health" in svc["healthcheck"]["test"][-1]
    out = specs.build("vllm", "server:\n  host: ::1\n")
    assert YAML(typ="safe").load(out["artifacts"][1]["content"])["services"]["demo"]["ports"] == ["[::1]:8000:8000"]
    out = specs.build("vllm", "server:\n  host: gpu-box.internal\n", expect=1)
    assert codes(out) == [("server-host-container", 6, 9)]


def test_versions_pin_their_images(specs):
    for version in ("0.33.0", "0.11.2"):
        out = specs.build("vllm", options=f"{{version: {version}}}")
        assert out["version"] == version
        assert f"image: vllm/vllm-openai:v{version}\n" in out["artifacts"][1]["content"]
        assert f"vLLM {version}." in out["artifacts"][0]["content"].splitlines()[1]
    out = specs.build("vllm", options="{image: 'registry.example.com/vllm:custom-1'}")
    assert "image: registry.example.com/vllm:custom-1\n" in out["artifacts"][1]["content"]


def test_amd_gpus_need_an_image_and_get_rocm_devices(specs):
    out = specs.build("vllm", "hardware:\n  gpu: MI300X\n", expect=1)
    assert codes(out) == [("target-rocm-image", 6, 8)]
    out = specs.build("vllm", "hardware:\n  gpu: MI300X\n", options="{image: 'vllm/vllm-openai-rocm:v0.33.0'}")
    svc = YAML(typ="safe").load(out["artifacts"][1]["content"])["services"]["demo"]
    assert svc["devices"] == ["/dev/kfd", "/dev/dri"] and "deploy" not in svc


@pytest.mark.parametrize("version, gpu, limits, error_at", [
    ("0.33.0", "L40S", "max_concurrency: 4096", ("max_concurrency", "2048, its default on L40S")),
    ("0.33.0", "H100-80GB", "max_concurrency: 4096", None),  # 8192 by default at >= 70 GiB
    ("0.33.0", "A100-80GB", "max_concurrency: 4096", ("max_concurrency", "2048, its default on A100-80GB")),
    ("0.33.0", "B200", "max_concurrency: 12000", None),  # 16384 at >= 160 GiB since 0.33
    ("0.11.2", "B200", "max_concurrency: 12000", ("max_concurrency", "8192, its default on B200")),
    ("0.33.0", "H100-80GB", "max_concurrency: 512\n  max_batch_tokens: 256", ("max_batch_tokens", "(256)")),
])
def test_batch_tokens_must_cover_concurrency_as_vllm_requires(specs, version, gpu, limits, error_at):
    out = specs.build("vllm", f"hardware:\n  gpu: {gpu}\nlimits:\n  {limits}\n", options=f"{{version: {version}}}",
                expect=1 if error_at else 0)
    if error_at:
        [d] = out["diagnostics"]
        assert d["code"] == "vllm-batch-tokens" and error_at[1] in d["message"]
        line = 8 if error_at[0] == "max_concurrency" else 9
        assert (d["line"], d["column"]) == (line, len(f"  {error_at[0]}: ") + 1)


def test_env_may_not_set_the_api_key_behind_the_spec_and_hf_token_is_passed_once(specs):
    out = specs.build("vllm", options="{env: {VLLM_API_KEY: '${OTHER}'}}", expect=1)
    assert codes(out) == [("target-env-conflict", 6, 16)]
    out = specs.build("vllm", options="{env: {HF_TOKEN: '${MY_HF_TOKEN}'}}")
    env = YAML(typ="safe").load(out["artifacts"][1]["content"])["services"]["demo"]["environment"]
    assert env == ["HF_TOKEN=${MY_HF_TOKEN}"]


@pytest.mark.parametrize("args, expected", [
    (["--enable-prefx-caching"], [("target-args-unknown", "--enable-prefx-caching is not an option of vLLM 0.34.0",
                                   "did you mean --enable-prefix-caching?")]),
    (["--tool-parser", "hermes"], [("target-args-abbreviated", "--tool-parser is not an option of vLLM 0.34.0: its "
                                    "parser expands it to --tool-parser-plugin",
                                    "write --tool-parser-plugin in full, or did you mean --tool-call-parser?")]),
    # the parsers are spec settings now (model.tool_parser): restating one in args is a conflict
    (["--tool-call-parser", "herms"], [("target-args-conflict", "--tool-call-parser in targets.vllm.args restates "
                                        "model.tool_parser, which deployc derives from the spec", "")]),
    (["--enable-p"], [("target-args-ambiguous", "--enable-p is an ambiguous abbreviation for vLLM 0.34.0",
                       "write one of ")]),
    (["--frobnicate", "7", "--seed", "1"], [("target-args-unknown", "--frobnicate is not an option of vLLM 0.34.0",
                                             "see `--help` of vLLM 0.34.0")]),
    (["stray"], [("target-args-positional", "'stray' in targets.vllm.args is not an option of vLLM 0.34.0, and vLLM "
                  "takes no further positional arguments", "give each option before its value")]),
    (["--disable-log-stats", "--seed=7"], []),
    # removed in 0.11.1 (vllm#28006): refused with the replacement, not sent to a vLLM that rejects it at start
    (["--rope-scaling", '{"rope_type": "yarn", "factor": 4}'], [(
        "target-args-stale", "--rope-scaling is not a flag of the pinned version: removed in 0.11.1 (vllm#28006); "
        "set rope_scaling in the model's config.json or pass --hf-overrides '{\"rope_scaling\": {...}}'",
        "remove it from args")]),
])
def test_extra_args_are_checked_against_the_versions_own_option_table(specs, args, expected):
    """targets/vllm/engine_options/<version>.json is vLLM's own parser, extracted: every extra arg is read
    against it, at the token's YAML position (vLLM's parser takes any --tool-call-parser and fails at launch)."""
    out = specs.build("vllm", "", "{args: " + json.dumps(args) + "}", expect=1 if expected else 0)
    got = [(d["code"], d["message"], d["hint"]) for d in out["diagnostics"]]
    assert [(c, m) for c, m, _ in got] == [(c, m) for c, m, _ in expected]
    assert all(h.startswith(e) for (_, _, h), (_, _, e) in zip(got, expected))
    assert all(d["line"] == 6 and d["column"] == 17 for d in out["diagnostics"])


def test_an_option_only_another_version_has_says_which():
    from deployc.compiler.api import ARGPARSE, check_args
    from deployc.targets.vllm.options import engine_table

    [d] = check_args(["--calculate-kv-scales"], engine_table("0.33.0"), "vLLM", "vllm", ARGPARSE,
                     others=[engine_table("0.11.2")])
    assert d.message == "--calculate-kv-scales is not an option of vLLM 0.33.0 (0.11.2 has it)"


def test_a_patch_release_of_a_known_minor_is_pinned_as_asked_and_read_with_its_tables(specs):
    out = specs.build("vllm", "", "{version: 0.33.2, args: [--swap-space, '4']}", expect=1)
    assert [(d["code"], d["message"]) for d in out["diagnostics"]] == [
        ("target-version-patch", "vLLM 0.33.2 is written from what deployc read of 0.33.0 (its flags, defaults and "
                                 "option table)"),
        ("target-args-stale", "--swap-space is not a flag of the pinned version: removed in 0.33")]
    out = specs.build("vllm", "", "{version: 0.33.2}")
    assert out["version"] == "0.33.2"
    files = {a["path"]: a["content"] for a in out["artifacts"]}
    assert "image: vllm/vllm-openai:v0.33.2\n" in files["compose.yaml"]
    assert "`pip install vllm==0.33.2`" in files["serve.sh"]
    out = specs.build("vllm", "", "{version: 0.35.1}", expect=1)
    assert [(d["code"], d["hint"]) for d in out["diagnostics"]] == [
        ("target-version", "supported: 0.34.0, 0.33.0, 0.11.2 (and any other patch release of those minor versions)")]
