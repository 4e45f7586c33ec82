"""The TensorRT-LLM target: build.sh (checkpoint -> engine), a Triton model repository, launch.sh, serve.sh.

Every flag is checked against the pinned release (targets/tensorrt_llm/versions.py names the
commits and files; cli_options.json holds the option tables the tests hold every emitted flag
to; the conformance tier parses every config.pbtxt with Triton's own protobuf message).

Spec -> TensorRT-LLM, decisions worth knowing:
- An engine is compiled for fixed shapes, so the spec's limits become trtllm-build's:
  max_model_len -> --max_seq_len (default: model.facts.max_position_embeddings; with neither known,
  a warning: trtllm-build then reads max_seq_len from config.json but keeps max_input_len 1024),
  max_input_tokens -> --max_input_len (default max_seq_len - 1), max_concurrency ->
  --max_batch_size (default 256, or targets.tensorrt-llm.max_batch_size), max_batch_tokens ->
  --max_num_tokens (default: BuildConfig's 8192, or max_input_len when larger, so that every
  prompt can be prefilled in one step on both serving paths). Paged KV cache, paged context FMHA and
  --gemm_plugin/--gpt_attention_plugin auto are always on; Triton gets enable_chunked_context
  when prompts may be longer than max_num_tokens.
- Checkpoint conversion is per model family (llama, mistral: the llama converter; qwen: the
  qwen converter), from targets.tensorrt-llm.family or the hub id. quantization awq/gptq name
  pre-quantized checkpoints, which both converters read from config.json; int8/int4 are
  weight-only (--use_weight_only --weight_only_precision); fp8, and an fp8 KV cache on a 16-bit
  model, go through quantize.py (ModelOpt, calibrated); the llama converter adds an fp8 KV
  cache to the other cases with --fp8_kv_cache, the qwen converter cannot.
- hardware.memory_utilization is a share of ALL memory; TensorRT-LLM's
  kv_cache_free_gpu_mem_fraction (Triton) / --kv_cache_free_gpu_memory_fraction (trtllm-serve)
  is a share of the memory still FREE after weights and buffers. deployc translates with the
  weights per GPU W (compiler/memory.py: parameters x bytes per weight, sharded) and memory M:
  f = (u*M - W) / (M - W), rounded down to 0.01, so weights + KV stay within u*M; without
  facts.parameters, f = u.
- With max_concurrency set, max_tokens_in_paged_kv_cache = max_batch_size x max_seq_len: the
  KV cache never grows past what that many full-length sequences can use.
- The ensemble is named after model.served_name (clients call /v2/models/<name>/generate), and
  the engine folder too: trtllm-serve 0.19 has no --served_model_name and reports a local model
  folder by its base name.
- `args` are extra trtllm-build flags; each must be a flag of the pinned trtllm-build, and none
  may restate one deployc derives (argparse also accepts unambiguous prefixes).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal

from pydantic import Field

from compiler import memory
from compiler.diagnostics import Diagnostic, error, has_errors, warning
from compiler.memory import Budget, EngineMemory
from compiler.plan import Plan
from compiler.render import banner_lines, comment_block, render_template
from compiler.spec import Plain, is_local
from compiler.target_api import Artifact, BuildContext, Capability, Lowered, Target, TargetOptions
from targets._shared import container
from targets.tensorrt_llm import triton
from targets.tensorrt_llm.scripts import Paths, Shapes, build_command, build_steps, launch_command, serve_command
from targets.tensorrt_llm.versions import FAMILIES, HUB_FAMILIES, VERSIONS, TrtLlmVersion

TEMPLATES = Path(__file__).parent / "templates"
TITLE = "TensorRT-LLM"
NAME = "tensorrt-llm"
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# trtllm-build flags deployc derives, and the spec path that owns each (for `args` conflicts).
OWNED: dict[str, tuple[str, ...]] = {
    "--checkpoint_dir": ("model", "source"),
    "--output_dir": ("model", "served_name"),
    "--max_batch_size": ("limits", "max_concurrency"),
    "--max_input_len": ("limits", "max_input_tokens"),
    "--max_seq_len": ("limits", "max_model_len"),
    "--max_decoder_seq_len": ("limits", "max_model_len"),
    "--max_num_tokens": ("limits", "max_batch_tokens"),
    "--kv_cache_type": ("precision", "kv_cache_dtype"),
    "--paged_kv_cache": ("precision", "kv_cache_dtype"),
    "--workers": ("parallelism", "tensor"),
}


class TensorRtLlmOptions(TargetOptions):
    """targets.tensorrt-llm: the common options plus the engine build's own knobs."""

    family: Literal["llama", "mistral", "qwen"] | None = Field(
        default=None, description="Model family, which picks the checkpoint converter. Default: from the "
                                  "hub id (Llama, Mistral, Qwen2/2.5); required for local models.")
    max_batch_size: int | None = Field(
        default=None, ge=1, le=65536,
        description="Engine batch size (trtllm-build --max_batch_size) when limits.max_concurrency is not "
                    "set. Default: 256.")
    workdir: Plain = Field(
        default="work", pattern=r"^[A-Za-z0-9_./][A-Za-z0-9_./-]*$",
        description="Folder for downloads, the converted checkpoint and the engine, relative to the "
                    "output folder (or absolute).")
    streaming: bool = Field(default=True, description="Triton decoupled mode, needed for streaming responses.")
    max_queue_delay_microseconds: int = Field(
        default=0, ge=0, description="Triton dynamic batching: how long a request may wait for others.")
    max_queue_size: int | None = Field(
        default=None, ge=1, description="Triton: requests queued beyond this are rejected. Default: no limit.")
    tokenizer_instances: int = Field(
        default=1, ge=1, le=256, description="Instances of the Triton pre- and postprocessing (tokenizer) models.")
    grpc_port: int = Field(default=8001, ge=1, le=65535, description="Triton's gRPC port.")
    metrics_port: int = Field(default=8002, ge=1, le=65535, description="Triton's Prometheus metrics port.")


# One MPI world across machines is what TensorRT-LLM needs beyond one node, and nothing deployc can
# write with the pinned image sets it up: tensorrtllm_backend v0.19.0 scripts/launch_triton_server.py
# get_cmd starts every rank on the local host (`mpirun -n 1 ...` per rank, no hostfile), and the
# documented Kubernetes route (kubernetes-sigs/lws v0.10.0 docs/examples/tensorrt-llm) builds its own
# image with kubectl and a `kubessh` rsh agent for mpirun (build/Dockerfile, build/server.py:109-215)
# plus RBAC to exec into the worker pods. deployc refuses rather than write a half-working world.
MULTI_NODE_HINT = ("TensorRT-LLM needs one MPI world over all nodes (mpirun reaching every node over ssh or "
                   "kubectl exec), which the pinned Triton image and launch_triton_server.py do not set up: fit one "
                   "copy on one node (tensor x pipeline <= hardware.gpus_per_node; quantization: fp8 or int4 "
                   "shrinks the weights) and raise parallelism.data on more nodes, or use the vllm or sglang "
                   "target, which span nodes")


class TensorRtLlmTarget(Target):
    name = NAME
    title = TITLE
    versions = tuple(VERSIONS)
    options = TensorRtLlmOptions

    def capabilities(self, version: str) -> frozenset[Capability]:
        return VERSIONS[version].capabilities

    def unsupported_hint(self, capability: Capability, version: str) -> str | None:
        return {
            Capability.DATA_PARALLEL: "run one copy of launch.sh per GPU group (CUDA_VISIBLE_DEVICES) behind a "
                                      "load balancer, or leave tensorrt-llm out of targets",
            Capability.REMOTE_CODE: "TensorRT-LLM builds only architectures it implements; remove "
                                    "model.trust_remote_code",
            Capability.CHAT_TEMPLATE: "the Triton ensemble takes raw text and trtllm-serve 0.19 uses the "
                                      "tokenizer's own template: put the template into tokenizer_config.json",
            Capability.LORA: "merge the adapter into the base model, or build with --lora_plugin by hand and "
                             "send the adapter weights with each Triton request",
            Capability.API_KEY: "neither Triton nor trtllm-serve checks an API key: put an authenticating "
                                "proxy in front and remove server.api_key_env",
            Capability.MAX_OUTPUT_TOKENS: "clients choose max_tokens per request; the engine's max_seq_len "
                                          "(limits.max_model_len) bounds prompt + output",
            Capability.QUANT_BITSANDBYTES: "use quantization: int4 or int8 (weight-only) or awq",
            Capability.QUANT_GGUF: "serve the original checkpoint; TensorRT-LLM does not read GGUF",
            Capability.MULTI_NODE: MULTI_NODE_HINT,
        }.get(capability)

    def check(self, plan: Plan, opts: TargetOptions, version: str) -> list[Diagnostic]:
        assert isinstance(opts, TensorRtLlmOptions)
        v = VERSIONS[version]
        out: list[Diagnostic] = []
        m, p, gpu, lim = plan.model, plan.precision, plan.hardware.gpu, plan.limits
        family, problem = resolve_family(plan, opts)
        if problem:
            out.append(problem)
        if family and p.kv_cache_dtype == "fp8" and p.quantization not in ("none", "fp8") \
                and not FAMILIES[family].fp8_kv_flag:
            out.append(error(
                "tensorrt-llm-kv-cache", f"the {family} converter of TensorRT-LLM {version} cannot add an fp8 KV "
                f"cache to a {p.quantization} checkpoint (it has no --fp8_kv_cache)",
                hint="use kv_cache_dtype: auto, or quantization: fp8 or none (quantize.py calibrates the fp8 "
                     "KV cache)", path=("precision", "kv_cache_dtype")))
        for key, used in (("quantization", p.quantization == "fp8"), ("kv_cache_dtype", p.kv_cache_dtype == "fp8")):
            if used and gpu.sm is not None and gpu.sm < v.fp8_min_sm:
                out.append(error(
                    "tensorrt-llm-fp8-gpu", f"TensorRT-LLM {version} runs FP8 on compute capability "
                    f"{v.fp8_min_sm} and newer (Ada, Hopper); {gpu.name} has {gpu.compute_capability}",
                    hint=("use quantization: int8 (weight-only) or none on this GPU" if key == "quantization"
                          else "use kv_cache_dtype: auto on this GPU"), path=("precision", key)))
        if gpu.vendor != "nvidia":
            out.append(error("tensorrt-llm-gpu", f"TensorRT-LLM runs on NVIDIA GPUs only, not {gpu.name}",
                             hint="leave tensorrt-llm out of targets for this hardware", path=("hardware", "gpu")))
        elif gpu.sm is not None and gpu.sm < 8.0:
            out.append(warning(
                "tensorrt-llm-gpu-untested", f"TensorRT-LLM {version}'s support matrix lists Ampere (8.0) and "
                f"newer; {gpu.name} ({gpu.compute_capability}) has community support only",
                hint="expect build or kernel failures; vllm serves this GPU", path=("hardware", "gpu")))
        if lim.max_model_len is None and plan.facts.context is None:
            out.append(warning(
                "tensorrt-llm-max-seq-len", "deployc does not know this model's context length: trtllm-build "
                "takes max_seq_len from config.json, but keeps its default max_input_len of 1024, so longer "
                "prompts are refused", hint="set limits.max_model_len (or model.facts.max_position_embeddings)",
                path=("model", "source")))
        if opts.max_batch_size is not None and lim.max_concurrency is not None:
            out.append(error(
                "tensorrt-llm-max-batch-size", "targets.tensorrt-llm.max_batch_size restates limits.max_concurrency",
                hint="keep one of them", path=("targets", NAME, "max_batch_size")))
        if not _MODEL_NAME.match(m.served_name or "") or m.served_name in (*triton.PYTHON_MODELS, triton.ENGINE_MODEL):
            out.append(error(
                "tensorrt-llm-served-name", f"served name {m.served_name!r} names the Triton ensemble model and the "
                "engine folder, so it must be a folder name (letters, digits, '.', '_', '-') other than "
                "preprocessing, postprocessing and tensorrt_llm",
                hint="set model.served_name to such a name", path=("model", "served_name")))
        if opts.image is not None:
            out.append(error("tensorrt-llm-image", "the tensorrt-llm target writes scripts, not a container file",
                             hint="run build.sh and launch.sh inside the Triton TensorRT-LLM image of your "
                                  "choice; remove targets.tensorrt-llm.image", path=("targets", NAME, "image")))
        ports = {"server.port": plan.server.port, "grpc_port": opts.grpc_port, "metrics_port": opts.metrics_port}
        if len(set(ports.values())) < 3:
            out.append(error("tensorrt-llm-ports", "Triton's HTTP, gRPC and metrics ports must differ: "
                             + ", ".join(f"{key} {port}" for key, port in ports.items()),
                             hint="set targets.tensorrt-llm.grpc_port and metrics_port to free ports",
                             path=("targets", NAME)))
        if ":" in plan.server.host:
            out.append(error("tensorrt-llm-host", "deployc writes Triton's listen addresses for IPv4 and host "
                             "names only", hint="use 0.0.0.0, 127.0.0.1 or a host name", path=("server", "host")))
        for path in _local_paths(plan):
            if getattr_path(plan, path).startswith("~"):
                out.append(error("tensorrt-llm-home-path", "build.sh quotes every path, so ~ would not expand",
                                 hint="write the path from / or relative to the spec", path=path))
        s = shapes(plan, opts, v)
        if not has_errors(out) and s.max_input_len is not None and s.max_num_tokens < s.max_input_len:
            out.append(warning(
                "tensorrt-llm-chunked-context", "prompts may be longer than max_batch_tokens: Triton prefills them "
                "in chunks (enable_chunked_context), but trtllm-serve 0.19 has no flag for that and rejects them",
                hint="raise limits.max_batch_tokens to max_input_tokens if you use serve.sh",
                path=("limits", "max_batch_tokens")))
        if not has_errors(out):
            fraction, w = kv_fraction(plan)
            if fraction <= 0:
                out.append(error(
                    "tensorrt-llm-memory", f"the weights take about {w:.1f} GiB per GPU, more than "
                    f"memory_utilization {plan.hardware.memory_utilization:g} of {gpu.memory_gib:g} GiB leaves",
                    hint="raise parallelism.tensor, quantize, or raise hardware.memory_utilization",
                    path=("hardware", "memory_utilization")))
        out += container.arg_conflicts(opts.args, OWNED, NAME)
        known = v.options["trtllm-build"]["options"]
        for i, token in enumerate(opts.args):
            flag = token.split("=", 1)[0]
            if flag.startswith("--") and not any(k.startswith(flag[2:]) for k in known) \
                    and flag not in OWNED:
                out.append(error("tensorrt-llm-args-unknown", f"{flag} is not a trtllm-build flag of "
                                 f"TensorRT-LLM {version}", hint="see `trtllm-build --help` of that release",
                                 path=("targets", NAME, "args", i)))
        return out

    def memory_model(self, plan: Plan, opts: TensorRtLlmOptions, version: str) -> EngineMemory | None:
        """TensorRT-LLM gives the KV cache kv_cache_free_gpu_mem_fraction of the memory free after the
        engine's weights and activation buffers are allocated (docs/model_config.md of tensorrtllm_backend
        v0.19.0; KvCacheConfig.free_gpu_memory_fraction), in blocks of 64 tokens (tokens_per_block)."""
        fraction, _ = kv_fraction(plan)
        if fraction <= 0:
            return None
        v = VERSIONS[version]
        shape = shapes(plan, opts, v)
        return EngineMemory(
            engine=f"{TITLE} {version}", budget=Budget.FREE, fraction=fraction,
            fraction_flag="kv_cache_free_gpu_mem_fraction", batch_tokens=shape.max_num_tokens,
            max_seqs=shape.max_batch_size, non_torch_gib=0.5, block_size=64, source="targets/tensorrt_llm")

    def lower(self, plan: Plan, opts: TargetOptions, version: str, ctx: BuildContext) -> Lowered:
        assert isinstance(opts, TensorRtLlmOptions)
        v = VERSIONS[version]
        family, _ = resolve_family(plan, opts)
        assert family is not None
        s = shapes(plan, opts, v)
        fraction, _ = kv_fraction(plan)
        paths = Paths.of(plan, opts.workdir, ctx)
        m = plan.model
        world = plan.gpus_per_replica
        banner = banner_lines(ctx.spec_name, ctx.spec_digest, NAME, TITLE, version)
        env = container.user_env_shell(opts)

        build_argv = build_command(plan, opts.args, s, paths)
        steps = build_steps(plan, family, paths, build_argv)
        about_build = [
            f"Builds the {TITLE} {version} engine for {m.served_name} ({m.source}): "
            f"{', '.join(step.title.split(':')[0] for step in steps)}.",
            f"Run it inside a Triton TensorRT-LLM {version} image on {world} {plan.hardware.gpu.name} GPU(s); "
            "HF_TOKEN is read from the environment for gated models.",
            f"TRTLLM_BACKEND_DIR: a checkout of tensorrtllm_backend {v.backend_tag} with its tensorrt_llm "
            "submodule (for the converter scripts and the Triton Python models).",
        ]
        ensemble = m.served_name or "ensemble"
        build_sh = render_template(
            TEMPLATES, "build.sh.j2", banner=banner, about=about_build, backend_tag=v.backend_tag, env=env,
            steps=steps, engine_dir=paths.engine, work=paths.work,
            version_dirs=[f"model_repository/{triton.ENGINE_MODEL}/1", f"model_repository/{ensemble}/1"])

        repo = triton.Repository(
            ensemble=ensemble, max_batch_size=s.max_batch_size, decoupled=opts.streaming,
            queue_delay_us=opts.max_queue_delay_microseconds, max_queue_size=opts.max_queue_size,
            engine_dir=paths.engine, tokenizer_dir=paths.tokenizer, kv_cache_free_gpu_mem_fraction=fraction,
            max_tokens_in_paged_kv_cache=(s.max_batch_size * s.max_seq_len
                                          if plan.limits.max_concurrency is not None and s.max_seq_len else None),
            chunked_context=s.max_input_len is not None and s.max_num_tokens < s.max_input_len, tokenizer_instances=opts.tokenizer_instances)
        pbtxt_header = comment_block(banner + [f"Triton model configuration; paths are relative to the folder "
                                               f"launch.sh starts tritonserver in."])
        configs = triton.configs(repo, v, pbtxt_header)

        host, port = plan.server.host, plan.server.port
        launch_argv = launch_command(world, host, port, opts.grpc_port, opts.metrics_port)
        launch_sh = render_template(
            TEMPLATES, "run.sh.j2", banner=banner, env=env, argv=launch_argv,
            needed=[f"{paths.engine}/config.json", "model_repository/preprocessing/1/model.py"],
            about=[f"Serves {m.served_name} with Triton + the TensorRT-LLM {version} backend on "
                   f"{host}:{port}: POST {container.client_url(host, port, f'/v2/models/{ensemble}/generate')} "
                   "with text_input and max_tokens (generate_stream when streaming).",
                   f"One tritonserver rank per GPU ({world}) under mpirun, as the backend's "
                   "scripts/launch_triton_server.py starts them, in the foreground; gRPC "
                   f"{opts.grpc_port}, metrics {opts.metrics_port}."])
        serve_argv = serve_command(plan, s, paths, fraction)
        serve_sh = render_template(
            TEMPLATES, "run.sh.j2", banner=banner, env=env, argv=serve_argv, needed=[f"{paths.engine}/config.json"],
            about=[f"The simpler path: trtllm-serve {version}, OpenAI-compatible API under /v1 on {host}:{port}, "
                   f"on the engine build.sh made (model name {m.served_name}).",
                   "Run launch.sh or serve.sh, not both: each takes the GPUs."])
        artifacts = [Artifact("build.sh", build_sh, executable=True),
                     Artifact("launch.sh", launch_sh, executable=True),
                     Artifact("serve.sh", serve_sh, executable=True)]
        artifacts += [Artifact(f"model_repository/{name}/config.pbtxt", text) for name, text in configs.items()]
        # What build.sh downloads, converts and copies is not deployc's output: keep it out of git.
        ignored = ["/model_repository/*/1/"] + ([] if paths.work.startswith(("/", "..")) else [f"/{paths.work}/"])
        artifacts.append(Artifact(".gitignore", comment_block(banner) + "\n".join(ignored) + "\n"))
        return Lowered(artifacts=tuple(artifacts), command=tuple(build_argv),
                       service=engine_service(plan, opts, v, family, s, fraction))


# The TensorRT-LLM release image: trtllm-build, trtllm-serve and, under /app/tensorrt_llm/examples, the
# converter scripts (NVIDIA/TensorRT-LLM docker/Dockerfile.multi, stage `release`: WORKDIR
# /app/tensorrt_llm, COPY examples examples; docker/README.md: "release ... contains TensorRT-LLM examples
# in /app/tensorrt_llm"). Tags are the release versions (nvcr.io/nvidia/tensorrt-llm/release:<version>).
RELEASE_IMAGE = "nvcr.io/nvidia/tensorrt-llm/release:{version}"
EXAMPLES = "/app/tensorrt_llm/examples"
CONTAINER_WORK = "/deployc/work"


def engine_service(plan: Plan, opts: "TensorRtLlmOptions", v: TrtLlmVersion, family: str, s: Shapes,
                   fraction: float) -> container.Service:
    """The engine as one container: setup steps download, convert and build the engine into the work
    volume (exec-form argv each, the steps of build.sh), then trtllm-serve serves it (serve.sh's path:
    OpenAI API and GET /health, tensorrt_llm/serve/openai_server.py register_routes)."""
    from targets.tensorrt_llm.scripts import checkpoint_command

    work_ctx = BuildContext(spec_dir=".", spec_name="", spec_digest="")
    paths = Paths.of(plan, CONTAINER_WORK, work_ctx)
    m = plan.model
    setup: list[tuple[str, ...]] = []
    if paths.download_model:
        setup.append(("huggingface-cli", "download", m.source, *(("--revision", m.revision) if m.revision else ()),
                      "--local-dir", paths.model))
    if paths.download_tokenizer:
        setup.append(("huggingface-cli", "download", m.tokenizer, "--local-dir", paths.tokenizer))
    tool, args = checkpoint_command(plan, family, paths)
    script = (f"{EXAMPLES}/quantization/quantize.py" if tool == "quantize.py"
              else f"{EXAMPLES}/models/core/{FAMILIES[family].converter}/convert_checkpoint.py")
    setup.append(("python3", script, *args))
    setup.append(tuple(build_command(plan, opts.args, s, paths)))
    serve = serve_command(plan, s, paths, fraction)
    serve[serve.index("--host") + 1] = "0.0.0.0"
    workdir = opts.workdir if opts.workdir.startswith("/") else "./" + opts.workdir
    return container.service(
        plan=plan, image=RELEASE_IMAGE.format(version=v.version), command=serve,
        env_pass=["HF_TOKEN"], env_set=container.compose_env(opts), container_cache=CONTAINER_WORK,
        cache_volume=f"{workdir}:{CONTAINER_WORK}", gpu_count=plan.gpus_per_replica, setup=tuple(setup),
        start_period="30m")


def getattr_path(plan: Plan, path: tuple) -> str:
    node = plan
    for part in path:
        node = node[part] if isinstance(part, int) else getattr(node, part)
    return node


def _local_paths(plan: Plan) -> list[tuple]:
    m = plan.model
    out: list[tuple] = []
    if is_local(m.source):
        out.append(("model", "source"))
    if m.tokenizer and is_local(m.tokenizer):
        out.append(("model", "tokenizer"))
    return out


def resolve_family(plan: Plan, opts: TensorRtLlmOptions) -> tuple[str | None, Diagnostic | None]:
    if opts.family:
        return opts.family, None
    source = plan.model.source
    if not is_local(source):
        for pattern, family in HUB_FAMILIES:
            if pattern.search(source):
                if family:
                    return family, None
                break
    known = ", ".join(f"{arch} -> {name}" for name, f in FAMILIES.items() for arch in f.architectures)
    return None, error(
        "tensorrt-llm-family", f"deployc cannot tell which {TITLE} checkpoint converter {source} needs",
        hint=f"set targets.{NAME}.family from config.json's architectures ({known}); other architectures "
             "are not supported by this target", path=("model", "source"))


def shapes(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmVersion) -> Shapes:
    lim = plan.limits
    seq = lim.max_model_len or plan.facts.context
    max_input = lim.max_input_tokens or (seq - 1 if seq else None)
    return Shapes(
        max_batch_size=lim.max_concurrency or opts.max_batch_size or v.default_max_batch_size,
        max_input_len=max_input,
        max_seq_len=seq,
        # unset: large enough that every admitted prompt is prefilled in one step, on both paths
        max_num_tokens=lim.max_batch_tokens or max(v.default_max_num_tokens, max_input or 0))


def kv_fraction(plan: Plan) -> tuple[float, float]:
    """(kv_cache_free_gpu_mem_fraction, weights GiB per GPU) for hardware.memory_utilization.

    Weights per GPU come from the shared memory plan (compiler/memory.py weights_per_gpu)."""
    u, total = plan.hardware.memory_utilization, plan.hardware.gpu.memory_gib
    if plan.facts.parameters is None and plan.facts.checkpoint_bytes is None:
        return u, 0.0
    weights = memory.weights_per_gpu(plan, plan.facts)[0] / 2**30
    if weights >= u * total:
        return 0.0, weights
    return max(0.01, math.floor((u * total - weights) / (total - weights) * 100) / 100), weights