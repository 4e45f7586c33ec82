"""deployc up/down/status/logs without an engine: the Service -> container mapping (exact docker-py kwargs),
Compose interpolation, and every failure as a message with a hint (a fake docker client). The real engine
judges the same code in tests/conformance/test_up.py."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import dataclasses
import types
from importlib.metadata import EntryPoint

import docker.errors
import pytest

from deployc.compiler import driver
from deployc.compiler.registry import Registry
from deployc.compiler import registry as registry_module
from deployc.compiler.registry import GROUP
from deployc.compiler.runtime import clock, containers, daemon, health
from deployc.compiler.runtime.compose import duration_ns, interpolate, size_bytes
from deployc.compiler.runtime.containers import LABEL_DIGEST, LABEL_LAUNCH, LABEL_NAME, LABEL_ROLE, LABEL_SPEC, \
    LABEL_TARGET, LABEL_VERSION
from deployc.compiler.runtime.errors import RunError
from deployc.targets.vllm import VllmTarget

from conftest import ROOT

QWEN = ROOT / "samples" / "qwen2.5-7b-h100" / "deploy.yaml"
MISTRAL = ROOT / "samples" / "mistral-lora-tgi" / "deploy.yaml"
OLLAMA = ROOT / "samples" / "qwen2.5-0.5b-gguf-ollama" / "deploy.yaml"
HEALTH = ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:{}/health', "
          "timeout=5)"]


def service(spec: Path, target: str):
    done = driver.build(driver.Request(spec, [target]), Registry.discover())
    _compiled, [result] = done.compiled, done.results
    assert result.ok
    return result.lowered.service


def config(spec: Path, target: str, env: dict, compose_dir: str = "/srv/app/deploy/x") -> containers.Resolved:
    return containers.container_config(service(spec, target), env=env, compose_dir=compose_dir, name="n",
                                   labels={"l": "v"})


# ---------------------------------------------------------------------------------------------
# Service -> docker-py containers.create kwargs


def test_vllm_sample_maps_to_these_create_arguments():
    got = config(QWEN, "vllm", {"QWEN_API_KEY": "k3y", "HOME": "/home/u"})
    assert got.unset == []
    assert got.kwargs == {
        "image": "vllm/vllm-openai:v0.34.0",
        "name": "n",
        "command": ["Qwen/Qwen2.5-7B-Instruct", "--served-model-name", "qwen2.5-7b-instruct", "--dtype", "bfloat16",
                    "--max-model-len", "32768", "--max-num-seqs", "24",
                    "--max-num-batched-tokens", "8192", "--gpu-memory-utilization", "0.9", "--host", "0.0.0.0",
                    "--port", "8000"],
        "ports": {"8000/tcp": 8000},                     # "8000:8000": every interface
        "ipc_mode": "host",
        "environment": ["HF_TOKEN", "VLLM_API_KEY=k3y"],  # unset HF_TOKEN: a bare name, as Compose sends it
        "volumes": ["/home/u/.cache/huggingface:/root/.cache/huggingface:rw"],
        "device_requests": [{"driver": "nvidia", "count": 1, "capabilities": [["gpu"]]}],
        "healthcheck": {"test": [*HEALTH[:3], HEALTH[3].format(8000)], "interval": 30 * 10**9,
                        "timeout": 10 * 10**9, "retries": 3, "start_period": 1800 * 10**9},
        "restart_policy": {"Name": "unless-stopped"},
        "labels": {"l": "v"},
    }


def test_tgi_sample_shm_host_port_relative_bind_and_hf_home():
    got = config(MISTRAL, "tgi", {"MISTRAL_API_KEY": "k", "HF_TOKEN": "t", "HF_HOME": "/models/hf"},
                 compose_dir="/srv/app/deploy/tgi")
    kw = got.kwargs
    assert kw["ports"] == {"8080/tcp": ("127.0.0.1", 8080)}
    assert kw["shm_size"] == 1 << 30 and "ipc_mode" not in kw
    assert kw["environment"] == ["HF_TOKEN=t", "API_KEY=k", "LOG_LEVEL=info"]
    # ../../adapters/sql is relative to the compose file's folder, as Compose resolves it
    assert kw["volumes"] == ["/models/hf:/data:rw", "/srv/app/adapters/sql:/deployc/adapters/sql:ro"]
    assert kw["device_requests"] == [{"driver": "nvidia", "count": 2, "capabilities": [["gpu"]]}]
    assert "entrypoint" not in kw


def test_ollama_sample_has_its_own_cache_and_health_probe():
    kw = config(OLLAMA, "ollama", {"HOME": "/root"}).kwargs
    assert kw["volumes"] == ["/root/.ollama:/root/.ollama:rw"]
    assert kw["healthcheck"]["test"] == ["CMD", "ollama", "list"]
    assert kw["healthcheck"]["start_period"] == 300 * 10**9
    assert kw["command"] == ["serve"] and kw["ports"] == {"11434/tcp": ("127.0.0.1", 11434)}


def test_sglang_entrypoint_and_the_api_key_tail_from_the_environment():
    kw = config(QWEN, "sglang", {"QWEN_API_KEY": "s3cret", "HOME": "/h"}).kwargs
    assert kw["entrypoint"] and kw["command"][-2:] == ["--api-key", "s3cret"]


LMDEPLOY = ROOT / "samples" / "qwen2.5-7b-lmdeploy" / "deploy.yaml"
LLAMA_CPP = ROOT / "samples" / "qwen2.5-7b-gguf-llama-cpp" / "deploy.yaml"


def test_lmdeploy_sample_runs_the_cli_in_the_image_with_the_key_as_an_argument():
    """LMDeploy's image has no entrypoint: the command is the whole `lmdeploy serve api_server` argv, and the
    key (LMDeploy reads no variable for it) is the value of --api-keys, filled in from the caller's env."""
    kw = config(LMDEPLOY, "lmdeploy", {"QWEN_API_KEY": "k3y", "HOME": "/home/u"}).kwargs
    assert kw["image"] == "openmmlab/lmdeploy:v0.18.0-cu12.8" and "entrypoint" not in kw
    assert kw["command"][:4] == ["lmdeploy", "serve", "api_server", "Qwen/Qwen2.5-7B-Instruct"]
    assert kw["command"][-6:] == ["--server-name", "0.0.0.0", "--server-port", "23333", "--api-keys", "k3y"]
    assert kw["environment"] == ["HF_TOKEN"]          # the key is not in the environment
    assert kw["ports"] == {"23333/tcp": 23333}
    assert kw["device_requests"] == [{"driver": "nvidia", "count": 2, "capabilities": [["gpu"]]}]
    assert kw["volumes"] == ["/home/u/.cache/huggingface:/root/.cache/huggingface:rw"]
    assert kw["healthcheck"]["test"] == [*HEALTH[:3], HEALTH[3].format(23333)]
    with pytest.raises(RunError, match="required variable QWEN_API_KEY"):
        config(LMDEPLOY, "lmdeploy", {"HOME": "/home/u"})


def test_llama_cpp_sample_passes_the_key_by_name_and_probes_health_with_curl():
    kw = config(LLAMA_CPP, "llama-cpp", {"LLAMA_KEY": "k3y", "HOME": "/home/u", "HF_TOKEN": "t"}).kwargs
    assert kw["image"] == "ghcr.io/ggml-org/llama.cpp:server-cuda-b10454" and "entrypoint" not in kw
    assert kw["command"] == ["--hf-repo", "Qwen/Qwen2.5-7B-Instruct-GGUF:Q4_K_M", "--alias", "qwen2.5-7b-instruct",
                             "--ctx-size", "32768", "--parallel", "4", "--batch-size", "2048", "--gpu-layers", "all",
                             "--cache-type-k", "q8_0", "--cache-type-v", "q8_0", "--host", "0.0.0.0", "--port", "8080"]
    # llama-server reads LLAMA_API_KEY for --api-key; hub downloads land in the mounted cache
    assert kw["environment"] == ["HF_TOKEN=t", "LLAMA_CACHE=/root/.cache/huggingface/hub", "LLAMA_API_KEY=k3y"]
    assert kw["volumes"] == ["/home/u/.cache/huggingface:/root/.cache/huggingface:rw"]
    assert kw["healthcheck"]["test"] == ["CMD", "curl", "-f", "http://localhost:8080/health"]
    assert kw["ports"] == {"8080/tcp": 8080}


def test_llama_cpp_local_gguf_is_mounted_read_only(tmp_path):
    spec = tmp_path / "deploy.yaml"
    spec.write_text("apiVersion: deployc/v1\nname: local-gguf\nmodel:\n  source: ./weights/model.gguf\n"
                    "  served_name: local\nprecision:\n  quantization: gguf\nhardware:\n  gpu: RTX-4090\n"
                    "targets:\n  llama-cpp: {}\n")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "model.gguf").write_bytes(b"GGUF")
    kw = containers.container_config(service(spec, "llama-cpp"), env={"HOME": "/h"},
                                     compose_dir=str(tmp_path / "deploy" / "llama-cpp"), name="n", labels={}).kwargs
    assert kw["command"][:2] == ["--model", "/deployc/model.gguf"]
    assert f"{tmp_path}/weights/model.gguf:/deployc/model.gguf:ro" in kw["volumes"]


def test_amd_gpus_are_devices_not_device_requests(tmp_path):
    spec = tmp_path / "deploy.yaml"
    spec.write_text(QWEN.read_text().replace("gpu: H100-80GB", "gpu: MI300X").replace(
        "  vllm: {}", "  vllm: {image: vllm/vllm-openai-rocm:v0.33.0}"))
    kw = config(spec, "vllm", {"QWEN_API_KEY": "k"}).kwargs
    assert "device_requests" not in kw
    assert kw["devices"] == ["/dev/kfd:/dev/kfd:rwm", "/dev/dri:/dev/dri:rwm"]
    assert kw["group_add"] == ["video"] and kw["security_opt"] == ["seccomp=unconfined"]


def test_a_missing_api_key_names_the_variable_and_never_a_value():
    with pytest.raises(RunError) as exc:
        config(QWEN, "vllm", {"HF_TOKEN": "hf-secret"})
    assert exc.value.message == "required variable QWEN_API_KEY is not set: set QWEN_API_KEY to the API key"
    assert "hf-secret" not in exc.value.message + exc.value.hint


def test_the_service_is_read_never_the_spec():
    """Another target may bring a Service later: the runtime reads only its fields."""
    svc = service(QWEN, "vllm")
    svc2 = type(svc)(**{**svc.__dict__, "image": "other/image:1", "command": ("x",), "gpus": 3})
    kw = containers.container_config(svc2, env={"QWEN_API_KEY": "k"}, compose_dir="/c", name="n", labels={}).kwargs
    assert kw["image"] == "other/image:1" and kw["command"] == ["x"] and kw["device_requests"][0]["count"] == 3


# ---------------------------------------------------------------------------------------------
# Compose interpolation and units


@pytest.mark.parametrize("text, env, want", [
    ("plain", {}, "plain"),
    ("a$$b", {}, "a$b"),
    ("${A}", {"A": "1"}, "1"),
    ("$A-x", {"A": "1"}, "1-x"),
    ("${A:-d}", {}, "d"),
    ("${A:-d}", {"A": ""}, "d"),
    ("${A-d}", {"A": ""}, ""),
    ("${HF_HOME:-~/.cache/huggingface}", {}, "~/.cache/huggingface"),
    ("${A:-${B:-z}}", {}, "z"),
    ("${A:+alt}", {"A": "1"}, "alt"),
    ("${A:+alt}", {}, ""),
    ("${A:?need A}", {"A": "v"}, "v"),
])
def test_interpolation_follows_compose(text, env, want):
    assert interpolate(text, env) == want


def test_unset_references_are_reported_and_errors_name_the_variable():
    unset: list[str] = []
    assert interpolate("x${NOPE}y", {}, unset) == "xy" and unset == ["NOPE"]
    for text, env in (("${A:?}", {"A": ""}), ("${A?}", {})):
        with pytest.raises(RunError, match="required variable A"):
            interpolate(text, env)
    with pytest.raises(RunError, match="lone"):
        interpolate("a$", {})


def test_durations_and_sizes():
    assert duration_ns("30m0s") == duration_ns("30m") == 1800 * 10**9
    assert duration_ns("1m30s") == 90 * 10**9 and duration_ns("500ms") == 5 * 10**8
    assert size_bytes("1g") == 1 << 30 and size_bytes("512m") == 512 << 20
    with pytest.raises(ValueError):
        duration_ns("soon")


# ---------------------------------------------------------------------------------------------
# The CLI with a fake engine


class FakeContainer:
    def __init__(self, client, kwargs, status="created"):
        self.client, self.kwargs, self.status = client, kwargs, status
        self.name, self.id = kwargs["name"], f"id-{kwargs['name']}"
        self.labels = kwargs.get("labels", {})
        self.attrs = {"State": {"Status": status}, "RestartCount": 0, "Config": {"Image": kwargs["image"]},
                      "HostConfig": {"PortBindings": {}}}
        self.log = b"loading weights\nCUDA out of memory\n"
        self.files: dict[str, str] = {}

    def start(self):
        if self.client.start_error:
            raise docker.errors.APIError("500 Server Error", explanation=self.client.start_error)
        self.client.started.append(self.name)
        self.attrs["State"]["StartedAt"] = f"2026-01-01T00:00:{len(self.client.started):02d}Z"
        self._set("running")

    def wait(self):
        self._set("exited")
        return {"StatusCode": self.client.setup_exit.get(self.name, 0)}

    def put_archive(self, path, data):
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for m in tar.getmembers():
                if m.isfile():
                    self.files[f"{path.rstrip('/')}/{m.name}"] = tar.extractfile(m).read().decode()
        self.client.calls.append(("put_archive", self.name, path, sorted(
            m.name for m in tarfile.open(fileobj=io.BytesIO(data)).getmembers())))
        return True

    def get_archive(self, path):
        if path not in self.files:
            raise docker.errors.NotFound(f"Could not find the file {path} in container {self.name}")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            data = self.files[path].encode()
            info = tarfile.TarInfo(path.rsplit("/", 1)[-1])
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        return iter([buf.getvalue()]), {}

    def restart(self):
        self.start()

    def _set(self, status):
        self.status = status
        self.attrs["State"]["Status"] = status

    def reload(self):
        self.client.polls += 1
        if self.client.exit_after is not None and self.client.polls > self.client.exit_after:
            self._set("exited")
            self.attrs["State"]["ExitCode"] = 1

    def logs(self, tail="all", stream=False, follow=False):
        return iter([self.log]) if stream else self.log

    def stop(self, timeout=10):
        self._set("exited")

    def remove(self, force=False):
        self.client.removed.append(self.name)
        self.client.all.remove(self)


class FakeClock:
    """runtime.clock.CLOCK in these tests: a sleep advances it at once, and is recorded."""

    def __init__(self, now: float = 1000.0):
        self.now, self.slept = now, []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds

    def time(self):
        return 1767225600.0   # 2026-01-01T00:00:00Z


class FakeClient:
    def __init__(self):
        self.clock = FakeClock()
        self.all: list[FakeContainer] = []
        self.removed: list[str] = []
        self.created: list[dict] = []
        self.start_error = None
        self.exit_after = None
        self.polls = 0
        self.images_present = True
        self.pulled: list[str] = []
        self.pull_events = [{"error": "Get \"https://registry/v2/\": dial tcp: lookup registry: no such host"}]
        self.started: list[str] = []
        self.setup_exit: dict[str, int] = {}      # setup container name -> exit code
        self.exec_results: dict[str, tuple[int, bytes]] = {}   # argv[1] of a launch step -> (exit code, output)
        self.calls: list[tuple] = []               # put_archive and exec calls, in order
        self.containers, self.images, self.api = self._Containers(self), self._Images(self), self._Api(self)

    class _Containers:
        def __init__(self, c):
            self.c = c

        def create(self, **kw):
            if any(x.name == kw["name"] for x in self.c.all):
                raise docker.errors.APIError("409", explanation=f'Conflict. The container name "/{kw["name"]}" '
                                             "is already in use")
            self.c.created.append(kw)
            box = FakeContainer(self.c, kw)
            self.c.all.append(box)
            return box

        def get(self, name):
            for x in self.c.all:
                if x.name == name:
                    return x
            raise docker.errors.NotFound("no such container")

        def list(self, all=False, filters=None):
            want = dict(f.split("=", 1) for f in filters["label"])
            return [x for x in self.c.all if _match(x.labels, want)]

    class _Images:
        def __init__(self, c):
            self.c = c

        def get(self, image):
            if not self.c.images_present:
                raise docker.errors.ImageNotFound(f"No such image: {image}")

    class _Api:
        def __init__(self, c):
            self.c = c
            self.execs: dict[str, tuple[int, bytes]] = {}

        def exec_create(self, container, cmd, stdout=True, stderr=True, environment=None, workdir=None):
            self.c.calls.append(("exec", container, list(cmd), dict(environment or {}), workdir))
            exec_id = f"exec-{len(self.c.calls)}"
            self.execs[exec_id] = self.c.exec_results.get(cmd[1], (0, b"done\n"))
            return {"Id": exec_id}

        def exec_start(self, exec_id, stream=False):
            out = self.execs[exec_id][1]
            return iter([out[:5], out[5:]])   # lines split across chunks, as a stream may

        def exec_inspect(self, exec_id):
            return {"ExitCode": self.execs[exec_id][0], "Running": False}

        def pull(self, repo, tag=None, stream=True, decode=True):
            self.c.pulled.append(f"{repo}:{tag}")
            yield from self.c.pull_events
            if not any("error" in e for e in self.c.pull_events):
                self.c.images_present = True


def _match(labels, want):
    return all(labels.get(k) == v for k, v in want.items())


@pytest.fixture
def engine(monkeypatch):
    fake = FakeClient()
    monkeypatch.setattr(daemon, "connect", lambda env, timeout=60: fake)
    monkeypatch.setattr(health, "probe", lambda url, timeout=2.0: fake.polls >= 2)
    monkeypatch.setattr(clock, "CLOCK", fake.clock)
    monkeypatch.setenv("QWEN_API_KEY", "the-key-value")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return fake


def _free(host="0.0.0.0"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def local_spec(tmp_path, port, target="vllm", extra=""):
    spec = tmp_path / "deploy.yaml"
    spec.write_text(f"apiVersion: deployc/v1\nname: demo\nmodel:\n  source: Qwen/Qwen2.5-0.5B-Instruct\n"
                    f"server:\n  host: 127.0.0.1\n  port: {port}\n  api_key_env: QWEN_API_KEY\n"
                    f"hardware:\n  gpu: L4\ntargets:\n  {target}: {{}}\n{extra}")
    return spec


def test_up_waits_for_health_then_status_logs_and_down(engine, cli, tmp_path):
    spec = local_spec(tmp_path, _free("127.0.0.1"))
    r = cli("up", spec, "--target", "vllm")
    assert r.exit_code == 0, r.output
    assert "healthy after 2 s" in r.stdout and "the-key-value" not in r.output
    assert engine.clock.slept == [2.0]   # one poll interval, on the fake clock: no real sleep
    [kw] = engine.created
    assert kw["name"] == "deployc-demo-vllm"
    assert kw["labels"] == {LABEL_SPEC: str(spec.resolve()), LABEL_NAME: "demo",
                            LABEL_TARGET: "vllm", LABEL_VERSION: "0.34.0",
                            LABEL_DIGEST: kw["labels"][LABEL_DIGEST]}
    r = cli("status", spec)
    assert r.exit_code == 0 and "deployc-demo-vllm" in r.stdout and "running" in r.stdout
    r = cli("logs", spec)
    assert r.exit_code == 0 and "loading weights" in r.stdout
    r = cli("down", spec)
    assert r.exit_code == 0 and r.stdout == "removed deployc-demo-vllm\n"


def test_no_gpu_is_a_clear_error_and_the_container_goes(engine, cli, tmp_path):
    engine.start_error = 'could not select device driver "nvidia" with capabilities: [[gpu]]'
    r = cli("up", local_spec(tmp_path, _free("127.0.0.1")), "--target", "vllm")
    assert r.exit_code == 1
    assert r.stderr.startswith("--- last lines of deployc-demo-vllm's log ---") or "deployc: error:" in r.stderr
    assert 'Docker cannot give the container the NVIDIA GPUs it needs' in r.stderr
    assert "hint: this host has no NVIDIA GPU or no NVIDIA Container Toolkit" in r.stderr
    assert engine.removed == ["deployc-demo-vllm"] and engine.all == []


def test_port_already_allocated_by_the_engine(engine, cli, tmp_path):
    engine.start_error = ("driver failed programming external connectivity on endpoint x: Bind for "
                          "127.0.0.1:8000 failed: port is already allocated")
    r = cli("up", local_spec(tmp_path, _free("127.0.0.1")), "--target", "vllm")
    assert r.exit_code == 1 and "is taken on 127.0.0.1" in r.stderr and "hint: stop what listens" in r.stderr


def test_port_in_use_on_the_host_fails_before_creating(engine, cli, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = cli("up", local_spec(tmp_path, port), "--target", "vllm")
    assert r.exit_code == 1
    assert f"deployc: error: port {port} is already in use on 127.0.0.1" in r.stderr
    assert engine.created == []


def test_missing_image_that_cannot_be_pulled(engine, cli, tmp_path):
    engine.images_present = False
    r = cli("up", local_spec(tmp_path, _free("127.0.0.1")), "--target", "vllm")
    assert r.exit_code == 1
    assert "deployc: error: cannot pull vllm/vllm-openai:v0.34.0: Get" in r.stderr
    assert "docker pull vllm/vllm-openai:v0.34.0" in r.stderr and engine.created == []


def test_a_missing_image_is_pulled_with_progress(engine, cli, tmp_path):
    engine.images_present = False
    engine.pull_events = [{"status": "Pulling from vllm/vllm-openai", "id": "v0.34.0"},
                          {"status": "Downloading", "id": "l1", "progressDetail": {"current": 512 << 20,
                                                                                   "total": 1 << 30}},
                          {"status": "Downloading", "id": "l2", "progressDetail": {"current": 0, "total": 1 << 30}},
                          {"status": "Pull complete", "id": "l1"}, {"status": "Pull complete", "id": "l2"}]
    r = cli("up", local_spec(tmp_path, _free("127.0.0.1")), "--target", "vllm", "--no-wait")
    assert r.exit_code == 0, r.output
    assert engine.pulled == ["vllm/vllm-openai:v0.34.0"]
    assert r.stderr.startswith("pulling vllm/vllm-openai:v0.34.0 [........................] 0 B / 0 B Pulling")
    assert "pulled vllm/vllm-openai:v0.34.0 (2.0 GiB)\n" in r.stderr and len(engine.created) == 1


def test_an_engine_that_exits_prints_its_last_lines_and_what_to_try(engine, cli, tmp_path):
    engine.exit_after = 1
    r = cli("up", local_spec(tmp_path, _free("127.0.0.1")), "--target", "vllm")
    assert r.exit_code == 1
    assert "CUDA out of memory" in r.stderr and "the engine exited (exit code 1)" in r.stderr
    assert "hint: read the log lines above" in r.stderr
    assert engine.all[0].status == "exited"   # stopped, kept for `deployc logs`


def test_health_timeout_leaves_the_container_running_and_says_so(engine, cli, tmp_path, monkeypatch):
    monkeypatch.setattr(health, "probe", lambda url, timeout=2.0: False)
    r = cli("up", local_spec(tmp_path, _free("127.0.0.1")), "--target", "vllm", "--timeout", "0")
    assert r.exit_code == 1 and "did not answer within 0 s" in r.stderr and "raise --timeout" in r.stderr
    assert engine.clock.slept == [] and engine.all[0].status == "running"


def test_the_health_wait_polls_on_the_injected_clock(engine, cli, tmp_path, monkeypatch):
    """A 7 s timeout: polls at 0, 2, 4, 6 and 8 s of the fake clock, then the timeout, in no real time."""
    monkeypatch.setattr(health, "probe", lambda url, timeout=2.0: False)
    r = cli("up", local_spec(tmp_path, _free("127.0.0.1")), "--target", "vllm", "--timeout", "7")
    assert r.exit_code == 1 and "did not answer within 7 s (container running)" in r.stderr
    assert engine.clock.slept == [2.0] * 4 and engine.polls == 5


def test_wait_healthy_takes_its_clock_from_the_caller(monkeypatch):
    monkeypatch.setattr(health, "probe", lambda url, timeout=2.0: False)
    box = FakeContainer(FakeClient(), {"name": "n", "image": "i"}, status="running")
    fake = FakeClock(now=50.0)
    ticks = []
    with pytest.raises(RunError, match="did not answer within 3 s"):
        health.wait_healthy(box, "http://127.0.0.1:8000/health", 3, lambda t, state: ticks.append((t, state)),
                            clock=fake, interval=1.5)
    assert ticks == [(0.0, "running"), (1.5, "running"), (3.0, "running")] and fake.slept == [1.5, 1.5]


def test_a_foreign_container_with_our_name_is_refused_not_removed(engine, cli, tmp_path):
    engine.containers.create(name="deployc-demo-vllm", image="x", labels={})
    r = cli("up", local_spec(tmp_path, _free("127.0.0.1")), "--target", "vllm")
    assert r.exit_code == 1 and "was not started by deployc for this spec" in r.stderr
    assert engine.removed == []


def test_down_removes_only_deployc_containers_of_that_spec(engine, cli, tmp_path):
    spec = local_spec(tmp_path, 8000)
    mine = {LABEL_SPEC: str(spec.resolve()), LABEL_TARGET: "vllm"}
    engine.containers.create(name="a", image="x", labels=mine)
    engine.containers.create(name="b", image="x", labels={**mine, LABEL_SPEC: "/other/deploy.yaml"})
    engine.containers.create(name="c", image="x", labels={LABEL_TARGET: "vllm"})
    r = cli("down", spec)
    assert r.exit_code == 0 and engine.removed == ["a"]


def test_up_twice_keeps_a_running_container_of_the_same_spec(engine, cli, tmp_path):
    spec = local_spec(tmp_path, _free("127.0.0.1"))
    assert cli("up", spec, "--target", "vllm").exit_code == 0
    r = cli("up", spec, "--target", "vllm", "--no-wait")
    assert r.exit_code == 0 and "already running" in r.stderr and len(engine.created) == 1
    r = cli("up", spec, "--target", "vllm", "--no-wait", "--force-recreate")
    assert r.exit_code == 0 and "removing deployc-demo-vllm (--force-recreate)" in r.stderr
    assert len(engine.created) == 2


class Scripted(VllmTarget):
    """A plugin target that writes only scripts: lowered without a Service (every built-in target has one)."""

    name = "scripted"

    def lower(self, *args, **kwargs):
        return dataclasses.replace(super().lower(*args, **kwargs), service=None)


@pytest.fixture
def scripted_plugin(monkeypatch):
    module = types.ModuleType("fake_scripted_plugin")
    module.Scripted = Scripted
    monkeypatch.setitem(sys.modules, "fake_scripted_plugin", module)
    builtin = list(registry_module.entry_points(group=GROUP))
    points = builtin + [EntryPoint("scripted", "fake_scripted_plugin:Scripted", GROUP)]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: points if group == GROUP else [])


def test_targets_without_a_container_are_a_usage_error_naming_those_with_one(cli, scripted_plugin, tmp_path):
    spec = tmp_path / "deploy.yaml"
    spec.write_text(QWEN.read_text().replace("  vllm: {}", "  vllm: {}\n  scripted: {}"))
    r = cli("up", spec, "--target", "scripted")
    assert r.exit_code == 2, r.output
    assert "target scripted has no engine container deployc can start; targets that can run this spec: " \
           "lmdeploy, sglang, tgi, vllm, xinference (`deployc build --target scripted` writes scripted's own launch " \
           "scripts)" in r.stderr


def test_a_multi_node_spec_says_how_to_start_it_instead(cli):
    r = cli("up", Path(__file__).parent.parent / "samples" / "llama-3.1-70b-vllm-2x8" / "deploy.yaml", "--target", "vllm")
    assert r.exit_code == 2, r.output
    assert ("spans 2 nodes and `deployc up` starts one container on this machine; run the node scripts "
            "`deployc build --target vllm` writes (serve.sh, serve-worker.sh) on each node, or deploy it with "
            "`deployc build --target vllm --platform kubernetes`") in r.stderr


def test_docker_not_reachable(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    monkeypatch.setenv("QWEN_API_KEY", "k")
    for args in (["up", local_spec(tmp_path, 8000), "-t", "vllm"], ["status", QWEN], ["down", QWEN],
                 ["logs", QWEN]):
        r = cli(*args)
        assert r.exit_code == 1, r.output
        assert r.stderr.startswith(f"deployc: error: cannot reach the Docker engine at unix://{tmp_path}/none.sock")
        assert "hint: start Docker" in r.stderr


def test_other_commands_never_import_docker():
    code = ("import sys; from typer.testing import CliRunner; from deployc.compiler.cli import app; "
            f"r = CliRunner().invoke(app, ['validate', {str(QWEN)!r}]); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in sys.modules if m == 'docker' or m.startswith(('docker.', 'deployc.compiler.runtime'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# Setup steps (TensorRT-LLM's engine build) and launch steps (Ollama, XInference)

TRTLLM = ROOT / "samples" / "qwen2.5-14b-fp8-tp2-pp2" / "deploy.yaml"
XINFERENCE = ROOT / "samples" / "qwen2.5-7b-h100" / "deploy.yaml"


@pytest.fixture
def no_port_check(monkeypatch):
    monkeypatch.setattr(daemon, "check_port_free", lambda host, port: None)   # the samples' fixed ports


def test_setup_steps_run_in_one_shot_containers_before_the_server(engine, cli, no_port_check, monkeypatch):
    monkeypatch.setenv("HOME", "/home/u")
    r = cli("up", TRTLLM, "--target", "tensorrt-llm")
    assert r.exit_code == 0, r.output
    server = config(TRTLLM, "tensorrt-llm", {"HOME": "/home/u"},
                    compose_dir=str(ROOT / "samples" / "qwen2.5-14b-fp8-tp2-pp2" / "deploy" / "tensorrt-llm")).kwargs
    name = "deployc-qwen14-fp8-tensorrt-llm"
    setup = list(service(TRTLLM, "tensorrt-llm").setup)
    assert len(setup) == 3 and [c["name"] for c in engine.created] == [f"{name}-setup-1", f"{name}-setup-2",
                                                                       f"{name}-setup-3", name]
    labels = engine.created[-1]["labels"]
    for i, (kw, argv) in enumerate(zip(engine.created, setup), 1):
        assert kw == {"image": "nvcr.io/nvidia/tensorrt-llm/release:0.19.0", "name": f"{name}-setup-{i}",
                      "entrypoint": list(argv), "ipc_mode": "host", "environment": ["HF_TOKEN"],
                      "volumes": server["volumes"], "device_requests": server["device_requests"],
                      "restart_policy": {"Name": "no"}, "labels": {**labels, LABEL_ROLE: "setup"}}
    assert engine.created[0]["entrypoint"][:3] == ["huggingface-cli", "download", "Qwen/Qwen2.5-14B-Instruct"]
    assert engine.created[-1]["command"] == server["command"] and "entrypoint" not in engine.created[-1]
    assert engine.started == [c["name"] for c in engine.created]          # each step ran, in order
    assert engine.removed == [f"{name}-setup-{i}" for i in (1, 2, 3)]     # and went again
    assert "setup 1/3: huggingface-cli download Qwen/Qwen2.5-14B-Instruct --revision main" in r.stderr
    assert "setup 3/3: trtllm-build --checkpoint_dir /deployc/work/checkpoint" in r.stderr
    assert "setup 3/3: done in" in r.stderr and "healthy after" in r.stdout

    r = cli("up", TRTLLM, "--target", "tensorrt-llm")   # kept: no second build
    assert r.exit_code == 0, r.output
    assert "setup steps skipped: deployc-qwen14-fp8-tensorrt-llm already runs this spec" in r.stderr
    assert len(engine.created) == 4
    r = cli("down", TRTLLM)
    assert r.stdout == f"removed {name}\n"


def test_a_failing_setup_step_prints_its_log_removes_it_and_starts_nothing(engine, cli, no_port_check):
    name = "deployc-qwen14-fp8-tensorrt-llm"
    engine.setup_exit[f"{name}-setup-2"] = 137
    r = cli("up", TRTLLM, "--target", "tensorrt-llm")
    assert r.exit_code == 1
    assert r.stderr.index(f"--- last lines of {name}-setup-2's log ---\nloading weights\nCUDA out of memory\n---\n") \
        < r.stderr.index("deployc: error: setup step 2/3 failed with exit code 137: python3 "
                         "/app/tensorrt_llm/examples/quantization/quantize.py --model_dir")
    assert f"its container {name}-setup-2 was removed and the server was not started\n" in r.stderr
    assert "  hint: read its last lines above; typical causes: a missing HF_TOKEN" in r.stderr
    assert "run `deployc up` again: setup runs again from its first step" in r.stderr
    assert [c["name"] for c in engine.created] == [f"{name}-setup-1", f"{name}-setup-2"]
    assert engine.all == [] and engine.removed == [f"{name}-setup-1", f"{name}-setup-2"]


def test_a_setup_step_that_cannot_get_gpus_is_the_gpu_error(engine, cli, no_port_check):
    engine.start_error = 'could not select device driver "nvidia" with capabilities: [[gpu]]'
    r = cli("up", TRTLLM, "--target", "tensorrt-llm")
    assert r.exit_code == 1
    assert "deployc: error: setup step 1/3 (huggingface-cli) could not start: Docker cannot give the container the " \
           "NVIDIA GPUs" in r.stderr and engine.all == []


def test_a_leftover_setup_container_is_removed_by_up_and_by_down(engine, cli, no_port_check):
    spec = str(TRTLLM.resolve())
    engine.containers.create(name="deployc-qwen14-fp8-tensorrt-llm-setup-3", image="x",
                             labels={LABEL_SPEC: spec, LABEL_TARGET: "tensorrt-llm",
                                     LABEL_ROLE: "setup"})
    r = cli("down", TRTLLM)
    assert r.stdout == "removed deployc-qwen14-fp8-tensorrt-llm-setup-3\n"
    engine.containers.create(name="deployc-qwen14-fp8-tensorrt-llm-setup-3", image="x",
                             labels={LABEL_SPEC: spec, LABEL_TARGET: "tensorrt-llm",
                                     LABEL_ROLE: "setup"})
    r = cli("up", TRTLLM, "--target", "tensorrt-llm", "--no-wait")
    assert r.exit_code == 0, r.output
    assert "removing deployc-qwen14-fp8-tensorrt-llm-setup-3 (a setup step left from an earlier up)" \
        in r.stderr


def test_ollama_launch_copies_the_files_and_execs_create_in_the_server(engine, cli, no_port_check):
    name = "deployc-qwen-edge-ollama"
    svc = service(OLLAMA, "ollama")
    r = cli("up", OLLAMA, "--target", "ollama")
    assert r.exit_code == 0, r.output
    [kw] = engine.created
    assert kw["labels"][LABEL_LAUNCH] == "persistent"
    url = "http://127.0.0.1:11434"
    assert engine.calls == [
        ("put_archive", name, "/", ["tmp/deployc-launch", "tmp/deployc-launch/.deployc-launched",
                                    "tmp/deployc-launch/Modelfile"]),
        ("exec", f"id-{name}", ["ollama", "create", "qwen-edge", "-f", "Modelfile"],
         {"DEPLOYC_SERVER": url, "OLLAMA_HOST": url}, "/tmp/deployc-launch"),
        ("put_archive", name, "/", ["tmp/deployc-launch", "tmp/deployc-launch/.deployc-launched"]),
    ]
    files = engine.all[0].files
    assert files["/tmp/deployc-launch/Modelfile"] == dict(svc.launch.files)["Modelfile"]
    assert files["/tmp/deployc-launch/.deployc-launched"] == "2026-01-01T00:00:01Z\n"
    assert "launch 1/1: ollama create qwen-edge -f Modelfile\n" in r.stderr and "launch 1/1: done in" in r.stderr
    assert "holds its model only in memory" not in r.output

    r = cli("up", OLLAMA, "--target", "ollama")   # unchanged and launched: nothing runs again
    assert r.exit_code == 0 and "launch steps skipped: deployc-qwen-edge-ollama already holds the model" in r.stderr
    assert len(engine.calls) == 3
    r = cli("status", OLLAMA)
    assert r.exit_code == 0 and "not loaded" not in r.stdout


def test_a_failing_launch_step_keeps_the_server_and_says_how_to_retry(engine, cli, no_port_check):
    name = "deployc-qwen-edge-ollama"
    engine.exec_results["create"] = (1, b"gathering model components\nError: pull model manifest: file does not "
                                        b"exist\n")
    r = cli("up", OLLAMA, "--target", "ollama")
    assert r.exit_code == 1
    assert ("--- last lines of launch step 1's log ---\ngathering model components\nError: pull model manifest: "
            "file does not exist\n---\n") in r.stderr
    assert (f"deployc: error: launch step 1/1 failed with exit code 1: ollama create qwen-edge -f Modelfile; the "
            f"server {name} is still running, without the model\n") in r.stderr
    assert "hint: read its output above (`deployc logs` has the server's side); fix the cause, then run `deployc " \
           "up` again: it keeps the running server and repeats the launch steps" in r.stderr
    assert engine.all[0].status == "running" and engine.removed == []
    r = cli("status", OLLAMA)
    assert r.exit_code == 1
    assert f"{name}: the model is not loaded (its launch steps have not run since the container started): " \
           f"`deployc up {OLLAMA} --target ollama` loads it" in r.stdout

    engine.exec_results.clear()
    r = cli("up", OLLAMA, "--target", "ollama")   # the retry: same server, the launch again
    assert r.exit_code == 0, r.output
    assert "already running this spec" in r.stderr and "launch 1/1: ollama create" in r.stderr
    assert len(engine.created) == 1 and cli("status", OLLAMA).exit_code == 0


def test_xinference_launch_with_the_key_from_the_environment_and_the_memory_note(engine, cli, no_port_check):
    name = "deployc-qwen-chat-xinference"
    r = cli("up", XINFERENCE, "--target", "xinference")
    assert r.exit_code == 0, r.output
    [kw] = engine.created
    assert kw["labels"][LABEL_LAUNCH] == "memory"
    [put, exe, _mark] = engine.calls
    assert put == ("put_archive", name, "/", ["tmp/deployc-launch", "tmp/deployc-launch/.deployc-launched"])
    argv = exe[2]
    assert argv[:4] == ["xinference", "launch", "--endpoint", "http://127.0.0.1:8000"]
    assert argv[-2:] == ["--api-key", "the-key-value"] and exe[3] == {"DEPLOYC_SERVER": "http://127.0.0.1:8000"}
    # what is printed names the variable, never its value
    assert "launch 1/1: xinference launch --endpoint '${DEPLOYC_SERVER}' --model-name qwen2.5-instruct" in r.stderr
    assert "--api-key '${QWEN_API_KEY:?set QWEN_API_KEY to the API key}'" in r.stderr
    assert "the-key-value" not in r.output
    note = (f"note: {name} holds its model only in memory: a restarted container comes back empty, and `deployc up` "
            "loads the model again\n")
    assert r.stderr.endswith(note)
    r = cli("status", XINFERENCE)
    assert r.exit_code == 0 and r.stdout.endswith(note)

    engine.all[0].restart()   # back empty: status says so, and up launches again (not twice in one server life)
    r = cli("status", XINFERENCE)
    assert r.exit_code == 1 and "the model is not loaded" in r.stdout
    r = cli("up", XINFERENCE, "--target", "xinference")
    assert r.exit_code == 0 and "launch 1/1: xinference launch" in r.stderr and len(engine.calls) == 6
    r = cli("up", XINFERENCE, "--target", "xinference")
    assert r.exit_code == 0 and "launch steps skipped" in r.stderr and len(engine.calls) == 6


def test_a_missing_key_of_a_launch_step_fails_before_anything_starts(engine, cli, no_port_check, monkeypatch):
    monkeypatch.delenv("QWEN_API_KEY")
    r = cli("up", XINFERENCE, "--target", "xinference")
    assert r.exit_code == 1
    assert "deployc: error: required variable QWEN_API_KEY is not set: set QWEN_API_KEY to the API key" in r.stderr
    assert engine.created == []


def test_a_failing_xinference_launch(engine, cli, no_port_check):
    engine.exec_results["launch"] = (1, b"RuntimeError: Failed to launch model, detail: [address=0.0.0.0:1]\n")
    r = cli("up", XINFERENCE, "--target", "xinference")
    assert r.exit_code == 1
    assert "RuntimeError: Failed to launch model" in r.stderr
    assert "deployc: error: launch step 1/1 failed with exit code 1: xinference launch --endpoint" in r.stderr
    assert "the-key-value" not in r.output and engine.all[0].status == "running"


def test_no_wait_says_the_model_is_not_loaded(engine, cli, no_port_check):
    r = cli("up", OLLAMA, "--target", "ollama", "--no-wait")
    assert r.exit_code == 0
    assert "deployc-qwen-edge-ollama: the model is not loaded: --no-wait skips the launch steps" in r.stderr
    assert engine.calls == []
