"""What differs between the LMDeploy versions deployc writes for: data, not if-statements.

Read from LMDeploy's own wheels (PyPI; engine_options/<version>.json records the wheel file and its
sha256) and, for what a wheel does not carry (images), from the InternLM/lmdeploy repository at the
release tag. Checked against the real `lmdeploy serve api_server` parser of each version in the
conformance tier (tests/conformance/test_lmdeploy_parser.py).

  0.18.0       the current release (PyPI, 2026-11).
  0.9.2.post1  the last release of the 0.9 line (tag v0.9.2.post1, 2025-08-19: v0.9.2 plus one
               TurboMind model-mapping fix). Chosen as the older version because 0.9 is the line
               most deployments from 2025 still run: the last one whose images were built for both
               CUDA 11 and CUDA 12 (.github/workflows/docker.yml: cuda_version [cu12, cu11];
               0.10 moved to cu12.8/cu12/cu11, 0.16 to cu13.0/cu12.8), and the last before 0.10's
               rework of the PyTorch engine's serving paths.

Facts common to both, with their place in the wheel:
- `lmdeploy serve api_server MODEL`: lmdeploy/cli/serve.py SubCliServe.add_parser_api_server.
  --backend turbomind (the default) means "TurboMind where it supports the model": api_server
  calls lmdeploy.archs.autoget_backend unless --backend is pytorch, which falls back to PyTorch
  when the architecture is not in lmdeploy/turbomind/supported_models.py SUPPORTED_ARCHS. Only
  `--backend pytorch` forces an engine.
- --cache-max-entry-count (default 0.8) is the share of the memory FREE after the weights that
  the KV cache takes (cli/utils.py help; TurboMind; the PyTorch engine first reserves its runtime
  buffers, (max_prefill_token_num + 2 x max_batches) x vocab x 2 bytes:
  pytorch/engine/executor/base.py _get_runtime_size, 0.18.0).
- --max-batch-size unset: lmdeploy.utils.get_max_batch_size: 1024 on H100/H200/H800, 384 on A100,
  256 on Ascend, MACA, CAMB, else 128. --max-prefill-token-num default 8192;
  --cache-block-seq-len default 64 tokens per KV block.
- --api-keys takes the keys as arguments (nargs='*'); no environment variable is read
  (serve/openai/api_server.py serve(api_keys=...)), so serve.sh passes the key on the command line.
- --chat-template takes LMDeploy's JSON chat-template config or a built-in template name
  (cli/utils.py get_chat_template), not a Jinja file: model.chat_template has no spelling.
- --device cuda|ascend|maca|camb; only the PyTorch engine runs on the non-CUDA ones.
- GET /health answers 200 without the API key (0.9.2: serve/openai/api_server.py:241;
  0.18.0: serve/core/health.py).
- Images: openmmlab/lmdeploy:<tag>-<cuda>; the release workflow pushes RELEASE_TAG
  `${TAG_PREFIX}:${github.ref_name}-${CUDA_VERSION}` (.github/workflows/docker.yml; v0.9.2.post1
  :98, cuda_version [cu12, cu11]; the 0.16.0 workflow: tag_suffix cu13.0 and cu12.8, and 0.18.0 is
  taken to follow it). Ascend images are tagged only by hand (`<input>-ascend`, or the moving
  `ascend`), so deployc pins none: a non-CUDA device needs targets.lmdeploy.image.
  The images run as root: the Hugging Face cache is /root/.cache/huggingface.
"""

from __future__ import annotations

from dataclasses import dataclass

from deployc.compiler.api import Capability, EngineVersion

_COMMON = frozenset({
    Capability.TENSOR_PARALLEL, Capability.REVISION, Capability.LORA, Capability.API_KEY,
    Capability.MAX_CONCURRENCY, Capability.MAX_BATCH_TOKENS, Capability.QUANT_AWQ, Capability.QUANT_GPTQ,
    Capability.QUANT_FP8,
})
# Issue 20, item 3: both pinned versions take --tool-call-parser and --reasoning-parser (targets/lmdeploy/parsers.py).
_COMMON |= {Capability.TOOL_PARSER, Capability.REASONING_PARSER}
# Issue 20, item 4: --enable-prefix-caching (a switch; off by default), in both versions.
_COMMON |= {Capability.PREFIX_CACHING}


@dataclass(frozen=True, kw_only=True)
class LmdeployVersion(EngineVersion):
    image: str
    # spec quantization -> --model-format (a checkpoint quantized that way; LMDeploy never quantizes at load)
    model_formats: dict[str, str]
    # KV cache quantization name -> --quant-policy value (QuantPolicy in lmdeploy/messages.py, or choices)
    kv_policies: dict[str, str]
    # --max-batch-size when unset, by GPU name substring (lmdeploy.utils.get_max_batch_size), else default_batch
    batch_by_gpu: tuple[tuple[str, int], ...] = (("a100", 384), ("a800", 384), ("h100", 1024), ("h800", 1024),
                                                  ("h200", 1024))
    default_batch: int = 128
    non_cuda_batch: int = 256
    default_cache_fraction: float = 0.8
    default_prefill_tokens: int = 8192
    block_size: int = 64

    def default_max_batch(self, gpu_name: str, device: str) -> int:
        if device != "cuda":
            return self.non_cuda_batch
        return next((n for key, n in self.batch_by_gpu if key in gpu_name.lower()), self.default_batch)


VERSIONS: dict[str, LmdeployVersion] = {
    "0.18.0": LmdeployVersion(
        version="0.18.0",
        image="openmmlab/lmdeploy:v0.18.0-cu12.8",
        capabilities=_COMMON | {Capability.REMOTE_CODE, Capability.KV_CACHE_FP8},
        model_formats={"awq": "awq", "gptq": "gptq", "fp8": "fp8"},
        kv_policies={"int4": "int4", "int8": "int8", "fp8": "fp8"},
        batch_by_gpu=(("a100", 384), ("a800", 384), ("h100", 1024), ("h800", 1024), ("l20y", 1024),
                      ("h200", 1024)),
    ),
    "0.9.2.post1": LmdeployVersion(
        version="0.9.2.post1",
        image="openmmlab/lmdeploy:v0.9.2.post1-cu12",
        # no --trust-remote-code in its api_server; --quant-policy choices [0, 4, 8] (no fp8 KV cache)
        capabilities=_COMMON,
        model_formats={"awq": "awq", "gptq": "gptq", "fp8": "fp8"},
        kv_policies={"int4": "4", "int8": "8"},
    ),
}
