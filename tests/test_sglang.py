"""The SGLang target's mapping decisions, asserted on the exact argv, files and diagnostics."""

from __future__ import annotations

import json
import shlex

import pytest
from ruamel.yaml import YAML

from conftest import MINIMAL, built_json


def build(cli, spec_file, extra: str = "", sglang: str = "{}", expect: int = 0, model: str = "",
          source: str = "Qwen/Qwen2.5-0.5B-Instruct"):
    """MINIMAL with `model` lines under model:, `extra` sections before targets:, and targets.sglang options.

    source=example/model (no facts source knows it) keeps checkpoint facts and the memory plan out."""
    text = (MINIMAL.replace("  source: Qwen/Qwen2.5-0.5B-Instruct\n", f"  source: {source}\n" + model)
            .replace("targets:\n  vllm: {}\n", extra + f"targets:\n  sglang: {sglang}\n"))
    result = cli("build", spec_file(text), "--target", "sglang", "--json")
    out = built_json(result)
    assert result.exit_code == expect, out["diagnostics"]
    return out


def flag(out, name):
    a = out["command"]
    return a[a.index(name) + 1] if name in a else None


def files(out) -> dict[str, str]:
    return {a["path"]: a["content"] for a in out["artifacts"]}


def exec_line(script: str) -> str:
    [line] = [ln for ln in script.splitlines() if ln.startswith("exec ")]
    return line[len("exec "):]


def diag(out):
    [d] = out["diagnostics"]
    return d["code"], d["line"], d["column"], d["message"], d["hint"]


def test_minimal_spec_spells_every_default_explicitly(cli, spec_file):
    out = build(cli, spec_file, source="example/model")
    assert out["version"] == "0.5.23"
    assert out["command"] == [
        "sglang", "serve", "--model-type", "llm", "--model-path", "example/model",
        "--served-model-name", "model", "--dtype", "auto", "--tp-size", "1",
        "--mem-fraction-static", "0.8", "--host", "0.0.0.0", "--port", "8000"]
    assert shlex.split(exec_line(files(out)["serve.sh"])) == out["command"]


def test_without_max_concurrency_the_memory_plan_sets_max_running_requests(cli, spec_file):
    # Qwen2.5-0.5B (catalog) at its 32k context on an H100: what SGLang's static pool holds
    out = build(cli, spec_file)
    assert flag(out, "--max-running-requests") == "166"
    assert flag(build(cli, spec_file, "limits:\n  max_concurrency: 7\n"), "--max-running-requests") == "7"


def test_older_line_uses_launch_server_and_its_own_image(cli, spec_file):
    out = build(cli, spec_file, sglang="{version: 0.4.10.post2}")
    assert out["command"][:4] == ["python3", "-m", "sglang.launch_server", "--model-path"]
    compose = YAML(typ="safe").load(files(out)["compose.yaml"])
    [svc] = compose["services"].values()
    assert svc["image"] == "lmsysorg/sglang:v0.4.10.post2-cu126"
    assert svc["entrypoint"] == ["python3", "-m", "sglang.launch_server"]
    assert svc["command"] == out["command"][3:]
    new = YAML(typ="safe").load(files(build(cli, spec_file))["compose.yaml"])
    [svc] = new["services"].values()
    assert svc["image"] == "lmsysorg/sglang:v0.5.23"
    assert svc["entrypoint"] == ["sglang", "serve", "--model-type", "llm"]


def test_compose_service_has_gpus_ipc_cache_and_health(cli, spec_file):
    out = build(cli, spec_file, "parallelism:\n  tensor: 2\nserver:\n  port: 30000\n")
    [svc] = YAML(typ="safe").load(files(out)["compose.yaml"])["services"].values()
    assert svc["ipc"] == "host" and svc["ports"] == ["30000:30000"]
    assert svc["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 2
    assert svc["volumes"][0].endswith(":/root/.cache/huggingface")
    assert "http://localhost:30000/health" in svc["healthcheck"]["test"][-1]
    assert svc["command"][svc["command"].index("--host") + 1] == "0.0.0.0"


@pytest.mark.parametrize("quant, emitted", [
    ("awq", None), ("gptq", None), ("int4", None), ("int8", None), ("fp8", "fp8"), ("none", None)])
def test_quantization_flag_only_where_sglang_does_not_detect_it(cli, spec_file, quant, emitted):
    out = build(cli, spec_file, f"precision:\n  quantization: {quant}\n", source="example/model")
    assert flag(out, "--quantization") == emitted


def test_fp8_kv_cache_is_spelled_e4m3(cli, spec_file):
    out = build(cli, spec_file, "precision:\n  kv_cache_dtype: fp8\n")
    assert flag(out, "--kv-cache-dtype") == "fp8_e4m3"
    assert "--kv-cache-dtype" not in build(cli, spec_file)["command"]


def test_parallelism_and_limits_use_full_option_names(cli, spec_file):
    out = build(cli, spec_file, "parallelism:\n  tensor: 2\n  pipeline: 2\n  data: 2\nlimits:\n"
                "  max_model_len: 8192\n  max_input_tokens: 8191\n  max_concurrency: 32\n  max_batch_tokens: 4096\n")
    assert [flag(out, f) for f in ("--tp-size", "--pp-size", "--dp-size", "--context-length",
                                   "--max-running-requests", "--chunked-prefill-size")] == \
        ["2", "2", "2", "8192", "32", "4096"]


def test_memory_utilization_becomes_a_static_fraction_a_tenth_lower(cli, spec_file):
    assert flag(build(cli, spec_file, "hardware:\n  gpu: H100-80GB\n  memory_utilization: 0.95\n"),
                "--mem-fraction-static") == "0.85"
    assert flag(build(cli, spec_file, sglang="{mem_fraction_static: 0.7}"), "--mem-fraction-static") == "0.7"
    out = build(cli, spec_file, "hardware:\n  gpu: H100-80GB\n  memory_utilization: 0.15\n", expect=1)
    assert diag(out) == (
        "sglang-memory", 7, 23, "memory_utilization 0.15 leaves SGLang 0.05 of each GPU for weights and KV "
        "cache after the 0.1 it keeps for activations",
        "raise hardware.memory_utilization, or set targets.sglang.mem_fraction_static")


def test_a_static_fraction_at_or_above_the_spec_share_is_a_warning(cli, spec_file):
    out = build(cli, spec_file, "hardware:\n  gpu: L4\n  memory_utilization: 0.8\n",
                sglang="{mem_fraction_static: 0.85}")
    [d] = out["diagnostics"]
    assert (d["severity"], d["code"], d["line"], d["column"]) == ("warning", "sglang-memory-override", 9, 33)
    assert d["hint"] == "use mem_fraction_static: 0.70 or less, or raise hardware.memory_utilization"
    assert flag(out, "--mem-fraction-static") == "0.85"


def test_max_input_tokens_other_than_window_minus_one_is_refused(cli, spec_file):
    out = build(cli, spec_file, "limits:\n  max_model_len: 4096\n  max_input_tokens: 2048\n", expect=1)
    assert diag(out) == (
        "sglang-max-input", 7, 21, "SGLang has no prompt-length limit of its own: it rejects prompts of "
        "context_length tokens or more", "remove limits.max_input_tokens for sglang, or set it to max_model_len - 1")


def test_max_output_tokens_is_unsupported_with_the_nearest_thing(cli, spec_file):
    out = build(cli, spec_file, "limits:\n  max_output_tokens: 512\n", expect=1)
    code, line, col, message, hint = diag(out)
    assert (code, line, col) == ("target-unsupported", 6, 22)
    assert message == "SGLang 0.5.23 cannot express an output token limit (limits.max_output_tokens)"
    assert hint.startswith("SGLang has no server-wide cap on max_tokens")


def test_gguf_is_unsupported_and_names_the_field(cli, spec_file):
    out = build(cli, spec_file, "precision:\n  quantization: gguf\n", model="  gguf: ./m.gguf\n", expect=1)
    [d] = [d for d in out["diagnostics"] if d["severity"] == "error"]
    code, line, col, message = d["code"], d["line"], d["column"], d["message"]
    assert (code, line, col) == ("target-unsupported", 7, 17) and "gguf quantization" in message


@pytest.mark.parametrize("arg", ["--tp", "--tp-size", "--tensor-parallel-size=2", "--context-len=4096",
                                 "--mem-frac", "--model", "--api-key", "--lora-paths", "--port"])
def test_extra_args_that_restate_the_spec_are_errors_even_as_prefixes(cli, spec_file, arg):
    out = build(cli, spec_file, sglang=json.dumps({"args": ["--enable-metrics", arg, "2"]}), expect=1)
    code, line, col, message, _ = diag(out)
    assert (code, line, col) == ("target-args-conflict", 6, 41)
    assert message.startswith(f"{arg.split('=')[0]} in targets.sglang.args restates ")


def test_unrelated_extra_args_are_appended_verbatim(cli, spec_file):
    out = build(cli, spec_file, sglang=json.dumps({"args": ["--enable-lora-overlap-loading", "--model-impl",
                                                            "transformers"]}))
    assert out["command"][-3:] == ["--enable-lora-overlap-loading", "--model-impl", "transformers"]


def test_api_key_travels_by_name_only(cli, spec_file):
    out = build(cli, spec_file, "server:\n  api_key_env: MY_KEY\n")
    assert out["command"][-2:] == ["--api-key", "${MY_KEY}"]
    script = files(out)["serve.sh"]
    assert exec_line(script).endswith(' --api-key "${MY_KEY:?set MY_KEY to the API key}"')
    [svc] = YAML(typ="safe").load(files(out)["compose.yaml"])["services"].values()
    assert svc["command"][-2:] == ["--api-key", "${MY_KEY:?set MY_KEY to the API key}"]
    assert svc["environment"] == ["HF_TOKEN"]


def test_lora_adapters_and_batch_slots_only_beyond_the_default(cli, spec_file):
    two = "  adapters:\n    - {name: sql, source: org/sql-lora}\n    - {name: chat, source: ./lora}\n"
    out = build(cli, spec_file, model=two)
    a = out["command"]
    assert a[a.index("--enable-lora"):a.index("--host")] == [
        "--enable-lora", "--lora-paths", "sql=org/sql-lora", "chat=./lora"]
    eight = "  adapters:\n" + "".join(f"    - {{name: a{i}, source: org/l{i}}}\n" for i in range(8))
    assert flag(build(cli, spec_file, model=eight), "--max-loras-per-batch") == "9"
    [svc] = YAML(typ="safe").load(files(out)["compose.yaml"])["services"].values()
    assert "chat=/deployc/adapters/chat" in svc["command"]


def test_hostile_values_are_inert_in_the_script_and_in_compose(cli, spec_file):
    name = "x\"';$(id)`id`|&<>*?é${HOME}"
    out = build(cli, spec_file, model=f"  served_name: {json.dumps(name)}\n",
                sglang=json.dumps({"args": ["--model-impl", "$(touch pwned) ${HOME}"]}))
    assert flag(out, "--served-model-name") == name
    assert shlex.split(exec_line(files(out)["serve.sh"])) == out["command"]
    [svc] = YAML(typ="safe").load(files(out)["compose.yaml"])["services"].values()
    unescaped = [tok.replace("$$", "$") for tok in svc["command"]]
    assert unescaped[unescaped.index("--served-model-name") + 1] == name
    assert unescaped[-1] == "$(touch pwned) ${HOME}" and "$${HOME}" in svc["command"][-1]


def test_output_is_byte_identical_across_runs(cli, spec_file):
    assert build(cli, spec_file, "server:\n  api_key_env: K\n") == build(cli, spec_file, "server:\n  api_key_env: K\n")
