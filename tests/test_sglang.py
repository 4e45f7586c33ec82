"""The SGLang target's mapping decisions, asserted on the exact argv, files and diagnostics."""

from __future__ import annotations

import json
import shlex

import pytest
from ruamel.yaml import YAML

from conftest import codes


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


def test_minimal_spec_writes_only_what_the_deployment_needs(specs):
    out = specs.build("sglang", source="example/model")
    assert out["version"] == "0.5.23"
    assert out["command"] == [
        "sglang", "serve", "--model-type", "llm", "--model-path", "example/model",
        "--served-model-name", "model", "--host", "0.0.0.0", "--port", "8000"]
    assert shlex.split(exec_line(files(out)["serve.sh"])) == out["command"]
    assert [(d["option"], d["setting"], d["value"]) for d in out["derived"]] == [
        ("--served-model-name", "model.served_name", "model"), ("--host", "server.host", "0.0.0.0"),
        ("--port", "server.port", "8000")]
    assert "SGLang's own default port is 30000" in out["derived"][2]["why"]


def test_without_max_concurrency_or_memory_utilization_sglang_keeps_its_own(specs, cli, tmp_path):
    # Qwen2.5-0.5B (catalog) at its 32k context on an H100: no cap and no fraction written
    out = specs.build("sglang")
    assert flag(out, "--max-running-requests") is None and flag(out, "--mem-fraction-static") is None
    assert flag(specs.build("sglang", "limits:\n  max_concurrency: 7\n"), "--max-running-requests") == "7"
    plan = json.loads(cli("plan", specs.write(), "--target", "sglang", "--json").stdout)
    notes = plan["targets"]["sglang"]["assumptions"]
    assert any("--mem-fraction-static 0.874 (the engine's default" in n for n in notes), notes
    assert "limits.max_concurrency is unset: SGLang caps running requests by itself from the size of its KV pool " \
        "(no --max-running-requests written)" in notes


def test_older_line_uses_launch_server_and_its_own_image(specs):
    out = specs.build("sglang", options="{version: 0.4.10.post2}")
    assert out["command"][:4] == ["python3", "-m", "sglang.launch_server", "--model-path"]
    compose = YAML(typ="safe").load(files(out)["compose.yaml"])
    [svc] = compose["services"].values()
    assert svc["image"] == "lmsysorg/sglang:v0.4.10.post2-cu126"
    assert svc["entrypoint"] == ["python3", "-m", "sglang.launch_server"]
    assert svc["command"] == out["command"][3:]
    new = YAML(typ="safe").load(files(specs.build("sglang"))["compose.yaml"])
    [svc] = new["services"].values()
    assert svc["image"] == "lmsysorg/sglang:v0.5.23"
    assert svc["entrypoint"] == ["sglang", "serve", "--model-type", "llm"]


def test_compose_service_has_gpus_ipc_cache_and_health(specs):
    out = specs.build("sglang", "parallelism:\n  tensor: 2\nserver:\n  port: 30000\n")
    [svc] = YAML(typ="safe").load(files(out)["compose.yaml"])["services"].values()
    assert svc["ipc"] == "host" and svc["ports"] == ["30000:30000"]
    assert svc["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 2
    assert svc["volumes"][0].endswith(":/root/.cache/huggingface")
    assert "http://localhost:30000/health" in svc["healthcheck"]["test"][-1]
    assert svc["command"][svc["command"].index("--host") + 1] == "0.0.0.0"


@pytest.mark.parametrize("quant, emitted", [
    ("awq", None), ("gptq", None), ("int4", None), ("int8", None), ("fp8", "fp8"), ("none", None)])
def test_quantization_flag_only_where_sglang_does_not_detect_it(specs, quant, emitted):
    out = specs.build("sglang", f"precision:\n  quantization: {quant}\n", source="example/model")
    assert flag(out, "--quantization") == emitted


def test_fp8_kv_cache_is_spelled_e4m3(specs):
    out = specs.build("sglang", "precision:\n  kv_cache_dtype: fp8\n")
    assert flag(out, "--kv-cache-dtype") == "fp8_e4m3"
    assert "--kv-cache-dtype" not in specs.build("sglang")["command"]


def test_parallelism_and_limits_use_full_option_names(specs):
    out = specs.build("sglang", "parallelism:\n  tensor: 2\n  pipeline: 2\n  data: 2\nlimits:\n"
                      "  max_model_len: 8192\n  max_input_tokens: 8191\n  max_concurrency: 32\n"
                      "  max_batch_tokens: 4096\n")
    assert [flag(out, f) for f in ("--tp-size", "--pp-size", "--dp-size", "--context-length",
                                   "--max-running-requests", "--chunked-prefill-size")] == \
        ["2", "2", "2", "8192", "32", "4096"]


def test_memory_utilization_becomes_a_static_fraction_a_tenth_lower(specs):
    assert flag(specs.build("sglang", "hardware:\n  gpu: H100-80GB\n  memory_utilization: 0.95\n"),
                "--mem-fraction-static") == "0.85"
    assert flag(specs.build("sglang", options="{mem_fraction_static: 0.7}"), "--mem-fraction-static") == "0.7"
    out = specs.build("sglang", "hardware:\n  gpu: H100-80GB\n  memory_utilization: 0.15\n", expect=1)
    assert diag(out) == (
        "sglang-memory", 7, 23, "memory_utilization 0.15 leaves SGLang 0.05 of each GPU for weights and KV "
        "cache after the 0.1 it keeps for activations",
        "raise hardware.memory_utilization, or set targets.sglang.mem_fraction_static")


def test_a_static_fraction_at_or_above_the_spec_share_is_a_warning(specs):
    out = specs.build("sglang", "hardware:\n  gpu: L4\n  memory_utilization: 0.8\n",
                      options="{mem_fraction_static: 0.85}")
    [d] = out["diagnostics"]
    assert (d["severity"], d["code"], d["line"], d["column"]) == ("warning", "sglang-memory-override", 9, 33)
    assert d["hint"] == "use mem_fraction_static: 0.70 or less, or raise hardware.memory_utilization"
    assert flag(out, "--mem-fraction-static") == "0.85"


def test_max_input_tokens_other_than_window_minus_one_is_refused(specs):
    out = specs.build("sglang", "limits:\n  max_model_len: 4096\n  max_input_tokens: 2048\n", expect=1)
    assert diag(out) == (
        "target-unsupported", 7, 21, "SGLang 0.5.23 cannot express a prompt-length limit apart from the context "
        "(limits.max_input_tokens)", "remove limits.max_input_tokens for sglang, or set it to 4095 (the context - 1)")


def test_max_output_tokens_is_unsupported_with_the_nearest_thing(specs):
    out = specs.build("sglang", "limits:\n  max_output_tokens: 512\n", expect=1)
    code, line, col, message, hint = diag(out)
    assert (code, line, col) == ("target-unsupported", 6, 22)
    assert message == "SGLang 0.5.23 cannot express an output token limit (limits.max_output_tokens)"
    assert hint.startswith("SGLang has no server-wide cap on max_tokens")


def test_gguf_is_unsupported_and_names_the_field(specs):
    out = specs.build("sglang", "precision:\n  quantization: gguf\n", model="  gguf: ./m.gguf\n", expect=1)
    [d] = [d for d in out["diagnostics"] if d["severity"] == "error"]
    code, line, col, message = d["code"], d["line"], d["column"], d["message"]
    assert (code, line, col) == ("target-unsupported", 7, 17) and "gguf quantization" in message


@pytest.mark.parametrize("arg", ["--tp", "--tp-size", "--tensor-parallel-size=2", "--context-len=4096",
                                 "--mem-frac", "--model", "--api-key", "--lora-paths", "--port"])
def test_extra_args_that_restate_the_spec_are_errors_even_as_prefixes(specs, arg):
    value = [] if "=" in arg else ["2"]   # after an inline value, a "2" would be a stray positional too
    out = specs.build("sglang", options=json.dumps({"args": ["--enable-metrics", arg, *value]}), expect=1)
    code, line, col, message, _ = diag(out)
    assert (code, line, col) == ("target-args-conflict", 6, 41)
    assert message.startswith(f"{arg.split('=')[0]} in targets.sglang.args restates ")


@pytest.mark.parametrize("arg, owner", [
    ("--tensor-parallel-size", "parallelism.tensor"), ("--pipeline-parallel-size=2", "parallelism.pipeline"),
    ("--data-par", "parallelism.data"), ("--dp", "parallelism.data"), ("--model", "model.source"),
    ("--max-loras", "limits.max_loras"), ("--nccl-init-addr", "parallelism.nodes"),
    ("--node-rank=1", "parallelism.nodes"),
])
def test_every_spelling_sglang_accepts_names_the_setting_that_owns_it(specs, arg, owner):
    out = specs.build("sglang", options=json.dumps({"args": [arg] + ([] if "=" in arg else ["2"])}), expect=1)
    assert codes(out) == [("target-args-conflict", 6, 21)]
    assert out["diagnostics"][0]["message"] == (f"{arg.split('=')[0]} in targets.sglang.args restates {owner}, "
                                                "which deployc derives from the spec")


def test_model_type_is_owned_only_by_the_launcher_that_writes_it(specs):
    # `sglang serve --model-type llm` (0.5.23); 0.4.10.post2's launch_server has no --model-type at all
    out = specs.build("sglang", options="{args: [--model-type, diffusion]}", expect=1)
    assert codes(out) == [("target-args-conflict", 6, 19)]
    assert out["diagnostics"][0]["message"].startswith("--model-type in targets.sglang.args restates model.source")
    out = specs.build("sglang", options="{version: 0.4.10.post2, args: [--model-type, diffusion]}", expect=1)
    assert [(d["code"], d["message"]) for d in out["diagnostics"]] == [
        ("target-args-unknown", "--model-type is not an option of SGLang 0.4.10.post2")]


def test_unrelated_extra_args_are_appended_verbatim(specs):
    out = specs.build("sglang", options=json.dumps({"args": ["--enable-lora-overlap-loading", "--model-impl",
                                                             "transformers"]}))
    assert out["command"][-3:] == ["--enable-lora-overlap-loading", "--model-impl", "transformers"]


def test_api_key_travels_by_name_only(specs):
    out = specs.build("sglang", "server:\n  api_key_env: MY_KEY\n")
    assert out["command"][-2:] == ["--api-key", "${MY_KEY}"]
    script = files(out)["serve.sh"]
    assert exec_line(script).endswith(' --api-key "${MY_KEY:?set MY_KEY to the API key}"')
    [svc] = YAML(typ="safe").load(files(out)["compose.yaml"])["services"].values()
    assert svc["command"][-2:] == ["--api-key", "${MY_KEY:?set MY_KEY to the API key}"]
    assert svc["environment"] == ["HF_TOKEN"]


def test_lora_adapters_and_batch_slots_only_beyond_the_default(specs):
    two = "  adapters:\n    - {name: sql, source: org/sql-lora}\n    - {name: chat, source: ./lora}\n"
    out = specs.build("sglang", model=two)
    a = out["command"]
    assert a[a.index("--enable-lora"):a.index("--host")] == [
        "--enable-lora", "--lora-paths", "sql=org/sql-lora", "chat=./lora"]
    eight = "  adapters:\n" + "".join(f"    - {{name: a{i}, source: org/l{i}}}\n" for i in range(8))
    assert flag(specs.build("sglang", model=eight), "--max-loras-per-batch") == "9"
    [svc] = YAML(typ="safe").load(files(out)["compose.yaml"])["services"].values()
    assert "chat=/deployc/adapters/chat" in svc["command"]


def test_hostile_values_are_inert_in_the_script_and_in_compose(specs):
    name = "x\"';$(id)`id`|&<>*?é${HOME}"
    out = specs.build("sglang", model=f"  served_name: {json.dumps(name)}\n",
                      options=json.dumps({"args": ["--model-impl", "$(touch pwned) ${HOME}"]}))
    assert flag(out, "--served-model-name") == name
    assert shlex.split(exec_line(files(out)["serve.sh"])) == out["command"]
    [svc] = YAML(typ="safe").load(files(out)["compose.yaml"])["services"].values()
    unescaped = [tok.replace("$$", "$") for tok in svc["command"]]
    assert unescaped[unescaped.index("--served-model-name") + 1] == name
    assert unescaped[-1] == "$(touch pwned) ${HOME}" and "$${HOME}" in svc["command"][-1]


def test_output_is_byte_identical_across_runs(specs):
    key = "server:\n  api_key_env: K\n"
    assert specs.build("sglang", key) == specs.build("sglang", key)
