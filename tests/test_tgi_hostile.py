"""Hostile strings in the fields that reach TGI's run.sh and compose.yaml: rejected, or emitted inert.

run.sh's exec line must shlex-split back to exactly the `command` argv (whose only shell
references are the `${TGI_DATA}` cache and `${PWD}`/`${HOME}` bind-mount prefixes deployc
itself writes), and real bash, running run.sh with a probe in place of `docker`, must see
that argv with only those references expanded.
"""

from __future__ import annotations

import copy
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

from compiler.pipeline import compile_target, load_spec
from compiler.registry import Registry
from compiler.target_api import BuildContext

REGISTRY = Registry.discover()
NASTY = ["x\"; rm -rf / #", "$(reboot)", "`id`", "a b", "it's", "tab\there", "new\nline", "caf\u00e9 \U0001F680",
         "back\\slash", "${HOME}", "$HOME", "semi;colon", "--flag", "-", "", " lead", "*", "~root", "a,b=c@d"]
HOSTILE = st.one_of(st.sampled_from(NASTY),
                    st.text(alphabet=st.sampled_from(list("aZ09 ./-_\"'$`;\\|&<>(){}[]*?~#!=,@:\n\u00e9")),
                            min_size=0, max_size=20))

BASE = {"apiVersion": "deployc/v1", "name": "hostile",
        "model": {"source": "./model", "adapters": [{"name": "a1", "source": "./adapters/a1"}]},
        "server": {"api_key_env": "MY_KEY"},
        "targets": {"tgi": {"args": ["--json-output"], "env": {"EXTRA": "plain"}}}}

FIELDS = {
    "model.source": lambda s, v: s["model"].__setitem__("source", "./" + v),
    "model.revision": lambda s, v: s["model"].update(source="org/model", revision=v),
    "model.adapters.source": lambda s, v: s["model"]["adapters"][0].__setitem__("source", "./" + v),
    "targets.tgi.args": lambda s, v: s["targets"]["tgi"]["args"].extend(["--otlp-service-name", v]),
    "targets.tgi.env": lambda s, v: s["targets"]["tgi"]["env"].__setitem__("EXTRA", v),
    "targets.tgi.image": lambda s, v: s["targets"]["tgi"].__setitem__("image", v),
    "name": lambda s, v: s.__setitem__("name", v),
}


def dump(data: dict) -> str:
    buf = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, buf)
    return buf.getvalue()


def compile_spec(folder: Path, spec: dict):
    path = folder / "deploy.yaml"
    path.write_text(dump(spec), encoding="utf-8")
    compiled = load_spec(path, "deploy.yaml")
    if not compiled.ok:
        return compiled.diagnostics, None
    result = compile_target(compiled, REGISTRY, "tgi", BuildContext("../..", "deploy.yaml", "0" * 64))
    return result.diagnostics, result


def exec_line(script: str) -> str:
    [line] = [ln for ln in script.split("\n") if ln.startswith("exec ")]
    return line[len("exec "):]


@pytest.mark.parametrize("field", sorted(FIELDS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=HOSTILE)
def test_hostile_value_is_rejected_or_round_trips(field, value, tmp_path):
    spec = copy.deepcopy(BASE)
    FIELDS[field](spec, value)
    diags, result = compile_spec(tmp_path, spec)
    errors = [d for d in diags if d.is_error]
    if errors or result is None or not result.ok:
        assert errors, "a failed compile must say why"
        assert all(d.file == "deploy.yaml" and d.line and d.column for d in errors), errors
        return
    files = {a.path: a.content for a in result.lowered.artifacts}
    command = list(result.lowered.command)
    assert shlex.split(exec_line(files["run.sh"])) == command
    [service] = YAML(typ="safe", pure=True).load(files["compose.yaml"])["services"].values()
    image_at = command.index(service["image"])
    # Compose reads `$$` as a literal `$`: what it hands the launcher is the docker run argv
    assert [tok.replace("$$", "$") for tok in service["command"]] == command[image_at + 1:]
    if field == "targets.tgi.args":
        assert command[-1] == value


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_itself_sees_the_exact_argv_and_environment(tmp_path):
    """Run run.sh for real with `docker` replaced by a probe that dumps its argv and env."""
    spec = copy.deepcopy(BASE)
    spec["model"]["source"] = "./my model"
    spec["targets"]["tgi"]["args"] += ["--otlp-service-name", "x\"';$(touch pwned)`id`|&<>*?é ${HOME}"]
    spec["targets"]["tgi"]["env"] = {"EXTRA": "lit $HOME `id` 'q' \"dq\" ${PROBE_REF} end", "EMPTY": ""}
    work = tmp_path / "work"
    (work / "deploy" / "tgi").mkdir(parents=True)
    diags, result = compile_spec(work, spec)
    assert result is not None and result.ok, diags
    script = work / "deploy" / "tgi" / "run.sh"
    script.write_text(next(a.content for a in result.lowered.artifacts if a.path == "run.sh"))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    probe = bindir / "docker"
    probe.write_text("#!/usr/bin/env python3\nimport json, os, sys\n"
                     "json.dump({'argv': sys.argv[1:], 'env': {k: os.environ.get(k) for k in "
                     "('EXTRA', 'EMPTY', 'API_KEY', 'HF_TOKEN')}}, open(os.environ['PROBE_OUT'], 'w'))\n")
    probe.chmod(0o755)
    out = tmp_path / "probe.json"
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "PROBE_OUT": str(out), "PROBE_REF": "expanded",
           "MY_KEY": "s3cret", "HOME": "/home/h", "HF_TOKEN": "tok"}
    subprocess.run(["bash", str(script)], env=env, check=True, cwd=tmp_path)
    seen = json.loads(out.read_text())
    expected = [t.replace("${TGI_DATA}", "/home/h/.cache/huggingface").replace("${PWD}", str(work))
                if t.startswith("${") else t for t in result.lowered.command[1:]]
    assert seen["argv"] == expected
    assert f"{work}/my model:/deployc/model:ro" in seen["argv"]
    assert seen["env"] == {"EXTRA": "lit $HOME `id` 'q' \"dq\" expanded end", "EMPTY": "", "API_KEY": "s3cret",
                           "HF_TOKEN": "tok"}
    assert not (tmp_path / "pwned").exists() and not (work / "pwned").exists()
    env["HF_HOME"] = "/srv/hf cache"
    subprocess.run(["bash", str(script)], env=env, check=True, cwd=tmp_path)
    assert "/srv/hf cache:/data" in json.loads(out.read_text())["argv"]
    del env["MY_KEY"]
    run = subprocess.run(["bash", str(script)], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode != 0 and "set MY_KEY to the API key" in run.stderr
