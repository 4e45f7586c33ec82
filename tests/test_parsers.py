"""model.tool_parser / reasoning_parser: auto resolved per target and version, names checked against each
engine version's registry (data extracted from the engine), refusals at the YAML key."""

from __future__ import annotations

import pytest

from deployc.compiler.api import parsers
from deployc.compiler.registry import Registry

REGISTRY = Registry.discover()
QWEN3 = "Qwen/Qwen3-8B"
BOTH = "  tool_parser: auto\n  reasoning_parser: auto\n"


def flags(out: dict, *names: str) -> dict[str, str | bool | None]:
    argv = out["command"]
    got: dict[str, str | bool | None] = {}
    for n in names:
        if n not in argv:
            got[n] = None
        else:
            nxt = argv[argv.index(n) + 1] if argv.index(n) + 1 < len(argv) else None
            got[n] = True if nxt is None or nxt.startswith("--") else nxt
    return got


@pytest.mark.parametrize("target, options, expected", [
    ("vllm", "{}", {"--enable-auto-tool-choice": True, "--tool-call-parser": "hermes", "--reasoning-parser": "qwen3"}),
    ("vllm", "{version: 0.11.2}", {"--enable-auto-tool-choice": True, "--tool-call-parser": "hermes",
                                   "--reasoning-parser": "qwen3"}),
    ("sglang", "{}", {"--tool-call-parser": "qwen25", "--reasoning-parser": "qwen3"}),
    ("sglang", "{version: 0.4.10.post2}", {"--tool-call-parser": "qwen25", "--reasoning-parser": "qwen3"}),
    ("lmdeploy", "{}", {"--tool-call-parser": "qwen3", "--reasoning-parser": "qwen-qwq"}),
    ("tensorrt-llm", "{}", {"--tool_parser": "qwen3", "--reasoning_parser": "qwen3"}),
])
def test_auto_writes_each_engines_own_parser_for_qwen3(specs, target, options, expected):
    out = specs.build(target, "hardware:\n  gpu: H100-80GB\n", options, model=BOTH, source=QWEN3)
    assert flags(out, *expected) == expected


@pytest.mark.parametrize("target", ["ollama", "llama-cpp"])
def test_engines_that_parse_by_themselves_take_auto_and_write_nothing(specs, target):
    base = "  gguf: ./m.gguf\n  facts: {max_position_embeddings: 4096}\n"
    out = specs.build(target, "", "{}", model=base + BOTH, source="example/model")
    assert not any("parser" in t or t == "--jinja" for t in out["command"] or [])


def test_a_name_is_refused_where_the_engine_parses_itself(specs):
    base = "  gguf: ./m.gguf\n  facts: {max_position_embeddings: 4096}\n"
    out = specs.build("ollama", "", "{}", model=base + "  tool_parser: hermes\n", source="example/model", expect=1)
    [d] = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert (d["code"], d["line"], d["column"]) == ("parser-builtin", 7, 16)
    assert d["message"] == "Ollama 0.32.15 parses tool calls by itself and takes no parser name ('hermes')"
    assert d["hint"] == "use tool_parser: auto for ollama (targets.ollama.tool_parser: auto)"


def test_tgi_has_no_reasoning_parser(specs):
    out = specs.build("tgi", "", "{}", model="  reasoning_parser: auto\n", source=QWEN3, expect=1)
    [d] = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert (d["code"], d["line"], d["column"]) == ("target-unsupported", 5, 21)
    assert "cannot express separate reasoning output (a reasoning parser) (model.reasoning_parser)" in d["message"]


def test_unknown_family_is_an_error_that_names_the_registry(specs):
    out = specs.build("vllm", "", "{}", model="  tool_parser: auto\n", source="example/model", expect=1)
    [d] = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert (d["code"], d["line"], d["column"]) == ("parser-auto-family", 5, 16)
    assert d["message"] == ("tool_parser auto: deployc knows no parser for this checkpoint's family (model_type "
                            "unknown, example/model)")
    assert d["hint"].startswith("name vLLM 0.34.0's parser in targets.vllm.tool_parser (its registry: apertus, ")


def test_a_family_the_version_documents_no_parser_for_is_an_error(specs):
    out = specs.build("sglang", "hardware:\n  gpu: H100-80GB\n  count: 2\nparallelism:\n  tensor: 2\n",
                      "{version: 0.4.10.post2}", model="  tool_parser: auto\n", source="openai/gpt-oss-20b", expect=1)
    errors = [d for d in out["diagnostics"] if d["code"].startswith("parser")]
    assert [(d["code"], d["line"], d["column"]) for d in errors] == [("parser-auto-none", 5, 16)]
    assert errors[0]["message"].startswith("SGLang 0.4.10.post2 documents no tool-call parser for the gpt-oss family")


def test_an_unregistered_name_fails_at_build_not_at_launch(specs):
    """vLLM's parser takes any --tool-call-parser string; deployc checks the version's registry."""
    out = specs.build("vllm", "", "{}", model="  tool_parser: hermess\n", source="example/model", expect=1)
    [d] = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert (d["code"], d["line"], d["column"]) == ("parser-unknown", 5, 16)
    assert d["message"] == "vLLM 0.34.0 has no tool-call parser 'hermess'"
    assert d["hint"].startswith("did you mean hermes? vLLM 0.34.0 registers: ")


def test_a_bare_name_needs_a_single_target_and_per_target_names_work(specs, spec_file, cli):
    text = ("apiVersion: deployc/v1\nname: d\nmodel:\n  source: Qwen/Qwen3-8B\n  tool_parser: hermes\n"
            "targets:\n  vllm: {}\n  sglang: {}\n")
    result = cli("validate", spec_file(text))
    assert result.exit_code == 1
    assert ("deploy.yaml:5:16: error[parser-bare-name]: model.tool_parser names one engine's parser ('hermes'), "
            "but several targets are listed") in result.output
    text = text.replace("tool_parser: hermes", "tool_parser: auto").replace(
        "  sglang: {}\n", "  sglang: {tool_parser: qwen25}\n")
    assert cli("validate", spec_file(text)).exit_code == 0


def test_the_chat_template_vllm_documents_with_a_parser_is_named(specs):
    out = specs.build("vllm", "", "{}", model="  tool_parser: llama3_json\n", source="example/model")
    [d] = [d for d in out["diagnostics"] if d["code"] == "parser-chat-template"]
    assert d["message"].startswith("vLLM 0.34.0 documents the chat template "
                                   "examples/tool_chat_template_llama3.1_json.jinja for the llama3_json tool-call")


@pytest.mark.parametrize("model_type, source, family", [
    ("deepseek_v3", "deepseek-ai/DeepSeek-V3", "deepseek-v3"),
    ("deepseek_v3", "deepseek-ai/DeepSeek-V3-0324", "deepseek-v3"),
    ("deepseek_v3", "deepseek-ai/DeepSeek-V3.1", "deepseek-v3.1"),
    ("deepseek_v3", "deepseek-ai/DeepSeek-R1-0528", "deepseek-r1"),
    ("deepseek_v3", "moonshotai/Kimi-K2-Instruct", "kimi-k2"),
    ("deepseek_v3", "deepseek-ai/DeepSeek-V3.2", None),
    ("qwen3_moe", "Qwen/Qwen3-Coder-480B-A35B-Instruct", "qwen3-coder"),
    ("qwen3", "Qwen/Qwen3-32B", "qwen3"),
    ("gpt_oss", "openai/gpt-oss-120b", "gpt-oss"),
    ("llama", "meta-llama/Llama-3.1-8B-Instruct", "llama-3.1"),
    ("llama", "./my-finetune", None),
])
def test_one_architecture_can_need_different_parsers(model_type, source, family):
    assert parsers.family_of(model_type, source) == family


def test_every_auto_entry_is_registered_by_the_newest_version():
    """The auto tables hold no typos: each name is in the newest version's registry (older versions drop
    what they lack, which makes auto an error there, never a wrong name)."""
    for name in REGISTRY.names:
        target = REGISTRY.load(name)[0]
        newest = next(iter(target.versions.values()))
        support = target.parsers(newest)
        if support is None or not support.auto:
            continue
        module = __import__(f"deployc.targets.{name.replace('-', '_')}.parsers", fromlist=["AUTO"])
        for family, (tool, reasoning) in module.AUTO.items():
            assert family in {f.name for f in parsers.FAMILIES}, (name, family)
            assert (tool, reasoning) == support.auto[family], (name, family)
