from __future__ import annotations

import os
from pathlib import Path

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from typer.testing import CliRunner

from compiler.cli import app

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


def built_json(result) -> dict:
    """`deployc build --json` output, without the open-server warning that MINIMAL (0.0.0.0, no API
    key) always draws: target tests assert their own diagnostics; test_facts_plan tests that one."""
    import json

    out = json.loads(result.stdout)
    out["diagnostics"] = [d for d in out["diagnostics"] if d["code"] != "server-open"]
    return out
