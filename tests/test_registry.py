"""Plugins: discovered through entry points; broken or duplicate ones become diagnostics."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint

import pytest

from deployc.compiler import registry as registry_module
from deployc.compiler.registry import GROUP, Registry
from deployc.compiler.api import EngineVersion, Target, TargetOptions


class Good(Target[TargetOptions, EngineVersion]):
    name = "good"
    title = "Good"
    options = TargetOptions
    versions = {"1.0": EngineVersion(version="1.0", capabilities=frozenset())}


@pytest.fixture
def plugins(monkeypatch):
    module = types.ModuleType("fake_plugins")
    module.Good = Good
    module.NotATarget = object
    sys.modules["fake_plugins"] = module

    def install(*points: tuple[str, str]):
        eps = [EntryPoint(name, value, GROUP) for name, value in points]
        monkeypatch.setattr(registry_module, "entry_points", lambda group: eps if group == GROUP else [])
        return Registry.discover()

    yield install
    del sys.modules["fake_plugins"]


def test_builtin_targets_come_from_the_same_entry_point_group():
    assert "vllm" in Registry.discover().names


def test_names_are_known_without_importing(plugins):
    reg = plugins(("good", "fake_plugins:Good"), ("lazy", "not_imported_module:Thing"))
    assert reg.names == ["good", "lazy"]
    assert "not_imported_module" not in sys.modules


def test_broken_plugins_are_diagnostics(plugins):
    reg = plugins(("missing", "no_such_module_xyz:T"), ("wrongtype", "fake_plugins:NotATarget"),
                  ("misnamed", "fake_plugins:Good"))
    for name, text in (("missing", "failed to load: ModuleNotFoundError"),
                       ("wrongtype", "is not a deployc Target class"), ("misnamed", "loads a target named 'good'")):
        target, problem = reg.load(name)
        assert target is None and problem.code == "plugin-broken" and text in problem.message


def test_duplicate_names_are_a_diagnostic(plugins):
    reg = plugins(("good", "fake_plugins:Good"), ("good", "other_dist:Good"))
    assert [p.code for p in reg.problems] == ["plugin-duplicate"]
    assert reg.load("good")[0] is not None  # the first registration still works


def test_cli_reports_a_broken_plugin_without_a_traceback(plugins, cli):
    plugins(("good", "fake_plugins:Good"), ("broken", "no_such_module_xyz:T"))
    good_caps = Good.capabilities
    Good.capabilities = lambda self, version: frozenset()
    try:
        result = cli("targets")
    finally:
        Good.capabilities = good_caps
    assert result.exit_code == 1
    assert result.stdout.startswith("good ")
    assert "error[plugin-broken]: target 'broken' (no_such_module_xyz:T) failed to load" in result.stderr
    assert "Traceback" not in result.stderr
