"""Waiting for a started engine: its health route polled from the host, failing early when it stops."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from typing import NoReturn

from deployc.compiler.api.container import Service
from deployc.compiler.runtime.clock import Clock
from deployc.compiler.runtime.daemon import state, tail
from deployc.compiler.runtime.errors import RunError
from deployc.compiler.runtime.protocols import Container

INTERVAL = 2.0   # seconds between polls

Tick = Callable[[float, str], None]   # (seconds waited, state) after every poll


def health_url(svc: Service) -> str:
    """The health route as the host reaches it through the published port."""
    ip = svc.host_ip
    if ip is None:
        ip = "127.0.0.1"
    elif ":" in ip:
        ip = f"[{ip}]"
    return f"http://{ip}:{svc.port}{svc.health_path}"


def probe(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            status: int = r.status
            return 200 <= status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(container: Container, url: str, timeout: float, tick: Tick, *, clock: Clock,
                 interval: float = INTERVAL) -> float:
    """Poll the health route from the host (or the engine's health status) until it answers; fail early
    when the container stops or restarts. tick(elapsed, state) after every poll. Returns the seconds waited.
    clock: what elapsed time is read from and what sleeps between polls."""
    import docker.errors

    start = clock.monotonic()
    restarts_before: int | None = None
    while True:
        elapsed = clock.monotonic() - start
        try:
            container.reload()
        except docker.errors.NotFound:
            raise RunError("the container disappeared while starting",
                           hint="someone removed it; run up again") from None
        status, health = state(container)
        restarts = int(container.attrs.get("RestartCount", 0))
        if restarts_before is None:
            restarts_before = restarts   # a container kept from an earlier up may have restarted before
        if status in ("exited", "dead", "restarting") or restarts > restarts_before:
            _exited(container, url)
        if health == "healthy" or probe(url):
            tick(elapsed, "healthy")
            return elapsed
        tick(elapsed, health or status)
        if elapsed >= timeout:
            raise RunError(f"{url} did not answer within {timeout:g} s (container {status}"
                           + (f", {health}" if health else "") + "); the container is left running",
                           hint="loading weights can take long: raise --timeout, follow `deployc logs -f`, or "
                                "`deployc down` to stop it", logs=tail(container))
        clock.sleep(interval)


def _exited(container: Container, url: str) -> NoReturn:
    """The engine stopped (or restarts) before it answered: stop it, so that no restart loop holds the GPUs,
    keep it for `deployc logs`, and fail with its last lines."""
    import docker.errors

    code = container.attrs.get("State", {}).get("ExitCode")
    logs = tail(container)
    try:
        container.stop(timeout=10)
    except docker.errors.APIError:
        pass
    raise RunError(f"the engine exited (exit code {code}) before {url} answered; the container "
                   f"{container.name} is stopped",
                   hint="read the log lines above (`deployc logs` has all of them); typical causes: the "
                        "model does not fit the GPUs, a missing HF_TOKEN for a gated model, an argument the "
                        "engine rejects. Fix the spec, `deployc build` to review, then up again "
                        "(`deployc down` removes the stopped container)", logs=logs)
