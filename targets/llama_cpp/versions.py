"""The llama.cpp builds deployc writes for (b-tags): data, not if-statements.

Each build is the llama.cpp tree a PyPI llama-cpp-python sdist vendors (vendor/llama.cpp); the
option tables (engine_options/b<N>.json) are extracted from that tree's common/arg.cpp by
conformance/extract/llama_cpp.py and name the commit and the sdist's sha256.

  b10454  ggml-org/llama.cpp 4df29be4f4c3673f428170fda944a5b19f743bb8, vendored by
          llama-cpp-python 0.3.35 (CHANGELOG "update llama.cpp to ggml-org/llama.cpp@4df29be4f"; the
          full commit is the vendor/llama.cpp submodule pointer at the v0.3.35 tag). The conformance
          tier builds its llama-server for CPU and serves a model with it end to end.
  b9976   ggml-org/llama.cpp e3546c7948e3af463d0b401e6421d5a4c2faf565, vendored by llama-cpp-python
          0.3.34 (CHANGELOG "update llama.cpp to ggml-org/llama.cpp@e3546c794").
A source tree does not carry its build number (cmake/build-info.cmake counts git commits); the
b-numbers were read from what those builds print (`llama-server --version`: "version: 9976
(e3546c794)") as reported by their users, and the tier passes the number to cmake.

Facts both builds share, from their source (tools/server/server.cpp, src/llama-context.cpp,
common/arg.cpp; line numbers of b10454):
- Context and slots. -np/--parallel defaults to -1, "auto": 4 slots over ONE unified KV cache of -c
  tokens (server.cpp:151-156 sets n_parallel = 4, kv_unified = true). With an explicit -np N and no
  --kv-unified, the cache is split: each slot gets n_ctx / N tokens, rounded up to a multiple of 256
  (llama-context.cpp:288-303 GGML_PAD(n_ctx, 256), n_ctx_seq = n_ctx / n_seq_max, padded again), and a
  request longer than its slot is refused. -c 0 means the model's training context, and a slot is
  never longer than that (server-context.cpp n_ctx_slot capped at n_ctx_train).
- -ngl/--gpu-layers takes a number, `auto` (the default: fit what the GPUs hold) or `all`;
  --fit on (default) adjusts only what the command line leaves unset (arg.cpp:2744-2836).
- -sm/--split-mode none|layer|row|tensor (layer: the default, pipelined; row: weights split by rows
  over the GPUs); -ts/--tensor-split sets proportions (default: by free memory).
- -ctk/-ctv: f32 f16 bf16 q8_0 q4_0 q4_1 iq4_nl q5_0 q5_1 (kv_cache_types).
- LLAMA_API_KEY is read for --api-key (.set_env), like every LLAMA_ARG_* variable for its option;
  the command line overrides the environment. -a/--alias splits on commas.
- -n/--predict is only the default for requests that set no max_tokens (server-context.cpp:1751 "the
  per-request limit takes priority"): no server-wide output cap.
- -hf <user>/<model>[:quant] downloads into the Hugging Face cache (LLAMA_CACHE first,
  common/hf-cache.cpp); it has no revision.
- Images ghcr.io/ggml-org/llama.cpp:server-<variant>-b<N>, variants cuda (CUDA 12.8), cuda13, rocm,
  vulkan, cpu (.github/workflows/docker.yml matrix; .devops/cuda.Dockerfile: ENTRYPOINT
  /app/llama-server, ENV LLAMA_ARG_HOST=0.0.0.0, HEALTHCHECK curl -f http://localhost:8080/health; the
  image has curl and no python3). GET /health needs no API key.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployc.compiler.api import Capability, EngineVersion

_CAPS = frozenset({
    Capability.TENSOR_PARALLEL, Capability.PIPELINE_PARALLEL, Capability.CHAT_TEMPLATE, Capability.API_KEY,
    Capability.KV_CACHE_FP8, Capability.MAX_CONCURRENCY, Capability.MAX_BATCH_TOKENS, Capability.QUANT_GGUF,
    Capability.AMD_GPU,
    # Issue 20, item 3: llama-server parses tool calls and reasoning from the model's Jinja chat template
    # itself (common/common.h use_jinja = true by default at both builds, --no-jinja turns it off;
    # --reasoning-format keeps its default): auto writes nothing, a name is refused.
    Capability.TOOL_PARSER, Capability.REASONING_PARSER,
    # Issue 20, item 4: --rope-scaling linear|yarn, --rope-scale, --yarn-orig-ctx (common/arg.cpp; dynamic and
    # llama3 are refused in its check).
    Capability.ROPE_SCALING,
})


@dataclass(frozen=True, kw_only=True)
class LlamaCppVersion(EngineVersion):
    build: int
    commit: str
    image: str
    pypi_sdist: str          # the llama-cpp-python sdist that vendors this tree
    # how -c and -np combine (said in serve.sh)
    slots: str = ("an explicit -np N splits the -c cache into N slots of -c/N tokens each (rounded up to 256); "
                  "without -np, 4 slots share one unified cache of -c tokens")


def _image(variant: str, build: int) -> str:
    return f"ghcr.io/ggml-org/llama.cpp:server-{variant}-b{build}"


VERSIONS: dict[str, LlamaCppVersion] = {
    "b10454": LlamaCppVersion(
        version="b10454", build=10454, commit="4df29be4f4c3673f428170fda944a5b19f743bb8",
        image=_image("cuda", 10454), rocm_image=_image("rocm", 10454), capabilities=_CAPS,
        pypi_sdist="llama-cpp-python==0.3.35"),
    "b9976": LlamaCppVersion(
        version="b9976", build=9976, commit="e3546c7948e3af463d0b401e6421d5a4c2faf565",
        image=_image("cuda", 9976), rocm_image=_image("rocm", 9976), capabilities=_CAPS,
        pypi_sdist="llama-cpp-python==0.3.34"),
}

# Bits per weight of the GGUF quant types a hub tag names (ggml block sizes: Q8_0 34 bytes per 32
# weights, Q4_0 18/32, Q4_K 144/256, Q5_K 176/256, Q6_K 210/256, Q3_K 110/256, Q2_K 84/256; the _M mixes
# keep some tensors one type up, averaged as gguf-parser reports them).
QUANT_BITS = {
    "F32": 32.0, "F16": 16.0, "BF16": 16.0, "Q8_0": 8.5, "Q6_K": 6.56, "Q5_K_M": 5.69, "Q5_K_S": 5.54,
    "Q5_0": 5.5, "Q5_1": 6.0, "Q4_K_M": 4.85, "Q4_K_S": 4.58, "Q4_0": 4.5, "Q4_1": 5.0, "IQ4_XS": 4.25,
    "IQ4_NL": 4.5, "Q3_K_L": 4.27, "Q3_K_M": 3.91, "Q3_K_S": 3.5, "Q2_K": 2.63,
}
