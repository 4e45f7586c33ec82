#!/usr/bin/env python3
"""Write vLLM's `vllm serve` option table: targets/vllm/engine_options/<version>.json.

Run with the python of a venv made by conformance/install.sh:

    .conformance/vllm-0.34.0/bin/python conformance/extract/vllm_options.py          # write the file
    .conformance/vllm-0.34.0/bin/python conformance/extract/vllm_options.py --out -  # print it

The parser is the one conformance/vllm_probe.py builds, as vllm/entrypoints/cli/main.py does (a
top-level FlexibleArgumentParser with the serve module's cmd_init()/subparser_init()); the table
walks the `serve` subparser's actions (argparse_table.py says what is recorded). Besides the
options it records:
- normalizes_underscores: whether `vllm serve --max_model_len=1234` reaches max_model_len when
  the top-level parser parses it (FlexibleArgumentParser.parse_args rewrites `--a_b` to `--a-b`);
- prefix_matching: the serve parser's allow_abbrev;
- registries: the names vLLM checks later, or never, for options its parser takes as any string
  (quantization methods, kv-cache dtypes, tool-call and reasoning parsers, speculative methods:
  the "method" of --speculative-config and, where it exists, --spec-method; model dtypes), each
  with the module attribute it came from and whether the parser itself enforces it (choices);
- platform: the vLLM platform the parser was built on (CpuPlatform here). Only choices of
  --mm-processor-device (0.34) depend on it: a GPU host adds its device type.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import os
import sys
from typing import get_args

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:1] = [HERE, os.path.dirname(HERE)]  # argparse_table, then conformance/ for vllm_probe

import argparse_table as at  # noqa: E402
import vllm_probe  # noqa: E402

EXTRACTOR = "conformance/extract/vllm_options.py"


def _attr(candidates: list[tuple[str, str]]):
    """(value, 'module.attr', module file) of the first candidate that imports."""
    value, where = vllm_probe._first_attr(candidates)
    module = importlib.import_module(where.rsplit(".", 1)[0])
    return value, where, getattr(module, "__file__", None)


def registries(options: dict) -> tuple[dict, list[str]]:
    out, files = {}, []

    def add(key, option, where, names, source):
        names = sorted(set(names))
        choices = (options.get(option) or {}).get("choices") if option else None
        out[key] = {"from": where, "option": option, "names": names,
                    "enforced_by_parser": bool(choices) and set(names) <= set(choices)}
        files.append(source)

    qmod = importlib.import_module("vllm.model_executor.layers.quantization")
    if getattr(qmod, "QUANTIZATION_METHODS", None):
        add("quantization", "--quantization", "vllm.model_executor.layers.quantization.QUANTIZATION_METHODS",
            qmod.QUANTIZATION_METHODS, qmod.__file__)
    else:
        add("quantization", "--quantization", "vllm.model_executor.layers.quantization.QuantizationMethods",
            get_args(qmod.QuantizationMethods), qmod.__file__)
    if hasattr(qmod, "DEPRECATED_QUANTIZATION_METHODS"):
        add("deprecated_quantization", "--quantization",
            "vllm.model_executor.layers.quantization.DEPRECATED_QUANTIZATION_METHODS",
            qmod.DEPRECATED_QUANTIZATION_METHODS, qmod.__file__)

    cmod = importlib.import_module("vllm.config.cache")
    if getattr(cmod, "KV_CACHE_DTYPES", None):
        add("kv_cache_dtype", "--kv-cache-dtype", "vllm.config.cache.KV_CACHE_DTYPES", cmod.KV_CACHE_DTYPES,
            cmod.__file__)
    else:
        add("kv_cache_dtype", "--kv-cache-dtype", "vllm.config.cache.CacheDType", get_args(cmod.CacheDType),
            cmod.__file__)

    mmod = importlib.import_module("vllm.config.model")
    add("dtype", "--dtype", "vllm.config.model.ModelDType", get_args(mmod.ModelDType), mmod.__file__)

    mgr, where, source = _attr([("vllm.tool_parsers", "ToolParserManager"),
                                ("vllm.entrypoints.openai.tool_parsers", "ToolParserManager")])
    add("tool_call_parser", "--tool-call-parser", where + ".list_registered()", mgr.list_registered(), source)
    mgr, where, source = _attr([("vllm.reasoning", "ReasoningParserManager")])
    add("reasoning_parser", "--reasoning-parser", where + ".list_registered()", mgr.list_registered(), source)

    smod = importlib.import_module("vllm.config.speculative")
    if hasattr(smod, "SpeculativeMethod"):
        # the "method" key of --speculative-config; 0.33 also has the --spec-method shortcut
        add("speculative_method", "--spec-method" if "--spec-method" in options else None,
            "vllm.config.speculative.SpeculativeMethod", get_args(smod.SpeculativeMethod), smod.__file__)
    return out, files


def _normalizes_underscores(parser) -> bool:
    """Parse `serve --max_model_len=1234` with the top-level parser, as the CLI would."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            ns = parser.parse_args(["serve", "--max_model_len=1234"])
    except SystemExit:
        return False
    return getattr(ns, "max_model_len", None) == 1234


def build() -> dict:
    for k, v in vllm_probe._ENV_DEFAULTS.items():
        os.environ.setdefault(k, v)
    # argparse derives prog from argv[0]. vLLM reads its config classes' docs into the options' help
    # only when an argv item contains --help (engine/arg_utils.py NEEDS_HELP, at import); those docs
    # carry some deprecation marks. `serve` must stay out of argv: `vllm serve --help` leaves
    # --model out of the parser (EngineArgs.add_cli_args).
    sys.argv = ["vllm", "--help"]
    import vllm  # noqa: F401
    from importlib import metadata

    version = metadata.version("vllm")
    platform = vllm_probe._ensure_platform()
    fap, _ = vllm_probe._first_attr([("vllm.utils.argparse_utils", "FlexibleArgumentParser"),
                                     ("vllm.utils", "FlexibleArgumentParser")])
    with at.add_argument_callers() as callers:
        parser, serve_cmd, _path = vllm_probe.build_parser()
    sys.argv = ["vllm"]
    serve = parser._subparsers._group_actions[0].choices["serve"]
    options, positionals = at.option_table(serve)
    regs, reg_files = registries(options)
    try:
        from vllm._version import commit_id
    except ImportError:
        commit_id = None
    if isinstance(commit_id, str) and commit_id.startswith("g"):
        commit_id = commit_id[1:]  # setuptools-scm writes g<abbreviated sha>
    files = set(callers) | set(reg_files) | {inspect.getsourcefile(fap), inspect.getsourcefile(type(serve_cmd))}
    return {
        "engine": "vllm",
        "version": version,
        "command": ["vllm", "serve"],
        "parser": "argparse",
        "python": "%d.%d" % sys.version_info[:2],
        "platform": platform,
        "source": {**at.wheel_source("vllm"), "commit": commit_id, "files": at.site_relative(files)},
        "extractor": EXTRACTOR,
        "options": options,
        "positionals": positionals,
        "prefix_matching": bool(serve.allow_abbrev),
        "normalizes_underscores": _normalizes_underscores(parser),
        "registries": regs,
    }


if __name__ == "__main__":
    sys.exit(at.main("vllm", build))
