"""The Docker engine through docker-py: connect, find deployc's containers, pull, create and start, remove.

docker is imported only inside the functions that talk to the engine; the client and containers they
pass around are typed by ``protocols``. Failures are RunError with the daemon's own words and a hint.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import cast

from deployc.compiler.runtime.containers import LABEL_SPEC, LABEL_TARGET, Resolved
from deployc.compiler.runtime.errors import RunError, api_error, connect_reason, explanation, port_hint, pull_hint
from deployc.compiler.runtime.protocols import Client, Container, Document

LOG_LINES = 40

Progress = Callable[[str, int, int], None]   # (status, bytes done, bytes in all) while pulling


def docker_host(env: Mapping[str, str]) -> str:
    return env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(env: Mapping[str, str], timeout: int = 60) -> Client:
    """A docker-py client for DOCKER_HOST (docker.from_env), or a RunError saying how to get one."""
    try:
        import docker
        import docker.errors
    except ImportError as exc:   # pragma: no cover - a dependency of deployc
        raise RunError(f"the docker package is missing ({exc})", hint="pip install 'docker>=7.1,<8'") from None
    try:
        return cast(Client, docker.DockerClient.from_env(timeout=timeout, environment=dict(env)))
    except docker.errors.DockerException as exc:
        raise RunError(f"cannot reach the Docker engine at {docker_host(env)}: {connect_reason(exc)}",
                       hint="start Docker (e.g. `sudo systemctl start docker`), or point DOCKER_HOST at a running "
                            "engine; a permission error means your user is not in the docker group") from None


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
                raise RunError(f"port {port} is already in use on {ip}", hint=port_hint(port)) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise RunError(f"server.host {ip} is not an address of this machine",
                               hint="use 0.0.0.0, 127.0.0.1 or an address `ip addr` lists") from None
            # EACCES (a low port as non-root) and the like: the engine publishes it, not us


def find(client: Client, spec_path: str, target: str | None = None) -> list[Container]:
    """deployc's containers for a spec (and target), running or not."""
    wanted = [f"{LABEL_SPEC}={spec_path}"] + ([f"{LABEL_TARGET}={target}"] if target else [])
    return sorted(client.containers.list(all=True, filters={"label": wanted}),
                  key=lambda c: (c.labels.get(LABEL_TARGET, ""), c.name))


def refuse_foreign(client: Client, name: str) -> None:
    """A container of that name that deployc did not start for this spec: refuse, never remove it."""
    import docker.errors

    try:
        other = client.containers.get(name)
    except docker.errors.NotFound:
        return
    owner = other.labels.get(LABEL_SPEC)
    raise RunError(f"a container named {name} exists and was not started by deployc for this spec"
                   + (f" (it belongs to {owner})" if owner else ""),
                   hint=f"remove or rename it (`docker rm -f {name}`), or give this spec another name")


def tail(container: Container, lines: int = LOG_LINES) -> str:
    try:
        return container.logs(tail=lines).decode("utf-8", "replace").rstrip()
    except Exception:   # the container may be gone: its logs are a courtesy
        return ""


def state(container: Container) -> tuple[str, str | None]:
    """(status, health) from the engine: running/exited/restarting/..., healthy/unhealthy/starting/None."""
    st = container.attrs.get("State", {})
    health = (st.get("Health") or {}).get("Status")
    return st.get("Status", container.status), health


def ensure_image(client: Client, image: str, progress: Progress) -> bool:
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
    try:
        _follow_pull(image, client.api.pull(repo, tag=tag or None, stream=True, decode=True), progress)
    except docker.errors.APIError as exc:
        raise RunError(f"cannot pull {image}: {explanation(exc)}", hint=pull_hint(image)) from None
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise RunError(f"cannot pull {image}: the engine reported no error but has no such image",
                       hint=pull_hint(image)) from None
    return True


def _follow_pull(image: str, events: Iterable[Document], progress: Progress) -> None:
    """Report a pull's progress over its layers; an error event is a RunError."""
    layers: dict[str, tuple[int, int]] = {}
    for event in events:
        if "error" in event:
            raise RunError(f"cannot pull {image}: {event['error']}", hint=pull_hint(image))
        detail = event.get("progressDetail") or {}
        layer = event.get("id")
        if layer and detail.get("total"):
            layers[layer] = (detail.get("current", 0), detail["total"])
        elif layer and event.get("status") in ("Pull complete", "Already exists") and layer in layers:
            layers[layer] = (layers[layer][1],) * 2
        progress(event.get("status", ""), sum(c for c, _ in layers.values()), sum(t for _, t in layers.values()))


def create_and_start(client: Client, resolved: Resolved, *, host: str | None, port: int | None) -> Container:
    """Create the container and start it; a start failure removes it again and says why.
    host, port: where the engine listens on this host (checked free first; None: no check)."""
    import docker.errors

    kw = resolved.kwargs
    image, name = kw["image"], kw["name"]
    if port is not None:
        check_port_free(host, port)
    try:
        container = client.containers.create(**kw)
    except docker.errors.ImageNotFound as exc:
        raise RunError(f"image {image} is not available: {explanation(exc)}", hint=pull_hint(image)) from None
    except docker.errors.APIError as exc:
        raise api_error(exc, image=image, port=port, host=host) from None
    try:
        container.start()
    except docker.errors.APIError as exc:
        err = api_error(exc, image=image, port=port, host=host)
        err.logs = tail(container)
        err.message += f" (the container {name} was removed again)"
        discard(container)
        raise err from None
    return container


def discard(container: Container) -> None:
    """Remove a container, running or not; one that is already gone is fine."""
    try:
        container.remove(force=True)
    except Exception:   # already gone
        pass


def remove(containers: Iterable[Container]) -> list[str]:
    names = []
    for c in containers:
        discard(c)
        names.append(c.name)
    return names
