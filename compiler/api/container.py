"""The engine container: the types every way of running a deployment is built from.

A target that runs its engine in a container describes it once, as a ``Service``
(image, argv, port, GPUs, mounts, environment, health check, setup and launch
steps); the Compose renderer (``compose.compose_file``), ``deployc up`` and the
Kubernetes platform all start that same object. One copy of the model over
several machines is a ``NodeGroup`` of a leader's and a worker's Service.

What a node of a multi-node copy cannot know at build time (the leader's address,
its own rank) is written as a reference (``NodeRefs``) filled in where it starts:

- ``SCRIPT``: shell variables of the per-node scripts (serve.sh on the leader,
  serve-worker.sh on each worker): LEADER_ADDR and NODE_RANK, set by whoever starts them.
- ``LWS``: the variables the LeaderWorkerSet controller injects into every container of a
  group, written `$(NAME)`, which Kubernetes expands in a container's command and args.
  Names from kubernetes-sigs/lws v0.10.0 (commit 2161f38ff333f9e24d3c44adef7cd5d9787cac00)
  api/leaderworkerset/v1/leaderworkerset_types.go:64-75 (LwsLeaderAddress = "LWS_LEADER_ADDRESS",
  LwsGroupSize = "LWS_GROUP_SIZE", LwsWorkerIndex = "LWS_WORKER_INDEX", 0 on the leader),
  set by pkg/utils/pod/pod_utils.go AddLWSVariables (the leader address is
  <lws>-<group>.<subdomain>.<namespace>, the leader pod's DNS name).

A data-parallel spec (parallelism.data > 1) becomes that many independent groups (LWS
replicas, or that many runs of the scripts), never the engine's own data-parallel flags:
each group is one complete server.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePosixPath
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

from deployc.compiler.api.target import BuildContext, TargetOptions
from deployc.compiler.diagnostics import Diagnostic, error
from deployc.compiler.plan import Plan
from deployc.compiler.render import compose_env_value
from deployc.compiler.spec import is_local

# Environment variables every platform sets in an engine container, for the references targets write
# as ${NAME} in Service fields: the server's base URL where launch steps run, and the container's own
# address as the other nodes of a multi-node deployment reach it.
SERVER_ENV = "DEPLOYC_SERVER"
NODE_ADDR_ENV = "DEPLOYC_NODE_ADDR"

HF_CACHE_HOST = "${HF_HOME:-~/.cache/huggingface}"


@dataclass
class LocalMounts:
    """Each local path the spec names, bound read-only at a fixed place under /deployc in the container."""

    ctx: BuildContext
    volumes: list[Volume] = field(default_factory=list)

    def path(self, local: str, container: str) -> str:
        """The container path for a local spec path; records the bind mount. The path is literal: a
        `$` is written `$$` (Compose interpolates volume sources), and a `:` (which would split the
        short syntax) makes the mount use Compose's long syntax."""
        if local.startswith("~"):
            host = local  # Compose expands ~ in bind mount sources
        elif local.startswith("/"):
            host = local
        else:
            host = (PurePosixPath(self.ctx.spec_dir) / local).as_posix()
            if not host.startswith(("/", "../", "./")):
                host = "./" + host
        volume = Volume(host.replace("$", "$$"), container, True, long_syntax=":" in host)
        if volume not in self.volumes:
            self.volumes.append(volume)
        return container

    def map(self, value: str, container: str) -> str:
        """A model reference (hub id or local path) as seen inside the container."""
        return self.path(value, container) if is_local(value) else value

    def ref(self, value: str | None, container: str) -> str | None:
        """A model reference (hub id or local path) as seen inside the container."""
        if value is None or not is_local(value):
            return value
        return self.path(value, container)



def publish_ip(host: str) -> str | None:
    """The host address a container's port is published on, for server.host: None for every interface
    (0.0.0.0 or ::), 127.0.0.1 for localhost; ValueError for a name that is not an IP address."""
    if host in ("0.0.0.0", "::"):
        return None
    return str(ipaddress.ip_address("127.0.0.1" if host == "localhost" else host))



def port_binding(host: str, port: int) -> tuple[str | None, Diagnostic | None]:
    """Compose `ports` entry publishing the engine's port on server.host."""
    try:
        ip = publish_ip(host)
    except ValueError:
        return None, error("server-host-container", f"a container publishes its port on an IP address, not {host!r}",
                           hint="use 0.0.0.0 (all interfaces), 127.0.0.1, or another address of the host",
                           path=("server", "host"))
    if ip is None:
        return f"{port}:{port}", None
    return f"{f'[{ip}]' if ':' in ip else ip}:{port}:{port}", None



def client_url(host: str, port: int, path: str = "") -> str:
    """Where a client on the serving host reaches the server (a bind-all address is not a URL)."""
    if host in ("0.0.0.0", "::"):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"



@dataclass(frozen=True)
class Volume:
    """A bind mount. source is in Compose syntax: relative to the compose file's folder, `~`, or
    `${VAR:-default}`; the model cache is the one read-write mount."""

    source: str
    target: str
    read_only: bool = True
    long_syntax: bool = False   # a `:` in the literal source: Compose's long form, never split

    @classmethod
    def parse(cls, spec: str) -> Volume:
        source, target, *mode = spec.rsplit(":", 2) if spec.endswith((":ro", ":rw")) else spec.rsplit(":", 1)
        return cls(source, target, mode == ["ro"])

    def compose(self) -> str | dict[str, Any]:
        if self.long_syntax:
            return {"type": "bind", "source": self.source, "target": self.target,
                    **({"read_only": True} if self.read_only else {})}
        return f"{self.source}:{self.target}" + (":ro" if self.read_only else "")


SERVER_URL = f"${{{SERVER_ENV}}}"
# This container's own address, as the other nodes of a multi-node deployment reach it (a platform fills it
# in: Kubernetes with the pod's IP). Only in command_tail, like every reference.
NODE_ADDR = f"${{{NODE_ADDR_ENV}}}"


@dataclass(frozen=True)
class Launch:
    """What loads the model into a server that starts empty (Ollama's `ollama create`, XInference's
    `xinference launch`): argv steps run in order, in the server's image, from a folder holding files
    (name, content). Step tokens and env values are Compose syntax like command_tail: `$$` is a literal
    `$`, `${NAME}` a reference, and SERVER_URL the server's base URL (http://host:port) wherever the
    steps run. persistent: the created model survives a server restart (it lives in the cache volume,
    Ollama), rather than only in the running server's memory (XInference)."""

    steps: tuple[tuple[str, ...], ...]
    files: tuple[tuple[str, str], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    persistent: bool = False



def compose_literal(argv: Sequence[str]) -> tuple[str, ...]:
    """Literal argv in Compose syntax (every `$` written `$$`)."""
    return tuple(t.replace("$", "$$") for t in argv)



@dataclass(frozen=True)
class Service:
    """One engine container, independent of how it is started: compose_file writes it as a Compose
    service; `deployc up` (Docker Engine API) and the Kubernetes platform build theirs from the same
    object, so every way of running a deployment runs the same container.

    command tokens are literal argv; command_tail tokens are environment references
    (`${KEY:?...}`) that `deployc up` (compiler/runtime) expands from the caller's environment. env_pass: names taken
    from the caller's environment (unless env_set sets the same name); env_set: NAME -> value,
    where `${NAME}` references the caller's environment (Compose interpolation syntax).
    health_path: the engine's HTTP health route on its port; health_test: the in-container probe
    for images without python3 (None: python3 fetches health_path); health_interval/_timeout/
    _retries and start_period: the probe's schedule, as Compose durations. gpus: GPUs the container
    gets; shm_size: its own /dev/shm of this size (None: the host's IPC namespace, `ipc: host`).
    restart: the restart policy.
    """

    project: str
    name: str
    image: str
    command: tuple[str, ...]
    host: str
    port: int
    cache: Volume
    gpus: int
    amd: bool = False
    entrypoint: tuple[str, ...] | None = None
    command_tail: tuple[str, ...] = ()
    env_pass: tuple[str, ...] = ()
    env_set: tuple[tuple[str, str], ...] = ()
    volumes: tuple[Volume, ...] = ()
    health_path: str = "/health"
    health_test: tuple[str, ...] | None = None
    start_period: str = "30m"  # weight loading: a 70B model can take many minutes
    shm_size: str | None = None
    health_interval: str = "30s"
    health_timeout: str = "10s"
    health_retries: int = 3
    restart: str = "unless-stopped"
    # Steps that run to completion, in order, in the same image with the same mounts and environment
    # before command starts (an engine build, say): Kubernetes initContainers. Each is an exec-form argv.
    setup: tuple[tuple[str, ...], ...] = ()
    # A server that starts empty: how the model gets into it once it is up (Launch above).
    launch: Launch | None = None

    @property
    def environment(self) -> list[str]:
        """Compose's list form: pass-through names, then NAME=value."""
        names = {k for k, _ in self.env_set}
        return [n for n in self.env_pass if n not in names] + [f"{k}={v}" for k, v in self.env_set]

    @property
    def health_url(self) -> str:
        return f"http://localhost:{self.port}{self.health_path}"

    @property
    def health_command(self) -> list[str]:
        """The in-container health probe, Docker's ["CMD", argv...] form."""
        # python3 is in every engine image; curl is not guaranteed to be.
        return list(self.health_test) if self.health_test else [
            "CMD", "python3", "-c", f"import urllib.request; urllib.request.urlopen({self.health_url!r}, timeout=5)"]

    @property
    def host_ip(self) -> str | None:
        """The address the port is published on; None: every interface (server.host 0.0.0.0 or ::)."""
        return publish_ip(self.host)



def service(*, plan: Plan, image: str, command: Sequence[str], env_pass: Iterable[str] = (),
            env_set: Mapping[str, str] | None = None, volumes: Sequence[str | Volume] = (), container_cache: str,
            cache_volume: str | None = None, gpu_count: int | None = None, entrypoint: Sequence[str] | None = None,
            command_tail: Sequence[str] = (), **rest: Any) -> Service:
    """The Service of a plan: name, port, host and GPU vendor from the spec. cache_volume replaces the
    Hugging Face cache mount; gpu_count replaces tensor x pipeline x data (for engines that spread a
    model over every GPU they see); rest: the remaining Service fields."""
    return Service(
        project=plan.name, name=plan.name, image=image, command=tuple(command), host=plan.server.host,
        port=plan.server.port, cache=Volume.parse(cache_volume or f"{HF_CACHE_HOST}:{container_cache}"),
        gpus=plan.gpus_needed if gpu_count is None else gpu_count, amd=plan.hardware.gpu.vendor == "amd",
        entrypoint=tuple(entrypoint) if entrypoint is not None else None, command_tail=tuple(command_tail),
        env_pass=tuple(env_pass), env_set=tuple((env_set or {}).items()),
        volumes=tuple(v if isinstance(v, Volume) else Volume.parse(v) for v in volumes), **rest)



def api_key_ref(name: str) -> str:
    """The API key by reference: `${NAME:?...}` fails loudly (shell and Compose alike) when NAME is unset."""
    return f"${{{name}:?set {name} to the API key}}"



def compose_api_key(plan: Plan, engine_var: str) -> dict[str, str]:
    name = plan.server.api_key_env
    return {engine_var: api_key_ref(name)} if name else {}



def compose_env(opts: TargetOptions) -> dict[str, str]:
    return {k: compose_env_value(v) for k, v in sorted(opts.env.items())}


@dataclass(frozen=True)
class NodeRefs:
    """Tokens standing for what a node learns when it starts."""

    leader: str   # the leader's address (host name or IP)
    rank: str     # this worker's rank, 1..N-1
    kind: str     # "script" (shell variables) or "lws" (Kubernetes $(NAME) references)


SCRIPT = NodeRefs(leader="${LEADER_ADDR}", rank="${NODE_RANK}", kind="script")
LWS = NodeRefs(leader="$(LWS_LEADER_ADDRESS)", rank="$(LWS_WORKER_INDEX)", kind="lws")


def fill(tokens: list[str] | tuple[str, ...], leader: str, rank: int, refs: NodeRefs = SCRIPT) -> list[str]:
    """The argv a node really runs: references replaced by values (for tests and the conformance tier)."""
    return [t.replace(refs.leader, leader).replace(refs.rank, str(rank)) for t in tokens]


class GroupKind(str, Enum):
    """How the nodes of a NodeGroup relate. WORLD: they form one distributed world and the leader is
    node 0 (a LeaderWorkerSet on Kubernetes). POOL: the leader is a coordinator without GPUs that serves
    the API, and size x replicas workers register with it at SERVER_URL, announcing NODE_ADDR
    (XInference's supervisor and workers)."""

    WORLD = "world"
    POOL = "pool"


@dataclass(frozen=True)
class NodeGroup:
    """One multi-node copy of the model, for the platforms that start containers: the leader's and
    the workers' engine containers, whose commands hold LWS
    references. size is the node count (leader included); replicas the number of copies."""

    size: int
    replicas: int
    leader: Service
    worker: Service
    # Ports the nodes reach each other on, besides the HTTP port (for documentation and Services).
    internal_ports: tuple[tuple[str, int], ...] = ()
    # Where the node flags start in leader.command and worker.command: only those tokens hold LWS
    # references; everything before is literal (a served name "$(LWS_WORKER_INDEX)" stays text).
    node_args_at: int = 0
    kind: GroupKind = GroupKind.WORLD
