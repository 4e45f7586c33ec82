"""The committed-output workflow: pre-commit hooks, `deployc init`, monorepo `check`, the editor schema."""

from __future__ import annotations

import json
import re
import subprocess

import jsonschema
import pytest
from ruamel.yaml import YAML

from deployc.compiler.discover import is_spec_name
from conftest import INVALID, ROOT, SAMPLES, spec_text

SCHEMA = json.loads((ROOT / "schemas/deploy.schema.json").read_text())
HOOKS = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())


def load_yaml(path):
    return YAML(typ="safe").load(path.read_text())


# --- hooks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, matches", [
    ("deploy.yaml", True), ("deploy.yml", True), ("svc/deploy.yaml", True), ("svc/chat.deploy.yaml", True),
    ("mydeploy.yaml", False), ("deploy.yaml.bak", False), ("deploy.json", False), (".deploy.yaml", False),
])
def test_hooks_match_the_spec_names_deployc_discovers(path, matches):
    ids = {h["id"]: h for h in HOOKS}
    assert set(ids) == {"deployc-validate", "deployc-check"}
    assert bool(re.search(ids["deployc-validate"]["files"], path)) is matches
    assert is_spec_name(path.rsplit("/", 1)[-1]) is matches
    check = ids["deployc-check"]
    assert check["pass_filenames"] is False and check["entry"] == "deployc check"
    assert bool(re.search(check["files"], path)) is matches
    assert re.search(check["files"], "svc/deploy/vllm/serve.sh")  # a hand edit of an output re-checks


# --- deployc init ----------------------------------------------------------------------------------

def test_init_writes_a_commented_spec_that_validates_and_never_overwrites(cli, tmp_path):
    result = cli("init", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "L40S", "--target", "vllm",
                 cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "deploy.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=./deploy.schema.json\n")
    assert "  source: meta-llama/Llama-3.1-8B-Instruct" in text and "  gpu: L40S" in text
    assert json.loads((tmp_path / "deploy.schema.json").read_text()) == SCHEMA
    assert cli("validate", cwd=tmp_path).exit_code == 0
    jsonschema.validate(load_yaml(tmp_path / "deploy.yaml"), SCHEMA)
    assert "targets:  " in text and "\n  vllm: {}\n" in text
    bare = cli("init", tmp_path / "other" / "deploy.yaml")
    assert bare.exit_code == 0 and "\n  # vllm: {}\n" in (tmp_path / "other" / "deploy.yaml").read_text()
    assert "error[targets-empty]" in cli("validate", tmp_path / "other" / "deploy.yaml").stderr
    again = cli("init", cwd=tmp_path)
    assert (again.exit_code, again.stderr) == (2, "deployc: error: deploy.yaml exists; pass --force to overwrite it\n")


def test_init_sizes_tensor_from_the_plan_keeps_every_target_and_says_where_the_facts_come_from(cli, tmp_path):
    """Before: DeepSeek-V3 on H200 got tensor: 1, only the last --target was kept, and init never said
    whether it knew the model."""
    r = cli("init", "--model", "deepseek-ai/DeepSeek-V3", "--gpu", "h200", "--target", "vllm", "--target",
            "sglang", cwd=tmp_path)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[1:3] == [
        "  model facts: catalog (deepseek-ai/DeepSeek-V3)",
        "  tensor 8: the smallest whose memory plan fits vllm, sglang on H200 (`deployc plan` shows it)"]
    data = load_yaml(tmp_path / "deploy.yaml")
    assert (data["parallelism"]["tensor"], data["hardware"]["gpu"], list(data["targets"])) == (
        8, "H200", ["vllm", "sglang"])
    assert cli("validate", cwd=tmp_path).stdout == "deploy.yaml: ok (vllm, sglang)\n"
    r = cli("init", tmp_path / "small.deploy.yaml", "--model", "microsoft/Phi-3-mini-4k-instruct", "--gpu", "L4",
            "--target", "vllm")
    data = load_yaml(tmp_path / "small.deploy.yaml")
    assert (data["parallelism"]["tensor"], data["limits"]["max_model_len"]) == (1, 4096)   # its own context


def test_init_checks_the_gpu_and_says_when_it_does_not_know_the_model(cli, tmp_path):
    r = cli("init", "--gpu", "A10x", cwd=tmp_path)
    assert r.exit_code == 2 and r.stderr.startswith("deployc: error: unknown GPU 'A10x' (did you mean A10, A10G")
    assert not (tmp_path / "deploy.yaml").exists()
    assert "(did you mean H100-80GB" in cli("init", "--gpu", "H10", cwd=tmp_path).stderr   # aliases count too
    r = cli("init", "--model", "Qwen/Qwen2.5-7B-Instruc", cwd=tmp_path)
    assert r.exit_code == 0
    assert r.stdout.splitlines()[1] == (
        "  model facts: unknown: Qwen/Qwen2.5-7B-Instruc is not in deployc's catalog (did you mean "
        "Qwen/Qwen2.5-7B-Instruct, Qwen/Qwen2.5-72B-Instruct, Qwen/Qwen2.5-3B-Instruct?); `deployc facts "
        "Qwen/Qwen2.5-7B-Instruc` locks its config.json beside the spec")
    assert cli("init", "--target", "vlm", "--force", cwd=tmp_path).exit_code == 2


def test_every_commented_target_of_the_starter_is_valid_yaml_when_uncommented(cli, tmp_path):
    """Before: the starter wrote `targets: {}` above the commented targets, so uncommenting one was a YAML
    error. Each target uncommented alone (as an editor's toggle-comment does) validates, or gets only that
    target's own refusal of the model (Ollama and XInference of a plain hub id: issue 22's later half)."""
    from deployc.compiler.registry import Registry

    assert cli("init", cwd=tmp_path).exit_code == 0
    text = (tmp_path / "deploy.yaml").read_text()
    for name in Registry.discover().names:
        commented = re.compile(rf"^[ \t]*#[ \t]*{re.escape(name)}: {{}}$", re.M)
        assert len(commented.findall(text)) == 1, name
        spec = tmp_path / f"{name}.deploy.yaml"
        spec.write_text(commented.sub(f"  {name}: {{}}", text))
        jsonschema.validate(load_yaml(spec), SCHEMA)
        r = cli("validate", spec, "--format", "json")
        errors = [d["code"] for d in json.loads(r.stdout)["diagnostics"] if d["severity"] == "error"]
        assert all(code.startswith(name + "-") for code in errors), (name, errors)
        if name in ("vllm", "sglang", "tgi", "tensorrt-llm"):
            assert r.exit_code == 0, (name, errors)


# --- deployc check across a repository -------------------------------------------------------------------

def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


LOCAL = "server:\n  host: 127.0.0.1\n"   # bound to localhost: no open-server warning among the lines asserted


def test_check_without_arguments_finds_every_spec_and_respects_gitignore(cli, tmp_path):
    for folder in ("chat", "batch"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "deploy.yaml").write_text(spec_text(sections=LOCAL))
    (tmp_path / "batch" / "nightly.deploy.yaml").write_text(spec_text(sections=LOCAL, name="nightly"))
    (tmp_path / "scratch").mkdir()
    (tmp_path / "scratch" / "deploy.yaml").write_text("not: [valid")
    (tmp_path / ".gitignore").write_text("scratch/\n")
    _git(tmp_path, "init", "-q")
    for spec in ("chat/deploy.yaml", "batch/deploy.yaml", "batch/nightly.deploy.yaml"):
        assert cli("build", spec, "--target", "vllm", cwd=tmp_path).exit_code == 0
    assert (tmp_path / "batch/deploy/nightly/vllm/serve.sh").is_file()   # NAME.deploy.yaml -> deploy/NAME/
    result = cli("check", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "batch/deploy.yaml: outputs up to date (vllm)", "batch/nightly.deploy.yaml: outputs up to date (vllm)",
        "chat/deploy.yaml: outputs up to date (vllm)"]
    (tmp_path / "chat/deploy.yaml").write_text(spec_text(sections=LOCAL, name="renamed"))
    out = cli("check", "--format", "json", cwd=tmp_path)
    assert out.exit_code == 1
    data = json.loads(out.stdout)
    assert [s["ok"] for s in data["specs"]] == [True, True, False]
    drift = data["drift"][0]
    assert (drift["code"], drift["regenerate"]) == ("output-stale", "deployc build chat/deploy.yaml --target vllm")
    assert drift["diff"].startswith("--- chat/deploy/vllm/compose.yaml (committed)")
    gh = cli("check", "--format", "github", cwd=tmp_path).stdout.splitlines()
    assert gh[0].startswith("::error file=chat/deploy/vllm/compose.yaml,line=")
    assert "title=deployc output-stale::" in gh[0] and "%0Arun `deployc build chat/deploy.yaml --target vllm`" in gh[0]


def test_check_in_a_folder_without_specs_is_a_usage_error(cli, tmp_path):
    result = cli("check", cwd=tmp_path)
    assert (result.exit_code, result.stderr) == (2, "deployc: error: no deploy.yaml or NAME.deploy.yaml under the "
                                                    "current folder\n")


def test_build_says_what_it_wrote_changed_and_left_alone(cli, specs):
    spec = specs.write()
    first = cli("build", spec, "--target", "vllm").stdout.splitlines()
    assert first[1:] == ["  new       serve.sh", "  new       compose.yaml"]
    spec.write_text(spec_text(name="other"))
    second = cli("build", spec, "--target", "vllm").stdout.splitlines()
    assert second[1:] == ["  changed   serve.sh", "  changed   compose.yaml"]
    third = cli("build", spec, "--target", "vllm").stdout.splitlines()
    assert third[1:] == ["  unchanged serve.sh", "  unchanged compose.yaml"]


# --- the schema an editor uses ---------------------------------------------------------------------

@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_every_sample_is_valid_against_the_committed_schema(sample):
    jsonschema.validate(load_yaml(sample / "deploy.yaml"), SCHEMA)


def test_schema_fields_carry_descriptions_for_completion():
    def walk(node, where):
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                assert "description" in prop or "$ref" in prop or "allOf" in prop, f"{where}.{name}"
            for k, v in node.items():
                walk(v, f"{where}.{k}")
    walk(SCHEMA, "schema")


# Invalid samples whose fault the schema can express (types, enums, ranges, patterns, unknown keys);
# semantic ones (heads, context, GPU support) need deployc itself.
SCHEMA_EXPRESSIBLE = {"bad-values", "empty", "not-a-mapping", "unknown-key", "unknown-target"}


@pytest.mark.parametrize("spec", [p for p in INVALID if p.stem in SCHEMA_EXPRESSIBLE], ids=lambda p: p.stem)
def test_schema_rejects_what_deployc_rejects_where_it_can_say(spec, cli):
    assert cli("validate", spec).exit_code == 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(load_yaml(spec), SCHEMA)


def test_schema_and_deployc_agree_on_each_fault_of_a_spec_with_many(cli):
    spec = ROOT / "samples/invalid/bad-values.yaml"
    schema_keys = {str(e.absolute_path[-1]) for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(load_yaml(spec))}
    lines = [ln for ln in cli("validate", spec).stderr.splitlines() if ": error[" in ln]
    assert schema_keys == {"apiVersion", "name", "port", "api_key_env", "memory_utilization"}
    assert all(any(key in ln for ln in lines) for key in schema_keys)
    # What only deployc can judge: a model reference's shape and a GPU name (aliases, any case).
    assert len(lines) == len(schema_keys) + 2
    assert any("]: source: 'not a model'" in ln for ln in lines) and any("]: gpu: unknown GPU" in ln for ln in lines)
