"""TensorRT-LLM 1.x lowering (the PyTorch backend, no engine build): serve.sh and its options YAML,
compose.yaml, quantize.sh when deployc quantizes with ModelOpt, and the Triton route in the version's own
layout (launch.sh and model_repository/tensorrt_llm/1/model.yaml for the LLM-API Python model).

Sources are in versions.py (TrtLlmServeVersion). Decisions worth knowing:
- serve.sh runs `trtllm-serve serve MODEL --backend pytorch ...` (llmapi.SERVE) with `--config
  trtllm-config.yaml` when deployc has LLM-API arguments to set (llmapi.KEYS).
- In a container (compose.yaml, `deployc up`, Kubernetes) the YAML travels as an argument: the command
  is `python3 -c WRITE_THEN_EXEC /tmp/...yaml <yaml> trtllm-serve serve ...`, a fixed program that writes
  the file and execs trtllm-serve, so every platform runs the same argv with nothing to mount.
- Quantizing (modelopt.py) happens before serving: quantize.sh on a host, setup steps in a container
  (which Compose cannot run: no compose.yaml then; `deployc up` and Kubernetes run them).
- Triton: the image carries the LLM-API Python model under /app/all_models/llmapi/tensorrt_llm (its
  config.pbtxt, 1/model.py); launch.sh copies it into work/triton, adds deployc's 1/model.yaml (the same
  LLM-API arguments plus triton_config) and starts tritonserver as launch_triton_server.py does for one
  rank (the LLM API starts its own workers), in the foreground, but without --disable-auto-complete-config:
  model.py's auto_complete_config is what applies triton_config (decoupled for streaming). Clients call
  /v2/models/tensorrt_llm/generate.
"""

from __future__ import annotations

import posixpath
from typing import Any
from dataclasses import replace

from deployc.compiler import api
from deployc.compiler.api import Artifact, BuildContext, Lowered, Plan, comment_block, dump_yaml, is_local, render_template
from deployc.targets.tensorrt_llm import modelopt, parsers
from deployc.targets.tensorrt_llm.engine import NAME, TITLE, Paths, kv_fraction
from deployc.targets.tensorrt_llm.llmapi import SERVE, Serving, options_yaml, serve_argv
from deployc.targets.tensorrt_llm.options import TensorRtLlmOptions, triton_ports
from deployc.targets.tensorrt_llm.scripts import TEMPLATES, downloads
from deployc.targets.tensorrt_llm.versions import TrtLlmServeVersion

CONFIG_FILE = "trtllm-config.yaml"
CONTAINER_CONFIG = "/tmp/deployc-trtllm-config.yaml"
CONTAINER_WORK = "/deployc/work"
HF_CACHE = "/root/.cache/huggingface"
WRITE_THEN_EXEC = "import os, sys; open(sys.argv[1], 'w').write(sys.argv[2]); os.execvp(sys.argv[3], sys.argv[3:])"
# The image's LLM-API Python model (tensorrtllm_backend r26.07 Dockerfile: WORKDIR /app, all_models)
TRITON_MODEL = "/app/all_models/llmapi/tensorrt_llm"
TRITON_NAME = "tensorrt_llm"


def batch_size(plan: Plan, opts: TensorRtLlmOptions) -> int | None:
    return plan.limits.max_concurrency or opts.max_batch_size


def _serving(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmServeVersion, *, model: str, tokenizer: str | None,
             chat: str | None, adapters: tuple[tuple[str, str], ...], host: str, quantized: bool,
             draft: str | None = None) -> Serving:
    fraction, _ = kv_fraction(plan)
    return Serving(plan=plan, v=v, model=model, revision=None if quantized else plan.model.revision,
                   tokenizer=tokenizer, chat_template=chat, fraction=fraction, host=host, config=None,
                   max_batch_size=batch_size(plan, opts), adapters=adapters, draft=draft,
                   parsers=(api.parser_name(plan, opts, NAME, parsers.support(v.data_version), "tool"),
                            api.parser_name(plan, opts, NAME, parsers.support(v.data_version), "reasoning")))


def _draft(plan: Plan, here: Any) -> str | None:
    """speculative.model as serve.sh sees it: a hub id as it is, a local path from the script's folder."""
    s = plan.speculative
    if s is None or s.model is None:
        return None
    return here(s.model) if is_local(s.model) else s.model


def yaml_text(banner: list[str] | None, data: dict[str, Any]) -> str:
    return dump_yaml(data, comment_block(banner) if banner else "")


def lower(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmServeVersion, ctx: BuildContext) -> Lowered:
    m, served = plan.model, plan.model.served_name or "model"
    banner = api.banner(ctx, NAME, TITLE, v.version)
    quantized = modelopt.quantizes(plan, opts)
    paths = Paths.of(plan, opts.workdir, ctx)

    def here(p: str) -> str:  # a spec path as the scripts (which cd to their own folder) see it
        return p if p.startswith("/") else posixpath.normpath(posixpath.join(ctx.spec_dir, p))

    model = modelopt.output(paths.work, served) if quantized else (here(m.source) if is_local(m.source) else m.source)
    host_view = _serving(
        plan, opts, v, model=model, tokenizer=here(m.tokenizer) if m.tokenizer and is_local(m.tokenizer) else m.tokenizer,
        chat=here(m.chat_template) if m.chat_template else None,
        adapters=tuple((a.name, here(a.source)) for a in m.adapters), host=plan.server.host, quantized=quantized,
        draft=_draft(plan, here))
    llm_args = options_yaml(host_view)
    if llm_args:
        host_view = replace(host_view, config=CONFIG_FILE)
    argv = serve_argv(host_view)
    env = api.user_env_shell(opts)
    needed = [(f"{model}/config.json", "run ./quantize.sh first")] if quantized else []
    url = api.client_url(plan.server.host, plan.server.port, "/v1")
    artifacts = [Artifact("serve.sh", render_template(
        TEMPLATES, "serve1.sh.j2", banner=banner, env=env, argv=argv, needed=needed, before=[],
        about=[f"Serves {served} ({m.source}) with trtllm-serve {v.version} on the PyTorch backend, "
               f"OpenAI-compatible API at {url}.",
               f"trtllm-serve {v.version} has no --served_model_name: the API names the model after its MODEL "
               f"argument ({model}).",
               f"Run it inside {v.image} on {plan.gpus_needed} {plan.hardware.gpu.name} GPU(s); HF_TOKEN is "
               "read from the environment for gated models."]), executable=True)]
    if llm_args:
        artifacts.append(Artifact(CONFIG_FILE, yaml_text(banner + ["LLM-API arguments for `trtllm-serve serve "
                                                                   f"{v.config_flag}` (they override its flags)."],
                                                         llm_args)))
    svc, _setup = _service(plan, opts, v, ctx, quantized, llm_args)
    if quantized:
        artifacts.append(Artifact("quantize.sh", quantize_script(plan, v, banner, env, paths, served), executable=True))
    else:
        artifacts.append(Artifact("compose.yaml", api.compose_file(
            banner + ["", f"docker compose up -d; the API is at {url} once the health check passes."], svc)))
    artifacts += triton_artifacts(plan, opts, v, banner, env, host_view, llm_args, model, quantized)
    work = paths.work
    if not work.startswith(("/", "..")):
        artifacts.append(Artifact(".gitignore", comment_block(banner) + f"/{work}/\n"))
    return Lowered(artifacts=tuple(artifacts), command=tuple(argv), service=svc,
                   derived=api.derived_of(SERVE, host_view, v, plan))


def _service(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmServeVersion, ctx: BuildContext, quantized: bool,
             llm_args: dict[str, Any]) -> tuple[api.Service, list[tuple[str, ...]]]:
    m, served = plan.model, plan.model.served_name or "model"
    mounts = api.LocalMounts(ctx)
    setup: list[tuple[str, ...]] = []
    if quantized:
        cpaths = Paths.of(plan, CONTAINER_WORK, BuildContext(spec_dir=".", spec_name="", spec_digest=""))
        setup += [tuple(argv) for marker, _, argv in _model_downloads(plan, cpaths)]
        source = mounts.path(m.source, "/deployc/model") if is_local(m.source) else cpaths.model
        setup += modelopt.steps(plan, v, CONTAINER_WORK, source)
        model = modelopt.output(CONTAINER_WORK, served)
    else:
        model = mounts.map(m.source, "/deployc/model")
    view = _serving(
        plan, opts, v, model=model, tokenizer=mounts.ref(m.tokenizer, "/deployc/tokenizer"),
        chat=mounts.path(m.chat_template, "/deployc/chat_template.jinja") if m.chat_template else None,
        adapters=tuple((a.name, mounts.map(a.source, f"/deployc/adapters/{a.name}")) for a in m.adapters),
        host="0.0.0.0", quantized=quantized,
        draft=mounts.map(plan.speculative.model, "/deployc/speculative") if plan.speculative and plan.speculative.model
        else None)
    command = serve_argv(replace(view, config=CONTAINER_CONFIG) if llm_args else view)
    if llm_args:   # the container's own view of the paths in it (adapters, a local draft model)
        command = ["python3", "-c", WRITE_THEN_EXEC, CONTAINER_CONFIG, yaml_text(None, options_yaml(view)), *command]
    workdir = opts.workdir if opts.workdir.startswith("/") else "./" + opts.workdir
    svc = api.service(
        plan=plan, image=opts.image or v.image, command=command, env_pass=["HF_TOKEN"], env_set=api.compose_env(opts),
        volumes=mounts.volumes, container_cache=CONTAINER_WORK if quantized else HF_CACHE,
        cache_volume=f"{workdir}:{CONTAINER_WORK}" if quantized else None, setup=tuple(setup), start_period="30m")
    return svc, setup


def _model_downloads(plan: Plan, paths: Paths) -> list[tuple[str, str, list[str]]]:
    return [d for d in downloads(plan, paths) if d[1] == "download-model"]


def quantize_script(plan: Plan, v: TrtLlmServeVersion, banner: list[str], env: list[tuple[str, str]], paths: Paths,
                    served: str) -> str:
    import shlex
    lines = [shlex.join(argv) for _, _, argv in _model_downloads(plan, paths)]
    lines += [shlex.join(step) for step in modelopt.steps(plan, v, paths.work, paths.model)]
    out = modelopt.output(paths.work, served)
    qformat = modelopt.QFORMAT[plan.precision.quantization]
    return render_template(
        TEMPLATES, "quantize.sh.j2", banner=banner, env=env, lines=lines, work=paths.work, output=out,
        marker=f"{out}/hf_quant_config.json",
        about=[f"Quantizes {plan.model.source} to {qformat} with NVIDIA ModelOpt {v.modelopt_tag} "
               f"(Model-Optimizer examples/llm_ptq/hf_ptq.py; calibration data comes from the Hub) into {out},",
               f"which serve.sh serves. Run it once inside {v.image} on a {plan.hardware.gpu.name}; "
               "HF_TOKEN is read from the environment for gated models."])


def triton_args(view: Serving, llm_args: dict[str, Any]) -> dict[str, Any]:
    """model.yaml: the LLM() arguments trtllm-serve would pass for its flags, then the YAML's keys."""
    plan, lim = view.plan, view.plan.limits
    out: dict[str, Any] = {"model": view.model, "backend": "pytorch"}
    for key, value in (("tokenizer", view.tokenizer), ("revision", view.revision),
                       ("trust_remote_code", plan.model.trust_remote_code or None),
                       ("tensor_parallel_size", plan.parallelism.tensor), ("pipeline_parallel_size", plan.parallelism.pipeline),
                       ("max_batch_size", view.max_batch_size), ("max_num_tokens", lim.max_batch_tokens),
                       ("max_seq_len", lim.max_model_len)):
        if value is not None:
            out[key] = value
    return {**out, **llm_args}


def triton_artifacts(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmServeVersion, banner: list[str],
                     env: list[tuple[str, str]], view: Serving, llm_args: dict[str, Any], model: str,
                     quantized: bool) -> list[Artifact]:
    from deployc.targets.tensorrt_llm.scripts import launch_command
    import shlex
    work = Paths.of(plan, opts.workdir, BuildContext(spec_dir=".", spec_name="", spec_digest="")).work
    repo = f"{work}/triton"
    data = {**triton_args(view, llm_args), "triton_config": {"max_batch_size": 0, "decoupled": opts.streaming}}
    model_yaml = yaml_text(banner + ["The LLM-API Python model's arguments (keys of LLM()); triton_config: the "
                                     "model's Triton settings. Paths are relative to launch.sh's folder."], data)
    grpc, metrics = triton_ports(plan, opts)
    argv = [t for t in launch_command(1, plan.server.host, plan.server.port, grpc, metrics)
            if t != "--disable-auto-complete-config"]
    argv = [f"--model-repository={repo}" if t.startswith("--model-repository=") else t for t in argv]
    before = [shlex.join(["rm", "-rf", "--", repo]), shlex.join(["mkdir", "-p", "--", repo]),
              shlex.join(["cp", "-r", "--", TRITON_MODEL, f"{repo}/{TRITON_NAME}"]),
              shlex.join(["cp", "--", f"model_repository/{TRITON_NAME}/1/model.yaml", f"{repo}/{TRITON_NAME}/1/model.yaml"])]
    needed = [(f"{model}/config.json", "run ./quantize.sh first")] if quantized else []
    host, port = plan.server.host, plan.server.port
    launch = render_template(
        TEMPLATES, "serve1.sh.j2", banner=banner, env=env, argv=argv, needed=needed, before=before,
        about=[f"Serves {plan.model.served_name} with Triton and TensorRT-LLM {v.version}'s LLM-API Python model "
               f"on {host}:{port}: POST {api.client_url(host, port, f'/v2/models/{TRITON_NAME}/generate')} with "
               "text_input and sampling_param_max_tokens.",
               f"Run it inside {v.triton_image} (it carries TensorRT-LLM {v.version} and the model under "
               f"{TRITON_MODEL}); gRPC {grpc}, metrics {metrics}. Run launch.sh or serve.sh, "
               "not both: each takes the GPUs."])
    return [Artifact("launch.sh", launch, executable=True),
            Artifact(f"model_repository/{TRITON_NAME}/1/model.yaml", model_yaml)]
