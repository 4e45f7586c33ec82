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

from dataclasses import dataclass

from compiler.target_api import Capability

_ALL = frozenset(Capability)

# Spec kv_cache_dtype fp8 -> SGLang's spelling. fp8_e4m3 is what vLLM's "fp8" means on CUDA
# (its cache docs: fp8 and fp8_e4m3 are the same) and the format FP8 checkpoints ship KV
# scales for; e5m2 trades mantissa for range and is the less accurate choice.
KV_FP8 = "fp8_e4m3"


@dataclass(frozen=True)
class SglangVersion:
    version: str
    source: str                 # the release artifact read (see the module docstring)
    image: str
    launcher: tuple[str, ...]   # argv before the server options
    capabilities: frozenset[Capability]
    default_max_loras_per_batch: int = 8


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
        capabilities=_ALL - {Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_GGUF,
                             Capability.QUANT_BITSANDBYTES},
    ),
    "0.4.10.post2": SglangVersion(
        version="0.4.10.post2",
        source="sglang-0.4.10.post2-py3-none-any.whl sha256:ca31b6d33d8b770b1e6d0271be855002"
               "c5333304fb440c412b43dbdc56be0a22",
        image="lmsysorg/sglang:v0.4.10.post2-cu126",
        launcher=("python3", "-m", "sglang.launch_server"),
        capabilities=_ALL - {Capability.MAX_OUTPUT_TOKENS, Capability.QUANT_GGUF,
                             Capability.QUANT_BITSANDBYTES},
    ),
}
