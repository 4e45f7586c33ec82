"""The TGI target's mapping decisions, asserted on the exact docker argv, files and diagnostics."""

from __future__ import annotations

import shlex

import pytest
from ruamel.yaml import YAML

from conftest import codes
from deployc.targets.tgi.options import TABLE, owned_env
from deployc.targets.tgi.versions import VERSIONS

IMAGE = "ghcr.io/huggingface/text-generation-inference:"


def launcher(out) -> list[str]:
    """The launcher's argv: everything after the image."""
    a = out["command"]
    return a[next(i for i, t in enumerate(a) if t.startswith(IMAGE)) + 1:]


def docker(out) -> list[str]:
    a = out["command"]
    return a[:next(i for i, t in enumerate(a) if t.startswith(IMAGE))]


def flag(out, name):
    a = launcher(out)
    return a[a.index(name) + 1] if name in a else None


def artifact(out, path):
    return next(a["content"] for a in out["artifacts"] if a["path"] == path)


def compose(out):
    return YAML(typ="safe").load(artifact(out, "compose.yaml"))


def test_minimal_spec_runs_the_pinned_image_with_explicit_shards_host_and_port(specs):
    out = specs.build("tgi")
    assert out["version"] == "3.3.7"
    assert out["command"] == [
        "docker", "run", "--rm", "--name", "demo", "--gpus", '"device=0"', "--shm-size", "1g", "-p", "8000:8000",
        "-v", "${TGI_DATA}:/data", "-e", "HF_TOKEN", IMAGE + "3.3.7",
        "--model-id", "Qwen/Qwen2.5-0.5B-Instruct", "--num-shard", "1", "--hostname", "0.0.0.0", "--port", "8000"]
    # memory_utilization unset: no --cuda-memory-fraction, TGI's own 1.0; each written default says why
    assert {d["option"]: d["why"].split(":")[0] for d in out["derived"]} == {
        "--num-shard": "TGI's launcher shards over every visible GPU unless told",
        "--hostname": "inside the container TGI listens on every interface (docker's HOSTNAME would otherwise "
                      "reach the launcher through clap's env fallback); server.host picks the address the port "
                      "is published on",
        "--port": "server.port's default, 8000"}
    script = artifact(out, "run.sh")
    assert 'TGI_DATA="${HF_HOME:-$HOME/.cache/huggingface}"\n' in script
    line = script.splitlines()[-1]
    assert line.startswith("exec docker run ") and " -v \"${TGI_DATA}\":/data " in line
    assert shlex.split(line)[1:] == out["command"]  # the shell sees exactly the argv (the cache var aside)
    assert {a["path"]: a["mode"] for a in out["artifacts"]} == {"run.sh": "0755", "compose.yaml": "0644"}


def test_limits_and_memory_map_to_launcher_flags(specs):
    out = specs.build("tgi", "limits:\n  max_model_len: 8192\n  max_concurrency: 24\n  max_batch_tokens: 2048\n"
                             "hardware:\n  gpu: A100-80GB\n  memory_utilization: 0.8\n")
    assert [flag(out, f) for f in ("--max-input-tokens", "--max-total-tokens", "--max-batch-prefill-tokens",
                                   "--max-concurrent-requests", "--cuda-memory-fraction")] == \
        ["8191", "8192", "2048", "24", "0.8"]
    assert "--max-input-length" not in launcher(out)  # the legacy spelling, never for versions with the new one
    out = specs.build("tgi", "limits:\n  max_input_tokens: 1000\n", options="{version: '2.4.1'}")
    assert (flag(out, "--max-input-tokens"), flag(out, "--max-total-tokens")) == ("1000", None)
    assert "--max-input-length" not in launcher(out)


@pytest.mark.parametrize("quant, tgi, emitted", [
    ("none", "{}", None), ("fp8", "{}", "fp8"), ("awq", "{}", "awq"), ("gptq", "{}", "gptq"),
    ("bitsandbytes", "{}", "bitsandbytes-nf4"), ("none", "{quantize: eetq}", "eetq"),
    ("none", "{quantize: bitsandbytes}", "bitsandbytes"), ("none", "{quantize: compressed-tensors}", "compressed-tensors"),
])
def test_quantization_values_are_tgis_own(specs, quant, tgi, emitted):
    out = specs.build("tgi", f"precision:\n  quantization: {quant}\n", options=tgi, source="example/model")
    assert flag(out, "--quantize") == emitted


@pytest.mark.parametrize("quant, hint", [
    ("int8", "use targets.tgi.quantize: eetq (8-bit at load, any model) or bitsandbytes, with "
             "precision.quantization: none"),
    ("int4", "use quantization: bitsandbytes (TGI's bitsandbytes-nf4), an awq or gptq checkpoint, or "
             "targets.tgi.quantize: bitsandbytes-fp4"),
])
def test_plain_int8_and_int4_do_not_exist_in_tgi(specs, quant, hint):
    out = specs.build("tgi", f"precision:\n  quantization: {quant}\n", expect=1)
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("target-unsupported", 6, 17)
    assert d["message"] == f"TGI 3.3.7 cannot express {quant} quantization (precision.quantization)"
    assert d["hint"] == hint


def test_tgi_quantize_option_and_spec_quantization_are_one_choice(specs):
    out = specs.build("tgi", "precision:\n  quantization: awq\n", options="{quantize: eetq}", expect=1, source="example/model")
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("tgi-quantize-conflict", 8, 19)
    assert d["message"] == ("targets.tgi.quantize (eetq) and precision.quantization (awq) both pick TGI's --quantize")


def test_exl2_cannot_be_sharded(specs):
    out = specs.build("tgi", "parallelism:\n  tensor: 2\n", options="{quantize: exl2}", expect=1)
    assert codes(out) == [("tgi-exl2-shard", 6, 11)]
    assert out["diagnostics"][0]["message"] == "TGI cannot shard an exl2 model (num_shard > 1)"
    out = specs.build("tgi", "", options="{quantize: exl2}")
    assert flag(out, "--quantize") == "exl2" and flag(out, "--num-shard") == "1"


def test_dtype_only_float16_or_bfloat16(specs):
    out = specs.build("tgi", "precision:\n  dtype: fp32\n", expect=1)
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("tgi-dtype", 6, 10)
    assert d["message"] == "TGI runs models in float16 or bfloat16 only (--dtype float16|bfloat16)"
    assert flag(specs.build("tgi", "precision:\n  dtype: bf16\n"), "--dtype") == "bfloat16"
    assert flag(specs.build("tgi", "precision:\n  dtype: auto\n"), "--dtype") is None  # TGI's per-model default
    assert flag(specs.build("tgi", "hardware:\n  gpu: T4\n"), "--dtype") == "float16"  # no bfloat16 below SM 8.0


def test_dtype_with_quantize_follows_tgis_rule(specs):
    # awq runs in float16 anyway: float16 is left out rather than refused
    out = specs.build("tgi", "precision:\n  dtype: float16\n  quantization: awq\n", source="example/model")
    assert flag(out, "--dtype") is None and flag(out, "--quantize") == "awq"
    out = specs.build("tgi", "precision:\n  dtype: bfloat16\n  quantization: gptq\n", expect=1, source="example/model")
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("tgi-dtype-quantize", 6, 10)
    assert d["message"] == "TGI refuses --dtype bfloat16 together with --quantize gptq: it runs gptq in float16 only"
    out = specs.build("tgi", "precision:\n  dtype: bfloat16\n  quantization: fp8\n", expect=1)
    assert codes(out) == [("tgi-dtype-quantize", 6, 10)]
    # on a GPU without bfloat16, dtype auto resolves to float16, which TGI's models default to anyway
    out = specs.build("tgi", "hardware:\n  gpu: T4\n", options="{quantize: eetq}")
    assert flag(out, "--dtype") is None and flag(out, "--quantize") == "eetq"
    # the bitsandbytes family takes a dtype
    out = specs.build("tgi", "precision:\n  dtype: bfloat16\n  quantization: bitsandbytes\n")
    assert (flag(out, "--dtype"), flag(out, "--quantize")) == ("bfloat16", "bitsandbytes-nf4")


def test_kv_cache_fp8_is_e4m3(specs):
    out = specs.build("tgi", "precision:\n  kv_cache_dtype: fp8\n")
    assert flag(out, "--kv-cache-dtype") == "fp8_e4m3fn"


def test_tensor_parallelism_limits_the_gpus_docker_hands_over(specs):
    out = specs.build("tgi", "parallelism:\n  tensor: 4\nhardware:\n  gpu: L40S\n", source="example/model")
    assert flag(out, "--num-shard") == "4"
    d = docker(out)
    assert d[d.index("--gpus") + 1] == '"device=0,1,2,3"'
    assert "--gpus '\"device=0,1,2,3\"'" in artifact(out, "run.sh")
    reservation = compose(out)["services"]["demo"]["deploy"]["resources"]["reservations"]["devices"]
    assert reservation == [{"driver": "nvidia", "count": 4, "capabilities": ["gpu"]}]


@pytest.mark.parametrize("section, key, col, hint", [
    ("parallelism:\n  pipeline: 2\n", "pipeline", 13, "TGI splits a model only by tensor parallelism"),
    ("parallelism:\n  data: 2\n", "data", 9, "one TGI launcher serves one copy"),
    ("limits:\n  max_output_tokens: 100\n", "max_output_tokens", 22, "TGI bounds prompt + max_new_tokens"),
])
def test_what_tgi_cannot_express_names_the_nearest_thing(specs, section, key, col, hint):
    out = specs.build("tgi", section, expect=1)
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("target-unsupported", 6, col)
    assert d["hint"].startswith(hint)


def test_max_input_must_stay_below_the_window(specs):
    out = specs.build("tgi", "limits:\n  max_model_len: 4096\n  max_input_tokens: 4096\n", expect=1)
    assert codes(out) == [("limits-input", 7, 21)]


def test_prefill_below_the_prompt_needs_chunked_prefill(specs):
    limits = "limits:\n  max_model_len: 16384\n  max_batch_tokens: 4096\n"
    out = specs.build("tgi", limits + "hardware:\n  gpu: H100-80GB\n")  # 3.3.7 chunks on flash attention
    assert flag(out, "--max-batch-prefill-tokens") == "4096"
    out = specs.build("tgi", limits, options="{version: '2.4.1'}", expect=1)
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("tgi-prefill-tokens", 7, 21)
    assert d["message"] == ("max_batch_tokens (4096) is below the longest prompt (16383), which TGI refuses without "
                            "chunked prefill (TGI 2.4.1 does not chunk prefills unless PREFILL_CHUNKING=1)")
    specs.build("tgi", limits, options="{version: '2.4.1', env: {PREFILL_CHUNKING: '1'}}")
    out = specs.build("tgi", limits + "hardware:\n  gpu: T4\n", expect=1)  # paged attention below SM 8.0
    assert "T4 gets paged attention" in out["diagnostics"][0]["message"]


def test_without_chunking_a_long_window_gets_a_prefill_budget_that_fits_the_prompt(specs):
    # 2.4.1's launcher defaults max_batch_prefill_tokens to 4096, which the router refuses below max_input_tokens
    out = specs.build("tgi", "limits:\n  max_model_len: 8192\n", options="{version: '2.4.1'}")
    assert flag(out, "--max-batch-prefill-tokens") == "8191"
    out = specs.build("tgi", "limits:\n  max_model_len: 4096\n", options="{version: '2.4.1'}")
    assert flag(out, "--max-batch-prefill-tokens") is None
    out = specs.build("tgi", "limits:\n  max_model_len: 8192\n")
    assert flag(out, "--max-batch-prefill-tokens") is None


def test_max_total_tokens_must_fit_a_given_batch_total(specs):
    out = specs.build("tgi", "limits:\n  max_model_len: 8192\n",
                      options="{args: ['--max-batch-total-tokens=4096']}", expect=1)
    [d, w] = out["diagnostics"]  # errors first at the same position
    assert (w["severity"], w["code"], w["line"], w["column"]) == ("warning", "tgi-batch-total-ignored", 8, 16)
    assert (d["code"], d["line"], d["column"]) == ("tgi-batch-total", 8, 16)
    assert d["message"] == ("TGI refuses max_total_tokens (8192, limits.max_model_len) above "
                            "--max-batch-total-tokens (4096)")
    out = specs.build("tgi", "limits:\n  max_model_len: 8192\n", options="{args: [--max-batch-total-tokens, '16384']}")
    assert launcher(out)[-2:] == ["--max-batch-total-tokens", "16384"]


def test_lora_adapters_local_are_named_and_mounted_hub_ones_warn(specs, tmp_path):
    out = specs.build("tgi", model="  adapters:\n    - {name: sql, source: ./adapters/sql}\n"
                                   "    - {name: chat, source: org/chat-lora}\n")
    assert flag(out, "--lora-adapters") == "sql=/deployc/adapters/sql,org/chat-lora"
    d = docker(out)
    assert "${PWD}/adapters/sql:/deployc/adapters/sql:ro" in d
    assert "-v \"${PWD}\"/adapters/sql:/deployc/adapters/sql:ro" in artifact(out, "run.sh")
    assert "../../adapters/sql:/deployc/adapters/sql:ro" in compose(out)["services"]["demo"]["volumes"]
    [w] = [d for d in out["diagnostics"] if d["code"] != "path-missing"]  # ./adapters/sql is not in tmp_path
    assert (w["severity"], w["code"], w["line"], w["column"]) == ("warning", "tgi-lora-hub", 7, 28)
    assert w["message"] == "TGI loads a hub adapter under its repo id: clients send model 'org/chat-lora', not 'chat'"


def test_local_model_is_bind_mounted_read_only(specs):
    out = specs.build("tgi", source="./my model")
    assert flag(out, "--model-id") == "/deployc/model"
    assert "${PWD}/my model:/deployc/model:ro" in docker(out)
    assert "-v \"${PWD}\"'/my model:/deployc/model:ro'" in artifact(out, "run.sh")
    for source, bind, shell in (
            ("~/models/q", "${HOME}/models/q:/deployc/model:ro", ' -v "${HOME}"/models/q:/deployc/model:ro '),
            ("/srv/models/q", "/srv/models/q:/deployc/model:ro", " -v /srv/models/q:/deployc/model:ro ")):
        out = specs.build("tgi", source=source)
        assert bind in docker(out) and shell in artifact(out, "run.sh")
    out = specs.build("tgi", source="./a:b", expect=1)
    assert ("tgi-local-path", 4, 11) in codes(out)


def test_api_key_and_hf_token_travel_by_name_only(specs):
    out = specs.build("tgi", "server:\n  api_key_env: MY_KEY\n")
    script = artifact(out, "run.sh")
    assert 'export API_KEY="${MY_KEY:?set MY_KEY to the API key}"\n' in script
    assert docker(out)[-4:] == ["-e", "HF_TOKEN", "-e", "API_KEY"]
    assert "--api-key" not in launcher(out)  # a value on the command line would show in `ps`
    env = compose(out)["services"]["demo"]["environment"]
    assert env == ["HF_TOKEN", "API_KEY=${MY_KEY:?set MY_KEY to the API key}"]


def test_host_publishes_the_port_and_the_launcher_listens_on_all_addresses_inside(specs):
    out = specs.build("tgi", "server:\n  host: 127.0.0.1\n  port: 9000\n")
    d = docker(out)
    assert d[d.index("-p") + 1] == "127.0.0.1:9000:9000"
    assert launcher(out)[-4:] == ["--hostname", "0.0.0.0", "--port", "9000"]  # docker's HOSTNAME must not leak in
    svc = compose(out)["services"]["demo"]
    assert svc["ports"] == ["127.0.0.1:9000:9000"] and svc["shm_size"] == "1g" and "ipc" not in svc
    assert "http://localhost:9000/health" in svc["healthcheck"]["test"][-1]
    assert svc["volumes"][0] == "${HF_HOME:-~/.cache/huggingface}:/data"


@pytest.mark.parametrize("arg, conflict", [
    ("--max-total-tokens=100", "limits.max_model_len"), ("--port", "server.port"), ("-p8001", "server.port"),
    ("--num-shard", "parallelism.tensor"), ("--sharded", "parallelism.tensor"),
    ("--max-input-length", "limits.max_input_tokens"), ("--hostname", "server.host"),
    ("--api-key", "server.api_key_env"), ("--quantize", "precision.quantization"),
    ("--max-input-tokens=5", "limits.max_input_tokens"), ("--lora-adapters", "model.adapters"),
])
def test_args_that_restate_spec_settings_are_errors(specs, arg, conflict):
    out = specs.build("tgi", options=f"{{args: ['{arg}', '1']}}", expect=1)
    d = next(d for d in out["diagnostics"] if d["code"] == "target-args-conflict")
    assert (d["line"], d["column"]) == (6, 16)
    assert d["message"] == (f"{arg.split('=')[0]} in targets.tgi.args restates {conflict}, which deployc derives "
                            "from the spec")


@pytest.mark.parametrize("version, arg, message, hint", [
    ("3.3.7", "--max-total", "--max-total is not an option of text-generation-launcher 3.3.7",
     "did you mean --max-total-tokens?"),
    ("3.3.7", "--max_waiting_tokens", "--max_waiting_tokens is not an option of text-generation-launcher 3.3.7",
     "did you mean --max-waiting-tokens?"),
    ("2.4.1", "--prometheus-port", "--prometheus-port is not an option of text-generation-launcher 2.4.1 (3.3.7 "
     "has it)", "see `--help` of text-generation-launcher 2.4.1"),
    ("2.4.1", "--max-input", "--max-input is not an option of text-generation-launcher 2.4.1",
     "did you mean --max-input-tokens?"),
])
def test_clap_matches_long_options_exactly_and_per_version(specs, version, arg, message, hint):
    out = specs.build("tgi", options=f"{{version: '{version}', args: ['{arg}', '9100']}}", expect=1)
    [d] = out["diagnostics"]
    assert (d["code"], d["message"], d["hint"]) == ("target-args-unknown", message, hint)
    assert "target-args-conflict" not in codes(out)  # no prefix matching: --max-total is not --max-total-tokens


def test_known_args_pass_verbatim_after_derived_flags(specs):
    out = specs.build("tgi", options="{args: [--prometheus-port, '9100', --json-output, '--cuda-graphs=1,2,4']}")
    assert launcher(out)[-4:] == ["--prometheus-port", "9100", "--json-output", "--cuda-graphs=1,2,4"]
    out = specs.build("tgi", options="{args: [stray]}", expect=1)
    assert out["diagnostics"][0]["message"] == ("'stray' in targets.tgi.args is not an option of "
                                                "text-generation-launcher 3.3.7, and text-generation-launcher takes "
                                                "no further positional arguments")


@pytest.mark.parametrize("version", list(VERSIONS))
def test_every_spelling_of_the_option_table_is_an_option_of_the_pinned_launcher(version):
    v = VERSIONS[version]
    assert [f for f in TABLE.owners(v) if f not in v.options and f not in v.short_flags] == []
    # every long option deployc owns has its clap env variable, and each of them is owned
    assert sorted(owned_env(v)) == sorted(v.options[f]["env"] for f in TABLE.owners(v) if f in v.options)


@pytest.mark.parametrize("name, owner", [
    ("MAX_TOTAL_TOKENS", "limits.max_model_len"), ("PORT", "server.port"), ("HOSTNAME", "server.host"),
    ("API_KEY", "server.api_key_env"), ("NUM_SHARD", "parallelism.tensor"), ("MODEL_ID", "model.source"),
    ("MAX_INPUT_LENGTH", "limits.max_input_tokens"), ("SHARDED", "parallelism.tensor"),
])
def test_env_that_the_launcher_reads_for_a_derived_flag_is_an_error(specs, name, owner):
    out = specs.build("tgi", options=f"{{env: {{{name}: '${{V}}'}}}}", expect=1)
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("target-env-conflict", 6, 15)
    assert d["message"] == f"targets.tgi.env.{name} restates {owner}"


def test_user_env_is_exported_and_passed_by_name(specs):
    out = specs.build("tgi", options="{env: {LOG_LEVEL: debug, X: 'a b $c ${D}'}}")
    script = artifact(out, "run.sh")
    assert "export LOG_LEVEL=debug\n" in script and "export X='a b $c '\"${D}\"\n" in script
    assert docker(out)[-6:] == ["-e", "HF_TOKEN", "-e", "LOG_LEVEL", "-e", "X"]
    assert compose(out)["services"]["demo"]["environment"] == ["HF_TOKEN", "LOG_LEVEL=debug", "X=a b $$c ${D}"]


def test_hostile_values_stay_inert_in_run_sh(specs):
    out = specs.build("tgi", options="{args: [--otlp-service-name, 'x\"; rm -rf / #$(id)']}")
    line = artifact(out, "run.sh").splitlines()[-1]
    assert shlex.split(line)[1:] == out["command"]
    assert "'x\"; rm -rf / #$(id)'" in line


def test_versions_pin_their_images_and_the_banner_names_them(specs):
    for version in ("3.3.7", "2.4.1"):
        out = specs.build("tgi", options=f"{{version: '{version}'}}")
        assert IMAGE + version in out["command"]
        assert compose(out)["services"]["demo"]["image"] == IMAGE + version
        assert f"for target tgi, TGI {version}." in artifact(out, "run.sh").splitlines()[1]
    out = specs.build("tgi", options="{image: 'registry.example/tgi:3.3.7-patched'}")
    assert "registry.example/tgi:3.3.7-patched" in out["command"]


def test_amd_gpus_are_refused(specs):
    out = specs.build("tgi", "hardware:\n  gpu: MI300X\n", expect=1)
    assert codes(out) == [("target-unsupported", 6, 8)]
