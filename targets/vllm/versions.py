"""What differs between the vLLM versions deployc writes for: data, not if-statements.

Read from vLLM's own release artifacts (the PyPI sdist/wheel of each version,
whose vllm/ tree is the tagged source) and checked against the real `vllm serve`
parser of each version (tests/conformance). Line references are to those files.

  0.34.0  commit 62d4bc3c7 (vllm/_version.py commit_id 'g62d4bc3c7'), wheel
          vllm-0.34.0-cp38-abi3-manylinux_2_28_x86_64.whl (sha256 in engine_options/0.34.0.json)
  0.33.0  commit 4ba787ec9 (vllm/_version.py commit_id 'g4ba787ec9'; the full SHA
          is not in any artifact), wheel vllm-0.33.0-cp38-abi3-manylinux_2_28_x86_64.whl
  0.11.2  commit 275de34170654274616082721348b7edd9741d32 (tag v0.11.2)

Facts common to both, with their place in the source:
- `vllm serve <model_tag>`: vllm/entrypoints/cli/serve.py ServeSubcommand.subparser_init
  -> make_arg_parser (0.11.2 vllm/entrypoints/openai/cli_args.py:244,
  0.33.0 vllm/entrypoints/common/cli_args.py:431).
- Image vllm/vllm-openai:v<version>, ENTRYPOINT ["vllm", "serve"]
  (0.11.2 docker/Dockerfile:498-500, 0.33.0 docker/Dockerfile:1336-1344); runs as root, so
  the Hugging Face cache is /root/.cache/huggingface (docs/deployment/docker.md); the docs
  ask for ipc=host or a larger shm.
- GET /health: 200 when the engine is alive, never behind the API key
  (0.11.2 vllm/entrypoints/openai/api_server.py:367-374,
  0.33.0 vllm/entrypoints/serve/instrumentator/health.py:22-33).
- VLLM_API_KEY is read when --api-key is absent (0.11.2 api_server.py:1622-1624,
  0.33.0 vllm/entrypoints/serve/middleware/register.py:32-36; vllm/envs.py).
- --dtype choices auto|half|float16|bfloat16|float|float32 (vllm/config/model.py ModelDType).
- --max-lora-rank choices 1, 8, 16, 32, 64, 128, 256, 320, 512, default 16
  (vllm/config/lora.py MaxLoRARanks); an adapter whose r exceeds it fails at startup
  (vllm/lora/peft_helper.py validate_legal).
- --lora-modules: nargs='+', each item `name=path` or one JSON object {name, path}
  (LoRAParserAction); a JSON list is rejected.
- --override-generation-config {"max_new_tokens": N} caps every request's max_tokens
  (0.11.2 vllm/entrypoints/utils.py get_max_tokens; 0.33.0
  vllm/entrypoints/serve/utils/api_utils.py get_max_tokens and override_max_tokens in
  vllm/entrypoints/openai/chat_completion/serving.py:182).
- max_num_batched_tokens < max_num_seqs refuses to start (vllm/config/scheduler.py
  SchedulerConfig.verify_max_model_len: 0.11.2 :263, 0.33.0 :331).
- Pre-quantized checkpoints: ModelConfig._verify_quantization reads quant_method from
  config.json and upgrades awq/gptq to the fast kernel (0.11.2 awq_marlin/gptq_marlin,
  0.33.0 auto_awq/auto_gptq); a different --quantization fails the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

from deployc.compiler.api import RECIPE_CAPABILITIES, Capability, EngineVersion

# Prompt-length limits: vLLM bounds prompts only by max_model_len (prompt + max_tokens).
# Issue 20, item 3, stated explicitly: every pinned version registers tool-call and reasoning parsers
# (engine_options/<version>.json registries; targets/vllm/parsers.py).
_PARSERS = frozenset({Capability.TOOL_PARSER, Capability.REASONING_PARSER})
# Issue 20, item 4, every pinned version: --enable-prefix-caching/--no-enable-prefix-caching and the same for
# chunked prefill (BooleanOptionalAction in 0.11.2, EnableDisableAction in 0.33 on), --hf-overrides,
# --max-loras, --limit-mm-per-prompt (engine_options/<version>.json).
_CACHE_ROPE = frozenset({Capability.PREFIX_CACHING, Capability.CHUNKED_PREFILL, Capability.ROPE_SCALING,
                         Capability.MAX_LORAS, Capability.MM_PER_PROMPT,
                         # item 2: --speculative-config (vllm/config/speculative.py SpeculativeConfig)
                         Capability.SPECULATIVE})
_ALL = (frozenset(Capability) - RECIPE_CAPABILITIES - {Capability.MAX_INPUT_TOKENS}) | _PARSERS | _CACHE_ROPE


@dataclass(frozen=True)
class VllmVersion(EngineVersion):
    commit: str
    image: str
    max_lora_ranks: tuple[int, ...]
    default_max_lora_rank: int
    # Lowest compute capability of the kernel each spec quantization uses (get_min_capability).
    quant_min_sm: dict[str, float]
    # The API server's default max_num_batched_tokens by GPU (EngineArgs.get_batch_defaults):
    # (minimum total GiB, GPU name substring that is excluded, tokens); first match wins, else 2048.
    batch_token_tiers: tuple[tuple[float, str, int], ...] = ()
    # Flags users copy from older posts that this version rejects or ignores -> what to do instead.
    stale_flags: dict[str, str] = field(default_factory=dict)
    # --quantization value for fp8 quantization of a 16-bit checkpoint while loading.
    online_fp8: str = "fp8"
    # Formats vLLM runs on older GPUs through another kernel: format -> (native compute capability, what
    # it does below it, with the source).
    quant_fallback: dict[str, tuple[float, str]] = field(default_factory=dict)
    # Issue 20, item 4: the config key --hf-overrides sets for model.rope_scaling. 0.11.2 runs transformers 4.57
    # (rope_scaling beside rope_theta); 0.33 on run transformers v5, whose rope_parameters holds rope_theta too,
    # and ModelConfig._apply_dict_overrides (config/model.py: 0.33.0 :555, 0.34.0 :570) setattr()s a dict
    # override whole, so deployc writes rope_theta into it.
    rope_key: str = "rope_parameters"
    # ParallelConfig refuses --nnodes > 1 unless the executor backend is mp, and picks uni for one GPU per
    # data rank (0.11.2 config/parallel.py:591-602; 0.33.0 on also accept uni), so a one-GPU data rank
    # cannot run with --nnodes there.
    nnodes_needs_mp: bool = False

    def _tier(self, gpu_name: str, memory_gib: float) -> int | None:
        for min_gib, excluded, tokens in self.batch_token_tiers:
            if memory_gib >= min_gib and not (excluded and excluded in gpu_name.lower()):
                return tokens
        return None

    def default_batch_tokens(self, gpu_name: str, memory_gib: float) -> int:
        return self._tier(gpu_name, memory_gib) or 2048

    def default_max_seqs(self, gpu_name: str, memory_gib: float) -> int:
        """max_num_seqs: 1024 on the GPUs of the big batch tiers, else 256 (same function)."""
        return 1024 if self._tier(gpu_name, memory_gib) else 256


@dataclass(frozen=True)
class VllmMemory:
    """How one vLLM release sizes its KV cache: the data memory_model() hands compiler/memory.py.

    Keyed by the first release of each accounting in MEMORY, apart from VERSIONS: a release's
    accounting is read from its wheel (pip download --no-deps vllm==X) whether or not deployc
    writes artifacts for it yet, and benchmarks/plan_accuracy.py plans each truth-set run with
    the accounting of its own build (memory_of).
    """
    block_size: int             # CacheConfig.DEFAULT_BLOCK_SIZE
    token_report: str           # "groups": num_blocks // groups x block; "concurrency": int(concurrency x L)
    in_flight_batches: int      # batches a sliding window must also hold (max_concurrent_batches)
    graphs_in_budget: bool      # the CUDA-graph estimate is taken from the budget before the KV cache
    default_utilization: float  # gpu_memory_utilization when not given (deployc always gives it)
    non_torch_gib: float        # memory outside PyTorch on one GPU (CUDA context, cuBLAS)
    tp_overhead_gib: float      # more per GPU once tensor parallel >= 2 (NCCL, custom all-reduce buffers)
    cuda_graph_gib: float       # the CUDA-graph pool, when it is in the budget
    sampler_bytes: float        # per vocabulary entry per sequence in the profiling run's sampler pass
    source: str
    one_line: bool = False      # "GPU KV cache size: N tokens, Maximum concurrency for ..." on one line (0.28 on)
    act_mlp: float = 1.0        # prefill activations per token: act_mlp x 2 x intermediate / tp + act_hidden x hidden
    act_hidden: float = 6.0
    state_blocks: int = 1       # blocks one request takes in a linear-attention group (2: prefix caching's align mode)


# Constants (non_torch, tp_overhead, cuda_graph, sampler) are fitted on the truth set's calibration runs
# only (benchmarks/truth/, split.py); benchmarks/plan_accuracy.py reports the held-out error.
# benchmarks/calibrate.py, on the calibration runs of each era: V0 (0.5-0.7) and V1 (0.8 on).
# What the budget subtracts, from the source (0.33.0 v1/worker/gpu_worker.py:641-757
# determine_available_memory, utils/mem_utils.py:230-321 memory_profiling; the same structure at
# 0.11.2 and in the 0.19.0 logs of benchmarks/truth llmd-* runs): requested = total x utilization;
# KV = requested - (memory consumed since the worker's init snapshot, which is taken AFTER
# init_worker_distributed_environment, so the CUDA context and NCCL communicator setup are not
# counted) - the torch peak of profile_run above what stays allocated - the CUDA-graph estimate
# (0.21 on). The torch peak is the larger of the dummy forward pass (max_num_batched_tokens, sharded
# MLP) and the sampler pass over max_num_seqs rows of the full vocabulary, which every tensor rank
# holds (LogitsProcessor gathers with all_gather on CUDA): so it does not shrink with tensor
# parallelism (vLLM 0.19.0 prints 1.89 GiB for Llama-3.1-8B at TP 1, 2 and 4). What is consumed
# after the snapshot outside PyTorch includes the communicators' buffers allocated at first use;
# on NVLS boards (compiler/gpus.py) NCCL's NVLink SHARP buffers make that ~2.1 GiB per GPU at
# TP >= 2 against ~0.25 at TP 1, so tp_overhead_gib applies only there (compiler/memory.py).
# The fit below is calibrate.py's (tp_overhead grid to 2.25 GiB, NVLS boards only), the lowest
# mean calibration error of the candidates tried; it lands near vLLM's own printed breakdowns
# (sampler 16 B per vocabulary entry vs 14.8-16.2 printed; 0.8 + 1.5 GiB at TP >= 2 vs 2.07-2.13).
class _Fit(TypedDict):
    """The VllmMemory fields calibrate.py fits."""

    non_torch_gib: float
    tp_overhead_gib: float
    sampler_bytes: float
    act_mlp: float
    act_hidden: float


_FIT_V0: _Fit = {"non_torch_gib": 0.45, "tp_overhead_gib": 0.0, "sampler_bytes": 4.0, "act_mlp": 1.0, "act_hidden": 6.0}
_FIT: _Fit = {"non_torch_gib": 0.8, "tp_overhead_gib": 1.5, "sampler_bytes": 16.0, "act_mlp": 1.5, "act_hidden": 6.0}
_GRAPHS = 0.75
MEMORY: dict[str, VllmMemory] = {
    # V0 (vllm/worker/worker.py determine_num_available_blocks, 0.5-0.7): one block pool of 16-token blocks,
    # "# GPU blocks: N" (tokens = N x 16); profile_run samples max_num_seqs rows without the V1 sampler's sort.
    "0.5.0": VllmMemory(block_size=16, token_report="groups", in_flight_batches=1, graphs_in_budget=False,
                        default_utilization=0.9, cuda_graph_gib=0.0, source="vLLM V0 (0.5-0.7)", **_FIT_V0),
    # v1/core/kv_cache_utils.py:1202-1239 _report_kv_cache_config (tokens = num_blocks // groups x the
    # smallest block; vllm#40691 shows it still at 0.19.0), :773-791 get_max_concurrency_for_kv_cache_config;
    # v1/kv_cache_interface.py:220-241 SlidingWindowSpec (window - 1 + max_num_batched_tokens, + 1 block);
    # config/cache.py:50 gpu_memory_utilization 0.9; v1/worker/gpu_worker.py determine_available_memory:
    # CUDA graphs captured after the KV cache is sized (outside the budget); engine/arg_utils.py:1847
    # prefix caching off by default for hybrid models, so a linear-attention group takes one block.
    "0.8.0": VllmMemory(block_size=16, token_report="groups", in_flight_batches=1, graphs_in_budget=False,
                        default_utilization=0.9, cuda_graph_gib=0.0, source="vLLM V1 0.8-0.20 (as 0.11.2)", **_FIT),
    "0.11.2": VllmMemory(block_size=16, token_report="groups", in_flight_batches=1, graphs_in_budget=False,
                         default_utilization=0.9, cuda_graph_gib=0.0, source="vllm 0.11.2 (275de3417)", **_FIT),
    # v1/core/kv_cache_utils.py:1686-1710 _report_kv_cache_config: tokens = int(concurrency x max_model_len)
    # (vllm#40694); v1/worker/gpu_worker.py:401-423 the CUDA-graph estimate comes out of the budget;
    # config/cache.py:66 gpu_memory_utilization 0.92; kv_cache_interface.py:390-409 still one batch in flight;
    # engine/arg_utils.py:2304 prefix caching on by default where supported, hybrid models included, which
    # puts Mamba-style layers in "align" mode (model_executor/models/config.py MambaModelConfig): a request
    # holds 2 state blocks per linear-attention group (kv_cache_interface.py MambaSpec.max_memory_usage_bytes).
    "0.21.0": VllmMemory(block_size=16, token_report="concurrency", in_flight_batches=1, graphs_in_budget=True,
                         default_utilization=0.92, cuda_graph_gib=_GRAPHS, source="vllm 0.21.0 (gad7125a43)",
                         state_blocks=2, **_FIT),
    # kv_cache_interface.py:503-517 sliding and chunked windows hold max_in_flight_tokens =
    # max_concurrent_batches x max_num_batched_tokens (config/vllm.py: 2 with async scheduling, on by
    # default); the truth set's Gemma 4 runs show one batch at 0.25.1 and two at 0.29.0.
    "0.26.0": VllmMemory(block_size=16, token_report="concurrency", in_flight_batches=2, graphs_in_budget=True,
                         default_utilization=0.92, cuda_graph_gib=_GRAPHS, source="vllm 0.26.0 (gffd46bfab)",
                         state_blocks=2, **_FIT),
    # The same accounting; the token and concurrency figures share one line (kv_cache_utils.py:1861-1875).
    "0.28.0": VllmMemory(block_size=16, token_report="concurrency", in_flight_batches=2, graphs_in_budget=True,
                         default_utilization=0.92, cuda_graph_gib=_GRAPHS, source="vllm 0.28.0 (g2cf0a6915)",
                         state_blocks=2, one_line=True, **_FIT),
    # The same accounting: kv_cache_utils.py:1120-1156 get_kv_cache_capacity, 1136-1156 the one-line report; kv_cache_interface.py:901-966
    # SlidingWindowSpec; config/vllm.py:587-609 max_concurrent_batches; config/cache.py:185 block 16;
    # v1/worker/gpu_worker.py:707-757 the CUDA-graph estimate in the budget.
    "0.33.0": VllmMemory(block_size=16, token_report="concurrency", in_flight_batches=2, graphs_in_budget=True,
                         default_utilization=0.92, cuda_graph_gib=_GRAPHS, source="vllm 0.33.0 (4ba787ec9)",
                         state_blocks=2, one_line=True, **_FIT),
    # config/cache.py:185-186 DEFAULT_BLOCK_SIZE 64, gpu_memory_utilization 1.0 with the extensible KV cache
    # (0.92 without); v1/worker/extensible_kv_cache.py:592-618 measure_kv_cache_bytes: the cache is sized
    # after warmup and graph capture from measured memory within the budget, keeping the activation peak
    # and KV_CACHE_NON_TORCH_RESERVE_BYTES (:71, 512 MiB on CUDA) free.
    "0.34.0": VllmMemory(block_size=64, token_report="concurrency", in_flight_batches=2, graphs_in_budget=True,
                         default_utilization=1.0, cuda_graph_gib=_GRAPHS, source="vllm 0.34.0 (g62d4bc3c7)",
                         non_torch_gib=_FIT["non_torch_gib"] + 0.5, tp_overhead_gib=_FIT["tp_overhead_gib"],
                         sampler_bytes=_FIT["sampler_bytes"], act_mlp=_FIT["act_mlp"], act_hidden=_FIT["act_hidden"],
                         state_blocks=2, one_line=True),
}

# How vLLM prints the figures (gpu_worker.py determine_available_memory, kv_cache_utils.py
# _report_kv_cache_config / update_kv_cache_capacity, gpu_model_runner.py load_model), and where a
# startup log has them, V0's lines and a failed start's error included (compiler/memory_report.py).
LOG_FIELDS: tuple[tuple[str, str], ...] = (
    ("tokens", r"KV cache size:\s+([\d,]+) tokens"),
    ("tokens", r"stored in KV cache \(([\d,]+)\)"),
    ("blocks", r"# GPU blocks: (\d+)"),
    ("concurrency", r"Maximum concurrency for [\d,]+ tokens per request: ([\d.]+)x"),
    ("max_model_len", r"Maximum concurrency for ([\d,]+) tokens per request"),
    ("max_model_len", r"max seq len \((\d+)\)"),
    ("kv_gib", r"Available KV cache memory: ([\d.]+) GiB"),
    ("kv_gib", r"available KV cache memory \(([\d.]+) GiB\)"),
    ("kv_gib", r"kv_cache_size=([\d.]+)GiB"),
    ("weights_gib", r"(?:Model loading|Loading model weights) took ([\d.]+) G"),
)


def report_lines(m: VllmMemory) -> tuple[str, ...]:
    tokens = "GPU KV cache size: {tokens:,} tokens"
    conc = "Maximum concurrency for {max_model_len:,} tokens per request: {concurrency:.2f}x"
    return ("Model loading took {weights_gib:.2f} GiB memory", "Available KV cache memory: {kv_gib:.2f} GiB",
            *((f"{tokens}, {conc}",) if m.one_line else (tokens, conc)))


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("+")[0].split(".")[:3] if x.isdigit())


def memory_of(version: str) -> VllmMemory:
    """The accounting of a release: the newest MEMORY entry at or before it (the oldest for older builds)."""
    older = [v for v in MEMORY if _key(v) <= _key(version)]
    return MEMORY[max(older, key=_key)] if older else MEMORY[min(MEMORY, key=_key)]


_STALE_COMMON = {
    "--preemption-mode": "removed before 0.11; vLLM V1 always recomputes",
    "--max-seq-len-to-capture": "removed; CUDA graph sizes come from --compilation-config",
    "--disable-log-requests": "request logging is off by default; this flag is deprecated (0.11) or inverted (0.33)",
    "-O": "means --compilation-config mode in 0.11 and --optimization-level in 0.33: spell the long option",
    # vllm#28006 (first released in 0.11.1) removed both; the model's config.json, or --hf-overrides, sets them
    "--rope-scaling": "removed in 0.11.1 (vllm#28006); set rope_scaling in the model's config.json or pass "
                      "--hf-overrides '{\"rope_scaling\": {...}}'",
    "--rope-theta": "removed in 0.11.1 (vllm#28006); set rope_theta in the model's config.json or pass "
                    "--hf-overrides '{\"rope_theta\": ...}'",
}

# Removed in 0.33 (and still gone in 0.34).
_STALE_SINCE_033 = {**_STALE_COMMON,
                    "--task": "removed; use --runner pooling or --convert embed|classify|reward",
                    "--guided-decoding-backend": "removed; use --structured-outputs-config.backend",
                    "--swap-space": "removed in 0.33",
                    "--cuda-graph-sizes": "removed; use --compilation-config",
                    "--num-lookahead-slots": "removed in 0.33",
                    "--lora-extra-vocab-size": "removed in 0.33"}

VERSIONS: dict[str, VllmVersion] = {
    "0.34.0": VllmVersion(
        version="0.34.0",
        commit="62d4bc3c7",
        image="vllm/vllm-openai:v0.34.0",
        # bitsandbytes and GGUF are still out-of-tree plugins (neither in QUANTIZATION_METHODS,
        # vllm/model_executor/layers/quantization/__init__.py:15-50; fp_quant left, w4afp8, lut_b_moe and
        # mxfp4_hadamard32 joined).
        capabilities=_ALL - {Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF},
        max_lora_ranks=(1, 8, 16, 32, 64, 128, 256, 320, 512),   # vllm/config/lora.py:26
        default_max_lora_rank=16,                                  # vllm/config/lora.py:33
        # vllm/engine/arg_utils.py get_batch_defaults: unchanged from 0.33.0
        batch_token_tiers=((160, "", 16384), (70, "a100", 8192)),
        quant_min_sm={"fp8": 7.5,   # quantization/fp8.py:144
                      "awq": 7.5,   # quantization/auto_awq.py:236
                      "gptq": 6.0,  # quantization/auto_gptq.py:191
                      "nvfp4": 7.5,  # quantization/modelopt.py:795-796 ModelOptNvFp4Config (modelopt_fp4)
                      "mxfp4": 8.0},  # quantization/mxfp4.py:72-73
        quant_fallback={
            "fp8": (8.9, "it runs FP8 weights weight-only through Marlin, activations 16-bit (quantization/fp8.py "
                         "MarlinFP8ScaledMMLinearKernel; utils/marlin_utils_fp8.py is_fp8_marlin_supported, cc 7.5+)"),
            "nvfp4": (10.0, "it runs NVFP4 weights through Marlin W4A16, activations 16-bit (utils/"
                            "marlin_utils_fp4.py:32-33 is_fp4_marlin_supported, cc 7.5+)")},
        stale_flags=_STALE_SINCE_033,
        online_fp8="fp8_per_tensor",   # model_loader/weight_utils.py:385-387
        # Its memory accounting (block size 64, extensible KV cache): MEMORY["0.34.0"] above.
    ),
    "0.33.0": VllmVersion(
        version="0.33.0",
        commit="4ba787ec9",
        image="vllm/vllm-openai:v0.33.0",
        # bitsandbytes and GGUF left vLLM core for out-of-tree plugins that the official image
        # does not install (docs/features/quantization/bnb.md, gguf.md; docker/Dockerfile:974-984;
        # neither is in QUANTIZATION_METHODS, vllm/model_executor/layers/quantization/__init__.py:15-49).
        capabilities=_ALL - {Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF},
        max_lora_ranks=(1, 8, 16, 32, 64, 128, 256, 320, 512),
        default_max_lora_rank=16,
        # vllm/engine/arg_utils.py:2940-3006 (GB10, cc 12.1, stays on the small tier: not in the catalog)
        batch_token_tiers=((160, "", 16384), (70, "a100", 8192)),
        quant_min_sm={"fp8": 7.5,   # quantization/fp8.py:147
                      "awq": 7.5,   # quantization/auto_awq.py:234
                      "gptq": 6.0,  # quantization/auto_gptq.py:183
                      "nvfp4": 7.5,  # quantization/modelopt.py:772-773 ModelOptNvFp4Config (modelopt_fp4)
                      "mxfp4": 8.0},  # quantization/mxfp4.py:71-72
        quant_fallback={
            "fp8": (8.9, "it runs FP8 weights weight-only through Marlin, activations 16-bit (quantization/fp8.py:"
                         "247-248; utils/marlin_utils_fp8.py:30-31 is_fp8_marlin_supported, cc 7.5+)"),
            "nvfp4": (10.0, "it runs NVFP4 weights through Marlin W4A16, activations 16-bit (utils/"
                            "marlin_utils_fp4.py:34-35 is_fp4_marlin_supported, cc 7.5+)")},
        stale_flags=_STALE_SINCE_033,
        # model_loader/weight_utils.py:356-362: `fp8` on a 16-bit checkpoint is deprecated for this
        # (quantization/fp8.py:106-111); quantization/__init__.py:43 lists fp8_per_tensor.
        online_fp8="fp8_per_tensor",
    ),
    "0.11.2": VllmVersion(
        version="0.11.2",
        commit="275de34170654274616082721348b7edd9741d32",
        image="vllm/vllm-openai:v0.11.2",
        capabilities=_ALL,
        max_lora_ranks=(1, 8, 16, 32, 64, 128, 256, 320, 512),
        default_max_lora_rank=16,
        batch_token_tiers=((70, "a100", 8192),),  # vllm/engine/arg_utils.py:1864-1910
        quant_min_sm={"fp8": 8.0,   # quantization/fp8.py:231
                      "awq": 7.5,   # quantization/awq.py:75 (awq_marlin needs 8.0 and falls back)
                      "gptq": 6.0,  # quantization/gptq.py:136
                      "bitsandbytes": 7.0,  # quantization/bitsandbytes.py:85
                      "nvfp4": 8.0,  # quantization/modelopt.py:719-720 ModelOptNvFp4Config (modelopt_fp4)
                      "mxfp4": 8.0},  # quantization/mxfp4.py:166-167
        quant_fallback={
            "fp8": (8.9, "it runs FP8 weights weight-only through Marlin, activations 16-bit (quantization/fp8.py "
                         "use_marlin; utils/marlin_utils_fp8.py)"),
            "nvfp4": (10.0, "it runs NVFP4 weights through Marlin W4A16, activations 16-bit (utils/"
                            "marlin_utils_fp4.py:24-25 is_fp4_marlin_supported, cc 8.0+)")},
        nnodes_needs_mp=True,
        rope_key="rope_scaling",   # transformers 4.57.6 in its image; config/model.py:2000 _get_and_verify_max_len
        stale_flags={**_STALE_COMMON,
                     "--task": "deprecated in 0.11; use --runner / --convert",
                     "--guided-decoding-backend": "deprecated; use --structured-outputs-config.backend"},
    ),
}
