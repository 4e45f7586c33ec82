"""The engine container of a Service: its name, its labels and docker-py's `containers.create` arguments.

``container_config`` maps an ``api.Service`` (the object its compose.yaml is written from) the way Docker
Compose v2 maps the compose file (docker/compose pkg/compose/create.go: getCreateConfigs, setReservations,
buildContainerVolumes, buildContainerPortBindingOptions), resolving what Compose resolves from the caller's
environment at `up` time: `${NAME:?...}` command tokens, `${NAME}` in environment values, `${HF_HOME:-~/...}`
and `~` in bind sources, relative sources against the compose file's folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from deployc.compiler.api.container import Service
from deployc.compiler.runtime.compose import bind_source, duration_ns, interpolate, size_bytes
from deployc.compiler.runtime.protocols import Container

LABEL_SPEC = "io.deployc.spec"        # absolute path of the deploy.yaml
LABEL_NAME = "io.deployc.name"        # the spec's name
LABEL_TARGET = "io.deployc.target"
LABEL_VERSION = "io.deployc.version"  # engine version
LABEL_DIGEST = "io.deployc.digest"    # sha256 of the spec's data: a changed spec recreates the container
LABEL_ROLE = "io.deployc.role"        # "setup" on a setup step's one-shot container; absent on the server
LABEL_LAUNCH = "io.deployc.launch"    # on a server that starts empty: "persistent" or "memory" (Launch.persistent)


class Healthcheck(TypedDict):
    test: list[str]
    interval: int        # nanoseconds, as are timeout and start_period
    timeout: int
    retries: int
    start_period: int


class DeviceRequest(TypedDict):
    driver: str
    count: int
    capabilities: list[list[str]]


class BindMount(TypedDict):
    Type: str
    Source: str
    Target: str
    ReadOnly: bool


class RestartPolicy(TypedDict):
    Name: str


class CreateArgs(TypedDict, total=False):
    """docker-py's `containers.create` keyword arguments that deployc sets."""

    image: str
    name: str
    entrypoint: list[str]
    command: list[str]
    ports: dict[str, int | tuple[str, int]]
    shm_size: int
    ipc_mode: str
    environment: list[str]
    volumes: list[str]
    mounts: list[BindMount]
    devices: list[str]
    group_add: list[str]
    security_opt: list[str]
    device_requests: list[DeviceRequest]
    healthcheck: Healthcheck
    restart_policy: RestartPolicy
    labels: dict[str, str]


@dataclass
class Resolved:
    """container_config's answer: docker-py keyword arguments, and the `${NAME}` references that were unset."""

    kwargs: CreateArgs
    unset: list[str] = field(default_factory=list)


def container_name(svc: Service, target: str) -> str:
    return f"deployc-{svc.name}-{target}"


def labels(svc: Service, *, spec_path: str, target: str, version: str, digest: str) -> dict[str, str]:
    out = {LABEL_SPEC: spec_path, LABEL_NAME: svc.project, LABEL_TARGET: target, LABEL_VERSION: version,
           LABEL_DIGEST: digest}
    launch = svc.launch
    if launch is not None:
        out[LABEL_LAUNCH] = "persistent" if launch.persistent else "memory"
    return out


def is_server(container: Container) -> bool:
    """A server container (not a setup step's)."""
    return LABEL_ROLE not in container.labels


def container_config(svc: Service, *, env: Mapping[str, str], compose_dir: str, name: str,
                     labels: Mapping[str, str]) -> Resolved:
    """docker-py `containers.create(**kwargs)` for a Service, as Compose would create it from compose.yaml.

    env: the caller's environment (os.environ), read for `${NAME}` references and pass-through names.
    compose_dir: the absolute folder compose.yaml is written to (relative bind sources start there).
    """
    unset: list[str] = []
    passed = environment(svc, env, unset)   # first: unset names are warned about as environment, command, mounts
    kwargs: CreateArgs = {"image": svc.image, "name": name}
    if svc.entrypoint is not None:
        kwargs["entrypoint"] = list(svc.entrypoint)
    kwargs["command"] = list(svc.command) + [interpolate(t, env, unset) for t in svc.command_tail]
    ip = svc.host_ip
    kwargs["ports"] = {f"{svc.port}/tcp": svc.port if ip is None else (ip, svc.port)}
    if svc.shm_size:
        kwargs["shm_size"] = size_bytes(svc.shm_size)
    else:
        kwargs["ipc_mode"] = "host"
    kwargs["environment"] = passed
    binds = [(bind_source(v.source, env, compose_dir, unset), v) for v in (svc.cache, *svc.volumes)]
    kwargs["volumes"] = [f"{src}:{v.target}:{'ro' if v.read_only else 'rw'}" for src, v in binds
                         if ":" not in src + v.target]
    # docker's bind string splits on ':'; a path holding one goes through the Mount API (docker-py
    # passes these dicts as HostConfig.Mounts), as Compose's long syntax does
    mounts = [BindMount(Type="bind", Source=src, Target=v.target, ReadOnly=v.read_only) for src, v in binds
              if ":" in src + v.target]
    if mounts:
        kwargs["mounts"] = mounts
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


def environment(svc: Service, env: Mapping[str, str], unset: list[str]) -> list[str]:
    """ContainerConfig.Env: pass-through names with the caller's value (a bare name when the caller has none,
    which unsets it, as Compose sends it), then env_set values interpolated."""
    set_names = {k for k, _ in svc.env_set}
    out = [f"{n}={env[n]}" if n in env else n for n in svc.env_pass if n not in set_names]
    return out + [f"{k}={interpolate(v, env, unset)}" for k, v in svc.env_set]
