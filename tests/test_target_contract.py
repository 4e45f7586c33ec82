"""The contract every registered target keeps (built-in or plugin)."""

from __future__ import annotations

import dataclasses

import pytest

from deployc.compiler.driver import compile_spec as load_spec, compile_target
from deployc.compiler.registry import Registry
from deployc.compiler.api.target import Capability, Target, TargetOptions
from deployc.compiler.diagnostics import has_errors
from deployc.compiler.writer import safe_relpath
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
    for key, v in target.versions.items():
        assert v.version == key
        caps = target.capabilities(v)
        assert isinstance(caps, frozenset) and caps <= frozenset(Capability)


def _listed(sample):
    """The targets a sample is meant for (its `targets:` keys): a target need not serve every sample."""
    from ruamel.yaml import YAML
    return list(YAML(typ="safe").load(sample / "deploy.yaml").get("targets") or {})


PAIRS = [(s, name) for s in SAMPLES for name in _listed(s) if name in REGISTRY.names]


def at_version(compiled, name: str, version: str):
    """The compiled sample as if its spec said targets.<name>.version: <version>."""
    plan = compiled.plan
    options = {**(plan.targets.get(name) or {}), "version": version}
    return dataclasses.replace(compiled, plan=dataclasses.replace(plan, targets={**plan.targets, name: options}))


@pytest.mark.parametrize("sample, name", PAIRS, ids=lambda x: x if isinstance(x, str) else x.name)
def test_lower_is_deterministic_pure_and_relative(name, sample, monkeypatch, tmp_path):
    """The sample lowered at every version of the target: the same result each time, in whatever order
    the versions are lowered (no state leaks between them), nothing written, only relative paths, no
    secret from the environment; a version that cannot serve the sample says why."""
    from deployc.compiler.api.target import BuildContext

    target, _ = REGISTRY.load(name)

    compiled = load_spec(sample / "deploy.yaml", "deploy.yaml")
    ctx = BuildContext("../..", "deploy.yaml", compiled.source.digest)
    monkeypatch.chdir(tmp_path)  # lowering must not depend on, or write to, the working directory
    monkeypatch.setenv("HF_TOKEN", "hf_must_never_show_up_anywhere_0000")
    first = compile_target(compiled, REGISTRY, target.name, ctx)
    assert first.ok, first.diagnostics
    assert compile_target(compiled, REGISTRY, target.name, ctx).lowered == first.lowered

    def lower_at(version):
        return compile_target(at_version(compiled, name, version), REGISTRY, target.name, ctx)

    results = {version: lower_at(version) for version in target.versions}
    again = {version: lower_at(version) for version in reversed(list(target.versions))}
    assert results[first.version].lowered == first.lowered   # the version the sample names, or the newest
    for version, result in results.items():
        assert result.version == version
        assert (again[version].lowered, again[version].diagnostics) == (result.lowered, result.diagnostics)
        if not result.ok:
            assert has_errors(result.diagnostics) and result.lowered is None, version
            continue
        arts = result.lowered.artifacts
        assert any(version in a.content for a in arts), f"nothing {name} writes names version {version}"
        for art in arts:
            assert safe_relpath(art.path), art.path
            assert "hf_must_never" not in art.content
            assert art.content.endswith("\n")
        assert len({a.path for a in arts}) == len(arts)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["vllm", "sglang", "tgi", "ollama"])
def test_container_targets_lower_a_service_that_is_their_compose_file(name, tmp_path):
    """`deployc up` and the Kubernetes platform start Lowered.service; compose.yaml must be that same service."""
    from ruamel.yaml import YAML

    from deployc.compiler.api.target import BuildContext
    from deployc.compiler.api import compose_file, container

    sample = {"vllm": "qwen2.5-7b-h100", "sglang": "qwen2.5-32b-sglang-dp", "tgi": "mistral-lora-tgi",
              "ollama": "qwen2.5-0.5b-gguf-ollama"}[name]
    compiled = load_spec(SAMPLES[0].parent / sample / "deploy.yaml")
    result = compile_target(compiled, REGISTRY, name, BuildContext("../..", "deploy.yaml", "0" * 16))
    svc = result.lowered.service
    assert isinstance(svc, container.Service)
    compose = next(a.content for a in result.lowered.artifacts if a.path == "compose.yaml")
    written = YAML(typ="safe").load(compose)["services"][svc.name]
    assert written == YAML(typ="safe").load(compose_file([], svc))["services"][svc.name]
    assert written["volumes"][0] == svc.cache.compose() and svc.cache.read_only is False
    assert [container.Volume.parse(v) for v in written["volumes"][1:]] == list(svc.volumes)
    assert svc.port == compiled.plan.server.port and svc.health_path.startswith("/")
