"""deployc's own pre-commit hooks, run by the real pre-commit in a throwaway git repository.

The hook repository is this checkout at HEAD (pre-commit clones a local path at `rev:`), so
the test judges what is committed: a clean clone in CI. pre-commit builds the hook's
environment with pip (the package registry is the only network it needs).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import spec_text

from .conftest import HOME, ROOT, require

pytestmark = pytest.mark.conformance


def spec(context: int = 4096, parallelism: str = "") -> str:
    """A small spec bound to localhost (no open-server warning) with a short context."""
    return spec_text(sections=parallelism + f"limits:\n  max_model_len: {context}\nserver:\n  host: 127.0.0.1\n")


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_hooks_pass_good_specs_and_block_bad_specs_and_stale_outputs(tmp_path):
    precommit = require(HOME / "precommit/bin/pre-commit")
    head = git(ROOT, "rev-parse", "HEAD").stdout.strip()
    repo = tmp_path / "proj"
    repo.mkdir()
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t.invalid"}
    env.pop("VIRTUAL_ENV", None)
    assert git(repo, "init", "-q").returncode == 0
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT}\n    rev: {head}\n    hooks:\n      - id: deployc-validate\n"
        "      - id: deployc-check\n")
    svc = repo / "svc"
    svc.mkdir()
    (svc / "deploy.yaml").write_text(spec())
    deployc = ROOT / ".venv/bin/deployc"
    assert subprocess.run([str(deployc), "build", "svc/deploy.yaml", "--target", "vllm"], cwd=repo,
                          capture_output=True, check=False).returncode == 0
    subprocess.run([str(precommit), "install"], cwd=repo, env=env, check=True, capture_output=True)

    def commit(message: str) -> subprocess.CompletedProcess:
        git(repo, "add", "-A")
        # pre-commit's report reaches the terminal through git's stderr: join the two like a terminal
        return subprocess.run(["git", "commit", "-qm", message], cwd=repo, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, check=False)

    good = commit("a good spec with its outputs")
    assert good.returncode == 0, good.stdout

    (svc / "deploy.yaml").write_text(spec(parallelism="parallelism:\n  tensor: 3\n"))
    bad = commit("tensor 3 does not divide 14 heads")
    assert bad.returncode != 0
    assert "svc/deploy.yaml:6:11: error[parallelism-heads]" in bad.stdout

    (svc / "deploy.yaml").write_text(spec(8192))
    stale = commit("a valid change without rebuilding")
    assert stale.returncode != 0
    assert "error[output-stale]" in stale.stdout
    assert "run `deployc build svc/deploy.yaml --target vllm`" in stale.stdout
    assert "+exec vllm serve Qwen/Qwen2.5-0.5B-Instruct" in stale.stdout   # the diff is printed

    subprocess.run([str(deployc), "build", "svc/deploy.yaml", "--target", "vllm"], cwd=repo, check=True,
                   capture_output=True)
    fixed = commit("rebuilt")
    assert fixed.returncode == 0, fixed.stdout
