"""Issue 25, part 1: YAML constructs and local files that used to end in a traceback are positioned
diagnostics; one bad spec does not stop `check` over the others."""

from __future__ import annotations

import pytest

from deployc.compiler.source import loads
from conftest import MINIMAL

BASE = MINIMAL.encode()


@pytest.mark.parametrize("raw, expected", [
    (BASE + b"x: !!bool maybe\n", ("yaml-tag", 7, 4)),
    (BASE + b"x: !<tag:yaml.org,2002:bool> maybe\n", ("yaml-tag", 7, 4)),
    (BASE + b"x: !!int 0x\n", ("yaml-tag", 7, 4)),
    (BASE + b"...\n%YAML 1.3\n---\na: 1\n", ("yaml-directive", 8, 1)),
    (BASE + b"...\n%YAML 9.9\n---\na: 1\n", ("yaml-directive", 8, 1)),
    (b"%YAML 1.3\n---\n" + BASE, ("yaml-directive", 1, 1)),
    (BASE + b"b: &b\n  c: 1\n  <<: *b\n", ("yaml-merge", 9, 3)),
    (BASE + b"b: &b\n  c: 1\n  <<: [*b]\n", ("yaml-merge", 9, 3)),
    (BASE + b"a: &a {<<: *a}\n", ("yaml-merge", 7, 8)),
    # a bad tag in one document, a syntax error in the next: the syntax error (the file is not YAML)
    (BASE + b"x: !!int abc\n---\na: [1, 2\n", ("yaml-syntax", 9, 4)),
    (BASE + b"x: !!bool maybe\n---\na: [1, 2\n", ("yaml-syntax", 9, 4)),
])
@pytest.mark.parametrize("fast", [True, False])
def test_yaml_constructs_that_crashed_the_loader_are_positioned_diagnostics(raw, expected, fast):
    src = loads(raw, "d.yaml", fast=fast)
    assert src.data is None
    assert [(d.code, d.line, d.column) for d in src.diagnostics] == [expected], src.diagnostics
    assert all(d.file == "d.yaml" for d in src.diagnostics)


def test_an_unexpected_loader_failure_is_a_diagnostic_not_a_traceback(monkeypatch):
    """The generic guard: whatever ruamel raises becomes yaml-invalid at file:line:col."""
    from ruamel.yaml import YAML

    def boom(self, text):
        raise ZeroDivisionError("surprise")
        yield  # pragma: no cover

    monkeypatch.setattr(YAML, "load_all", boom)
    src = loads(BASE + b"x: &a 1\n", "d.yaml")
    assert [(d.code, d.file, d.line, d.column) for d in src.diagnostics] == [("yaml-invalid", "d.yaml", 1, 1)]
    assert "ZeroDivisionError" in src.diagnostics[0].message


def spec_with(tmp_path, body: str, name: str = "deploy.yaml"):
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize("source", ["./" + "a" * 300, "./" + "a/" * 3000])
def test_a_local_path_longer_than_the_file_system_allows_is_a_warning(tmp_path, cli, source):
    spec = spec_with(tmp_path, MINIMAL.replace("Qwen/Qwen2.5-0.5B-Instruct", source))
    result = cli("validate", spec)
    assert result.exit_code == 0, result.stderr
    assert f"{spec}:4:11: warning[path-unreadable]:" in result.stderr
    assert "Traceback" not in result.stderr


def test_adapters_tokenizer_and_gguf_paths_too_long_are_warnings(tmp_path, cli):
    long = "./" + "b" * 300
    spec = spec_with(tmp_path, MINIMAL.replace(
        "  source: Qwen/Qwen2.5-0.5B-Instruct\n",
        f"  source: Qwen/Qwen2.5-0.5B-Instruct\n  tokenizer: {long}\n  chat_template: {long}\n"
        f"  adapters:\n    - name: a1\n      source: {long}\n"))
    result = cli("validate", spec)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("warning[path-unreadable]") == 3


DEEP = "[" * 100_000 + "]" * 100_000


def test_a_deeply_nested_manifest_is_not_deployc_output_in_build_and_check(tmp_path, cli):
    spec = spec_with(tmp_path, MINIMAL)
    assert cli("build", spec, "--target", "vllm").exit_code == 0
    manifest = tmp_path / "deploy" / "vllm" / "deployc-manifest.json"
    manifest.write_text(DEEP)
    checked = cli("check", spec)
    assert checked.exit_code == 1
    assert "error[output-missing]: no deployc output in" in checked.stderr
    built = cli("build", spec, "--target", "vllm")   # the files are what it generates: it owns them again
    assert built.exit_code == 0, built.stderr
    assert manifest.read_text().startswith('{\n  "generator": "deployc"')


@pytest.mark.parametrize("name", ["config.json", "adapter_config.json", "deployc.lock.json"])
def test_deeply_nested_json_beside_the_spec_is_no_traceback(tmp_path, cli, name):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / name).write_text(DEEP)
    if name == "deployc.lock.json":
        (tmp_path / name).write_text(DEEP)
    spec = spec_with(tmp_path, MINIMAL.replace(
        "  source: Qwen/Qwen2.5-0.5B-Instruct\n",
        "  source: ./m\n  adapters:\n    - name: a1\n      source: ./m\n"))
    result = cli("validate", spec)
    assert result.exit_code in (0, 1)
    assert "Traceback" not in result.stderr


def test_one_bad_spec_does_not_abort_check_for_the_repository(tmp_path, cli):
    good = tmp_path / "good"
    bad = tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    spec_with(good, MINIMAL)
    spec_with(bad, MINIMAL + "x: !!bool maybe\n")
    assert cli("build", good / "deploy.yaml", "--target", "vllm").exit_code == 0
    result = cli("check", "--format", "github", cwd=tmp_path)
    assert result.exit_code == 1
    assert "::error file=bad/deploy.yaml,line=7,col=4,title=deployc yaml-tag::" in result.stdout
    assert "good/deploy.yaml" not in result.stdout.replace("file=good/deploy.yaml", "")


def test_an_unexpected_failure_in_one_spec_is_a_diagnostic_and_the_others_are_checked(tmp_path, cli, monkeypatch):
    """The driver's guard: a bug on one spec is an internal-error diagnostic at that spec, exit 1."""
    from deployc.compiler import driver

    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    spec_with(good, MINIMAL)
    spec_with(bad, MINIMAL.replace("name: demo", "name: boom"))
    assert cli("build", good / "deploy.yaml", "--target", "vllm").exit_code == 0
    real = driver.compile_source

    def flaky(src, spec_dir, hf_cache=False):
        if src.data and src.data.get("name") == "boom":
            raise KeyError("bug")
        return real(src, spec_dir, hf_cache)

    monkeypatch.setattr(driver, "compile_source", flaky)
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 1
    assert "bad/deploy.yaml:1:1: error[internal-error]: deployc failed on this spec: KeyError: 'bug'" in result.stderr
    assert "good/deploy.yaml: outputs up to date (vllm)" in result.stdout
