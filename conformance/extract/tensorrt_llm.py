#!/usr/bin/env python3
"""TensorRT-LLM option tables: trtllm-serve / trtllm-build and friends, and the LLM-API arguments.

Nothing is imported from TensorRT-LLM (it has no CPU build): the source files are read with
Python's `ast`. Stdlib only. Two ways in:

1. 0.19.0 (committed):

       python3 conformance/extract/tensorrt_llm.py v0.19 BACKEND_GIT_DIR

   BACKEND_GIT_DIR: a clone (bare is fine) of triton-inference-server/tensorrtllm_backend.
   `launch_triton_server.py` is read at its v0.19.0 tag (argparse calls, real source). The
   TensorRT-LLM side of 0.19.0 is NOT re-read: neither the tag (the git repository is 2.5 GB) nor
   the release wheel (PyPI carries only stub sdists; wheels are on NVIDIA's own index) is reachable
   from these machines, so trtllm-build, trtllm-serve, convert_checkpoint.py, quantize.py and the
   tritonserver flags are carried over from targets/tensorrt_llm/cli_options.json, which names the
   stored source file and commit (or documentation page) of each; entries say so in "source" and
   keep only what that table knows (option names, flag or value, choices). Writes
   targets/tensorrt_llm/engine_options/0.19.0.json.

2. A 1.x release, when its source is at hand (a checkout at the tag, or the wheel unpacked):

       python3 conformance/extract/tensorrt_llm.py v1 --version 1.2.1 --root SRC_ROOT \
           --repo NVIDIA/TensorRT-LLM --tag v1.2.1 --commit <full sha>

   SRC_ROOT holds tensorrt_llm/commands/serve.py and tensorrt_llm/llmapi/llm_args.py (plus
   tensorrt_llm/lora_helper.py or tensorrt_llm/_torch/peft/lora/config.py when present, for
   LoraConfig). Reads the `serve` click command's options (the "options" section; a
   `help_info_with_stability_tag(..., "deprecated")` help marks deprecated) and every pydantic
   class of llm_args.py (the "llm_api" section: per class its bases and own fields with annotation,
   default - or the default's source text when it is not a literal - Literal choices, alias and
   the Field `status`). Writes targets/tensorrt_llm/engine_options/<version>.json. Not run for 1.2.1 or
   1.0.x: their source was not reachable (see conformance/README.md, "Option tables").

   Compare a table made this way with one made from the docs (mode 3) to hold the docs-made one to the
   source:

       python3 conformance/extract/tensorrt_llm.py compare OLD.json NEW.json

   prints one line per difference in trtllm-serve's option spellings, aliases, dest, choices, is_flag,
   multiple, stability (defaults where both know them) and the LLM-API fields of the classes both have.

3. A 1.x release from its versioned documentation (what 1.2.1.json is made of):

       python3 conformance/extract/tensorrt_llm.py v1-docs --version 1.2.1 --commit <full sha> \
           --serve-html trtllm-serve.html --llm-args-html llm_args.html \
           --modelopt-git MODEL_OPTIMIZER_GIT_DIR --modelopt-tag 0.43.0

   The pages are the release's own docs (gh-pages of NVIDIA/TensorRT-LLM, 1.2.1/commands/trtllm-serve/
   trtllm-serve.html and 1.2.1/_modules/tensorrt_llm/llmapi/llm_args.html, or the same paths under
   https://nvidia.github.io/TensorRT-LLM/): sphinx-click's "Syntax" section gives every trtllm-serve
   subcommand option (spellings, metavar, choices, stability tag; the pages show no defaults), and the
   viewcode page is llm_args.py itself, read with `ast` like mode 2. `--transcript FILE` stands in for the
   two pages with the same facts transcribed by hand (the committed 1.2.1.json: the pages were read
   through the search index, which hands out text, not files; see the file's "source"). hf_ptq.py
   (ModelOpt's quantization example, which deployc's quantize.sh runs) is read from a
   NVIDIA/Model-Optimizer git dir at the tag the record pins.

Non-literal values (a default read from another class, a Choice built from a dict's keys) are kept
as source text under "default_expr" / "choices_expr", never evaluated.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _src_common; removed again below
from _sphinx import click_section, viewcode_source
from _src_common import REPO_ROOT, GitTag, dumps, option, sha256, write

sys.path.pop(0)

EXTRACTOR = "conformance/extract/tensorrt_llm.py"
CLI_OPTIONS = "targets/tensorrt_llm/cli_options.json"
BACKEND_REPO = "triton-inference-server/tensorrtllm_backend"


# --- generic AST readers -------------------------------------------------------------------------

def literal(node: ast.AST | None) -> tuple[object, str | None]:
    """(value, None) for a literal, else (None, its source text)."""
    if node is None:
        return None, None
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None, ast.unparse(node)
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, (set, frozenset)):
        value = sorted(value)
    return value, None


def call_name(node: ast.AST) -> str:
    return ast.unparse(node.func) if isinstance(node, ast.Call) else ""


def type_name(node: ast.AST | None) -> str | None:
    return None if node is None else ast.unparse(node)


def argparse_options(tree: ast.AST) -> dict[str, dict]:
    """Every `<parser>.add_argument("--x", ...)` call of a module (argparse's own dest rules)."""
    out = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and call_name(node).endswith(".add_argument")):
            continue
        flags = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if not flags or not flags[0].startswith("-"):
            continue  # a positional argument
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        longs = [f for f in flags if f.startswith("--")]
        key = (longs or flags)[0]
        action, _ = literal(kw.get("action"))
        dest, _ = literal(kw.get("dest"))
        dest = dest or key.lstrip("-").replace("-", "_")
        default, default_expr = literal(kw.get("default"))
        if default is None and default_expr is None and action in ("store_true", "store_false"):
            default = action == "store_false"
        choices, choices_expr = literal(kw.get("choices"))
        nargs, _ = literal(kw.get("nargs"))
        required, _ = literal(kw.get("required"))
        extra = {"action": action or "store", "nargs": nargs, "required": bool(required)}
        if default_expr:
            extra["default_expr"] = default_expr
        if choices_expr:
            extra["choices_expr"] = choices_expr
        out[key] = option(aliases=[f for f in flags if f != key], dest=dest,
                          takes_value=action not in ("store_true", "store_false", "count", "help", "version"),
                          type=type_name(kw.get("type")), choices=choices, default=default,
                          multiple=action in ("append", "extend", "count"), **extra)
    return out


STABILITY = "help_info_with_stability_tag"


def click_dest(opts: list[str]) -> str:
    """click.Option's name when no identifier is declared (click/core.py Option._parse_decls): the options
    sorted by prefix length, longest first, and stably, so the FIRST `--` spelling declared, not the
    longest: `--free_gpu_memory_fraction, --kv_cache_free_gpu_memory_fraction` -> free_gpu_memory_fraction."""
    def prefix(o: str) -> int:
        return 2 if o[1:2] == o[:1] else 1
    first = sorted(opts, key=lambda o: -prefix(o))[0]
    return first[prefix(first):].replace("-", "_").lower()


def click_options(func: ast.FunctionDef) -> tuple[dict[str, dict], list[dict]]:
    """The @click.option / @click.argument decorators of one click command function."""
    options, arguments = {}, []
    for deco in func.decorator_list:
        name = call_name(deco)
        if name.endswith("argument"):
            arguments.append({"dest": deco.args[0].value, "type": type_name(
                next((k.value for k in deco.keywords if k.arg == "type"), None))})
            continue
        if not name.endswith("option"):
            continue
        decls = [a.value for a in deco.args if isinstance(a, ast.Constant)]
        kw = {k.arg: k.value for k in deco.keywords if k.arg}
        names = [d for d in decls if not d.startswith("-")]
        opts = [d for d in decls if d.startswith("-")]
        primary, secondary = [], []
        for d in opts:
            first, _, second = d.partition("/")
            primary.append(first)
            if second:
                secondary.append(second)
        longs = [o for o in primary if o.startswith("--")]
        key = (longs or primary)[0]
        dest = names[0] if names else click_dest(primary)
        # click.Option.__init__: is_flag unset -> a flag when flag_value is given or "--a/--b" is used;
        # a flag without a default (and not required) defaults to False.
        is_flag, _ = literal(kw.get("is_flag"))
        if is_flag is None:
            is_flag = "flag_value" in kw or bool(secondary)
        multiple, _ = literal(kw.get("multiple"))
        required, _ = literal(kw.get("required"))
        default, default_expr = literal(kw.get("default"))
        if is_flag and "default" not in kw and not required:
            default = False
        t = kw.get("type")
        choices, choices_expr = None, None
        if isinstance(t, ast.Call) and t.args and ("Choice" in call_name(t)):
            choices, choices_expr = literal(t.args[0])
        stability = None
        help_node = kw.get("help")
        if isinstance(help_node, ast.Call) and call_name(help_node) == STABILITY and len(help_node.args) > 1:
            stability, _ = literal(help_node.args[1])
        extra = {"is_flag": is_flag, "secondary_opts": secondary, "stability": stability, "required": bool(required)}
        if "flag_value" in kw:
            extra["flag_value"], _ = literal(kw["flag_value"])
        if isinstance(t, ast.Call) and "Alias" in call_name(t) and len(t.args) > 1:
            extra["choice_aliases"], _ = literal(t.args[1])
        if default_expr:
            extra["default_expr"] = default_expr
        if choices_expr:
            extra["choices_expr"] = choices_expr
        options[key] = option(aliases=[o for o in primary if o != key], dest=dest, takes_value=not is_flag,
                              type=type_name(t) if t is not None else ("bool" if is_flag else None),
                              choices=choices, default=default, multiple=bool(multiple),
                              deprecated=stability == "deprecated", **extra)
    arguments.reverse()  # decorators apply bottom-up; click lists params top-down
    return options, arguments


def click_command(tree: ast.Module, command: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if call_name(deco) in ("click.command", "command") and deco.args and \
                        isinstance(deco.args[0], ast.Constant) and deco.args[0].value == command:
                    return node
    raise LookupError(f"no @click.command({command!r}) in the file")


def pydantic_classes(tree: ast.Module) -> dict[str, dict]:
    """Every class with annotated fields: bases and own fields (annotation, default, Literal choices,
    alias, status). Field(default=..., default_factory=...) and plain `= value` are both read."""
    out = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields = {}
        for stmt in node.body:
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            name = stmt.target.id
            ann = ast.unparse(stmt.annotation)
            if ann.startswith("ClassVar"):
                continue
            entry = {"type": ann, "default": None, "required": stmt.value is None}
            value = stmt.value
            if isinstance(value, ast.Call) and call_name(value) in ("Field", "PydanticField", "pydantic.Field"):
                kw = {k.arg: k.value for k in value.keywords if k.arg}
                dflt = kw.get("default", value.args[0] if value.args else None)
                if dflt is not None and not (isinstance(dflt, ast.Constant) and dflt.value is Ellipsis):
                    entry["default"], expr = literal(dflt)
                    if expr:
                        entry["default_expr"] = expr
                elif "default_factory" in kw:
                    entry["default_factory"] = ast.unparse(kw["default_factory"])
                else:
                    entry["required"] = True
                for k in ("alias", "status"):
                    if k in kw:
                        entry[k], _ = literal(kw[k])
            elif value is not None:
                entry["default"], expr = literal(value)
                if expr:
                    entry["default_expr"] = expr
            lits = [n for n in ast.walk(stmt.annotation)
                    if isinstance(n, ast.Subscript) and ast.unparse(n.value) in ("Literal", "typing.Literal")]
            if lits:
                sl = lits[0].slice
                vals = sl.elts if isinstance(sl, ast.Tuple) else [sl]
                entry["choices"] = [literal(v)[0] for v in vals]
            fields[name] = entry
        if fields:
            out[node.name] = {"bases": [ast.unparse(b) for b in node.bases], "fields": fields}
    return out


# --- 0.19.0 ----------------------------------------------------------------------------------------

PARSERS_0_19 = {"trtllm-build": "argparse", "convert_checkpoint.py:llama": "argparse",
                "convert_checkpoint.py:qwen": "argparse", "quantize.py": "argparse", "trtllm-serve": "click",
                "tritonserver": "tritonserver"}


def migrated(tool: str, table: dict) -> dict:
    """A cli_options.json entry (name -> null | "flag" | [choices]) in the shared option shape."""
    options = {}
    for name, spec in table["options"].items():
        key = ("-" if len(name) == 1 else "--") + name
        options[key] = option(dest=name.replace("-", "_"), takes_value=spec != "flag", type=None,
                              choices=spec if isinstance(spec, list) else None)
    return {"parser": PARSERS_0_19[tool], "source": {"migrated_from": CLI_OPTIONS, "upstream": table["source"]},
            "options": options}


def v0_19(backend_git_dir: str) -> dict:
    cli_path = REPO_ROOT / CLI_OPTIONS
    raw = cli_path.read_bytes()
    tables = json.loads(raw)["0.19.0"]
    commands = {tool: migrated(tool, t) for tool, t in tables.items() if tool != "launch_triton_server.py"}
    src = GitTag(backend_git_dir, "v0.19.0")
    launcher = argparse_options(ast.parse(src.show("scripts/launch_triton_server.py")))
    commands["launch_triton_server.py"] = {"parser": "argparse", "source": src.source(BACKEND_REPO),
                                           "options": launcher}
    serve = commands.pop("trtllm-serve")
    return {
        "engine": "tensorrt_llm",
        "version": "0.19.0",
        "parser": "click",
        "program": "trtllm-serve",
        # What this file was built from: cli_options.json (its per-command "upstream" names the stored
        # source file and commit, or documentation page, each table came from) and the backend tag.
        "source": {"migrated_from": CLI_OPTIONS, "files": [CLI_OPTIONS], "file_sha256": {CLI_OPTIONS: sha256(raw)},
                   "upstream": serve["source"]["upstream"],
                   # the TensorRT-LLM commit the backend's v0.19.0 tag pins as its tensorrt_llm submodule
                   "pinned_commit": src._git("rev-parse", f"{src.commit}:tensorrt_llm").decode().strip(),
                   "pinned_by": f"{BACKEND_REPO} v0.19.0 ({src.commit}) submodule tensorrt_llm"},
        "extractor": EXTRACTOR,
        "options": serve["options"],
        "commands": commands,
    }


# --- 1.x ---------------------------------------------------------------------------------------------

def v1(root: Path, version: str, repo: str, tag: str, commit: str) -> dict:
    read: dict[str, str] = {}

    def load(rel: str) -> ast.Module:
        data = (root / rel).read_bytes()
        read[rel] = sha256(data)
        return ast.parse(data.decode("utf-8"))

    serve_tree = load("tensorrt_llm/commands/serve.py")
    options, arguments = click_options(click_command(serve_tree, "serve"))
    llm_api = pydantic_classes(load("tensorrt_llm/llmapi/llm_args.py"))
    for rel in ("tensorrt_llm/lora_helper.py", "tensorrt_llm/_torch/peft/lora/config.py"):
        if (root / rel).exists():
            for name, cls in pydantic_classes(load(rel)).items():
                llm_api.setdefault(name, cls)
    return {
        "engine": "tensorrt_llm",
        "version": version,
        "parser": "click",
        "program": "trtllm-serve",
        "source": {"repo": repo, "tag": tag, "commit": commit, "files": sorted(read),
                   "file_sha256": dict(sorted(read.items()))},
        "extractor": EXTRACTOR,
        "options": options,
        "arguments": arguments,
        "llm_api": llm_api,
    }


# --- 1.x from the release's documentation -------------------------------------------------------------

DOCS = "https://nvidia.github.io/TensorRT-LLM/{version}/"
SERVE_PAGE = "commands/trtllm-serve/trtllm-serve.html"
LLM_ARGS_PAGE = "_modules/tensorrt_llm/llmapi/llm_args.html"
SUBCOMMANDS = ("serve", "disaggregated", "disaggregated_mpi_worker", "mm_embedding_serve")
MODELOPT_REPO = "NVIDIA/Model-Optimizer"
HF_PTQ = "examples/llm_ptq/hf_ptq.py"


def click_from_docs(entry: dict) -> tuple[str, dict]:
    """One sphinx-click option entry in the shared option shape (the first spelling is the key; sphinx-click
    lists click's opts in declaration order, so click_dest names it as click.Option does)."""
    names = entry["names"]
    dest = click_dest(names)
    flag = entry["metavar"] is None
    return names[0], option(aliases=names[1:], dest=dest, takes_value=not flag, type="bool" if flag else None,
                            choices=entry["choices"], default=False if flag else None,
                            deprecated=entry["stability"] == "deprecated", is_flag=flag,
                            stability=entry["stability"])


def dict_literal(tree: ast.Module, name: str) -> list[str]:
    """The keys of a module-level `NAME = {...}` / `NAME: T = {...}` dict literal."""
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == name and isinstance(node.value, ast.Dict):
            return [k.value for k in node.value.keys if isinstance(k, ast.Constant)]
    raise LookupError(name)


def v1_docs(version: str, commit: str, serve_html: Path | None, llm_args_html: Path | None,
            transcript: Path | None, modelopt_git: str, modelopt_tag: str) -> dict:
    pages = {}
    if transcript is not None:
        facts = json.loads(transcript.read_text(encoding="utf-8"))
        commands = {name: facts[name] for name in SUBCOMMANDS}
        llm_api = facts["llm_api"]
        provenance = facts["provenance"]
        documented = facts.get("llm_api_documented", {})
    else:
        assert serve_html is not None and llm_args_html is not None, "give both pages, or --transcript"
        serve_raw, args_raw = serve_html.read_bytes(), llm_args_html.read_bytes()
        page = serve_raw.decode("utf-8")
        commands = {name: dict(click_from_docs(e) for e in click_section(page, f"trtllm-serve-{name.replace('_', '-')}"))
                    for name in SUBCOMMANDS}
        llm_api = pydantic_classes(ast.parse(viewcode_source(args_raw.decode("utf-8"))))
        pages = {SERVE_PAGE: sha256(serve_raw), LLM_ARGS_PAGE: sha256(args_raw)}
        provenance, documented = {"read_via": "the pages' bytes"}, {}
    mo = GitTag(modelopt_git, modelopt_tag)
    ptq = ast.parse(mo.show(HF_PTQ))
    serve = commands.pop("serve")
    return {
        "engine": "tensorrt_llm",
        "version": version,
        "parser": "click",
        "program": "trtllm-serve",
        "subcommand": "serve",
        "source": {
            "repo": "NVIDIA/TensorRT-LLM", "tag": f"v{version}", "commit": commit,
            "docs": {"base": DOCS.format(version=version), "pages": [SERVE_PAGE, LLM_ARGS_PAGE],
                     "page_sha256": pages or None, **provenance},
            "files": sorted(pages), "file_sha256": dict(sorted(pages.items())),
        },
        "extractor": EXTRACTOR,
        "options": serve,
        "arguments": [{"dest": "model", "type": None}],
        "commands": {
            **{name: {"parser": "click", "options": opts} for name, opts in commands.items()},
            "hf_ptq.py": {"parser": "argparse", "source": mo.source(MODELOPT_REPO), "options": argparse_options(ptq),
                          "registries": {"qformat": dict_literal(ptq, "QUANT_CFG_CHOICES"),
                                         "kv_cache_qformat": dict_literal(ptq, "KV_QUANT_CFG_CHOICES")}},
        },
        "llm_api": llm_api,
        # classes whose field names the docs show in use but whose definition the pages do not include
        "llm_api_documented": documented,
    }


# --- comparing two tables ---------------------------------------------------------------------------

# What a documentation page shows of an option, and so what a docs-made table can be held to.
COMPARED_OPTION_KEYS = ("aliases", "dest", "choices", "is_flag", "multiple", "deprecated", "stability")
COMPARED_FIELD_KEYS = ("type", "default", "required", "status")


def compare(old: dict, new: dict) -> list[str]:
    """The differences between two TensorRT-LLM 1.x tables, one line each: trtllm-serve options (spellings and
    what COMPARED_OPTION_KEYS say; `default` only where both tables know it) and the LLM-API classes both
    have (fields, and COMPARED_FIELD_KEYS of each). Private fields (`_x`) are not options a YAML can set."""
    out = []
    a, b = old["options"], new["options"]
    out += [f"serve {k}: only in {old['version']}" for k in sorted(set(a) - set(b))]
    out += [f"serve {k}: only in {new['version']}" for k in sorted(set(b) - set(a))]
    for k in sorted(set(a) & set(b)):
        keys = COMPARED_OPTION_KEYS + (("default",) if a[k].get("default") is not None
                                       and b[k].get("default") is not None else ())
        for f in keys:
            x, y = a[k].get(f), b[k].get(f)
            if f == "aliases":
                x, y = sorted(x or []), sorted(y or [])
            if f == "choices" and ("choices_expr" in a[k] or "choices_expr" in b[k]):
                continue  # a Choice built at import time (a registry's keys): source text, not a list
            if x != y:
                out.append(f"serve {k} {f}: {x!r} -> {y!r}")
    ca, cb = old["llm_api"], new["llm_api"]
    for cls in sorted(set(ca) & set(cb)):
        fa = {k: v for k, v in ca[cls]["fields"].items() if not k.startswith("_")}
        fb = {k: v for k, v in cb[cls]["fields"].items() if not k.startswith("_")}
        out += [f"{cls}.{f}: only in {old['version']}" for f in sorted(set(fa) - set(fb))]
        out += [f"{cls}.{f}: only in {new['version']}" for f in sorted(set(fb) - set(fa))]
        for f in sorted(set(fa) & set(fb)):
            out += [f"{cls}.{f} {k}: {fa[f].get(k)!r} -> {fb[f].get(k)!r}"
                    for k in COMPARED_FIELD_KEYS if fa[f].get(k) != fb[f].get(k)]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("v0.19", help="0.19.0: launch_triton_server.py from the backend tag + cli_options.json")
    a.add_argument("backend_git_dir")
    b = sub.add_parser("v1", help="a 1.x release from its source tree")
    b.add_argument("--root", type=Path, required=True)
    b.add_argument("--version", required=True)
    b.add_argument("--repo", default="NVIDIA/TensorRT-LLM")
    b.add_argument("--tag", required=True)
    b.add_argument("--commit", required=True)
    c = sub.add_parser("v1-docs", help="a 1.x release from its documentation pages (+ ModelOpt's hf_ptq.py)")
    c.add_argument("--version", required=True)
    c.add_argument("--commit", required=True)
    c.add_argument("--serve-html", type=Path)
    c.add_argument("--llm-args-html", type=Path)
    c.add_argument("--transcript", type=Path)
    c.add_argument("--modelopt-git", required=True)
    c.add_argument("--modelopt-tag", required=True)
    for p in (a, b, c):
        p.add_argument("--stdout", action="store_true")
        p.add_argument("--out", type=Path, default=REPO_ROOT / "targets/tensorrt_llm/engine_options")
    d = sub.add_parser("compare", help="the differences between two 1.x tables (e.g. docs-made vs source-made)")
    d.add_argument("old", type=Path)
    d.add_argument("new", type=Path)
    args = ap.parse_args(argv)
    if args.mode == "compare":
        lines = compare(*(json.loads(p.read_text(encoding="utf-8")) for p in (args.old, args.new)))
        sys.stdout.write("".join(f"{line}\n" for line in lines))
        return
    if args.mode == "v0.19":
        data = v0_19(args.backend_git_dir)
    elif args.mode == "v1":
        data = v1(args.root, args.version, args.repo, args.tag, args.commit)
    else:
        data = v1_docs(args.version, args.commit, args.serve_html, args.llm_args_html, args.transcript,
                       args.modelopt_git, args.modelopt_tag)
    if args.stdout:
        sys.stdout.write(dumps(data))
    else:
        write(args.out / f"{data['version']}.json", data)
        n = len(data["options"]) + sum(len(c["options"]) for c in data.get("commands", {}).values())
        print(f"{data['version']}: {n} options, {len(data.get('llm_api', {}))} LLM-API classes", file=sys.stderr)


if __name__ == "__main__":
    main()
