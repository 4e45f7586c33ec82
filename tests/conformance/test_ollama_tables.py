"""Ollama's artifacts judged against tables extracted from Ollama's own source.

No Ollama binary runs here, so the judge is data: tests/conformance/data/ollama-<version>.json,
written by conformance/extract_ollama_tables.py from github.com/ollama/ollama at
  v0.32.15  b7871fc0d1d82fe109536efa3e0e8e411c766c75
  v0.12.11  c1149875234a51aa1e5e60b74f3807f5982c60fa
(commands, deprecated and known PARAMETER names with their Go kinds, OLLAMA_* variables,
ParseFileType levels, KV cache types, `ollama create` flags). Values are checked with the Go
parsers' rules (strconv.ParseInt/ParseFloat/ParseBool, time.ParseDuration), and each Modelfile
is read by tests/ollama_parser.py, a port of parser/parser.go. Every compose.yaml also goes
through the real Docker Compose binary (test_compose.judge).
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from deployc.targets.ollama.versions import VERSIONS

from .conftest import ROOT, lower
from .test_compose import judge

sys.path.insert(0, str(ROOT / "tests"))
from ollama_parser import parse

pytestmark = pytest.mark.conformance

DATA = ROOT / "tests" / "conformance" / "data"
COMMITS = {"0.32.15": "b7871fc0d1d82fe109536efa3e0e8e411c766c75",
           "0.12.11": "c1149875234a51aa1e5e60b74f3807f5982c60fa"}

GO_INT = re.compile(r"^[+-]?[0-9]+$")
GO_FLOAT = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")
GO_BOOL = {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
GO_SEMVER = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
GO_DURATION = re.compile(r"^[+-]?(0|([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+)$")

BASE = {
    "apiVersion": "deployc/v1", "name": "conf",
    "model": {"source": "Qwen/Qwen2.5-0.5B-Instruct", "gguf": "./m.gguf"},
    "limits": {"max_model_len": 4096},
    "targets": {"ollama": {}},
}


def _variant(**changes):
    spec = copy.deepcopy(BASE)
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            spec.setdefault(section, {})[field] = value
        else:
            spec[section] = value
    return spec


VARIANTS = {
    "minimal-gguf": BASE,
    "limits-and-fp8-cache": _variant(
        limits={"max_model_len": 32768, "max_output_tokens": 1024, "max_concurrency": 8, "max_batch_tokens": 512},
        precision={"quantization": "gguf", "kv_cache_dtype": "fp8"}),
    "safetensors-quantized-with-adapters": _variant(
        model={"source": "./model", "served_name": "team/base:q4", "facts": {"max_position_embeddings": 8192},
               "adapters": [{"name": "sql", "source": "./adapters/sql"}]},
        limits={}, targets={"ollama": {"quantize": "q4_k_m"}}),
    "dtype-bf16": _variant(model={"source": "./model"}, precision={"dtype": "bf16"}),
    "hub-gguf-repo": _variant(model={"source": "bartowski/Qwen2.5-0.5B-Instruct-GGUF"},
                              precision={"quantization": "gguf"}),
    "prompting": _variant(targets={"ollama": {
        "system": ' Be brief.\nSay "no" first. ', "stop": ["<|im_end|>", "User:"], "keep_alive": "-1",
        "template": 'A """quoted""" word\n{{ .Prompt }}',
        "parameters": {"temperature": 0.2, "seed": 42, "use_mmap": False, "top_k": 20, "min_p": 0.05},
        "env": {"OLLAMA_DEBUG": "1", "OLLAMA_ORIGINS": "${ORIGINS}"}}}),
    "ipv6-local": _variant(server={"host": "::1", "port": 11500}, targets={"ollama": {"keep_alive": "1h30m"}}),
}


def table(version: str) -> dict:
    data = json.loads((DATA / f"ollama-{version}.json").read_text())
    assert data["commit"] == COMMITS[version] == VERSIONS[version].commit, "tables and target pin one commit"
    return data


def build(name: str, version: str, tmp_path: Path):
    spec = copy.deepcopy(VARIANTS[name])
    spec["targets"]["ollama"]["version"] = version
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "m.gguf").write_text("placeholder")
    result = lower(spec, "ollama", folder)
    return {a.path: a.content for a in result.lowered.artifacts}, list(result.lowered.command)


def check_modelfile(text: str, t: dict, adapter: bool) -> None:
    commands = parse(text, tuple(t["commands"]))
    assert commands[0][0] == "model" and commands[0][1]
    for name, value in commands:
        if name in ("model", "adapter", "template", "system", "draft"):
            assert name == "model" or name in t["commands"], name
            assert name != "adapter" or adapter, "ADAPTER only in an adapter's own Modelfile"
            continue
        if name == "requires":
            # parser/parser.go: "v" + value must be golang.org/x/mod/semver.IsValid
            assert name in t["commands"] and GO_SEMVER.match(value), (name, value)
            continue
        assert name not in t["deprecated_parameters"], name
        kind = t["parameters"].get(name)
        assert kind is not None, f"PARAMETER {name} is not in api.Options at {t['commit']}"
        if kind == "int":
            assert GO_INT.match(value), (name, value)
        elif kind == "float":
            assert GO_FLOAT.match(value), (name, value)
        elif kind == "bool":
            assert value in GO_BOOL, (name, value)
    if not adapter:
        assert ("num_ctx" in dict(commands)), "num_ctx is always written"


def check_env(pairs: dict[str, str], t: dict) -> None:
    for key in pairs:
        assert key in t["env_vars"], f"{key} is not read by envconfig at {t['commit']}"
    # always: the address and the context; the rest only when the spec states them (issue 20, item 6)
    assert set(pairs) >= {"OLLAMA_HOST", "OLLAMA_CONTEXT_LENGTH"}
    for key in ("OLLAMA_CONTEXT_LENGTH", "OLLAMA_NUM_PARALLEL", "OLLAMA_GPU_OVERHEAD"):
        if key in pairs:
            assert re.match(r"^[0-9]+$", pairs[key]), (key, pairs[key])  # strconv.ParseUint
    keep = pairs.get("OLLAMA_KEEP_ALIVE")
    assert keep is None or GO_DURATION.match(keep) or GO_INT.match(keep), keep
    host, _, port = pairs["OLLAMA_HOST"].rpartition(":")
    assert host and 0 < int(port) < 65536 and (":" not in host or host.startswith("[")), pairs["OLLAMA_HOST"]
    if "OLLAMA_KV_CACHE_TYPE" in pairs:
        assert pairs["OLLAMA_KV_CACHE_TYPE"] in t["kv_cache_types"]
        assert pairs.get("OLLAMA_FLASH_ATTENTION") == "1", "a quantized cache needs flash attention"


def check_create(argv: list[str], t: dict) -> None:
    flags = {f["name"]: f for f in t["create_flags"]} | {f["short"]: f for f in t["create_flags"] if f["short"]}
    assert argv[:2] == ["ollama", "create"]
    positional, i = [], 2
    while i < len(argv):
        token = argv[i]
        if token.startswith("-"):
            name = token.split("=", 1)[0]
            assert name in flags, f"`ollama create` has no {name} at {t['commit']}"
            if flags[name]["kind"] == "string" and "=" not in token:
                value = argv[i + 1]
                if name in ("--quantize", "-q"):
                    assert value.upper() in t["quantize_levels"], value  # create.go upper-cases, ParseFileType
                i += 1
        else:
            positional.append(token)
        i += 1
    assert len(positional) == 1, "cobra.ExactArgs(1)"


@pytest.mark.parametrize("version", sorted(COMMITS), ids=lambda v: f"ollama-{v}@{COMMITS[v][:12]}")
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_artifacts_match_the_pinned_source(name, version, tmp_path):
    t = table(version)
    files, argv = build(name, version, tmp_path)
    for path, text in files.items():
        if path.startswith("Modelfile"):
            check_modelfile(text, t, adapter=path != "Modelfile")
    env = {}
    for line in files["serve.env"].splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            [env[key]] = shlex.split(value)
    check_env(env, t)
    for line in files["create.sh"].splitlines():
        if line.startswith("ollama create"):
            check_create(shlex.split(line), t)
    check_create(argv, t)
    compose = tmp_path / "spec" / "deploy" / "ollama" / "compose.yaml"
    compose.parent.mkdir(parents=True)
    compose.write_text(files["compose.yaml"])
    ok, output = judge(compose)
    assert ok, output


@pytest.mark.parametrize("sample", sorted((ROOT / "samples").glob("*/deploy/ollama")),
                         ids=lambda p: p.parent.parent.name)
def test_committed_ollama_outputs_match_the_pinned_source(sample):
    version = json.loads((sample / "deployc-manifest.json").read_text())["version"]
    t = table(version)
    for path in sorted(sample.glob("Modelfile*")):
        check_modelfile(path.read_text(), t, adapter=path.name != "Modelfile")


def test_the_tables_reject_what_ollama_rejects():
    t = table("0.32.15")
    with pytest.raises(AssertionError):
        check_modelfile("FROM x\nPARAMETER num_ctx 4096\nPARAMETER tfs_z 0.9\n", t, adapter=False)
    with pytest.raises(AssertionError):
        check_modelfile("FROM x\nPARAMETER num_ctx 4k\n", t, adapter=False)
    with pytest.raises(AssertionError):
        check_create(["ollama", "create", "m", "-f", "Modelfile", "--quantize", "q3_K_L"], t)
    with pytest.raises(AssertionError):
        check_create(["ollama", "create", "m", "-f", "Modelfile", "--experimental"], table("0.12.11"))
