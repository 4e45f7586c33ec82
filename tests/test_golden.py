"""Goldens: the committed sample outputs are the goldens, one set.

Every sample x every target its `targets:` lists is built, as `deployc build` writes it, for the local
platform (samples/<sample>/deploy/<target>/) and for Kubernetes (.../<target>/kubernetes/, where the
target builds there): each file, deployc-manifest.json included, is a syrupy snapshot stored as that
committed file (tests/sample_files.py), and its executable bit must match. samples/<sample>/argv.json
holds each listed target's engine argv (`build --json`'s "command"). After an intended change,

    .venv/bin/python -m pytest --snapshot-update

rewrites what changed, adds what is new and deletes what no build writes any more. `deployc check` of the
samples passes exactly when they are up to date (the last test). The invalid samples' diagnostics are
ordinary snapshots under tests/__snapshots__/test_golden/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deployc.compiler import driver
from deployc.compiler.registry import Registry
from conftest import INVALID, ROOT, SAMPLES, Cli, text_extension
from sample_files import SAMPLES_DIR, SampleFile, expected_warnings

REGISTERED = Registry.discover().names
PLATFORMS = ("local", "kubernetes")


def _listed(sample):
    """The targets a sample is meant for (its `targets:` keys), in file order."""
    from ruamel.yaml import YAML
    return list(YAML(typ="safe").load(sample / "deploy.yaml").get("targets") or {})


PAIRS = [(s, t) for s in SAMPLES for t in _listed(s)]
OUTPUTS = [(s, t, p) for s, t in PAIRS for p in PLATFORMS]


@dataclass
class Built:
    """One `deployc build --out` of a sample for a target and platform: what it wrote, and how it ended."""

    exit_code: int
    stderr: str
    files: dict[str, Path] = field(default_factory=dict)   # path inside the output folder -> file written


class Builds:
    """Each sample x target x platform built once per test session by `deployc build` into a copy of the
    sample (its spec and local files, not its deploy/): the outputs name paths relative to the spec."""

    def __init__(self, root: Path) -> None:
        self.root, self.cli, self.done = root, Cli(), {}

    def __call__(self, sample: Path, target: str, platform: str) -> Built:
        key = (sample.name, target, platform)
        if key not in self.done:
            copy = self.root / platform / sample.name
            if not copy.exists():
                shutil.copytree(sample, copy, ignore=lambda d, names: ["deploy"] if Path(d) == sample else [])
            result = self.cli("build", copy / "deploy.yaml", "--target", target,
                              *(("--platform", platform) if platform != "local" else ()))
            built = Built(result.exit_code, result.stderr)
            if result.exit_code == 0:
                folder = committed(copy, target, platform)
                built.files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}
            self.done[key] = built
        return self.done[key]


@pytest.fixture(scope="session")
def builds(tmp_path_factory) -> Builds:
    return Builds(tmp_path_factory.mktemp("sample-builds"))


def committed(sample: Path, target: str, platform: str) -> Path:
    """Where the sample's output for the target and platform is committed (where `deployc build` writes it)."""
    return driver.out_dir(sample / "deploy.yaml", None, target, platform)


def _updating(request) -> bool:
    return bool(request.config.option.update_snapshots)


def test_every_registered_target_has_a_sample():
    assert {t for _, t in PAIRS} == set(REGISTERED), "list each target under some sample's targets:"


@pytest.mark.parametrize("sample, target, platform", OUTPUTS,
                         ids=lambda x: x if isinstance(x, str) else x.name)
def test_outputs(sample, target, platform, builds, snapshot, request):
    """The committed output folder holds exactly what `deployc build` writes there, modes included."""
    built = builds(sample, target, platform)
    if platform == "local":
        assert built.exit_code == 0, built.stderr
        drawn = re.findall(r"\b(?:error|warning)\[([\w-]+)\]", built.stderr)
        assert set(drawn) <= set(expected_warnings(sample)), built.stderr
        assert built.stderr == "" or drawn, built.stderr
    elif built.exit_code != 0:   # why: test_kubernetes.py::test_sample_manifests; nothing committed: below
        assert "error[" in built.stderr
        return
    assert set(built.files) >= {"deployc-manifest.json"} and len(built.files) > 1
    folder = committed(sample, target, platform)
    for rel, path in built.files.items():
        mine = folder / rel
        name = mine.relative_to(SAMPLES_DIR).as_posix()
        assert snapshot(name=name, extension_class=SampleFile) == path.read_bytes().decode("utf-8")
        executable = bool(path.stat().st_mode & 0o100)
        if _updating(request) and bool(mine.stat().st_mode & 0o100) != executable:
            os.chmod(mine, 0o755 if executable else 0o644)
        assert bool(mine.stat().st_mode & 0o100) == executable, f"chmod {'+' if executable else '-'}x {mine}"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_argv(sample, cli, snapshot):
    """samples/<sample>/argv.json: the engine argv of each listed target, as `build --json` reports it."""
    argv = {}
    for target in _listed(sample):
        result = cli("build", sample / "deploy.yaml", "--target", target, "--json")
        assert result.exit_code == 0, result.output + result.stderr
        out = json.loads(result.stdout)
        assert out["target"] == target
        assert {d["code"] for d in out["diagnostics"]} <= set(expected_warnings(sample)), out["diagnostics"]
        assert out["command"] is not None
        argv[target] = out["command"]
    text = json.dumps(argv, indent=2, ensure_ascii=False) + "\n"
    assert snapshot(name=f"{sample.name}/argv.json", extension_class=SampleFile) == text


@pytest.mark.parametrize("sample, target", PAIRS, ids=lambda x: getattr(x, "name", x))
def test_every_value_the_spec_does_not_state_says_why(sample, target, cli):
    """`build --json` lists each value written that the spec does not state, with why it is there; a memory
    share or a concurrency cap is never among them (unset, they stay the engine's own defaults)."""
    out = json.loads(cli("build", sample / "deploy.yaml", "--target", target, "--json").stdout)
    for d in out["derived"]:
        assert d["why"], d
        if d["setting"] in ("hardware.memory_utilization", "limits.max_concurrency"):
            assert d["why"].startswith("targets."), d   # only a target option of the user's own


def test_no_stray_sample_outputs(builds, request):
    """Nothing under samples/*/deploy/ that no build writes (a dropped target, a renamed artifact, a
    platform that now refuses); --snapshot-update deletes such files."""
    expected = {SAMPLES_DIR / s.name / "argv.json" for s in SAMPLES}
    for sample, target, platform in OUTPUTS:
        folder = committed(sample, target, platform)
        expected |= {folder / rel for rel in builds(sample, target, platform).files}
    found = {p for p in SAMPLES_DIR.glob("*/deploy/**/*") if p.is_file()} | set(SAMPLES_DIR.glob("*/argv.json"))
    stray = sorted(found - expected)
    if stray and _updating(request):
        for path in stray:
            path.unlink()
        for folder in sorted({d for p in stray for d in p.parents if SAMPLES_DIR in d.parents}, reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return
    assert not stray, "no build writes these (`pytest --snapshot-update` deletes them):\n" + "\n".join(
        str(p.relative_to(ROOT)) for p in stray)


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
