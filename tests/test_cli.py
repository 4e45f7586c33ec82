"""The command line as the contract describes it: outputs, --json shape, exit codes 0/1/2."""

from __future__ import annotations

import json

from conftest import MINIMAL, ROOT


def test_build_json_prints_the_contract_object_and_writes_nothing(tmp_path, spec_file, cli):
    spec = spec_file(MINIMAL)
    result = cli("build", spec, "--target", "vllm", "--json")
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert list(out) == ["target", "version", "artifacts", "command", "diagnostics"]
    assert out["target"] == "vllm" and out["version"] == "0.33.0"
    assert [(a["path"], a["mode"]) for a in out["artifacts"]] == [("serve.sh", "0755"), ("compose.yaml", "0644")]
    assert out["command"][:3] == ["vllm", "serve", "Qwen/Qwen2.5-0.5B-Instruct"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deploy.yaml"]


def test_build_json_with_errors_has_diagnostics_and_exit_1(spec_file, cli):
    spec = spec_file(MINIMAL.replace("name: demo", "name: Demo"))
    result = cli("build", spec, "--target", "vllm", "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["artifacts"] == [] and out["command"] is None
    assert out["diagnostics"] == [{
        "severity": "error", "code": "spec-value", "message": "'Demo' is not a valid name",
        "hint": "Name of this deployment: a DNS label (lower-case letters, digits and '-', at most 63).",
        "file": str(spec), "line": 2, "column": 7}]


def test_usage_errors_exit_2(tmp_path, spec_file, cli):
    spec = spec_file(MINIMAL)
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


def test_spec_defaults_to_deploy_yaml_in_the_current_folder(tmp_path, spec_file, cli):
    spec_file(MINIMAL)
    r = cli("build", "--target", "all", cwd=tmp_path)
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "deploy" / "vllm" / "serve.sh").is_file()
    assert cli("check", cwd=tmp_path).exit_code == 0
    assert cli("validate", cwd=tmp_path).stdout == "deploy.yaml: ok (vllm)\n"


def test_build_all_with_no_targets_listed_is_an_error(spec_file, cli):
    spec = spec_file(MINIMAL.replace("targets:\n  vllm: {}\n", ""))
    r = cli("build", spec, "--target", "all")
    assert r.exit_code == 1 and "error[targets-empty]: the spec lists no targets" in r.stderr


def test_validate_many_files_and_json_format(spec_file, cli):
    good = spec_file(MINIMAL.replace("targets:", "server:\n  host: 127.0.0.1\ntargets:"), "good.yaml")
    bad = spec_file(MINIMAL.replace("port", "x").replace("targets:", "server:\n  prot: 1\ntargets:"), "bad.yaml")
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
    r = cli("validate", spec_file(MINIMAL.replace("targets:", "server:\n  port: 8080\ntargets:")))
    assert r.exit_code == 0
    assert r.stderr.split(": ", 1)[1] == (
        "warning[server-open]: the server listens on every interface (0.0.0.0) and needs no API key\n"
        "  hint: set server.api_key_env to the NAME of a variable holding a key (clients send it as "
        "`Authorization: Bearer ...`), or bind host: 127.0.0.1 behind a proxy that authenticates\n")
    assert r.stderr.split(": ", 1)[0].endswith("deploy.yaml:5:1")   # at server:, host not written
    quiet = "server:\n  host: 0.0.0.0\n  api_key_env: KEY\ntargets:"
    assert cli("validate", spec_file(MINIMAL.replace("targets:", quiet))).stderr == ""


def test_warnings_do_not_fail(spec_file, cli):
    spec = spec_file(MINIMAL.replace("targets:", "hardware:\n  count: 2\ntargets:"))
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

    r = subprocess.run([sys.executable, "-m", "compiler", "targets"], capture_output=True, text=True, check=False)
    assert r.returncode == 0 and any(line.startswith("vllm ") for line in r.stdout.splitlines())
