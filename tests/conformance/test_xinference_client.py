"""The real `xinference` CLI, client and model registry, at each pinned version, judge the launch artifacts.

conformance/xinference_probe.py runs launch.sh's command lines through xinference's own
click command and launch.py through xinference_client's RESTfulClient, up to the HTTP
request each would send (no server). Both must send the same POST /v1/models body,
that body must hold launch.json's values, and launch.py's LAUNCH must bind to the real
launch_model signature. Where the registry imports (4.1.0), register.json must parse with
the CustomLLMFamilyV2 that `xinference register` uses, name a built-in model_family, and a
built-in model_name must have a spec of the launched format, size and quantization. Pins: targets/xinference/versions.py (4.1.0 commit a3625815f,
client 63f5e9dd6df9f0bc9a91569268e7528883255b2f; 1.17.1 commit
47669e61d69bbcb450b67325b6b4fe32294506fc, client 5d9fc3b01cb65daaded13897e4a0a897996a0543).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import subprocess

import pytest

from deployc.targets.xinference.versions import VERSIONS

from .conftest import HOME, ROOT, lower, require

pytestmark = pytest.mark.conformance

BASE = {"apiVersion": "deployc/v1", "name": "conf", "model": {"source": "org/model"},
        "targets": {"xinference": {"model_family": "qwen2.5-instruct", "size_in_billions": 7}}}


def variant(model=None, xinference=None, **sections) -> dict:
    spec = copy.deepcopy(BASE)
    spec["model"].update(model or {})
    spec["targets"]["xinference"].update(xinference or {})
    spec.update(sections)
    return spec


# Every launch option and engine kwarg the target can emit appears in at least one variant.
VARIANTS = {
    "custom-hub": variant(model={"revision": "v1"}),
    "builtin-fractional": variant(xinference={"model_name": "qwen2.5-instruct", "size_in_billions": 0.5,
                                              "model_family": None}),
    "builtin-gptq-int8": variant(precision={"quantization": "gptq"},
                                 xinference={"model_name": "qwen2.5-instruct", "model_family": None,
                                             "quantization": "Int8"}),
    "builtin-awq": variant(precision={"quantization": "awq"},
                           xinference={"model_name": "llama-3.1-instruct", "model_family": None, "size_in_billions": 70}),
    "local-remote-code": variant(model={"source": "./weights", "trust_remote_code": True}),
    "lora": variant(model={"adapters": [{"name": "sql", "source": "org/sql-lora", "rank": 64},
                                        {"name": "chat", "source": "org/chat-lora"}]}),
    "everything": variant(
        precision={"dtype": "float16", "quantization": "fp8", "kv_cache_dtype": "fp8"},
        parallelism={"tensor": 2, "pipeline": 2, "data": 2},
        limits={"max_model_len": 8192, "max_concurrency": 16, "max_batch_tokens": 4096},
        hardware={"gpu": "H100-80GB", "memory_utilization": 0.8},
        server={"host": "127.0.0.1", "port": 9100, "api_key_env": "XK"},
        xinference={"args": ["--enforce_eager", "true", "--seed", "3", "--swap_space", "None"]}),
    "gptq-int8": variant(precision={"quantization": "gptq"}, xinference={"quantization": "Int8"}),
    "two-nodes": variant(parallelism={"tensor": 8, "pipeline": 2}, server={"port": 9100, "api_key_env": "XK"}),
}
SUPERVISOR = re.compile(r"\$\{SUPERVISOR_ADDR:\?[^}]*\}")
SUPERVISOR_ADDR = "10.1.2.3"
KEY = re.compile(r'^\$\{([A-Za-z_][A-Za-z0-9_]*):\?.*\}$')


def cases(tmp_path, version):
    out = []
    for name, spec in VARIANTS.items():
        spec = copy.deepcopy(spec)
        xinf = {k: v for k, v in spec["targets"]["xinference"].items() if v is not None}
        spec["targets"]["xinference"] = {**xinf, "version": version}
        if version == "1.17.1":
            spec.get("server", {}).pop("api_key_env", None)
        result = lower(spec, "xinference", tmp_path / version / name)
        out.append((name, result.lowered.artifacts))
    for sample in sorted((ROOT / "samples").glob("*/deploy/xinference")):
        arts = {p.name: p.read_text() for p in sample.iterdir() if p.is_file()}   # kubernetes/ is another platform
        if f"XInference {version}." in arts["start.sh"]:
            out.append((sample.parent.parent.name, arts))
    return out


def probe(tmp_path, version):
    venv = require(HOME / f"xinference-{version}")
    items, expected = [], {}
    for name, arts in cases(tmp_path, version):
        files = arts if isinstance(arts, dict) else {a.path: a.content for a in arts}
        folder = tmp_path / "out" / version / name
        folder.mkdir(parents=True)
        for path, content in files.items():
            (folder / path).write_text(content)
        if "./weights" in files["launch.json"]:
            (tmp_path / "out" / version / "weights").mkdir(exist_ok=True)
        body = files["launch.sh"].split('cd "$(dirname "$0")"\n', 1)[1]
        key_env, commands = None, []
        for line in body.splitlines():
            argv = [SUPERVISOR.sub(SUPERVISOR_ADDR, t) for t in shlex.split(line)]
            for i, token in enumerate(argv):
                if m := KEY.match(token):
                    key_env, argv[i] = m.group(1), "k-123"
            commands.append(argv)
        items.append({"id": name, "dir": str(folder), "commands": commands, "api_key_env": key_env,
                      "api_key": "k-123"})
        expected[name] = (json.loads(files["launch.json"]), files.get("register.json"), key_env)
    proc = subprocess.run([str(venv / "bin" / "python"), str(ROOT / "conformance" / "xinference_probe.py")],
                          input=json.dumps(items), capture_output=True, text=True, timeout=300,
                          env={**os.environ, "SUPERVISOR_ADDR": SUPERVISOR_ADDR})  # launch.py of a multi-node copy
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout), expected


@pytest.mark.parametrize("version", list(VERSIONS))
def test_cli_and_client_send_the_launch_json_request(tmp_path, version):
    out, expected = probe(tmp_path, version)
    assert out["xinference_version"] == version and out["client_version"] == VERSIONS[version].client
    defaults = out["launch_model_params"]
    assert out["results"], "no case ran"
    for result in out["results"]:
        name = result["id"]
        launch_json, register, key_env = expected[name]
        assert result["error"] is None, (name, result["error"])
        auth = "Bearer k-123" if key_env else None
        want = []
        if register is not None:
            want.append({"method": "POST", "path": "/v1/model_registrations/LLM", "authorization": auth,
                         "json": {"model": register, "worker_ip": None, "persist": False}, "params": None})
        cli_launch, py_launch = result["cli"][-1], result["py"][-1]
        assert result["cli"][:-1] == want and result["py"][:-1] == want, name
        assert (cli_launch["path"], cli_launch["params"], cli_launch["authorization"]) == (
            "/v1/models", {"wait_ready": False}, auth), name
        assert (py_launch["path"], py_launch["params"], py_launch["authorization"]) == ("/v1/models", None, auth)
        assert cli_launch["json"] == py_launch["json"], name  # launch.sh and launch.py agree
        body = py_launch["json"]
        assert {k: body[k] for k in launch_json} == launch_json, name  # ... and send launch.json
        rest = {k: v for k, v in body.items() if k not in launch_json}
        assert rest == {k: defaults[k] for k in rest}, (name, "only launch_model's defaults beyond launch.json")
        if not out["registry"]:
            assert version == "1.17.1", "the 4.1.0 judge venv has the model registry"
            continue
        model = result["model"]
        if register is not None:
            reg = json.loads(register)
            assert model.get("error") is None, (name, model)
            assert model["family_builtin"], (name, reg["model_family"])
            assert model["registered"] == reg["model_name"] and len(model["specs"]) == 1
            spec = model["specs"][0]
            assert {k: spec[k] for k in reg["model_specs"][0]} == reg["model_specs"][0], name
            assert spec["model_size_in_billions"] == launch_json["model_size_in_billions"], name
        else:
            assert model["builtin"] and "huggingface" in model["matches"], (name, model)


OPTIONS_TABLE = ROOT / "tests" / "conformance" / "data" / "xinference_cli_options.json"
COMMANDS = {"xinference launch": ("cli", "launch"), "xinference register": ("cli", "register"),
            "xinference-local": ("local", None), "xinference-supervisor": ("supervisor", None),
            "xinference-worker": ("worker", None)}


@pytest.mark.parametrize("version", list(VERSIONS))
def test_committed_option_table_is_what_the_real_cli_takes(version):
    """The fast tests check emitted options against this table; here the real click commands vouch for it."""
    venv = require(HOME / f"xinference-{version}")
    script = (
        "import json\n"
        "from xinference.deploy import cmdline\n"
        "out = {}\n"
        f"for name, (group, sub) in {COMMANDS!r}.items():\n"
        "    cmd = getattr(cmdline, group)\n"
        "    cmd = cmd.get_command(None, sub) if sub else cmd\n"
        "    out[name] = sorted(o for p in cmd.params for o in p.opts + p.secondary_opts)\n"
        "print(json.dumps(out))\n")
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = json.loads(OPTIONS_TABLE.read_text())["versions"][version]["commands"]
    assert json.loads(proc.stdout) == table


@pytest.mark.parametrize("version", list(VERSIONS))
def test_supervisor_and_worker_commands_parse_with_the_intended_values(tmp_path, version):
    """A multi-node copy: start-supervisor.sh and start-worker.sh, as bash runs them with the node
    addresses set, through the real click commands (make_context parses without starting anything);
    launch.sh and launch.py of the same spec send n_worker and n_gpu (test above, variant two-nodes)."""
    venv = require(HOME / f"xinference-{version}")
    spec = copy.deepcopy(VARIANTS["two-nodes"])
    spec["targets"]["xinference"]["version"] = version
    if version == "1.17.1":
        spec["server"].pop("api_key_env")
    arts = {a.path: a.content for a in lower(spec, "xinference", tmp_path / "two").lowered.artifacts}
    env = {"SUPERVISOR_ADDR": "10.1.2.3", "WORKER_ADDR": "10.1.2.4", "PATH": "/usr/bin:/bin"}
    argvs = {}
    for name in ("start-supervisor.sh", "start-worker.sh"):
        line = arts[name].splitlines()[-1].removeprefix("exec ")
        argvs[name] = subprocess.run(["bash", "-c", "printf '%s\\n' " + line], env=env, capture_output=True,
                                     text=True, check=True).stdout.splitlines()
    script = (
        "import json, sys\n"
        "from xinference.deploy import cmdline\n"
        "argvs = json.load(sys.stdin)\n"
        "out = {}\n"
        "for name, cmd in (('start-supervisor.sh', cmdline.supervisor), ('start-worker.sh', cmdline.worker)):\n"
        "    argv = argvs[name]\n"
        "    assert argv[0] == cmd.name or argv[0].startswith('xinference-'), argv\n"
        "    out[name] = cmd.make_context(argv[0], argv[1:]).params\n"
        "print(json.dumps(out, default=str))\n")
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", script], input=json.dumps(argvs), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    params = json.loads(proc.stdout)
    assert argvs["start-supervisor.sh"][0] == "xinference-supervisor"
    assert argvs["start-worker.sh"][0] == "xinference-worker"
    sup, worker = params["start-supervisor.sh"], params["start-worker.sh"]
    assert (sup["host"], sup["port"]) == ("10.1.2.3", 9100)
    assert (worker["endpoint"], worker["host"]) == ("http://10.1.2.3:9100", "10.1.2.4")
    body = json.loads(arts["launch.json"])
    assert (body["n_worker"], body["n_gpu"], body["tensor_parallel_size"], body["pipeline_parallel_size"]) == (2, 8, 8, 2)
