"""Shape of the committed engine option tables (targets/<engine>/engine_options/<version>.json).

No engine runs here: the conformance tier (tests/conformance/test_option_tables.py) checks that
each file is what the real parser says. This checks that every file is a well-formed table that
names where it came from, in the canonical layout the extractors write, and that the installers
build a venv for exactly the versions that have a table. Only the JSON files and the install
scripts are read, no deployc module.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TABLES = sorted(p for engine in ("vllm", "sglang", "lmdeploy") for p in ROOT.glob(f"targets/{engine}/engine_options/*.json"))

TOP = {"engine", "version", "command", "parser", "python", "source", "extractor", "options", "positionals",
       "prefix_matching", "normalizes_underscores", "registries"}
OPTIONAL_TOP = {"platform"}
OPTION = {"aliases", "dest", "action", "nargs", "type", "choices", "default", "required", "deprecated", "hidden"}
OPTIONAL_OPTION = {"const"}
REGISTRY = {"from", "option", "names", "enforced_by_parser"}
INSTALLERS = {"vllm": ("conformance/install.sh", "VLLM_VERSIONS"),
              "sglang": ("conformance/install_sglang.sh", "SGLANG_VERSIONS"),
              "lmdeploy": ("conformance/install_lmdeploy.sh", "LMDEPLOY_VERSIONS")}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _id(path: Path) -> str:
    return f"{path.parent.parent.name}-{path.stem}"


def test_tables_exist() -> None:
    assert {p.parent.parent.name for p in TABLES} >= {"vllm", "sglang"}, TABLES


@pytest.mark.parametrize("path", TABLES, ids=_id)
def test_canonical_layout(path: Path) -> None:
    """Sorted keys, indent 1, one trailing newline: what argparse_table.dumps writes, so a
    regenerated file diffs only where the engine changed."""
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", TABLES, ids=_id)
def test_provenance(path: Path) -> None:
    doc = load(path)
    assert TOP <= doc.keys() <= TOP | OPTIONAL_TOP, doc.keys() ^ TOP
    engine, version = path.parent.parent.name, path.stem
    assert (doc["engine"], doc["version"]) == (engine, version)
    assert doc["parser"] == "argparse" and re.fullmatch(r"3\.\d+", doc["python"])
    assert isinstance(doc["command"], list) and doc["command"] and all(isinstance(a, str) for a in doc["command"])
    src = doc["source"]
    # a wheel that records no commit (LMDeploy's version.py has none) has no "commit" key
    assert set(src) - {"commit"} == {"package", "wheel", "sha256", "files"}
    assert src["package"] == f"{engine}=={version}"
    assert src["wheel"].startswith(f"{engine}-{version}-") and src["wheel"].endswith(".whl")
    assert re.fullmatch(r"[0-9a-f]{64}", src["sha256"])
    assert src.get("commit") is None or re.fullmatch(r"[0-9a-f]{7,40}", src["commit"])
    assert src["files"] == sorted(set(src["files"])) and src["files"]
    assert all(f.startswith(f"{engine}/") and f.endswith(".py") for f in src["files"])
    assert (ROOT / doc["extractor"]).is_file(), doc["extractor"]
    assert isinstance(doc["prefix_matching"], bool) and isinstance(doc["normalizes_underscores"], bool)


@pytest.mark.parametrize("path", TABLES, ids=_id)
def test_options(path: Path) -> None:
    doc = load(path)
    options = doc["options"]
    assert options and list(options) == sorted(options)
    seen: dict[str, str] = {}
    for key, opt in options.items():
        assert OPTION <= opt.keys() <= OPTION | OPTIONAL_OPTION, (key, opt.keys() ^ OPTION)
        assert key.startswith("-"), key
        assert opt["aliases"] == sorted(set(opt["aliases"])) and key not in opt["aliases"], key
        for spelling in [key, *opt["aliases"]]:
            assert spelling.startswith("-"), (key, spelling)
            assert spelling not in seen, f"{spelling} belongs to both {seen.get(spelling)} and {key}"
            seen[spelling] = key
        if any(a.startswith("--") for a in opt["aliases"]):
            assert key.startswith("--"), f"{key}: the key is the first long spelling"
        assert isinstance(opt["dest"], str) and opt["dest"]
        assert isinstance(opt["action"], str) and opt["action"]
        assert opt["type"] is None or isinstance(opt["type"], str)
        assert opt["choices"] is None or isinstance(opt["choices"], list)
        assert opt["nargs"] is None or isinstance(opt["nargs"], (int, str))
        for flag in ("required", "deprecated", "hidden"):
            assert isinstance(opt[flag], bool), (key, flag)
    for pos in doc["positionals"]:
        assert OPTION - {"aliases"} <= pos.keys() <= (OPTION | OPTIONAL_OPTION) - {"aliases"}, pos


@pytest.mark.parametrize("path", TABLES, ids=_id)
def test_registries(path: Path) -> None:
    doc = load(path)
    spellings = {s for key, opt in doc["options"].items() for s in [key, *opt["aliases"]]}
    assert doc["registries"], "every table records the name lists deployc checks values against"
    for name, reg in doc["registries"].items():
        assert set(reg) == REGISTRY, (name, set(reg) ^ REGISTRY)
        assert isinstance(reg["from"], str) and reg["from"]
        assert reg["option"] is None or reg["option"] in spellings, (name, reg["option"])
        assert reg["names"] and reg["names"] == sorted(set(reg["names"])), name
        assert isinstance(reg["enforced_by_parser"], bool)
        if reg["enforced_by_parser"]:
            opt = doc["options"][reg["option"]]
            if opt["choices"] is None:  # a type function checks the value (LMDeploy 0.18's QuantPolicy)
                assert opt["type"], name
            else:  # names are strings; choices keep the parser's type (LMDeploy 0.9's --quant-policy: 0, 4, 8)
                assert set(reg["names"]) <= {str(c) for c in opt["choices"]}, name


@pytest.mark.parametrize("engine", sorted(INSTALLERS))
def test_installer_versions_have_tables(engine: str) -> None:
    """The default version list of the engine's installer and the committed tables name the same
    versions: a version CI builds a venv for has a table to check, and every table has a venv."""
    script, var = INSTALLERS[engine]
    match = re.search(rf'^{var}="\$\{{{var}:-([^}}"]*)\}}"', (ROOT / script).read_text(), re.MULTILINE)
    assert match, f"{script}: no {var} default"
    assert sorted(match.group(1).split()) == sorted(p.stem for p in TABLES if p.parent.parent.name == engine)


def test_llama_cpp_installer_builds_what_the_tables_name() -> None:
    """conformance/install_llama_cpp.sh unpacks one llama-cpp-python sdist per table, and the build
    number and commit it pairs with that sdist are the table's."""
    script = (ROOT / "conformance/install_llama_cpp.sh").read_text()
    vendored = {m[0]: (f"b{m[1]}", m[2]) for m in re.findall(r'^\s*\[([\d.]+)\]="(\d+) ([0-9a-f]{40})"', script, re.MULTILINE)}
    tables = {}
    for path in sorted(ROOT.glob("targets/llama_cpp/engine_options/*.json")):
        doc = load(path)
        tables[doc["source"]["via"]["sdist"].removeprefix("llama-cpp-python==")] = (doc["version"], doc["source"]["commit"])
    assert vendored and vendored == tables
