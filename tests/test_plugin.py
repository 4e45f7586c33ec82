"""A third-party target, end to end: tests/plugin_toy/ is a distribution of its own (deployc-toy, package
deployc_toy) that registers one target through the `deployc.targets` entry point and imports nothing of
deployc but the plugin API. Installed into a temporary folder, it is found and built by the real CLI in
a subprocess: adding a target touches its own package and one entry-point line."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import spec_text

TOY = Path(__file__).resolve().parent / "plugin_toy"
ARGV = ["toyserve", "Qwen/Qwen2.5-0.5B-Instruct", "--name", "qwen2.5-0.5b-instruct", "--shards", "2",
        "--host", "0.0.0.0", "--port", "8000"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """deployc-toy installed into a folder of its own, as pip would lay it out: the package beside a
    .dist-info whose entry_points.txt holds the toy's own [project.entry-points] (no build backend, no
    network; Python's importlib.metadata finds it on PYTHONPATH like any installed distribution)."""
    site = tmp_path_factory.mktemp("site")
    project = tomllib.loads((TOY / "pyproject.toml").read_text(encoding="utf-8"))
    meta = project["project"]
    for package in project["tool"]["setuptools"]["packages"]:
        shutil.copytree(TOY / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items()) + "\n"
        for group, points in meta["entry-points"].items()))
    return site


def run(site: Path, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True,
                          check=False)


def test_the_toy_names_only_the_plugin_api():
    names = set()
    for path in (TOY / "deployc_toy").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names |= {f"{node.module}.{a.name}" for a in node.names}
    assert {n for n in names if n.startswith("deployc")} == {"deployc.compiler.api"}, names


def test_importing_the_toy_loads_nothing_of_deployc_beyond_the_api(site):
    probe = ("import sys, deployc.compiler.api\n"
             "before = set(sys.modules)\n"
             "import deployc_toy\n"
             "print(sorted(set(sys.modules) - before))\n")
    r = run(site, "-c", probe)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['deployc_toy']"


def test_the_registered_toy_builds_compose_and_kubernetes(site, tmp_path):
    targets = run(site, "-m", "deployc.compiler", "targets")
    assert targets.returncode == 0, targets.stderr
    assert any(line.split()[:1] == ["toy"] and "2.0" in line and "1.0" in line for line in targets.stdout.splitlines()), \
        targets.stdout
    spec = tmp_path / "deploy.yaml"
    spec.write_text(spec_text("toy", "parallelism:\n  tensor: 2\n"))

    local = run(site, "-m", "deployc.compiler", "build", spec, "--target", "toy", "--json")
    assert local.returncode == 0, local.stdout + local.stderr
    out = json.loads(local.stdout)
    assert (out["target"], out["version"], out["command"]) == ("toy", "2.0", ARGV)
    (compose,) = out["artifacts"]
    assert compose["path"] == "compose.yaml"
    [svc] = YAML(typ="safe").load(compose["content"])["services"].values()
    assert svc["image"] == "example.org/toyserve:2.0" and svc["command"] == ARGV
    assert svc["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 2

    k8s = run(site, "-m", "deployc.compiler", "build", spec, "--target", "toy", "--platform", "kubernetes", "--json")
    assert k8s.returncode == 0, k8s.stdout + k8s.stderr
    (manifests,) = json.loads(k8s.stdout)["artifacts"]
    docs = [d for d in YAML(typ="safe").load_all(manifests["content"]) if d is not None]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "example.org/toyserve:2.0" and container["args"] == ARGV


def test_the_toys_version_record_and_option_table_reach_the_diagnostics(site, tmp_path):
    """Version 1.0 declares no tensor parallelism (the core's capability check); --port in args restates
    server.port (the toy's option table)."""
    spec = tmp_path / "deploy.yaml"
    spec.write_text(spec_text("toy", "parallelism:\n  tensor: 2\n", "{version: '1.0', args: [--port, '9000']}"))
    r = run(site, "-m", "deployc.compiler", "validate", spec)
    assert r.returncode == 1
    assert ":6:11: error[target-unsupported]: Toy 1.0 cannot express tensor parallelism" in r.stderr
    assert ":8:32: error[target-args-conflict]: --port in targets.toy.args restates server.port" in r.stderr
