"""What differs between the vLLM versions deployc writes for: data, not if-statements.

Read from vLLM's own release artifacts (the PyPI sdist/wheel of each version,
whose vllm/ tree is the tagged source) and checked against the real `vllm serve`
parser of each version (tests/conformance). Line references are to those files.

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

from compiler.target_api import Capability

_ALL = frozenset(Capability)


@dataclass(frozen=True)
class VllmVersion:
    version: str
    commit: str
    image: str
    capabilities: frozenset[Capability]
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
    # Memory the profiler charges besides weights and activations, per GPU (compiler/memory.py):
    # non-torch (CUDA context, NCCL, cuBLAS) and the CUDA-graph estimate where the budget includes it.
    # Logged non_torch_memory: 0.35 GiB on one GPU (vllm#10517), 0.30 and 0.25 GiB per GPU at TP2
    # (vllm#15815, vllm#13061): calibrated in benchmarks/plan_accuracy.py.
    non_torch_gib: float = 0.3
    cuda_graph_gib: float = 0.0

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


_STALE_COMMON = {
    "--preemption-mode": "removed before 0.11; vLLM V1 always recomputes",
    "--max-seq-len-to-capture": "removed; CUDA graph sizes come from --compilation-config",
    "--disable-log-requests": "request logging is off by default; this flag is deprecated (0.11) or inverted (0.33)",
    "-O": "means --compilation-config mode in 0.11 and --optimization-level in 0.33: spell the long option",
}

VERSIONS: dict[str, VllmVersion] = {
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
                      "gptq": 6.0},  # quantization/auto_gptq.py:183
        stale_flags={**_STALE_COMMON,
                     "--task": "removed; use --runner pooling or --convert embed|classify|reward",
                     "--guided-decoding-backend": "removed; use --structured-outputs-config.backend",
                     "--swap-space": "removed in 0.33",
                     "--cuda-graph-sizes": "removed; use --compilation-config",
                     "--num-lookahead-slots": "removed in 0.33",
                     "--lora-extra-vocab-size": "removed in 0.33"},
        # model_loader/weight_utils.py:356-362: `fp8` on a 16-bit checkpoint is deprecated for this
        # (quantization/fp8.py:106-111); quantization/__init__.py:43 lists fp8_per_tensor.
        online_fp8="fp8_per_tensor",
        # v1/worker/gpu_worker.py:707-757: the CUDA-graph estimate is taken from the budget by
        # default since 0.21 (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS).
        # 0.25 GiB: what the 0.28 startups in benchmarks/plan_cases.json leave after weights, KV and activations.
        cuda_graph_gib=0.25,
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
                      "bitsandbytes": 7.0},  # quantization/bitsandbytes.py:85
        stale_flags={**_STALE_COMMON,
                     "--task": "deprecated in 0.11; use --runner / --convert",
                     "--guided-decoding-backend": "deprecated; use --structured-outputs-config.backend"},
    ),
}
