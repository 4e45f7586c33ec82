"""The Ollama target: a Modelfile, create.sh (`ollama create`), serve.env and compose.yaml.

Every spelling is checked against Ollama's source at each pinned tag (versions.py
names the commits): parser/parser.go (Modelfile grammar, commands, deprecated
parameters), api/types.go (Options/Runner json tags = PARAMETER names),
envconfig/config.go (OLLAMA_* variables and defaults), cmd/cmd.go (`create -f -q`),
fs/ggml/type.go ParseFileType and server/create.go (quantize levels and sources).

Spec -> Ollama, decisions worth knowing:
- FROM: targets.ollama.library (an Ollama library model:tag), else model.gguf (a .gguf file), else
  a local model.source folder (safetensors, imported by `ollama create`), else a hub repo named
  *-GGUF as hf.co/org/name (the Hub serves GGUF repos to Ollama's registry client:
  https://huggingface.co/docs/hub/ollama), else the counterpart counterparts.json lists for the
  hub id: its library name, or hf.co/<gguf repo>:<QUANT> when targets.ollama.quantize names one of
  the repo's files (conformance/extract/ollama_counterparts.py: GGUF repos from XInference's
  registry, library rows with their ollama.com pages). Any other hub id is an error.
- PARAMETER num_ctx is always written (max_model_len, else the model's
  max_position_embeddings), and OLLAMA_CONTEXT_LENGTH equals it: Ollama's default
  context is small and it truncates longer prompts silently. num_ctx is per parallel
  slot: the KV cache holds num_ctx x OLLAMA_NUM_PARALLEL tokens.
- max_output_tokens -> PARAMETER num_predict, a per-model default that a request's own
  num_predict / max_tokens replaces (Ollama has no server-wide cap).
  max_batch_tokens -> PARAMETER num_batch. max_concurrency -> OLLAMA_NUM_PARALLEL
  (unset: Ollama's own default, 1, not written). memory_utilization -> OLLAMA_GPU_OVERHEAD,
  the bytes Ollama leaves free on each GPU (unset: not written, Ollama's 0 holds).
- Weights: int8/int4 and targets.ollama.quantize -> `ollama create --quantize LEVEL`;
  a 16/32-bit source with an explicit dtype -> --quantize F16|BF16|F32. Ollama
  quantizes only F16/BF16/F32 sources, so a quantized GGUF takes neither.
- kv_cache_dtype fp8 -> OLLAMA_KV_CACHE_TYPE=q8_0 (Ollama has no fp8 cache) with
  OLLAMA_FLASH_ATTENTION=1, without which Ollama ignores the cache type.
- `args` go to `ollama create` (the only command deployc runs with flags; `ollama
  serve` takes its settings from the environment); `env` goes to `ollama serve`.

The package: options.py (the options model; the `ollama create` option table, the PARAMETER and
environment rows), model.py (FROM, num_ctx, the quantize level), checks.py, modelfile.py (the
Modelfile writer), versions.py (what each release is).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from deployc.compiler import api
from deployc.compiler.api import (Artifact, Budget, BuildContext, Capability, Diagnostic, EngineMemory, Lowered,
                                  MemoryPlan, Plan, Target, comment_block, render_template, sh_env_value)
from deployc.targets.ollama import checks, modelfile
from deployc.targets.ollama.model import from_ref, modelfile_path, num_ctx
from deployc.targets.ollama.options import PARAMETERS, Lowering, OllamaOptions, create_argv, derived, serve_env
from deployc.targets.ollama.versions import FEATURE_SINCE, VERSIONS, OllamaVersion

__all__ = ["OllamaOptions", "OllamaTarget"]

MODEL_STORE = "/root/.ollama"
TEMPLATES = Path(__file__).parent / "templates"

_HINTS = {
    Capability.ATTENTION_DATA_PARALLEL: "Ollama runs one copy of a model per server and has no data-parallel "
                                        "attention: use the vllm or sglang target",
    Capability.EXPERT_PARALLEL: "Ollama has no expert parallelism: remove parallelism.expert, or use the vllm or "
                                "sglang target",
    Capability.QUANT_MXFP4: "Ollama serves GGUF files: use a GGUF of the model (quantization: gguf, e.g. a -GGUF "
                            "repository) or the vllm or sglang target for the MXFP4 checkpoint",
    Capability.QUANT_NVFP4: "Ollama serves GGUF files: use a GGUF of the model (quantization: gguf) or the vllm or "
                            "sglang target for the NVFP4 checkpoint",
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


class OllamaTarget(Target[OllamaOptions, OllamaVersion]):
    name = "ollama"
    title = "Ollama"
    runs_container = True
    versions = VERSIONS
    options = OllamaOptions

    def parsers(self, v: OllamaVersion) -> api.ParserSupport:
        return api.ParserSupport(f"Ollama {v.version}", {"tool": None, "reasoning": None},
                                 builtin=frozenset({"tool", "reasoning"}))

    def unsupported_hint(self, capability: Capability, v: OllamaVersion) -> str | None:
        return _HINTS.get(capability)

    def check(self, plan: Plan, opts: OllamaOptions, v: OllamaVersion) -> list[Diagnostic]:
        return checks.check(plan, opts, v)

    def importer(self) -> api.Importer:
        from deployc.targets.ollama.importer import IMPORTER
        return IMPORTER

    def memory_model(self, plan: Plan, opts: OllamaOptions, v: OllamaVersion) -> EngineMemory | None:
        """Ollama (llama.cpp) allocates num_ctx x OLLAMA_NUM_PARALLEL tokens of KV cache when it loads the
        model, inside the memory OLLAMA_GPU_OVERHEAD leaves; what does not fit is offloaded to the CPU
        (llm/memory.go EstimateGPULayers at the pinned commits). The compute graph for num_batch tokens
        and about 0.5 GiB of CUDA context make the rest."""
        ctx_len = num_ctx(plan)
        if ctx_len is None:
            return None
        parallel = plan.limits.max_concurrency or 1
        share = plan.hardware.memory_utilization
        return EngineMemory(
            engine=f"Ollama {v.version}", budget=Budget.CONTEXT, fraction=1.0 if share is None else share,
            fraction_flag="1 - OLLAMA_GPU_OVERHEAD share", fraction_default=share is None,
            batch_tokens=plan.limits.max_batch_tokens or 512, max_seqs=parallel,
            max_seqs_default=plan.limits.max_concurrency is None, non_torch_gib=0.5,
            context_tokens=ctx_len * parallel, source="targets/ollama")

    def lower(self, plan: Plan, opts: OllamaOptions, v: OllamaVersion, ctx: BuildContext) -> Lowered:
        m = plan.model
        banner = api.banner(ctx, self.name, self.title, v.version)
        ctx_len = num_ctx(plan)
        assert ctx_len is not None
        c = Lowering(plan, opts, v, ctx_len, plan.server.host)
        mf = _modelfile(c, ctx, banner)
        creates, adapter_files = [create_argv(c)], []
        for a in m.adapters:
            # FROM the model just created: the adapter model inherits its quantized weights and parameters.
            amf = modelfile.Modelfile(header=banner + [
                f"LoRA adapter {a.name} on {m.served_name}: `ollama create {a.name} -f Modelfile.{a.name}` "
                "(create.sh, after the base model).",
                "Parameters, template and system are inherited from the base model."])
            amf.command("FROM", plan.served_name)
            amf.command("ADAPTER", modelfile_path(("file", a.source), ctx))
            adapter_files.append(Artifact(f"Modelfile.{a.name}", amf.render()))
            creates.append(["ollama", "create", a.name, "-f", f"Modelfile.{a.name}"])

        url = api.client_url(plan.server.host, plan.server.port)
        env = serve_env(c) + sorted(opts.env.items())
        serve_env_text = comment_block(banner + [
            f"Environment of `ollama serve` (Ollama {v.version}): `set -a; . ./serve.env; set +a; ollama serve`.",
            "Values are shell-quoted; ${NAME} references expand from the caller's environment.",
        ]) + "".join(f"{k}={sh_env_value(val) if k in opts.env else shlex.quote(val)}\n" for k, val in env)
        script = render_template(
            TEMPLATES, "create.sh.j2",
            banner=banner, about=[
                f"Builds the Ollama model {m.served_name} from Modelfile on the server at {url}",
                f"(`ollama serve` with serve.env, or `docker compose up -d` with compose.yaml; Ollama {v.version}).",
            ], host=shlex.quote(url), creates=creates)
        svc = _service(Lowering(plan, opts, v, ctx_len, "0.0.0.0"), creates,
                       (("Modelfile", mf.render()), *((f.path, f.content) for f in adapter_files)))
        compose = api.compose_file(banner + ["", f"docker compose up -d, then ./create.sh; the API is at {url}/v1 "
                                                 "(OpenAI-compatible) and /api."], svc)
        return Lowered(
            artifacts=(Artifact("Modelfile", mf.render()), *adapter_files,
                       Artifact("create.sh", script, executable=True), Artifact("serve.env", serve_env_text),
                       Artifact("compose.yaml", compose)),
            command=tuple(creates[0]), service=svc, derived=derived(c))


def _modelfile(c: Lowering, ctx: BuildContext, banner: list[str]) -> modelfile.Modelfile:
    """FROM, deployc's PARAMETERs, the user's own (sorted), TEMPLATE and SYSTEM."""
    m, parallel = c.plan.model, c.plan.limits.max_concurrency or 1
    source, _ = from_ref(c.plan, c.opts)
    assert source is not None
    mf = modelfile.Modelfile(header=banner + [
        f"`ollama create {m.served_name} -f Modelfile` (create.sh) builds the model {m.served_name}.",
        f"num_ctx is per parallel request: the KV cache holds num_ctx x OLLAMA_NUM_PARALLEL = "
        f"{c.context} x {parallel} = {c.context * parallel} tokens{_kv_bytes(ctx.memory)}.",
    ])
    mf.command("FROM", modelfile_path(source, ctx))
    params = [(parameter.name, value) for parameter in PARAMETERS for value in parameter.value(c)]
    used = {name for name, _ in params} & FEATURE_SINCE.keys()
    if (s := c.plan.speculative) is not None and s.model is not None:
        mf.command("DRAFT", modelfile_path(("file", s.model), ctx))
        used.add("draft")
    if used and "requires" in c.v.commands:
        # the oldest release that reads every command and PARAMETER this Modelfile uses
        mf.command("REQUIRES", max((FEATURE_SINCE[f] for f in used), key=lambda v: tuple(map(int, v.split(".")))))
    for name, value in params:
        mf.parameter(name, value)
    for name, given in sorted(c.opts.parameters.items()):
        mf.parameter(name, given)
    if c.opts.template is not None:
        mf.command("TEMPLATE", c.opts.template)
    if c.opts.system is not None:
        mf.command("SYSTEM", c.opts.system)
    return mf


def _service(c: Lowering, creates: list[list[str]], files: tuple[tuple[str, str], ...]) -> api.Service:
    """`ollama serve` in Ollama's image; create.sh's `ollama create` steps run against it."""
    plan, opts, v = c.plan, c.opts, c.v
    amd = plan.hardware.gpu.vendor == "amd"
    env = [(k, val.replace("$", "$$")) for k, val in serve_env(c)] + list(api.compose_env(opts).items())
    return api.service(
        plan=plan, image=opts.image or (v.rocm_image if amd else None) or v.image, command=["serve"],
        env_set=dict(env), container_cache=MODEL_STORE,
        cache_volume=f"${{OLLAMA_MODELS_DIR:-~/.ollama}}:{MODEL_STORE}",
        # The image has neither python3 nor curl; GET /api/version answers once the server is up.
        health_path="/api/version", health_test=("CMD", "ollama", "list"), start_period="5m",
        gpu_count=plan.hardware.count,
        # The server starts with no model: create.sh's `ollama create` steps, against the server's URL
        # (OLLAMA_HOST is also the client's setting); the model lands in the store, which is the cache.
        launch=api.Launch(steps=tuple(api.compose_literal(argv) for argv in creates), files=files,
                          env=(("OLLAMA_HOST", api.SERVER_URL),), persistent=True))


def _kv_bytes(mp: MemoryPlan | None) -> str:
    """The KV cache's size from the memory plan (compiler/memory.py), when the model facts allow one."""
    if mp is None:
        return ""
    return f" (about {mp.kv_cache_gib_per_gpu:.1f} GiB at {mp.kv_bytes_per_token} bytes per token)"
