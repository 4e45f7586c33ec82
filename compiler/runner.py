"""`deployc up/down/status/logs`: the engine container of a target, run through the Docker Engine API.

The container is made from the target's ``Lowered.service`` (targets/_shared/container.Service),
the same object its compose.yaml is written from, read by attribute: the core never imports a
target. ``container_config`` maps it to docker-py's ``containers.create`` keyword arguments the way
Docker Compose v2 maps the compose file (docker/compose pkg/compose/create.go: getCreateConfigs,
setReservations, buildContainerVolumes, buildContainerPortBindingOptions), resolving what Compose
resolves from the caller's environment at `up` time: `${NAME:?...}` command tokens, `${NAME}` in
environment values, `${HF_HOME:-~/...}` and `~` in bind sources, relative sources against the
compose file's folder. No value read from the environment is printed, logged or written.

docker is imported only inside ``connect``: other commands never load it. Nothing here prints:
progress goes to the callbacks the CLI passes, failures are ``RunError`` (message, hint, logs).
"""

from __future__ import annotations

import errno
import io
import os
import re
import shlex
import socket
import tarfile
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from compiler.target_api import SERVER_ENV

LABEL_SPEC = "io.deployc.spec"        # absolute path of the deploy.yaml
LABEL_NAME = "io.deployc.name"        # the spec's name
LABEL_TARGET = "io.deployc.target"
LABEL_VERSION = "io.deployc.version"  # engine version
LABEL_DIGEST = "io.deployc.digest"    # sha256 of the spec's data: a changed spec recreates the container
LABEL_ROLE = "io.deployc.role"        # "setup" on a setup step's one-shot container; absent on the server
LABEL_LAUNCH = "io.deployc.launch"    # on a server that starts empty: "persistent" or "memory" (Launch.persistent)

LOG_LINES = 40


class RunError(Exception):
    """A failure to report as `deployc: error: message`, `hint: ...`, then the container's last log lines."""

    def __init__(self, message: str, hint: str | None = None, logs: str | None = None, source: str | None = None):
        super().__init__(message)
        self.message, self.hint, self.logs, self.source = message, hint, logs, source   # source: whose logs


# ---------------------------------------------------------------------------------------------
# Compose interpolation (compose-spec interpolation.md; compose-go template/template.go)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def interpolate(text: str, env: Mapping[str, str], unset: list[str] | None = None) -> str:
    """Compose's interpolation: `$$` is `$`; `$NAME`, `${NAME}` (unset: empty, and the name is added
    to unset, which Compose warns about); `${NAME:-default}` / `${NAME-default}`; `${NAME:?err}` /
    `${NAME?err}` (a RunError naming NAME, never a value); `${NAME:+alt}` / `${NAME+alt}`. The colon
    forms treat an empty value as unset. Defaults may hold references themselves."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing(text, i + 2)
            out.append(_braced(text[i + 2:end], env, unset, text))
            i = end + 1
        else:
            m = _NAME.match(text, i + 1)
            if not m:
                raise RunError(f"invalid interpolation format in {text!r}: a lone `$`",
                               hint="write `$$` for a literal dollar sign, as in a Compose file")
            out.append(_lookup(m.group(), env, unset))
            i = m.end()
    return "".join(out)


def _closing(text: str, start: int) -> int:
    depth, i = 1, start
    while i < len(text):
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise RunError(f"invalid interpolation format in {text!r}: `${{` is never closed")


def _lookup(name: str, env: Mapping[str, str], unset: list[str] | None) -> str:
    if name not in env and unset is not None and name not in unset:
        unset.append(name)
    return env.get(name, "")


def _braced(body: str, env: Mapping[str, str], unset: list[str] | None, text: str) -> str:
    m = _NAME.match(body)
    if not m:
        raise RunError(f"invalid interpolation format in {text!r}")
    name, rest = m.group(), body[m.end():]
    value = env.get(name)
    if rest == "":
        return _lookup(name, env, unset)
    for op in (":-", "-", ":?", "?", ":+", "+"):
        if rest.startswith(op):
            arg = rest[len(op):]
            present = value is not None and (value != "" or ":" not in op)
            if op in (":-", "-"):
                return value if present else interpolate(arg, env, unset)
            if op in (":?", "?"):
                if not present:
                    raise RunError(f"required variable {name} is {'empty' if value == '' else 'not set'}"
                                   + (f": {interpolate(arg, env, unset)}" if arg else ""),
                                   hint=f"export {name} in the shell that runs deployc (the same variable "
                                        "`docker compose up` would read); deployc never stores its value")
                return value
            return interpolate(arg, env, unset) if present else ""
    raise RunError(f"invalid interpolation format in {text!r}")


# ---------------------------------------------------------------------------------------------
# Compose values -> Engine API values

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def duration_ns(text: str) -> int:
    """A Compose duration (Go's time.ParseDuration: `1m30s`, `30m`) in nanoseconds, as HealthConfig takes it."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return round(sum(float(n) * _UNITS_NS[u] for n, u in parts))


def size_bytes(text: str) -> int:
    """A Compose byte size (`1g`, `512m`; docker/go-units RAMInBytes: binary multiples) in bytes."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgtp]?)b?", text.strip().lower())
    if not m:
        raise ValueError(f"not a size: {text!r}")
    return int(float(m.group(1)) * 1024 ** "bkmgtp".index(m.group(2) or "b"))


def bind_source(source: str, env: Mapping[str, str], compose_dir: str, unset: list[str] | None = None) -> str:
    """A bind-mount source as Compose resolves it: interpolated, `~` is the caller's home, a relative
    path is relative to the compose file's folder (compose-go paths/resolve.go: absolute, cleaned)."""
    path = interpolate(source, env, unset)
    if path == "~" or path.startswith("~/"):
        path = (env.get("HOME") or os.path.expanduser("~")) + path[1:]
    if not os.path.isabs(path):
        path = os.path.join(compose_dir, path)
    return os.path.normpath(path)


def health_url(svc: Any) -> str:
    """The health route as the host reaches it through the published port."""
    ip = svc.host_ip
    if ip is None:
        ip = "127.0.0.1"
    elif ":" in ip:
        ip = f"[{ip}]"
    return f"http://{ip}:{svc.port}{svc.health_path}"


@dataclass
class Resolved:
    """container_config's answer: docker-py keyword arguments, and the `${NAME}` references that were unset."""

    kwargs: dict
    unset: list[str] = field(default_factory=list)


def container_name(svc: Any, target: str) -> str:
    return f"deployc-{svc.name}-{target}"


def labels(svc: Any, *, spec_path: str, target: str, version: str, digest: str) -> dict[str, str]:
    out = {LABEL_SPEC: spec_path, LABEL_NAME: svc.project, LABEL_TARGET: target, LABEL_VERSION: version,
           LABEL_DIGEST: digest}
    launch = getattr(svc, "launch", None)
    if launch is not None:
        out[LABEL_LAUNCH] = "persistent" if launch.persistent else "memory"
    return out


def container_config(svc: Any, *, env: Mapping[str, str], compose_dir: str, name: str,
                     labels: Mapping[str, str]) -> Resolved:
    """docker-py `containers.create(**kwargs)` for a Service, as Compose would create it from compose.yaml.

    env: the caller's environment (os.environ), read for `${NAME}` references and pass-through names.
    compose_dir: the absolute folder compose.yaml is written to (relative bind sources start there).
    """
    unset: list[str] = []
    set_names = {k for k, _ in svc.env_set}
    environment = [f"{n}={env[n]}" if n in env else n   # a bare name removes it (Engine API: ContainerConfig.Env)
                   for n in svc.env_pass if n not in set_names]
    environment += [f"{k}={interpolate(v, env, unset)}" for k, v in svc.env_set]
    kwargs: dict[str, Any] = {"image": svc.image, "name": name}
    if svc.entrypoint is not None:
        kwargs["entrypoint"] = list(svc.entrypoint)
    kwargs["command"] = list(svc.command) + [interpolate(t, env, unset) for t in svc.command_tail]
    ip = svc.host_ip
    kwargs["ports"] = {f"{svc.port}/tcp": svc.port if ip is None else (ip, svc.port)}
    if svc.shm_size:
        kwargs["shm_size"] = size_bytes(svc.shm_size)
    else:
        kwargs["ipc_mode"] = "host"
    kwargs["environment"] = environment
    kwargs["volumes"] = [f"{bind_source(v.source, env, compose_dir, unset)}:{v.target}:{'ro' if v.read_only else 'rw'}"
                         for v in (svc.cache, *svc.volumes)]
    if svc.amd:
        kwargs["devices"] = ["/dev/kfd:/dev/kfd:rwm", "/dev/dri:/dev/dri:rwm"]
        kwargs["group_add"] = ["video"]
        kwargs["security_opt"] = ["seccomp=unconfined"]
    else:
        kwargs["device_requests"] = [{"driver": "nvidia", "count": svc.gpus, "capabilities": [["gpu"]]}]
    kwargs["healthcheck"] = {"test": svc.health_command, "interval": duration_ns(svc.health_interval),
                             "timeout": duration_ns(svc.health_timeout), "retries": svc.health_retries,
                             "start_period": duration_ns(svc.start_period)}
    kwargs["restart_policy"] = {"Name": svc.restart}
    kwargs["labels"] = dict(labels)
    return Resolved(kwargs, unset)


# ---------------------------------------------------------------------------------------------
# The engine


def docker_host(env: Mapping[str, str]) -> str:
    return env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(env: Mapping[str, str], timeout: int = 60):
    """A docker-py client for DOCKER_HOST (docker.from_env), or a RunError saying how to get one."""
    try:
        import docker
        import docker.errors
    except ImportError as exc:   # pragma: no cover - a dependency of deployc
        raise RunError(f"the docker package is missing ({exc})", hint="pip install 'docker>=7.1,<8'")
    try:
        return docker.DockerClient.from_env(timeout=timeout, environment=dict(env))
    except docker.errors.DockerException as exc:
        raise RunError(f"cannot reach the Docker engine at {docker_host(env)}: {_reason(exc)}",
                       hint="start Docker (e.g. `sudo systemctl start docker`), or point DOCKER_HOST at a running "
                            "engine; a permission error means your user is not in the docker group") from None


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "explanation", None) or exc)
    for marker in ("FileNotFoundError", "ConnectionRefusedError", "PermissionError"):
        if marker in text:
            return {"FileNotFoundError": "no such socket", "ConnectionRefusedError": "connection refused",
                    "PermissionError": "permission denied"}[marker]
    return text.strip().removeprefix("Error while fetching server API version: ")


def api_error(exc: BaseException, *, image: str = "", port: int | None = None, host: str | None = None) -> RunError:
    """An Engine API error as a message and a hint (the daemon's own words kept)."""
    text = str(getattr(exc, "explanation", None) or exc)
    low = text.lower()
    if "could not select device driver" in low:
        return RunError("Docker cannot give the container the NVIDIA GPUs it needs (no NVIDIA GPU or container "
                        f"runtime on this host): {text}",
                        hint="this host has no NVIDIA GPU or no NVIDIA Container Toolkit: install it "
                             "(nvidia-ctk runtime configure --runtime=docker, then restart Docker) and check "
                             "`docker run --rm --gpus all ubuntu nvidia-smi`, or run on a host with GPUs")
    if "port is already allocated" in low or "address already in use" in low:
        return RunError(f"port {port} is taken on {host or 'this host'}: {text}",
                        hint=_port_hint(port))
    if "no such image" in low or ("not found" in low and image and image in text):
        return RunError(f"image {image} is not available: {text}", hint=_pull_hint(image))
    if "conflict" in low and "already in use" in low:
        return RunError(f"a container name is taken: {text}",
                        hint="remove that container (`docker rm -f NAME`) or rename the spec")
    return RunError(f"the Docker engine refused: {text}", hint="see the message above; `docker info` shows the engine")


def _port_hint(port: int | None) -> str:
    return (f"stop what listens on port {port} (`ss -ltnp 'sport = :{port}'` shows it), or change server.port "
            "in the spec")


def _pull_hint(image: str) -> str:
    return (f"check the image name and tag, that this host reaches its registry, and `docker login` for a private "
            f"one; or bring the image in yourself (`docker pull {image}` or `docker load`) and run up again")


def check_port_free(host: str | None, port: int) -> None:
    """Fail before creating anything when the published port is taken on the host."""
    ip = host or "0.0.0.0"
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise RunError(f"port {port} is already in use on {ip}", hint=_port_hint(port)) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise RunError(f"server.host {ip} is not an address of this machine",
                               hint="use 0.0.0.0, 127.0.0.1 or an address `ip addr` lists") from None
            # EACCES (a low port as non-root) and the like: the engine publishes it, not us


def find(client, spec_path: str, target: str | None = None) -> list:
    """deployc's containers for a spec (and target), running or not."""
    wanted = [f"{LABEL_SPEC}={spec_path}"] + ([f"{LABEL_TARGET}={target}"] if target else [])
    return sorted(client.containers.list(all=True, filters={"label": wanted}),
                  key=lambda c: (c.labels.get(LABEL_TARGET, ""), c.name))


def tail(container, lines: int = LOG_LINES) -> str:
    try:
        return container.logs(tail=lines).decode("utf-8", "replace").rstrip()
    except Exception:   # the container may be gone: its logs are a courtesy
        return ""


def ensure_image(client, image: str, progress: Callable[[str, int, int], None]) -> bool:
    """Pull image when the engine lacks it; progress(status, done_bytes, total_bytes). True: pulled."""
    import docker.errors

    try:
        client.images.get(image)
        return False
    except docker.errors.ImageNotFound:
        pass
    except docker.errors.APIError as exc:
        raise api_error(exc, image=image) from None
    repo, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
    layers: dict[str, tuple[int, int]] = {}
    try:
        for event in client.api.pull(repo, tag=tag or None, stream=True, decode=True):
            if "error" in event:
                raise RunError(f"cannot pull {image}: {event['error']}", hint=_pull_hint(image))
            detail = event.get("progressDetail") or {}
            if event.get("id") and detail.get("total"):
                layers[event["id"]] = (detail.get("current", 0), detail["total"])
            elif event.get("id") and event.get("status") in ("Pull complete", "Already exists") \
                    and event["id"] in layers:
                layers[event["id"]] = (layers[event["id"]][1],) * 2
            progress(event.get("status", ""), sum(c for c, _ in layers.values()), sum(t for _, t in layers.values()))
    except docker.errors.APIError as exc:
        raise RunError(f"cannot pull {image}: {exc.explanation or exc}", hint=_pull_hint(image)) from None
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise RunError(f"cannot pull {image}: the engine reported no error but has no such image",
                       hint=_pull_hint(image)) from None
    return True


def create_and_start(client, resolved: Resolved, *, host: str | None, port: int | None):
    """Create the container and start it; a start failure removes it again and says why.
    host, port: where the engine listens on this host (checked free first; None: no check)."""
    import docker.errors

    kw = resolved.kwargs
    if port is not None:
        check_port_free(host, port)
    try:
        container = client.containers.create(**kw)
    except docker.errors.ImageNotFound as exc:
        raise RunError(f"image {kw['image']} is not available: {exc.explanation or exc}",
                       hint=_pull_hint(kw["image"])) from None
    except docker.errors.APIError as exc:
        raise api_error(exc, image=kw["image"], port=port, host=host) from None
    try:
        container.start()
    except docker.errors.APIError as exc:
        err = api_error(exc, image=kw["image"], port=port, host=host)
        err.logs = tail(container)
        err.message += f" (the container {kw['name']} was removed again)"
        _remove(container)
        raise err from None
    return container


def _remove(container) -> None:
    try:
        container.remove(force=True)
    except Exception:   # already gone
        pass


def remove(containers: list) -> list[str]:
    names = []
    for c in containers:
        _remove(c)
        names.append(c.name)
    return names


def state(container) -> tuple[str, str | None]:
    """(status, health) from the engine: running/exited/restarting/..., healthy/unhealthy/starting/None."""
    st = container.attrs.get("State", {})
    health = (st.get("Health") or {}).get("Status")
    return st.get("Status", container.status), health


def probe(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:   # noqa: S310 - our own server on this host
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(container, url: str, timeout: float, tick: Callable[[float, str], None],
                 interval: float = 2.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> float:
    """Poll the health route from the host (or the engine's health status) until it answers; fail early
    when the container stops or restarts. tick(elapsed, state) after every poll. Returns the seconds waited."""
    import docker.errors

    start = clock()
    restarts_before = None
    while True:
        elapsed = clock() - start
        try:
            container.reload()
        except docker.errors.NotFound:
            raise RunError("the container disappeared while starting", hint="someone removed it; run up again")
        status, health = state(container)
        restarts = container.attrs.get("RestartCount", 0)
        if restarts_before is None:
            restarts_before = restarts   # a container kept from an earlier up may have restarted before
        if status in ("exited", "dead", "restarting") or restarts > restarts_before:
            code = container.attrs.get("State", {}).get("ExitCode")
            logs = tail(container)
            try:
                container.stop(timeout=10)   # no restart loop holding the GPUs; kept for `deployc logs`
            except docker.errors.APIError:
                pass
            raise RunError(f"the engine exited (exit code {code}) before {url} answered; the container "
                           f"{container.name} is stopped",
                           hint="read the log lines above (`deployc logs` has all of them); typical causes: the "
                                "model does not fit the GPUs, a missing HF_TOKEN for a gated model, an argument the "
                                "engine rejects. Fix the spec, `deployc build` to review, then up again "
                                "(`deployc down` removes the stopped container)", logs=logs)
        if health == "healthy" or probe(url):
            tick(elapsed, "healthy")
            return elapsed
        tick(elapsed, health or status)
        if elapsed >= timeout:
            raise RunError(f"{url} did not answer within {timeout:g} s (container {status}"
                           + (f", {health}" if health else "") + "); the container is left running",
                           hint="loading weights can take long: raise --timeout, follow `deployc logs -f`, or "
                                "`deployc down` to stop it", logs=tail(container))
        sleep(interval)


# ---------------------------------------------------------------------------------------------
# Setup steps (Service.setup) and launch steps (Service.launch), as the Kubernetes platform runs them:
# setup steps are its initContainers, one-shot containers of the server's image with its mounts,
# environment and devices, run in order before the server starts; launch steps are its launch Job, run
# once the server answers, with DEPLOYC_SERVER set to the server's URL. Here they run inside the server
# container (the Engine API's exec), from a folder holding the launch files.

LAUNCH_DIR = "/tmp/deployc-launch"     # the launch files, and the steps' working folder
LAUNCH_MARK = ".deployc-launched"      # in LAUNCH_DIR: the server's State.StartedAt when its launch succeeded


def is_server(container) -> bool:
    """A server container (not a setup step's)."""
    return LABEL_ROLE not in container.labels


def shown(argv: Iterable[str]) -> str:
    """A step as the user reads it: Compose syntax (`${NAME}` references unexpanded, `$$` as `$`); never
    holds a value read from the environment."""
    return shlex.join(t.replace("$$", "$") for t in argv)


def setup_name(name: str, i: int) -> str:
    return f"{name}-setup-{i}"


def setup_config(resolved: Resolved, argv: Iterable[str], i: int) -> dict:
    """containers.create kwargs of setup step i (1-based): the server's image, environment, mounts, devices
    and shm/ipc; the step's argv as the entrypoint (Kubernetes' `command`: the image's ENTRYPOINT and CMD
    are both replaced); no port, health check or restart; labelled so that `deployc down` removes it."""
    kw = {k: v for k, v in resolved.kwargs.items() if k not in ("command", "ports", "healthcheck")}
    kw["name"] = setup_name(resolved.kwargs["name"], i)
    kw["entrypoint"] = list(argv)
    kw["restart_policy"] = {"Name": "no"}
    kw["labels"] = {**resolved.kwargs["labels"], LABEL_ROLE: "setup"}
    return kw


def _lines(chunks: Iterable[bytes], on_line: Callable[[str], None], keep: deque) -> None:
    """Split a stream of output chunks into lines: on_line(line) for each, the last ones kept."""
    rest = b""
    for chunk in chunks:
        rest += chunk
        *done, rest = re.split(rb"\r\n|\r|\n", rest)
        for raw in done:
            line = raw.decode("utf-8", "replace")
            keep.append(line)
            on_line(line)
    if rest:
        line = rest.decode("utf-8", "replace")
        keep.append(line)
        on_line(line)


def run_setup(client, resolved: Resolved, steps: Iterable[Iterable[str]],
              on_step: Callable[[int, int, str], None], on_line: Callable[[str], None]) -> None:
    """Run each setup step to completion, in order, in a one-shot container that is removed afterwards;
    a step that fails (or cannot start) is a RunError with its last output lines, and nothing is left."""
    import docker.errors

    steps = [tuple(s) for s in steps]
    for i, argv in enumerate(steps, 1):
        on_step(i, len(steps), shown(argv))
        kw = setup_config(resolved, argv, i)
        try:
            box = client.containers.create(**kw)
        except docker.errors.APIError as exc:
            raise api_error(exc, image=kw["image"]) from None
        try:
            try:
                box.start()
            except docker.errors.APIError as exc:
                err = api_error(exc, image=kw["image"])
                err.message = f"setup step {i}/{len(steps)} ({argv[0]}) could not start: {err.message}"
                raise err from None
            keep: deque = deque(maxlen=LOG_LINES)
            _lines(box.logs(stream=True, follow=True), on_line, keep)
            code = box.wait().get("StatusCode")
            if code != 0:
                raise RunError(
                    f"setup step {i}/{len(steps)} failed with exit code {code}: {shown(argv)}; its container "
                    f"{kw['name']} was removed and the server was not started",
                    hint="read its last lines above; typical causes: a missing HF_TOKEN for a gated model, a full "
                         "disk, a model the build does not support. Fix the cause (or the spec, then `deployc build` "
                         "to review) and run `deployc up` again: setup runs again from its first step",
                    logs="\n".join(keep) or tail(box), source=kw["name"])
        finally:
            _remove(box)


def launch_plan(svc: Any, env: Mapping[str, str], unset: list[str] | None = None
                ) -> tuple[list[list[str]], dict[str, str]]:
    """The launch steps and their environment, interpolated like Compose from the caller's environment with
    DEPLOYC_SERVER the server's URL from inside its container (http://127.0.0.1:<port>)."""
    url = f"http://127.0.0.1:{svc.port}"
    scope = {**env, SERVER_ENV: url}
    exec_env = {SERVER_ENV: url}
    for name, value in svc.launch.env:
        exec_env[name] = interpolate(value, scope, unset)
    return [[interpolate(t, scope, unset) for t in step] for step in svc.launch.steps], exec_env


def _started_at(container) -> str:
    container.reload()
    return container.attrs.get("State", {}).get("StartedAt", "")


def launched(container, persistent: bool) -> bool:
    """Whether the launch steps already succeeded in this container: since its last start (a server that holds
    the model in memory comes back empty from a restart), or ever (persistent: the model is in the cache)."""
    import docker.errors

    try:
        stream, _ = container.get_archive(f"{LAUNCH_DIR}/{LAUNCH_MARK}")
        data = b"".join(stream)
    except (docker.errors.NotFound, docker.errors.APIError):
        return False
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile(LAUNCH_MARK)
        mark = member.read().decode() if member else ""
    mark = mark.strip()
    return bool(mark) and (persistent or mark == _started_at(container))


def _tar(files: Iterable[tuple[str, str]]) -> bytes:
    """A tar of LAUNCH_DIR (relative to /) holding files (name, text)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        folder = tarfile.TarInfo(LAUNCH_DIR.lstrip("/"))
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
        tar.addfile(folder)
        for name, text in files:
            data = text.encode()
            info = tarfile.TarInfo(f"{LAUNCH_DIR.lstrip('/')}/{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def run_launch(client, container, svc: Any, env: Mapping[str, str],
               on_step: Callable[[int, int, str], None], on_line: Callable[[str], None]) -> None:
    """Copy the launch files into LAUNCH_DIR of the running server container and exec each launch step there,
    in order; then mark the container launched. A failing step is a RunError with its output (the server is
    left running)."""
    import docker.errors

    launch = svc.launch
    steps, exec_env = launch_plan(svc, env)
    files = list(launch.files) + [(LAUNCH_MARK, "")]   # an older mark goes: a failed launch is not a done one
    try:
        container.put_archive("/", _tar(files))
    except docker.errors.APIError as exc:
        raise RunError(f"cannot copy the launch files into {container.name}: {exc.explanation or exc}",
                       hint="the server container must be running; `deployc status` shows it") from None
    for i, (argv, raw) in enumerate(zip(steps, launch.steps), 1):
        on_step(i, len(steps), shown(raw))
        try:
            exec_id = client.api.exec_create(container.id, argv, stdout=True, stderr=True, environment=exec_env,
                                             workdir=LAUNCH_DIR)["Id"]
            keep: deque = deque(maxlen=LOG_LINES)
            _lines(client.api.exec_start(exec_id, stream=True), on_line, keep)
            code = client.api.exec_inspect(exec_id).get("ExitCode")
        except docker.errors.APIError as exc:
            raise RunError(f"launch step {i}/{len(steps)} could not run in {container.name}: "
                           f"{exc.explanation or exc}; the server is still running, without the model",
                           hint="`deployc status` shows the server; `deployc up` again repeats the launch steps, "
                                "`deployc down` removes it") from None
        if code != 0:
            raise RunError(
                f"launch step {i}/{len(steps)} failed with exit code {code}: {shown(raw)}; the server "
                f"{container.name} is still running, without the model",
                hint="read its output above (`deployc logs` has the server's side); fix the cause, then run "
                     "`deployc up` again: it keeps the running server and repeats the launch steps "
                     "(`deployc down` removes the server)",
                logs="\n".join(keep), source=f"launch step {i}")
    mark = _started_at(container)
    container.put_archive("/", _tar([(LAUNCH_MARK, mark + "\n")]))
