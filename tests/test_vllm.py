"""The vLLM target's mapping decisions, asserted on the exact argv, files and diagnostics."""

from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

from conftest import MINIMAL, built_json


def build(cli, spec_file, extra: str = "", vllm: str = "{}", expect: int = 0, model: str = "",
          source: str = "Qwen/Qwen2.5-0.5B-Instruct"):
    """MINIMAL with `model` lines under model:, `extra` sections before targets:, and targets.vllm options.

    `source` other than the default (e.g. example/model, which the facts catalog does not know) keeps
    checkpoint facts and the memory plan out of a test about something else."""
    text = (MINIMAL.replace("  source: Qwen/Qwen2.5-0.5B-Instruct\n", f"  source: {source}\n" + model)
            .replace("targets:\n  vllm: {}\n", extra + f"targets:\n  vllm: {vllm}\n"))
    result = cli("build", spec_file(text), "--target", "vllm", "--json")
    out = built_json(result)
    assert result.exit_code == expect, out["diagnostics"]
    return out


def argv(out) -> list[str]:
    return out["command"]


def flag(out, name):
    a = argv(out)
    return a[a.index(name) + 1] if name in a else None


def codes(out):
    return [(d["code"], d["line"], d["column"]) for d in out["diagnostics"]]


def test_minimal_spec_spells_every_default_explicitly(cli, spec_file):
    out = build(cli, spec_file)
    out = build(cli, spec_file, source="example/model")
    assert argv(out) == ["vllm", "serve", "example/model", "--served-model-name", "model",
                         "--dtype", "auto", "--tensor-parallel-size", "1", "--gpu-memory-utilization", "0.9",
                         "--host", "0.0.0.0", "--port", "8000"]


def test_without_max_concurrency_the_memory_plan_sets_max_num_seqs(cli, spec_file):
    # Qwen2.5-0.5B (catalog) on an H100 at 2048 tokens: the KV cache holds far more than 1024 such
    # sequences, so vLLM's own default cap on that GPU is written out; at its full 32k context, what fits.
    assert flag(build(cli, spec_file, "limits:\n  max_model_len: 2048\n"), "--max-num-seqs") == "1024"
    assert flag(build(cli, spec_file), "--max-num-seqs") == "184"
    assert flag(build(cli, spec_file, "limits:\n  max_concurrency: 7\n"), "--max-num-seqs") == "7"


@pytest.mark.parametrize("quant, emitted", [
    ("awq", None), ("gptq", None), ("int4", None), ("int8", None),  # pre-quantized: vLLM detects and upgrades
    ("fp8", "fp8"), ("none", None),
])
def test_quantization_flag_only_where_vllm_does_not_detect_it(cli, spec_file, quant, emitted):
    out = build(cli, spec_file, f"precision:\n  quantization: {quant}\n", source="example/model")
    assert flag(out, "--quantization") == emitted
    assert "-q" not in argv(out)


def test_fp8_on_a_known_16_bit_checkpoint_uses_the_online_spelling_of_the_version(cli, spec_file):
    fp8 = "precision:\n  quantization: fp8\n"
    assert flag(build(cli, spec_file, fp8), "--quantization") == "fp8_per_tensor"
    assert flag(build(cli, spec_file, fp8, vllm="{version: 0.11.2}"), "--quantization") == "fp8"
    # DeepSeek-V3's config.json declares fp8: vLLM reads it, `fp8` matches it.
    out = build(cli, spec_file, fp8 + "parallelism:\n  tensor: 8\nhardware:\n  gpu: H200\n",
                source="deepseek-ai/DeepSeek-V3")
    assert flag(out, "--quantization") == "fp8"


def test_bitsandbytes_and_gguf_exist_only_in_0_11(cli, spec_file):
    out = build(cli, spec_file, "precision:\n  quantization: bitsandbytes\n", expect=1)
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("target-unsupported", 6, 17)
    assert "vLLM 0.33.0 cannot express bitsandbytes quantization" in d["message"]
    assert "targets.vllm.version: 0.11.2" in d["hint"]
    out = build(cli, spec_file, "precision:\n  quantization: bitsandbytes\n", vllm="{version: 0.11.2}")
    assert flag(out, "--quantization") == "bitsandbytes"
    out = build(cli, spec_file, "precision:\n  quantization: gguf\n", vllm="{version: 0.11.2}", expect=1)
    assert codes(out) == [("vllm-gguf", 6, 17)]
    out = build(cli, spec_file, "precision:\n  quantization: gguf\n", vllm="{version: 0.11.2}",
                model="  gguf: ./qwen-q4_k_m.gguf\n")
    assert argv(out)[:5] == ["vllm", "serve", "./qwen-q4_k_m.gguf", "--tokenizer", "Qwen/Qwen2.5-0.5B-Instruct"]


@pytest.mark.parametrize("version, gpu, quant, ok", [
    ("0.11.2", "T4", "fp8", False), ("0.33.0", "T4", "fp8", True), ("0.33.0", "V100-32GB", "fp8", False),
    ("0.33.0", "V100-32GB", "awq", False), ("0.33.0", "V100-32GB", "gptq", True), ("0.11.2", "A100-80GB", "fp8", True),
])
def test_quantization_kernels_need_a_recent_enough_gpu(cli, spec_file, version, gpu, quant, ok):
    out = build(cli, spec_file, f"precision:\n  dtype: float16\n  quantization: {quant}\nhardware:\n  gpu: {gpu}\n",
                vllm=f"{{version: {version}}}", expect=0 if ok else 1, source="example/model")
    if not ok:
        assert codes(out) == [("vllm-quantization-gpu", 7, 17)]


def test_dtype_auto_becomes_float16_on_a_t4_and_bf16_aliases_normalize(cli, spec_file):
    assert flag(build(cli, spec_file, "hardware:\n  gpu: T4\n"), "--dtype") == "float16"
    assert flag(build(cli, spec_file, "precision:\n  dtype: bf16\n"), "--dtype") == "bfloat16"
    assert flag(build(cli, spec_file, "precision:\n  dtype: half\n"), "--dtype") == "float16"


def test_limits_map_to_vllm_flags_and_max_output_caps_requests(cli, spec_file):
    out = build(cli, spec_file, "limits:\n  max_model_len: 16384\n  max_output_tokens: 2048\n"
                                "  max_concurrency: 64\n  max_batch_tokens: 4096\n")
    assert flag(out, "--max-model-len") == "16384"
    assert flag(out, "--max-num-seqs") == "64"
    assert flag(out, "--max-num-batched-tokens") == "4096"
    assert json.loads(flag(out, "--override-generation-config")) == {"max_new_tokens": 2048}


def test_parallelism_flags(cli, spec_file):
    out = build(cli, spec_file, "parallelism:\n  tensor: 2\n  pipeline: 2\n  data: 2\n")
    assert [flag(out, f) for f in ("--tensor-parallel-size", "--pipeline-parallel-size", "--data-parallel-size")] \
        == ["2", "2", "2"]
    compose = YAML(typ="safe").load(out["artifacts"][1]["content"])
    [svc] = compose["services"].values()
    assert svc["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": 8, "capabilities": ["gpu"]}]


def test_lora_adapters_rank_and_json_modules(cli, spec_file, tmp_path):
    (tmp_path / "a" / "big").mkdir(parents=True)
    (tmp_path / "a" / "big" / "adapter_config.json").write_text(json.dumps({"r": 8, "rank_pattern": {"q_proj": 96}}))
    out = build(cli, spec_file, model="  adapters:\n    - {name: big, source: ./a/big}\n    - {name: hub, source: org/lora}\n")
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


def test_lora_rank_above_what_vllm_serves_is_an_error(cli, spec_file):
    out = build(cli, spec_file, model="  adapters:\n    - name: huge\n      source: org/lora\n      rank: 1024\n",
                expect=1)
    assert codes(out) == [("vllm-lora-rank", 8, 13)]


def test_max_input_tokens_vllm_cannot_express_is_an_error_unless_implied(cli, spec_file):
    out = build(cli, spec_file, "limits:\n  max_model_len: 8192\n  max_input_tokens: 4096\n", expect=1)
    assert codes(out) == [("vllm-max-input", 7, 21)]
    build(cli, spec_file, "limits:\n  max_model_len: 8192\n  max_input_tokens: 8191\n")


@pytest.mark.parametrize("arg, conflict", [
    ("--max-model-len=9", True), ("--max_model_len", True), ("--max-model", True), ("-tp", True), ("-tp4", True),
    ("--no-trust-remote-code", True), ("--disable-lora", True), ("--api-key", True), ("-q", True),
    ("--enable-prefix-caching", False), ("--max-cpu-loras", False), ("--seed", False),
])
def test_args_that_restate_spec_settings_are_errors(cli, spec_file, arg, conflict):
    out = build(cli, spec_file, vllm=f"{{args: [{json.dumps(arg)}]}}", expect=1 if conflict else 0)
    if conflict:
        assert codes(out) == [("target-args-conflict", 6, 17)]
    else:
        assert argv(out)[-1] == arg


@pytest.mark.parametrize("version, arg", [("0.33.0", "--task"), ("0.33.0", "--swap-space"), ("0.11.2", "--preemption-mode"),
                                          ("0.33.0", "--disable-log-requests"), ("0.11.2", "-O3")])
def test_flags_the_pinned_version_dropped_are_errors(cli, spec_file, version, arg):
    out = build(cli, spec_file, vllm=f"{{version: {version}, args: [{json.dumps(arg)}]}}", expect=1)
    assert [d["code"] for d in out["diagnostics"]] == ["target-args-stale"]


def test_api_key_travels_by_name_only(cli, spec_file):
    out = build(cli, spec_file, "server:\n  api_key_env: MY_KEY\n")
    assert "--api-key" not in argv(out)
    script, compose = (a["content"] for a in out["artifacts"])
    assert 'export VLLM_API_KEY="${MY_KEY:?set MY_KEY to the API key}"' in script
    env = YAML(typ="safe").load(compose)["services"]["demo"]["environment"]
    assert env == ["HF_TOKEN", "VLLM_API_KEY=${MY_KEY:?set MY_KEY to the API key}"]


def test_host_binds_the_published_port_and_the_engine_listens_inside(cli, spec_file):
    out = build(cli, spec_file, "server:\n  host: 127.0.0.1\n  port: 9000\n")
    assert flag(out, "--host") == "127.0.0.1"
    svc = YAML(typ="safe").load(out["artifacts"][1]["content"])["services"]["demo"]
    assert svc["ports"] == ["127.0.0.1:9000:9000"]
    assert svc["command"][svc["command"].index("--host") + 1] == "0.0.0.0"
    assert "http://localhost:9000/health" in svc["healthcheck"]["test"][-1]
    out = build(cli, spec_file, "server:\n  host: ::1\n")
    assert YAML(typ="safe").load(out["artifacts"][1]["content"])["services"]["demo"]["ports"] == ["[::1]:8000:8000"]
    out = build(cli, spec_file, "server:\n  host: gpu-box.internal\n", expect=1)
    assert codes(out) == [("server-host-container", 6, 9)]


def test_versions_pin_their_images(cli, spec_file):
    for version in ("0.33.0", "0.11.2"):
        out = build(cli, spec_file, vllm=f"{{version: {version}}}")
        assert out["version"] == version
        assert f"image: vllm/vllm-openai:v{version}\n" in out["artifacts"][1]["content"]
        assert f"vLLM {version}." in out["artifacts"][0]["content"].splitlines()[1]
    out = build(cli, spec_file, vllm="{image: 'registry.example.com/vllm:custom-1'}")
    assert "image: registry.example.com/vllm:custom-1\n" in out["artifacts"][1]["content"]


def test_amd_gpus_need_an_image_and_get_rocm_devices(cli, spec_file):
    out = build(cli, spec_file, "hardware:\n  gpu: MI300X\n", expect=1)
    assert codes(out) == [("vllm-rocm-image", 6, 8)]
    out = build(cli, spec_file, "hardware:\n  gpu: MI300X\n", vllm="{image: 'vllm/vllm-openai-rocm:v0.33.0'}")
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
def test_batch_tokens_must_cover_concurrency_as_vllm_requires(cli, spec_file, version, gpu, limits, error_at):
    out = build(cli, spec_file, f"hardware:\n  gpu: {gpu}\nlimits:\n  {limits}\n", vllm=f"{{version: {version}}}",
                expect=1 if error_at else 0)
    if error_at:
        [d] = out["diagnostics"]
        assert d["code"] == "vllm-batch-tokens" and error_at[1] in d["message"]
        line = 8 if error_at[0] == "max_concurrency" else 9
        assert (d["line"], d["column"]) == (line, len(f"  {error_at[0]}: ") + 1)


def test_env_may_not_set_the_api_key_behind_the_spec_and_hf_token_is_passed_once(cli, spec_file):
    out = build(cli, spec_file, vllm="{env: {VLLM_API_KEY: '${OTHER}'}}", expect=1)
    assert codes(out) == [("target-env-conflict", 6, 16)]
    out = build(cli, spec_file, vllm="{env: {HF_TOKEN: '${MY_HF_TOKEN}'}}")
    env = YAML(typ="safe").load(out["artifacts"][1]["content"])["services"]["demo"]["environment"]
    assert env == ["HF_TOKEN=${MY_HF_TOKEN}"]
