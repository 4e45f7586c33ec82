"""build and check on disk: atomic writes, the manifest, hand edits, files deployc did not write."""

from __future__ import annotations

import json
import os

import pytest

from conftest import MINIMAL


@pytest.fixture
def built(tmp_path, spec_file, cli):
    spec = spec_file(MINIMAL)
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 0, result.stderr
    return spec, tmp_path / "deploy" / "vllm"


def snapshot_tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_build_writes_artifacts_modes_and_manifest(built):
    _, out = built
    assert sorted(p.name for p in out.iterdir()) == ["compose.yaml", "deployc-manifest.json", "serve.sh"]
    assert os.stat(out / "serve.sh").st_mode & 0o777 == 0o755
    assert os.stat(out / "compose.yaml").st_mode & 0o777 == 0o644
    manifest = json.loads((out / "deployc-manifest.json").read_text())
    assert manifest["target"] == "vllm" and set(manifest["files"]) == {"serve.sh", "compose.yaml"}
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_rebuild_is_byte_identical_and_touches_nothing(built, cli):
    spec, out = built
    before = snapshot_tree(out)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 0
    assert "0 written, 2 unchanged" in result.stdout
    assert snapshot_tree(out) == before
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes


def test_hand_edited_file_is_not_overwritten_without_force(built, cli, spec_file):
    spec, out = built
    (out / "serve.sh").write_text((out / "serve.sh").read_text() + "# my tweak\n")
    spec_file(MINIMAL.replace("vllm: {}", "vllm: {args: [--disable-log-stats]}"))
    before = snapshot_tree(out)
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 1
    assert f"{out / 'serve.sh'}: error[output-edited]: {out / 'serve.sh'} was edited by hand" in result.stderr
    assert "--force" in result.stderr
    assert snapshot_tree(out) == before, "a refused build must not write anything, not even compose.yaml"
    result = cli("build", spec, "--target", "vllm", "--force")
    assert result.exit_code == 0
    assert "# my tweak" not in (out / "serve.sh").read_text()
    assert "--disable-log-stats" in (out / "serve.sh").read_text()


def test_file_deployc_did_not_write_is_not_overwritten(tmp_path, spec_file, cli):
    spec = spec_file(MINIMAL)
    out = tmp_path / "deploy" / "vllm"
    out.mkdir(parents=True)
    (out / "compose.yaml").write_text("mine\n")
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 1
    assert "error[output-unowned]" in result.stderr
    assert (out / "compose.yaml").read_text() == "mine\n"
    assert not (out / "serve.sh").exists() and not (out / "deployc-manifest.json").exists()


def test_files_it_no_longer_generates_are_removed_only_if_it_wrote_them(built, cli):
    spec, out = built
    manifest = json.loads((out / "deployc-manifest.json").read_text())
    manifest["files"]["old.sh"] = {"sha256": "0" * 64, "mode": "0755"}
    manifest["files"]["gone.txt"] = {"sha256": __import__("hashlib").sha256(b"x\n").hexdigest(), "mode": "0644"}
    from deployc.compiler.writer import manifest_digest   # as deployc itself records them (issue 25)
    manifest["digest"] = manifest_digest(manifest)
    (out / "deployc-manifest.json").write_text(json.dumps(manifest))
    (out / "old.sh").write_text("edited by someone\n")
    (out / "gone.txt").write_text("x\n")
    (out / "notes.md").write_text("not ours\n")
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 0, result.stderr
    assert not (out / "gone.txt").exists(), "a file deployc wrote and nobody edited is cleaned up"
    assert (out / "old.sh").read_text() == "edited by someone\n"
    assert "warning[output-orphan]" in result.stderr
    assert (out / "notes.md").read_text() == "not ours\n"


def test_check_tells_stale_from_hand_edited_with_a_diff(built, cli, spec_file):
    spec, out = built
    assert cli("check", spec).exit_code == 0
    spec_file(MINIMAL.replace("source: Qwen/Qwen2.5-0.5B-Instruct", "source: Qwen/Qwen2.5-1.5B-Instruct"))
    result = cli("check", spec)
    assert result.exit_code == 1
    assert f"{out / 'serve.sh'}:" in result.stderr and "error[output-stale]" in result.stderr
    assert "-exec vllm serve Qwen/Qwen2.5-0.5B-Instruct" in result.stdout
    assert "+exec vllm serve Qwen/Qwen2.5-1.5B-Instruct" in result.stdout
    spec_file(MINIMAL)
    text = (out / "compose.yaml").read_text().replace("restart: unless-stopped", "restart: always")
    (out / "compose.yaml").write_text(text)
    result = cli("check", spec)
    assert result.exit_code == 1
    line = text.splitlines().index("    restart: always") + 1
    assert f"{out / 'compose.yaml'}:{line}:1: error[output-edited]" in result.stderr
    assert "-    restart: always\n+    restart: unless-stopped" in result.stdout


def test_check_without_build_and_with_missing_file(tmp_path, spec_file, cli, built):
    spec, out = built
    (out / "serve.sh").unlink()
    result = cli("check", spec)
    assert result.exit_code == 1 and "error[output-missing]" in result.stderr
    other = spec_file(MINIMAL, "other.yaml")
    result = cli("check", other, "--out", tmp_path / "nowhere")
    assert result.exit_code == 1 and "no deployc output" in result.stderr


def test_check_reports_a_lost_executable_bit(built, cli):
    spec, out = built
    os.chmod(out / "serve.sh", 0o644)
    result = cli("check", spec)
    assert result.exit_code == 1 and "error[output-mode]" in result.stderr


def test_out_folder_and_spec_dir_are_relative(tmp_path, spec_file, cli):
    spec = spec_file(MINIMAL)
    result = cli("build", spec, "--target", "vllm", "--out", tmp_path / "elsewhere" / "out")
    assert result.exit_code == 0
    script = (tmp_path / "elsewhere" / "out" / "vllm" / "serve.sh").read_text()
    assert 'cd "$(dirname "$0")"/../../..\n' in script
    assert str(tmp_path) not in script, "no absolute paths of the build machine in artifacts"


def test_unwritable_out_exits_1_with_the_path_and_the_reason(tmp_path, spec_file, cli):
    """Exit 2 is for a command used wrongly; a folder that cannot be written is exit 1 (issue 22)."""
    spec = spec_file(MINIMAL)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the output folder should go\n")
    result = cli("build", spec, "--target", "vllm", "--out", blocker)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"deployc: error: cannot write {blocker / 'vllm'}: Not a directory")
    assert "Traceback" not in result.stderr
    assert blocker.read_text() == "a file where the output folder should go\n"


def test_failure_while_staging_leaves_every_existing_file_untouched(built, cli, spec_file, monkeypatch):
    from deployc.compiler import writer

    spec, out = built
    before = snapshot_tree(out)
    spec_file(MINIMAL.replace("0.5B", "1.5B"))  # both artifacts change
    real_stage, calls = writer._stage, []

    def failing_stage(dest, content, executable):
        calls.append(dest.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(dest))
        return real_stage(dest, content, executable)

    monkeypatch.setattr(writer, "_stage", failing_stage)
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert snapshot_tree(out) == before, "no file replaced, no temp file left behind"
    monkeypatch.setattr(writer, "_stage", real_stage)
    assert cli("build", spec, "--target", "vllm").exit_code == 0
    assert "1.5B" in (out / "serve.sh").read_text()


def test_an_output_folder_that_is_a_symlink_is_refused_and_its_target_untouched(tmp_path, spec_file, cli):
    spec = spec_file(MINIMAL)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "serve.sh").write_text("precious\n")
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "vllm").symlink_to(elsewhere)
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 2
    assert result.stderr == (f"deployc: error: {tmp_path / 'deploy' / 'vllm'} is a symbolic link; deployc writes only "
                             "into real folders (pass --out to its target)\n")
    assert [p.name for p in elsewhere.iterdir()] == ["serve.sh"] and (elsewhere / "serve.sh").read_text() == "precious\n"


def test_a_symlinked_subfolder_inside_the_output_is_never_written_through(tmp_path, cli):
    """TensorRT-LLM writes model_repository/...: a link planted there must not redirect the write."""
    import shutil

    from conftest import ROOT
    sample = tmp_path / "s"
    shutil.copytree(ROOT / "samples" / "qwen2.5-14b-fp8-tp2-pp2", sample)
    out = sample / "deploy" / "tensorrt-llm"
    shutil.rmtree(out)
    out.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.mkdir()
    (out / "model_repository").symlink_to(victim)
    result = cli("build", sample / "deploy.yaml", "--target", "tensorrt-llm", "--force")
    assert result.exit_code == 1
    assert "error[output-symlink]" in result.stderr and "would land outside" in result.stderr
    assert list(victim.iterdir()) == []


def test_concurrent_builds_of_one_output_take_turns(built, cli):
    """While one build holds the folder, another waits; it then plans against what the first left."""
    import subprocess
    import sys
    import time

    from deployc.compiler import writer

    spec, out = built
    before = snapshot_tree(out)
    spec.write_text(MINIMAL.replace("name: demo", "name: renamed"))
    with writer.locked(out):
        proc = subprocess.Popen([sys.executable, "-m", "deployc.compiler", "build", str(spec), "--target", "vllm"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert proc.poll() is None, "the second build must wait for the lock"
        assert snapshot_tree(out) == before
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "changed   compose.yaml" in stdout
    assert "\n  renamed:\n" in (out / "compose.yaml").read_text()   # the service is named after the spec


def test_out_pointing_outside_the_spec_folder_keeps_relative_paths_working(tmp_path, spec_file, cli):
    spec = spec_file(MINIMAL.replace("  source: Qwen/Qwen2.5-0.5B-Instruct\n", "  source: ./model\n"))
    (spec.parent / "model").mkdir()
    far = tmp_path.parent / f"{tmp_path.name}-far"
    result = cli("build", spec, "--target", "vllm", "--out", far)
    assert result.exit_code == 0, result.stderr
    script = (far / "vllm" / "serve.sh").read_text()
    rel = os.path.relpath(spec.parent, far / "vllm")
    assert f'cd "$(dirname "$0")"/{rel}\n' in script
