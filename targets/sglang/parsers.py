"""SGLang's tool-call and reasoning parsers per version (model.tool_parser / reasoning_parser).

Names: the registries in engine_options/<version>.json (conformance/extract/sglang_options.py: the
--tool-call-parser and --reasoning-parser choices, which SGLang's own parser enforces, and the name
lists behind them). `auto`: the parser SGLang's documentation gives each checkpoint family,
docs/advanced_features/tool_parser.md and docs/advanced_features/separate_reasoning.md of each
pinned release (versions.py); an entry a version does not register (gpt-oss before 0.5) resolves to
none there, an error at the key. SGLang's `auto` (0.5.23: pick by the model) is not used: the
artifact names the parser.
"""

from __future__ import annotations

from functools import cache

from deployc.compiler import api
from deployc.compiler.api import ParserSupport

CITE = "SGLang docs/advanced_features/tool_parser.md and separate_reasoning.md"
# Read for this table: https://docs.sglang.io/advanced_features/separate_reasoning.html (deepseek-r1 for R1,
# deepseek-v3 for V3.1/V3.2, qwen3 for Qwen3, gpt-oss) and the tool_parser.md table (deepseekv3, deepseekv31,
# gpt-oss, kimi_k2, llama3 for Llama 3.1-3.3, mistral; the chat templates recommended with deepseekv3/v31).

# family -> (tool parser, reasoning parser)
AUTO: dict[str, tuple[str | None, str | None]] = {
    "gpt-oss": ("gpt-oss", "gpt-oss"),
    "kimi-k2": ("kimi_k2", None),
    "deepseek-r1": ("deepseekv3", "deepseek-r1"),
    "deepseek-v3.1": ("deepseekv31", "deepseek-v3"),
    "deepseek-v3": ("deepseekv3", None),
    "qwen3-coder": ("qwen3_coder", None),
    "qwen3": ("qwen25", "qwen3"),
    "qwen2.5": ("qwen25", None),
    "llama-3.1": ("llama3", None),
    "glm-4.5": ("glm45", "glm45"),
    "mistral": ("mistral", None),
}

# tool_parser.md: the chat templates SGLang recommends with a parser (examples/chat_template/ of its repo).
TEMPLATES = {
    "deepseekv3": "examples/chat_template/tool_chat_template_deepseekv3.jinja",
    "deepseekv31": "examples/chat_template/tool_chat_template_deepseekv31.jinja",
}


@cache
def support(data_version: str, version: str) -> ParserSupport:
    from deployc.targets.sglang.options import engine_table
    return api.parser_support(f"SGLang {version}", engine_table(data_version), "--tool-call-parser",
                              "--reasoning-parser", AUTO, CITE, TEMPLATES)
