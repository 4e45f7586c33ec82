"""What differs between the SGLang versions deployc writes for: data, not if-statements.

Read from SGLang's own release artifacts on PyPI (the wheel of each version, whose
sglang/ tree is the released python/sglang/ source; the 1.2 GB git mirror was too big to
fetch here) and checked against the real parser of each version (tests/conformance:
sglang.srt.server_args.prepare_server_args, as launch_server calls it).

  0.5.23        wheel sglang-0.5.23-cp311-cp311-manylinux_2_34_x86_64.whl, sha256
                00b3cd5b265ac76c64185fbb6b95424f324ddd9f428d0306b77bc9db9d859937;
                sglang/_version.py says 0.5.23 and commit_id None: the wheel names no commit,
                so the release is pinned by its PyPI file's hash, not by a git SHA.
  0.4.10.post2  wheel sglang-0.4.10.post2-py3-none-any.whl, sha256
                ca31b6d33d8b770b1e6d0271be855002c5333304fb440c412b43dbdc56be0a22;
                sglang/version.py "0.4.10.post2" (no commit recorded either).

Flags, both versions (0.4.10.post2: python/sglang/srt/server_args.py ServerArgs.add_cli_args,
line numbers below; 0.5.23: the ServerArgs dataclass fields in
python/sglang/srt/arg_groups/fields/*.py, turned into options by
arg_groups/arg_utils.py add_cli_args_from_dataclass, field name `x_y` -> `--x-y`):
- --model-path (alias --model)             0.4: :632   0.5: fields/model.py model_path
- --tokenizer-path                         0.4: :639   0.5: fields/serving.py tokenizer_path
- --trust-remote-code, --context-length, --revision   0.4: :699, :704, :721   0.5: fields/model.py
- --host (default 127.0.0.1), --port (default 30000)  0.4: :743, :749   0.5: fields/serving.py:65-66
- --dtype auto|half|float16|bfloat16|float|float32    0.4: :775   0.5: fields/model.py dtype
- --quantization (awq, fp8, gptq, ..., bitsandbytes, gguf)   0.4: :789   0.5: arg_groups/choices.py
  QUANTIZATION_CHOICES; pre-quantized checkpoints are recognised from config.json's
  quantization_config, so awq/gptq/int8/int4 need no flag.
- --kv-cache-dtype auto|fp8_e5m2|fp8_e4m3 (0.4: :822); 0.5 adds mxfp8, bf16, nvfp4, ...
  (fields/model.py kv_cache_dtype). No plain "fp8": see KV_FP8 below.
- --mem-fraction-static, --max-running-requests, --chunked-prefill-size
  0.4: :831, :837, :856   0.5: fields/schedule.py:27-52 ("model weights and KV cache memory pool")
- --tp-size / --pp-size / --dp-size (and their --tensor-/--pipeline-/--data-parallel-size
  aliases)   0.4: :925, :933, :1161   0.5: fields/parallel.py tp_size, pp_size, dp_size
- --api-key, --served-model-name, --chat-template   0.4: :1099, :1105, :1111
  0.5: fields/serving.py api_key, served_model_name, chat_template. SGLang reads no
  environment variable for the API key (0.5.23 sglang/srt/environ.py has none), so the key
  must be on the command line; /health stays open without it (0.4: srt/utils.py:972
  add_api_key_middleware; 0.5: srt/utils/auth.py, paths starting with /health).
- --enable-lora, --lora-paths NAME=PATH ..., --max-loras-per-batch (default 8, "include
  base-only request")   0.4: :1207, :1229, :1237   0.5: fields/lora.py:34-69
- Both parsers are plain argparse.ArgumentParser() (allow_abbrev left True), so any unique
  prefix of a long option is accepted: 0.4 prepare_server_args :2094, 0.5 server_args.py:679.
- GET /health: 0.4 srt/entrypoints/http_server.py:233, 0.5 :721.

Entry points:
- 0.4.10.post2 has only `python3 -m sglang.launch_server` (sglang/launch_server.py).
- 0.5.23 has the `sglang` console script (entry_points.txt: sglang = sglang.cli.main:main);
  `python -m sglang.launch_server` warns that `sglang serve` is the recommended entrypoint
  (launch_server.py __main__). `sglang serve` first guesses the backend (LLM or diffusion)
  by downloading model_index.json from the hub (sglang/cli/utils.py get_is_diffusion_model);
  deployc passes `--model-type llm`, which sglang/cli/serve.py _extract_model_type_override
  removes from argv before the LLM parser sees it, so startup does no such probe.

Images: lmsysorg/sglang. The 0.5-era release workflow (.github/workflows/release-docker.yml at
64ec4f88e1ee38fff05d2df5987f2f995c995828) publishes v<version>-cu129-{amd64,arm64} and the
multi-arch manifest v<version>; the 0.4-era workflow tagged v<version>-<cuda tag>
(tag=v${version}-${cuda_tag}, release-docker.yml at 01d2a3d0d57bc35da92de3833d72412c0b448210),
and v0.4.10 was consumed as -cu126. Images run as root (HF cache /root/.cache/huggingface) and
set no entrypoint of their own; SGLang's docker/compose.yaml (0b082f520802a6bb644b73ea5a3bccf61244836f)
sets `entrypoint: python3 -m sglang.launch_server`, ipc: host, a healthcheck on /health.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deployc.compiler.api import RECIPE_CAPABILITIES, Capability, EngineVersion

# Prompt-length limits: SGLang rejects a prompt of context_length tokens or more, nothing shorter.
# Issue 20, item 3, stated explicitly: both pinned versions take --tool-call-parser and --reasoning-parser
# (engine_options/<version>.json; targets/sglang/parsers.py).
_PARSERS = frozenset({Capability.TOOL_PARSER, Capability.REASONING_PARSER})
# Issue 20, item 4, both versions: --disable-radix-cache (prefix caching is on by default: ServerArgs
# disable_radix_cache False), --chunked-prefill-size -1 with --max-prefill-tokens (chunking off),
# --json-model-override-args (rope scaling), --max-loras-per-batch. Multimodal items per request
# (--limit-mm-data-per-request) only in 0.5.23 (arg_groups/fields/mm.py).
_CACHE_ROPE = frozenset({Capability.PREFIX_CACHING, Capability.CHUNKED_PREFILL, Capability.ROPE_SCALING,
                         Capability.MAX_LORAS,
                         # item 2: --speculative-algorithm and its numbers (methods per version: options.py)
                         Capability.SPECULATIVE})
_ALL = (frozenset(Capability) - RECIPE_CAPABILITIES - {Capability.MAX_INPUT_TOKENS}) | _PARSERS | _CACHE_ROPE

# Spec kv_cache_dtype fp8 -> SGLang's spelling. fp8_e4m3 is what vLLM's "fp8" means on CUDA
# (its cache docs: fp8 and fp8_e4m3 are the same) and the format FP8 checkpoints ship KV
# scales for; e5m2 trades mantissa for range and is the less accurate choice.
KV_FP8 = "fp8_e4m3"


@dataclass(frozen=True)
class SglangMemory:
    """How one SGLang release sizes its KV pool (memory_model() hands this to compiler/memory.py).

    The pool is mem_fraction_static x the memory free before the weights load, minus the weights
    (0.4.10.post2 srt/model_executor/model_runner.py:955-990 profile_max_num_token: rest =
    free now - free at start x (1 - mem_fraction_static); 0.5.23
    srt/mem_cache/kv_cache_configurator.py:2990-3060 _profile_available_bytes, the same slack).
    Full-attention (or MLA) layers share one token pool; sliding-window layers get their own,
    swa_full_tokens_ratio times as many tokens (0.4.10.post2 model_runner.py:1049-1070,
    0.5.23 model_executor/pool_configurator.py:786-895), the default 0.8 (0.4 server_args.py:88,
    0.5 arg_groups/fields/schedule.py:150-162). Post-capture KV resizing, which would take CUDA graphs
    out of the pool, is off unless SGLANG_ENABLE_POST_CAPTURE_KV_SIZING is set (0.5.23 environ.py:640).
    """
    startup_gib: float          # gone before the free-memory baseline: the CUDA context (not fitted, see below)
    swa_full_ratio: float       # swa_full_tokens_ratio
    auto_rule: str              # which automatic mem_fraction_static rule applies (auto_mem_fraction)
    mamba_full_ratio: float | None = None   # linear-attention state pool (compiler/memory_kv.py StatePool);
                                            # None: the release has no hybrid linear-attention models
    dsa_fp8_kv_sm: int | None = None        # DSA_ARCHS with --kv-cache-dtype auto: fp8_e4m3 from this SM major
                                            # (None: the release predates DeepSeek's sparse attention)


# startup_gib is not fitted: the one calibration run SGLang's plan can be checked on (Qwen3-235B-FP8 on
# 4 x H100) prints neither its weights nor its free memory at start; 0.5 GiB is the CUDA context and
# cuBLAS workspace a process holds before it allocates anything.
MEMORY: dict[str, SglangMemory] = {
    "0.4.10.post2": SglangMemory(startup_gib=0.5, swa_full_ratio=0.8, auto_rule="0.4"),
    "0.5.23": SglangMemory(startup_gib=0.5, swa_full_ratio=0.8, auto_rule="0.5", mamba_full_ratio=0.9,
                           dsa_fp8_kv_sm=10),
}

# The Gated DeltaNet / KDA architectures whose radix cache keeps an extra state buffer under overlap
# scheduling (the default), two more state slots per running request (0.5.23 arg_groups/overrides.py
# _MAMBA_EXTRA_BUFFER_ARCHS and _mamba_radix_cache_resolution; allocation_sizing.py get_mamba_tracking_slots).
MAMBA_EXTRA_BUFFER_ARCHS = frozenset({
    "KimiLinearForCausalLM", "Qwen3_5ForConditionalGeneration", "Qwen3_5MoeForConditionalGeneration",
    "Qwen3_5MoeForCausalLM", "Qwen3_5ForCausalLM", "Qwen3NextForCausalLM"})

# DeepSeek sparse attention (DSA) models whose KV cache SGLang stores as fp8_e4m3 by itself on Blackwell
# (SM >= 10) when --kv-cache-dtype is auto, bfloat16 below (0.5.23 arg_groups/overrides.py
# _dsa_kv_cache_dtype_default: architectures in _DEEPSEEK_FAMILY_ARCHS that configs/model_config.py
# is_deepseek_dsa accepts, i.e. with index_topk; not with learnable attention sinks). fp8 on SM >= 10
# then picks the trtllm DSA backends (_dsa_split_backend_resolution), whose cache rows are the raw
# latent, kv_lora_rank + qk_rope_head_dim bytes (kv_cache_configurator.py calculate_mla_kv_cache_dim).
DSA_ARCHS = frozenset({
    "DeepseekV3ForCausalLM", "DeepseekV32ForCausalLM", "MistralLarge3ForCausalLM",
    "PixtralForConditionalGeneration", "GlmMoeDsaForCausalLM", "Glm5NextForConditionalGeneration",
    "HYV4ForCausalLM", "HYV4ForCausalLMNextN", "LongcatFlashForCausalLM", "LongcatFlashForCausalLMNextN",
    "Dots3NoteForCausalLM"})

# --speculative-num-draft-tokens SGLang picks when the spec leaves num_tokens unset (0.5.23
# arg_groups/speculative_hook.py:1430-1461 _auto_choose_speculative_params: (5, 4, 8) for Llama and Grok,
# (3, 1, 4) for every other architecture).
AUTO_DRAFT_TOKENS = {"LlamaForCausalLM": 8, "Grok1ForCausalLM": 8, "Grok1VForCausalLM": 8}
DEFAULT_DRAFT_TOKENS = 4


# How SGLang prints the pool (0.4.10.post2 mem_cache/memory_pool.py:211 and :774, 0.5.23 :2087-2098;
# managers/scheduler.py max_total_num_tokens) and where a startup log has it (compiler/memory_report.py).
REPORT = ("KV Cache is allocated. #tokens: {tokens}, K size: {k_gib:.2f} GB, V size: {v_gib:.2f} GB",
          "max_total_num_tokens={tokens}, context_len={max_model_len}")
LOG_FIELDS: tuple[tuple[str, str], ...] = (
    ("tokens", r"#tokens: (\d+)"),
    ("tokens", r"max_total_num_tokens=(\d+)"),
    ("k_gib", r"\bK size: ([\d.]+) GB"),
    ("v_gib", r"(?<!K)V size: ([\d.]+) GB"),
    ("kv_gib", r"KV size: ([\d.]+) GB"),
    ("weights_gib", r"Load weight end\..*?mem usage=([\d.]+) GB"),
    ("max_model_len", r"context_len=(\d+)"),
)


# With speculative decoding and no --max-running-requests, SGLang caps running requests at 48: 0.5.23
# arg_groups/speculative_hook.py:1086-1094 (_handle_eagle_family: EAGLE, EAGLE3, NEXTN, STANDALONE) and :1294-1302
# (_handle_ngram); 0.4.10.post2 server_args.py:534-536 (EAGLE, EAGLE3; NEXTN is EAGLE). Decode CUDA graphs are then
# captured only up to that many requests: the capture list is clamped to req_to_token_pool.size (0.5.23
# model_executor/runner/base_cuda_graph_runner.py:65-101 get_batch_sizes_to_capture; 0.4.10.post2
# model_executor/cuda_graph_runner.py:160-208), in 0.5.23 with finer steps for
# speculative decoding (arg_groups/cuda_graph_hook.py:500-533 generate_decode_cuda_graph_batch_sizes).
SPECULATIVE_RUNNING_REQUESTS = 48


def auto_mem_fraction(rule: str, gpu_mib: float, tp: int, pp: int, chunk: int | None,
                      speculative: bool = False) -> float:
    """What SGLang picks for mem_fraction_static when none is given.

    0.4: 0.4.10.post2 server_args.py:310-351, reserved memory by GPU size: under 35 GiB
    (2.8 + tp x pp / 10) GiB, under 90 GiB (9.5 + tp x pp / 2), under 160 GiB (12 + tp x pp / 2),
    else 32 GiB, and 2 GiB more with speculative decoding ("draft model and larger cuda graph buffers",
    server_args.py:343-345). 0.5: 0.5.23 arg_groups/memory_hook.py:291-325, 512 MiB + 1.5 MiB per prefill-chunk
    token (at least 2048) + tp x pp / 8 GiB, at least 10 GiB on GPUs over 60 GiB; its CUDA-graph and
    vision-model adjustments are left out here. mem_fraction_static = (gpu - reserved) / gpu.
    """
    n = tp * pp
    if rule == "0.4":
        if gpu_mib < 35 * 1024:
            reserved = (2.8 + n / 10) * 1024
        elif gpu_mib < 90 * 1024:
            reserved = (9.5 + n / 2) * 1024
        elif gpu_mib < 160 * 1024:
            reserved = (12 + n / 2) * 1024
        else:
            reserved = 32 * 1024
        if speculative:
            reserved += 2 * 1024
    else:
        reserved = 512 + max(chunk or 2048, 2048) * 1.5 + n / 8 * 1024
        if gpu_mib > 60 * 1024:
            reserved = max(reserved, 10 * 1024)
    return round((gpu_mib - reserved) / gpu_mib, 3)


@dataclass(frozen=True)
class SglangVersion(EngineVersion):
    source: str                 # the release artifact read (see the module docstring)
    image: str
    launcher: tuple[str, ...]   # argv before the server options
    default_max_loras_per_batch: int = 8
    # Lowest compute capability of each weight format's kernels (get_min_capability), and formats run
    # through another kernel below their native capability: format -> (native capability, what SGLang does).
    quant_min_sm: dict[str, float] = field(default_factory=dict)
    quant_fallback: dict[str, tuple[float, str]] = field(default_factory=dict)


VERSIONS: dict[str, SglangVersion] = {
    "0.5.23": SglangVersion(
        version="0.5.23",
        source="sglang-0.5.23-cp311-cp311-manylinux_2_34_x86_64.whl sha256:00b3cd5b265ac76c"
               "64185fbb6b95424f324ddd9f428d0306b77bc9db9d859937",
        image="lmsysorg/sglang:v0.5.23",
        launcher=("sglang", "serve", "--model-type", "llm"),
        # No server-wide cap on a request's max_tokens (no --override-generation-config
        # counterpart; fields/serving.py sampling_defaults only picks defaults); GGUF and
        # bitsandbytes need --load-format as well and are not lowered by deployc yet.
        # mxfp4 and nvfp4: srt/layers/quantization/__init__.py registers mxfp4 (:155) and modelopt_fp4 (:70).
        capabilities=(_ALL - {Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_GGUF,
                              Capability.QUANT_BITSANDBYTES}) | {Capability.MM_PER_PROMPT},
        quant_min_sm={"fp8": 8.0,     # srt/layers/quantization/fp8.py:339
                      "nvfp4": 8.0,   # modelopt_quant.py:1549-1550 ModelOptFp4Config
                      "mxfp4": 8.0},  # mxfp4.py:338-339
        quant_fallback={
            "fp8": (8.9, "it runs FP8 weights weight-only through Marlin (fp8_utils.py:2794-2798 "
                         "can_auto_enable_marlin_fp8, cc 8.0-8.8)"),
            "nvfp4": (10.0, "its --fp4-gemm-backend auto picks Marlin W4A16 (fp4_utils.py:154-158, cc 8.0-9.x; "
                            "modelopt_quant.py:1919-1928)")},
    ),
    "0.4.10.post2": SglangVersion(
        version="0.4.10.post2",
        source="sglang-0.4.10.post2-py3-none-any.whl sha256:ca31b6d33d8b770b1e6d0271be855002"
               "c5333304fb440c412b43dbdc56be0a22",
        image="lmsysorg/sglang:v0.4.10.post2-cu126",
        launcher=("python3", "-m", "sglang.launch_server"),
        # No mxfp4 method (srt/layers/quantization/__init__.py lists none); modelopt_fp4 only on Blackwell.
        capabilities=_ALL - {Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_GGUF,
                             Capability.QUANT_BITSANDBYTES, Capability.QUANT_MXFP4},
        quant_min_sm={"fp8": 8.0,      # srt/layers/quantization/fp8.py:151-152
                      "nvfp4": 10.0},  # modelopt_quant.py:474-475 ModelOptFp4Config
    ),
}
