"""Turn a real argparse parser into a JSON option table (stdlib only; no engine import here).

The engine entry points (vllm_options.py, sglang_options.py) run under an engine venv's python,
build the parser exactly as the engine's CLI does, and hand it to table(). What is recorded per
option, keyed by its first long spelling (the first `--x` of its visible option strings):

  aliases     every other spelling the parser accepts for the same action, sorted: short forms,
              --no-X of BooleanOptionalAction, spellings an action hides from --help (read from
              parser._option_string_actions, which is what parsing consults)
  dest, nargs, required
  action      argparse's registry name for built-in actions ("store", "store_true",
              "BooleanOptionalAction", ...), else the class name
  type        "int"/"str"/"float"/"bool"/"json" or the converter's name, closures with what they
              wrap, e.g. "optional_type(int)"; null when argparse keeps the string
  choices     list or null
  default     JSON value, or {"repr": ...} when it is not JSON (sets, enums, config objects)
  deprecated  argparse's own mark (Python 3.13 `deprecated=`, or the set an engine keeps for it),
              or the option's help saying so (_deprecated has the exact rule)
  hidden      help=SUPPRESS (accepted but not in --help)
  const       only for *_const actions

Determinism: dict keys are sorted, reprs lose memory addresses, nothing depends on the clock.
Provenance of the engine wheel comes from the pip report conformance/install*.sh writes into each
venv (.deployc-pip-report.json), so it is the exact file pip installed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import sys
import sysconfig
import traceback
from typing import Any
from collections.abc import Callable, Iterator

REPORT_NAME = ".deployc-pip-report.json"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_BUILTIN_ACTIONS = {
    argparse._StoreAction: "store",
    argparse._StoreConstAction: "store_const",
    argparse._StoreTrueAction: "store_true",
    argparse._StoreFalseAction: "store_false",
    argparse._AppendAction: "append",
    argparse._AppendConstAction: "append_const",
    argparse._CountAction: "count",
    argparse._HelpAction: "help",
    argparse._VersionAction: "version",
    argparse._SubParsersAction: "parsers",
    argparse._ExtendAction: "extend",
    argparse.BooleanOptionalAction: "BooleanOptionalAction",
}
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def action_name(action: argparse.Action) -> str:
    return _BUILTIN_ACTIONS.get(type(action)) or type(action).__name__


def type_name(t: Any, _depth: int = 0) -> str | None:
    """A stable, readable name for an argparse `type=` converter."""
    if t is None:
        return None
    if _depth > 3:
        return "..."
    if t is json.loads:
        return "json"
    if isinstance(t, type):
        return t.__name__ if t.__module__ == "builtins" else t.__qualname__
    if isinstance(t, functools.partial):
        return f"partial({type_name(t.func, _depth + 1)})"
    qualname = getattr(t, "__qualname__", None)
    if qualname is None:  # a callable object
        return type(t).__qualname__
    leaf = qualname.rsplit(".", 1)[-1]
    if leaf == "<lambda>":
        return "lambda"
    name = leaf.lstrip("_") or leaf
    wrapped = []
    for cell in getattr(t, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # empty cell
            continue
        if isinstance(value, type) or value is json.loads or (callable(value) and hasattr(value, "__qualname__")):
            wrapped.append(type_name(value, _depth + 1))
    for value in getattr(t, "__defaults__", None) or ():
        if isinstance(value, type):
            wrapped.append(type_name(value, _depth + 1))
    return f"{name}({', '.join(w for w in wrapped if w)})" if wrapped else name


def clean_repr(v: Any) -> str:
    return _ADDRESS.sub("", repr(v))


def json_value(v: Any) -> Any:
    """v itself when it is plain JSON (finite floats, str keys), else {"repr": repr(v)}."""
    def plain(x: Any) -> bool:
        if x is None or isinstance(x, (bool, int, str)):
            return True
        if isinstance(x, float):
            return x == x and x not in (float("inf"), float("-inf"))
        if type(x) in (list, tuple):
            return all(plain(i) for i in x)
        if type(x) is dict:
            return all(isinstance(k, str) and plain(i) for k, i in x.items())
        return False

    if plain(v):
        return list(v) if isinstance(v, tuple) else v
    return {"repr": clean_repr(v)}


def _choices(action: argparse.Action) -> list | None:
    c = action.choices
    if c is None or isinstance(action, argparse._SubParsersAction):
        return None
    if isinstance(c, (set, frozenset)):
        return sorted((json_value(x) for x in c), key=json.dumps)
    return [json_value(x) for x in c]


_HELP_MARK = re.compile(r"\[deprecated\]|\(deprecated\)|^deprecated\.|(?:^|[\s.])deprecated:", re.IGNORECASE)


def _deprecated(parser: argparse.ArgumentParser, action: argparse.Action, spellings: list[str]) -> bool:
    """argparse's mark (Python 3.13 `deprecated=`, or the set vLLM's FlexibleArgumentParser keeps
    on older Pythons), an action class named Deprecated* (vLLM's DeprecatedLogConfigFileAction,
    SGLang's DeprecatedStoreTrueAction), or the option's own help marking it: "[DEPRECATED]",
    "(Deprecated)", "Deprecated:", a leading "Deprecated.", or "<one of its spellings or dest>
    is/has been deprecated"."""
    if getattr(action, "deprecated", False) or type(action).__name__.startswith("Deprecated"):
        return True
    marked = getattr(parser, "_deprecated", None)
    if marked and action in marked:
        return True
    text = " ".join(str(action.help or "").split())
    if action.help == argparse.SUPPRESS or not text:
        return False
    if _HELP_MARK.search(text):
        return True
    low = text.lower()
    return any(f"{name} {verb} deprecated" in low for name in [*spellings, action.dest, "this option", "this flag",
                                                             "this argument"] for verb in ("is", "has been"))


def option_table(parser: argparse.ArgumentParser) -> tuple[dict, list]:
    """(options keyed by first long spelling, positionals in order) of one parser."""
    spellings: dict[int, list[str]] = {}
    for opt, action in parser._option_string_actions.items():
        spellings.setdefault(id(action), []).append(opt)
    options: dict[str, dict] = {}
    positionals: list[dict] = []
    for action in parser._actions:
        entry: dict[str, Any] = {
            "dest": action.dest,
            "action": action_name(action),
            "nargs": action.nargs,
            "type": type_name(action.type),
            "choices": _choices(action),
            "default": json_value(action.default),
            "required": bool(action.required),
            "deprecated": _deprecated(parser, action, spellings.get(id(action), [])),
            "hidden": action.help == argparse.SUPPRESS,
        }
        if isinstance(action, (argparse._StoreConstAction, argparse._AppendConstAction)) and not isinstance(
                action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            entry["const"] = json_value(action.const)
        if not action.option_strings:
            positionals.append(entry)
            continue
        longs = [s for s in action.option_strings if s.startswith("--")]
        key = (longs or action.option_strings)[0]
        if key in options:
            raise ValueError(f"two actions have the first spelling {key}")
        entry["aliases"] = sorted(set(spellings.get(id(action), [])) - {key})
        options[key] = entry
    return dict(sorted(options.items())), positionals


@contextlib.contextmanager
def add_argument_callers(skip_files: tuple[str, ...] = ()) -> Iterator[set[str]]:
    """Collect the source files whose code calls add_argument while the parser is built (the
    first frame outside argparse, outside skip_files and outside any add_argument override)."""
    files: set[str] = set()
    original = argparse._ActionsContainer.add_argument
    argparse_file = os.path.abspath(argparse.__file__)
    skip = {os.path.abspath(f) for f in skip_files}

    def recording(self, *args, **kwargs):
        frame = sys._getframe(1)
        while frame is not None:
            path = os.path.abspath(frame.f_code.co_filename)
            if path != argparse_file and path not in skip and frame.f_code.co_name != "add_argument":
                files.add(path)
                break
            frame = frame.f_back
        return original(self, *args, **kwargs)

    argparse._ActionsContainer.add_argument = recording
    try:
        yield files
    finally:
        argparse._ActionsContainer.add_argument = original


def site_relative(paths) -> list[str]:
    """Paths under site-packages as 'pkg/module.py', sorted; others are dropped."""
    site = os.path.abspath(sysconfig.get_paths()["purelib"]) + os.sep
    return sorted({os.path.abspath(p)[len(site):].replace(os.sep, "/") for p in paths
                   if p and os.path.abspath(p).startswith(site)})


def wheel_source(dist: str) -> dict:
    """package, wheel file name and sha256 of `dist` as pip installed it into this venv."""
    from importlib import metadata

    version = metadata.version(dist)
    report_path = os.path.join(sys.prefix, REPORT_NAME)
    if not os.path.exists(report_path):
        raise SystemExit(f"{report_path} is missing: rebuild this venv with conformance/install.sh "
                         "(it records the wheel pip installed)")
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        if meta.get("name", "").lower().replace("_", "-") == dist.lower() and meta.get("version") == version:
            info = item["download_info"]
            url = info["url"]
            sha = (info.get("archive_info", {}).get("hashes") or {}).get("sha256")
            if not sha:
                raise SystemExit(f"{report_path}: no sha256 for {url}")
            return {"package": f"{dist}=={version}", "wheel": url.rsplit("/", 1)[-1].split("#")[0], "sha256": sha}
    raise SystemExit(f"{report_path} does not list {dist}=={version}")


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def quiet_stdout() -> Any:
    """Send everything printed to fd 1 to stderr from now on (engines log to stdout); return a
    file object on the real stdout for the JSON document."""
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def main(engine: str, build: Callable[[], dict], argv: list[str] | None = None) -> int:
    """Shared command line: build() returns the document; it goes to --out (default
    targets/<engine>/engine_options/<version>.json in this repository) or to stdout with --out -."""
    ap = argparse.ArgumentParser(description=f"Write {engine}'s real option table as JSON.")
    ap.add_argument("--out", help="file to write, or - for stdout (default: targets/<engine>/engine_options/<version>.json)")
    opts = ap.parse_args(argv)
    json_out = quiet_stdout()
    try:
        doc = build()
    except SystemExit:
        raise
    except Exception:
        print(f"{engine} option extraction FAILED under {sys.executable}:\n{traceback.format_exc()}", file=sys.stderr)
        return 3
    text = dumps(doc)
    if opts.out == "-":
        json_out.write(text)
        json_out.flush()
        return 0
    path = opts.out or os.path.join(REPO, "targets", engine, "engine_options", f"{doc['version']}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"{path}: {len(doc['options'])} options", file=sys.stderr)
    return 0
