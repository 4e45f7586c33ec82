"""The TGI target: Hugging Face text-generation-inference in its container.

Artifacts: run.sh (one `docker run` of the pinned image, argv rendered with shlex) and
compose.yaml (the same as a Compose service with a GPU reservation and a /health check).
Every launcher option and value is checked against text-generation-launcher's clap
definitions (launcher/src/main.rs `struct Args`) at the pinned tags; targets/tgi/versions.py
names the commits and the source lines behind each rule.

Spec -> TGI, decisions worth knowing:
- model.source -> --model-id; a local folder is bind-mounted read-only at /deployc/model.
- parallelism.tensor -> --num-shard (always written: the launcher would otherwise shard over
  every visible GPU). Docker sees GPUs 0..N-1 only (--gpus '"device=0,1"'; a Compose device
  reservation of N). Pipeline and data parallelism have no TGI spelling: errors.
- precision: dtype auto writes no --dtype: TGI's per-model default (FlashCausalLM default_dtype,
  float16 for most models, bfloat16 for some); float32 is refused (the launcher's Dtype is
  float16|bfloat16). quantization fp8/awq/gptq -> --quantize of that
  name, bitsandbytes (the spec's in-flight 4-bit) -> bitsandbytes-nf4; int8, int4 and gguf
  are errors whose hint names targets.tgi.quantize (eetq, bitsandbytes, bitsandbytes-fp4,
  marlin, exl2, compressed-tensors). TGI refuses --dtype with --quantize outside the
  bitsandbytes family, and runs awq/gptq/exl2/marlin in float16 anyway: dtype float16 there (and
  on GPUs without bfloat16) is left out, anything else is an error. kv_cache_dtype fp8 -> --kv-cache-dtype fp8_e4m3fn.
- limits: max_model_len -> --max-total-tokens, max_input_tokens (default max_model_len - 1)
  -> --max-input-tokens (never the legacy --max-input-length), max_batch_tokens ->
  --max-batch-prefill-tokens, max_concurrency -> --max-concurrent-requests (TGI answers 429
  beyond it instead of queueing), max_output_tokens: no server-wide cap in TGI, an error.
- hardware.memory_utilization -> --cuda-memory-fraction.
- LoRA adapters -> --lora-adapters `name=/deployc/adapters/name` for local ones; a hub adapter
  can only be loaded under its repo id (`id=path` takes a local path), which clients must then
  send as "model": a warning says so. Requests whose "model" is not an adapter id use the base
  model, so served_name works for clients; TGI's /v1/models reports the model id.
- server: --hostname 0.0.0.0 inside the container (docker's HOSTNAME would otherwise be read
  by clap's env fallback), --port = server.port, published as host:port:port on server.host.
  The API key travels as API_KEY (the launcher's clap env for --api-key), exported in run.sh
  from the variable server.api_key_env names; HF_TOKEN passes through by name.
- args: checked with clap's semantics: exact long names (no prefixes, no underscores), glued
  short options, flags unknown to the pinned launcher, and values that break TGI's own rules
  (--max-batch-total-tokens below max_model_len). env: a variable that the launcher reads for
  a flag deployc writes is an error, since the command line silently wins over it.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Literal

from pydantic import Field

from compiler.diagnostics import Diagnostic, error, warning
from compiler.memory import Budget, EngineMemory
from compiler.plan import Plan
from compiler.render import render_template
from compiler.spec import is_local
from compiler.target_api import Artifact, BuildContext, Capability, Lowered, Target, TargetOptions
from targets._shared import container
from targets.tgi.versions import (CHUNKING_MIN_SM, DEFAULT_PREFILL_TOKENS, KV_CACHE_FP8, QUANTIZE, QUANTIZE_FLOAT16,
                                  QUANTIZE_WITH_DTYPE, VERSIONS, TgiVersion)

TEMPLATES = PurePosixPath(__file__).parent / "templates"
SHM_SIZE = "1g"  # TGI's README: NCCL needs shared memory when sharding; docker's default is 64 MB.
DATA_VAR = "TGI_DATA"  # run.sh's shell variable holding the host's Hugging Face cache

# Launcher flags deployc derives from the spec, and the spec path that owns each.
OWNED: dict[str, tuple[str, ...]] = {
    "--model-id": ("model", "source"),
    "--revision": ("model", "revision"),
    "--trust-remote-code": ("model", "trust_remote_code"),
    "--lora-adapters": ("model", "adapters"),
    "--dtype": ("precision", "dtype"),
    "--quantize": ("precision", "quantization"),
    "--kv-cache-dtype": ("precision", "kv_cache_dtype"),
    "--num-shard": ("parallelism", "tensor"),
    "--sharded": ("parallelism", "tensor"),
    "--max-total-tokens": ("limits", "max_model_len"),
    "--max-input-tokens": ("limits", "max_input_tokens"),
    "--max-input-length": ("limits", "max_input_tokens"),
    "--max-batch-prefill-tokens": ("limits", "max_batch_tokens"),
    "--max-concurrent-requests": ("limits", "max_concurrency"),
    "--cuda-memory-fraction": ("hardware", "memory_utilization"),
    "--hostname": ("server", "host"),
    "--port": ("server", "port"),
    "-p": ("server", "port"),
    "--api-key": ("server", "api_key_env"),
}

TgiQuantize = Literal["awq", "compressed-tensors", "eetq", "exl2", "gptq", "marlin", "bitsandbytes",
                      "bitsandbytes-nf4", "bitsandbytes-fp4", "fp8"]


class TgiOptions(TargetOptions):
    """targets.tgi: the common options, plus TGI's own quantization methods."""

    quantize: TgiQuantize | None = Field(
        default=None,
        description="TGI's --quantize method, for methods deploy.yaml has no word for (eetq: 8-bit at load, "
                    "any model; bitsandbytes: 8-bit; bitsandbytes-fp4; marlin, exl2, compressed-tensors "
                    "checkpoints). Only with precision.quantization: none.")


class TgiTarget(Target):
    name = "tgi"
    title = "TGI"
    versions = tuple(VERSIONS)
    options = TgiOptions

    def capabilities(self, version: str) -> frozenset[Capability]:
        return VERSIONS[version].capabilities

    def unsupported_hint(self, capability: Capability, version: str) -> str | None:
        return {
            Capability.PIPELINE_PARALLEL: "TGI splits a model only by tensor parallelism: set parallelism.tensor "
                                          "to the GPU count and pipeline: 1",
            Capability.DATA_PARALLEL: "one TGI launcher serves one copy: write one deployment per copy (data: 1, "
                                      "its own name, port and GPUs) behind a load balancer, or give the GPUs to "
                                      "parallelism.tensor",
            Capability.CUSTOM_TOKENIZER: "TGI loads the model's own tokenizer: put the tokenizer files into the "
                                         "model's folder or repo",
            Capability.CHAT_TEMPLATE: "TGI reads chat_template from the model's tokenizer_config.json: put the "
                                      "template there",
            Capability.MAX_OUTPUT_TOKENS: "TGI bounds prompt + max_new_tokens by max_model_len (--max-total-tokens); "
                                          "clients set max_tokens per request",
            Capability.QUANT_INT8: "use targets.tgi.quantize: eetq (8-bit at load, any model) or bitsandbytes, "
                                   "with precision.quantization: none",
            Capability.QUANT_INT4: "use quantization: bitsandbytes (TGI's bitsandbytes-nf4), an awq or gptq "
                                   "checkpoint, or targets.tgi.quantize: bitsandbytes-fp4",
            Capability.QUANT_GGUF: "TGI has no GGUF loader: serve the safetensors checkpoint (model.source)",
            Capability.MULTI_NODE: "TGI has no multi-node mode (its launcher starts --num-shard processes on one "
                                   "machine): fit one copy on one node (parallelism.tensor <= "
                                   "hardware.gpus_per_node, with a quantized checkpoint if it does not fit) and "
                                   "run more copies as more deployments, or use the vllm or sglang target, which "
                                   "span nodes",
        }.get(capability)

    def check(self, plan: Plan, opts: TgiOptions, version: str) -> list[Diagnostic]:
        v = VERSIONS[version]
        out: list[Diagnostic] = []
        p, lim = plan.precision, plan.limits
        if p.dtype == "float32":
            out.append(error("tgi-dtype", "TGI runs models in float16 or bfloat16 only (--dtype float16|bfloat16)",
                             hint="use dtype: auto, bfloat16 or float16", path=("precision", "dtype")))
        if opts.quantize is not None and p.quantization != "none":
            out.append(error(
                "tgi-quantize-conflict", f"targets.tgi.quantize ({opts.quantize}) and precision.quantization "
                f"({p.quantization}) both pick TGI's --quantize", hint="keep one of them",
                path=("targets", self.name, "quantize")))
        q = quantize(plan, opts)
        if q == "exl2" and plan.parallelism.tensor > 1:
            out.append(error("tgi-exl2-shard", "TGI cannot shard an exl2 model (num_shard > 1)",
                             hint="use tensor: 1 with a GPU that holds the model, or an awq/gptq checkpoint",
                             path=("parallelism", "tensor")))
        # float16 needs no flag where TGI runs float16 anyway: awq-like kernels, and on GPUs without
        # bfloat16 (where dtype auto resolves to float16) the models' own default, float16 for most.
        if q and p.dtype in ("float16", "bfloat16") and q not in QUANTIZE_WITH_DTYPE \
                and not (p.dtype == "float16" and (q in QUANTIZE_FLOAT16 or not plan.hardware.gpu.bf16)):
            runs = "float16 only" if q in QUANTIZE_FLOAT16 else "its model's default dtype"
            out.append(error(
                "tgi-dtype-quantize", f"TGI refuses --dtype {p.dtype} together with --quantize {q}: it runs {q} "
                f"in {runs}", hint="use dtype: auto", path=("precision", "dtype")))
        prompt = input_tokens(plan)
        if lim.max_batch_tokens is not None and prompt is not None and lim.max_batch_tokens < prompt \
                and not chunking(plan, opts, v):
            why = (f"{plan.hardware.gpu.name} gets paged attention" if not _chunking_gpu(plan)
                   else f"TGI {version} does not chunk prefills unless PREFILL_CHUNKING=1")
            out.append(error(
                "tgi-prefill-tokens", f"max_batch_tokens ({lim.max_batch_tokens}) is below the longest prompt "
                f"({prompt}), which TGI refuses without chunked prefill ({why})",
                hint=f"set limits.max_batch_tokens to {prompt} or more", path=("limits", "max_batch_tokens")))
        for i, adapter in enumerate(plan.model.adapters):
            if not is_local(adapter.source):
                out.append(warning(
                    "tgi-lora-hub", f"TGI loads a hub adapter under its repo id: clients send model "
                    f"{adapter.source!r}, not {adapter.name!r}",
                    hint="download the adapter and give its local path to use the name",
                    path=("model", "adapters", i, "source")))
        for path, value in _local_paths(plan):
            if ":" in value or _host_path(value) is None:
                out.append(error("tgi-local-path", f"docker cannot bind-mount {value!r}",
                                 hint="use a path without ':' (and ~ only as ~/...)", path=path))
        if plan.hardware.gpu.vendor == "amd":
            out.append(error("tgi-gpu-vendor", f"deployc writes TGI for NVIDIA GPUs; {plan.hardware.gpu.name} needs "
                             "TGI's -rocm image and device mounts", hint="pick an NVIDIA GPU for tgi",
                             path=("hardware", "gpu")))
        _, problem = container.port_binding(plan.server.host, plan.server.port)
        if problem:
            out.append(problem)
        out += container.arg_conflicts(opts.args, OWNED, self.name, lambda f: f, long_prefixes=False)
        out += _check_args(plan, opts, v, self.name)
        owned_env = {v.options[f]["env"]: where for f, where in OWNED.items()
                     if f in v.options and v.options[f]["env"]}
        out += container.env_conflicts(opts.env, owned_env, self.name)
        return out

    def memory_model(self, plan: Plan, opts: TgiOptions, version: str) -> EngineMemory:
        """TGI sizes its KV cache after a warmup prefill of --max-batch-prefill-tokens: free memory minus
        (1 - cuda_memory_fraction x TGI_WIGGLE_ROOM) x total (server/text_generation_server/utils/
        import_utils.py get_cuda_free_memory; models/flash_causal_lm.py warmup; TGI_WIGGLE_ROOM 0.90 in
        models/globals.py, both pinned tags): a TOTAL budget of fraction x 0.90. --max-concurrent-requests
        is admission control (429 beyond it), so it stays the spec's value or TGI's default: the plan's
        concurrency is reported, not written."""
        v = VERSIONS[version]
        return EngineMemory(
            engine=f"TGI {version}", budget=Budget.TOTAL, fraction=round(plan.hardware.memory_utilization * 0.90, 4),
            fraction_flag="--cuda-memory-fraction x TGI_WIGGLE_ROOM 0.90",
            batch_tokens=prefill_tokens(plan, opts, v) or DEFAULT_PREFILL_TOKENS,
            max_seqs=plan.limits.max_concurrency or 128, non_torch_gib=0.3, block_size=16, source="targets/tgi")

    def lower(self, plan: Plan, opts: TgiOptions, version: str, ctx: BuildContext) -> Lowered:
        v = VERSIONS[version]
        image = opts.image or v.image
        banner = container.banner(ctx, self.name, self.title, version)
        port, _ = container.port_binding(plan.server.host, plan.server.port)
        names = list(dict.fromkeys(["HF_TOKEN"] + (["API_KEY"] if plan.server.api_key_env else []) + sorted(opts.env)))

        # run.sh: docker run from the spec's folder; local paths become absolute via ${PWD}.
        docker = ["docker", "run", "--rm", "--name", plan.name, "--gpus", gpu_devices(plan.gpus_needed),
                  "--shm-size", SHM_SIZE, "-p", port]
        expand = {len(docker) + 1: DATA_VAR}
        docker += ["-v", f"${{{DATA_VAR}}}:/data"]
        binds: dict[str, str] = {}

        def bind(ref: str, where: str) -> str:
            binds.setdefault(f"{_host_path(ref)}:{where}:ro", "")
            return where

        launcher = launcher_args(plan, opts, v, lambda ref, where: bind(ref, where) if is_local(ref) else ref)
        for volume in binds:
            if volume.startswith("${"):
                expand[len(docker) + 1] = volume[2:volume.index("}")]
            docker += ["-v", volume]
        for name in names:
            docker += ["-e", name]
        argv = docker + [image] + launcher
        about = [
            f"Serves {plan.model.served_name} ({plan.model.source}) on {plan.server.host}:{plan.server.port} "
            f"with TGI {version} in Docker: OpenAI-compatible API under /v1, TGI's own under /generate.",
            f"Needs Docker with the NVIDIA Container Toolkit and {plan.gpus_needed} GPU(s) ({plan.hardware.gpu.name}), "
            "devices 0.. in order; HF_TOKEN is passed from the environment for gated models.",
        ]
        env = container.api_key_export(plan, "API_KEY") + container.user_env_shell(opts)
        script = render_template(TEMPLATES, "run.sh.j2", banner=banner, about=about, spec_dir=ctx.spec_dir, env=env,
                                 command=container.sh_join_expanding(argv, expand))

        mounts = container.LocalMounts(ctx)
        svc = container.service(
            plan=plan, image=image, command=launcher_args(plan, opts, v, mounts.ref), env_pass=["HF_TOKEN"],
            env_set={**container.compose_api_key(plan, "API_KEY"), **container.compose_env(opts)},
            volumes=mounts.volumes, container_cache="/data", shm_size=SHM_SIZE)
        compose = container.compose_file(banner + ["", f"docker compose up -d; the API is at "
                                                       f"{container.client_url(plan.server.host, plan.server.port, '/v1')} "
                                                       "once the health check passes."], svc)
        return Lowered(artifacts=(Artifact("run.sh", script, executable=True), Artifact("compose.yaml", compose)),
                       command=tuple(argv), service=svc)


def gpu_devices(count: int) -> str:
    """docker's --gpus value for devices 0..count-1; the quotes keep its CSV parser from splitting at ','."""
    return '"device=' + ",".join(str(i) for i in range(count)) + '"'


def quantize(plan: Plan, opts: TgiOptions) -> str | None:
    return opts.quantize or QUANTIZE.get(plan.precision.quantization)


def _chunking_gpu(plan: Plan) -> bool:
    sm = plan.hardware.gpu.sm
    return sm is None or sm >= CHUNKING_MIN_SM


def chunking(plan: Plan, opts: TgiOptions, v: TgiVersion) -> bool:
    """Whether TGI will chunk prefills: the version's default or env PREFILL_CHUNKING, on a GPU that gets flash attention."""
    env = opts.env.get("PREFILL_CHUNKING")
    on = v.prefill_chunking if env is None else env.lower() in ("1", "true")
    return on and _chunking_gpu(plan)


def prefill_tokens(plan: Plan, opts: TgiOptions, v: TgiVersion) -> int | None:
    """--max-batch-prefill-tokens: limits.max_batch_tokens, else, where TGI cannot chunk prefills and its
    default (as low as 4096) would be below the longest prompt, which the router refuses, that prompt."""
    if plan.limits.max_batch_tokens is not None:
        return plan.limits.max_batch_tokens
    prompt = input_tokens(plan)
    if prompt is not None and prompt > DEFAULT_PREFILL_TOKENS and not chunking(plan, opts, v):
        return prompt
    return None


def input_tokens(plan: Plan) -> int | None:
    lim = plan.limits
    if lim.max_input_tokens is not None:
        return lim.max_input_tokens
    return lim.max_model_len - 1 if lim.max_model_len is not None else None


def launcher_args(plan: Plan, opts: TgiOptions, v: TgiVersion, where) -> list[str]:
    """Everything after the image: text-generation-launcher's argv. where(ref, container_path) maps local paths."""
    m, p, lim = plan.model, plan.precision, plan.limits
    args = ["--model-id", where(m.source, "/deployc/model")]
    if m.revision:
        args += ["--revision", m.revision]
    args += ["--num-shard", str(plan.parallelism.tensor)]
    q = quantize(plan, opts)
    if q:
        args += ["--quantize", q]
    if p.dtype != "auto" and (q is None or q in QUANTIZE_WITH_DTYPE):
        args += ["--dtype", p.dtype]
    if p.kv_cache_dtype == "fp8":
        args += ["--kv-cache-dtype", KV_CACHE_FP8]
    if m.trust_remote_code:
        args.append("--trust-remote-code")
    if input_tokens(plan) is not None:
        args += ["--max-input-tokens", str(input_tokens(plan))]
    if lim.max_model_len is not None:
        args += ["--max-total-tokens", str(lim.max_model_len)]
    prefill = prefill_tokens(plan, opts, v)
    if prefill is not None:
        args += ["--max-batch-prefill-tokens", str(prefill)]
    if lim.max_concurrency is not None:
        args += ["--max-concurrent-requests", str(lim.max_concurrency)]
    args += ["--cuda-memory-fraction", f"{plan.hardware.memory_utilization:g}"]
    if m.adapters:
        args += ["--lora-adapters", ",".join(
            f"{a.name}={where(a.source, f'/deployc/adapters/{a.name}')}" if is_local(a.source) else a.source
            for a in m.adapters)]
    args += ["--hostname", "0.0.0.0", "--port", str(plan.server.port)]
    return args + list(opts.args)


def _local_paths(plan: Plan) -> list[tuple[tuple, str]]:
    out = [(("model", "source"), plan.model.source)] if plan.model_is_local else []
    return out + [(("model", "adapters", i, "source"), a.source)
                  for i, a in enumerate(plan.model.adapters) if is_local(a.source)]


def _host_path(local: str) -> str | None:
    """A spec path as run.sh sees it after cd-ing to the spec's folder: absolute, via ${PWD} or ${HOME}."""
    if local.startswith("/"):
        return local
    if local == "~" or local.startswith("~/"):
        return "${HOME}" + local[1:]
    if local.startswith("~"):
        return None
    return "${PWD}/" + PurePosixPath(local).as_posix()


def _check_args(plan: Plan, opts: TgiOptions, v: TgiVersion, target: str) -> list[Diagnostic]:
    """Walk args as clap does: unknown flags, stray positionals, and values TGI's own rules refuse."""
    out: list[Diagnostic] = []
    args = opts.args
    i = 0
    while i < len(args):
        token, at = args[i], ("targets", target, "args", i)
        name, eq, value = token.partition("=")
        if token.startswith("--"):
            flag = name
        elif token.startswith("-") and len(token) > 1:
            flag, eq, value = v.short_flags.get(token[:2], token[:2]), token[2:3], token[2:].lstrip("=")
        else:
            out.append(error("tgi-args-unknown", f"{token!r} in targets.{target}.args is not an option: "
                             f"text-generation-launcher {v.version} takes no positional arguments",
                             hint="spell options as --name value", path=at))
            i += 1
            continue
        option = v.options.get(flag)
        if option is None:
            near = flag.replace("_", "-")
            out.append(error(
                "tgi-args-unknown", f"{name} is not an option of text-generation-launcher {v.version}",
                hint=f"did you mean {near}?" if near in v.options else
                "see `text-generation-launcher --help` of that version; clap takes no abbreviations", path=at))
            i += 1
            if not eq and i < len(args) and not args[i].startswith("-"):
                i += 1  # its value, most likely: one diagnostic is enough
            continue
        if option["takes_value"] and not eq:
            value = args[i + 1] if i + 1 < len(args) else None
            i += 1
        if flag == "--max-batch-total-tokens":
            out.append(warning(
                "tgi-batch-total-ignored", "TGI ignores --max-batch-total-tokens for flash-attention models (most "
                "models): it sizes the batch from the memory left after warmup",
                hint="use limits.max_batch_tokens, limits.max_concurrency or hardware.memory_utilization", path=at))
        if flag == "--max-batch-total-tokens" and value is not None and value.isdigit():
            total = int(value)
            if plan.limits.max_model_len is not None and plan.limits.max_model_len > total:
                out.append(error("tgi-batch-total", f"TGI refuses max_total_tokens ({plan.limits.max_model_len}, "
                                 f"limits.max_model_len) above --max-batch-total-tokens ({total})",
                                 hint=f"raise --max-batch-total-tokens to {plan.limits.max_model_len} or more",
                                 path=at))
            prefill = prefill_tokens(plan, opts, v)
            if prefill is not None and prefill > total:
                origin = ("limits.max_batch_tokens" if plan.limits.max_batch_tokens is not None
                          else "the longest prompt, as TGI does not chunk prefills here")
                out.append(error("tgi-batch-total", f"TGI refuses --max-batch-prefill-tokens ({prefill}, {origin}) "
                                 f"above --max-batch-total-tokens ({total})",
                                 hint=f"raise --max-batch-total-tokens to {prefill} or more", path=at))
        i += 1
    return out
