"""Hostile strings in every user field: rejected with a positioned diagnostic, or emitted inert.

For each string field that reaches an artifact, hypothesis throws quotes, $,
;, backticks, spaces, newlines and unicode at it. Either validation rejects
the value (a diagnostic with file:line:col, never a traceback), or:
  - shlex.split of serve.sh's exec line gives back exactly the `command` argv,
  - compose.yaml parses back to exactly the container argv and environment,
and, for a fixed set of nasty values, real bash runs the script and sees the
same argv and environment.
"""

from __future__ import annotations

import io
import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from deployc.compiler.driver import compile_spec as load_spec, compile_target
from deployc.compiler.registry import Registry
from deployc.compiler.render import ENV_REF
from deployc.compiler.api.target import BuildContext

REGISTRY = Registry.discover()
NASTY = ["x\"; rm -rf / #", "$(reboot)", "`id`", "a b", "it's", "tab\there", "new\nline", "caf\u00e9 \U0001F680",
         "back\\slash", "${HOME}", "$HOME", "semi;colon", "--flag", "-", "", " lead", "trail ", "*", "~root", "\u2028"]
HOSTILE = st.one_of(st.sampled_from(NASTY),
                    st.text(alphabet=st.sampled_from(list("aZ09 ./-_\"'$`;\\|&<>(){}[]*?~#!=\n\t\u00e9\u4e2d\U0001F680")),
                            min_size=0, max_size=24))


def base_spec() -> dict:
    return {"apiVersion": "deployc/v1", "name": "hostile",
            "model": {"source": "./model", "adapters": [{"name": "a1", "source": "./adapters/a1"}]},
            "targets": {"vllm": {"args": ["--disable-log-stats"], "env": {"EXTRA": "plain"}}}}


FIELDS = {
    "model.source": lambda s, v: s["model"].__setitem__("source", "./" + v),
    "model.served_name": lambda s, v: s["model"].__setitem__("served_name", v),
    "model.revision": lambda s, v: s["model"].update(source="org/model", revision=v),
    "model.tokenizer": lambda s, v: s["model"].__setitem__("tokenizer", "./" + v),
    "model.chat_template": lambda s, v: s["model"].__setitem__("chat_template", v),
    "model.adapters.name": lambda s, v: s["model"]["adapters"][0].__setitem__("name", v),
    "model.adapters.source": lambda s, v: s["model"]["adapters"][0].__setitem__("source", "./" + v),
    "server.host": lambda s, v: s.setdefault("server", {}).__setitem__("host", v),
    "server.api_key_env": lambda s, v: s.setdefault("server", {}).__setitem__("api_key_env", v),
    # the value of a free-text option: a bare word would be a stray positional argument (an error)
    "targets.vllm.args": lambda s, v: s["targets"]["vllm"]["args"].extend(["--root-path", v]),
    "targets.vllm.env": lambda s, v: s["targets"]["vllm"]["env"].__setitem__("EXTRA", v),
    "targets.vllm.image": lambda s, v: s["targets"]["vllm"].__setitem__("image", v),
    "name": lambda s, v: s.__setitem__("name", v),
    "model.gguf": lambda s, v: s["model"].__setitem__("gguf", "./" + v + ".gguf"),
    "hardware.gpu.name": lambda s, v: s.__setitem__("hardware", {"gpu": {"name": v, "memory_gib": 24,
                                                                          "compute_capability": "8.9"}}),
}


def dump(data: dict) -> str:
    yaml = YAML(typ="safe", pure=True)
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()


def compile_value(tmp: Path, field: str, value: str):
    spec = base_spec()
    FIELDS[field](spec, value)
    path = tmp / "deploy.yaml"
    path.write_text(dump(spec), encoding="utf-8")
    compiled = load_spec(path, "deploy.yaml")
    if not compiled.ok:
        return compiled.diagnostics, None
    result = compile_target(compiled, REGISTRY, "vllm", BuildContext("../..", "deploy.yaml", "0" * 64))
    return result.diagnostics, result


def artifacts(result) -> dict[str, str]:
    return {a.path: a.content for a in result.lowered.artifacts}


def exec_line(script: str) -> str:
    [line] = [ln for ln in script.split("\n") if ln.startswith("exec ")]  # bash splits on \n only
    return line[len("exec "):]


@pytest.mark.parametrize("field", sorted(FIELDS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=HOSTILE)
def test_hostile_value_is_rejected_or_round_trips(field, value, tmp_path):
    diags, result = compile_value(tmp_path, field, value)
    errors = [d for d in diags if d.is_error]
    if errors or result is None or not result.ok:
        assert errors, "a failed compile must say why"
        for d in errors:
            assert d.file == "deploy.yaml" and d.line and d.column, d
            assert "Traceback" not in d.message
        return
    files = artifacts(result)
    assert shlex.split(exec_line(files["serve.sh"])) == list(result.lowered.command)
    compose = YAML(typ="safe", pure=True).load(files["compose.yaml"])
    [service] = compose["services"].values()
    assert all(isinstance(tok, str) for tok in service["command"])
    command = [_compose_unescape(tok) for tok in service["command"]]   # what Compose hands the engine
    if field == "targets.vllm.args":
        assert command[-1] == value and result.lowered.command[-1] == value
    if field == "targets.vllm.env":
        [entry] = [e for e in service["environment"] if e.startswith("EXTRA=")]
        assert _compose_unescape(entry[len("EXTRA="):]) == value
    if field == "model.served_name":
        assert command[command.index("--served-model-name") + 1] == value


def _compose_unescape(value: str) -> str:
    return value.replace("$$", "$")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_itself_sees_the_exact_argv_and_environment(tmp_path):
    """Run serve.sh for real with `vllm` replaced by a probe that dumps its argv and env."""
    spec = base_spec()
    spec["model"]["served_name"] = "x\"';$(id)`id`|&<>*?é🚀"
    spec["targets"]["vllm"]["args"] += ["--root-path", "$(touch pwned)", "--response-role", "a b",
                                        "--tool-parser-plugin", "it's; echo pwned"]
    spec["targets"]["vllm"]["env"] = {"EXTRA": "lit $HOME `id` 'q' \"dq\" ${PROBE_REF} end", "EMPTY": ""}
    spec["server"] = {"api_key_env": "MY_KEY"}
    work = tmp_path / "work"
    (work / "deploy" / "vllm").mkdir(parents=True)
    (work / "deploy.yaml").write_text(dump(spec), encoding="utf-8")
    compiled = load_spec(work / "deploy.yaml", "deploy.yaml")
    assert compiled.ok, compiled.diagnostics
    result = compile_target(compiled, REGISTRY, "vllm", BuildContext("../..", "deploy.yaml", "0" * 64))
    assert result.ok, result.diagnostics
    script = work / "deploy" / "vllm" / "serve.sh"
    script.write_text(artifacts(result)["serve.sh"])
    bindir = tmp_path / "bin"
    bindir.mkdir()
    probe = bindir / "vllm"
    probe.write_text("#!/usr/bin/env python3\nimport json, os, sys\n"
                     "json.dump({'argv': sys.argv[1:], 'cwd': os.getcwd(), 'env': {k: os.environ.get(k) for k in "
                     "('EXTRA', 'EMPTY', 'VLLM_API_KEY')}}, open(os.environ['PROBE_OUT'], 'w'))\n")
    probe.chmod(0o755)
    out = tmp_path / "probe.json"
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "PROBE_OUT": str(out), "PROBE_REF": "expanded",
           "MY_KEY": "s3cret", "HOME": "/home/h"}
    subprocess.run(["bash", str(script)], env=env, check=True, cwd=tmp_path)
    seen = json.loads(out.read_text())
    assert seen["argv"] == list(result.lowered.command)[1:]
    assert seen["cwd"] == str(work), "serve.sh runs from the spec's folder"
    assert seen["env"] == {"EXTRA": "lit $HOME `id` 'q' \"dq\" expanded end", "EMPTY": "",
                           "VLLM_API_KEY": "s3cret"}
    assert not (tmp_path / "pwned").exists() and not (work / "pwned").exists()
    # Without the key variable the script refuses to start instead of serving an open endpoint.
    del env["MY_KEY"]
    run = subprocess.run(["bash", str(script)], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode != 0 and "set MY_KEY to the API key" in run.stderr


def test_env_reference_syntax_is_the_documented_one():
    assert ENV_REF.fullmatch("${NAME_1}") and not ENV_REF.fullmatch("$NAME") and not ENV_REF.fullmatch("${1X}")
