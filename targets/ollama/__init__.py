"""The Ollama target: a Modelfile, create.sh (`ollama create`), serve.env and compose.yaml.

Every spelling is checked against Ollama's source at each pinned tag (versions.py
names the commits): parser/parser.go (Modelfile grammar, commands, deprecated
parameters), api/types.go (Options/Runner json tags = PARAMETER names),
envconfig/config.go (OLLAMA_* variables and defaults), cmd/cmd.go (`create -f -q`),
fs/ggml/type.go ParseFileType and server/create.go (quantize levels and sources).

Spec -> Ollama, decisions worth knowing:
- FROM: model.gguf (a .gguf file), else a local model.source folder (safetensors,
  imported by `ollama create`), else a hub repo named *-GGUF as hf.co/org/name (the Hub
  serves GGUF repos to Ollama's registry client: https://huggingface.co/docs/hub/ollama).
  Any other hub id is an error: Ollama cannot import it.
- PARAMETER num_ctx is always written (max_model_len, else the model's
  max_position_embeddings), and OLLAMA_CONTEXT_LENGTH equals it: Ollama's default
  context is small and it truncates longer prompts silently. num_ctx is per parallel
  slot: the KV cache holds num_ctx x OLLAMA_NUM_PARALLEL tokens.
- max_output_tokens -> PARAMETER num_predict, a per-model default that a request's own
  num_predict / max_tokens replaces (Ollama has no server-wide cap).
  max_batch_tokens -> PARAMETER num_batch. max_concurrency -> OLLAMA_NUM_PARALLEL
  (written even at its default, 1). memory_utilization -> OLLAMA_GPU_OVERHEAD, the
  bytes Ollama leaves free on each GPU.
- Weights: int8/int4 and targets.ollama.quantize -> `ollama create --quantize LEVEL`;
  a 16/32-bit source with an explicit dtype -> --quantize F16|BF16|F32. Ollama
  quantizes only F16/BF16/F32 sources, so a quantized GGUF takes neither.
- kv_cache_dtype fp8 -> OLLAMA_KV_CACHE_TYPE=q8_0 (Ollama has no fp8 cache) with
  OLLAMA_FLASH_ATTENTION=1, without which Ollama ignores the cache type.
- `args` go to `ollama create` (the only command deployc runs with flags; `ollama
  serve` takes its settings from the environment); `env` goes to `ollama serve`.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from pydantic import Field

from compiler.diagnostics import Diagnostic, error
from compiler.memory import Budget, EngineMemory
from compiler.plan import Plan
from compiler.render import comment_block, render_template, sh_env_value
from compiler.spec import Plain
from compiler.target_api import Artifact, BuildContext, Capability, Lowered, Target, TargetOptions
from targets._shared import container
from targets.ollama import modelfile
from targets.ollama.checks import (GGUF_REPO, check_args, check_names, check_parameters, check_weights, from_ref,
                                   modelfile_path, num_ctx, quantize_level, unwritable)
from targets.ollama.versions import VERSIONS, OllamaVersion

# Environment variables `ollama serve` reads for a setting deployc derives.
OWNED_ENV = {
    "OLLAMA_HOST": ("server", "host"),
    "OLLAMA_NUM_PARALLEL": ("limits", "max_concurrency"),
    "OLLAMA_CONTEXT_LENGTH": ("limits", "max_model_len"),
    "OLLAMA_KV_CACHE_TYPE": ("precision", "kv_cache_dtype"),
    "OLLAMA_KEEP_ALIVE": ("targets", "ollama", "keep_alive"),
    "OLLAMA_GPU_OVERHEAD": ("hardware", "memory_utilization"),
}
FLASH_ATTENTION = "OLLAMA_FLASH_ATTENTION"
MODEL_STORE = "/root/.ollama"
TEMPLATES = Path(__file__).parent / "templates"


class OllamaOptions(TargetOptions):
    """targets.ollama: the common options plus the Modelfile settings deploy.yaml v1 lacks."""

    args: list[Plain] = Field(
        default_factory=list,
        description="Extra `ollama create` arguments appended after deployc's own (e.g. [\"--experimental\"]); "
                    "-f/--file and -q/--quantize are deployc's.")
    quantize: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_]{1,16}$",
        description="Quantize level for `ollama create --quantize` (any case): q4_K_M, q4_K_S, q8_0, f16, bf16, "
                    "f32. Ollama quantizes only F16/BF16/F32 sources.", examples=["q4_K_M"])
    system: str | None = Field(default=None, min_length=1, description="SYSTEM message of the model (Modelfile SYSTEM).")
    template: str | None = Field(
        default=None, min_length=1,
        description="Prompt template in Ollama's Go template syntax (Modelfile TEMPLATE); Jinja chat "
                    "templates do not work here. Default: the template inside the GGUF / model folder.")
    stop: list[str] = Field(default_factory=list, description="Stop sequences (one PARAMETER stop each).")
    keep_alive: str | None = Field(
        default=None, pattern=r"^-?([0-9]+|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$",
        description="How long a model stays loaded after a request (OLLAMA_KEEP_ALIVE): a Go duration such as "
                    "5m or 24h, seconds, or -1 for ever. Default: Ollama's 5m, written explicitly.")
    parameters: dict[str, int | float | bool | str] = Field(
        default_factory=dict,
        description="Other Modelfile PARAMETERs by Ollama name (temperature, top_p, seed, ...); num_ctx, "
                    "num_predict, num_batch and stop come from the spec.", examples=[{"temperature": 0.7}])


class OllamaTarget(Target):
    name = "ollama"
    title = "Ollama"
    versions = tuple(VERSIONS)
    options = OllamaOptions

    def capabilities(self, version: str) -> frozenset[Capability]:
        return VERSIONS[version].capabilities

    def unsupported_hint(self, capability: Capability, version: str) -> str | None:
        return _HINTS.get(capability)

    def check(self, plan: Plan, opts: OllamaOptions, version: str) -> list[Diagnostic]:
        v = VERSIONS[version]
        out: list[Diagnostic] = []
        m, lim, p = plan.model, plan.limits, plan.precision
        _, problem = from_ref(plan)
        if problem:
            out.append(problem)
        if p.quantization == "gguf" and m.gguf is None and not GGUF_REPO.search(m.source):
            out.append(error("ollama-gguf", "quantization gguf needs the .gguf file Ollama loads",
                             hint="set model.gguf to the file's path", path=("precision", "quantization")))
        out += check_weights(plan, opts, v)
        ctx = num_ctx(plan)
        if ctx is None:
            out.append(error(
                "ollama-context", f"Ollama {version} needs an explicit context: without num_ctx it uses "
                f"{v.default_context} and silently truncates longer prompts",
                hint="set limits.max_model_len (or model.facts.max_position_embeddings)",
                path=("limits", "max_model_len") if lim.model_fields_set else ("model", "source")))
        elif lim.max_input_tokens is not None and lim.max_input_tokens != ctx - 1:
            out.append(error(
                "ollama-max-input", "Ollama has no prompt-length limit of its own: prompts share num_ctx "
                "with the completion", hint=f"remove limits.max_input_tokens for ollama, or set it to {ctx - 1}",
                path=("limits", "max_input_tokens")))
        out += check_names(plan)
        out += check_parameters(opts, v)
        for key in ("system", "template"):
            value = getattr(opts, key)
            if value is not None and modelfile.encode(value) is None:
                out.append(unwritable(("targets", "ollama", key), value))
        for i, stop in enumerate(opts.stop):
            if modelfile.encode(stop) is None:
                out.append(unwritable(("targets", "ollama", "stop", i), stop))
        _, problem = container.port_binding(plan.server.host, plan.server.port)
        if problem:
            out.append(problem)
        out += check_args(opts.args, v)
        out += container.env_conflicts(opts.env, _owned_env(plan), self.name)
        return out

    def memory_model(self, plan: Plan, opts: OllamaOptions, version: str) -> EngineMemory | None:
        """Ollama (llama.cpp) allocates num_ctx x OLLAMA_NUM_PARALLEL tokens of KV cache when it loads the
        model, inside the memory OLLAMA_GPU_OVERHEAD leaves; what does not fit is offloaded to the CPU
        (llm/memory.go EstimateGPULayers at the pinned commits). The compute graph for num_batch tokens
        and about 0.5 GiB of CUDA context make the rest."""
        ctx_len = num_ctx(plan)
        if ctx_len is None:
            return None
        parallel = plan.limits.max_concurrency or 1
        return EngineMemory(
            engine=f"Ollama {version}", budget=Budget.CONTEXT, fraction=plan.hardware.memory_utilization,
            fraction_flag="1 - OLLAMA_GPU_OVERHEAD share", batch_tokens=plan.limits.max_batch_tokens or 512,
            max_seqs=parallel, non_torch_gib=0.5, context_tokens=ctx_len * parallel, source="targets/ollama")

    def lower(self, plan: Plan, opts: OllamaOptions, version: str, ctx: BuildContext) -> Lowered:
        v = VERSIONS[version]
        m = plan.model
        banner = container.banner(ctx, self.name, self.title, version)
        source, _ = from_ref(plan)
        assert source is not None
        base = modelfile_path(source, ctx)
        ctx_len = num_ctx(plan)
        assert ctx_len is not None
        parallel = plan.limits.max_concurrency or 1

        mf = modelfile.Modelfile(header=banner + [
            f"`ollama create {m.served_name} -f Modelfile` (create.sh) builds the model {m.served_name}.",
            f"num_ctx is per parallel request: the KV cache holds num_ctx x OLLAMA_NUM_PARALLEL = "
            f"{ctx_len} x {parallel} = {ctx_len * parallel} tokens{_kv_bytes(ctx.memory)}.",
        ])
        mf.command("FROM", base)
        mf.parameter("num_ctx", ctx_len)
        if plan.limits.max_output_tokens is not None:
            mf.parameter("num_predict", plan.limits.max_output_tokens)
        if plan.limits.max_batch_tokens is not None:
            mf.parameter("num_batch", plan.limits.max_batch_tokens)
        for stop in opts.stop:
            mf.parameter("stop", stop)
        for name, value in sorted(opts.parameters.items()):
            mf.parameter(name, value)
        if opts.template is not None:
            mf.command("TEMPLATE", opts.template)
        if opts.system is not None:
            mf.command("SYSTEM", opts.system)

        create = ["ollama", "create", m.served_name, "-f", "Modelfile"]
        level = quantize_level(plan, opts, v)
        if level is not None:
            create += ["--quantize", level]
        create += list(opts.args)
        creates, adapter_files = [create], []
        for a in m.adapters:
            # FROM the model just created: the adapter model inherits its quantized weights and parameters.
            amf = modelfile.Modelfile(header=banner + [
                f"LoRA adapter {a.name} on {m.served_name}: `ollama create {a.name} -f Modelfile.{a.name}` "
                "(create.sh, after the base model).",
                "Parameters, template and system are inherited from the base model."])
            amf.command("FROM", m.served_name)
            amf.command("ADAPTER", modelfile_path(("file", a.source), ctx))
            adapter_files.append(Artifact(f"Modelfile.{a.name}", amf.render()))
            creates.append(["ollama", "create", a.name, "-f", f"Modelfile.{a.name}"])

        env = _serve_env(plan, opts, v, plan.server.host, ctx_len)
        url = container.client_url(plan.server.host, plan.server.port)
        serve_env = comment_block(banner + [
            f"Environment of `ollama serve` (Ollama {version}): `set -a; . ./serve.env; set +a; ollama serve`.",
            "Values are shell-quoted; ${NAME} references expand from the caller's environment.",
        ]) + "".join(f"{k}={sh_env_value(val) if k in opts.env else shlex.quote(val)}\n" for k, val in env)
        script = render_template(
            TEMPLATES, "create.sh.j2",
            banner=banner, about=[
                f"Builds the Ollama model {m.served_name} from Modelfile on the server at {url}",
                f"(`ollama serve` with serve.env, or `docker compose up -d` with compose.yaml; Ollama {version}).",
            ], host=shlex.quote(_client_host(plan)), creates=creates)

        compose_env = dict(_serve_env(plan, opts, v, "0.0.0.0", ctx_len, compose=True))
        amd = plan.hardware.gpu.vendor == "amd"
        svc = container.service(
            plan=plan, image=opts.image or (v.image + "-rocm" if amd else v.image), command=["serve"],
            env_set=compose_env, container_cache=MODEL_STORE,
            cache_volume=f"${{OLLAMA_MODELS_DIR:-~/.ollama}}:{MODEL_STORE}",
            # The image has neither python3 nor curl; GET /api/version answers once the server is up.
            health_path="/api/version", health_test=("CMD", "ollama", "list"), start_period="5m",
            gpu_count=plan.hardware.count,
            # The server starts with no model: create.sh's `ollama create` steps, against the server's URL
            # (OLLAMA_HOST is also the client's setting); the model lands in the store, which is the cache.
            launch=container.Launch(
                steps=tuple(container.compose_literal(c) for c in creates),
                files=(("Modelfile", mf.render()), *((f.path, f.content) for f in adapter_files)),
                env=(("OLLAMA_HOST", container.SERVER_URL),), persistent=True))
        compose = container.compose_file(banner + ["", f"docker compose up -d, then ./create.sh; the API is at {url}/v1 "
                                                       "(OpenAI-compatible) and /api."], svc)
        return Lowered(
            artifacts=(Artifact("Modelfile", mf.render()), *adapter_files, Artifact("create.sh", script, executable=True),
                       Artifact("serve.env", serve_env), Artifact("compose.yaml", compose)),
            command=tuple(create), service=svc)


_HINTS = {
    Capability.MULTI_NODE: "Ollama runs one model on one machine and has no distributed mode: pick a smaller "
                           "or more quantized model that fits one node, run one deployment per machine for more "
                           "throughput, or use the vllm or sglang target, which span nodes",
    Capability.TENSOR_PARALLEL: "Ollama splits a model's layers across all the GPUs it sees on its own; remove "
                                "parallelism.tensor (compose.yaml gives it hardware.count GPUs)",
    Capability.PIPELINE_PARALLEL: "Ollama splits a model's layers across all the GPUs it sees on its own; "
                                  "remove parallelism.pipeline (compose.yaml gives it hardware.count GPUs)",
    Capability.DATA_PARALLEL: "run one Ollama server per copy behind a load balancer; raise "
                              "limits.max_concurrency (OLLAMA_NUM_PARALLEL) for more requests per server",
    Capability.REVISION: "download that revision into a local folder and point model.source at it",
    Capability.CUSTOM_TOKENIZER: "Ollama uses the tokenizer inside the GGUF file or model folder",
    Capability.REMOTE_CODE: "Ollama converts only architectures it implements and runs no model code",
    Capability.CHAT_TEMPLATE: "Ollama's TEMPLATE is a Go template, not Jinja: put one in "
                              "targets.ollama.template, or rely on the template inside the GGUF / model folder",
    Capability.API_KEY: "Ollama's server has no API key; put an authenticating reverse proxy in front of it",
    Capability.QUANT_FP8: "Ollama has no fp8 weights: use targets.ollama.quantize: q8_0",
    Capability.QUANT_AWQ: "Ollama imports GGUF or 16/32-bit safetensors: use a GGUF file (model.gguf) or "
                          "targets.ollama.quantize: q4_K_M on the 16-bit checkpoint",
    Capability.QUANT_GPTQ: "Ollama imports GGUF or 16/32-bit safetensors: use a GGUF file (model.gguf) or "
                           "targets.ollama.quantize: q4_K_M on the 16-bit checkpoint",
    Capability.QUANT_BITSANDBYTES: "use targets.ollama.quantize: q4_K_M (quantized once, at `ollama create`)",
}


def _owned_env(plan: Plan) -> dict[str, tuple[str, ...]]:
    owned = dict(OWNED_ENV)
    if plan.precision.kv_cache_dtype == "fp8":
        owned[FLASH_ATTENTION] = ("precision", "kv_cache_dtype")
    return owned


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _client_host(plan: Plan) -> str:
    """OLLAMA_HOST for the `ollama create` client: where the server is reachable on this machine."""
    return container.client_url(plan.server.host, plan.server.port)


def _serve_env(plan: Plan, opts: OllamaOptions, v: OllamaVersion, host: str, context: int,
               compose: bool = False) -> list[tuple[str, str]]:
    gpu = plan.hardware.gpu
    overhead = round((1 - plan.hardware.memory_utilization) * gpu.memory_gib * 2**30)
    env = [
        ("OLLAMA_HOST", _host_port(host, plan.server.port)),
        ("OLLAMA_CONTEXT_LENGTH", str(context)),
        ("OLLAMA_NUM_PARALLEL", str(plan.limits.max_concurrency or 1)),
        ("OLLAMA_KEEP_ALIVE", opts.keep_alive or v.default_keep_alive),
        ("OLLAMA_GPU_OVERHEAD", str(overhead)),
    ]
    if plan.precision.kv_cache_dtype == "fp8":
        env += [("OLLAMA_KV_CACHE_TYPE", "q8_0"), (FLASH_ATTENTION, "1")]
    if compose:
        return [(k, val.replace("$", "$$")) for k, val in env] + list(container.compose_env(opts).items())
    return env + sorted(opts.env.items())


def _kv_bytes(mp) -> str:
    """The KV cache's size from the memory plan (compiler/memory.py), when the model facts allow one."""
    if mp is None:
        return ""
    return f" (about {mp.kv_cache_gib_per_gpu:.1f} GiB at {mp.kv_bytes_per_token} bytes per token)"