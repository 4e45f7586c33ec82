"""`deployc up/down/status/logs` against a real Docker engine (Debian's dockerd, conformance/install_docker.sh).

The engine runs with --bridge=none (the default bridge's address range is forbidden here), so containers
that start use host networking. No registry is reachable: engine images are a local busybox image, tagged
with each target's image name. Created containers are compared with what the real `docker-compose config`
makes of the compose.yaml written from the same Service.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from deployc.compiler import driver
from deployc.compiler.registry import Registry
from deployc.compiler.runtime import containers, daemon
from deployc.compiler.runtime.compose import duration_ns
from deployc.compiler.runtime.containers import LABEL_LAUNCH, LABEL_NAME, LABEL_SPEC, LABEL_TARGET

from .conftest import HOME, ROOT, dump, require
from .test_compose import _probe

pytestmark = pytest.mark.conformance

DOCKER_DIR = HOME / "docker"
STANDIN = "deployc-standin:1"
# What the caller's shell holds while the tests run `up`: the API key variables the samples name, HF_TOKEN.
SECRET = "not-a-real-key-4711"
# HOME: bind sources under ~ resolve there, and the engine creates them when a container starts.
KEYS = sorted({(YAML(typ="safe").load(p.read_text()).get("server") or {}).get("api_key_env")
               for p in (ROOT / "samples").glob("*/deploy.yaml")} - {None} | {"PHI_API_KEY", "STANDIN_KEY"})
ENV = {"PATH": os.environ.get("PATH", ""), "HOME": str(DOCKER_DIR / "home"), "HF_TOKEN": "hf-token-value",
       **dict.fromkeys(KEYS, SECRET)}


@pytest.fixture(scope="session")
def docker_env():
    """DOCKER_HOST of a private dockerd (started here if it does not answer; stopped again if we started it)."""
    require(DOCKER_DIR / "busybox-rootfs.tar")
    import docker

    sock = DOCKER_DIR / "docker.sock"
    host = f"unix://{sock}"
    started = False
    try:
        docker.DockerClient(base_url=host, timeout=5).ping()
    except Exception:
        run = subprocess.run(["bash", str(ROOT / "conformance" / "dockerd.sh"), "start", str(HOME)],
                             capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            pytest.fail(f"dockerd did not start:\n{run.stderr}", pytrace=False)
        started = True
    client = docker.DockerClient(base_url=host, timeout=60)
    client.api.import_image_from_file(str(DOCKER_DIR / "busybox-rootfs.tar"), repository="deployc-standin",
                                      tag="1", changes=['ENTRYPOINT ["/standin.sh"]'])
    yield {"DOCKER_HOST": host}, client
    for c in client.containers.list(all=True):   # a private engine: nothing of anyone else's runs here
        c.remove(force=True)
    client.close()
    if started:
        subprocess.run(["bash", str(ROOT / "conformance" / "dockerd.sh"), "stop", str(HOME)], timeout=60)


@pytest.fixture
def engine(docker_env, monkeypatch, tmp_path):
    """The engine's client, with ENV and DOCKER_HOST in os.environ; what the test started for specs under
    tmp_path is removed afterwards, pass or fail."""
    env, client = docker_env
    for k in list(os.environ):
        if k.endswith("_API_KEY") or k in ("HF_TOKEN", *KEYS):
            monkeypatch.delenv(k)
    for k, v in {**ENV, **env}.items():
        if k != "PATH":
            monkeypatch.setenv(k, v)
    yield client
    for c in client.containers.list(all=True, filters={"label": LABEL_SPEC}):
        if c.labels[LABEL_SPEC].startswith(str(tmp_path)):
            c.remove(force=True)


def compose_service(path: Path, env: dict) -> dict:
    """`docker-compose -f path config --format json` (the real binary), the one service in it."""
    probe = _probe()
    run = subprocess.run([probe.find_binary(), "-f", str(path), "config", "--format", "json"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    [svc] = json.loads(run.stdout)["services"].values()
    return svc


def lowered(spec: Path, target: str):
    done = driver.build(driver.Request(spec, [target]), Registry.discover())
    compiled, [result] = done.compiled, done.results
    assert result.ok, [d.render() for d in compiled.diagnostics + result.diagnostics]
    return compiled, result


def expected_from_compose(svc: dict) -> dict:
    """The Engine API fields Compose sets from the service (docker/compose pkg/compose/create.go)."""
    hc = svc["healthcheck"]
    out = {
        "Image": svc["image"],
        "Entrypoint": svc.get("entrypoint"),
        "Cmd": [t.replace("$$", "$") for t in svc["command"]],   # `config` re-escapes `$` in its output
        "Env": dict(svc["environment"].items()),
        "PortBindings": {f"{p['target']}/{p['protocol']}": [{"HostIp": p.get("host_ip", ""),
                                                             "HostPort": p["published"]}] for p in svc["ports"]},
        "Binds": sorted((v["source"], v["target"], bool(v.get("read_only"))) for v in svc["volumes"]),
        "ShmSize": int(svc["shm_size"]) if "shm_size" in svc else None,
        "IpcMode": svc.get("ipc"),
        "DeviceRequests": [{"Driver": d["driver"], "Count": d["count"], "Capabilities": [d["capabilities"]]}
                           for d in svc.get("deploy", {}).get("resources", {}).get("reservations", {})
                           .get("devices", [])] or None,
        "Devices": [{"PathOnHost": d["source"], "PathInContainer": d["target"],
                     "CgroupPermissions": d.get("permissions", "rwm")} for d in svc.get("devices", [])] or None,
        "GroupAdd": svc.get("group_add"),
        "SecurityOpt": svc.get("security_opt"),
        "Healthcheck": {"Test": hc["test"], "Interval": duration_ns(hc["interval"]),
                        "Timeout": duration_ns(hc["timeout"]), "Retries": hc["retries"],
                        "StartPeriod": duration_ns(hc["start_period"])},
        "RestartPolicy": svc["restart"],
    }
    return out


def inspected(attrs: dict) -> dict:
    cfg, host = attrs["Config"], attrs["HostConfig"]

    def binds(spec: str):
        src, dst, mode = spec.rsplit(":", 2)
        return src, dst, mode == "ro"

    return {
        "Image": cfg["Image"],
        "Entrypoint": cfg["Entrypoint"] if cfg["Entrypoint"] != ["/standin.sh"] else None,   # the image's own
        "Cmd": cfg["Cmd"],
        "Env": dict(e.split("=", 1) if "=" in e else (e, None) for e in cfg["Env"] or []),
        "PortBindings": host["PortBindings"],
        "Binds": sorted(binds(b) for b in host["Binds"]),
        "ShmSize": host["ShmSize"] if host.get("IpcMode") != "host" else None,
        "IpcMode": "host" if host.get("IpcMode") == "host" else None,
        "DeviceRequests": [{k: d[k] for k in ("Driver", "Count", "Capabilities")}
                           for d in host.get("DeviceRequests") or []] or None,
        "Devices": host.get("Devices") or None,
        "GroupAdd": host.get("GroupAdd"),
        # with the host's IPC namespace the daemon adds label=disable itself (moby daemon/create.go), for
        # Compose's container too
        "SecurityOpt": [o for o in host.get("SecurityOpt") or []
                        if not (o == "label=disable" and host.get("IpcMode") == "host")] or None,
        "Healthcheck": cfg["Healthcheck"],
        "RestartPolicy": host["RestartPolicy"]["Name"],
    }


SAMPLE_COMPOSE = sorted((ROOT / "samples").glob("*/deploy/*/compose.yaml"))


def _amd_spec(tmp_path: Path) -> Path:
    base = (ROOT / "samples" / "qwen2.5-7b-h100" / "deploy.yaml").read_text()
    spec = tmp_path / "amd" / "deploy.yaml"
    spec.parent.mkdir()
    spec.write_text(base.replace("gpu: H100-80GB", "gpu: MI300X").replace(
        "  vllm: {}", "  vllm: {image: vllm/vllm-openai-rocm:v0.33.0}"))
    return spec


@pytest.mark.parametrize("compose", SAMPLE_COMPOSE + ["amd", "no-hf-token"],
                         ids=lambda p: p if isinstance(p, str) else f"{p.parent.parent.parent.name}-{p.parent.name}")
def test_created_container_equals_the_compose_service(compose, engine, tmp_path):
    """Each container target's sample: `docker create` from the Service == `docker-compose config` of compose.yaml."""
    env = dict(ENV)
    if compose == "no-hf-token":   # a pass-through name the caller has not set: sent bare, so the engine unsets it
        del env["HF_TOKEN"]
        compose = ROOT / "samples" / "qwen2.5-7b-h100" / "deploy" / "vllm" / "compose.yaml"
    if compose == "amd":
        spec, target = _amd_spec(tmp_path), "vllm"
    else:
        spec, target = compose.parent.parent.parent / "deploy.yaml", compose.parent.name
    _compiled, result = lowered(spec, target)
    svc = result.lowered.service
    [art] = [a for a in result.lowered.artifacts if a.path == "compose.yaml"]
    compose_dir = driver.out_dir(spec, None, target)
    written = tmp_path / "compose.yaml"
    if compose == "amd":
        compose_dir.mkdir(parents=True)
        written = compose_dir / "compose.yaml"
    else:
        assert compose.read_text() == art.content   # the committed file is the one Compose judges below
        written = compose
    written.write_text(art.content)
    want = expected_from_compose(compose_service(written, env))
    engine.images.get(STANDIN).tag(svc.image)
    name = f"conformance-{spec.parent.name}-{target}"[:60]
    resolved = containers.container_config(svc, env=env, compose_dir=os.path.abspath(compose_dir), name=name,
                                       labels={"io.deployc.test": "1"})
    container = engine.containers.create(**resolved.kwargs)
    try:
        got = inspected(engine.api.inspect_container(container.id))
    finally:
        container.remove(force=True)
    assert got == want
    assert svc.gpus >= 1
    if "HF_TOKEN" not in env:
        assert got["Env"]["HF_TOKEN"] is None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_up_without_a_gpu_fails_clearly_and_leaves_nothing(engine, cli):
    spec = ROOT / "samples" / "qwen2.5-7b-h100" / "deploy.yaml"
    engine.images.get(STANDIN).tag("vllm/vllm-openai:v0.33.0")
    r = cli("up", spec, "--target", "vllm", "--no-wait")
    assert r.exit_code == 1, r.output
    assert 'could not select device driver "nvidia"' in r.stderr
    assert "NVIDIA" in r.stderr and "hint:" in r.stderr and "Traceback" not in r.output
    assert SECRET not in r.output
    assert daemon.find(engine, str(spec.resolve())) == []


def standin_spec(folder: Path, port: int, image: str = STANDIN) -> Path:
    spec = folder / "deploy.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    spec.write_text(dump({
        "apiVersion": "deployc/v1", "name": "standin-chat",
        "model": {"source": "Qwen/Qwen2.5-0.5B-Instruct", "served_name": "standin"},
        "server": {"host": "127.0.0.1", "port": port, "api_key_env": "STANDIN_KEY"},
        "hardware": {"gpu": "L4"},
        "targets": {"vllm": {"image": image}},
    }))
    return spec


@pytest.fixture
def host_network(monkeypatch):
    """Test-only: the stand-in runs on the host network without a GPU request (this engine has no bridge and
    no GPU). Everything else is the container `up` makes from the Service."""
    real = containers.container_config

    def config(*args, **kwargs):
        resolved = real(*args, **kwargs)
        kw = resolved.kwargs
        kw.pop("device_requests", None)
        kw.pop("ports", None)
        kw["network_mode"] = "host"
        return resolved

    monkeypatch.setattr(containers, "container_config", config)


def test_up_status_logs_down_lifecycle(engine, cli, host_network, tmp_path):
    port = _free_port()
    spec = standin_spec(tmp_path / "spec", port)
    foreign = engine.containers.create(STANDIN, name="deployc-standin-chat-vllm-2", command=["--port", "1"],
                                       labels={LABEL_NAME: "standin-chat", LABEL_TARGET: "vllm"})
    try:
        r = cli("up", spec, "--target", "vllm", "--timeout", "60")
        assert r.exit_code == 0, r.output
        assert "healthy after" in r.stdout and f"http://127.0.0.1:{port}" in r.stdout
        [c] = daemon.find(engine, str(spec.resolve()), "vllm")
        assert c.name == "deployc-standin-chat-vllm"
        assert c.labels[LABEL_TARGET] == "vllm" and c.labels[LABEL_NAME] == "standin-chat"
        assert f"VLLM_API_KEY={SECRET}" in c.attrs["Config"]["Env"]   # the key reaches the engine...
        assert SECRET not in r.output                                  # ...and nothing prints it

        r = cli("status", spec)
        assert r.exit_code == 0, r.output
        assert "deployc-standin-chat-vllm" in r.stdout and "running" in r.stdout
        assert "deployc-standin-chat-vllm-2" not in r.stdout

        r = cli("logs", spec, "--tail", "50")
        assert r.exit_code == 0, r.output
        assert "standin: argv:" in r.stdout and "--served-model-name standin" in r.stdout

        follow = subprocess.Popen([sys.executable, "-m", "deployc.compiler", "logs", str(spec), "--follow"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert "standin: argv:" in follow.stdout.readline()
            assert follow.poll() is None   # still streaming: --follow waits for new lines
        finally:
            follow.kill()
            follow.wait(timeout=30)

        r = cli("up", spec, "--target", "vllm", "--timeout", "60")   # unchanged spec: the same container
        assert r.exit_code == 0, r.output
        assert "already running" in r.stderr
        assert daemon.find(engine, str(spec.resolve()))[0].id == c.id

        r = cli("down", spec)
        assert r.exit_code == 0, r.output
        assert r.stdout.strip() == "removed deployc-standin-chat-vllm"
        assert daemon.find(engine, str(spec.resolve())) == []
        assert engine.containers.get(foreign.id).name == "deployc-standin-chat-vllm-2"   # not deployc's

        r = cli("status", spec)
        assert r.exit_code == 1 and "no container deployc started" in r.stdout
        r = cli("down", spec)
        assert r.exit_code == 0 and "nothing to remove" in r.stdout
    finally:
        foreign.remove(force=True)
        for c in daemon.find(engine, str(spec.resolve())):
            c.remove(force=True)


# LMDeploy's image has no entrypoint (the command is the whole `lmdeploy serve api_server` argv, the key an
# argument); llama.cpp's image runs llama-server itself (the command is its options, the key LLAMA_API_KEY).
NEW_TARGETS = {
    "lmdeploy": ({"source": "Qwen/Qwen2.5-0.5B-Instruct", "served_name": "standin"}, {},
                 ["lmdeploy serve api_server Qwen/Qwen2.5-0.5B-Instruct --model-name standin", f"--api-keys {SECRET}"],
                 None),
    "llama-cpp": ({"source": "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "served_name": "standin"}, {"quant": "Q4_K_M"},
                  ["--hf-repo Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M --alias standin"], f"LLAMA_API_KEY={SECRET}"),
}


@pytest.mark.parametrize("target", sorted(NEW_TARGETS))
def test_up_and_down_of_the_lmdeploy_and_llama_cpp_containers(engine, cli, host_network, tmp_path, target):
    model, opts, in_log, env_entry = NEW_TARGETS[target]
    port = _free_port()
    spec = tmp_path / "spec" / "deploy.yaml"
    spec.parent.mkdir()
    spec.write_text(dump({
        "apiVersion": "deployc/v1", "name": "standin-chat", "model": model,
        "precision": {"quantization": "gguf"} if target == "llama-cpp" else {},
        "server": {"host": "127.0.0.1", "port": port, "api_key_env": "STANDIN_KEY"},
        "hardware": {"gpu": "L4"}, "targets": {target: {"image": STANDIN, **opts}},
    }))
    try:
        r = cli("up", spec, "--target", target, "--timeout", "60")
        assert r.exit_code == 0, r.output
        assert "healthy after" in r.stdout and f"http://127.0.0.1:{port}" in r.stdout
        assert SECRET not in r.output
        [c] = daemon.find(engine, str(spec.resolve()), target)
        assert c.name == f"deployc-standin-chat-{target}"
        if env_entry:
            assert env_entry in c.attrs["Config"]["Env"]
        r = cli("logs", spec, "--tail", "50")
        assert r.exit_code == 0, r.output
        for text in in_log:   # the engine got the argv deployc wrote, the key filled in from the caller's env
            assert text in r.stdout, r.stdout
        assert f"serving http://127.0.0.1:{port}/health" in r.stdout
        r = cli("down", spec)
        assert r.exit_code == 0 and r.stdout.strip() == f"removed deployc-standin-chat-{target}", r.output
    finally:
        for c in daemon.find(engine, str(spec.resolve())):
            c.remove(force=True)


def test_an_engine_that_exits_is_reported_with_its_log(engine, cli, host_network, tmp_path):
    port = _free_port()
    spec = standin_spec(tmp_path / "spec", port)
    # the stand-in cannot serve a port that is already taken: httpd exits, as an engine would
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        real_check = daemon.check_port_free
        daemon.check_port_free = lambda host, p: None   # let it start, to see the early exit
        try:
            r = cli("up", spec, "--target", "vllm", "--timeout", "60")
        finally:
            daemon.check_port_free = real_check
    assert r.exit_code == 1, r.output
    assert "the engine exited" in r.stderr and "standin: argv:" in r.stderr and "hint:" in r.stderr
    assert "Traceback" not in r.output
    [c] = daemon.find(engine, str(spec.resolve()))
    assert c.status == "exited"   # stopped, not restarting in a loop; kept for `deployc logs`
    assert cli("logs", spec).exit_code == 0


def test_port_taken_is_a_clear_error(engine, cli, host_network, tmp_path):
    port = _free_port()
    spec = standin_spec(tmp_path / "spec", port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        r = cli("up", spec, "--target", "vllm", "--timeout", "30")
    assert r.exit_code == 1, r.output
    assert f"port {port} is already in use on 127.0.0.1" in r.stderr and "hint:" in r.stderr
    assert "Traceback" not in r.output
    assert daemon.find(engine, str(spec.resolve())) == []


def test_missing_image_that_cannot_be_pulled_is_a_clear_error(engine, cli, host_network, tmp_path):
    image = "127.0.0.1:9/deployc/absent:1"   # a registry on this host that is not there: no traffic leaves it
    spec = standin_spec(tmp_path / "spec", _free_port(), image=image)
    r = cli("up", spec, "--target", "vllm", "--timeout", "30")
    assert r.exit_code == 1, r.output
    assert f"cannot pull {image}" in r.stderr and "docker pull" in r.stderr
    assert "Traceback" not in r.output


def test_docker_not_reachable_is_a_clear_error(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    monkeypatch.setenv("STANDIN_KEY", SECRET)
    spec = standin_spec(tmp_path / "spec", 8000)
    for args in (["up", spec, "--target", "vllm"], ["down", spec], ["status", spec], ["logs", spec]):
        r = cli(*args)
        assert r.exit_code == 1, r.output
        assert "cannot reach the Docker engine" in r.stderr and "hint:" in r.stderr
        assert "Traceback" not in r.output


# ---------------------------------------------------------------------------------------------
# Setup steps and launch steps, run for real in the stand-in's image


@pytest.fixture
def with_steps(monkeypatch):
    """Test-only: the stand-in's Service gets setup and launch steps (no built-in target runs them in busybox).
    Everything else is the Service the vllm target lowers, run by the real `deployc up`."""
    from deployc.compiler import cli_up

    real = cli_up._compile

    def install(**fields):
        def compile_(spec, target, out):
            compiled, result = real(spec, target, out)
            svc = dataclasses.replace(result.lowered.service, **fields)
            return compiled, dataclasses.replace(result, lowered=dataclasses.replace(result.lowered, service=svc))

        monkeypatch.setattr(cli_up, "_compile", compile_)

    return install


CACHE = "/root/.cache/huggingface"   # the stand-in's (vllm's) cache mount; HF_HOME is its host side


def test_setup_and_launch_steps_lifecycle(engine, cli, host_network, with_steps, tmp_path, monkeypatch):
    from deployc.compiler.api.container import SERVER_URL, Launch

    hf = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(hf))
    with_steps(
        # in order, in the server's image, with its mounts and environment: the second sees the first's file
        setup=(("sh", "-c", f"echo built > {CACHE}/engine.txt"),
               ("sh", "-c", f'test -f {CACHE}/engine.txt && test -n "$VLLM_API_KEY" && echo checked >> '
                            f"{CACHE}/engine.txt")),
        # in the running server, from a folder holding the files, DEPLOYC_SERVER its URL
        launch=Launch(steps=(("wget", "-q", "-O", "health.txt", f"{SERVER_URL}/health"),
                             ("sh", "-c", f"cat model.txt health.txt > {CACHE}/launched.txt && "
                                          f'echo "$$TARGET_URL" >> {CACHE}/launched.txt')),
                      files=(("model.txt", "standin-model\n"),), env=(("TARGET_URL", SERVER_URL),),
                      persistent=False))
    port = _free_port()
    spec = standin_spec(tmp_path / "spec", port)
    name = "deployc-standin-chat-vllm"
    try:
        r = cli("up", spec, "--target", "vllm", "--timeout", "60")
        assert r.exit_code == 0, r.output
        assert (hf / "engine.txt").read_text() == "built\nchecked\n"
        assert (hf / "launched.txt").read_text() == f"standin-model\nok\nhttp://127.0.0.1:{port}\n"
        assert "setup 1/2: sh -c 'echo built > /root/.cache/huggingface/engine.txt'" in r.stderr
        assert "launch 1/2: wget -q -O health.txt '${DEPLOYC_SERVER}/health'" in r.stderr
        assert r.stderr.endswith(f"note: {name} holds its model only in memory: a restarted container comes "
                                 "back empty, and `deployc up` loads the model again\n")
        assert SECRET not in r.output
        [c] = daemon.find(engine, str(spec.resolve()))   # the setup containers are gone
        assert c.name == name and c.status == "running"
        assert c.labels[LABEL_LAUNCH] == "memory"

        (hf / "launched.txt").unlink()
        r = cli("up", spec, "--target", "vllm", "--timeout", "60")   # unchanged: nothing runs again
        assert r.exit_code == 0, r.output
        assert "setup steps skipped" in r.stderr and "launch steps skipped" in r.stderr
        assert not (hf / "launched.txt").exists()
        assert cli("status", spec).exit_code == 0

        c.restart(timeout=5)   # a server that holds its model in memory comes back empty
        r = cli("status", spec)
        assert r.exit_code == 1 and f"{name}: the model is not loaded" in r.stdout
        r = cli("up", spec, "--target", "vllm", "--timeout", "60")
        assert r.exit_code == 0, r.output
        assert "setup steps skipped" in r.stderr and "launch 2/2:" in r.stderr
        assert (hf / "launched.txt").exists() and daemon.find(engine, str(spec.resolve()))[0].id == c.id
        assert cli("status", spec).exit_code == 0

        r = cli("down", spec)
        assert r.exit_code == 0 and r.stdout == f"removed {name}\n"
    finally:
        for box in daemon.find(engine, str(spec.resolve())):
            box.remove(force=True)


def test_a_failing_setup_step_is_reported_and_nothing_is_left(engine, cli, host_network, with_steps, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    # both lines on one stream: Docker keeps no order between a container's stdout and stderr
    with_steps(setup=(("sh", "-c", "echo converting >&2; echo 'No space left on device' >&2; exit 3"),))
    spec = standin_spec(tmp_path / "spec", _free_port())
    r = cli("up", spec, "--target", "vllm", "--timeout", "60")
    assert r.exit_code == 1, r.output
    assert ("--- last lines of deployc-standin-chat-vllm-setup-1's log ---\nconverting\nNo space left on device\n---"
            in r.stderr)
    assert ("deployc: error: setup step 1/1 failed with exit code 3: sh -c 'echo converting >&2; echo '\"'\"'No space "
            "left on device'\"'\"' >&2; exit 3'; its container deployc-standin-chat-vllm-setup-1 was removed and the "
            "server was not started\n") in r.stderr
    assert "hint:" in r.stderr and "Traceback" not in r.output
    assert daemon.find(engine, str(spec.resolve())) == []


def test_a_failing_launch_step_keeps_the_server(engine, cli, host_network, with_steps, tmp_path):
    from deployc.compiler.api.container import SERVER_URL, Launch

    with_steps(launch=Launch(steps=(("wget", "-q", "-O", "-", f"{SERVER_URL}/no-such-model"),)))
    spec = standin_spec(tmp_path / "spec", _free_port())
    try:
        r = cli("up", spec, "--target", "vllm", "--timeout", "60")
        assert r.exit_code == 1, r.output
        assert "--- last lines of launch step 1's log ---\nwget: server returned error: HTTP/1.1 404 Not Found" \
            in r.stderr
        assert ("deployc: error: launch step 1/1 failed with exit code 1: wget -q -O - "
                "'${DEPLOYC_SERVER}/no-such-model'; the server deployc-standin-chat-vllm is still running, without "
                "the model\n") in r.stderr
        [c] = daemon.find(engine, str(spec.resolve()))
        assert c.status == "running"
        r = cli("status", spec)
        assert r.exit_code == 1 and "the model is not loaded" in r.stdout
    finally:
        for box in daemon.find(engine, str(spec.resolve())):
            box.remove(force=True)
