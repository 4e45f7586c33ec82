#!/usr/bin/env python3
"""Parse `vllm serve ...` argvs with vLLM's REAL CLI parser (conformance tier).

Run with the python of a venv made by conformance/install.sh, e.g.

    echo '[{"id": "a", "argv": ["vllm", "serve", "Qwen/Qwen2.5-7B-Instruct",
            "--dtype", "bfloat16"]}]' | .conformance/vllm-0.33.0/bin/python \
        conformance/vllm_probe.py

stdin:  JSON list of {"id": str, "argv": ["vllm", "serve", MODEL, ...]}
stdout: JSON {"vllm_version", "platform", "parser_path", "quantization_methods",
              "deprecated_quantization_methods", "kv_cache_dtypes", "model_dtypes",
              "tool_call_parsers", "reasoning_parsers",
              "results": [{"id", "ok", "stage", "error", "warnings",
                           "namespace", "set"}]}

The parser is built exactly as `vllm.entrypoints.cli.main.main()` builds it
(top-level FlexibleArgumentParser + `serve` subcommand registered through the
serve module's cmd_init()/subparser_init()), and argv[1:] is parsed by the
top-level parser, so FlexibleArgumentParser's own `serve` pre-processing
(--model handling, --config YAML, dash/underscore normalisation, -O<n>, JSON
dotted args) runs too. After a successful parse the subcommand's validate()
runs (as the CLI does before dispatch), then --quantization / --kv-cache-dtype
/ --dtype / --tool-call-parser / --reasoning-parser are checked against vLLM's
own tables at that version (QUANTIZATION_METHODS, KV_CACHE_DTYPES or
get_args(CacheDType), get_args(ModelDType), the parser managers'
list_registered()), because the parsers accept any string for some of them.
The parser names are only checked when no --*-parser-plugin is given.

With "parallel": true in an item, vLLM's own ParallelConfig is built from the parsed parallel
options and its result reported as "parallel" {distributed_executor_backend, world_size, nnodes,
node_rank, nnodes_within_dp, node_rank_within_dp, local_world_size} (a failure: stage "parallel").

"stage" of a failure: "argv" (not a vllm serve argv), "parse" (argparse /
FlexibleArgumentParser rejected it; "error" holds its stderr), "validate"
(the subcommand's validate() raised), "table" (value not in vLLM's table).
"set" holds only the dests whose value differs from a bare `vllm serve` parse.
Only stdlib + vllm are imported; all vLLM logging goes to stderr, stdout
carries only the JSON document.  Flags: --brief (omit "namespace"),
--indent N.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import enum
import importlib
import io
import json
import logging
import os
import sys
import traceback
from typing import Any, get_args

_ENV_DEFAULTS = {
    "VLLM_TARGET_DEVICE": "cpu",
    "VLLM_LOGGING_STREAM": "ext://sys.stderr",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


class ProbeSetupError(RuntimeError):
    pass


def _first_attr(candidates: list[tuple[str, str]]) -> tuple[Any, str]:
    """Return the first importable module attribute, with where it came from."""
    errors = []
    for mod_name, attr in candidates:
        try:
            mod = importlib.import_module(mod_name)
        except Exception as e:
            errors.append(f"{mod_name}: {type(e).__name__}: {e}")
            continue
        if hasattr(mod, attr):
            return getattr(mod, attr), f"{mod_name}.{attr}"
        errors.append(f"{mod_name}: has no attribute {attr!r}")
    raise ProbeSetupError(
        "none of the known code paths worked:\n  " + "\n  ".join(errors)
    )


def _ensure_platform() -> str:
    """vLLM resolves a platform lazily; on a CPU-only box with a CUDA wheel it
    is UnspecifiedPlatform, and some versions (0.11.x) then fail while building
    the engine-arg defaults ("Failed to infer device type"). Do what vLLM's
    own CLI does for `vllm bench` in that case: switch to CpuPlatform."""
    from vllm import platforms

    try:
        cur = platforms.current_platform
        unspecified = cur.is_unspecified()
    except Exception:
        unspecified = True
    if unspecified:
        from vllm.platforms.cpu import CpuPlatform

        platforms.current_platform = CpuPlatform()
    return type(platforms.current_platform).__name__


def build_parser():
    """Build the top-level `vllm` parser with the real `serve` subcommand,
    mirroring vllm/entrypoints/cli/main.py. Returns (parser, serve_cmd, path)."""
    import importlib.metadata as md

    FlexibleArgumentParser, fap_path = _first_attr(
        [
            ("vllm.utils.argparse_utils", "FlexibleArgumentParser"),  # >=0.11
            ("vllm.utils", "FlexibleArgumentParser"),  # older
        ]
    )
    serve_cmd_init, serve_path = _first_attr(
        [("vllm.entrypoints.cli.serve", "cmd_init")]
    )
    epilog_tmpl, _ = _first_attr(
        [
            ("vllm.entrypoints.common.startup", "VLLM_SUBCMD_PARSER_EPILOG"),
            ("vllm.entrypoints.utils", "VLLM_SUBCMD_PARSER_EPILOG"),
        ]
    )

    parser = FlexibleArgumentParser(
        description="vLLM CLI", epilog=epilog_tmpl.format(subcmd="[subcommand]")
    )
    parser.add_argument(
        "-v", "--version", action="version", version=md.version("vllm")
    )
    subparsers = parser.add_subparsers(required=False, dest="subparser")
    serve_cmd = None
    for cmd in serve_cmd_init():
        cmd.subparser_init(subparsers).set_defaults(dispatch_function=cmd.cmd)
        if cmd.name == "serve":
            serve_cmd = cmd
    if serve_cmd is None:
        raise ProbeSetupError(f"{serve_path}() returned no 'serve' subcommand")
    return parser, serve_cmd, f"{fap_path} + {serve_path}().subparser_init"


def load_tables() -> dict[str, list[str]]:
    qmod = importlib.import_module("vllm.model_executor.layers.quantization")
    quant = list(getattr(qmod, "QUANTIZATION_METHODS", None) or [])
    if not quant:
        quant = list(get_args(qmod.QuantizationMethods))
    deprecated = list(getattr(qmod, "DEPRECATED_QUANTIZATION_METHODS", []) or [])

    kv: list[str] = []
    errors = []
    for mod_name in ("vllm.config.cache", "vllm.config"):
        try:
            cmod = importlib.import_module(mod_name)
        except Exception as e:
            errors.append(f"{mod_name}: {e}")
            continue
        # KV_CACHE_DTYPES (newer) is the mutable mirror incl. registered dtypes
        kv = list(getattr(cmod, "KV_CACHE_DTYPES", None) or [])
        if not kv and hasattr(cmod, "CacheDType"):
            kv = list(get_args(cmod.CacheDType))
        if kv:
            break
    if not kv:
        raise ProbeSetupError("cannot find CacheDType/KV_CACHE_DTYPES: " + "; ".join(errors))

    mdt: list[str] = []
    for mod_name in ("vllm.config.model", "vllm.config"):
        try:
            mmod = importlib.import_module(mod_name)
        except Exception:
            continue
        if hasattr(mmod, "ModelDType"):
            mdt = list(get_args(mmod.ModelDType))
            break
    def registered(candidates: list[tuple[str, str]]) -> list[str]:
        try:
            mgr, _ = _first_attr(candidates)
            return sorted(mgr.list_registered())
        except Exception:
            return []

    return {
        "quantization_methods": quant,
        "deprecated_quantization_methods": deprecated,
        "kv_cache_dtypes": kv,
        "model_dtypes": mdt,
        "tool_call_parsers": registered(
            [
                ("vllm.tool_parsers", "ToolParserManager"),
                ("vllm.entrypoints.openai.tool_parsers", "ToolParserManager"),
            ]
        ),
        "reasoning_parsers": registered(
            [("vllm.reasoning", "ReasoningParserManager")]
        ),
    }


def jsonable(v: Any, _depth: int = 0) -> Any:
    """JSON-safe copy: dataclasses -> dict of fields, enums -> value, rest str()."""
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else str(v)
    if _depth > 12:
        return str(v)
    d = _depth + 1
    if isinstance(v, enum.Enum):
        return v.value if isinstance(v.value, (str, int, float)) else str(v)
    if isinstance(v, dict):
        return {str(k): jsonable(x, d) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [jsonable(x, d) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        try:  # e.g. LoRAModulePath(name=..., path=...) -> {"name":..., "path":...}
            return {f.name: jsonable(getattr(v, f.name), d) for f in dataclasses.fields(v)}
        except Exception:
            pass
    return str(v)


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append(f"{record.levelname}: {record.getMessage()}")
        except Exception:
            self.records.append(f"{record.levelname}: {record.msg}")


def _check_tables(ns: argparse.Namespace, tables: dict) -> list[str]:
    errs = []
    checks = [
        ("quantization", "--quantization", tables["quantization_methods"]),
        ("kv_cache_dtype", "--kv-cache-dtype", tables["kv_cache_dtypes"]),
        ("dtype", "--dtype", tables["model_dtypes"]),
    ]
    # plugins may register further parser names: only check without them
    if not getattr(ns, "tool_parser_plugin", None):
        checks.append(("tool_call_parser", "--tool-call-parser", tables["tool_call_parsers"]))
    if not getattr(ns, "reasoning_parser_plugin", None):
        checks.append(("reasoning_parser", "--reasoning-parser", tables["reasoning_parsers"]))
    for dest, flag, allowed in checks:
        if not allowed or not hasattr(ns, dest):
            continue
        val = getattr(ns, dest)
        if val is None or not isinstance(val, str):
            continue
        if val == "" and dest in ("tool_call_parser", "reasoning_parser"):
            continue
        if val not in allowed:
            errs.append(f"{flag}: invalid value {val!r}; vLLM accepts: {allowed}")
    return errs


def probe_one(parser, serve_cmd, tables, baseline, item) -> dict:
    res: dict[str, Any] = {
        "id": item.get("id"),
        "ok": False,
        "stage": None,
        "error": None,
        "warnings": [],
        "namespace": None,
        "set": None,
    }
    argv = item.get("argv")
    if (
        not isinstance(argv, list)
        or len(argv) < 2
        or not all(isinstance(a, str) for a in argv)
        or argv[1] != "serve"
    ):
        res["stage"] = "argv"
        res["error"] = "argv must be a list of strings starting with <vllm> serve"
        return res

    collector = _Collector()
    vlog = logging.getLogger("vllm")
    vlog.addHandler(collector)
    err, out = io.StringIO(), io.StringIO()
    ns = None
    # Relative paths (e.g. --chat-template) are checked from where the server starts:
    # for deployc's serve.sh that is the spec's folder, given here as "cwd".
    home = os.getcwd()
    if item.get("cwd"):
        os.chdir(item["cwd"])
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                ns = parser.parse_args(list(argv[1:]))
            except SystemExit as e:
                res["stage"] = "parse"
                msg = err.getvalue().strip() or out.getvalue().strip()
                res["error"] = msg or f"parser exited with status {e.code}"
                if e.code in (0, None):
                    res["error"] = "parser exited with status 0 (--help/--version?)"
            except Exception as e:
                res["stage"] = "parse"
                res["error"] = f"{type(e).__name__}: {e}"
            if ns is not None:
                try:
                    serve_cmd.validate(ns)
                except SystemExit as e:
                    res["stage"] = "validate"
                    res["error"] = err.getvalue().strip() or f"exit {e.code}"
                except Exception as e:
                    res["stage"] = "validate"
                    res["error"] = f"{type(e).__name__}: {e}"
    finally:
        vlog.removeHandler(collector)
        os.chdir(home)
    res["warnings"] = collector.records

    if ns is not None:
        d = {k: jsonable(v) for k, v in sorted(vars(ns).items())}
        d.pop("dispatch_function", None)
        res["namespace"] = d
        res["set"] = {k: v for k, v in d.items() if k not in baseline or baseline[k] != v}
        if res["stage"] is None:
            terrs = _check_tables(ns, tables)
            if terrs:
                res["stage"] = "table"
                res["error"] = "; ".join(terrs)
            else:
                res["ok"] = True
        if res["ok"] and item.get("parallel"):
            res["parallel"] = _parallel(ns, res)
    return res


def _parallel(ns: argparse.Namespace, res: dict) -> dict | None:
    """With "parallel": true, vLLM's own ParallelConfig built from the parsed parallel options: the
    backend it picks and how it splits the world over the nodes (no GPU needed; stage "parallel")."""
    from vllm.config import ParallelConfig

    keys = ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "data_parallel_size_local",
            "nnodes", "node_rank", "master_addr", "master_port", "distributed_executor_backend")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            pc = ParallelConfig(**{k: getattr(ns, k) for k in keys if getattr(ns, k, None) is not None})
    except Exception as e:
        res["ok"], res["stage"], res["error"] = False, "parallel", f"{type(e).__name__}: {e}"
        return None
    return {k: jsonable(getattr(pc, k, None)) for k in (
        "distributed_executor_backend", "world_size", "nnodes", "node_rank", "nnodes_within_dp",
        "node_rank_within_dp", "local_world_size")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brief", action="store_true", help="omit full namespace")
    ap.add_argument("--indent", type=int, default=None)
    opts = ap.parse_args()

    # Keep stdout clean for JSON: everything else (vLLM loggers print to
    # stdout by default, C extensions may print too) goes to stderr, at the
    # fd level, before vllm is imported.
    json_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for k, v in _ENV_DEFAULTS.items():
        os.environ.setdefault(k, v)

    try:
        items = json.load(sys.stdin)
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError("stdin must be a JSON list of objects")
    except Exception as e:
        print(f"vllm_probe: bad input: {e}", file=sys.stderr)
        return 2

    try:
        import vllm  # noqa: F401
        import importlib.metadata as md

        version = md.version("vllm")
        sys.argv = ["vllm"]  # argparse derives prog ("vllm ...") from argv[0]
        platform = _ensure_platform()
        parser, serve_cmd, path = build_parser()
        tables = load_tables()
        with contextlib.redirect_stderr(io.StringIO()):
            base_ns = parser.parse_args(["serve"])
        baseline = {k: jsonable(v) for k, v in vars(base_ns).items()}
    except Exception:
        print(
            "vllm_probe: FAILED to build vLLM's serve parser in this interpreter "
            f"({sys.executable}). Is this a venv made by conformance/install.sh?\n"
            + traceback.format_exc(),
            file=sys.stderr,
        )
        return 3

    results = [probe_one(parser, serve_cmd, tables, baseline, it) for it in items]
    if opts.brief:
        for r in results:
            r.pop("namespace", None)
    doc = {
        "vllm_version": version,
        "platform": platform,
        "parser_path": path,
        **tables,
        "results": results,
    }
    json.dump(doc, json_out, indent=opts.indent)
    json_out.write("\n")
    json_out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
