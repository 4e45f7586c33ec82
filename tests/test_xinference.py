"""The XInference target's mapping decisions, asserted on the exact argv, files and diagnostics."""

from __future__ import annotations

import json
import shlex
import sys
import types
from pathlib import Path

import pytest

from conftest import codes

OPTIONS = json.loads((Path(__file__).parent / "conformance" / "data" / "xinference_cli_options.json").read_text())
BUILTIN = "{model_name: qwen2.5-instruct, size_in_billions: 0.5}"
# The `xinference launch` options deployc writes and the request field each fills (cmdline.py model_launch).
CLICK_FIELDS = {
    "--model-name": "model_name", "--model-type": "model_type", "--model-engine": "model_engine",
    "--model-uid": "model_uid", "--model-format": "model_format", "--size-in-billions": "model_size_in_billions",
    "--quantization": "quantization", "--replica": "replica", "--n-gpu": "n_gpu", "--n-worker": "n_worker",
    "--model-path": "model_path", "--trust-remote-code": "trust_remote_code",
}


def files(out) -> dict[str, str]:
    return {a["path"]: a["content"] for a in out["artifacts"]}


def commands(out) -> list[list[str]]:
    """The argv lines of launch.sh (after its `cd`), as the shell splits them."""
    lines = files(out)["launch.sh"].split('cd "$(dirname "$0")"\n', 1)[1].splitlines()
    return [shlex.split(line) for line in lines]


def test_minimal_builtin_model(specs):
    out = specs.build("xinference", options=BUILTIN)
    assert out["command"] == ["xinference-local", "--host", "0.0.0.0", "--port", "8000"]
    assert sorted(files(out)) == ["launch.json", "launch.py", "launch.sh", "start.sh"]
    assert commands(out) == [[
        "xinference", "launch", "--endpoint", "http://localhost:8000", "--model-name", "qwen2.5-instruct",
        "--model-type", "LLM", "--model-engine", "vLLM", "--model-uid", "qwen2.5-0.5b-instruct",
        "--model-format", "pytorch", "--size-in-billions", "0_5", "--quantization", "none",
        "--n-gpu", "1", "--trust-remote-code", "false", "--tensor_parallel_size", "1"]]
    # max_concurrency and memory_utilization unset: XInference's own defaults (256 sequences, 0.90)
    assert json.loads(files(out)["launch.json"]) == {
        "model_name": "qwen2.5-instruct", "model_type": "LLM", "model_engine": "vLLM",
        "model_uid": "qwen2.5-0.5b-instruct", "model_format": "pytorch", "model_size_in_billions": "0_5",
        "quantization": "none", "n_gpu": 1, "enable_thinking": False, "trust_remote_code": False,
        "tensor_parallel_size": 1}
    assert all(d["why"] for d in out["derived"])
    start = files(out)["start.sh"]
    assert "export XINFERENCE_AUTH_ADVANCED=0\nexport XINFERENCE_TRUST_REMOTE_CODE=0\n" in start
    assert start.endswith("exec xinference-local --host 0.0.0.0 --port 8000\n")


def test_every_emitted_option_is_in_the_pinned_option_list(specs):
    """Options of xinference-local / launch / register, extracted from cmdline.py at the pinned commits."""
    for version in ("4.1.0", "1.17.1"):
        table = OPTIONS["versions"][version]["commands"]
        out = specs.build("xinference", "parallelism:\n  data: 2\n", model="  trust_remote_code: true\n",
                          options=f"{{model_family: qwen2.5-instruct, size_in_billions: 7, version: '{version}'}}")
        assert {o for o in out["command"] if o.startswith("-")} <= set(table["xinference-local"])
        register, launch = commands(out)
        assert {o for o in register if o.startswith("-")} <= set(table["xinference register"])
        flags = launch[2::2]
        click = [f for f in flags if f in CLICK_FIELDS or f == "--endpoint"]
        assert set(click) <= set(table["xinference launch"]), set(click) - set(table["xinference launch"])
        kwargs = [f[2:] for f in flags if f not in click]
        assert kwargs and all("-" not in k and k in json.loads(files(out)["launch.json"]) for k in kwargs)
        assert not {f"--{k}" for k in kwargs} & set(table["xinference launch"]), "click would take these"


def launch_values(out, v="4.1.0"):
    """launch.sh's `--key value` pairs typed the way xinference's CLI types them."""
    from deployc.targets.xinference.launch import click_value
    from deployc.targets.xinference.versions import VERSIONS
    argv = commands(out)[-1][4:]
    values = dict(VERSIONS[v].cli_defaults)  # what the CLI sends without being told
    loras = []
    while "--lora-modules" in argv:
        i = argv.index("--lora-modules")
        loras.append({"lora_name": argv[i + 1], "local_path": argv[i + 2]})
        del argv[i:i + 3]
    if loras:
        values["peft_model_config"] = {"image_lora_load_kwargs": None, "image_lora_fuse_kwargs": None,
                                       "lora_list": loras}
    for flag, raw in zip(argv[::2], argv[1::2]):
        key = CLICK_FIELDS.get(flag, flag[2:])
        if key == "model_size_in_billions":
            values[key] = raw if "_" in raw else int(raw)
        elif key in ("model_name", "model_type", "model_engine", "model_uid", "model_format", "quantization",
                     "model_path"):
            values[key] = raw
        elif key == "trust_remote_code":
            values[key] = raw == "true"
        else:
            values[key] = click_value(raw, VERSIONS[v])
    return values


@pytest.mark.parametrize("extra", ["", "limits:\n  max_model_len: 8192\n  max_concurrency: 32\n  max_batch_tokens: 4096\n"
                                   "precision:\n  kv_cache_dtype: fp8\n  quantization: fp8\nparallelism:\n  tensor: 2\n"
                                   "  pipeline: 2\n  data: 2\nhardware:\n  memory_utilization: 0.85\n",
                                   "hardware:\n  memory_utilization: 1\n",
                                   "hardware:\n  memory_utilization: 0.1234567\n"])
def test_launch_sh_launch_json_and_launch_py_agree(specs, extra):
    out = specs.build("xinference", extra, options=BUILTIN)
    body = json.loads(files(out)["launch.json"])
    assert json.dumps(launch_values(out), sort_keys=True) == json.dumps(body, sort_keys=True)  # 1 is not 1.0
    assert run_launch_py(files(out)["launch.py"]) == ("http://localhost:8000", None, None, body)


def run_launch_py(source: str, env: dict | None = None, tmp: Path | None = None):
    """Run launch.py's main() against a stand-in xinference_client; return what it was asked to do."""
    seen = {}

    class Client:
        def __init__(self, base_url, api_key=None):
            seen["url"], seen["key"] = base_url, api_key

        def register_model(self, model_type, model, persist):
            seen["register"] = (model_type, json.loads(model), persist)

        def launch_model(self, **kwargs):
            seen["launch"] = kwargs
            return "uid"

    fake = types.ModuleType("xinference_client")
    fake.RESTfulClient = Client
    old = sys.modules.get("xinference_client")
    sys.modules["xinference_client"] = fake
    try:
        namespace = {"__name__": "launch", "__file__": str((tmp or Path("/nonexistent")) / "launch.py")}
        exec(compile(source, "launch.py", "exec"), namespace)
        if env:
            import os
            os.environ.update(env)
        namespace["main"]()
    finally:
        if old is None:
            del sys.modules["xinference_client"]
        else:
            sys.modules["xinference_client"] = old
    return seen["url"], seen["key"], seen.get("register"), seen["launch"]


def test_parallelism_limits_and_quantization_use_vllm_engine_kwargs(specs):
    out = specs.build("xinference", "limits:\n  max_model_len: 8192\n  max_concurrency: 32\n"
                      "  max_batch_tokens: 4096\nprecision:\n  quantization: fp8\n  kv_cache_dtype: fp8\n"
                      "parallelism:\n  tensor: 2\n  pipeline: 2\n  data: 3\n", options=BUILTIN)
    body = json.loads(files(out)["launch.json"])
    assert {k: body[k] for k in ("replica", "n_gpu", "tensor_parallel_size", "pipeline_parallel_size",
                                 "max_model_len", "max_num_seqs", "max_num_batched_tokens", "kv_cache_dtype",
                                 "model_format", "quantization", "model_quantization")} == {
        "replica": 3, "n_gpu": 4, "tensor_parallel_size": 2, "pipeline_parallel_size": 2, "max_model_len": 8192,
        "max_num_seqs": 32, "max_num_batched_tokens": 4096, "kv_cache_dtype": "fp8", "model_format": "pytorch",
        "quantization": "none", "model_quantization": "fp8"}


@pytest.mark.parametrize("quant, xq, fmt, q", [
    ("awq", "", "awq", "Int4"), ("gptq", "", "gptq", "Int4"), ("gptq", ", quantization: Int8", "gptq", "Int8"),
])
def test_prequantized_checkpoints_use_xinference_names_and_no_engine_quantization(specs, quant, xq, fmt, q):
    out = specs.build("xinference", f"precision:\n  dtype: float16\n  quantization: {quant}\n",
                      options="{model_name: qwen2.5-instruct, size_in_billions: 7" + xq + "}",
                      source=f"Qwen/Qwen2.5-7B-Instruct-{quant.upper()}")  # a checkpoint quantized that way
    body = json.loads(files(out)["launch.json"])
    assert (body["model_format"], body["quantization"]) == (fmt, q)
    assert "model_quantization" not in body


@pytest.mark.parametrize("quant, col", [("int4", 17), ("int8", 17), ("bitsandbytes", 17)])
def test_quantizations_xinference_cannot_name_are_refused(specs, quant, col):
    out = specs.build("xinference", f"precision:\n  quantization: {quant}\n", expect=1,
                      options=BUILTIN)
    assert codes(out) == [("target-unsupported", 6, col)]


def test_custom_model_is_registered_with_hub_id_revision_and_family(specs):
    out = specs.build("xinference", "limits:\n  max_model_len: 4096\n", model="  revision: v1.0\n",
                      options="{model_family: qwen2.5-instruct, size_in_billions: 1.5}")
    register = json.loads(files(out)["register.json"])
    assert register["model_name"] == "demo" and register["model_family"] == "qwen2.5-instruct"
    assert register["context_length"] == 4096 and register["version"] == 2
    assert register["model_specs"] == [{"model_format": "pytorch", "model_size_in_billions": "1_5",
                                        "quantization": "none", "model_id": "Qwen/Qwen2.5-0.5B-Instruct",
                                        "model_revision": "v1.0"}]
    reg, launch = commands(out)
    assert reg == ["xinference", "register", "--endpoint", "http://localhost:8000", "--model-type", "LLM",
                   "--file", "register.json"]
    assert launch[launch.index("--model-name") + 1] == "demo"
    assert launch[launch.index("--size-in-billions") + 1] == "1_5"


def test_lora_adapters_go_as_lora_modules_and_rank_above_16_is_raised(specs, tmp_path):
    (tmp_path / "a" / "big").mkdir(parents=True)
    (tmp_path / "a" / "big" / "adapter_config.json").write_text(json.dumps({"r": 8, "rank_pattern": {"q_proj": 96}}))
    out = specs.build("xinference", options=BUILTIN,
                      model="  adapters:\n    - {name: big, source: ./a/big}\n    - {name: hub, source: org/lora}\n")
    body = json.loads(files(out)["launch.json"])
    assert body["peft_model_config"] == {"image_lora_load_kwargs": None, "image_lora_fuse_kwargs": None, "lora_list": [
        {"lora_name": "big", "local_path": "./a/big"}, {"lora_name": "hub", "local_path": "org/lora"}]}
    assert body["max_lora_rank"] == 128, "smallest vLLM choice >= the rank_pattern maximum 96"
    launch = commands(out)[-1]
    i = launch.index("--lora-modules")
    assert launch[i:i + 6] == ["--lora-modules", "big", "./a/big", "--lora-modules", "hub", "org/lora"]
    assert launch_values(out) == body
    small = specs.build("xinference", model="  adapters: [{name: s, source: org/lora, rank: 16}]\n", options=BUILTIN)
    assert "max_lora_rank" not in json.loads(files(small)["launch.json"])
    huge = specs.build("xinference", options=BUILTIN, expect=1,
                       model="  adapters: [{name: s, source: org/lora, rank: 1024}]\n")
    assert codes(huge) == [("xinference-lora-rank", 5, 48)]


def test_custom_model_size_defaults_to_facts_parameters(specs):
    out = specs.build("xinference", model="  facts: {parameters: 7.62e9}\n", options="{model_family: qwen2.5-instruct}")
    assert json.loads(files(out)["launch.json"])["model_size_in_billions"] == "7_6"


def test_local_model_goes_as_model_path_relative_to_the_spec(specs):
    out = specs.build("xinference", options="{model_family: qwen2.5-instruct, size_in_billions: 7}",
                      source="./my model")
    assert codes(out) == [("model-facts-unknown", 4, 11), ("path-missing", 4, 11)]
    assert json.loads(files(out)["register.json"])["model_specs"][0]["model_id"] is None
    assert json.loads(files(out)["launch.json"])["model_path"] == "./my model"
    assert commands(out)[1][commands(out)[1].index("--model-path") + 1] == "./my model"
    assert 'cd "$(dirname "$0")"/../..' in files(out)["start.sh"], "the server resolves it from the spec folder"


def test_register_py_reads_register_json_and_api_key_from_the_environment(specs, tmp_path):
    out = specs.build("xinference", "server:\n  api_key_env: MY_KEY\n  port: 9000\n",
                      options="{model_family: qwen2.5-instruct, size_in_billions: 7}")
    (tmp_path / "register.json").write_text(files(out)["register.json"])
    url, key, register, launch = run_launch_py(files(out)["launch.py"], {"MY_KEY": "k-123"}, tmp_path)
    assert (url, key) == ("http://localhost:9000", "k-123")
    assert register == ("LLM", json.loads(files(out)["register.json"]), False)
    assert launch == json.loads(files(out)["launch.json"])
    for argv_line in files(out)["launch.sh"].splitlines()[-2:]:
        assert argv_line.endswith(' --api-key "${MY_KEY:?set MY_KEY to an XInference API key}"')
    assert "k-123" not in json.dumps(out)


def test_api_key_turns_4_1_auth_on_and_is_refused_by_1_17(specs):
    out = specs.build("xinference", "server:\n  api_key_env: MY_KEY\n", options=BUILTIN)
    assert "export XINFERENCE_AUTH_ADVANCED=1\n" in files(out)["start.sh"]
    assert "POST /v1/admin/setup" in files(out)["start.sh"]
    out = specs.build("xinference", "server:\n  api_key_env: MY_KEY\n", expect=1,
                      options="{model_name: qwen2.5-instruct, size_in_billions: 7, version: '1.17.1'}")
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("target-unsupported", 6, 16)
    assert "XInference 1.17.1 cannot express an API key" in d["message"]
    assert "--auth-config" in d["hint"]


def test_launch_json_carries_what_the_cli_sends_by_default(specs):
    """`xinference launch` 4.1.0 sends enable_thinking=False unless --enable-thinking (conformance probe)."""
    assert json.loads(files(specs.build("xinference", options=BUILTIN))["launch.json"])["enable_thinking"] is False
    assert "--enable-thinking" not in commands(specs.build("xinference", options=BUILTIN))[-1]
    old = specs.build("xinference", options="{model_name: qwen2.5-instruct, size_in_billions: 7, version: '1.17.1'}")
    assert json.loads(files(old)["launch.json"])["enable_thinking"] is None


def test_trust_remote_code_is_always_spelled_and_4_1_needs_the_server_switch(specs):
    out = specs.build("xinference", model="  trust_remote_code: true\n", options=BUILTIN)
    assert json.loads(files(out)["launch.json"])["trust_remote_code"] is True
    assert "export XINFERENCE_TRUST_REMOTE_CODE=1\n" in files(out)["start.sh"]
    old = specs.build("xinference", options="{model_name: qwen2.5-instruct, size_in_billions: 7, version: '1.17.1'}")
    launch = commands(old)[-1]
    assert launch[launch.index("--trust-remote-code") + 1] == "false", "the CLI's own default is true"
    assert "XINFERENCE_" not in files(old)["start.sh"], "1.17.1 has neither switch"


def test_extra_args_are_pairs_typed_like_xinference_does(specs):
    args = '["--enforce_eager", "true", "--compilation_config", "{\\"mode\\": 3}", "--seed", "7"]'
    out = specs.build("xinference", options="{model_name: qwen2.5-instruct, size_in_billions: 7, args: " + args + "}")
    body = json.loads(files(out)["launch.json"])
    assert (body["enforce_eager"], body["compilation_config"], body["seed"]) == (True, {"mode": 3}, 7)
    assert commands(out)[-1][-6:] == ["--enforce_eager", "true", "--compilation_config", '{"mode": 3}', "--seed", "7"]
    old = specs.build("xinference", options="{model_name: qwen2.5-instruct, size_in_billions: 7, version: '1.17.1', "
                                           "args: " + args + "}")
    assert json.loads(files(old)["launch.json"])["compilation_config"] == '{"mode": 3}', "1.17.1 parses no JSON"


@pytest.mark.parametrize("args, code, message", [
    ('["--enforce_eager"]', "xinference-args-pair", "--enforce_eager has no value"),
    ('["--enforce_eager", "--seed", "1"]', "xinference-args-pair", "--enforce_eager has no value"),
    ('["seed", "1"]', "xinference-args-pair", "'seed' is not a --key"),
    ('["--max-model-len", "4096"]', "xinference-args-spelling", "as the keyword 'max-model-len' verbatim"),
    ('["--max_model_len", "4096"]', "target-args-conflict", "restates limits.max_model_len"),
    ('["--seed=3", "--x", "1"]', "xinference-args-spelling", "does not split --seed=3"),
    ('["--quantization", "awq"]', "xinference-args-option", "--quantization is an option of `xinference launch`"),
    ('["-q", "Int4"]', "xinference-args-option", "-q is an option"),
    ('["--gpu-idx", "0,1"]', "xinference-args-option", "--gpu-idx is an option"),
    ('["--model_quantization", "fp8"]', "target-args-conflict", "restates precision.quantization"),
    ('["--model_uid", "x"]', "xinference-args-field", "model_uid is a field of the launch request"),
    ('["--model_path", "./m"]', "target-args-conflict", "restates model.source"),   # the request key of --model-path
    ('["--trust_remote_code", "true"]', "target-args-conflict", "restates model.trust_remote_code"),
    ('["--enable_lora", "true"]', "target-args-conflict", "restates model.adapters"),
])
def test_bad_extra_args(specs, args, code, message):
    out = specs.build("xinference", options="{model_name: qwen2.5-instruct, size_in_billions: 7, args: " + args + "}",
                      expect=1)
    [d] = out["diagnostics"]
    assert d["code"] == code and message in d["message"], d
    assert d["line"] == 6


def test_context_length_is_a_4_1_option_only(specs):
    a = '["--context-length", "4096"]'
    out = specs.build("xinference", options="{model_name: qwen2.5-instruct, size_in_billions: 7, args: " + a + "}", expect=1)
    assert out["diagnostics"][0]["code"] == "xinference-args-option"
    out = specs.build("xinference", options="{model_name: qwen2.5-instruct, size_in_billions: 7, version: '1.17.1', args: " + a + "}",
                      expect=1)
    assert out["diagnostics"][0]["code"] == "xinference-args-spelling"


def test_env_that_restates_a_switch_is_an_error(specs):
    out = specs.build("xinference", expect=1,
                      options="{model_name: qwen2.5-instruct, size_in_billions: 7, env: {XINFERENCE_AUTH_ADVANCED: '1'}}")
    assert [(d["code"], d["message"]) for d in out["diagnostics"]] == [
        ("target-env-conflict", "targets.xinference.env.XINFERENCE_AUTH_ADVANCED restates server.api_key_env")]
    out = specs.build("xinference", options="{model_name: qwen2.5-instruct, size_in_billions: 7, env: {HF_HUB_OFFLINE: '1'}}")
    assert "export HF_HUB_OFFLINE=1\n" in files(out)["start.sh"]


@pytest.mark.parametrize("xinf, extra, model, expected", [
    ("{model_name: m}", "", "", [("xinference-model-name", 6, 28)]),
    ("{size_in_billions: 7}", "", "", [("xinference-size", 6, 34)]),   # the source is qwen2.5-instruct 0_5
    ("{model_name: qwen2.5-instruct, size_in_billions: 7}", "", "  revision: abc\n", [("xinference-revision", 5, 13)]),
    ("{model_name: qwen2.5-instruct, size_in_billions: 7, image: 'x/y:1'}", "", "", [("xinference-image", 6, 74)]),
    ("{model_name: m, model_family: qwen2.5-instruct, size_in_billions: 7}", "", "", [("xinference-model-family", 6, 45)]),
    ("{model_name: qwen2.5-instruct, size_in_billions: 7}", "limits:\n  max_input_tokens: 100\n", "",
     [("target-unsupported", 6, 21)]),
    ("{model_name: qwen2.5-instruct, size_in_billions: 7}", "limits:\n  max_concurrency: 64\n  max_batch_tokens: 32\n", "",
     [("xinference-batch-tokens", 7, 21)]),
])
def test_target_checks(specs, xinf, extra, model, expected):
    out = specs.build("xinference", extra, options=xinf, model=model, expect=1)
    assert codes(out) == expected


@pytest.mark.parametrize("feature, extra, model, hint", [
    ("a custom chat template", "", "  chat_template: ./t.jinja\n", "model_family"),
    ("an output token limit", "limits:\n  max_output_tokens: 100\n", "", "max_tokens"),
    ("a separate tokenizer", "", "  tokenizer: org/t\n", "tokenizer files"),
])
def test_unsupported_features_name_the_nearest_thing(specs, feature, extra, model, hint):
    out = specs.build("xinference", extra, model=model, expect=1, options=BUILTIN)
    [d] = [d for d in out["diagnostics"] if d["code"] != "path-missing"]
    assert d["code"] == "target-unsupported" and feature in d["message"] and hint in d["hint"]


def test_hostile_values_stay_inert(specs):
    out = specs.build("xinference", "server:\n  host: 127.0.0.1\n",
                      model="  served_name: \"x';rm${IFS}-rf#\\\"$(id)\"\n",
                      options="{model_name: qwen2.5-instruct, size_in_billions: 7, env: {NOTE: \"a'b $HOME ${USER}\"}}")
    launch = commands(out)[-1]
    assert launch[launch.index("--model-uid") + 1] == "x';rm${IFS}-rf#\"$(id)"
    assert run_launch_py(files(out)["launch.py"])[3]["model_uid"] == "x';rm${IFS}-rf#\"$(id)"
    assert json.loads(files(out)["launch.json"])["model_uid"] == "x';rm${IFS}-rf#\"$(id)"
    assert "export NOTE='a'\"'\"'b $HOME '\"${USER}\"\n" in files(out)["start.sh"]


def test_output_is_byte_identical_across_runs(specs):
    a = specs.build("xinference", options="{model_family: qwen2.5-instruct, size_in_billions: 7}")
    b = specs.build("xinference", options="{model_family: qwen2.5-instruct, size_in_billions: 7}")
    assert a == b
    assert all(f["content"].startswith(("#!/usr/bin/env", "{")) for f in a["artifacts"])
    assert all("enerated by deployc" in f["content"] for f in a["artifacts"] if f["path"] != "launch.json")


def test_args_check_knows_every_launch_option_of_the_pinned_table():
    from deployc.targets.xinference.versions import VERSIONS
    for version, v in VERSIONS.items():
        assert v.launch_options == set(OPTIONS["versions"][version]["commands"]["xinference launch"]) | {"--help"}


def test_the_container_mounts_local_model_and_adapters_and_its_launch_names_them():
    """`deployc up` runs the launch inside the server's container, which sees only what is mounted."""
    from deployc.compiler.driver import compile_spec as load_spec, compile_target
    from deployc.compiler.registry import Registry
    from deployc.compiler.api.target import BuildContext
    from deployc.compiler.api.container import Volume

    sample = Path(__file__).parent.parent / "samples" / "xinference-local-lora" / "deploy.yaml"
    result = compile_target(load_spec(sample), Registry.discover(), "xinference",
                            BuildContext("../..", "deploy.yaml", "0" * 16))
    svc = result.lowered.service
    assert svc.volumes == (Volume("../../model", "/deployc/model"), Volume("../../adapters/sql", "/deployc/adapters/sql"))
    step = svc.launch.steps[-1]
    assert step[step.index("--model-path") + 1] == "/deployc/model"
    assert step[step.index("--lora-modules") + 1:step.index("--lora-modules") + 3] == ("sql", "/deployc/adapters/sql")
    launch_sh = next(a.content for a in result.lowered.artifacts if a.path == "launch.sh")
    assert "--model-path ./model" in launch_sh   # the script on the host keeps the spec's own paths


# --- issue 22 item 5: hub ids XInference's registry holds, engines, multi-worker pipeline -------------------

def launch_body(out) -> dict:
    return json.loads(files(out)["launch.json"])


def test_a_hub_id_of_the_registry_launches_the_built_in_model_as_written(specs):
    """Before: Qwen/Qwen2.5-7B-Instruct demanded model_family or model_name and said the parameter count
    was unknown while `plan` used the catalog's 7.62B."""
    for version in ("4.1.0", "1.17.1"):
        out = specs.build("xinference", options=f"{{version: '{version}'}}", source="Qwen/Qwen2.5-7B-Instruct")
        assert sorted(files(out)) == ["launch.json", "launch.py", "launch.sh", "start.sh"]   # no register.json
        body = launch_body(out)
        assert (body["model_name"], body["model_size_in_billions"], body["model_format"], body["quantization"]) \
            == ("qwen2.5-instruct", 7, "pytorch", "none")
        assert "# Model: built-in qwen2.5-instruct 7B (pytorch, none)" not in files(out)["launch.sh"]
        assert (f"# Model: Qwen/Qwen2.5-7B-Instruct is XInference {version}'s built-in qwen2.5-instruct 7B "
                "(pytorch, none); engine vLLM.") in files(out)["launch.sh"]


def test_renamed_hub_ids_and_quantized_checkpoints_match_the_registry(specs):
    out = specs.build("xinference", source="meta-llama/Llama-3.1-8B-Instruct")   # the registry: Meta-Llama-3.1-...
    assert (launch_body(out)["model_name"], launch_body(out)["model_size_in_billions"]) == ("llama-3.1-instruct", 8)
    out = specs.build("xinference", "precision:\n  dtype: float16\n  quantization: gptq\n",
                      options="{quantization: Int8}", source="Qwen/Qwen2.5-7B-Instruct-GPTQ-Int8")
    body = launch_body(out)
    assert (body["model_name"], body["model_format"], body["quantization"]) == ("qwen2.5-instruct", "gptq", "Int8")


def test_a_custom_model_is_sized_from_the_facts_and_its_family_hint_fits_its_architecture(specs):
    """Before: a Llama was told to use qwen2.5-instruct, and the catalog's parameter count went unused."""
    out = specs.build("xinference", expect=1, source="meta-llama/Llama-3.2-3B-Instruct")   # not in the registry
    [d] = out["diagnostics"]
    assert d["code"] == "xinference-model-family" and "qwen" not in d["hint"]
    assert d["hint"] == ("set targets.xinference.model_family to a built-in family of the same architecture "
                         "(LlamaForCausalLM): llama-3.3-instruct, llama-3.1-instruct, llama-3-instruct")
    out = specs.build("xinference", options="{model_family: llama-3.1-instruct}", source="meta-llama/Llama-3.2-3B-Instruct")
    register = json.loads(files(out)["register.json"])
    assert register["model_specs"][0]["model_size_in_billions"] == "3_2"       # 3.21e9 from the catalog
    assert register["context_length"] == 131072


def test_unknown_family_and_model_names_get_the_closest_registry_names(specs):
    out = specs.build("xinference", expect=1, options="{model_family: qwen2.5-instrut, size_in_billions: 7}",
                      source="org/unknown")
    assert [(d["code"], d["hint"]) for d in out["diagnostics"] if d["code"].startswith("xinference")] == [
        ("xinference-model-family", "did you mean qwen2.5-instruct or qwen2-instruct or qwen2.5-vl-instruct?")]


@pytest.mark.parametrize("size", ["0.5", "'0_5'"])   # (a bare 0_5 is the YAML integer 5)
def test_a_size_spelled_as_xinference_spells_it_is_accepted(specs, size):
    """Before: the hint said 0.5 is written 0_5, and 0_5 was then rejected."""
    out = specs.build("xinference", options=f"{{model_name: qwen2.5-instruct, size_in_billions: {size}}}")
    assert launch_body(out)["model_size_in_billions"] == "0_5"
    import jsonschema
    from ruamel.yaml import YAML
    schema = json.loads((Path(__file__).parent.parent / "schemas" / "deploy.schema.json").read_text())
    spec = YAML(typ="safe", pure=True).load(specs.write("xinference", options=f"{{size_in_billions: {size}}}"))
    jsonschema.validate(spec, schema)   # an editor with the schema accepts it too


def test_a_built_in_name_with_several_sizes_takes_the_size_nearest_the_facts_or_says_which_exist(specs):
    out = specs.build("xinference", options="{model_name: qwen2.5-instruct}", source="./model",
                      model="  facts: {layers: 28, hidden_size: 3584, attention_heads: 28, kv_heads: 4, "
                            "vocab_size: 152064, max_position_embeddings: 32768, parameters: 7.6e9}\n")
    assert launch_body(out)["model_size_in_billions"] == 7 and launch_body(out)["model_path"] == "./model"
    out = specs.build("xinference", options="{model_name: qwen2.5-instruct}", source="./model", expect=1)
    [d] = [d for d in out["diagnostics"] if d["code"].startswith("xinference")]
    assert d["code"] == "xinference-size" and "sizes 0_5, 1_5, 3, 7, 14, 32, 72" in d["message"]


def test_engines_each_get_their_own_kwargs(specs):
    limits = "limits:\n  max_model_len: 8192\n  max_concurrency: 4\n  max_batch_tokens: 4096\n"
    out = specs.build("xinference", limits, options="{engine: sglang}")
    body = launch_body(out)
    assert body["model_engine"] == "SGLang"
    assert {k: body[k] for k in ("tp_size", "context_length", "max_running_requests", "chunked_prefill_size",
                                 "dtype")} == {
        "tp_size": 1, "context_length": 8192, "max_running_requests": 4, "chunked_prefill_size": 4096,
        "dtype": "auto"}
    # hardware.memory_utilization unset: XInference's own choice stands (no mem_fraction_static)
    assert not {"tensor_parallel_size", "max_num_seqs", "gpu_memory_utilization", "mem_fraction_static"} & set(body)
    assert 'pip install "xinference[sglang]==4.1.0"' in files(out)["start.sh"]
    out = specs.build("xinference", "limits:\n  max_concurrency: 4\n", options="{engine: transformers}")
    body = launch_body(out)
    assert (body["model_engine"], body["torch_dtype"], body["max_num_seqs"]) == ("Transformers", "auto", 4)
    assert not {"tensor_parallel_size", "gpu_memory_utilization", "dtype"} & set(body)


def test_only_the_vllm_engine_gets_a_memory_plan(cli, specs):
    """vLLM's budget is what the memory plan models; the other engines budget their own way."""
    path = specs.write("xinference", options="{engine: transformers}")
    assert cli("plan", path, "--target", "xinference").stdout.rstrip().endswith("xinference 4.1.0: no memory plan")
    path = specs.write("xinference")
    assert "no memory plan" not in cli("plan", path, "--target", "xinference").stdout


def test_gguf_runs_on_the_llama_cpp_engine(specs):
    """Before: `'llama.cpp' is not a valid engine`, and GGUF was refused."""
    limits = "limits:\n  max_model_len: 4096\n  max_concurrency: 2\n"
    out = specs.build("xinference", limits + "precision:\n  quantization: gguf\n", options="{quantization: q4_k_m}",
                      source="Qwen/Qwen2.5-7B-Instruct-GGUF")
    body = launch_body(out)
    assert {k: body[k] for k in ("model_name", "model_engine", "model_format", "model_size_in_billions",
                                 "quantization", "n_ctx", "n_parallel")} == {
        "model_name": "qwen2.5-instruct", "model_engine": "llama.cpp", "model_format": "ggufv2",
        "model_size_in_billions": 7, "quantization": "q4_k_m", "n_ctx": 8192, "n_parallel": 2}
    out = specs.build("xinference", "precision:\n  quantization: gguf\n", source="Qwen/Qwen2.5-7B-Instruct-GGUF",
                      expect=1)
    [d] = [d for d in out["diagnostics"] if d["code"].startswith("xinference")]
    assert d["code"] == "xinference-quantization" and "q2_k, q3_k_m, q4_0, q4_k_m" in d["message"]
    # a local .gguf copy of a built-in model: that family's ggufv2 checkpoint, the file as model_path
    out = specs.build("xinference", "precision:\n  quantization: gguf\n", options="{quantization: q4_k_m}",
                      model="  gguf: ./qwen.gguf\n", source="Qwen/Qwen2.5-7B-Instruct")
    body = launch_body(out)
    assert (body["model_name"], body["model_format"], body["model_path"]) == ("qwen2.5-instruct", "ggufv2", "./qwen.gguf")


@pytest.mark.parametrize("options, extra, code, line", [
    ("{engine: llama.cpp}", "", "xinference-engine", 6),
    ("{engine: sglang}", "precision:\n  quantization: gguf\n", "xinference-engine", 8),
    ("{engine: transformers}", "parallelism:\n  tensor: 2\n", "xinference-engine-tensor", 6),
    ("{engine: transformers}", "limits:\n  max_model_len: 4096\n", "xinference-engine-context", 6),
    ("{engine: sglang}", "precision:\n  quantization: fp8\n", "xinference-engine-quantization", 6),
])
def test_what_an_engine_cannot_take_is_refused_at_its_key(specs, options, extra, code, line):
    out = specs.build("xinference", extra, options=options, expect=1)
    assert (code, line) in [(d["code"], d["line"]) for d in out["diagnostics"]]


@pytest.mark.parametrize("engine, kwargs", [("vllm", {"tensor_parallel_size": 16, "pipeline_parallel_size": 1}),
                                            ("sglang", {"tp_size": 16})])
def test_a_multi_worker_launch_states_its_pipeline(specs, engine, kwargs):
    """Before: tensor 16 over 2 nodes left pipeline_parallel_size out, and XInference's vLLM engine then
    defaults it to n_worker (vllm/core.py setdefault("pipeline_parallel_size", self._n_worker)): tp 16 x pp 2
    on 16 GPUs."""
    out = specs.build("xinference", "parallelism:\n  tensor: 16\n", options=f"{{engine: {engine}}}",
                      source="meta-llama/Llama-3.3-70B-Instruct")
    body = launch_body(out)
    assert (body["n_worker"], body["n_gpu"]) == (2, 8)
    assert {k: body.get(k) for k in kwargs} == kwargs
