"""The llama.cpp target: llama-server argv, serve.sh and compose.yaml.

Spellings are checked against each pinned build's own option table (engine_options/b<N>.json, from the
build's common/arg.cpp); the conformance tier builds b10454's llama-server, checks its --help lists every
option deployc writes, and serves a converted model end to end with the generated serve.sh.
Spec -> llama-server, decisions worth knowing (versions.py cites the source):

- The model is a GGUF file: model.gguf (or a model.source ending in .gguf) -> -m; a hub repository of
  GGUF files -> -hf org/repo[:QUANT] (targets.llama-cpp.quant picks the file). A hub id whose name does
  not say GGUF is refused: llama.cpp cannot load safetensors.
- Context and slots are written even when the spec leaves them to the engine, because llama.cpp splits
  its context between slots: with limits.max_concurrency N, -np N and -c N x max_model_len, so that each
  of the N slots holds a whole max_model_len sequence (the cache is allocated up front); without it,
  -c max_model_len and llama.cpp's automatic 4 slots share that one unified cache. The plan's budget is
  CONTEXT: weights (by the GGUF quant type) plus the whole -c cache.
- GPU offload: -ngl all (targets.llama-cpp.gpu_layers), so a model that does not fit fails at start
  instead of running on the CPU; tensor > 1 -> -sm row (weights split by rows), pipeline > 1 -> -sm layer.
- kv_cache_dtype fp8 -> -ctk q8_0 -ctv q8_0 (llama.cpp has no fp8 cache; q8_0 is its 8-bit type).
- The API key travels by name: serve.sh exports LLAMA_API_KEY, which llama-server reads for --api-key.
- In compose.yaml the engine listens on 0.0.0.0 inside the container (the image's own LLAMA_ARG_HOST
  too); a local GGUF is bind-mounted read-only; hub downloads go to the mounted Hugging Face cache.
"""

from __future__ import annotations

from deployc.compiler import api
from deployc.compiler.api import Artifact, Budget, BuildContext, Capability, Diagnostic, EngineMemory, Lowered, Plan, Target, error, is_local, warning
from deployc.targets.llama_cpp.options import (
    PARSER,
    TABLE,
    LlamaCppOptions,
    Lowering,
    engine_args,
    engine_table,
    gguf_path,
    kv_types,
    owned_env,
    slots,
    weight_bits,
)
from deployc.targets.llama_cpp.versions import QUANT_BITS, VERSIONS, LlamaCppVersion

__all__ = ["LlamaCppOptions", "LlamaCppTarget"]

NAME = "llama-cpp"
_QUANT_HINT = "llama.cpp serves GGUF files, whose quant type is in the file: set model.gguf, or point model.source " \
              "at a GGUF repository with targets.llama-cpp.quant (e.g. Q4_K_M)"
_HINTS = {
    Capability.DATA_PARALLEL: "run several copies with kubernetes.replicas (each a full server)",
    Capability.ATTENTION_DATA_PARALLEL: "llama-server has no data-parallel attention: use the vllm or sglang target",
    Capability.EXPERT_PARALLEL: "llama-server has no expert parallelism (-sm row/layer split every layer): remove "
                                "parallelism.expert",
    Capability.REVISION: "-hf has no revision: download the file at that revision and set model.gguf",
    Capability.CUSTOM_TOKENIZER: "the GGUF file carries its tokenizer",
    Capability.REMOTE_CODE: "llama.cpp runs no model code: remove trust_remote_code",
    Capability.LORA: "llama-server applies adapters per request by id, not by model name: merge the adapter into "
                     "the GGUF, or pass --lora in targets.llama-cpp.args",
    Capability.MAX_OUTPUT_TOKENS: "llama-server's -n is only a default: clients set max_tokens per request",
    **dict.fromkeys((Capability.QUANT_FP8, Capability.QUANT_AWQ, Capability.QUANT_GPTQ, Capability.QUANT_INT8,
                     Capability.QUANT_INT4, Capability.QUANT_BITSANDBYTES, Capability.QUANT_MXFP4,
                     Capability.QUANT_NVFP4), _QUANT_HINT),
}


class LlamaCppTarget(Target[LlamaCppOptions, LlamaCppVersion]):
    name = NAME
    title = "llama.cpp"
    runs_container = True
    versions = VERSIONS
    options = LlamaCppOptions

    def parsers(self, v: LlamaCppVersion) -> api.ParserSupport:
        return api.ParserSupport(f"llama.cpp {v.version}", {"tool": None, "reasoning": None},
                                 builtin=frozenset({"tool", "reasoning"}))

    def unsupported_hint(self, capability: Capability, v: LlamaCppVersion) -> str | None:
        return _HINTS.get(capability)

    def check(self, plan: Plan, opts: LlamaCppOptions, v: LlamaCppVersion) -> list[Diagnostic]:
        out: list[Diagnostic] = api.rope_type_check(plan, f"llama.cpp {v.version} (--rope-scaling)", ("yarn", "linear"))
        m, par = plan.model, plan.parallelism
        local = gguf_path(plan)
        if local is None and is_local(m.source):
            out.append(error("llama-cpp-gguf", "llama.cpp loads a GGUF file, and model.source is a local folder",
                             hint="set model.gguf to the .gguf file (convert_hf_to_gguf.py makes one)",
                             path=("model", "source")))
        elif local is None and "gguf" not in m.source.lower():
            out.append(error("llama-cpp-gguf", f"{m.source} does not look like a GGUF repository, and llama.cpp "
                             "cannot load safetensors", hint=_QUANT_HINT, path=("model", "source")))
        elif local is None and opts.quant is None:
            out.append(warning("llama-cpp-quant", f"no quant tag: llama.cpp takes {m.source}'s Q4_K_M file, or its "
                               "first file when there is none", hint="set targets.llama-cpp.quant, e.g. Q4_K_M",
                               path=("model", "source")))
        if local is not None and opts.quant is not None:
            out.append(error("llama-cpp-quant", "targets.llama-cpp.quant picks a file of a hub repository, and the "
                             "spec names a local GGUF", hint="remove quant", path=("targets", NAME, "quant")))
        if opts.quant and opts.quant.upper() not in QUANT_BITS:
            out.append(warning("llama-cpp-quant", f"the plan does not know the size of quant type {opts.quant}",
                               hint="known: " + ", ".join(QUANT_BITS), path=("targets", NAME, "quant")))
        if "," in (m.served_name or ""):
            out.append(error("llama-cpp-served-name", "llama-server splits --alias on commas: the served name would "
                             "become several names", hint="remove the commas", path=("model", "served_name")))
        if par.tensor > 1 and par.pipeline > 1:
            out.append(error("llama-cpp-split", "llama.cpp splits a model over GPUs either by rows (tensor) or by "
                             "layers (pipeline), not both", hint="use tensor or pipeline alone",
                             path=("parallelism", "pipeline")))
        kv = opts.kv_cache_type
        if kv is not None and kv not in kv_types(v.version):
            out.append(error("llama-cpp-kv-cache-type", f"llama.cpp {v.version} has no KV cache type {kv!r}",
                             hint="one of " + ", ".join(kv_types(v.version)), path=("targets", NAME, "kv_cache_type")))
        if kv is not None and plan.precision.kv_cache_dtype == "fp8" and kv != "q8_0":
            out.append(error("llama-cpp-kv-cache-type", f"kv_cache_type {kv} contradicts precision.kv_cache_dtype fp8 "
                             "(q8_0)", hint="keep one of them", path=("targets", NAME, "kv_cache_type")))
        L = plan.context
        if L and L % 256:
            out.append(warning("llama-cpp-context", f"llama.cpp rounds each slot's context up to a multiple of 256: "
                               f"max_model_len {L} admits prompts up to {-(-L // 256) * 256} tokens",
                               hint=f"use max_model_len: {L // 256 * 256 or 256} or {-(-L // 256) * 256}",
                               path=("limits", "max_model_len") if plan.limits.max_model_len else ("model", "source")))
        others = [engine_table(k) for k in VERSIONS if k != v.version]
        out += api.check_args(opts.args, engine_table(v.version), self.title, NAME, PARSER,
                              TABLE.owners(v), others)
        out += api.env_conflicts(opts.env, owned_env(v), NAME)
        return out

    def importer(self) -> api.Importer:
        from deployc.targets.llama_cpp.importer import IMPORTER
        return IMPORTER

    def memory_model(self, plan: Plan, opts: LlamaCppOptions, v: LlamaCppVersion) -> EngineMemory:
        """llama.cpp allocates the KV cache for the whole -c context up front (every slot's share, or one
        unified cache), next to the GGUF weights: a CONTEXT budget. Weights by the file's size, else by the
        quant type's bits per weight (versions.py QUANT_BITS); the compute buffer is one -b batch."""
        s, lim = slots(plan), plan.limits
        share = plan.hardware.memory_utilization
        return EngineMemory(
            engine=f"llama.cpp {v.version}", budget=Budget.CONTEXT, fraction=1.0 if share is None else share,
            fraction_flag="the GPU share (hardware.memory_utilization; llama.cpp has no such setting)",
            fraction_default=share is None, batch_tokens=lim.max_batch_tokens or 2048,
            max_seqs=s.parallel or 4, max_seqs_default=s.parallel is None, non_torch_gib=0.3, context_tokens=s.context or None,
            weight_bits=weight_bits(plan, opts), source="targets/llama_cpp/versions.py")

    def lower(self, plan: Plan, opts: LlamaCppOptions, v: LlamaCppVersion, ctx: BuildContext) -> Lowered:
        here = Lowering(plan, opts, v, plan.server.host, lambda ref, _where: ref)
        argv = ["llama-server", *engine_args(here)]
        mounts = api.LocalMounts(ctx)
        in_container = engine_args(Lowering(plan, opts, v, "0.0.0.0", mounts.map))
        banner = api.banner(ctx, NAME, self.title, v.version)
        m, s = plan.model, slots(plan)
        about = [
            f"Serves {m.served_name} ({gguf_path(plan) or m.source}) on {plan.server.host}:{plan.server.port} with "
            f"llama.cpp {v.version} (commit {v.commit[:9]}), OpenAI-compatible API under /v1.",
            f"Context and slots: {s.why}.",
            f"Needs llama-server of build {v.version} (its release archive, or {v.pypi_sdist}'s vendor/llama.cpp "
            f"built with cmake) and {plan.gpus_needed} GPU(s) ({plan.hardware.gpu.name}).",
        ]
        env = api.api_key_export(plan, "LLAMA_API_KEY") + api.user_env_shell(opts)
        script = api.serve_script(ctx, banner, about, argv, env)
        svc = api.service(
            plan=plan, image=opts.image or (v.rocm_image if plan.hardware.gpu.vendor == "amd" else v.image) or v.image,
            command=in_container, env_pass=["HF_TOKEN"],
            env_set={"LLAMA_CACHE": "/root/.cache/huggingface/hub", **api.compose_api_key(plan, "LLAMA_API_KEY"),
                     **api.compose_env(opts)},
            volumes=mounts.volumes, container_cache="/root/.cache/huggingface",
            health_test=("CMD", "curl", "-f", f"http://localhost:{plan.server.port}/health"))
        compose = api.compose_file(banner + ["", f"docker compose up -d; the API is at "
                                                     f"{api.client_url(plan.server.host, plan.server.port, '/v1')} "
                                                     "once the health check passes."], svc)
        return Lowered(artifacts=(Artifact("serve.sh", script, executable=True), Artifact("compose.yaml", compose)),
                       command=tuple(argv), service=svc, derived=api.derived_of(TABLE, here, v, plan))
