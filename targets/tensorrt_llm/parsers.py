"""TensorRT-LLM's tool-call and reasoning parsers (trtllm-serve 1.x; model.tool_parser / reasoning_parser).

Names: the choices of `trtllm-serve serve --tool_parser` and `--reasoning_parser` in
engine_options/<version>.json (conformance/extract/tensorrt_llm.py: click enforces them; they are the
keys of tensorrt_llm/serve/tool_parser/tool_parser_factory.py ToolParserFactory.parsers and
tensorrt_llm/llmapi/reasoning_parser.py ReasoningParserFactory.parsers at the pinned commit).
`auto`: the family each parser module names for itself at that commit (tool_parser/qwen3_parser.py
"Qwen3", deepseekv3_parser.py "DeepSeek-V3", deepseekv31_parser.py "DeepSeek-V3.1", kimi_k2_tool_parser.py,
qwen3_coder_parser.py; reasoning_parser.py DeepSeekR1Parser, Qwen3 via the <think> parser). 0.19.0 has no
trtllm-serve parsers (its capabilities say so).
"""

from __future__ import annotations

from functools import cache

from deployc.compiler import api
from deployc.compiler.api import ParserSupport

CITE = "TensorRT-LLM tensorrt_llm/serve/tool_parser/ and tensorrt_llm/llmapi/reasoning_parser.py"

AUTO: dict[str, tuple[str | None, str | None]] = {
    "kimi-k2": ("kimi_k2", None),
    "deepseek-r1": (None, "deepseek-r1"),
    "deepseek-v3.1": ("deepseek_v31", None),
    "deepseek-v3": ("deepseek_v3", None),
    "qwen3-coder": ("qwen3_coder", None),
    "qwen3": ("qwen3", "qwen3"),
}


@cache
def support(version: str) -> ParserSupport:
    from deployc.targets.tensorrt_llm.serve_checks import table
    return api.parser_support(f"TensorRT-LLM {version}", table(version), "--tool_parser", "--reasoning_parser",
                              AUTO, CITE)
