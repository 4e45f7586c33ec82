"""Issue 25, part 3: the writer never writes or deletes outside the output folder, a manifest entry
never deletes a file deployc did not write, and a build of one target commits as a unit: a crash
or a failed rename is finished (or undone to a consistent state) by the next build, never leaves a
temp file, and never makes `check` blame the user."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import MINIMAL

MANIFEST = "deployc-manifest.json"


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def temps(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if ".tmp" in p.name or "journal" in p.name]


@pytest.fixture
def victim(tmp_path):
    folder = tmp_path / "victim"
    folder.mkdir()
    (folder / "precious.txt").write_text("precious\n")
    return folder


def test_a_symlinked_deploy_folder_is_refused(tmp_path, spec_file, cli, victim):
    spec = spec_file(MINIMAL)
    (tmp_path / "deploy").symlink_to(victim)
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 2
    assert f"deployc: error: {tmp_path / 'deploy'} is a symbolic link" in result.stderr
    assert tree(victim) == {"precious.txt": b"precious\n"}


def test_kubernetes_never_writes_through_a_symlinked_target_folder(tmp_path, spec_file, cli, victim):
    spec = spec_file(MINIMAL)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "vllm").symlink_to(victim)
    result = cli("build", spec, "--target", "vllm", "--platform", "kubernetes")
    assert result.exit_code == 2
    assert f"deployc: error: {tmp_path / 'deploy' / 'vllm'} is a symbolic link" in result.stderr
    assert tree(victim) == {"precious.txt": b"precious\n"}


def test_out_itself_may_be_a_link_the_user_chose(tmp_path, spec_file, cli, victim):
    spec = spec_file(MINIMAL)
    (tmp_path / "chosen").symlink_to(victim)
    result = cli("build", spec, "--target", "vllm", "--out", tmp_path / "chosen")
    assert result.exit_code == 0, result.stderr
    assert (victim / "vllm" / "serve.sh").is_file()


def plant(out: Path, rel: str, content: bytes, sign: bool) -> None:
    """A manifest entry for rel with content's hash; sign: with the manifest's digest recomputed."""
    from deployc.compiler import writer

    data = json.loads((out / MANIFEST).read_text())
    data["files"][rel] = {"sha256": hashlib.sha256(content).hexdigest(), "mode": "0644"}
    if sign:
        data["digest"] = writer.manifest_digest(data)
    (out / MANIFEST).write_text(json.dumps(data, indent=2) + "\n")


@pytest.mark.parametrize("sign", [True, False])
def test_a_manifest_entry_behind_a_symlinked_subfolder_never_deletes_outside(tmp_path, spec_file, cli, victim, sign):
    spec = spec_file(MINIMAL)
    assert cli("build", spec, "--target", "vllm").exit_code == 0
    out = tmp_path / "deploy" / "vllm"
    (out / "sub").symlink_to(victim)
    plant(out, "sub/precious.txt", b"precious\n", sign)
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 0, result.stderr
    assert tree(victim) == {"precious.txt": b"precious\n"}
    assert "removed" not in result.stdout


def test_a_hand_edited_manifest_claiming_a_users_file_does_not_get_it_deleted(tmp_path, spec_file, cli):
    spec = spec_file(MINIMAL)
    assert cli("build", spec, "--target", "vllm").exit_code == 0
    out = tmp_path / "deploy" / "vllm"
    (out / "notes.txt").write_text("mine\n")
    plant(out, "notes.txt", b"mine\n", sign=False)
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 0, result.stderr
    assert (out / "notes.txt").read_text() == "mine\n"
    assert "warning[output-manifest-edited]" in result.stderr
    assert "notes.txt" not in json.loads((out / MANIFEST).read_text())["files"]


def test_a_file_deployc_wrote_and_no_longer_generates_is_still_removed(tmp_path, spec_file, cli):
    spec = spec_file(MINIMAL)
    assert cli("build", spec, "--target", "vllm").exit_code == 0
    out = tmp_path / "deploy" / "vllm"
    (out / "old.sh").write_text("old\n")
    plant(out, "old.sh", b"old\n", sign=True)   # as deployc itself would have recorded it
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 0, result.stderr
    assert "  removed   old.sh" in result.stdout and not (out / "old.sh").exists()


KILL = """
import os, sys
from deployc.compiler import writer
from deployc.compiler.cli import app
where, n = sys.argv[1], int(sys.argv[2])
calls = []
real = writer._stage if where == "_stage" else os.replace
def dying(*a, **k):
    calls.append(1)
    if len(calls) == n:
        os._exit(9)
    return real(*a, **k)
if where == "_stage":
    writer._stage = dying
else:
    writer.os.replace = dying
app(sys.argv[3:], prog_name="deployc")
"""


def killed_build(spec: Path, where: str, n: int) -> int:
    """A build in its own process, SIGKILL-like (os._exit) at the n-th _stage or os.replace call."""
    return subprocess.run([sys.executable, "-c", KILL, where, str(n), "build", str(spec), "--target", "vllm"],
                          capture_output=True, text=True, timeout=120).returncode


@pytest.fixture
def changed(tmp_path, spec_file, cli):
    """A built output and a spec edit that changes both artifacts."""
    spec = spec_file(MINIMAL)
    assert cli("build", spec, "--target", "vllm").exit_code == 0
    spec_file(MINIMAL.replace("0.5B", "1.5B"))
    return spec, tmp_path / "deploy" / "vllm"


def test_a_kill_between_two_renames_is_finished_by_the_next_build_and_check_does_not_blame_the_user(changed, cli):
    spec, out = changed
    assert killed_build(spec, "replace", 3) == 9   # after the journal and the first file went into place
    checked = cli("check", spec)
    assert checked.exit_code == 1
    assert "error[output-interrupted]" in checked.stderr and "edited" not in checked.stderr
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 0, result.stderr
    assert temps(out) == []
    assert "1.5B" in (out / "serve.sh").read_text() and "1.5B" in (out / "compose.yaml").read_text()
    assert cli("check", spec).exit_code == 0


def test_a_kill_while_staging_leaves_old_files_and_no_temp_file_after_the_next_build(changed, cli):
    spec, out = changed
    before = tree(out)
    assert killed_build(spec, "_stage", 2) == 9
    assert {k: v for k, v in tree(out).items() if ".tmp" not in k} == before
    assert cli("check", spec).exit_code == 1          # stale, as before the build: the spec changed
    assert cli("build", spec, "--target", "vllm").exit_code == 0
    assert temps(out) == []
    assert cli("check", spec).exit_code == 0


@pytest.mark.parametrize("n", range(1, 5))
def test_every_kill_point_recovers(changed, cli, n):
    spec, out = changed
    for where in ("_stage", "replace"):
        killed_build(spec, where, n)
        assert cli("build", spec, "--target", "vllm").exit_code == 0
        assert temps(out) == [] and cli("check", spec).exit_code == 0
        spec.write_text(spec.read_text().replace("1.5B", "3B") if "1.5B" in spec.read_text()
                        else spec.read_text().replace("3B", "1.5B"))


def test_a_folder_where_a_file_goes_is_refused_even_with_force(tmp_path, spec_file, cli):
    spec = spec_file(MINIMAL)
    out = tmp_path / "deploy" / "vllm"
    (out / "serve.sh").mkdir(parents=True)
    result = cli("build", spec, "--target", "vllm", "--force")
    assert result.exit_code == 1
    assert "error[output-not-file]" in result.stderr
    assert temps(out) == [] and sorted(p.name for p in out.iterdir()) == ["serve.sh"]


def test_a_failed_rename_leaves_no_temp_file_and_a_manifest_that_matches_the_disk(changed, cli, monkeypatch):
    from deployc.compiler import writer

    spec, out = changed
    real, calls = os.replace, []

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(13, "Permission denied", str(dst))
        return real(src, dst)

    monkeypatch.setattr(writer.os, "replace", failing)
    result = cli("build", spec, "--target", "vllm", "--force")
    assert result.exit_code == 1 and "Permission denied" in result.stderr
    monkeypatch.setattr(writer.os, "replace", real)
    assert temps(out) == []
    checked = cli("check", spec)
    assert "edited" not in checked.stderr, checked.stderr    # one file is new, one stale: deployc's own
    assert cli("build", spec, "--target", "vllm").exit_code == 0
    assert cli("check", spec).exit_code == 0
