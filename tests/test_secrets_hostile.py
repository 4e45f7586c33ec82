"""Issue 25, part 6: secrets anywhere in a spec (values of every field, keys, env names, args) are
refused at their place and never echoed by any diagnostic; credential env values must be ${NAME}."""

from __future__ import annotations

import json

import pytest

from deployc.compiler.diagnostics import error, mask_secrets
from conftest import spec_text

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
AWS = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HF = "hf_abcdefghijklmnopqrstuvwxyz0123"
SK = "sk-abcdefghijklmnopqrstuvwxyz0123"


def run(cli, spec_file, text: str):
    spec = spec_file(text)
    result = cli("validate", spec)
    as_json = cli("validate", spec, "--format", "json")
    return result, as_json


@pytest.mark.parametrize("where, text, secret", [
    ("model.served_name", spec_text(model=f"  served_name: {JWT}\n"), JWT),
    ("targets.vllm.env.AWS_SECRET_ACCESS_KEY", spec_text(options=f"{{env: {{AWS_SECRET_ACCESS_KEY: {AWS}}}}}"), AWS),
    ("targets.vllm.env.X", spec_text(options=f"{{env: {{X: {AWS}}}}}"), AWS),
    ("targets.vllm.args[1]", spec_text(options=f"{{args: [--api-key, {AWS}]}}"), AWS),
    ("targets.vllm.env.HF_TOKEN", spec_text(options="{env: {HF_TOKEN: notreallyatoken}}"), "notreallyatoken"),
    ("targets.vllm.env.DB", spec_text(options="{env: {DB: 'postgres://app:Pa55w0rdX@db:5432/x'}}"), "Pa55w0rdX"),
    ("targets.vllm.env", spec_text(options=f"{{env: {{{HF}: x}}}}"), HF),
    ("kubernetes.node_selector", spec_text(sections=f"kubernetes:\n  node_selector: {{{SK}: x}}\n"), SK),
])
def test_secrets_anywhere_are_refused_at_their_place_and_never_echoed(cli, spec_file, where, text, secret):
    result, as_json = run(cli, spec_file, text)
    assert result.exit_code == 1
    assert "error[secret-in-spec]" in result.stderr and where in result.stderr, result.stderr
    assert secret not in result.stderr and secret not in as_json.stdout


@pytest.mark.parametrize("text", [
    spec_text(options="{env: {HF_TOKEN: '${HF_TOKEN}', DB: 'postgres://app:${DB_PASSWORD}@db/x'}}"),
    spec_text(options="{env: {MY_TOKEN_LIMIT: '4096', API_KEY_ENV_NAME: '${KEY}'}}"),
])
def test_references_are_fine(cli, spec_file, text):
    result, _ = run(cli, spec_file, text)
    assert "secret-in-spec" not in result.stderr, result.stderr


@pytest.mark.parametrize("text, secret", [
    (spec_text(source=f"./{HF}"), HF),                                    # path-missing echoes the path
    (spec_text().replace("targets:\n  vllm: {}", f"targets:\n  {HF}: {{}}"), HF),   # target-unknown
    (spec_text() + f"{SK}: 1\n", SK),                                     # spec-unknown-key
    (spec_text(options=f"{{bogus_{HF}: 1}}"), HF),                        # target-unknown-key
])
def test_no_diagnostic_echoes_a_secret(cli, spec_file, text, secret):
    result, as_json = run(cli, spec_file, text)
    assert result.exit_code == 1
    assert secret not in result.stderr, result.stderr
    assert secret not in as_json.stdout
    assert all(secret not in json.dumps(d) for d in json.loads(as_json.stdout)["diagnostics"])


def test_mask_secrets_keeps_the_prefix_only():
    assert mask_secrets(f"a {HF} b {JWT}") == "a hf_*** b eyJ***"
    d = error("x", f"unknown {SK}", hint=f"did you mean {SK}?").at(f"{HF}.yaml", 1, 1)
    assert SK not in d.render() and HF not in d.render() and SK not in json.dumps(d.to_json())


@pytest.mark.parametrize("target, file, options", [
    ("sglang", "serve.sh", "{}"),
    ("xinference", "launch.sh", "{version: '4.1.0', model_family: qwen2.5-instruct, size_in_billions: 7}"),
])
def test_a_key_only_the_command_line_takes_is_said_to_show_in_the_process_list(cli, spec_file, target, file, options):
    spec = spec_file(spec_text(target, "server:\n  api_key_env: MY_KEY\n", options))
    result = cli("build", spec, "--target", target)
    assert result.exit_code == 0, result.stderr
    text = (spec.parent / "deploy" / target / file).read_text()
    assert "can read $MY_KEY in the process list" in text


SECRETS = [HF, SK, JWT, AWS, "postgres://app:Pa55w0rdX@db:5432/x", "ghp_" + "a1B2" * 9, "AKIAABCDEFGHIJKLMNOP"]


PATH_FIELDS = {"model.source", "model.tokenizer", "model.adapters.source", "model.gguf"}


def test_a_secret_in_any_field_is_refused_never_printed_and_never_written(tmp_path, cli):
    """Every secret shape in every string field the injection tests know (and as a key): exit 1,
    the secret in no output and no file written."""
    from test_hostile import FIELDS, base_spec, dump

    tried = 0
    for field in FIELDS:
        for secret in SECRETS:
            if secret == AWS and field in PATH_FIELDS:
                continue   # "./" + 40 characters with '/' in them is a path as much as a key
            folder = tmp_path / f"{tried}"
            folder.mkdir()
            spec = base_spec()
            FIELDS[field](spec, secret)
            path = folder / "deploy.yaml"
            path.write_text(dump(spec), encoding="utf-8")
            for args in (["build", path, "--target", "vllm"], ["validate", path, "--format", "json"]):
                result = cli(*args)
                assert result.exit_code == 1, (field, secret, result.stderr)
                shown = result.stdout + result.stderr
                assert secret not in shown and secret.split("@")[0] not in shown, (field, secret)
            assert not (folder / "deploy").exists(), (field, secret)
            tried += 1
    assert tried == len(FIELDS) * len(SECRETS) - len(PATH_FIELDS)
