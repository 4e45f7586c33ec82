#!/usr/bin/env python3
"""Extract text-generation-launcher's option table from launcher/src/main.rs (clap derive `Args`).

    git -C <tgi mirror> show <tag>:launcher/src/main.rs | \
        python3 conformance/extract_tgi_options.py <tag> <commit> > table.json

clap 4 derive rules applied (launcher/Cargo.toml: clap 4.x, features derive+env, no
infer_long_args): `long` -> --field-name (snake -> kebab), `short` -> -<first char>,
`env` -> FIELD_NAME; a `bool` field is a flag (ArgAction::SetTrue, no value); a Vec field
may repeat; a ValueEnum field takes the kebab-case variant names or `#[clap(name = ...)]`.
Stdlib only. Writes one JSON object with the tag and commit it was read from.
"""

from __future__ import annotations

import json
import re
import sys


def _kebab(camel: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"-\1", camel).lower()


def enums(text: str) -> dict[str, list[str]]:
    out = {}
    for m in re.finditer(r"enum (\w+) \{(.*?)\n\}", text, re.S):
        values, rename = [], None
        for line in m.group(2).splitlines():
            line = line.strip()
            if line.startswith("//"):
                continue
            r = re.match(r'#\[clap\(name = "([^"]+)"\)\]', line)
            if r:
                rename = r.group(1)
                continue
            v = re.match(r"([A-Z][A-Za-z0-9]*),?$", line)
            if v:
                values.append(rename or _kebab(v.group(1)))
                rename = None
        out[m.group(1)] = values
    return out


def options(text: str) -> dict[str, dict]:
    body = re.search(r"\nstruct Args \{(.*?)\n\}", text, re.S).group(1)
    kinds = enums(text)
    table, attrs = {}, ""
    for line in body.splitlines():
        line = line.strip()
        if line.startswith("#[clap("):
            attrs = line
            continue
        f = re.match(r"(\w+): (.+),$", line)
        if not f or not attrs:
            continue
        name, ty = f.groups()
        inner = re.sub(r"^(Option|Vec)<(.+)>$", r"\2", ty)
        words = {w.strip() for w in attrs[len("#[clap("):-2].split(",")}
        default = re.search(r'default_value = "([^"]*)"', attrs)
        entry = {
            "field": name,
            "short": f"-{name[0]}" if "short" in words else None,
            "env": name.upper() if "env" in words else None,
            "takes_value": ty != "bool",
            "multiple": ty.startswith("Vec<") or "value_delimiter" in attrs,
            "type": ty,
            "choices": kinds.get(inner),
            "default": default.group(1) if default else None,
        }
        table["--" + name.replace("_", "-")] = entry
        attrs = ""
    return table


def main() -> None:
    tag, commit = sys.argv[1], sys.argv[2]
    text = sys.stdin.read()
    json.dump({"source": "huggingface/text-generation-inference launcher/src/main.rs struct Args",
               "tag": tag, "commit": commit, "options": options(text)}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
