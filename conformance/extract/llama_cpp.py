#!/usr/bin/env python3
"""Write llama-server's option table from llama.cpp's own source: targets/llama_cpp/engine_options/b<N>.json.

    python3 conformance/extract/llama_cpp.py SRC --build 10454 --commit <sha> [--sdist-sha256 H] [--out -]

SRC is a llama.cpp tree (conformance/install_llama_cpp.sh unpacks the ones PyPI's llama-cpp-python
sdists vendor). Stdlib only: it reads common/arg.cpp, where every option of every llama.cpp tool is
declared, and keeps what llama-server's parser keeps, by the source's own rules:

- common_params_parser_init(params, ex) adds an option through add_opt, which keeps it when
  `(arg.in_example(ex) || arg.in_example(LLAMA_EXAMPLE_COMMON)) && !arg.is_exclude(ex)`; an
  option's examples default to {LLAMA_EXAMPLE_COMMON} (common/arg.h) and change with
  .set_examples({...}) / .set_excludes({...}). llama-server parses with ex = LLAMA_EXAMPLE_SERVER
  (tools/server/server.cpp). `if (ex == ...) {...} else {...}` blocks around add_opt calls are
  evaluated for that example; other conditions are taken as true.
- the parser (common_params_parse_ex) looks every token up exactly among the spellings and the
  negative spellings (args_neg) of the kept options: no abbreviations, no `--opt=value`, no glued
  short options; in a token starting with `--`, '_' reads as '-'. An option's value count follows
  from its handler (void, bool: 0; int, string: 1; two strings: 2). Environment variables
  (.set_env) are read first and the command line overrides them. Options marked
  .set_preset_only() are not command-line options and are left out.

What is recorded per option, keyed by its first long spelling: aliases (every other spelling,
negative ones included), negative (the args_neg spellings), nargs, value_hint, choices (when the
hint is a closed set such as {none,layer,row,tensor}), env, deprecated (the help says so), plus the
registry of KV cache types (kv_cache_types in arg.cpp, as ggml_type_name spells them). Nothing
depends on the clock; keys are sorted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTRACTOR = "conformance/extract/llama_cpp.py"
EXAMPLE = "LLAMA_EXAMPLE_SERVER"


def mask(src: str) -> str:
    """The source with comments blanked and the insides of string/char literals replaced by '_'
    (same length), so brackets can be matched on it while positions still index the original."""
    out = list(src)
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif src.startswith("/*", i):
            j = src.index("*/", i) + 2
            out[i:j] = [ch if ch == "\n" else " " for ch in src[i:j]]
            i = j
        elif c == "R" and src.startswith('R"', i) and not (src[i - 1].isalnum() or src[i - 1] == "_"):
            open_paren = src.index("(", i)
            delim = src[i + 2:open_paren]
            end = src.index(")" + delim + '"', open_paren)
            out[open_paren + 1:end] = "_" * (end - open_paren - 1)
            i = end + len(delim) + 2
        elif c in "\"'":
            j = i + 1
            while src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out[i + 1:j] = "_" * (j - i - 1)
            i = j + 1
        else:
            i += 1
    return "".join(out)


def close(masked: str, at: int) -> int:
    """Index just past the bracket matching the one at `at`."""
    pairs = {"(": ")", "{": "}", "[": "]"}
    stack = [pairs[masked[at]]]
    i = at + 1
    while stack:
        ch = masked[i]
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch in ")}]" and ch != stack.pop():
            raise ValueError(f"unbalanced {ch!r} at offset {i}")
        i += 1
    return i


def split_top(masked: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each top-level comma-separated item in masked[start:end]."""
    items, depth, begin = [], 0, start
    for i in range(start, end):
        ch = masked[i]
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append((begin, i))
            begin = i + 1
    items.append((begin, end))
    return [(a, b) for a, b in items if masked[a:b].strip()]


def strings(src: str, masked: str, a: int, b: int) -> list[str]:
    """The string literals in src[a:b], in order (C escapes \\n and \\" undone)."""
    out = []
    for m in re.finditer(r'"(_*)"', masked[a:b]):
        text = src[a + m.start() + 1:a + m.end() - 1]
        out.append(text.encode("utf-8").decode("unicode_escape") if "\\" in text else text)
    return out


def evaluate(cond: str) -> bool:
    """An `if` condition around add_opt calls, for ex = LLAMA_EXAMPLE_SERVER; true when it does not
    compare ex (add_opt's own test, the sampler loops)."""
    if not re.search(r"\bex\s*(==|!=)", cond):
        return True
    expr = re.sub(r"\bex\s*(==|!=)\s*(LLAMA_EXAMPLE_\w+)",
                  lambda m: str((m.group(2) == EXAMPLE) == (m.group(1) == "==")), cond)
    expr = expr.replace("||", " or ").replace("&&", " and ")
    expr = re.sub(r"!(?!=)", " not ", expr)
    if re.search(r"\bex\b", expr) or not re.fullmatch(r"[\sA-Za-z()]*", expr):
        raise ValueError(f"cannot evaluate the condition {cond!r} for {EXAMPLE}")
    return bool(eval(expr, {"__builtins__": {}}, {}))


def parse_option(src: str, masked: str, a: int, b: int) -> dict | None:
    """One add_opt(common_arg(...).set_...(...)) call, masked[a:b] being its parentheses' inside."""
    ca = masked.index("common_arg", a)
    open_paren = masked.index("(", ca)
    end = close(masked, open_paren)
    items = split_top(masked, open_paren + 1, end - 1)
    spellings = strings(src, masked, *items[0])
    negative = strings(src, masked, *items[1]) if masked[items[1][0]:items[1][1]].strip().startswith("{") else []
    lam = next(i for i in items if masked[i[0]:i[1]].strip().startswith("["))
    params_at = masked.index("(", lam[0])
    params = split_top(masked, params_at + 1, close(masked, params_at) - 1)
    nargs = 0 if negative or len(params) == 1 else len(params) - 1
    hints = [strings(src, masked, *i) for i in items[1:items.index(lam) - 1]] if nargs else []
    hint = hints[0][0] if hints and hints[0] and not negative else None
    chain = masked[end:b]
    examples = {"LLAMA_EXAMPLE_COMMON"}
    if m := re.search(r"\.set_examples\(\{([^}]*)\}\)", chain):
        examples = {e.strip() for e in m.group(1).split(",") if e.strip()}
    excludes = set()
    if m := re.search(r"\.set_excludes\(\{([^}]*)\}\)", chain):
        excludes = {e.strip() for e in m.group(1).split(",") if e.strip()}
    if ".set_preset_only()" in chain:
        return None
    if not ((EXAMPLE in examples or "LLAMA_EXAMPLE_COMMON" in examples) and EXAMPLE not in excludes):
        return None
    env = None
    if m := re.search(r'\.set_env\(\s*"(_*)"\s*\)', chain):
        env = src[end + m.start(1):end + m.end(1)]
    help_item = items[items.index(lam) - 1]
    choices = None
    if hint and re.fullmatch(r"\{[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)+\}", hint):
        choices = hint[1:-1].split(",")
    longs = [s for s in spellings if s.startswith("--")]
    key = (longs or spellings)[0]
    return key, {
        "aliases": sorted(set(spellings + negative) - {key}),
        "negative": negative,
        "nargs": nargs,
        "value_hint": hint,
        "choices": choices,
        "env": env,
        "deprecated": bool(re.search(r"deprecated", src[help_item[0]:help_item[1]], re.IGNORECASE)),
    }


def options(src: str) -> dict:
    masked = mask(src)
    head = re.search(r"common_params_context\s+common_params_parser_init\s*\(", masked)
    if head is None:
        raise ValueError("common_params_parser_init not found in common/arg.cpp")
    body_at = masked.index("{", close(masked, masked.index("(", head.start())))
    body_end = close(masked, body_at) - 1
    found: dict[str, dict] = {}
    frames: list[dict] = []   # {"active": bool, "taken": bool|None}
    token = re.compile(r"\bif\s*\(|\badd_opt\s*\(|[{}]")
    pos = body_at + 1
    while (m := token.search(masked, pos, body_end)) is not None:
        text = m.group(0)
        if text.startswith("add_opt"):
            paren = m.end() - 1
            after = close(masked, paren)
            if all(f["active"] for f in frames):
                parsed = parse_option(src, masked, paren + 1, after - 1)
                if parsed is not None:
                    key, entry = parsed
                    if key in found:
                        raise ValueError(f"{key} is added twice for {EXAMPLE}")
                    found[key] = entry
            pos = after
        elif text.startswith("if"):
            paren = m.end() - 1
            after = close(masked, paren)
            brace = re.match(r"\s*\{", masked[after:])
            if brace is None:      # a one-statement if: not around add_opt calls
                pos = after
                continue
            value = evaluate(src[paren + 1:after - 1])
            frames.append({"active": value, "taken": value})
            pos = after + brace.end()
        elif text == "{":
            frames.append({"active": True, "taken": None})
            pos = m.end()
        else:   # "}": close a block, and follow an else / else if
            frame = frames.pop()
            pos = m.end()
            if frame["taken"] is None:
                continue
            if (e := re.match(r"\s*else\s+if\s*\(", masked[pos:])) is not None:
                paren = pos + e.end() - 1
                after = close(masked, paren)
                brace = re.match(r"\s*\{", masked[after:])
                value = evaluate(src[paren + 1:after - 1]) and not frame["taken"]
                frames.append({"active": value, "taken": frame["taken"] or value})
                pos = after + brace.end()
            elif (e := re.match(r"\s*else\s*\{", masked[pos:])) is not None:
                frames.append({"active": not frame["taken"], "taken": True})
                pos += e.end()
    return dict(sorted(found.items()))


def kv_cache_types(src: str) -> list[str]:
    m = re.search(r"kv_cache_types\s*=\s*\{([^}]*)\}", mask(src))
    if m is None:
        raise ValueError("kv_cache_types not found in common/arg.cpp")
    return [t.strip()[len("GGML_TYPE_"):].lower() for t in src[m.start(1):m.end(1)].split(",") if t.strip()]


def build(src_dir: str, number: int, commit: str, sdist: str | None, sdist_sha256: str | None) -> dict:
    with open(os.path.join(src_dir, "common", "arg.cpp"), encoding="utf-8") as f:
        src = f.read()
    source = {"repo": "ggml-org/llama.cpp", "commit": commit, "files": ["common/arg.cpp"],
              "sha256": {"common/arg.cpp": hashlib.sha256(src.encode("utf-8")).hexdigest()}}
    if sdist:
        source["via"] = {"sdist": sdist, "sha256": sdist_sha256, "path": "vendor/llama.cpp"}
    opts = options(src)
    return {
        "engine": "llama.cpp",
        "version": f"b{number}",
        "command": ["llama-server"],
        "parser": "llama.cpp common_params_parse",
        "source": source,
        "extractor": EXTRACTOR,
        "options": opts,
        "prefix_matching": False,
        "normalizes_underscores": True,
        "inline_values": False,
        "registries": {"kv_cache_types": {"from": "common/arg.cpp kv_cache_types", "option": "--cache-type-k",
                                          "names": kv_cache_types(src), "enforced_by_parser": True}},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write llama-server's option table from a llama.cpp source tree.")
    ap.add_argument("src", help="a llama.cpp source tree (holding common/arg.cpp)")
    ap.add_argument("--build", type=int, required=True, help="the build number (b-tag) of that tree")
    ap.add_argument("--commit", required=True, help="the full llama.cpp commit of that tree")
    ap.add_argument("--sdist", help="the sdist the tree came from, e.g. llama-cpp-python==0.3.35")
    ap.add_argument("--sdist-sha256", help="its sha256")
    ap.add_argument("--out", help="file to write, or - for stdout (default: targets/llama_cpp/engine_options/b<N>.json)")
    a = ap.parse_args(argv)
    doc = build(a.src, a.build, a.commit, a.sdist, a.sdist_sha256)
    text = json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if a.out == "-":
        sys.stdout.write(text)
        return 0
    path = a.out or os.path.join(REPO, "targets", "llama_cpp", "engine_options", f"b{a.build}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"{path}: {len(doc['options'])} options", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
