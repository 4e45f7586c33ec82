#!/usr/bin/env python3
"""Extract the option tables the Ollama conformance test judges against, from Ollama's source.

    python3 conformance/extract_ollama_tables.py GIT_DIR TAG > tests/conformance/data/ollama-<version>.json

GIT_DIR is a clone (bare is fine) of github.com/ollama/ollama. Nothing is copied but names:
Modelfile commands (parser/parser.go isValidCommand), deprecated parameters
(deprecatedParameters), PARAMETER names and Go kinds (api/types.go Options + Runner json
tags), OLLAMA_* variables (envconfig/config.go AsMap), quantize levels (fs/ggml/type.go
ParseFileType), KV cache types (fs/ggml/ggml.go SupportsKVCacheType) and `ollama create` flags
(cmd/cmd.go createCmd.Flags()).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys


def show(git_dir: str, tag: str, path: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, "show", f"{tag}:{path}"], check=True,
                          capture_output=True, text=True).stdout


def block(text: str, start: str) -> str:
    i = text.index(start)
    return text[i:text.index("\n}", i)]


def main(git_dir: str, tag: str) -> dict:
    commit = subprocess.run(["git", "--git-dir", git_dir, "rev-parse", f"{tag}^{{commit}}"], check=True,
                            capture_output=True, text=True).stdout.strip()
    parser = show(git_dir, tag, "parser/parser.go")
    commands = re.findall(r'"(\w+)"', re.search(r"func isValidCommand.*?case (.*?):", parser, re.S).group(1))
    deprecated = re.findall(r'"(\w+)"', block(parser, "var deprecatedParameters"))
    types = show(git_dir, tag, "api/types.go")
    kinds = {"int": "int", "*int": "int", "float32": "float", "bool": "bool", "*bool": "bool", "[]string": "string"}
    params = {}
    for struct in ("type Options struct", "type Runner struct"):
        for go_type, name in re.findall(r"^\s+\w+\s+(\S+)\s+`json:\"(\w+)", block(types, struct), re.M):
            params[name] = kinds[go_type]
    env = show(git_dir, tag, "envconfig/config.go")
    env_vars = sorted(set(re.findall(r'^\s+"(OLLAMA_\w+|HTTPS?_PROXY|NO_PROXY)":', env, re.M)))
    ftype = show(git_dir, tag, "fs/ggml/type.go")
    levels = re.findall(r'"([A-Z0-9_]+)"', re.search(r"func ParseFileType.*?default:", ftype, re.S).group(0))
    ggml = show(git_dir, tag, "fs/ggml/ggml.go")
    kv = ["f16"] + re.findall(r'"(\w+)"', re.search(r"func \(f GGML\) SupportsKVCacheType.*?\n}", ggml, re.S)
                              .group(0).split("return slices.Contains")[1])
    cmd = show(git_dir, tag, "cmd/cmd.go")
    flags = []
    for m in re.finditer(r'createCmd\.Flags\(\)\.(\w+)\("([\w-]+)",\s*(?:"(\w)",)?', cmd):
        flags.append({"name": "--" + m.group(2), "short": "-" + m.group(3) if m.group(3) else None,
                      "kind": "bool" if m.group(1).startswith("Bool") else "string"})
    return {"ollama": tag, "commit": commit, "commands": commands, "deprecated_parameters": deprecated,
            "parameters": params, "env_vars": env_vars, "quantize_levels": levels,
            "kv_cache_types": sorted(set(kv)), "create_flags": flags}


if __name__ == "__main__":
    json.dump(main(sys.argv[1], sys.argv[2]), sys.stdout, indent=2)
    sys.stdout.write("\n")
