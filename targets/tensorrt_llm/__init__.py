"""The TensorRT-LLM target. Two kinds of version (versions.py):

- 1.x (TrtLlmServeVersion, the default, 1.2.1): the PyTorch backend serves the Hugging Face checkpoint
  itself, no engine build: serve.sh (`trtllm-serve serve` + an options YAML), compose.yaml, quantize.sh
  (ModelOpt, for an unquantized checkpoint asked to be fp8/int4), and the Triton route through the
  LLM-API Python model (launch.sh + model_repository/tensorrt_llm/1/model.yaml). pytorch.py,
  llmapi.py (the flag and YAML tables), modelopt.py, serve_checks.py. `args` are trtllm-serve flags.
- 0.19.0 (TrtLlmVersion): the engine build, described below; its output is unchanged.

0.19.0: build.sh (checkpoint -> engine), a Triton model repository, launch.sh, serve.sh.

Every flag is checked against the pinned release (targets/tensorrt_llm/versions.py names the
commits and files; cli_options.json holds the option tables the tests hold every emitted flag
to; the conformance tier parses every config.pbtxt with Triton's own protobuf message).

The package: options.py (the options model and one option table per command: trtllm-build,
trtllm-serve, the converters), engine.py (shapes, paths, KV share, family), checks.py,
scripts.py (build.sh, launch.sh, serve.sh), triton.py + pbtxt.py (the model repository),
service.py (the container), versions.py (what each release is).

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
  folder by its base name. A served name a folder cannot hold ("Qwen/Qwen2.5-7B-Instruct") becomes
  the repository name "Qwen--Qwen2.5-7B-Instruct" (engine.repository_name); launch.sh says which.
- `args` are extra trtllm-build flags; each must be a flag of the pinned trtllm-build, and none
  may restate one deployc derives (argparse also accepts unambiguous prefixes).
"""

from __future__ import annotations

from deployc.compiler import api
from deployc.compiler.api import (
    Artifact,
    Budget,
    BuildContext,
    Capability,
    Diagnostic,
    EngineMemory,
    Lowered,
    Plan,
    Target,
    banner_lines,
    comment_block,
)
from deployc.targets.tensorrt_llm import checks, modelopt, pytorch, serve_checks, triton
from deployc.targets.tensorrt_llm.engine import (
    DEFAULT_KV_FRACTION,
    NAME,
    TITLE,
    Paths,
    kv_fraction,
    repository_name,
    resolve_family,
    shapes,
)
from deployc.targets.tensorrt_llm.options import BUILD, SERVE, Lowering, TensorRtLlmOptions, build_argv
from deployc.targets.tensorrt_llm.scripts import build_script, launch_script, serve_script
from deployc.targets.tensorrt_llm.service import engine_service
from deployc.targets.tensorrt_llm.versions import VERSIONS, AnyVersion, TrtLlmServeVersion, TrtLlmVersion

__all__ = ["TensorRtLlmOptions", "TensorRtLlmTarget"]

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

_HINTS = {
    Capability.ATTENTION_DATA_PARALLEL: "deployc's 0.19.0 engine build writes no attention data parallelism: use "
                                        "version 1.2.1 (enable_attention_dp)",
    Capability.EXPERT_PARALLEL: "deployc's 0.19.0 engine build writes no expert parallelism: use version 1.2.1 "
                                "(--ep_size)",
    Capability.QUANT_MXFP4: "deployc's 0.19.0 build path converts no FP4 checkpoints: use version 1.2.1 (the PyTorch "
                            "backend serves it as it is)",
    Capability.QUANT_NVFP4: "deployc's 0.19.0 build path converts no FP4 checkpoints: use version 1.2.1 (the PyTorch "
                            "backend serves it as it is)",
    Capability.AMD_GPU: "TensorRT-LLM runs on NVIDIA GPUs only: leave tensorrt-llm out of targets for this hardware",
    Capability.DATA_PARALLEL: "run one copy of launch.sh per GPU group (CUDA_VISIBLE_DEVICES) behind a "
                              "load balancer, or leave tensorrt-llm out of targets",
    Capability.REMOTE_CODE: "TensorRT-LLM builds only architectures it implements; remove model.trust_remote_code",
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
}


# 1.x: what differs from 0.19.0's hints (no engine, trtllm-serve's own options).
_SERVE_HINTS = {
    **_HINTS,
    Capability.DATA_PARALLEL: "run one copy of serve.sh per GPU group (CUDA_VISIBLE_DEVICES) behind a load "
                              "balancer, or leave tensorrt-llm out of targets",
    Capability.API_KEY: "trtllm-serve has no API key option: put an authenticating proxy in front and remove "
                        "server.api_key_env",
    Capability.MULTI_NODE: "deployc writes one-node TensorRT-LLM deployments: fit one copy on one node "
                           "(tensor x pipeline <= hardware.gpus_per_node; quantization: fp8 shrinks the weights), "
                           "or use the vllm or sglang target, which span nodes",
    Capability.QUANT_INT8: "TensorRT-LLM's PyTorch backend has no INT8 weight-only recipe: use quantization: fp8 "
                           "(Ada and newer) or int4 (W4A16 AWQ), or pin version: 0.19.0",
    Capability.MAX_INPUT_TOKENS: "trtllm-serve bounds prompts by max_seq_len only: remove limits.max_input_tokens "
                                 "or pin version: 0.19.0 (engine build, --max_input_len)",
}


class TensorRtLlmTarget(Target[TensorRtLlmOptions, AnyVersion]):
    name = NAME
    title = TITLE
    runs_container = True
    versions = VERSIONS
    options = TensorRtLlmOptions

    def unsupported_hint(self, capability: Capability, v: AnyVersion) -> str | None:
        return (_SERVE_HINTS if isinstance(v, TrtLlmServeVersion) else _HINTS).get(capability)

    def check(self, plan: Plan, opts: TensorRtLlmOptions, v: AnyVersion) -> list[Diagnostic]:
        if isinstance(v, TrtLlmServeVersion):
            return serve_checks.check(plan, opts, v)
        return checks.check(plan, opts, v)

    def quantizes_offline(self, plan: Plan, opts: TensorRtLlmOptions, v: AnyVersion) -> frozenset[str]:
        """1.x: what ModelOpt's hf_ptq makes of a 16-bit checkpoint (modelopt.QFORMAT: fp8, awq and int4 as
        int4_awq, int8 as int8_sq), unless targets.tensorrt-llm.quantize is false; 0.19.0: what
        quantize.py makes (fp8, awq as int4_awq; options.quantizes)."""
        if isinstance(v, TrtLlmServeVersion):
            return frozenset() if opts.quantize is False else frozenset(modelopt.QFORMAT)
        return frozenset({"fp8", "awq"})
    def parsers(self, v: AnyVersion) -> api.ParserSupport | None:
        from deployc.targets.tensorrt_llm import parsers
        return parsers.support(v.data_version) if isinstance(v, TrtLlmServeVersion) else None

    def importer(self) -> api.Importer:
        from deployc.targets.tensorrt_llm.importer import IMPORTER
        return IMPORTER

    def memory_model(self, plan: Plan, opts: TensorRtLlmOptions, v: AnyVersion) -> EngineMemory | None:
        if isinstance(v, TrtLlmServeVersion):
            return self._serve_memory(plan, opts, v)
        """TensorRT-LLM gives the KV cache kv_cache_free_gpu_mem_fraction of the memory free after the
        engine's weights and activation buffers are allocated (docs/model_config.md of tensorrtllm_backend
        v0.19.0; KvCacheConfig.free_gpu_memory_fraction), in blocks of 64 tokens (tokens_per_block)."""
        fraction, _ = kv_fraction(plan)
        if fraction is not None and fraction <= 0:
            return None
        shape = shapes(plan, opts, v)
        return EngineMemory(
            engine=f"{TITLE} {v.version}", budget=Budget.FREE, fraction=DEFAULT_KV_FRACTION if fraction is None
            else fraction, fraction_flag="kv_cache_free_gpu_mem_fraction", fraction_default=fraction is None,
            batch_tokens=shape.max_num_tokens, max_seqs=shape.max_batch_size,
            max_seqs_default=plan.limits.max_concurrency is None and opts.max_batch_size is None,
            non_torch_gib=0.5, block_size=64, source="targets/tensorrt_llm")

    @staticmethod
    def _serve_memory(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmServeVersion) -> EngineMemory | None:
        """The PyTorch backend gives the KV cache KvCacheConfig.free_gpu_memory_fraction (default 0.9) of the
        memory free after the weights and the warm-up's activations, in blocks of tokens_per_block (32) tokens;
        max_num_tokens (8192) bounds one step, max_batch_size (2048) the running requests (versions.py)."""
        fraction, _ = kv_fraction(plan)
        if fraction is not None and fraction <= 0:
            return None
        lim = plan.limits
        return EngineMemory(
            engine=f"{TITLE} {v.version}", budget=Budget.FREE, fraction=v.free_gpu_memory_fraction if fraction is None
            else fraction, fraction_flag="kv_cache_config.free_gpu_memory_fraction", fraction_default=fraction is None,
            batch_tokens=lim.max_batch_tokens or v.default_max_num_tokens,
            max_seqs=pytorch.batch_size(plan, opts) or v.default_max_batch_size,
            max_seqs_default=pytorch.batch_size(plan, opts) is None, non_torch_gib=0.5,
            block_size=v.tokens_per_block, source="targets/tensorrt_llm/versions.py")

    def lower(self, plan: Plan, opts: TensorRtLlmOptions, v: AnyVersion, ctx: BuildContext) -> Lowered:
        if isinstance(v, TrtLlmServeVersion):
            return pytorch.lower(plan, opts, v, ctx)
        family, _ = resolve_family(plan, opts)
        assert family is not None
        s = shapes(plan, opts, v)
        fraction, _ = kv_fraction(plan)
        c = Lowering(plan, s, Paths.of(plan, opts.workdir, ctx), fraction, plan.server.host)
        banner = banner_lines(ctx.spec_name, ctx.spec_digest, NAME, TITLE, v.version)
        env = api.user_env_shell(opts)
        ensemble = repository_name(plan.model.served_name)
        build = build_argv(c, v, opts.args)
        artifacts = [Artifact("build.sh", build_script(c, family, v, banner, env, build, ensemble), executable=True),
                     Artifact("launch.sh", launch_script(c, opts, v, banner, env, ensemble), executable=True),
                     Artifact("serve.sh", serve_script(c, v, banner, env), executable=True)]
        artifacts += self._repository(c, opts, v, banner, ensemble)
        # What build.sh downloads, converts and copies is not deployc's output: keep it out of git.
        work = c.paths.work
        ignored = ["/model_repository/*/1/"] + ([] if work.startswith(("/", "..")) else [f"/{work}/"])
        artifacts.append(Artifact(".gitignore", comment_block(banner) + "\n".join(ignored) + "\n"))
        derived = api.derived_of(BUILD, c, v, plan) + api.derived_of(SERVE, c, v, plan)
        return Lowered(artifacts=tuple(artifacts), command=tuple(build),
                       service=engine_service(plan, opts, v, family, s, fraction), derived=derived)

    @staticmethod
    def _repository(c: Lowering, opts: TensorRtLlmOptions, v: TrtLlmVersion, banner: list[str],
                    ensemble: str) -> list[Artifact]:
        """The Triton model repository's config.pbtxt files."""
        s = c.shapes
        repo = triton.Repository(
            ensemble=ensemble, max_batch_size=s.max_batch_size, decoupled=opts.streaming,
            queue_delay_us=opts.max_queue_delay_microseconds, max_queue_size=opts.max_queue_size,
            engine_dir=c.paths.engine, tokenizer_dir=c.paths.tokenizer, kv_cache_free_gpu_mem_fraction=c.fraction,
            max_tokens_in_paged_kv_cache=(s.max_batch_size * s.max_seq_len
                                          if c.plan.limits.max_concurrency is not None and s.max_seq_len else None),
            chunked_context=s.chunked_context, tokenizer_instances=opts.tokenizer_instances)
        header = comment_block(banner + ["Triton model configuration; paths are relative to the folder "
                                         "launch.sh starts tritonserver in."])
        return [Artifact(f"model_repository/{name}/config.pbtxt", text)
                for name, text in triton.configs(repo, v, header).items()]
