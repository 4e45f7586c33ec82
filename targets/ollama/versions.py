"""What differs between the Ollama versions deployc writes for: data, not if-statements.

Read from Ollama's own source at each release tag (github.com/ollama/ollama):

  0.32.15  tag v0.32.15, commit b7871fc0d1d82fe109536efa3e0e8e411c766c75
  0.12.11  tag v0.12.11, commit c1149875234a51aa1e5e60b74f3807f5982c60fa

Line references are to those commits (0.32.15 first, then 0.12.11 where it differs).

Facts common to both:
- Modelfile grammar: parser/parser.go ParseFile (:454 / :371) and parseRuneForState
  (:585 / :502): commands are case-insensitive letters (isValidCommand :697 / :614);
  PARAMETER names are [A-Za-z0-9_]; a value runs to the end of the line unless it
  starts with `"` (ends at the first line that closes it) or `\"\"\"` (unquote :656 / :573);
  only strconv.IsPrint runes, spaces, tabs and quoted newlines reach a value
  (ParseFile :549 / :466); `#` starts a comment only where a command could start.
- PARAMETER names are the json tags of api.Options + api.Runner (api/types.go :568-596 /
  :433-460), parsed by api.FormatParams (:1274 / :1055); `stop` repeats; nine legacy
  names only print "parameter is deprecated" and are dropped (deprecatedParameters,
  parser/parser.go :43 / :42). tfs_z is not a parameter at all: FormatParams rejects it.
- Relative FROM / ADAPTER paths resolve against the Modelfile's folder
  (cmd/cmd.go CreateHandler: modelfile.CreateRequest(filepath.Dir(filename)));
  a FROM that is no existing path is a model name to pull (parser.go :67-75).
- `ollama create MODEL -f FILE -q LEVEL` (cmd/cmd.go :2323-2324 / :1718-1719, cobra/pflag);
  the server upper-cases the level (server/create.go :738) and fs/ggml/type.go
  ParseFileType (:60 / :57) accepts F32 F16 Q8_0 Q4_K_S Q4_K_M (alias Q4_K) BF16.
- envconfig/config.go: OLLAMA_HOST host:port, default 127.0.0.1:11434 (Host :22 / :19);
  OLLAMA_NUM_PARALLEL default 1 (:275 / :244); OLLAMA_KEEP_ALIVE a Go duration or
  integer seconds, default 5m, negative = forever (KeepAlive :129 / :103);
  OLLAMA_KV_CACHE_TYPE f16|q8_0|q4_0 (fs/ggml/ggml.go SupportsKVCacheType :899 / :801),
  applied only with flash attention on (0.12.11 llm/server.go:206-221 warns and ignores
  it otherwise; 0.32.15 passes --cache-type-k/v to llama-server, llm/llama_server.go:393-396,
  whose quantized V cache needs flash attention), hence OLLAMA_FLASH_ATTENTION=1.
- KV cache = num_ctx x parallel slots: 0.12.11 llm/server.go:173 KvSize: NumCtx * numParallel;
  0.32.15 llm/llama_server.go:375 `-c NumCtx*numParallel` and server/sched.go:793.
- One ADAPTER per model: parser.go CreateRequest keeps the last one, server/create.go refuses
  more (errOnlyOneAdapterSupported). `FROM <existing model>` copies its layers (server/model.go
  parseFromModel) and create.go setParameters keeps the parameters a Modelfile does not set, so
  an adapter model inherits the base model's num_ctx, stop, template and system.
- Model names (types/model/name.go isValidPart): [namespace/]model[:tag], each part 1-80 of
  [A-Za-z0-9_.-] starting with [A-Za-z0-9_]; no '.' in the namespace.
- No server-side API key in either version (envconfig has only OLLAMA_AUTH, the client's
  ollama.com signing).
- Image ollama/ollama:<version> (ROCm: <version>-rocm), .github/workflows/release.yaml
  docker/metadata-action `type=semver,pattern={{version}}` + suffix; Dockerfile sets
  ENV OLLAMA_HOST=0.0.0.0:11434, ENTRYPOINT ["/bin/ollama"], CMD ["serve"]; models live
  in /root/.ollama (docs/docker.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from deployc.compiler.api import RECIPE_CAPABILITIES, Capability, EngineVersion

# PARAMETER name -> value kind, from the json tags of api.Options and api.Runner.
_PARAMS_COMMON = {
    "num_keep": "int", "seed": "int", "num_predict": "int", "top_k": "int", "top_p": "float",
    "min_p": "float", "typical_p": "float", "repeat_last_n": "int", "temperature": "float",
    "repeat_penalty": "float", "presence_penalty": "float", "frequency_penalty": "float", "stop": "string",
    "num_ctx": "int", "num_batch": "int", "num_gpu": "int", "main_gpu": "int", "use_mmap": "bool",
    "num_thread": "int",
}

# parser/parser.go deprecatedParameters: accepted, warned about, then ignored.
_DEPRECATED = ("penalize_newline", "low_vram", "f16_kv", "logits_all", "vocab_only", "use_mlock",
               "mirostat", "mirostat_tau", "mirostat_eta")

# Parameters users copy from old Modelfiles that these versions reject outright
# (removed from api.Options; FormatParams: "unknown parameter").
# tfs_z is in api.Options at v0.5.0 and gone at v0.6.0 (tail-free sampling left llama.cpp).
_REMOVED = {"tfs_z": "tail-free sampling was removed in Ollama 0.6"}

_COMMANDS_COMMON = ("from", "license", "template", "system", "adapter", "renderer", "parser", "parameter",
                    "message")

# cmd/cmd.go createCmd.Flags() (:2323-2324 / :1718-1719); cobra adds -h/--help.
_CREATE_FLAGS = {"--file": "string", "-f": "string", "--quantize": "string", "-q": "string",
                 "--help": "bool", "-h": "bool"}

# The first Ollama release whose parser reads each Modelfile feature: feature_since.json, written by
# `conformance/extract/ollama.py GIT_DIR --since v0.32.15` from every stable tag (the oldest tag whose
# parser/parser.go isValidCommand lists the command, or whose api/types.go Options/Runner has the
# PARAMETER's json tag; each entry names its tag and commit): DRAFT since 0.23.1, draft_num_predict since
# 0.30.0. A Modelfile that uses a feature newer than the 0.12 grammar says `REQUIRES <the newest of those>`
# (parser/parser.go:136-145, stored as the model's config.requires and shown by `ollama show`; REQUIRES
# itself since 0.14.0): an older server rejects the Modelfile anyway, and the line tells whoever copies the
# model which release it needs.
_SINCE = json.loads(Path(__file__).with_name("feature_since.json").read_text(encoding="utf-8"))
FEATURE_SINCE = {name: _SINCE[kind][name]["version"]
                 for kind, name in (("modelfile_commands", "draft"), ("parameters", "draft_num_predict"))}


# Issue 20, item 3, stated explicitly: Ollama parses tool calls and thinking itself, from the model's
# template (auto writes nothing; a name is refused).
_RECIPES = frozenset({Capability.TOOL_PARSER, Capability.REASONING_PARSER})

# Spec features Ollama cannot express, in every pinned version.
_UNSUPPORTED = frozenset({
    Capability.MAX_INPUT_TOKENS,  # prompts share num_ctx with the completion
    Capability.MULTI_NODE,  # one server process per machine; no distributed inference
    Capability.TENSOR_PARALLEL, Capability.PIPELINE_PARALLEL, Capability.DATA_PARALLEL, Capability.REVISION,
    Capability.CUSTOM_TOKENIZER, Capability.REMOTE_CODE, Capability.CHAT_TEMPLATE, Capability.API_KEY,
    Capability.QUANT_FP8, Capability.QUANT_AWQ, Capability.QUANT_GPTQ, Capability.QUANT_BITSANDBYTES,
    Capability.QUANT_MXFP4, Capability.QUANT_NVFP4,   # safetensors FP4 checkpoints: Ollama imports GGUF
    Capability.ATTENTION_DATA_PARALLEL, Capability.EXPERT_PARALLEL,   # one process, no parallel modes
})


@dataclass(frozen=True)
class OllamaVersion(EngineVersion):
    commit: str
    image: str
    commands: tuple[str, ...]          # isValidCommand
    parameters: dict[str, str]         # PARAMETER name -> int | float | bool | string
    deprecated: tuple[str, ...]        # parsed, warned about, ignored
    removed: dict[str, str]            # rejected by FormatParams -> why
    quantize_levels: tuple[str, ...]   # ParseFileType, canonical spellings
    quantize_aliases: dict[str, str]
    quantize_from: tuple[str, ...]     # source file types create will quantize
    kv_cache_types: tuple[str, ...]
    create_flags: dict[str, str]       # `ollama create` flag -> string | bool (cobra; -h/--help added by cobra)
    default_keep_alive: str
    default_context: str               # what Ollama uses when num_ctx is not set (for messages)


VERSIONS: dict[str, OllamaVersion] = {
    "0.32.15": OllamaVersion(
        version="0.32.15",
        commit="b7871fc0d1d82fe109536efa3e0e8e411c766c75",
        image="ollama/ollama:0.32.15",
        rocm_image="ollama/ollama:0.32.15-rocm",
        # + draft, requires (parser/parser.go:697-704)
        commands=_COMMANDS_COMMON + ("draft", "requires"),
        parameters={**_PARAMS_COMMON, "draft_num_predict": "int"},  # api/types.go:595
        deprecated=_DEPRECATED,
        removed=_REMOVED,
        quantize_levels=("F32", "F16", "BF16", "Q8_0", "Q4_K_S", "Q4_K_M"),
        quantize_aliases={"Q4_K": "Q4_K_M"},
        quantize_from=("F16", "BF16", "F32"),  # server/create.go:756
        kv_cache_types=("f16", "q8_0", "q4_0"),
        create_flags={**_CREATE_FLAGS, "--draft-quantize": "string", "--experimental": "bool"},  # cmd/cmd.go:2325-2326
        default_keep_alive="5m",
        # envconfig/config.go:230 ContextLength default 0 -> "4k/32k/256k based on VRAM" (:336)
        default_context="4k, 32k or 256k tokens depending on VRAM",
        # item 2: the Modelfile's DRAFT command (a draft model) and draft_num_predict
        capabilities=(frozenset(Capability) - RECIPE_CAPABILITIES - _UNSUPPORTED) | _RECIPES
        | {Capability.SPECULATIVE},
    ),
    "0.12.11": OllamaVersion(
        version="0.12.11",
        commit="c1149875234a51aa1e5e60b74f3807f5982c60fa",
        image="ollama/ollama:0.12.11",
        rocm_image="ollama/ollama:0.12.11-rocm",
        commands=_COMMANDS_COMMON,  # parser/parser.go:614-621
        parameters=dict(_PARAMS_COMMON),
        deprecated=_DEPRECATED,
        removed={**_REMOVED, "draft_num_predict": "added after 0.12 (api.Runner in v0.30.0)"},
        quantize_levels=("F32", "F16", "BF16", "Q8_0", "Q4_K_S", "Q4_K_M"),
        quantize_aliases={"Q4_K": "Q4_K_M"},
        quantize_from=("F16", "F32"),  # server/create.go:475: "only supported for F16 and F32 models"
        kv_cache_types=("f16", "q8_0", "q4_0"),
        create_flags=dict(_CREATE_FLAGS),
        default_keep_alive="5m",
        default_context="4096 tokens",  # envconfig/config.go:204
        capabilities=(frozenset(Capability) - RECIPE_CAPABILITIES - _UNSUPPORTED) | _RECIPES,
    ),
}
