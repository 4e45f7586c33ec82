#!/usr/bin/env python3
"""Ollama's Modelfile grammar, PARAMETER table and server environment, read from Ollama's Go source.

Regenerate every committed table (GIT_DIR: a clone, bare is fine, of ollama/ollama, e.g. the
search tool's `fetch` mirror):

    python3 conformance/extract/ollama.py GIT_DIR                    # v0.33.0-rc2 v0.32.15 v0.12.11
    python3 conformance/extract/ollama.py GIT_DIR v0.32.15 --stdout  # one table to stdout
    python3 conformance/extract/ollama.py GIT_DIR --since v0.32.15   # targets/ollama/feature_since.json

Writes targets/ollama/engine_options/<version>.json (the tag minus its `v`). Stdlib only. Only names,
Go types and default values are kept (no descriptions):
- "options": the PARAMETER names a Modelfile takes = the json tags of api.Options and api.Runner
  (api/types.go), parsed by api.FormatParams. dest is the Go field, type the Go type, default the
  value api.DefaultOptions() sets (Go zero value when it sets none: 0, nil -> null); a default that
  is not a literal is null and listed under "dynamic_defaults" with its Go expression. `stop`
  ([]string) may repeat. parser/parser.go deprecatedParameters are listed too, with
  deprecated: true and type null: ParseFile warns "parameter X is deprecated" and drops them.
- "modelfile_commands": Modelfile commands (parser/parser.go isValidCommand; case-insensitive).
- "env_vars": every variable envconfig.AsMap() reports (envconfig/config.go) with its kind
  (Bool/BoolWithDefault/String/Uint/Uint64 helper, or the Go type of a hand-written getter), the
  default that helper gives (BoolWithDefault: the value AsMap passes), "documented_default" (the
  "(default X)" of its AsMap text or "Default is X" of the getter's comment) and "only_if" (the
  runtime.GOOS condition AsMap adds it under).
- "commands": {"ollama create": its cobra flags (cmd/cmd.go createCmd.Flags(); cobra adds -h/--help)}.
- "quantize_levels": fs/ggml/type.go ParseFileType; "kv_cache_types": fs/ggml/ggml.go
  SupportsKVCacheType (plus f16, always accepted).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _src_common; removed again below
from _src_common import REPO_ROOT, GitTag, dumps, option, write

sys.path.pop(0)

REPO = "ollama/ollama"
TAGS = ("v0.33.0-rc2", "v0.32.15", "v0.12.11")
EXTRACTOR = "conformance/extract/ollama.py"


def block(text: str, start: str) -> str:
    i = text.index(start)
    return text[i:text.index("\n}", i)]


def go_literal(v: str):
    v = v.strip()
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    if re.fullmatch(r"-?\d+\.\d*", v):
        return float(v)
    if v in ("true", "false"):
        return v == "true"
    if v == "nil":
        return None
    if re.fullmatch(r'"(?:[^"\\]|\\.)*"', v):
        return v[1:-1]
    raise ValueError(v)


ZERO = {"int": 0, "float32": 0.0, "bool": False, "string": ""}


def parameters(types: str, parser: str) -> tuple[dict, dict]:
    defaults_src = block(types, "func DefaultOptions() Options")
    defaults, dynamic = {}, {}
    for field, value in re.findall(r"^\s+(\w+):\s+(.+?),\s*(?://.*)?$", defaults_src, re.MULTILINE):
        if field == "Runner":
            continue
        try:
            defaults[field] = go_literal(value)
        except ValueError:
            dynamic[field] = value
    options, dyn = {}, {}
    for struct in ("type Options struct", "type Runner struct"):
        for field, go_type, name in re.findall(r"^\s+(\w+)\s+(\S+)\s+`json:\"(\w+)", block(types, struct), re.MULTILINE):
            if field in dynamic:
                default = None
                dyn[name] = dynamic[field]
            elif field in defaults:
                default = defaults[field]
            else:
                default = ZERO.get(go_type)  # pointers and slices: nil
            if go_type == "float32" and isinstance(default, int):
                default = float(default)
            options[name] = option(dest=field, takes_value=True, type=go_type, default=default,
                                   multiple=go_type.startswith("[]"))
    for name in re.findall(r'"(\w+)"', block(parser, "var deprecatedParameters")):
        assert name not in options, name
        options[name] = option(dest=None, takes_value=True, type=None, deprecated=True)
    return options, dyn


def env_vars(text: str) -> dict[str, dict]:
    kinds = {}
    for name, kind, key, default in re.findall(
            r"^\s*(?:var )?(\w+)\s*=\s*(Bool|BoolWithDefault|String|Uint|Uint64)\(\"(\w+)\"(?:,\s*([^)]+))?\)",
            text, re.MULTILINE):
        kinds[name] = (kind, key, default)
    funcs = {}
    for m in re.finditer(r"((?://[^\n]*\n)*)func (\w+)\(\) \(?(?:\w+ )?([^){]+?)\)? \{", text):
        funcs[m.group(2)] = (m.group(3).strip(), m.group(1))
    body = block(text, "func AsMap() map[string]EnvVar")
    out, cond = {}, None
    for line in body.splitlines():
        c = re.match(r"\s*if (runtime\.GOOS [!=]= \"\w+\") \{", line)
        if c:
            cond = c.group(1)
            continue
        if re.match(r"\s*\}\s*$", line):
            cond = None
            continue
        m = (re.match(r'\s*"(\w+)":\s*\{"\w+",\s*(.+),\s*"((?:[^"\\]|\\.)*)"\},?\s*$', line)
             or re.match(r'\s*ret\["(\w+)"\] = EnvVar\{"\w+",\s*(.+),\s*"((?:[^"\\]|\\.)*)"\}\s*$', line))
        if not m:
            continue
        key, expr, desc = m.groups()
        documented = re.search(r'\(default:? (.+?)\)$', desc.replace('\\"', '"'))
        documented = documented.group(1).strip('"') if documented else None
        call = re.fullmatch(r"(\w+)\((.*)\)(\(\))?", expr)
        fn, arg, curried = call.groups()
        if curried or (fn == "String" and arg.startswith('"')):
            kind, default = "String", ""
        elif fn in kinds:
            kind, k, d = kinds[fn]
            assert k == key, (fn, k, key)
            default = {"Bool": False, "String": ""}.get(kind)
            if kind == "BoolWithDefault":
                default = go_literal(arg) if arg else None
            elif kind in ("Uint", "Uint64"):
                default = go_literal(d)
        elif fn in funcs:
            kind, doc = funcs[fn][0], funcs[fn][1]
            default = None
            if documented is None:
                d = re.search(r"Default is (.+?)\.?\n", doc)
                documented = d.group(1) if d else None
        else:
            raise ValueError(f"unresolved AsMap value for {key}: {expr}")
        out[key] = {"kind": kind, "default": default, "documented_default": documented, "only_if": cond}
    return out


def extract(src: GitTag) -> dict:
    parser = src.show("parser/parser.go")
    types = src.show("api/types.go")
    options, dynamic = parameters(types, parser)
    commands = re.findall(r'"(\w+)"', re.search(r"func isValidCommand.*?case (.*?):", parser, re.DOTALL).group(1))
    env = env_vars(src.show("envconfig/config.go"))
    ftype = src.show("fs/ggml/type.go")
    levels = re.findall(r'"([A-Z0-9_]+)"', re.search(r"func ParseFileType.*?default:", ftype, re.DOTALL).group(0))
    ggml = src.show("fs/ggml/ggml.go")
    kv = ["f16"] + re.findall(r'"(\w+)"', re.search(r"func \(f GGML\) SupportsKVCacheType.*?\n}", ggml, re.DOTALL)
                              .group(0).split("return slices.Contains")[1])
    cmd = src.show("cmd/cmd.go")
    flags = {}
    for kind, name, short, default in re.findall(
            r'createCmd\.Flags\(\)\.(\w+?)P?\("([\w-]+)",\s*(?:"(\w)",\s*)?([^,]+),', cmd):
        flags["--" + name] = option(aliases=["-" + short] if short else [], dest=name,
                                    takes_value=kind != "Bool", type=kind.lower(), default=go_literal(default))
    return {
        "engine": "ollama",
        "version": src.tag.lstrip("v"),
        "prerelease": "-rc" in src.tag,
        "parser": "go-modelfile",
        "source": src.source(REPO),
        "extractor": EXTRACTOR,
        "options": options,
        "dynamic_defaults": dynamic,
        "modelfile_commands": commands,
        "env_vars": env,
        "commands": {"ollama create": {"parser": "cobra", "options": flags}},
        "quantize_levels": levels,
        "kv_cache_types": sorted(set(kv)),
    }


STABLE_TAG = re.compile(r"v(\d+)\.(\d+)\.(\d+)")
SINCE_FILE = "targets/ollama/feature_since.json"


def feature_since(git_dir: str, newest: str) -> dict:
    """The first stable release tag (vX.Y.Z, in version order, up to `newest`) whose parser/parser.go
    isValidCommand lists each Modelfile command, and whose api/types.go Options/Runner structs have each
    PARAMETER's json tag, for every command and PARAMETER `newest` has. A tag whose files do not have that
    shape (the early parser had no isValidCommand) is skipped and counted under "tags_unreadable"."""
    listed = subprocess.run(["git", "--git-dir", git_dir, "tag"], check=True, capture_output=True, text=True).stdout
    tags = sorted((t for t in listed.split() if STABLE_TAG.fullmatch(t)),
                  key=lambda t: tuple(map(int, STABLE_TAG.fullmatch(t).groups())))
    tags = tags[:tags.index(newest) + 1]
    first: dict[str, dict[str, dict]] = {"modelfile_commands": {}, "parameters": {}}
    unreadable = []
    for tag in tags:
        src = GitTag(git_dir, tag)
        try:
            parser, types = src.show("parser/parser.go"), src.show("api/types.go")
            commands = re.findall(r'"(\w+)"', re.search(r"func isValidCommand.*?case (.*?):", parser, re.DOTALL).group(1))
            params = [name for struct in ("type Options struct", "type Runner struct")
                      for name in re.findall(r"`json:\"(\w+)", block(types, struct))]
        except (subprocess.CalledProcessError, AttributeError, ValueError):
            unreadable.append(tag)
            continue
        for kind, names in (("modelfile_commands", commands), ("parameters", params)):
            for name in names:
                first[kind].setdefault(name, {"version": tag.lstrip("v"), "tag": tag, "commit": src.commit})
    last = extract(GitTag(git_dir, newest))
    return {
        "engine": "ollama",
        "repo": REPO,
        "newest": newest,
        "extractor": EXTRACTOR,
        "tags_read": len(tags) - len(unreadable),
        "tags_unreadable": unreadable,
        # a feature whose first tag is this one may be older: the tags before it were not readable
        "first_readable_tag": next(t for t in tags if t not in unreadable),
        "modelfile_commands": {k: v for k, v in first["modelfile_commands"].items() if k in last["modelfile_commands"]},
        "parameters": {k: v for k, v in first["parameters"].items()
                       if k in last["options"] and not last["options"][k]["deprecated"]},
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("git_dir")
    ap.add_argument("tags", nargs="*", default=list(TAGS))
    ap.add_argument("--stdout", action="store_true", help="print the table(s) instead of writing them")
    ap.add_argument("--out", default=str(REPO_ROOT / "targets/ollama/engine_options"))
    ap.add_argument("--since", metavar="NEWEST_TAG",
                    help=f"write {SINCE_FILE}: the first stable release of each command and PARAMETER")
    args = ap.parse_args(argv)
    if args.since:
        data = feature_since(args.git_dir, args.since)
        if args.stdout:
            sys.stdout.write(dumps(data))
        else:
            write(REPO_ROOT / SINCE_FILE, data)
        return
    for tag in args.tags:
        data = extract(GitTag(args.git_dir, tag))
        if args.stdout:
            sys.stdout.write(dumps(data))
        else:
            write(Path(args.out) / f"{data['version']}.json", data)
            print(f"{data['version']}: {len(data['options'])} PARAMETERs, {len(data['env_vars'])} env vars",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
