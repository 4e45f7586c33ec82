"""What differs between the TGI versions deployc writes for: data, not if-statements.

Read from huggingface/text-generation-inference at each release tag (git mirror):

  3.3.7  tag v3.3.7, commit dfb3fbe78e0d1d69251bd33065591c61bafdfaa8 (2025-12-18)
  2.4.1  tag v2.4.1, commit d2ed52f531cf8098ca62375248e007022eaadc65 (2024-11-22)

The launcher's option table of each tag (every long/short flag, its clap `env` variable,
whether it takes a value, its ValueEnum choices and default) is committed next to this file
as engine_options/<version>.json, extracted from launcher/src/main.rs `struct Args` by
conformance/extract/tgi.py; the target checks `args` against it and the
conformance tier checks every emitted argv against it.

Facts common to both tags, with their place in the source:
- Parser: clap 4 derive (launcher/Cargo.toml `clap = "4.4.5"`, features derive+env; Cargo.lock
  4.5.32 at v3.3.7, 4.5.21 at v2.4.1); no `infer_long_args`, so long options match exactly
  (no prefixes, no `--max_total_tokens` spelling); `--flag value` and `--flag=value`; a flag
  given twice is an error; the command line wins over a clap `env` variable of the same
  option (MAX_TOTAL_TOKENS, PORT, HOSTNAME, ...).
- Image ghcr.io/huggingface/text-generation-inference:<version> (README.md docker run);
  Dockerfile: `ENV HF_HOME=/data HF_HUB_ENABLE_HF_TRANSFER=1 PORT=80`, ENTRYPOINT
  /tgi-entrypoint.sh -> `exec text-generation-launcher $@`. Docker sets HOSTNAME to the
  container id and the launcher's `hostname` option reads HOSTNAME (clap env), so deployc
  always passes --hostname 0.0.0.0; PORT=80 is overridden by --port.
- launcher/src/main.rs main(): exl2 with num_shard > 1 is refused ("Sharding is currently not
  supported with `exl2` quantization"); max_input_tokens >= max_total_tokens is refused;
  max_total_tokens > max_batch_total_tokens is refused; --max-input-tokens and its legacy
  spelling --max-input-length together are refused (v3.3.7 :2094, :2104, :2160, :2203;
  v2.4.1 :1798, :1722, :1748, :1808).
- backends/v3/src/lib.rs: a given --max-batch-total-tokens is ignored (with a warning) when the
  model infers its own budget at warmup, as flash-attention models do (v3.3.7 :86-97,
  v2.4.1 :86-97); the launcher still checks max_total_tokens against it first.
- backends/v3/src/main.rs: max_batch_prefill_tokens < max_input_tokens is refused unless the
  model supports chunked prefill (v3.3.7 :188, v2.4.1 :182), a runtime property.
- server/text_generation_server/cli.py serve(): --dtype with --quantize other than the
  bitsandbytes family raises "Only 1 can be set between `dtype` and `quantize`" (v3.3.7
  :110-118, v2.4.1 :108-116); models/__init__.py get_model runs awq, exl2, gptq and marlin
  in float16 when no dtype is given (v3.3.7 :464-472).
- --lora-adapters: comma-separated `id`, `id=path` or `id@revision`
  (server/text_generation_server/utils/adapter.py parse_lora_adapters); the OpenAI `model`
  field of a request selects the adapter of that id, any other value the base model
  (router/src/lib.rs `adapter_id: model.filter(|m| *m != "tgi")`; flash_causal_lm.py
  `ADAPTER_TO_INDEX.get(adapter_id, 0)`).
- GET /health is outside the API-key layer; --api-key / API_KEY guards the generation routes
  with `Authorization: Bearer <key>` (router/src/server.rs, v3.3.7 :2213-2243, v2.4.1 :2305-2333).
"""

from __future__ import annotations

import json
from typing import Any
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from deployc.compiler.api import RECIPE_CAPABILITIES, Capability, EngineVersion

_HERE = Path(__file__).parent

# Spec features no TGI version expresses (see TgiTarget.unsupported_hint for what to do instead).
# Issue 20, item 3, stated explicitly: TGI parses tool calls itself (grammar-constrained `tools` in its chat
# API: auto writes nothing, a name is refused); it has no reasoning parser.
# Issue 20, item 4: --rope-scaling linear|dynamic with --rope-factor (launcher clap ValueEnum RopeScaling; yarn
# and llama3 are refused in checks.py).
# Item 2: --speculate N, which speculates by n-gram lookup when the model has no Medusa/MLP heads (launcher
# Args.speculate; method ngram only, checked in __init__.py).
_RECIPES = frozenset({Capability.TOOL_PARSER, Capability.ROPE_SCALING, Capability.SPECULATIVE})

_NOT_IN_TGI = frozenset({
    Capability.AMD_GPU,             # deployc writes the CUDA image and NVIDIA device requests
    Capability.PIPELINE_PARALLEL,   # the launcher only shards (--num-shard): tensor parallelism
    Capability.DATA_PARALLEL,       # one launcher is one copy; no router across copies
    Capability.CUSTOM_TOKENIZER,    # the tokenizer is always the model's (only --tokenizer-config-path)
    Capability.CHAT_TEMPLATE,       # read from tokenizer_config.json, no template file option
    Capability.MAX_OUTPUT_TOKENS,   # no server-wide cap; max_new_tokens is bounded by --max-total-tokens
    Capability.QUANT_INT8,          # Quantization enum: no plain int8 (eetq / bitsandbytes are)
    Capability.QUANT_INT4,          # no plain int4 (bitsandbytes-nf4/fp4, awq, gptq are)
    Capability.QUANT_GGUF,          # no GGUF loader
    Capability.ATTENTION_DATA_PARALLEL,  # one launcher is one copy; shards are tensor-parallel only
    Capability.EXPERT_PARALLEL,          # no expert-parallel option (--num-shard shards every layer)
    Capability.QUANT_MXFP4,         # Quantization enum: no mxfp4 / modelopt FP4 (compressed-tensors only)
    Capability.QUANT_NVFP4,
    Capability.MULTI_NODE,          # shards are local processes of one launcher (--num-shard); no node rank
})


@dataclass(frozen=True)
class TgiVersion(EngineVersion):
    tag: str
    commit: str
    image: str
    # Chunked prefill on by default (server/text_generation_server/models/globals.py PREFILL_CHUNKING,
    # read from the environment): then max_batch_prefill_tokens may be below max_input_tokens.
    prefill_chunking: bool

    @cached_property
    def launcher(self) -> dict[str, Any]:
        """engine_options/<version>.json: the clap option table of this tag's launcher."""
        data: dict[str, Any] = json.loads((_HERE / "engine_options" / f"{self.data_version}.json").read_text(encoding="utf-8"))
        assert data["source"]["commit"] == self.commit, "option table and version pin disagree"
        return data

    @property
    def options(self) -> dict[str, dict[str, Any]]:
        options: dict[str, dict[str, Any]] = self.launcher["options"]
        return options

    def choices(self, flag: str) -> tuple[str, ...]:
        return tuple(self.options[flag]["choices"])

    @cached_property
    def short_flags(self) -> dict[str, str]:
        """-p -> --port (the first long option that claims the short name, as clap's lookup does)."""
        out: dict[str, str] = {}
        for long, o in self.options.items():
            for short in (a for a in o["aliases"] if not a.startswith("--")):
                out.setdefault(short, long)
        return out


VERSIONS: dict[str, TgiVersion] = {
    "3.3.7": TgiVersion(
        version="3.3.7", tag="v3.3.7", commit="dfb3fbe78e0d1d69251bd33065591c61bafdfaa8",
        image="ghcr.io/huggingface/text-generation-inference:3.3.7",
        capabilities=(frozenset(Capability) - RECIPE_CAPABILITIES - _NOT_IN_TGI) | _RECIPES,
        prefill_chunking=True,   # globals.py:15 os.getenv("PREFILL_CHUNKING", "1")
    ),
    "2.4.1": TgiVersion(
        version="2.4.1", tag="v2.4.1", commit="d2ed52f531cf8098ca62375248e007022eaadc65",
        image="ghcr.io/huggingface/text-generation-inference:2.4.1",
        capabilities=(frozenset(Capability) - RECIPE_CAPABILITIES - _NOT_IN_TGI) | _RECIPES,
        prefill_chunking=False,  # globals.py:14 os.getenv("PREFILL_CHUNKING", "0")
    ),
}

# Chunked prefill needs flashinfer/flashdecoding attention (models/model.py Model.__init__); the
# launcher picks paged attention below compute capability 8.0 (main.rs resolve_attention).
CHUNKING_MIN_SM = 8.0
# Without chunking, the launcher's default --max-batch-prefill-tokens can be as low as this
# (v2.4.1 main.rs:1736 `4096.min(max_position_embeddings)`; v3.3.7 main.rs:2114-2150 starts from
# 4096 for most models and lowers it to what VRAM holds), below a longer prompt limit.
DEFAULT_PREFILL_TOKENS = 4096

# precision.quantization -> --quantize value. awq, gptq and fp8 name the checkpoint's method
# (TGI also reads it from config.json; naming it is explicit and equal); bitsandbytes is the
# spec's in-flight 4-bit method, TGI's bitsandbytes-nf4 (plain `bitsandbytes` is 8-bit).
QUANTIZE = {"fp8": "fp8", "awq": "awq", "gptq": "gptq", "bitsandbytes": "bitsandbytes-nf4"}
# --quantize values that take --dtype too (cli.py serve()); with the others TGI refuses it.
QUANTIZE_WITH_DTYPE = frozenset({"bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4"})
# --quantize values that TGI runs in float16 whatever the checkpoint (models/__init__.py get_model).
QUANTIZE_FLOAT16 = frozenset({"awq", "exl2", "gptq", "marlin"})
# precision.kv_cache_dtype fp8 -> --kv-cache-dtype: e4m3 is the fp8 format the spec means
# (the same as vLLM's `fp8` on CUDA).
KV_CACHE_FP8 = "fp8_e4m3fn"
