"""Goldens: every sample x every target its `targets:` lists, one snapshot file per artifact.

Snapshots live under tests/__snapshots__/test_golden/ with the artifact's real
extension, so a diff in review reads like a diff of the artifact itself.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import pytest

from compiler.registry import Registry
from conftest import INVALID, ROOT, SAMPLES, text_extension

REGISTERED = Registry.discover().names


def _listed(sample):
    """The targets a sample is meant for (its `targets:` keys), in file order."""
    from ruamel.yaml import YAML
    return list((YAML(typ="safe").load(sample / "deploy.yaml").get("targets") or {}))


PAIRS = [(s, t) for s in SAMPLES for t in _listed(s)]


def test_every_registered_target_has_a_sample():
    assert {t for _, t in PAIRS} == set(REGISTERED), "list each target under some sample's targets:"


@pytest.mark.parametrize("sample, target", PAIRS, ids=lambda x: x if isinstance(x, str) else x.name)
def test_artifacts(sample, target, cli, snapshot):
    result = cli("build", sample / "deploy.yaml", "--target", target, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    out = json.loads(result.stdout)
    assert out["target"] == target and out["diagnostics"] == []
    assert out["command"] is not None
    for art in out["artifacts"]:
        name = PurePosixPath(art["path"])
        ext = text_extension(name.suffix.lstrip(".") or "txt")
        # nested artifacts (model_repository/<model>/config.pbtxt) keep their folders in the snapshot name
        stem = str(name.with_suffix("")).replace("/", "__")
        assert snapshot(name=stem, extension_class=ext) == art["content"]
    modes = {a["path"]: a["mode"] for a in out["artifacts"]}
    assert snapshot(name="command", extension_class=text_extension("json")) == json.dumps(
        {"command": out["command"], "modes": modes}, indent=2) + "\n"


@pytest.mark.parametrize("spec", INVALID, ids=lambda p: p.stem)
def test_invalid_sample_diagnostics(spec, cli, snapshot):
    result = cli("validate", spec.relative_to(ROOT), cwd=ROOT)
    assert result.exit_code == 1
    assert result.stdout == ""
    text = f"$ deployc validate {spec.relative_to(ROOT)}\n{result.stderr}exit {result.exit_code}\n"
    assert snapshot(extension_class=text_extension("txt")) == text


def test_committed_sample_outputs_are_up_to_date(cli):
    """samples/*/deploy/ is what `deployc build` writes today; `deployc check` proves it."""
    result = cli("check", *[s.relative_to(ROOT) / "deploy.yaml" for s in SAMPLES], cwd=ROOT)
    assert result.exit_code == 0, result.stdout + result.stderr
