"""The Compose renderer: one engine Service as a Compose file with one service."""

from __future__ import annotations

from typing import Any

from deployc.compiler.api.container import Service, port_binding
from deployc.compiler.render import comment_block, dump_yaml


def gpu_devices(count: int) -> dict[str, Any]:
    return {"reservations": {"devices": [{"driver": "nvidia", "count": count, "capabilities": ["gpu"]}]}}



def compose_file(header: list[str], svc: Service) -> str:
    """A Compose file with one service. command tokens are literal: `$` is written `$$`, because
    Compose interpolates `$NAME` everywhere, command included (a served name `a$HOME` must reach the
    engine as typed); command_tail tokens are the ones Compose is meant to interpolate."""
    port, _ = port_binding(svc.host, svc.port)
    out: dict[str, Any] = {"image": svc.image}
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
