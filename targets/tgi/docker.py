"""run.sh's `docker run` of the pinned image: GPUs, shared memory, the Hugging Face cache, read-only
bind mounts of the spec's local paths (absolute via ${PWD} or ${HOME}, as run.sh cds to the spec's
folder first), the environment passed by name, then the launcher's argv."""

from __future__ import annotations

from pathlib import PurePosixPath

from deployc.compiler import api
from deployc.compiler.api import Plan, SpecPath, is_local
from deployc.targets.tgi.options import Lowering, TgiOptions, launcher_args
from deployc.targets.tgi.versions import TgiVersion

SHM_SIZE = "1g"  # TGI's README: NCCL needs shared memory when sharding; docker's default is 64 MB.
DATA_VAR = "TGI_DATA"  # run.sh's shell variable holding the host's Hugging Face cache


def gpu_devices(count: int) -> str:
    """docker's --gpus value for devices 0..count-1; the quotes keep its CSV parser from splitting at ','."""
    return '"device=' + ",".join(str(i) for i in range(count)) + '"'


def host_path(local: str) -> str | None:
    """A spec path as run.sh sees it after cd-ing to the spec's folder: absolute, via ${PWD} or ${HOME}."""
    if local.startswith("/"):
        return local
    if local == "~" or local.startswith("~/"):
        return "${HOME}" + local[1:]
    if local.startswith("~"):
        return None
    return "${PWD}/" + PurePosixPath(local).as_posix()


def local_paths(plan: Plan) -> list[tuple[SpecPath, str]]:
    """(spec path, value) of every local path docker bind-mounts."""
    out: list[tuple[SpecPath, str]] = [(("model", "source"), plan.model.source)] if plan.model_is_local else []
    return out + [(("model", "adapters", i, "source"), a.source)
                  for i, a in enumerate(plan.model.adapters) if is_local(a.source)]


def docker_run(plan: Plan, opts: TgiOptions, v: TgiVersion, image: str) -> tuple[list[str], dict[int, str]]:
    """The `docker run` argv, and the positions of the tokens that start with a shell variable run.sh
    expands (the cache folder, ${PWD}/${HOME} bind mounts)."""
    port, _ = api.port_binding(plan.server.host, plan.server.port)
    assert port is not None, "the core's check refuses a server.host docker cannot publish on"
    names = list(dict.fromkeys(["HF_TOKEN"] + (["API_KEY"] if plan.server.api_key_env else []) + sorted(opts.env)))
    docker = ["docker", "run", "--rm", "--name", plan.name, "--gpus", gpu_devices(plan.gpus_needed),
              "--shm-size", SHM_SIZE, "-p", port]
    expand = {len(docker) + 1: DATA_VAR}
    docker += ["-v", f"${{{DATA_VAR}}}:/data"]
    binds: dict[str, str] = {}

    def bind(ref: str, where: str) -> str:
        binds.setdefault(f"{host_path(ref)}:{where}:ro", "")
        return where

    launcher = launcher_args(Lowering(plan, opts, v, lambda ref, where: bind(ref, where) if is_local(ref) else ref))
    for volume in binds:
        if volume.startswith("${"):
            expand[len(docker) + 1] = volume[2:volume.index("}")]
        docker += ["-v", volume]
    for name in names:
        docker += ["-e", name]
    return docker + [image] + launcher, expand
