"""Hostile strings in the fields that reach TGI's run.sh and compose.yaml: rejected, or emitted inert.

run.sh's exec line must shlex-split back to exactly the `command` argv (whose only shell
references are the `${TGI_DATA}` cache and `${PWD}`/`${HOME}` bind-mount prefixes deployc
itself writes), and real bash, running run.sh with a probe in place of `docker`, must see
that argv with only those references expanded.
"""

from __future__ import annotations

import copy
import json
import shlex
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

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


def artifacts(out: dict) -> dict[str, str]:
    return {a["path"]: a["content"] for a in out["artifacts"]}


def exec_line(script: str) -> str:
    [line] = [ln for ln in script.split("\n") if ln.startswith("exec ")]
    return line[len("exec "):]


@pytest.mark.parametrize("field", sorted(FIELDS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=HOSTILE)
def test_hostile_value_is_rejected_or_round_trips(field, value, specs):
    spec = copy.deepcopy(BASE)
    FIELDS[field](spec, value)
    out = specs.build_data("tgi", spec, expect=None)
    errors = [d for d in out["diagnostics"] if d["severity"] == "error"]
    if errors or out["command"] is None:
        assert errors, "a failed compile must say why"
        assert all(d["file"] == str(specs.tmp_path / "deploy.yaml") and d["line"] and d["column"]
                   for d in errors), errors
        return
    files = artifacts(out)
    command = out["command"]
    assert shlex.split(exec_line(files["run.sh"])) == command
    [service] = YAML(typ="safe", pure=True).load(files["compose.yaml"])["services"].values()
    image_at = command.index(service["image"])
    # Compose reads `$$` as a literal `$`: what it hands the launcher is the docker run argv
    assert [tok.replace("$$", "$") for tok in service["command"]] == command[image_at + 1:]
    if field == "targets.tgi.args":
        assert command[-1] == value


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_itself_sees_the_exact_argv_and_environment(specs):
    """Run run.sh for real with `docker` replaced by a probe that dumps its argv and env."""
    spec = copy.deepcopy(BASE)
    spec["model"]["source"] = "./my model"
    spec["targets"]["tgi"]["args"] += ["--otlp-service-name", "x\"';$(touch pwned)`id`|&<>*?é ${HOME}"]
    spec["targets"]["tgi"]["env"] = {"EXTRA": "lit $HOME `id` 'q' \"dq\" ${PROBE_REF} end", "EMPTY": ""}
    out = specs.build_data("tgi", spec)
    work = specs.tmp_path  # the spec's folder; run.sh is where `deployc build` writes it
    script = work / "deploy" / "tgi" / "run.sh"
    script.parent.mkdir(parents=True)
    script.write_text(artifacts(out)["run.sh"])
    elsewhere = work / "elsewhere"
    bindir = work / "bin"
    elsewhere.mkdir()
    bindir.mkdir()
    probe = bindir / "docker"
    probe.write_text("#!/usr/bin/env python3\nimport json, os, sys\n"
                     "json.dump({'argv': sys.argv[1:], 'env': {k: os.environ.get(k) for k in "
                     "('EXTRA', 'EMPTY', 'API_KEY', 'HF_TOKEN')}}, open(os.environ['PROBE_OUT'], 'w'))\n")
    probe.chmod(0o755)
    probe_out = work / "probe.json"
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "PROBE_OUT": str(probe_out), "PROBE_REF": "expanded",
           "MY_KEY": "s3cret", "HOME": "/home/h", "HF_TOKEN": "tok"}
    subprocess.run(["bash", str(script)], env=env, check=True, cwd=elsewhere)
    seen = json.loads(probe_out.read_text())
    expected = [t.replace("${TGI_DATA}", "/home/h/.cache/huggingface").replace("${PWD}", str(work))
                if t.startswith("${") else t for t in out["command"][1:]]
    assert seen["argv"] == expected
    assert f"{work}/my model:/deployc/model:ro" in seen["argv"]
    assert seen["env"] == {"EXTRA": "lit $HOME `id` 'q' \"dq\" expanded end", "EMPTY": "", "API_KEY": "s3cret",
                           "HF_TOKEN": "tok"}
    assert not (elsewhere / "pwned").exists() and not (work / "pwned").exists()
    env["HF_HOME"] = "/srv/hf cache"
    subprocess.run(["bash", str(script)], env=env, check=True, cwd=elsewhere)
    assert "/srv/hf cache:/data" in json.loads(probe_out.read_text())["argv"]
    del env["MY_KEY"]
    run = subprocess.run(["bash", str(script)], env=env, cwd=elsewhere, capture_output=True, text=True)
    assert run.returncode != 0 and "set MY_KEY to the API key" in run.stderr
