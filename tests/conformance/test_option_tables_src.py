"""The option tables read from engine sources (targets/<pkg>/engine_options/, targets/xinference/registry/),
re-extracted where this tier can reach the engine, and held together where it cannot.

- XInference: both conformance venvs (conformance/install_xinference.sh) hold the real release;
  conformance/extract/xinference.py runs under each and must reproduce the committed option table
  and registry byte for byte (bar the wheel's name and sha256, which only `--wheel` records).
- TGI, Ollama and TensorRT-LLM sources are git repositories CI cannot reach (it has package
  registries only; TensorRT-LLM has no CPU build and no wheel on PyPI). Their tables store the
  sha256 of every source file read; here each table must be well-formed and agree with the older,
  independently extracted tables still in the repository (ollama-*.json,
  cli_options.json, xinference_cli_options.json). Point DEPLOYC_SRC_TGI_GIT, DEPLOYC_SRC_OLLAMA_GIT
  or DEPLOYC_SRC_TRTLLM_BACKEND_GIT at a clone to re-extract those too and compare byte for byte.
- TensorRT-LLM 1.x: no source at a release tag is reachable, so its extractor's click and pydantic
  readers (which never import the code they read) are checked here against click and pydantic
  themselves, on XInference's cmdline.py and llm_family.py in the 4.1.0 venv.

JSON, subprocess and the standard library only: no deployc module is imported.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.conformance

ROOT = Path(__file__).resolve().parents[2]
HOME = Path(os.environ.get("DEPLOYC_CONFORMANCE", ROOT / ".conformance"))
XINFERENCE = ("4.1.0", "1.17.1")


def venv_python(version: str) -> Path:
    py = HOME / f"xinference-{version}" / "bin" / "python"
    if not py.exists():
        pytest.fail(f"{py} is missing: run `bash conformance/install.sh` first", pytrace=False)
    return py


def run(argv: list[str]) -> str:
    proc = subprocess.run(argv, check=False, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def load(rel: str) -> dict:
    return json.loads((ROOT / rel).read_text(encoding="utf-8"))


def same_but_wheel(fresh: str, committed_path: Path) -> None:
    new, old = json.loads(fresh), json.loads(committed_path.read_text(encoding="utf-8"))
    assert new["source"]["wheel"] is None and new["source"]["sha256"] is None
    new["source"]["wheel"], new["source"]["sha256"] = old["source"]["wheel"], old["source"]["sha256"]
    assert new == old, f"{committed_path.relative_to(ROOT)} differs from what {new['extractor']} reads now"


@pytest.mark.parametrize("version", XINFERENCE)
def test_xinference_option_table_is_what_the_release_click_commands_say(version):
    fresh = run([str(venv_python(version)), "conformance/extract/xinference.py", "--stdout"])
    same_but_wheel(fresh, ROOT / f"targets/xinference/engine_options/{version}.json")


@pytest.mark.parametrize("version", XINFERENCE)
def test_xinference_registry_is_what_the_release_catalogue_says(version):
    fresh = run([str(venv_python(version)), "conformance/extract/xinference.py", "--registry-stdout"])
    path = ROOT / f"targets/xinference/registry/{version}.json"
    same_but_wheel(fresh, path)
    # the committed layout (one model per line) is the extractor's own
    new = json.loads(fresh)
    new["source"]["wheel"], new["source"]["sha256"] = (json.loads(path.read_text())["source"][k]
                                                        for k in ("wheel", "sha256"))
    spec = importlib.util.spec_from_file_location("_xinference_extract", ROOT / "conformance/extract/xinference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # stdlib only at import time; the xinference package is imported by main()
    assert mod.dumps_registry(new) == path.read_text(encoding="utf-8")


# Runs under the xinference-4.1.0 venv: parse real click / pydantic code with the TensorRT-LLM
# extractor's readers and compare with what click and pydantic build from the same code.
AST_CHECK = r'''
import ast, importlib.util, json, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("trt_extract", sys.argv[1])
T = importlib.util.module_from_spec(spec); spec.loader.exec_module(T)
import click
import xinference.deploy.cmdline as c
import xinference.model.llm.llm_family as lf
out = {"click": [], "pydantic": [], "n_click": 0, "n_pydantic": 0}
funcs = {n.name: n for n in ast.parse(Path(c.__file__).read_text()).body if isinstance(n, ast.FunctionDef)}
for cmd in (c.local, c.supervisor, c.worker, c.cli.commands["launch"], c.cli.commands["register"]):
    opts, _ = T.click_options(funcs[cmd.callback.__name__])
    for p in cmd.params:
        if not isinstance(p, click.Option):
            continue
        key = ([o for o in p.opts if o.startswith("--")] or p.opts)[0]
        o = opts.pop(key, None)
        out["n_click"] += 1
        if o is None:
            out["click"].append([cmd.name, key, "missing"]); continue
        want = {"aliases": sorted(x for x in p.opts if x != key), "dest": p.name, "multiple": p.multiple,
                "is_flag": p.is_flag, "secondary_opts": list(p.secondary_opts)}
        if "default_expr" not in o:
            want["default"] = list(p.default) if isinstance(p.default, tuple) else p.default
        for k, v in want.items():
            if o[k] != v:
                out["click"].append([cmd.name, key, k, o[k], v])
    out["click"] += [[cmd.name, k, "extra"] for k in opts]
for name, cls in T.pydantic_classes(ast.parse(Path(lf.__file__).read_text())).items():
    model = getattr(lf, name)
    v2 = hasattr(model, "model_fields")
    fields = model.model_fields if v2 else model.__fields__
    for f, e in cls["fields"].items():
        out["n_pydantic"] += 1
        mf = fields.get(f)
        if mf is None:
            out["pydantic"].append([name, f, "missing"]); continue
        # pydantic v1 (XInference's compat layer) gives Optional[...] without a default None;
        # the reader states v2's rule (TensorRT-LLM's), so those are not compared.
        v1_implicit = not v2 and e["required"] and e["type"].startswith(("Optional[", "Union["))
        required = mf.is_required() if v2 else mf.required
        if not v1_implicit and e["required"] != required:
            out["pydantic"].append([name, f, "required", e["required"], required])
        if not e["required"] and "default_expr" not in e and "default_factory" not in e and e["default"] != mf.default:
            out["pydantic"].append([name, f, "default", e["default"], repr(mf.default)])
print(json.dumps(out))
'''


def test_tensorrt_llm_click_and_pydantic_readers_agree_with_click_and_pydantic():
    out = json.loads(run([str(venv_python("4.1.0")), "-c", AST_CHECK,
                          str(ROOT / "conformance/extract/tensorrt_llm.py")]))
    assert out["n_click"] >= 40 and out["n_pydantic"] >= 40, out
    assert out["click"] == [] and out["pydantic"] == [], out


def test_tensorrt_llm_argparse_reader_on_the_backend_launcher():
    data = load("targets/tensorrt_llm/engine_options/0.19.0.json")["commands"]["launch_triton_server.py"]["options"]
    assert {k: v["takes_value"] for k, v in data.items() if not v["takes_value"]} == {
        "--force": False, "--log": False, "--no-mpi": False, "--multi-model": False,
        "--disable-spawn-processes": False, "--oversubscribe": False}


# --- sources CI cannot reach: re-extract when a clone is named, else hold the tables together ---

REEXTRACT = {
    "DEPLOYC_SRC_TGI_GIT": (["conformance/extract/tgi.py", "{git}", "{tag}", "--stdout"], "tgi",
                            {"3.3.7": "v3.3.7", "3.3.5": "v3.3.5", "2.4.1": "v2.4.1", "2.0.4": "v2.0.4"}),
    "DEPLOYC_SRC_OLLAMA_GIT": (["conformance/extract/ollama.py", "{git}", "{tag}", "--stdout"], "ollama",
                               {"0.33.0-rc2": "v0.33.0-rc2", "0.32.15": "v0.32.15", "0.12.11": "v0.12.11"}),
    "DEPLOYC_SRC_TRTLLM_BACKEND_GIT": (["conformance/extract/tensorrt_llm.py", "v0.19", "{git}", "--stdout"],
                                       "tensorrt_llm", {"0.19.0": None}),
}


@pytest.mark.parametrize("env", sorted(REEXTRACT))
def test_reextract_from_a_named_clone(env):
    if not os.environ.get(env):
        pytest.skip(f"{env} not set: the source repository is not reachable from CI")
    argv, pkg, versions = REEXTRACT[env]
    for version, tag in versions.items():
        cmd = [sys.executable] + [a.format(git=os.environ[env], tag=tag) for a in argv]
        fresh = run(cmd)
        assert fresh == (ROOT / f"targets/{pkg}/engine_options/{version}.json").read_text(encoding="utf-8"), version


def test_ollama_feature_since_reextracts_from_a_named_clone():
    if not os.environ.get("DEPLOYC_SRC_OLLAMA_GIT"):
        pytest.skip("DEPLOYC_SRC_OLLAMA_GIT not set: the source repository is not reachable from CI")
    fresh = run([sys.executable, "conformance/extract/ollama.py", os.environ["DEPLOYC_SRC_OLLAMA_GIT"],
                 "--since", "v0.32.15", "--stdout"])
    assert fresh == (ROOT / "targets/ollama/feature_since.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("version", ["0.32.15", "0.12.11"])
def test_ollama_table_agrees_with_the_older_conformance_table(version):
    old_path = ROOT / f"tests/conformance/data/ollama-{version}.json"
    if not old_path.exists():
        pytest.skip("older table retired")
    new, old = load(f"targets/ollama/engine_options/{version}.json"), json.loads(old_path.read_text())
    assert new["source"]["commit"] == old["commit"]
    assert new["modelfile_commands"] == old["commands"]
    assert set(new["options"]) == set(old["parameters"]) | set(old["deprecated_parameters"])
    assert {k for k, o in new["options"].items() if o["deprecated"]} == set(old["deprecated_parameters"])
    assert set(old["env_vars"]) <= set(new["env_vars"])
    assert new["quantize_levels"] == old["quantize_levels"] and new["kv_cache_types"] == old["kv_cache_types"]
    assert set(new["commands"]["ollama create"]["options"]) == {f["name"] for f in old["create_flags"]}


def test_xinference_tables_agree_with_the_older_spelling_table():
    old_path = ROOT / "tests/conformance/data/xinference_cli_options.json"
    if not old_path.exists():
        pytest.skip("older table retired")
    old = json.loads(old_path.read_text())["versions"]
    for version in XINFERENCE:
        new = load(f"targets/xinference/engine_options/{version}.json")
        cmds = {"xinference-local": new["options"], **{k: v["options"] for k, v in new["commands"].items()}}
        for name, spellings in old[version]["commands"].items():
            mine = {s for k, o in cmds[name].items() for s in (k, *o["aliases"], *o["secondary_opts"])}
            assert mine == set(spellings), (version, name)


def test_tensorrt_llm_0_19_table_agrees_with_cli_options():
    old_path = ROOT / "targets/tensorrt_llm/cli_options.json"
    if not old_path.exists():
        pytest.skip("older table retired")
    old = json.loads(old_path.read_text())["0.19.0"]
    new = load("targets/tensorrt_llm/engine_options/0.19.0.json")
    cmds = {"trtllm-serve": new["options"], **{k: v["options"] for k, v in new["commands"].items()}}
    assert set(cmds) == set(old)
    for tool, table in old.items():
        if tool == "launch_triton_server.py":  # re-read from the backend tag: same spellings
            spellings = {s.lstrip("-") for k, o in cmds[tool].items() for s in (k, *o["aliases"])}
            assert spellings == set(table["options"]), tool
            continue
        assert {k.lstrip("-"): (o["choices"] if o["choices"] else "flag" if not o["takes_value"] else None)
                for k, o in cmds[tool].items()} == table["options"], tool


# --- llama.cpp: the trees conformance/install_llama_cpp.sh unpacks from PyPI's llama-cpp-python sdists ---

LLAMA_CPP = sorted((ROOT / "targets/llama_cpp/engine_options").glob("b*.json"))


@pytest.mark.parametrize("path", LLAMA_CPP, ids=lambda p: p.stem)
def test_llama_cpp_option_table_is_what_the_vendored_arg_cpp_says(path):
    """The sdist PyPI serves is the one the table names (sha256), and conformance/extract/llama_cpp.py
    reads the same table from the llama.cpp tree it vendors, byte for byte."""
    doc = load(str(path.relative_to(ROOT)))
    via = doc["source"]["via"]
    pkg = via["sdist"].removeprefix("llama-cpp-python==")
    folder = HOME / "llama-cpp-src" / pkg
    src = folder / f"llama_cpp_python-{pkg}" / via["path"]
    if not (src / "common" / "arg.cpp").is_file():
        pytest.fail(f"{src} is missing: run `bash conformance/install.sh` first", pytrace=False)
    sha256 = (folder / "sdist.sha256").read_text().split()[0]
    assert sha256 == via["sha256"], f"{via['sdist']} on PyPI is not the sdist {path.name} was read from"
    fresh = run([sys.executable, "conformance/extract/llama_cpp.py", str(src), "--build", doc["version"].removeprefix("b"),
                 "--commit", doc["source"]["commit"], "--sdist", via["sdist"], "--sdist-sha256", sha256, "--out", "-"])
    assert fresh == path.read_text(encoding="utf-8"), f"{path.relative_to(ROOT)} differs from what the tree's arg.cpp says"
