"""The XInference server as a container (`deployc up`, Kubernetes): xinference-local in XInference's image
(xprobe/xinference:v<version>, the tag scheme of its docs' doc/source/getting_started/using_docker_image.rst),
GET /status as its health route (xinference/api/restful_api.py: the unauthenticated "internal interface"
/status). The model is loaded by launch steps against the running server, and lives only in its memory.
"""

from __future__ import annotations

from deployc.compiler import api
from deployc.compiler.api import BuildContext, Plan
from deployc.targets.xinference.launch import launch_argv
from deployc.targets.xinference.options import Lowering, XinferenceOptions, lora_modules, model_path
from deployc.targets.xinference.register import register_argv
from deployc.targets.xinference.versions import XinferenceVersion

ENDPOINT = "ENDPOINT"  # stands for the server's URL in a launch step until it becomes api.SERVER_URL


def _step(argv: list[str], api_key_env: str | None) -> tuple[str, ...]:
    """A launch step in Compose syntax: the endpoint is the server's URL, every other token literal."""
    step = tuple(api.SERVER_URL if t == ENDPOINT and i == 3 else t.replace("$", "$$") for i, t in enumerate(argv))
    return step + (("--api-key", api.api_key_ref(api_key_env)) if api_key_env else ())


def server_service(plan: Plan, o: XinferenceOptions, v: XinferenceVersion, seqs: int | None,
                   env: list[tuple[str, str]], registered: str | None, ctx: BuildContext) -> api.Service:
    """registered: register.json's text for a custom model. The launch runs inside the server's container:
    local model and adapter folders are mounted read-only at fixed paths and the launch names those, as
    the other targets' containers do."""
    mounts = api.LocalMounts(ctx)
    c = Lowering(plan, o, v, seqs, mounts.ref)
    model_path(c)
    lora_modules(c)  # the model's mount first, then the adapters': the order of the volumes
    key = plan.server.api_key_env
    steps = [_step(register_argv(ENDPOINT), key)] if registered is not None else []
    steps.append(_step(launch_argv(c, ENDPOINT), key))
    files = (("register.json", registered),) if registered is not None else ()
    return api.service(
        plan=plan, image=o.image or f"xprobe/xinference:v{v.version}",
        command=["xinference-local", "--host", "0.0.0.0", "--port", str(plan.server.port)], env_pass=["HF_TOKEN"],
        env_set={k: val for k, val in env if k not in o.env} | api.compose_env(o),
        container_cache="/root/.cache/huggingface", health_path="/status", gpu_count=plan.gpus_needed,
        volumes=mounts.volumes, launch=api.Launch(steps=tuple(steps), files=files))
