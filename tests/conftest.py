from __future__ import annotations

import os
from pathlib import Path

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from typer.testing import CliRunner

from deployc.compiler.cli import app

# Snapshots are artifacts with their real extensions; a generated launch.py is not a test module.
collect_ignore_glob = ["__snapshots__/*"]

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = sorted(p.parent for p in (ROOT / "samples").glob("*/deploy.yaml"))
INVALID = sorted((ROOT / "samples" / "invalid").glob("*.yaml"))

_EXTENSIONS: dict[str, type[SingleFileSnapshotExtension]] = {}


def text_extension(suffix: str) -> type[SingleFileSnapshotExtension]:
    """A syrupy extension that stores one snapshot as one text file with a real extension."""
    if suffix not in _EXTENSIONS:
        _EXTENSIONS[suffix] = type(f"Text{suffix.title()}Extension", (SingleFileSnapshotExtension,),
                                   {"file_extension": suffix, "_write_mode": WriteMode.TEXT})
    return _EXTENSIONS[suffix]


class Cli:
    """Runs the deployc CLI in-process; stdout and stderr apart, like a terminal would see them."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str | Path, cwd: Path | None = None):
        import os

        old = os.getcwd()
        if cwd is not None:
            os.chdir(cwd)
        try:
            return self.runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        finally:
            os.chdir(old)

    def plan_json(self, folder: Path, spec: str) -> dict:
        """`deployc plan --json` of spec text written to folder/deploy.yaml; the plan must succeed."""
        import json

        path = folder / "deploy.yaml"
        path.write_text(spec, encoding="utf-8")
        result = self("plan", path, "--json")
        assert result.exit_code == 0, result.stdout + result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture
def spec_file(tmp_path: Path):
    """Write a spec into tmp_path and return its path."""

    def write(text: str, name: str = "deploy.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


MINIMAL = """\
apiVersion: deployc/v1
name: demo
model:
  source: Qwen/Qwen2.5-0.5B-Instruct
targets:
  vllm: {}
"""


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory):
    """Compiled templates go to a folder of the test run, never the developer's ~/.cache/deployc."""
    os.environ["DEPLOYC_CACHE_DIR"] = str(tmp_path_factory.mktemp("deployc-cache"))


@pytest.fixture(autouse=True)
def _no_hf_cache(tmp_path_factory, monkeypatch):
    """Model facts never come from the developer's own Hugging Face cache during tests."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf-hub-cache")))


DEFAULT_SOURCE = "Qwen/Qwen2.5-0.5B-Instruct"


def spec_text(target: str = "vllm", sections: str = "", options: str = "{}", *, model: str = "",
              source: str = DEFAULT_SOURCE, name: str = "demo") -> str:
    """MINIMAL for one target: `model` lines go under model: (after source), `sections` (YAML text) before
    targets:, and `options` (a flow mapping) under targets.<target>; `name` is the deployment's name. A
    source the facts catalog does not know (example/model) keeps checkpoint facts and the memory plan out
    of a test about something else."""
    return (MINIMAL.replace("name: demo\n", f"name: {name}\n")
            .replace(f"  source: {DEFAULT_SOURCE}\n", f"  source: {source}\n" + model)
            .replace("targets:\n  vllm: {}\n", sections + f"targets:\n  {target}: {options}\n"))


class Specs:
    """The one spec-building fixture: write a spec for a target and build it with `deployc build --json`."""

    def __init__(self, cli: Cli, tmp_path: Path) -> None:
        self.cli, self.tmp_path = cli, tmp_path

    def write(self, target: str = "vllm", sections: str = "", options: str = "{}", *, model: str = "",
              source: str = DEFAULT_SOURCE, name: str = "deploy.yaml") -> Path:
        path = self.tmp_path / name
        path.write_text(spec_text(target, sections, options, model=model, source=source), encoding="utf-8")
        return path

    def build(self, target: str = "vllm", sections: str = "", options: str = "{}", *, expect: int = 0,
              model: str = "", source: str = DEFAULT_SOURCE, platform: str | None = None) -> dict:
        """`deployc build --json` of the spec (without MINIMAL's open-server warning); asserts the exit code."""
        path = self.write(target, sections, options, model=model, source=source)
        result = self.cli("build", path, "--target", target, "--json",
                          *(("--platform", platform) if platform else ()))
        out = built_json(result)
        assert result.exit_code == expect, out["diagnostics"]
        return out

    def build_data(self, target: str, spec: dict, *, expect: int | None = 0) -> dict:
        """`deployc build --json` of a whole spec given as data (hostile values, property tests); expect None
        takes either outcome: a rejected spec has error diagnostics, or no command."""
        import io

        from ruamel.yaml import YAML

        text = io.StringIO()
        YAML(typ="safe", pure=True).dump(spec, text)
        path = self.tmp_path / "deploy.yaml"
        path.write_text(text.getvalue(), encoding="utf-8")
        result = self.cli("build", path, "--target", target, "--json")
        out = built_json(result)
        assert expect is None or result.exit_code == expect, out["diagnostics"]
        return out


@pytest.fixture
def specs(cli: Cli, tmp_path: Path) -> Specs:
    return Specs(cli, tmp_path)


def codes(out: dict) -> list[tuple[str, int, int]]:
    """(code, line, column) of each diagnostic of a `build --json` output."""
    return [(d["code"], d["line"], d["column"]) for d in out["diagnostics"]]


UNKNOWN_MODEL = "example/model"


def built_json(result) -> dict:
    """`deployc build --json` output, without the open-server warning that MINIMAL (0.0.0.0, no API
    key) always draws, nor the unknown-facts warning of the source UNKNOWN_MODEL (example/model, which
    tests use to keep facts out): target tests assert their own diagnostics; test_facts_plan and
    test_model_facts test those two."""
    import json

    out = json.loads(result.stdout)
    out["diagnostics"] = [d for d in out["diagnostics"] if d["code"] != "server-open" and not (
        d["code"] in ("model-facts-unknown", "model-facts-partial") and f" for {UNKNOWN_MODEL} " in d["message"])]
    return out
