"""The contract every registered target keeps (built-in or plugin)."""

from __future__ import annotations


import pytest

from compiler.pipeline import compile_target, load_spec
from compiler.registry import Registry
from compiler.target_api import Capability, Target, TargetOptions
from compiler.writer import safe_relpath
from conftest import SAMPLES

REGISTRY = Registry.discover()


@pytest.fixture(params=REGISTRY.names)
def target(request) -> Target:
    t, problem = REGISTRY.load(request.param)
    assert problem is None
    return t


def test_identity_and_versions(target):
    assert target.name in REGISTRY.names and target.title
    assert target.versions and len(set(target.versions)) == len(target.versions)
    assert issubclass(target.options, TargetOptions)
    schema = target.options.model_json_schema()
    assert {"version", "image", "args", "env"} <= set(schema["properties"])
    assert schema.get("additionalProperties") is False


def test_capabilities_are_declared_for_every_version(target):
    for version in target.versions:
        caps = target.capabilities(version)
        assert isinstance(caps, frozenset) and caps <= frozenset(Capability)


def _listed(sample):
    """The targets a sample is meant for (its `targets:` keys): a target need not serve every sample."""
    from ruamel.yaml import YAML
    return list((YAML(typ="safe").load(sample / "deploy.yaml").get("targets") or {}))


PAIRS = [(s, name) for s in SAMPLES for name in _listed(s) if name in REGISTRY.names]


@pytest.mark.parametrize("sample, name", PAIRS, ids=lambda x: x if isinstance(x, str) else x.name)
def test_lower_is_deterministic_pure_and_relative(name, sample, monkeypatch, tmp_path):
    from compiler.target_api import BuildContext

    target, _ = REGISTRY.load(name)

    compiled = load_spec(sample / "deploy.yaml", "deploy.yaml")
    ctx = BuildContext("../..", "deploy.yaml", compiled.source.digest)
    monkeypatch.chdir(tmp_path)  # lowering must not depend on, or write to, the working directory
    monkeypatch.setenv("HF_TOKEN", "hf_must_never_show_up_anywhere_0000")
    first = compile_target(compiled, REGISTRY, target.name, ctx)
    second = compile_target(compiled, REGISTRY, target.name, ctx)
    for version in target.versions:
        compile_target(compiled, REGISTRY, target.name, ctx)  # no state leaks between versions
    assert first.ok, first.diagnostics
    assert first.lowered == second.lowered
    assert list(tmp_path.iterdir()) == []
    for art in first.lowered.artifacts:
        assert safe_relpath(art.path), art.path
        assert "hf_must_never" not in art.content
        assert art.content.endswith("\n")
    assert len({a.path for a in first.lowered.artifacts}) == len(first.lowered.artifacts)


@pytest.mark.parametrize("name", ["vllm", "sglang", "tgi", "ollama"])
def test_container_targets_lower_a_service_that_is_their_compose_file(name, tmp_path):
    """`deployc up` and the Kubernetes platform start Lowered.service; compose.yaml must be that same service."""
    from ruamel.yaml import YAML

    from compiler.target_api import BuildContext
    from targets._shared import container

    sample = {"vllm": "qwen2.5-7b-h100", "sglang": "qwen2.5-32b-sglang-dp", "tgi": "mistral-lora-tgi",
              "ollama": "qwen2.5-0.5b-gguf-ollama"}[name]
    compiled = load_spec(SAMPLES[0].parent / sample / "deploy.yaml")
    result = compile_target(compiled, REGISTRY, name, BuildContext("../..", "deploy.yaml", "0" * 16))
    svc = result.lowered.service
    assert isinstance(svc, container.Service)
    compose = next(a.content for a in result.lowered.artifacts if a.path == "compose.yaml")
    written = YAML(typ="safe").load(compose)["services"][svc.name]
    assert written == YAML(typ="safe").load(container.compose_file([], svc))["services"][svc.name]
    assert written["volumes"][0] == svc.cache.compose() and svc.cache.read_only is False
    assert [container.Volume.parse(v) for v in written["volumes"][1:]] == list(svc.volumes)
    assert svc.port == compiled.plan.server.port and svc.health_path.startswith("/")
