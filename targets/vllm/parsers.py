"""vLLM's tool-call and reasoning parsers per version (model.tool_parser / reasoning_parser).

Names: the registries in engine_options/<version>.json (conformance/extract/vllm_options.py lists
ToolParserManager and ReasoningParserManager at each pinned release): vLLM's parser takes any string
for --tool-call-parser and --reasoning-parser and fails only at launch, so deployc checks them.

`auto`: the parser vLLM's documentation gives each checkpoint family, docs/features/tool_calling.md
and docs/features/reasoning_outputs.md at each pinned commit (versions.py); a family's entry a version
does not register (deepseek_v31 before it existed) resolves to none there, which is an error at the key.
Templates: the chat templates those pages ask for with a parser (in the vllm/vllm-openai image under
/vllm-workspace/examples/, not in the wheel).
"""

from __future__ import annotations

from functools import cache

from deployc.compiler import api
from deployc.compiler.api import ParserSupport

CITE = "vLLM docs/features/tool_calling.md and docs/features/reasoning_outputs.md"
# Read for this table: tool_calling.md's Quickstart (llama3_json with examples/tool_chat_template_llama3.1_json.jinja)
# and the vllm-project/recipes DeepSeek-V3_1.md guide (deepseek_v31 with tool_chat_template_deepseekv31.jinja);
# the registries (engine_options/<version>.json) confirm every name at each pinned version.

# family -> (tool parser, reasoning parser)
AUTO: dict[str, tuple[str | None, str | None]] = {
    "gpt-oss": ("openai", "openai_gptoss"),
    "kimi-k2": ("kimi_k2", None),
    "deepseek-r1": ("deepseek_v3", "deepseek_r1"),
    "deepseek-v3.1": ("deepseek_v31", "deepseek_v3"),
    "deepseek-v3": ("deepseek_v3", None),
    "qwen3-coder": ("qwen3_coder", None),
    "qwen3": ("hermes", "qwen3"),
    "qwen2.5": ("hermes", None),
    "llama-3.1": ("llama3_json", None),
    "glm-4.5": ("glm45", "glm45"),
    "mistral": ("mistral", None),
}

TEMPLATES = {
    "deepseek_v3": "examples/tool_chat_template_deepseekv3.jinja",
    "deepseek_v31": "examples/tool_chat_template_deepseekv31.jinja",
    "llama3_json": "examples/tool_chat_template_llama3.1_json.jinja",
}


@cache
def support(data_version: str, version: str) -> ParserSupport:
    from deployc.targets.vllm.options import engine_table
    return api.parser_support(f"vLLM {version}", engine_table(data_version), "--tool-call-parser",
                              "--reasoning-parser", AUTO, CITE, TEMPLATES)
