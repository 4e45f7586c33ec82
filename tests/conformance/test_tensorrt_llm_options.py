"""No TensorRT-LLM binary runs here (no GPU build exists), so every command the tensorrt-llm target
writes is checked against the option tables extracted from the pinned sources:

- 0.19.0 (the engine build): targets/tensorrt_llm/cli_options.json, TensorRT-LLM commit
  c6f7d423354214df818e206e87680fb2d513a718 through tensorrtllm_backend v0.19.0 commit
  c1e19638304d287f554f738c1411746555ed348c;
- 1.2.1 (trtllm-serve on the PyTorch backend): targets/tensorrt_llm/engine_options/1.2.1.json, the
  click options of `trtllm-serve serve`, ModelOpt's hf_ptq.py options and the LLM-API argument
  classes (TorchLlmArgs, KvCacheConfig, ...) at TensorRT-LLM commit 376f7e1bd8ed543f75014309e3fd4b237e9b0e73.
  The option files deployc writes for 1.2.1 (trtllm-config.yaml, the Triton model's 1/model.yaml)
  may hold only LLM-API arguments: TorchLlmArgs is a strict pydantic model, unknown keys are errors.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from deployc.targets.tensorrt_llm.versions import cli_options

from .conftest import ROOT
from .test_tensorrt_llm_triton import VARIANTS, lower

pytestmark = pytest.mark.conformance

TABLES = cli_options("0.19.0")
SCRIPTS = sorted((ROOT / "samples").glob("*/deploy/tensorrt-llm/*.sh"))


def version_of(script: str) -> str:
    match = re.search(r"for target tensorrt-llm, TensorRT-LLM (\S+)\.$", script, re.M)
    assert match, "every script's banner names the TensorRT-LLM version"
    return match.group(1)


def scripts_of(version: str) -> list[Path]:
    return [p for p in SCRIPTS if version_of(p.read_text()) == version]


def check(argv: list[str], tool: str, prefix: str = "--") -> None:
    table = TABLES[tool]["options"]
    where = f"{tool} ({TABLES[tool]['source']})"
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith(prefix):
            name, _, inline = token[len(prefix):].partition("=")
            assert name in table, f"{token} is not an option of {where}"
            if table[name] != "flag" and not inline:
                i += 1
                assert i < len(argv), f"{token} needs a value"
                if isinstance(table[name], list):
                    assert argv[i] in table[name], f"{token} {argv[i]}: {where} accepts {table[name]}"
        i += 1


def commands(script: str):
    """(tool, argv after the program) for every command line of a generated script."""
    tool = None
    for line in script.splitlines():
        line = line.strip()
        if line.startswith("exec "):
            line = line[5:]
        if line.startswith('SCRIPT="$EXAMPLES/'):
            path = line.split('"')[1]
            tool = "quantize.py" if path.endswith("quantization/quantize.py") else \
                "convert_checkpoint.py:" + path.split("/models/core/")[1].split("/")[0]
        elif line.startswith('python3 "$SCRIPT" '):
            assert tool is not None
            yield tool, shlex.split(line)[2:]
        elif line.startswith("python3 ") and "/examples/llm_ptq/hf_ptq.py " in line:
            yield "hf_ptq.py", shlex.split(line)[2:]
        elif line.startswith(("trtllm-build ", "trtllm-serve ")):
            argv = shlex.split(line)
            yield argv[0], argv[1:] if argv[0] == "trtllm-build" else argv[2:]
        elif line.startswith("mpirun "):
            for token in shlex.split(line):
                if token.startswith("--") and token != "--allow-run-as-root":
                    yield "tritonserver", [token]


def check_script(text: str) -> int:
    n = 0
    for tool, argv in commands(text):
        check(argv, tool)
        n += 1
    return n


@pytest.mark.parametrize("script", scripts_of("0.19.0"), ids=lambda p: f"{p.parents[2].name}/{p.name}")
def test_committed_scripts_use_only_options_of_trtllm_0_19_0_at_c6f7d423(script):
    assert check_script(script.read_text()) >= 1


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("family", ["llama", "qwen"])
def test_variant_scripts_use_only_options_of_trtllm_0_19_0_at_c6f7d423(name, family, tmp_path):
    spec = VARIANTS[name]
    spec = {**spec, "targets": {"tensorrt-llm": {**spec["targets"]["tensorrt-llm"], "family": family}}}
    if family == "qwen":
        spec = {**spec, "precision": {**spec.get("precision", {}), "kv_cache_dtype": "auto"}}
    result = lower(spec, "tensorrt-llm", tmp_path)
    check(list(result.lowered.command[1:]), "trtllm-build")
    for art in result.lowered.artifacts:
        if art.path.endswith(".sh"):
            check_script(art.content)


# --- 1.2.1 ---------------------------------------------------------------------------------------

V1 = json.loads((ROOT / "targets/tensorrt_llm/engine_options/1.2.1.json").read_text(encoding="utf-8"))


def click_options(table: dict) -> dict[str, dict]:
    """Every spelling (name and aliases) -> its row."""
    rows = {}
    for name, row in table.items():
        for spelling in (name, *row.get("aliases", [])):
            rows[spelling] = row
    return rows


SERVE = click_options(V1["options"])
PTQ = click_options(V1["commands"]["hf_ptq.py"]["options"])


def check_v1(argv: list[str], rows: dict[str, dict], where: str) -> None:
    i = 0
    while i < len(argv):
        token = argv[i]
        if token.startswith("--"):
            name, _, inline = token.partition("=")
            assert name in rows, f"{token} is not an option of {where}"
            row = rows[name]
            if row.get("takes_value", True) and not row.get("is_flag") and not inline:
                i += 1
                assert i < len(argv), f"{token} needs a value"
                if row.get("choices"):
                    assert argv[i] in row["choices"], f"{token} {argv[i]}: {where} accepts {row['choices']}"
        i += 1


def check_v1_script(text: str) -> int:
    n = 0
    for tool, argv in commands(text):
        if tool == "trtllm-serve":
            check_v1(argv, SERVE, "trtllm-serve serve 1.2.1")
        elif tool == "hf_ptq.py":
            check_v1(argv, PTQ, "ModelOpt hf_ptq.py")
        else:
            continue  # tritonserver's flags are checked by the 0.19.0 table (same tritonserver CLI)
        n += 1
    return n


def llm_api_fields(cls: str) -> dict:
    spec = V1["llm_api"][cls]
    fields = dict(spec["fields"])
    for base in spec.get("bases", []):
        if base in V1["llm_api"]:
            fields.update(llm_api_fields(base))
    return fields


LLM_ARGS = llm_api_fields("TorchLlmArgs")
NESTED = {"kv_cache_config": "KvCacheConfig", "peft_cache_config": "PeftCacheConfig",
          "cache_transceiver_config": "CacheTransceiverConfig"}


def check_llm_api(data: dict, where: str, extra: tuple[str, ...] = ()) -> int:
    n = 0
    for key, value in data.items():
        if key in extra:
            continue
        assert key in LLM_ARGS, f"{where}: {key} is not an argument of TorchLlmArgs 1.2.1"
        n += 1
        if key in NESTED and isinstance(value, dict):
            fields = llm_api_fields(NESTED[key])
            for sub in value:
                assert sub in fields, f"{where}: {key}.{sub} is not a field of {NESTED[key]} 1.2.1"
    return n


V1_SCRIPTS = scripts_of("1.2.1")
V1_YAMLS = sorted(p for folder in {s.parent for s in V1_SCRIPTS}
                  for p in [folder / "trtllm-config.yaml", folder / "model_repository/tensorrt_llm/1/model.yaml"]
                  if p.exists())


def test_the_samples_cover_1_2_1():
    assert V1_SCRIPTS and V1_YAMLS


@pytest.mark.parametrize("script", V1_SCRIPTS, ids=lambda p: f"{p.parents[2].name}/{p.name}")
def test_committed_scripts_use_only_options_of_trtllm_1_2_1_at_376f7e1(script):
    text = script.read_text()
    assert check_v1_script(text) >= (1 if script.name in ("serve.sh", "quantize.sh") else 0)


@pytest.mark.parametrize("path", V1_YAMLS, ids=lambda p: f"{p.parents[2 if p.name == 'trtllm-config.yaml' else 5].name}/{p.name}")
def test_committed_option_files_hold_only_llm_api_arguments_of_1_2_1(path):
    data = YAML(typ="safe").load(path.read_text())
    # model.yaml: triton_config is the Triton LLM-API model's own section (not an LLM() argument)
    assert check_llm_api(data, str(path.relative_to(ROOT)), extra=("triton_config",)) >= 1


V1_VARIANTS = {
    "minimal": {"apiVersion": "deployc/v1", "name": "conf", "model": {"source": "Qwen/Qwen2.5-7B-Instruct"},
                "limits": {"max_model_len": 8192}, "targets": {"tensorrt-llm": {"version": "1.2.1"}}},
    "everything": {
        "apiVersion": "deployc/v1", "name": "conf",
        "model": {"source": "meta-llama/Llama-3.1-8B-Instruct", "revision": "main", "tokenizer": "./tok",
                  "trust_remote_code": True,
                  "facts": {"parameters": 8.03e9, "max_position_embeddings": 131072}},
        "precision": {"dtype": "bfloat16", "quantization": "fp8", "kv_cache_dtype": "fp8"},
        "parallelism": {"tensor": 2, "pipeline": 2},
        "limits": {"max_model_len": 32768, "max_concurrency": 48, "max_batch_tokens": 4096},
        "server": {"host": "127.0.0.1", "port": 9123},
        "targets": {"tensorrt-llm": {"version": "1.2.1"}}},
}


@pytest.mark.parametrize("name", V1_VARIANTS)
def test_variant_outputs_use_only_options_of_trtllm_1_2_1(name, tmp_path):
    result = lower(V1_VARIANTS[name], "tensorrt-llm", tmp_path)
    scripts = 0
    for art in result.lowered.artifacts:
        if art.path.endswith(".sh"):
            scripts += check_v1_script(art.content)
        elif art.path.endswith(("trtllm-config.yaml", "model.yaml")):
            check_llm_api(YAML(typ="safe").load(art.content) or {}, art.path, extra=("triton_config",))
    assert scripts >= 1
