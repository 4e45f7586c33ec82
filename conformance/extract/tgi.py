#!/usr/bin/env python3
"""text-generation-launcher's option table, read from launcher/src/main.rs (clap 4 derive `struct Args`).

Regenerate every committed table (GIT_DIR: a clone, bare is fine, of
huggingface/text-generation-inference, e.g. the search tool's `fetch` mirror):

    python3 conformance/extract/tgi.py GIT_DIR                  # v3.3.7 v3.3.5 v2.4.1 v2.0.4
    python3 conformance/extract/tgi.py GIT_DIR v3.3.7 --stdout  # one table to stdout

Writes targets/tgi/engine_options/<version>.json (the tag minus its `v`). Stdlib only.

clap 4 derive rules applied (launcher/Cargo.toml: clap 4.4.5+, features derive + env; no
`infer_long_args`, so long options match exactly):
- `long` -> --field-name (snake -> kebab); `short` -> -<first letter of the field>;
  `env` -> FIELD_NAME (upper case); `alias = "x"` -> another long spelling.
- a plain `bool` field is a flag (ArgAction::SetTrue: takes no value, default false);
  `Option<bool>` takes a value parsed by clap's BoolValueParser (true | false).
- `Vec<T>` / `Option<Vec<T>>` may repeat (ArgAction::Append); `value_delimiter` splits one value.
- a ValueEnum type takes the kebab-case variant names or `#[clap(name = "...")]`.
- `default_value = "x"` is kept as the string clap parses.
- deprecated: the field's doc comment says "Legacy version of" or "deprecated".
`#[clap(author, version, ...)]` on the struct adds --help/-h and --version/-V (section
"builtin_options"). Rust `#[deprecated]` on an enum variant does not stop clap accepting it;
"value_enums" lists such variants under "deprecated".
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _src_common; removed again below
from _src_common import REPO_ROOT, GitTag, dumps, option, write

sys.path.pop(0)

REPO = "huggingface/text-generation-inference"
TAGS = ("v3.3.7", "v3.3.5", "v2.4.1", "v2.0.4")
MAIN_RS = "launcher/src/main.rs"
EXTRACTOR = "conformance/extract/tgi.py"


def kebab(name: str) -> str:
    """clap's ValueEnum name: heck's kebab-case (a digit keeps the case mode of the letter before it;
    an upper-case run followed by a lower-case letter ends before its last capital)."""
    words, cur, mode = [], "", None
    for i, c in enumerate(name):
        nxt = name[i + 1] if i + 1 < len(name) else ""
        cur_mode = "lower" if c.islower() else "upper" if c.isupper() else mode
        if mode == "upper" and c.isupper() and nxt.islower() and cur:
            words.append(cur)
            cur = ""
        cur += c
        if nxt and cur_mode == "lower" and nxt.isupper():
            words.append(cur)
            cur, mode = "", None
        else:
            mode = cur_mode
    return "-".join(w.lower() for w in words + [cur] if w)


def split_top(s: str) -> list[str]:
    """Split an attribute's argument list at commas outside quotes and brackets."""
    out, depth, quote, cur = [], 0, None, ""
    for ch in s:
        if quote:
            cur += ch
            if ch == quote and not cur.endswith("\\" + quote):
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def attr_words(attr: str) -> dict[str, str | bool]:
    """`#[clap(default_value = "2", long, env)]` -> {"default_value": "2", "long": True, "env": True}."""
    inner = re.match(r"#\[(?:clap|arg)\((.*)\)\]$", attr, re.DOTALL).group(1)
    words: dict[str, str | bool] = {}
    for item in split_top(inner):
        if "=" in item:
            k, v = (x.strip() for x in item.split("=", 1))
            words[k] = v[1:-1] if v[:1] in "\"'" else v
        else:
            words[item] = True
    return words


def items(body: str):
    """Yield (docs, attrs, name, type) for each field of a struct body, and (docs, attrs, name) variants."""
    docs, attrs, pending = [], [], ""
    for raw in body.splitlines():
        line = raw.strip()
        if pending:
            pending += " " + line
            if pending.count("(") == pending.count(")") and pending.endswith("]"):
                attrs.append(pending)
                pending = ""
            continue
        if not line or (line.startswith("//") and not line.startswith("///")):
            continue
        if line.startswith("///"):
            docs.append(line[3:].strip())
        elif line.startswith("#["):
            if line.count("(") == line.count(")") and line.endswith("]"):
                attrs.append(line)
            else:
                pending = line
        else:
            yield docs, attrs, line
            docs, attrs = [], []


def value_enums(text: str) -> dict[str, dict]:
    out = {}
    for m in re.finditer(r"#\[derive\([^)]*\bValueEnum\b[^)]*\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub )?enum (\w+) \{(.*?)\n\}",
                         text, re.DOTALL):
        values, deprecated = [], []
        for _docs, attrs, line in items(m.group(2)):
            v = re.match(r"([A-Z][A-Za-z0-9]*),?$", line)
            if not v:
                raise ValueError(f"unparsed variant line in enum {m.group(1)}: {line!r}")
            name = kebab(v.group(1))
            for a in attrs:
                r = re.match(r'#\[(?:clap|value)\(name = "([^"]+)"\)\]', a)
                if r:
                    name = r.group(1)
            values.append(name)
            if any(a.startswith("#[deprecated") for a in attrs):
                deprecated.append(name)
        out[m.group(1)] = {"values": values, "deprecated": deprecated}
    return out


def extract(src: GitTag) -> dict:
    text = src.show(MAIN_RS)
    struct = re.search(r"\n(#\[derive\(Parser[^\n]*\n(?:#\[[^\n]*\n)*)struct Args \{(.*?)\n\}", text, re.DOTALL)
    struct_attrs, body = struct.group(1), struct.group(2)
    enums = value_enums(text)
    options: dict[str, dict] = {}
    for docs, attrs, line in items(body):
        f = re.match(r"(?:pub )?(\w+): (.+),$", line)
        if not f:
            raise ValueError(f"unparsed field line: {line!r}")
        name, ty = f.groups()
        clap = [a for a in attrs if a.startswith(("#[clap(", "#[arg("))]
        if not clap:
            continue  # not a command-line argument
        words: dict[str, str | bool] = {}
        for a in clap:
            words.update(attr_words(a))
        inner = re.sub(r"^Option<(.+)>$", r"\1", ty)
        inner = re.sub(r"^Vec<(.+)>$", r"\1", inner)
        long = words.get("long")
        long = "--" + (long if isinstance(long, str) else name.replace("_", "-"))
        aliases = []
        if words.get("short"):
            s = words["short"]
            aliases.append("-" + (s if isinstance(s, str) else name[0]))
        for key in ("alias", "visible_alias"):
            if isinstance(words.get(key), str):
                aliases.append("--" + words[key])
        env = words.get("env")
        flag = ty == "bool"
        if inner in enums:
            choices = enums[inner]["values"]
        elif inner == "bool" and not flag:
            choices = ["true", "false"]
        else:
            choices = None
        doc = " ".join(docs).lower()
        options[long] = option(
            aliases=aliases, dest=name, takes_value=not flag, type=ty, choices=choices,
            default=False if flag else words.get("default_value"),
            env=(env if isinstance(env, str) else name.upper()) if env else None,
            multiple="Vec<" in ty or "value_delimiter" in words,
            deprecated="legacy version of" in doc or "deprecated" in doc,
        )
    builtin = {}
    top = attr_words(re.search(r"#\[clap\((.*?)\)\]", struct_attrs, re.DOTALL).group(0))
    builtin["--help"] = option(aliases=["-h"], dest="help", takes_value=False, type="ArgAction::Help")
    if top.get("version"):
        builtin["--version"] = option(aliases=["-V"], dest="version", takes_value=False, type="ArgAction::Version")
    # the clap release Cargo.lock resolves for the launcher (the lock also holds an old clap 2 of a tool)
    lock = src.show("Cargo.lock")
    launcher = re.search(r'\nname = "text-generation-launcher"\n.*?\ndependencies = \[(.*?)\]', lock, re.DOTALL).group(1)
    pinned = re.search(r'"clap(?: ([^"]+))?"', launcher).group(1)
    versions = re.findall(r'\nname = "clap"\nversion = "([^"]+)"', lock)
    clap_version = pinned or versions[0]
    assert clap_version in versions and (pinned or len(versions) == 1), (pinned, versions)
    used = {re.sub(r"^(Option|Vec)<(.+)>$", r"\2", re.sub(r"^Option<Vec<(.+)>>$", r"\1", o["type"]))
            for o in options.values()}
    return {
        "engine": "tgi",
        "version": src.tag.lstrip("v"),
        "parser": "clap",
        "parser_version": clap_version,
        "program": "text-generation-launcher",
        "source": src.source(REPO),
        "extractor": EXTRACTOR,
        "options": options,
        "builtin_options": builtin,
        "value_enums": {k: v for k, v in enums.items() if k in used},
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("git_dir")
    ap.add_argument("tags", nargs="*", default=list(TAGS))
    ap.add_argument("--stdout", action="store_true", help="print the table(s) instead of writing them")
    ap.add_argument("--out", default=str(REPO_ROOT / "targets/tgi/engine_options"))
    args = ap.parse_args(argv)
    for tag in args.tags:
        data = extract(GitTag(args.git_dir, tag))
        if args.stdout:
            sys.stdout.write(dumps(data))
        else:
            write(Path(args.out) / f"{data['version']}.json", data)
            print(f"{data['version']}: {len(data['options'])} options", file=sys.stderr)


if __name__ == "__main__":
    main()
