"""The command line as the contract describes it: outputs, --json shape, exit codes 0/1/2."""

from __future__ import annotations

import json

from conftest import MINIMAL, ROOT, spec_text


def test_build_json_prints_the_contract_object_and_writes_nothing(tmp_path, specs, cli):
    spec = specs.write()
    result = cli("build", spec, "--target", "vllm", "--json")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert list(out) == ["target", "version", "artifacts", "command", "derived", "diagnostics"]
    assert out["target"] == "vllm" and out["version"] == "0.34.0"
    assert [(a["path"], a["mode"]) for a in out["artifacts"]] == [("serve.sh", "0755"), ("compose.yaml", "0644")]
    assert out["command"][:3] == ["vllm", "serve", "Qwen/Qwen2.5-0.5B-Instruct"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deploy.yaml"]


def test_build_json_with_errors_has_diagnostics_and_exit_1(spec_file, cli):
    spec = spec_file(spec_text(name="Demo"))
    result = cli("build", spec, "--target", "vllm", "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["artifacts"] == [] and out["command"] is None
    assert out["diagnostics"] == [{
        "severity": "error", "code": "spec-value", "message": "'Demo' is not a valid name",
        "hint": "Name of this deployment: a DNS label (lower-case letters, digits and '-', at most 63).",
        "file": str(spec), "line": 2, "column": 7}]


def test_usage_errors_exit_2(tmp_path, specs, cli):
    spec = specs.write()
    r = cli("build", spec, "--target", "vlm")
    assert r.exit_code == 2 and "unknown target 'vlm' (did you mean vllm?)" in r.stderr
    r = cli("build", tmp_path / "missing.yaml", "--target", "vllm")
    assert r.exit_code == 2 and "missing.yaml: no such file" in r.stderr
    r = cli("build", spec, "--target", "all", "--json")
    assert r.exit_code == 2 and "--json prints one target" in r.stderr
    r = cli("validate", cwd=tmp_path / "..")
    assert r.exit_code == 2 and "deploy.yaml: no such file (SPEC defaults to ./deploy.yaml" in r.stderr
    r = cli("build", spec, "--bogus")
    assert r.exit_code == 2


def test_spec_defaults_to_deploy_yaml_in_the_current_folder(tmp_path, specs, cli):
    specs.write()
    r = cli("build", "--target", "all", cwd=tmp_path)
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "deploy" / "vllm" / "serve.sh").is_file()
    assert cli("check", cwd=tmp_path).exit_code == 0
    assert cli("validate", cwd=tmp_path).stdout == "deploy.yaml: ok (vllm)\n"


def test_build_all_with_no_targets_listed_is_an_error(spec_file, cli):
    spec = spec_file(MINIMAL.replace("targets:\n  vllm: {}\n", ""))   # a spec with no targets: key
    r = cli("build", spec, "--target", "all")
    assert r.exit_code == 1 and "error[targets-empty]: the spec lists no targets" in r.stderr


def test_validate_many_files_and_json_format(spec_file, cli):
    good = spec_file(spec_text(sections="server:\n  host: 127.0.0.1\n"), "good.yaml")
    bad = spec_file(spec_text(sections="server:\n  prot: 1\n"), "bad.yaml")
    r = cli("validate", good, bad)
    assert r.exit_code == 1
    assert r.stdout == f"{good}: ok (vllm)\n"
    assert r.stderr == (f"{bad}:6:3: error[spec-unknown-key]: unknown key 'prot' in server\n"
                        "  hint: did you mean port?\n")
    r = cli("validate", good, bad, "--format", "json")
    assert r.exit_code == 1
    diags = json.loads(r.stdout)["diagnostics"]
    assert [(d["file"], d["line"], d["column"], d["code"]) for d in diags] == [(str(bad), 6, 3, "spec-unknown-key")]


def test_an_open_server_without_a_key_is_a_warning_that_says_how_to_set_one(spec_file, cli):
    r = cli("validate", spec_file(spec_text(sections="server:\n  port: 8080\n")))
    assert r.exit_code == 0
    assert r.stderr.split(": ", 1)[1] == (
        "warning[server-open]: the server listens on every interface (0.0.0.0) and needs no API key\n"
        "  hint: set server.api_key_env to the NAME of a variable holding a key (clients send it as "
        "`Authorization: Bearer ...`), or bind host: 127.0.0.1 behind a proxy that authenticates\n")
    assert r.stderr.split(": ", 1)[0].endswith("deploy.yaml:5:1")   # at server:, host not written
    quiet = "server:\n  host: 0.0.0.0\n  api_key_env: KEY\n"
    assert cli("validate", spec_file(spec_text(sections=quiet))).stderr == ""


def test_warnings_do_not_fail(spec_file, cli):
    spec = spec_file(spec_text(sections="hardware:\n  count: 2\n"))
    r = cli("validate", spec)
    assert r.exit_code == 0
    assert "warning[hardware-count-unused]: 2 GPUs are listed but the parallelism uses 1" in r.stderr


def test_schema_command_prints_the_committed_schema(cli):
    r = cli("schema")
    assert r.exit_code == 0
    assert r.stdout == (ROOT / "schemas" / "deploy.schema.json").read_text(encoding="utf-8"), \
        "schemas/deploy.schema.json is stale: run `deployc schema > schemas/deploy.schema.json`"


def test_targets_lists_versions(cli):
    r = cli("targets", "--json")
    assert r.exit_code == 0
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["vllm"]["versions"][0] == rows["vllm"]["default"]
    assert "lora" in rows["vllm"]["capabilities"][rows["vllm"]["default"]]
    assert any(line.startswith("vllm ") for line in cli("targets").stdout.splitlines())  # sorted by name


def test_gpus_lists_the_catalog(cli):
    r = cli("gpus")
    assert r.exit_code == 0 and "T4" in r.stdout and "7.5" in r.stdout


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "deployc.compiler", "targets"], capture_output=True, text=True, check=False)
    assert r.returncode == 0 and any(line.startswith("vllm ") for line in r.stdout.splitlines())


# --- the rough edges of a first run (issue 22) ------------------------------------------------------------

def _deployc(*args: str, env: dict | None = None):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "deployc.compiler", *args], capture_output=True, text=True,
                          check=False, env={**os.environ, **(env or {})})


def test_version_prints_the_installed_version(cli):
    from importlib.metadata import version

    r = cli("--version")
    assert (r.exit_code, r.stdout) == (0, f"deployc {version('deployc')}\n")


def test_shell_completion_is_typers_and_completes_target_names():
    # typer reads the shell from the process tree unless detection is off; then --show-completion takes it
    # as a value (typer/completion.py show_callback), so the test does not depend on what runs it
    shown = _deployc("--show-completion", "bash", env={"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert shown.returncode == 0 and "_DEPLOYC_COMPLETE=complete_bash" in shown.stdout
    done = _deployc(env={"_DEPLOYC_COMPLETE": "complete_bash", "COMP_WORDS": "deployc build --target v",
                         "COMP_CWORD": "3"})
    assert done.stdout.split() == ["vllm"]


def test_help_shows_value_types_a_reader_understands(cli):
    from deployc.compiler.cli import app
    import typer.main

    commands = typer.main.get_command(app).commands   # type: ignore[attr-defined]
    for name in [None, *commands]:
        text = cli(*([name] if name else []), "--help").stdout
        assert "<bool>" not in text and "<list[" not in text, name
    assert "specs...      <path>" in cli("validate", "--help").stdout


def test_validate_a_folder_checks_the_specs_check_would_find(cli, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "deploy.yaml").write_text(spec_text(sections="server:\n  host: 127.0.0.1\n"))
    (tmp_path / "b" / "chat.deploy.yaml").write_text(spec_text(sections="server:\n  host: 127.0.0.1\n"))
    r = cli("validate", tmp_path)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == [f"{tmp_path}/{p}: ok (vllm)"
                                     for p in ("a/deploy.yaml", "b/chat.deploy.yaml", "b/deploy.yaml")]
    (tmp_path / "empty").mkdir()
    r = cli("validate", tmp_path / "empty")
    assert (r.exit_code, r.stderr) == (2, f"deployc: error: no deploy.yaml or NAME.deploy.yaml under "
                                          f"{tmp_path / 'empty'}\n")
    r = cli("build", tmp_path / "a", "--target", "vllm")
    assert (r.exit_code, r.stderr) == (2, f"deployc: error: {tmp_path / 'a'} is a folder; name the deploy.yaml "
                                          "in it\n")


def test_a_spec_without_targets_gets_the_same_answer_from_validate_build_and_check(cli, spec_file):
    for text in (MINIMAL.replace("targets:\n  vllm: {}\n", ""),          # no targets: key
                 MINIMAL.replace("  vllm: {}\n", "  # vllm: {}\n")):       # targets: with every entry commented
        spec = spec_file(text)
        for command in (("validate", spec), ("build", spec, "--target", "all"), ("check", spec)):
            r = cli(*command)
            assert r.exit_code == 1 and "error[targets-empty]: the spec lists no targets" in r.stderr, command
        assert cli("build", spec, "--target", "vllm").exit_code == 0   # a named target still builds


def test_build_all_writes_every_target_it_can_and_lists_the_ones_that_failed(cli, spec_file, tmp_path):
    spec = spec_file(spec_text(sections="server:\n  host: 127.0.0.1\n", options="{}\n  sglang: {version: '9.9'}\n"
                                                                                "  tgi: {}"))
    r = cli("build", spec, "--target", "all")
    assert r.exit_code == 1
    assert (tmp_path / "deploy/vllm/serve.sh").is_file() and (tmp_path / "deploy/tgi/run.sh").is_file()
    assert not (tmp_path / "deploy/sglang").exists()
    assert "error[target-version]: SGLang 9.9 is not supported" in r.stderr
    assert r.stderr.endswith("deployc: error: 1 of 3 targets failed, nothing written for them: sglang (1 error)\n")
    assert r.stdout.splitlines()[0] == "vllm 0.34.0: deploy/vllm/ (2 written, 0 unchanged)".replace(
        "deploy/", f"{tmp_path}/deploy/")
    bad_spec = spec_file(spec_text(name="Bad", options="{}\n  sglang: {}"), "bad.yaml")
    assert cli("build", bad_spec, "--target", "all").exit_code == 1   # the spec's own error: nothing written
    assert not (tmp_path / "deploy/bad").exists()


def test_plan_kv_line_adds_up_to_its_gib_for_sliding_window_models(cli, spec_file):
    """gpt-oss-120b at tensor 8 printed "13733308 tokens x 9216 B" for a 58.99 GiB pool: half its layers keep
    only a 128-token window per sequence, so tokens x all-layer bytes was twice the pool."""
    import re

    for source, tensor in (("openai/gpt-oss-120b", 8), ("google/gemma-3-27b-it", 2), ("Qwen/Qwen2.5-7B-Instruct", 1)):
        path = spec_file(spec_text(sections=f"parallelism:\n  tensor: {tensor}\n", source=source))
        line = next(x for x in cli("plan", path).stdout.splitlines() if x.strip().startswith("KV cache"))
        gib = float(re.search(r"([\d.]+) GiB =", line)[1])
        terms = [(int(n), int(b)) for n, b in re.findall(r"(\d+) (?:window )?tokens x (\d+) B", line)]
        assert terms and abs(sum(n * b for n, b in terms) / 2**30 - gib) < 0.01, line
