"""LMDeploy's tool-call and reasoning parsers per version (model.tool_parser / reasoning_parser).

Names: the registries in engine_options/<version>.json (conformance/extract/lmdeploy_options.py reads
ToolParserManager and ReasoningParserManager of each wheel): `lmdeploy serve api_server` takes any string
and fails only at launch. `auto`: the parser LMDeploy's documentation gives each checkpoint family,
docs/en/llm/api_server_tools.md and docs/en/llm/api_server_reasoning.md of each pinned release; an entry
a version does not register (qwen3coder before 0.18) resolves to none there, an error at the key.
"""

from __future__ import annotations

from functools import cache

from deployc.compiler import api
from deployc.compiler.api import ParserSupport

CITE = "LMDeploy docs/en/llm/api_server_tools.md and api_server_reasoning.md"

# family -> (tool parser, reasoning parser)
AUTO: dict[str, tuple[str | None, str | None]] = {
    "kimi-k2": ("kimi_k2", None),
    "deepseek-r1": (None, "deepseek-r1"),
    "deepseek-v3.1": (None, "deepseek-v3"),
    "qwen3-coder": ("qwen3coder", None),
    # qwen-qwq: LMDeploy's <think> parser, registered for QwQ; its use for Qwen3 follows the shared <think>
    # format and was not read from a LMDeploy page (unverified, like the deepseek-v3 entry for V3.1).
    "qwen3": ("qwen3", "qwen-qwq"),
    "qwen2.5": ("qwen2d5", None),
    "llama-3.1": ("llama3", None),
}


@cache
def support(version: str) -> ParserSupport:
    from deployc.targets.lmdeploy.options import engine_table
    return api.parser_support(f"LMDeploy {version}", engine_table(version), "--tool-call-parser",
                              "--reasoning-parser", AUTO, CITE)
