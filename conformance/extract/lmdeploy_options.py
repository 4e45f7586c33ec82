#!/usr/bin/env python3
"""Write LMDeploy's `lmdeploy serve api_server` option table: targets/lmdeploy/engine_options/<version>.json.

Run with the python of a venv made by conformance/install_lmdeploy.sh:

    .conformance/lmdeploy-0.18.0/bin/python conformance/extract/lmdeploy_options.py          # write the file
    .conformance/lmdeploy-0.18.0/bin/python conformance/extract/lmdeploy_options.py --out -  # print it

The parser is the one the `lmdeploy` console script builds (lmdeploy/cli/entrypoint.py run():
CLI.add_parsers(), SubCliServe.add_parsers()), taken from SubCliServe's subparsers as `api_server`;
nothing here re-implements it. Besides the options (argparse_table.py says what is recorded):
- registries: the tool-call and reasoning parsers LMDeploy registers (its parser takes any string
  and fails at launch on an unknown one), the KV cache quant policies, and the two backends'
  architecture lists that decide TurboMind or PyTorch: lmdeploy/turbomind/supported_models.py
  SUPPORTED_ARCHS (what lmdeploy.archs.autoget_backend consults) and
  lmdeploy/pytorch/models/module_map.py MODULE_MAP (the PyTorch engine's model classes);
- prefix_matching: the parser's allow_abbrev.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:1] = [HERE]

import argparse_table as at  # noqa: E402

EXTRACTOR = "conformance/extract/lmdeploy_options.py"
_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def real_parser():
    """The `lmdeploy serve api_server` subparser, built as the console script builds it."""
    from lmdeploy.cli.cli import CLI
    from lmdeploy.cli.serve import SubCliServe

    CLI.add_parsers()
    SubCliServe.add_parsers()
    return SubCliServe.subparsers.choices["api_server"]


def _registry(candidates):
    """(names, 'module.attr', file) of the first Registry (module_dict) that imports."""
    for module_name, attr in candidates:
        with contextlib.suppress(Exception):
            module = importlib.import_module(module_name)
            value = getattr(module, attr)
            names = value.module_dict.keys() if hasattr(value, "module_dict") else value
            return sorted(set(names)), f"{module_name}.{attr}", module.__file__
    return None, None, None


def _turbomind_archs_from_source():
    """SUPPORTED_ARCHS read from lmdeploy/turbomind/supported_models.py without importing it: in
    0.9 importing lmdeploy.turbomind loads the CUDA extension (_turbomind), absent on this CPU box."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("lmdeploy")
    path = os.path.join(os.path.dirname(spec.origin), "turbomind", "supported_models.py")
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SUPPORTED_ARCHS" for t in node.targets):
            return (sorted(k.arg for k in node.value.keywords),
                    "lmdeploy.turbomind.supported_models.SUPPORTED_ARCHS (read from the source)", path)
    return None, None, None


def registries(options: dict) -> tuple[dict, list[str]]:
    out, files = {}, []
    specs = [
        ("tool_call_parser", "--tool-call-parser",
         [("lmdeploy.serve.parsers.tool_parser", "ToolParserManager"),
          ("lmdeploy.serve.openai.tool_parser", "ToolParserManager")]),
        ("reasoning_parser", "--reasoning-parser",
         [("lmdeploy.serve.parsers.reasoning_parser", "ReasoningParserManager"),
          ("lmdeploy.serve.openai.reasoning_parser", "ReasoningParserManager")]),
        ("turbomind_archs", None, [("lmdeploy.turbomind.supported_models", "SUPPORTED_ARCHS")]),
        ("pytorch_archs", None, [("lmdeploy.pytorch.models.module_map", "MODULE_MAP")]),
    ]
    for key, option, candidates in specs:
        names, where, source = _registry(candidates)
        if names is None and key == "turbomind_archs":
            names, where, source = _turbomind_archs_from_source()
        if names is None:
            continue
        if key == "reasoning_parser":   # 0.18 also takes its legacy names (reasoning_parser.py)
            legacy, _, _ = _registry([("lmdeploy.serve.parsers.reasoning_parser.reasoning_parser",
                                       "LEGACY_REASONING_PARSER_NAMES")])
            names = sorted(set(names) | set(legacy or ()))
        out[key] = {"from": where, "option": option, "names": names, "enforced_by_parser": False}
        files.append(source)
    quant = options.get("--quant-policy") or {}
    if quant.get("choices"):
        out["quant_policy"] = {"from": "--quant-policy choices", "option": "--quant-policy",
                               "names": [str(c) for c in quant["choices"]], "enforced_by_parser": True}
    else:
        with contextlib.suppress(Exception):
            from lmdeploy.messages import QuantPolicy
            names = sorted({p.name.lower() for p in QuantPolicy} | {str(p.value) for p in QuantPolicy} | {"fp8_e4m3"})
            out["quant_policy"] = {"from": "lmdeploy.messages.QuantPolicy (names, values, fp8_e4m3)",
                                   "option": "--quant-policy", "names": names, "enforced_by_parser": True}
            files.append(inspect.getsourcefile(QuantPolicy))
    return out, files


def build() -> dict:
    for k, v in _ENV.items():
        os.environ.setdefault(k, v)
    sys.argv = ["lmdeploy"]
    from importlib import metadata

    version = metadata.version("lmdeploy")
    with at.add_argument_callers() as callers:
        parser = real_parser()
    options, positionals = at.option_table(parser)
    regs, reg_files = registries(options)
    import lmdeploy.cli.entrypoint as entrypoint

    files = set(callers) | set(reg_files) | {inspect.getsourcefile(entrypoint)}
    return {
        "engine": "lmdeploy",
        "version": version,
        "command": ["lmdeploy", "serve", "api_server"],
        "parser": "argparse",
        "python": "%d.%d" % sys.version_info[:2],
        "source": {**at.wheel_source("lmdeploy"), "files": at.site_relative(files)},
        "extractor": EXTRACTOR,
        "options": options,
        "positionals": positionals,
        "prefix_matching": bool(parser.allow_abbrev),
        "normalizes_underscores": False,
        "registries": regs,
    }


if __name__ == "__main__":
    sys.exit(at.main("lmdeploy", build))
