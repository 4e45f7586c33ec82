"""No TensorRT-LLM binary runs here (no GPU build exists), so every command the tensorrt-llm target
writes is checked against the option tables extracted from the pinned sources, named with their
commits in targets/tensorrt_llm/cli_options.json: TensorRT-LLM 0.19.0 (commit
c6f7d423354214df818e206e87680fb2d513a718, through tensorrtllm_backend v0.19.0 commit
c1e19638304d287f554f738c1411746555ed348c).
"""

from __future__ import annotations

import shlex

import pytest

from targets.tensorrt_llm.versions import cli_options

from .conftest import ROOT
from .test_tensorrt_llm_triton import VARIANTS, lower

pytestmark = pytest.mark.conformance

TABLES = cli_options("0.19.0")
SCRIPTS = sorted((ROOT / "samples").glob("*/deploy/tensorrt-llm/*.sh"))


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


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parents[2].name}/{p.name}")
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
