"""TensorRT-LLM 1.x (the default, 1.2.1): trtllm-serve's argv and options YAML, quantize.sh, the Triton route,
and every flag and YAML key held to the version's own tables (engine_options/1.2.1.json: trtllm-serve's
Syntax section and the LLM-API classes of llm_args.py)."""

from __future__ import annotations

import json
import shlex

import pytest
from ruamel.yaml import YAML

from conftest import codes
from deployc.compiler.api import EngineOptions
from deployc.targets.tensorrt_llm import llmapi
from deployc.targets.tensorrt_llm.versions import HERE, VERSIONS

TABLE = json.loads((HERE / "engine_options" / "1.2.1.json").read_text(encoding="utf-8"))
LIMITS = "limits:\n  max_model_len: 8192\n"


def art(out, path):
    return next(a["content"] for a in out["artifacts"] if a["path"] == path)


def exec_argv(script: str) -> list[str]:
    return shlex.split(next(ln for ln in script.splitlines() if ln.startswith("exec "))[5:])


def load(text: str):
    return YAML(typ="safe").load(text)


def llm_api_fields(cls: str) -> set[str]:
    api = TABLE["llm_api"]
    fields = set(api[cls]["fields"])
    for base in api[cls]["bases"]:
        if base in api:
            fields |= llm_api_fields(base)
    return fields


def nested_class(key: str, value: dict | None = None) -> set[str]:
    """The fields of the class an LLM-API argument holds (kv_cache_config -> KvCacheConfig); speculative_config
    holds the decoding config its decoding_type names (DecodingBaseConfig.from_dict), every one without a value."""
    if key == "speculative_config":
        kinds = TABLE["llm_api_decoding_types"]
        classes = [kinds[value["decoding_type"]]] if value else list(kinds.values())
        return {"decoding_type"}.union(*(llm_api_fields(c) for c in classes))
    ann = TABLE["llm_api"]["BaseLlmArgs"]["fields"].get(key) or TABLE["llm_api"]["TorchLlmArgs"]["fields"][key]
    name = ann["type"].removeprefix("Optional[").rstrip("]")
    if name in TABLE["llm_api"]:
        return set(TABLE["llm_api"][name]["fields"])
    return set(TABLE["llm_api_documented"][name]["fields"])


def assert_llm_args(data: dict) -> None:
    top = llm_api_fields("TorchLlmArgs")
    for key, value in data.items():
        assert key in top, f"{key} is not a TorchLlmArgs argument of 1.2.1"
        if isinstance(value, dict):
            assert set(value) <= nested_class(key, value), (key, set(value) - nested_class(key, value))


def test_1_2_1_is_the_default_and_0_19_0_stays():
    assert list(VERSIONS)[:2] == ["1.2.1", "0.19.0"]
    assert VERSIONS["1.2.1"].image == "nvcr.io/nvidia/tensorrt-llm/release:1.2.1"
    assert VERSIONS["1.2.1"].triton_image == "nvcr.io/nvidia/tritonserver:26.07-trtllm-python-py3"


def test_minimal_spec_serves_the_hub_checkpoint_directly(specs):
    out = specs.build("tensorrt-llm", LIMITS)
    assert out["diagnostics"] == []
    assert out["command"] == [
        "trtllm-serve", "serve", "Qwen/Qwen2.5-0.5B-Instruct", "--host", "0.0.0.0", "--port", "8000",
        "--backend", "pytorch", "--max_seq_len", "8192"]
    assert exec_argv(art(out, "serve.sh")) == out["command"]
    assert "trtllm-config.yaml" not in [a["path"] for a in out["artifacts"]]   # nothing for the LLM API to say
    assert sorted(a["path"] for a in out["artifacts"]) == [
        ".gitignore", "compose.yaml", "launch.sh", "model_repository/tensorrt_llm/1/model.yaml", "serve.sh"]


def test_limits_parallelism_and_model_settings_become_flags(specs):
    sections = (LIMITS + "  max_concurrency: 32\n  max_batch_tokens: 4096\nparallelism:\n  tensor: 2\n"
                "  pipeline: 2\nserver:\n  host: 127.0.0.1\n")
    out = specs.build("tensorrt-llm", sections, model="  revision: main\n  trust_remote_code: true\n")
    argv = out["command"]
    for flag, value in (("--tp_size", "2"), ("--pp_size", "2"), ("--max_batch_size", "32"),
                        ("--max_num_tokens", "4096"), ("--revision", "main"), ("--host", "127.0.0.1")):
        assert argv[argv.index(flag) + 1] == value
    assert "--trust_remote_code" in argv


def test_every_emitted_flag_is_a_trtllm_serve_option_of_1_2_1(specs):
    serve = EngineOptions.from_data(TABLE)
    for sections in (LIMITS, LIMITS + "precision:\n  kv_cache_dtype: fp8\n",
                     LIMITS + "  max_concurrency: 8\nparallelism:\n  tensor: 2\n"):
        out = specs.build("tensorrt-llm", sections, model="  revision: main\n  tokenizer: org/tok\n"
                          "  trust_remote_code: true\n")
        argv = out["command"]
        assert argv[:2] == ["trtllm-serve", "serve"]
        for token in argv[3:]:
            if token.startswith("--"):
                assert token in serve.by_spelling, token
    for row in llmapi.SERVE.rows:
        for spelling in row.spellings:
            assert spelling in serve.by_spelling, spelling


def test_a_repeatable_click_option_takes_one_value_each_time():
    """click's multiple=True (trtllm-serve --custom_module_dirs in source) repeats the option; unlike clap's
    multiple it never takes the next token as a second value."""
    data = json.loads(json.dumps(TABLE))
    data["options"]["--custom_module_dirs"]["multiple"] = True
    assert EngineOptions.from_data(data).by_spelling["--custom_module_dirs"].nargs == 1


def test_every_yaml_key_is_an_llm_api_argument_of_1_2_1():
    for path in llmapi.key_paths():
        assert path[0] in llm_api_fields("TorchLlmArgs"), path
        if len(path) > 1:
            assert path[1] in nested_class(path[0]), path


def test_yaml_holds_the_kv_cache_dtype_and_the_adapters(specs, tmp_path):
    (tmp_path / "lora").mkdir()
    out = specs.build("tensorrt-llm", LIMITS + "precision:\n  kv_cache_dtype: fp8\n",
                      model="  adapters: [{name: sql, source: ./lora, rank: 16}]\n")
    data = load(art(out, "trtllm-config.yaml"))
    assert data == {"kv_cache_config": {"dtype": "fp8"},
                    "lora_config": {"lora_dir": ["../../lora"], "max_lora_rank": 16, "max_loras": 1,
                                    "max_cpu_loras": 1}}
    assert_llm_args(data)
    assert [c for c, *_ in codes(out)] == ["tensorrt-llm-lora-request"]


def test_the_container_writes_the_yaml_then_execs_trtllm_serve(specs):
    out = specs.build("tensorrt-llm", LIMITS + "precision:\n  kv_cache_dtype: fp8\n")
    compose = load(art(out, "compose.yaml"))
    cmd = next(iter(compose["services"].values()))["command"]
    assert cmd[:2] == ["python3", "-c"] and cmd[3] == "/tmp/deployc-trtllm-config.yaml"
    assert load(cmd[4]) == load(art(out, "trtllm-config.yaml"))
    assert cmd[5:8] == ["trtllm-serve", "serve", "Qwen/Qwen2.5-0.5B-Instruct"]
    assert cmd[cmd.index("--config") + 1] == "/tmp/deployc-trtllm-config.yaml"
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"


def test_an_unquantized_checkpoint_is_quantized_offline_with_modelopt(specs):
    out = specs.build("tensorrt-llm", LIMITS + "precision:\n  quantization: fp8\n")
    paths = [a["path"] for a in out["artifacts"]]
    assert "quantize.sh" in paths and "compose.yaml" not in paths  # Compose cannot run setup steps
    lines = art(out, "quantize.sh").splitlines()
    assert "git clone --depth 1 --branch 0.43.0 https://github.com/NVIDIA/Model-Optimizer.git work/Model-Optimizer" in lines
    ptq = shlex.split(next(ln for ln in lines if ln.startswith("python3 ")))
    assert ptq == ["python3", "work/Model-Optimizer/examples/llm_ptq/hf_ptq.py", "--pyt_ckpt_path", "work/hf/model",
                   "--export_path", "work/quantized/qwen2.5-0.5b-instruct", "--qformat", "fp8",
                   "--kv_cache_qformat", "none"]
    hf_ptq = TABLE["commands"]["hf_ptq.py"]
    assert all(t in hf_ptq["options"] for t in ptq if t.startswith("--"))
    assert "fp8" in hf_ptq["registries"]["qformat"] and "none" in hf_ptq["registries"]["kv_cache_qformat"]
    assert out["command"][2] == "work/quantized/qwen2.5-0.5b-instruct"


def test_a_pre_quantized_checkpoint_is_served_as_it_is(specs):
    out = specs.build("tensorrt-llm", LIMITS + "precision:\n  quantization: fp8\n", options="{quantize: false}")
    assert "quantize.sh" not in [a["path"] for a in out["artifacts"]]
    assert out["command"][2] == "Qwen/Qwen2.5-0.5B-Instruct"


def test_an_unknown_checkpoint_is_quantized_with_a_warning(specs):
    out = specs.build("tensorrt-llm", LIMITS + "precision:\n  quantization: fp8\n", source="example/model",
                      model="  facts: {max_position_embeddings: 32768}\n")
    assert "tensorrt-llm-quantize" in [c for c, *_ in codes(out)]
    assert "quantize.sh" in [a["path"] for a in out["artifacts"]]


def test_triton_uses_the_llm_api_python_model_of_the_image(specs):
    out = specs.build("tensorrt-llm", LIMITS + "parallelism:\n  tensor: 2\n")
    model = load(art(out, "model_repository/tensorrt_llm/1/model.yaml"))
    assert model["triton_config"] == {"max_batch_size": 0, "decoupled": True}
    assert_llm_args({k: v for k, v in model.items() if k != "triton_config"})
    assert model["tensor_parallel_size"] == 2 and model["backend"] == "pytorch"
    launch = art(out, "launch.sh")
    assert "cp -r -- /app/all_models/llmapi/tensorrt_llm work/triton/tensorrt_llm" in launch
    argv = exec_argv(launch)
    assert argv[:5] == ["mpirun", "--allow-run-as-root", "-n", "1", "tritonserver"]
    assert "--model-repository=work/triton" in argv and "--disable-auto-complete-config" not in argv


@pytest.mark.parametrize("args, code", [
    (["--enable_chunked_prefill"], "target-args-conflict"),   # cache.chunked_prefill owns it
    (["--log_level", "info"], None),
    (["--tp_size", "2"], "target-args-conflict"),
    (["--kv_cache_free_gpu_memory_fraction", "0.5"], "target-args-conflict"),
    (["--extra_llm_api_options", "x.yaml"], "target-args-conflict"),
    (["--multiple_profiles", "enable"], "target-args-stale"),
    (["--reasoning_parser", "qwen3"], "target-args-conflict"),   # model.reasoning_parser owns it
    (["--log_level", "loud"], "target-args-choice"),
    (["--served_model_name", "x"], "target-args-unknown"),
])
def test_args_are_trtllm_serve_flags_of_the_version(specs, args, code):
    out = specs.build("tensorrt-llm", LIMITS, options="{args: " + json.dumps(args) + "}",
                      expect=0 if code is None else 1)
    assert [c for c, *_ in codes(out)] == ([] if code is None else [code])


@pytest.mark.parametrize("sections, model, code", [
    ("precision:\n  quantization: bitsandbytes\n", "", "target-unsupported"),
    ("server:\n  api_key_env: KEY\n", "", "target-unsupported"),
    ("limits:\n  max_model_len: 8192\n  max_input_tokens: 100\n", "", "target-unsupported"),
    ("precision:\n  quantization: fp8\nhardware:\n  gpu: A100-80GB\n", "", "tensorrt-llm-fp8-gpu"),
    ("", "  adapters: [{name: a, source: org/lora}]\n", "tensorrt-llm-lora-source"),
])
def test_what_1x_cannot_express_is_refused_with_a_hint(specs, sections, model, code):
    out = specs.build("tensorrt-llm", sections or LIMITS, model=model, expect=1)
    found = [d for d in out["diagnostics"] if d["code"] == code]
    assert found and found[0]["hint"], out["diagnostics"]



# --- issue 22 item 7: the checkpoint-quantization rule asks the target ---------------------------------------

@pytest.mark.parametrize("quant, qformat", [("awq", "int4_awq"), ("fp8", "fp8"), ("int8", "int8_sq")])
def test_a_16_bit_checkpoint_is_quantized_offline_with_modelopt(specs, quant, qformat):
    """Before: awq of an unquantized checkpoint was refused by the core's checkpoint rule (and int8 was
    unsupported), although TensorRT-LLM quantizes offline with ModelOpt."""
    out = specs.build("tensorrt-llm", f"precision:\n  quantization: {quant}\nhardware:\n  gpu: H100-80GB\n",
                      source="Qwen/Qwen2.5-7B-Instruct")   # the catalog's config.json: 16-bit
    assert [d["code"] for d in out["diagnostics"] if d["severity"] == "error"] == []
    quantize = next(a["content"] for a in out["artifacts"] if a["path"] == "quantize.sh")
    assert f"--qformat {qformat}" in quantize


def test_other_targets_still_refuse_awq_of_a_16_bit_checkpoint(specs):
    out = specs.build("vllm", "precision:\n  quantization: awq\n", source="Qwen/Qwen2.5-7B-Instruct", expect=1)
    assert [d["code"] for d in out["diagnostics"]] == ["precision-quant-checkpoint"]
    out = specs.build("tensorrt-llm", "precision:\n  quantization: awq\n", options="{quantize: false}",
                      source="Qwen/Qwen2.5-7B-Instruct", expect=1)
    assert "precision-quant-checkpoint" in [d["code"] for d in out["diagnostics"]]


SPEC = LIMITS + "speculative:\n"


@pytest.mark.parametrize("speculative, config", [
    ("  method: eagle3\n  model: yuhuili/EAGLE3-LLaMA3.1-Instruct-8B\n  num_tokens: 3\n",
     {"decoding_type": "Eagle", "max_draft_len": 3, "speculative_model": "yuhuili/EAGLE3-LLaMA3.1-Instruct-8B"}),
    ("  method: mtp\n  num_tokens: 2\n", {"decoding_type": "MTP", "num_nextn_predict_layers": 2}),
    ("  method: mtp\n", {"decoding_type": "MTP"}),          # num_nextn_predict_layers: TensorRT-LLM's default, 1
    ("  method: ngram\n  num_tokens: 3\n  ngram: {max: 4}\n",
     {"decoding_type": "NGram", "max_draft_len": 3, "max_matching_ngram_size": 4}),
    ("  method: draft\n  model: ./draft\n  num_tokens: 4\n",
     {"decoding_type": "DraftTarget", "max_draft_len": 4, "speculative_model": "../../draft"}),
], ids=["eagle3", "mtp", "mtp-default", "ngram", "draft"])
def test_speculative_decoding_is_the_yamls_speculative_config(specs, tmp_path, speculative, config):
    (tmp_path / "draft").mkdir()
    out = specs.build("tensorrt-llm", SPEC + speculative)
    data = load(art(out, "trtllm-config.yaml"))
    assert data == {"speculative_config": config}
    assert_llm_args(data)
    assert out["command"][-2:] == ["--config", "trtllm-config.yaml"]
    assert {c for c, *_ in codes(out)} <= {"speculative-draft-facts"}
    compose = load(art(out, "compose.yaml"))
    service = next(iter(compose["services"].values()))
    assert load(service["command"][4]) == {"speculative_config": {
        **config, **({"speculative_model": "/deployc/speculative"} if "./draft" in speculative else {})}}
    if "./draft" in speculative:
        assert "../../draft:/deployc/speculative:ro" in service["volumes"]


@pytest.mark.parametrize("speculative, code, line, column, message", [
    ("  method: eagle\n  model: yuhuili/EAGLE-LLaMA3.1-Instruct-8B\n  num_tokens: 3\n",
     "tensorrt-llm-speculative-method", 8, 11,
     "TensorRT-LLM 1.2.1's PyTorch backend runs EAGLE 3 heads (speculative_config decoding_type Eagle), not EAGLE-1"),
    ("  method: eagle3\n  model: org/head\n", "tensorrt-llm-speculative-tokens", 8, 11,
     "TensorRT-LLM 1.2.1 needs max_draft_len for eagle3: its decoding config has no default"),
    ("  method: eagle3\n  model: org/head\n  num_tokens: 3\n  topk: 4\n", "tensorrt-llm-speculative-topk", 11, 9,
     "TensorRT-LLM 1.2.1 drafts one chain: its draft trees need max_total_draft_tokens, which deploy.yaml does not "
     "carry, and are marked not for use"),
    ("  method: draft\n  model: org/small\n  num_tokens: 3\n  tensor: 1\n", "tensorrt-llm-speculative-tensor", 11, 11,
     "TensorRT-LLM 1.2.1's speculative_config has no draft tensor-parallel size: the drafter runs on the target's "
     "GPUs and mapping"),
    ("  method: draft\n  model: org/small\n  revision: v2\n  num_tokens: 3\n", "tensorrt-llm-speculative-revision",
     10, 13, "TensorRT-LLM 1.2.1's speculative_config takes no draft revision (speculative_model is a hub id or a path)"),
    ("  method: ngram\n  num_tokens: 3\n", "tensorrt-llm-speculative-ngram", 8, 11,
     "TensorRT-LLM 1.2.1's max_matching_ngram_size defaults to 0, which matches no prompt suffix"),
    ("  method: ngram\n  num_tokens: 3\n  ngram: {min: 2, max: 4}\n", "tensorrt-llm-speculative-ngram", 10, 16,
     "TensorRT-LLM 1.2.1's NGram drafter has no minimum match length (only max_matching_ngram_size)"),
], ids=["eagle1", "no-draft-len", "tree", "draft-tp", "revision", "ngram-no-max", "ngram-min"])
def test_what_1_2_1s_speculative_config_cannot_express_is_refused_at_the_key(specs, speculative, code, line, column,
                                                                            message):
    out = specs.build("tensorrt-llm", SPEC + speculative, expect=1)
    [d] = [d for d in out["diagnostics"] if d["code"] == code]
    assert (d["severity"], d["line"], d["column"], d["message"]) == ("error", line, column, message)


def test_the_containers_yaml_names_paths_as_the_container_sees_them(specs, tmp_path):
    (tmp_path / "lora").mkdir()
    out = specs.build("tensorrt-llm", LIMITS, model="  adapters: [{name: sql, source: ./lora, rank: 16}]\n")
    assert load(art(out, "trtllm-config.yaml"))["lora_config"]["lora_dir"] == ["../../lora"]
    service = next(iter(load(art(out, "compose.yaml"))["services"].values()))
    assert load(service["command"][4])["lora_config"]["lora_dir"] == ["/deployc/adapters/sql"]
