"""The LMDeploy target: `lmdeploy serve api_server` argv, serve.sh and compose.yaml.

Spellings are checked against LMDeploy's own parser at each pinned version (versions.py; the option
tables in engine_options/ are extracted from the real wheels, and the conformance tier parses every
sample's argv with the real `lmdeploy serve api_server` parser). Spec -> LMDeploy, decisions worth knowing:

- Backend: TurboMind or PyTorch, from targets.lmdeploy.backend, else chosen as LMDeploy itself would
  (lmdeploy.archs.autoget_backend) plus what only PyTorch does: LoRA adapters and non-CUDA devices
  (--device ascend|maca|camb) need PyTorch; an architecture missing from TurboMind's list at that version
  (lmdeploy/turbomind/supported_models.py SUPPORTED_ARCHS) goes to PyTorch when PyTorch's list
  (lmdeploy/pytorch/models/module_map.py MODULE_MAP) has it, else it is an error. Both lists are in
  engine_options/<version>.json. --backend is always written, so serve.sh says which engine runs.
- hardware.memory_utilization is a share of ALL memory; --cache-max-entry-count is the share of the
  memory FREE after the weights (default 0.8): f = (u*M - W) / (M - W) with the planned weights W per GPU
  (compiler/memory.py), as for TensorRT-LLM. The plan's budget is FREE: weights, then f of what is left.
- limits: max_model_len -> --session-len, max_concurrency -> --max-batch-size (unset: LMDeploy's own,
  by GPU), max_batch_tokens -> --max-prefill-token-num. LMDeploy has no server-wide output cap and no
  prompt limit apart from the session length.
- precision: awq, gptq and fp8 name pre-quantized checkpoints (--model-format); LMDeploy quantizes
  nothing while loading (that is `lmdeploy lite`). kv_cache_dtype fp8 -> --quant-policy fp8 (0.18);
  targets.lmdeploy.kv_quant picks int4/int8 KV caches.
- The API key: LMDeploy reads it only from --api-keys. serve.sh appends `--api-keys "${NAME:?...}"`, so
  the key is expanded by the shell and visible in the process list of the machine (ps) like any
  argument; compose.yaml passes a `${NAME:?...}` reference Compose fills in.
- In compose.yaml the engine listens on 0.0.0.0 inside the container; server.host picks the host address
  the port is published on. A non-CUDA device gets serve.sh only: its containers need the vendor's
  device mounts, which deployc does not write.
"""

from __future__ import annotations


from deployc.compiler import api
from deployc.compiler.api import Artifact, Budget, BuildContext, Capability, Diagnostic, EngineMemory, Lowered, Plan, Target, error, warning
from deployc.targets.lmdeploy.options import (
    PARSER,
    TABLE,
    LmdeployOptions,
    Lowering,
    architecture,
    cache_fraction,
    choose_backend,
    engine_args,
    engine_table,
    registry,
)
from deployc.targets.lmdeploy.versions import VERSIONS, LmdeployVersion

__all__ = ["LmdeployOptions", "LmdeployTarget"]

_HINTS = {
    # lmdeploy 0.18.0 cli/utils.py:182-197: --dp needs a dp_rank per process with the PyTorch engine, and --ep
    # needs --dp: one api_server per data rank behind LMDeploy's proxy, which deployc does not write.
    Capability.ATTENTION_DATA_PARALLEL: "LMDeploy's PyTorch engine runs --dp as one api_server per data rank (a "
                                        "--dp-rank each) behind its proxy, which deployc does not write: use the vllm "
                                        "or sglang target for data-parallel attention",
    Capability.EXPERT_PARALLEL: "LMDeploy's --ep needs --dp (one api_server per data rank behind its proxy), which "
                                "deployc does not write: remove parallelism.expert, or use the vllm or sglang target",
    Capability.QUANT_MXFP4: "deployc's LMDeploy target names no FP4 --model-format: serve the checkpoint with the "
                            "vllm or sglang target",
    Capability.QUANT_NVFP4: "deployc's LMDeploy target names no FP4 --model-format: serve the checkpoint with the "
                            "vllm or sglang target",
    Capability.PIPELINE_PARALLEL: "LMDeploy has no pipeline parallelism: use parallelism.tensor for the same GPUs",
    Capability.DATA_PARALLEL: "run several copies with kubernetes.replicas (each a full server), or use vllm/sglang",
    Capability.CHAT_TEMPLATE: "LMDeploy's --chat-template takes its own JSON template config, not a Jinja file: "
                              "put the template in the model's tokenizer_config.json, or pass "
                              "--chat-template in targets.lmdeploy.args",
    Capability.MAX_OUTPUT_TOKENS: "LMDeploy has no server-wide cap: clients set max_tokens per request",
    Capability.QUANT_INT8: "serve a W8A8 checkpoint made with `lmdeploy lite smooth_quant` (quantization: none)",
    Capability.QUANT_INT4: "serve an AWQ checkpoint (quantization: awq), e.g. one made with `lmdeploy lite auto_awq`",
    Capability.KV_CACHE_FP8: "use targets.lmdeploy.kv_quant: int8 (an 8-bit KV cache), or pin version 0.18.0",
    Capability.REMOTE_CODE: "pin targets.lmdeploy.version: 0.18.0, which has --trust-remote-code",
}


class LmdeployTarget(Target[LmdeployOptions, LmdeployVersion]):
    name = "lmdeploy"
    title = "LMDeploy"
    runs_container = True
    versions = VERSIONS
    options = LmdeployOptions

    def unsupported_hint(self, capability: Capability, v: LmdeployVersion) -> str | None:
        return _HINTS.get(capability)

    def parsers(self, v: LmdeployVersion) -> api.ParserSupport:
        from deployc.targets.lmdeploy import parsers
        return parsers.support(v.version)

    def check(self, plan: Plan, opts: LmdeployOptions, v: LmdeployVersion) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        choice, arch = choose_backend(plan, opts, v), architecture(plan)
        at_backend = ("targets", self.name, "backend")
        if plan.precision.dtype == "float32":
            out.append(error("lmdeploy-dtype", "LMDeploy computes in float16 or bfloat16 (--dtype auto|float16|"
                             "bfloat16)", hint="use dtype: bfloat16, float16 or auto", path=("precision", "dtype")))
        if plan.precision.quantization == "fp8" and plan.facts.from_checkpoint and plan.facts.quant_method is None:
            out.append(error("lmdeploy-fp8", "LMDeploy serves fp8 checkpoints (--model-format fp8) and does not "
                             "quantize a 16-bit one while loading", path=("precision", "quantization"),
                             hint="serve an fp8 checkpoint, or quantization: none"))
        if choice.backend == "turbomind":
            if opts.device != "cuda":
                out.append(error("lmdeploy-backend", f"TurboMind runs on CUDA only, not on {opts.device}",
                                 hint="use backend: pytorch", path=at_backend))
            if plan.model.adapters:
                out.append(error("lmdeploy-backend", "TurboMind serves no LoRA adapters (--adapters is a PyTorch "
                                 "engine argument)", hint="use backend: pytorch", path=at_backend))
            if opts.backend and arch and arch not in registry(v.version, "turbomind_archs"):
                out.append(error("lmdeploy-backend", f"TurboMind {v.version} does not support {arch}; LMDeploy "
                                 "would fall back to PyTorch at start", hint="use backend: pytorch", path=at_backend))
        if arch and arch not in registry(v.version, "turbomind_archs") and arch not in registry(v.version, "pytorch_archs"):
            out.append(error("lmdeploy-architecture", f"neither engine of LMDeploy {v.version} supports {arch}",
                             hint="see LMDeploy's supported models, or pick another target", path=("model", "source")))
        if opts.device != "cuda":
            if opts.image is None:
                out.append(error("lmdeploy-image", f"deployc pins no LMDeploy image for {opts.device}: LMDeploy "
                                 "tags those by hand", hint="set targets.lmdeploy.image to the image you run",
                                 path=("targets", self.name, "device")))
            out.append(warning("lmdeploy-device", f"compose.yaml is not written for {opts.device}: its containers "
                               "need the vendor's device mounts", hint="run serve.sh in the vendor's image",
                               path=("targets", self.name, "device")))
        out += self._kv_checks(plan, opts, v)
        fraction, weights = cache_fraction(plan)
        if fraction is not None and fraction <= 0:
            out.append(error("lmdeploy-memory", f"the weights take about {weights:.1f} GiB per GPU, more than "
                             f"memory_utilization {plan.hardware.memory_utilization:g} of "
                             f"{plan.hardware.gpu.memory_gib:g} GiB", path=("hardware", "memory_utilization"),
                             hint="raise parallelism.tensor, serve a quantized checkpoint, or raise memory_utilization"))
        others = [engine_table(k) for k in VERSIONS if k != v.version]
        out += api.check_args(opts.args, engine_table(v.version), self.title, self.name, PARSER,
                              TABLE.owners(v), others)
        return out

    def _kv_checks(self, plan: Plan, opts: LmdeployOptions, v: LmdeployVersion) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        at = ("targets", self.name, "kv_quant")
        if opts.kv_quant and opts.kv_quant not in v.kv_policies:
            out.append(error("lmdeploy-kv-quant", f"LMDeploy {v.version} has no {opts.kv_quant} KV cache "
                             f"(--quant-policy {', '.join(v.kv_policies.values())})",
                             hint="use " + " or ".join(v.kv_policies), path=at))
        if opts.kv_quant and plan.precision.kv_cache_dtype == "fp8" and opts.kv_quant != "fp8":
            out.append(error("lmdeploy-kv-quant", f"kv_quant {opts.kv_quant} contradicts precision.kv_cache_dtype fp8",
                             hint="keep one of them", path=at))
        return out

    def importer(self) -> api.Importer:
        from deployc.targets.lmdeploy.importer import IMPORTER
        return IMPORTER

    def memory_model(self, plan: Plan, opts: LmdeployOptions, v: LmdeployVersion) -> EngineMemory | None:
        """LMDeploy's budget: the weights load first; then --cache-max-entry-count of the memory still free
        (after the PyTorch engine's runtime buffers for the prefill tokens) becomes the KV cache, in blocks
        of --cache-block-seq-len 64 tokens (cli/utils.py; pytorch/engine/executor/base.py)."""
        fraction, _ = cache_fraction(plan)
        if fraction is not None and fraction <= 0:
            return None
        lim, choice = plan.limits, choose_backend(plan, opts, v)
        return EngineMemory(
            engine=f"LMDeploy {v.version} ({choice.backend})", budget=Budget.FREE,
            fraction=v.default_cache_fraction if fraction is None else fraction,
            fraction_flag="--cache-max-entry-count", fraction_default=fraction is None,
            batch_tokens=lim.max_batch_tokens or v.default_prefill_tokens,
            max_seqs=lim.max_concurrency or v.default_max_batch(plan.hardware.gpu.name, opts.device),
            max_seqs_default=lim.max_concurrency is None,
            non_torch_gib=0.5, block_size=v.block_size, source="targets/lmdeploy/versions.py")

    def lower(self, plan: Plan, opts: LmdeployOptions, v: LmdeployVersion, ctx: BuildContext) -> Lowered:
        choice = choose_backend(plan, opts, v)
        batch = plan.limits.max_concurrency
        head = ["lmdeploy", "serve", "api_server"]
        argv = head + engine_args(Lowering(plan, opts, v, plan.server.host, lambda ref, _where: ref,
                                           choice.backend, batch))
        mounts = api.LocalMounts(ctx)
        in_container = head + engine_args(Lowering(plan, opts, v, "0.0.0.0", mounts.map, choice.backend, batch))
        banner = api.banner(ctx, self.name, self.title, v.version)
        model, key = plan.model, plan.server.api_key_env
        about = [
            f"Serves {model.served_name} ({model.source}) on {plan.server.host}:{plan.server.port} with LMDeploy "
            f"{v.version}'s {choice.backend} engine ({choice.why}), OpenAI-compatible API under /v1.",
            f"Needs `pip install lmdeploy=={v.version}` and {plan.gpus_needed} {opts.device} device(s) "
            f"({plan.hardware.gpu.name}); HF_TOKEN is read from the environment for gated models.",
        ]
        if key:
            about.append(f"LMDeploy takes API keys only as arguments: the key in ${key} is passed with --api-keys "
                         "and shows in the process list (ps) of this machine.")
        tail = ["--api-keys", f'"{api.api_key_ref(key)}"'] if key else []
        script = api.serve_script(ctx, banner, about, argv, api.user_env_shell(opts), shell_tail=tail)
        artifacts = [Artifact("serve.sh", script, executable=True)]
        svc = None
        if opts.device == "cuda":
            svc = api.service(
                plan=plan, image=opts.image or v.image, command=in_container, env_pass=["HF_TOKEN"],
                env_set=api.compose_env(opts), volumes=mounts.volumes, container_cache="/root/.cache/huggingface",
                command_tail=("--api-keys", api.api_key_ref(key)) if key else ())
            artifacts.append(Artifact("compose.yaml", api.compose_file(
                banner + ["", f"docker compose up -d; the API is at "
                              f"{api.client_url(plan.server.host, plan.server.port, '/v1')} once the health check "
                              "passes."], svc)))
        derived = api.derived_of(TABLE, Lowering(plan, opts, v, plan.server.host, lambda ref, _where: ref,
                                                 choice.backend, batch), v, plan)
        return Lowered(artifacts=tuple(artifacts), command=tuple(argv), service=svc, derived=derived)
