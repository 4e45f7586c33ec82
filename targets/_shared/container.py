"""Pieces shared by the targets that run an engine from a script or a container.

- ``serve_script``: a bash script that execs one argv (rendered with shlex.join).
- ``LocalMounts``: local paths of the spec mapped to fixed container paths, so
  the same deployment runs from a checkout (serve.sh) and in a container (compose).
- ``compose_file``: one Compose service with GPUs, ipc, ports, cache volume,
  environment passed through by name, and a health check.
- ``arg_conflicts``: extra `args` that restate a setting the spec owns.
"""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping, Sequence

from compiler.diagnostics import Diagnostic, error
from compiler.plan import Plan
from compiler.render import banner_lines, comment_block, compose_env_value, dump_yaml, render_template, sh_env_value
from compiler.spec import is_local
from compiler.target_api import NODE_ADDR_ENV, SERVER_ENV, BuildContext, TargetOptions

TEMPLATES = Path(__file__).parent / "templates"
HF_CACHE_HOST = "${HF_HOME:-~/.cache/huggingface}"


def banner(ctx: BuildContext, target: str, engine: str, version: str) -> list[str]:
    return banner_lines(ctx.spec_name, ctx.spec_digest, target, engine, version)


def api_key_export(plan: Plan, engine_var: str) -> list[tuple[str, str]]:
    """`export ENGINE_VAR="${USER_VAR:?...}"`: the key travels by name, never by value."""
    name = plan.server.api_key_env
    if name is None:
        return []
    return [(engine_var, f'"{api_key_ref(name)}"')]


def serve_script(ctx: BuildContext, banner_text: list[str], about: list[str], argv: Sequence[str],
                 env: Sequence[tuple[str, str]], shell_tail: Sequence[str] = ()) -> str:
    """env holds (NAME, already-quoted shell word) pairs. shell_tail: already-quoted shell words
    appended after the argv, for an engine that takes a secret only as an argument (the word
    is an environment reference such as "${KEY:?...}", never a value)."""
    return render_template(TEMPLATES, "serve.sh.j2", banner=banner_text, about=about, spec_dir=ctx.spec_dir,
                           env=list(env), argv=list(argv), shell_tail=list(shell_tail))


def user_env_shell(opts: TargetOptions) -> list[tuple[str, str]]:
    return [(k, sh_env_value(v)) for k, v in sorted(opts.env.items())]


@dataclass
class LocalMounts:
    """Each local path the spec names, bound read-only at a fixed place under /deployc in the container."""

    ctx: BuildContext
    volumes: list[str] = field(default_factory=list)

    def path(self, local: str, container: str) -> str:
        """The container path for a local spec path; records the bind mount."""
        if local.startswith("~"):
            host = local  # Compose expands ~ in bind mount sources
        elif local.startswith("/"):
            host = local
        else:
            host = (PurePosixPath(self.ctx.spec_dir) / local).as_posix()
            if not host.startswith(("/", "../", "./")):
                host = "./" + host
        volume = f"{host}:{container}:ro"
        if volume not in self.volumes:
            self.volumes.append(volume)
        return container

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


def gpu_devices(count: int) -> dict:
    return {"reservations": {"devices": [{"driver": "nvidia", "count": count, "capabilities": ["gpu"]}]}}


@dataclass(frozen=True)
class Volume:
    """A bind mount. source is in Compose syntax: relative to the compose file's folder, `~`, or
    `${VAR:-default}`; the model cache is the one read-write mount."""

    source: str
    target: str
    read_only: bool = True

    @classmethod
    def parse(cls, spec: str) -> "Volume":
        source, target, *mode = spec.rsplit(":", 2) if spec.endswith((":ro", ":rw")) else spec.rsplit(":", 1)
        return cls(source, target, mode == ["ro"])

    def compose(self) -> str:
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
    (`${KEY:?...}`) that the runner expands from the caller's environment. env_pass: names taken
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
            env_set: Mapping[str, str] | None = None, volumes: Sequence[str] = (), container_cache: str,
            cache_volume: str | None = None, gpu_count: int | None = None, entrypoint: Sequence[str] | None = None,
            command_tail: Sequence[str] = (), **rest) -> Service:
    """The Service of a plan: name, port, host and GPU vendor from the spec. cache_volume replaces the
    Hugging Face cache mount; gpu_count replaces tensor x pipeline x data (for engines that spread a
    model over every GPU they see); rest: the remaining Service fields."""
    return Service(
        project=plan.name, name=plan.name, image=image, command=tuple(command), host=plan.server.host,
        port=plan.server.port, cache=Volume.parse(cache_volume or f"{HF_CACHE_HOST}:{container_cache}"),
        gpus=plan.gpus_needed if gpu_count is None else gpu_count, amd=plan.hardware.gpu.vendor == "amd",
        entrypoint=tuple(entrypoint) if entrypoint is not None else None, command_tail=tuple(command_tail),
        env_pass=tuple(env_pass), env_set=tuple((env_set or {}).items()),
        volumes=tuple(Volume.parse(v) for v in volumes), **rest)


def compose_file(header: list[str], svc: Service) -> str:
    """A Compose file with one service. command tokens are literal: `$` is written `$$`, because
    Compose interpolates `$NAME` everywhere, command included (a served name `a$HOME` must reach the
    engine as typed); command_tail tokens are the ones Compose is meant to interpolate."""
    port, _ = port_binding(svc.host, svc.port)
    out: dict = {"image": svc.image}
    if svc.entrypoint is not None:
        out["entrypoint"] = list(svc.entrypoint)
    out |= {
        "command": [t.replace("$", "$$") for t in svc.command] + list(svc.command_tail),
        "ports": [port],
        **({"shm_size": svc.shm_size} if svc.shm_size else {"ipc": "host"}),
        "environment": svc.environment,
        "volumes": [v.compose() for v in (svc.cache, *svc.volumes)],
    }
    if svc.amd:
        out["devices"] = ["/dev/kfd", "/dev/dri"]
        out["group_add"] = ["video"]
        out["security_opt"] = ["seccomp=unconfined"]
    else:
        out["deploy"] = {"resources": gpu_devices(svc.gpus)}
    out["healthcheck"] = {
        "test": svc.health_command,
        "interval": svc.health_interval,
        "timeout": svc.health_timeout,
        "retries": svc.health_retries,
        "start_period": svc.start_period,
    }
    out["restart"] = svc.restart
    return dump_yaml({"name": svc.project, "services": {svc.name: out}}, comment_block(header))


def sh_join_expanding(argv: Sequence[str], expand: Mapping[int, str]) -> str:
    """shlex.join, except that the token at index i (a key of expand) starts with the shell
    variable expand[i], written `${NAME}` in the token, which the shell expands; the rest of
    that token is quoted inert like every other token (`"${PWD}"'/model:/m:ro'`)."""
    words = []
    for i, token in enumerate(argv):
        name = expand.get(i)
        ref = f"${{{name}}}"
        if name is not None and token.startswith(ref):
            rest = token[len(ref):]
            words.append(f'"{ref}"' + (shlex.quote(rest) if rest else ""))
        else:
            words.append(shlex.quote(token))
    return " ".join(words)


def compose_env(opts: TargetOptions) -> dict[str, str]:
    return {k: compose_env_value(v) for k, v in sorted(opts.env.items())}


def api_key_ref(name: str) -> str:
    """The API key by reference: `${NAME:?...}` fails loudly (shell and Compose alike) when NAME is unset."""
    return f"${{{name}:?set {name} to the API key}}"


def compose_api_key(plan: Plan, engine_var: str) -> dict[str, str]:
    name = plan.server.api_key_env
    return {engine_var: api_key_ref(name)} if name else {}


def env_conflicts(env: Mapping[str, str], owned: Mapping[str, tuple[str, ...]], target: str) -> list[Diagnostic]:
    """Extra env variables that set what a spec field owns (e.g. the engine's API key variable)."""
    return [error("target-env-conflict", f"targets.{target}.env.{name} restates {'.'.join(owned[name])}",
                  hint=f"set {'.'.join(owned[name])} instead and remove {name} from env",
                  path=("targets", target, "env", name), anchor="key")
            for name in env if name in owned]


def arg_conflicts(args: Sequence[str], owned: Mapping[str, tuple[str, ...]], target: str,
                  normalize=lambda flag: flag, stale: Mapping[str, str] | None = None,
                  long_prefixes: bool = True, shortest_prefix: int = 5) -> list[Diagnostic]:
    """Extra args that set what the spec owns, or that the pinned version no longer takes.

    owned: normalized flag -> spec path that sets it. Python's argparse (vLLM, SGLang) also
    accepts any unambiguous prefix of a long option (`--max-model` for `--max-model-len`) and
    a short option glued to its value (`-tp4`), so both count as restating the flag.
    long_prefixes=False is for parsers that match long options exactly (Rust's clap without
    infer_long_args); glued short options (`-p8000`) still count.
    shortest_prefix: the shortest `--` token taken as a prefix (SGLang users write `--tp`: 4).
    """
    out = []
    for i, token in enumerate(args):
        if not token.startswith("-") or token in ("-", "--"):
            continue
        flag = normalize(token.split("=", 1)[0])
        hit = owned.get(flag)
        if hit is None and long_prefixes and flag.startswith("--") and len(flag) >= shortest_prefix:
            hit = next((owned[o] for o in sorted(owned) if o.startswith(flag)), None)
        if hit is None and not flag.startswith("--"):
            hit = next((owned[o] for o in sorted(owned, key=len, reverse=True)
                        if not o.startswith("--") and flag.startswith(o)), None)
        if hit is not None:
            where = ".".join(map(str, hit))
            out.append(error(
                "target-args-conflict", f"{token.split('=', 1)[0]} in targets.{target}.args restates {where}, "
                "which deployc derives from the spec",
                hint=f"set {where} instead and remove it from args", path=("targets", target, "args", i)))
        elif stale and (key := next((k for k in (flag, token[:2]) if k in stale), None)):  # -O3 is -O
            out.append(error("target-args-stale", f"{token} is not a flag of the pinned version: {stale[key]}",
                             hint="remove it from args (blog posts often predate the rename)",
                             path=("targets", target, "args", i)))
    return out
