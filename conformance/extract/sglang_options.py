#!/usr/bin/env python3
"""Write SGLang's server option table: targets/sglang/engine_options/<version>.json.

Run with the python of a venv made by conformance/install_sglang.sh:

    .conformance/sglang-0.5.23/bin/python conformance/extract/sglang_options.py          # write the file
    .conformance/sglang-0.5.23/bin/python conformance/extract/sglang_options.py --out -  # print it

The parser is the one sglang.srt.server_args.prepare_server_args builds, which is what both
launchers call: `python -m sglang.launch_server` (sglang/launch_server.py) and, in 0.5, `sglang
serve` (sglang/cli/serve.py, after it has taken --model-type and a positional model off argv).
prepare_server_args is called for real; argparse.ArgumentParser.parse_args is replaced for that
one call so it hands back the finished parser instead of parsing, so nothing here re-implements how
SGLang builds it. Besides the options (argparse_table.py says what is recorded):
- normalizes_underscores: whether `--context_length=1234` reaches context_length (plain argparse:
  no);
- prefix_matching: the parser's allow_abbrev;
- registries: quantization, kv-cache dtype, tool-call and reasoning parsers and speculative
  algorithms, from SGLang's own module-level tables where it has them, else the option's choices,
  with whether the parser enforces them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:1] = [HERE]

import argparse_table as at  # noqa: E402

EXTRACTOR = "conformance/extract/sglang_options.py"
_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


class _Parser(Exception):
    pass


def real_parser() -> argparse.ArgumentParser:
    """The parser prepare_server_args builds, caught at its parse_args call."""
    from sglang.srt.server_args import prepare_server_args

    original = argparse.ArgumentParser.parse_args

    def hand_back(self, args=None, namespace=None):
        raise _Parser(self)

    argparse.ArgumentParser.parse_args = hand_back
    try:
        prepare_server_args([])
    except _Parser as caught:
        return caught.args[0]
    finally:
        argparse.ArgumentParser.parse_args = original
    raise RuntimeError("prepare_server_args returned without calling parse_args")


def _first(candidates):
    """(value, 'module.attr', module file) of the first (module, attr) that imports and has it."""
    for mod_name, attr in candidates:
        try:
            module = importlib.import_module(mod_name)
        except Exception:
            continue
        value = module
        try:
            for part in attr.split("."):
                value = getattr(value, part)
        except AttributeError:
            continue
        return value, f"{mod_name}.{attr}", module.__file__
    return None, None, None


def registries(options: dict) -> tuple[dict, list[str]]:
    out, files = {}, []
    specs = [
        ("quantization", "--quantization", [("sglang.srt.arg_groups.choices", "QUANTIZATION_CHOICES")]),
        ("kv_cache_dtype", "--kv-cache-dtype", []),
        ("tool_call_parser", "--tool-call-parser", [("sglang.srt.function_call.parser_names", "TOOL_CALL_PARSER_NAMES"),
                                                    ("sglang.srt.function_call.function_call_parser",
                                                     "FunctionCallParser.ToolCallParserEnum")]),
        ("reasoning_parser", "--reasoning-parser", [("sglang.srt.parser.reasoning_parser_names", "REASONING_PARSER_NAMES"),
                                                    ("sglang.srt.reasoning_parser", "ReasoningParser.DetectorMap")]),
    ]
    for key, option, candidates in specs:
        choices = (options.get(option) or {}).get("choices")
        value, where, source = _first(candidates)
        if value is not None:
            names = sorted(set(value))
            files.append(source)
        elif choices:
            names, where = sorted(set(choices)), f"{option} choices"
        else:
            continue
        out[key] = {"from": where, "option": option, "names": names,
                    "enforced_by_parser": bool(choices) and set(names) <= set(choices)}
    # Speculative algorithms: 0.4 lists them as choices; 0.5 takes any string and looks it up in
    # SpeculativeAlgorithm (case-insensitive, plus reserved aliases and plugin registrations).
    option = "--speculative-algorithm"
    choices = (options.get(option) or {}).get("choices")
    enum, where, source = _first([("sglang.srt.speculative.spec_info", "SpeculativeAlgorithm")])
    if choices:
        out["speculative_algorithm"] = {"from": f"{option} choices", "option": option, "names": sorted(choices),
                                        "enforced_by_parser": True}
    elif enum is not None:
        aliases, awhere, asource = _first([("sglang.srt.speculative.spec_registry", "_RESERVED_ALIASES")])
        names = {m.name for m in enum if m.name != "NONE"} | set(aliases or ())
        out["speculative_algorithm"] = {
            "from": where + (f" members but NONE, + {awhere}" if awhere else " members but NONE"),
            "option": option, "names": sorted(names), "enforced_by_parser": False}
        files += [source] + ([asource] if asource else [])
    return out, files


def _normalizes_underscores(parser) -> bool:
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            ns, _rest = parser.parse_known_args(["--context_length=1234"])
    except SystemExit:
        return False
    return getattr(ns, "context_length", None) == 1234


def build() -> dict:
    for k, v in _ENV.items():
        os.environ.setdefault(k, v)
    sys.argv = ["sglang"]
    from importlib import metadata

    version = metadata.version("sglang")
    import sglang.srt.server_args as server_args

    with at.add_argument_callers() as callers:
        parser = real_parser()
    options, positionals = at.option_table(parser)
    regs, reg_files = registries(options)
    commit = None
    with contextlib.suppress(Exception):
        from sglang._version import commit_id as commit  # 0.5: None in the wheels
    if isinstance(commit, str) and commit.startswith("g"):
        commit = commit[1:]
    files = set(callers) | set(reg_files) | {inspect.getsourcefile(server_args)}
    # `sglang serve` where the version has it (0.5), else `python3 -m sglang.launch_server`
    command = ["python3", "-m", "sglang.launch_server"]
    for module, launcher in (("sglang.launch_server", None), ("sglang.cli.serve", ["sglang", "serve"])):
        try:
            spec = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            spec = None
        if spec and spec.origin:
            files.add(spec.origin)
            command = launcher or command
    return {
        "engine": "sglang",
        "version": version,
        "command": command,
        "parser": "argparse",
        "python": "%d.%d" % sys.version_info[:2],
        "source": {**at.wheel_source("sglang"), "commit": commit, "files": at.site_relative(files)},
        "extractor": EXTRACTOR,
        "options": options,
        "positionals": positionals,
        "prefix_matching": bool(parser.allow_abbrev),
        "normalizes_underscores": _normalizes_underscores(parser),
        "registries": regs,
    }


if __name__ == "__main__":
    sys.exit(at.main("sglang", build))
