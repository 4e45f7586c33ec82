"""Shape and provenance of the option tables read from engine sources (TGI, TensorRT-LLM, Ollama,
XInference): targets/<pkg>/engine_options/<version>.json and targets/xinference/registry/<version>.json.

JSON and the standard library only: no deployc module is imported (their names are changing).
The shared format is described in conformance/README.md, "Option tables".
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINES = {"tgi": "tgi", "tensorrt_llm": "tensorrt_llm", "ollama": "ollama", "xinference": "xinference"}
TABLES = sorted(p for pkg in ENGINES for p in (ROOT / "targets" / pkg / "engine_options").glob("*.json"))
REGISTRIES = sorted((ROOT / "targets" / "xinference" / "registry").glob("*.json"))
SHARED_KEYS = {"aliases", "dest", "takes_value", "type", "choices", "default", "env", "multiple", "deprecated"}
SHA = re.compile(r"[0-9a-f]{64}")
COMMIT = re.compile(r"[0-9a-f]{40}")
# Versions each engine must have a table for (real recipes pin them; the brief lists them).
REQUIRED = {"tgi": {"3.3.7", "3.3.5", "2.4.1", "2.0.4"}, "ollama": {"0.32.15", "0.12.11"},
            "xinference": {"4.1.0", "1.17.1"}, "tensorrt_llm": {"1.2.1", "0.19.0"}}


def canonical(data: dict) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def ids(paths):
    return [f"{p.parents[1].name}/{p.parent.name}/{p.name}" for p in paths]


def all_commands(data: dict) -> dict[str, dict]:
    """program -> its options, plus every entry of "commands"."""
    out = {data.get("program", data["engine"]): data["options"]}
    for name, cmd in data.get("commands", {}).items():
        out[name] = cmd["options"]
    return out


def test_every_required_version_has_a_table():
    have: dict[str, set] = {}
    for path in TABLES:
        have.setdefault(path.parents[1].name, set()).add(path.stem)
    for engine, versions in REQUIRED.items():
        assert versions <= have.get(engine, set()), (engine, versions - have.get(engine, set()))
    assert {p.stem for p in REGISTRIES} == REQUIRED["xinference"]


@pytest.mark.parametrize("path", TABLES, ids=ids(TABLES))
def test_table_is_canonical_json_named_after_engine_and_version(path):
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == canonical(data), "not sorted keys / indent 1 / one trailing newline: re-run the extractor"
    assert data["engine"] == path.parents[1].name
    assert data["version"] == path.stem
    assert (ROOT / data["extractor"]).is_file()
    assert data["extractor"] == f"conformance/extract/{data['engine']}.py"
    assert data["parser"] in {"clap", "argparse", "click", "go-modelfile", "pydantic"}
    assert data["options"], "no options"


@pytest.mark.parametrize("path", TABLES, ids=ids(TABLES))
def test_source_names_where_every_fact_came_from(path):
    src = load(path)["source"]
    assert sorted(src["files"]) == src["files"] == sorted(src["file_sha256"])
    assert all(SHA.fullmatch(h) for h in src["file_sha256"].values())
    if "commit" in src:  # read from a git tag
        assert COMMIT.fullmatch(src["commit"]) and src["tag"] and "/" in src["repo"]
    elif "package" in src:  # read from an installed release wheel
        assert src["package"] == f"{load(path)['engine']}=={path.stem}"
        assert src["wheel"].startswith(f"{load(path)['engine']}-{path.stem}-") and src["wheel"].endswith(".whl")
        assert SHA.fullmatch(src["sha256"])
    else:  # carried over from an older in-repo table
        assert src["files"] == [src["migrated_from"]] and src["upstream"]
        old = ROOT / src["migrated_from"]
        if old.exists():  # the older table may be retired once targets read the new one
            assert hashlib.sha256(old.read_bytes()).hexdigest() == src["file_sha256"][src["migrated_from"]], \
                f"{src['migrated_from']} changed since this table was made from it: re-run {load(path)['extractor']}"


@pytest.mark.parametrize("path", TABLES, ids=ids(TABLES))
def test_every_option_entry_has_the_shared_keys_and_types(path):
    data = load(path)
    for command, options in all_commands(data).items():
        for key, o in options.items():
            where = f"{command} {key}"
            assert set(o) >= SHARED_KEYS, (where, SHARED_KEYS - set(o))
            assert isinstance(o["aliases"], list) and all(isinstance(a, str) for a in o["aliases"]), where
            assert isinstance(o["takes_value"], bool) and isinstance(o["multiple"], bool), where
            assert isinstance(o["deprecated"], bool), where
            assert o["choices"] is None or (isinstance(o["choices"], list) and o["choices"]), where
            assert o["env"] is None or isinstance(o["env"], (str, list)), where
            if data["parser"] != "go-modelfile" or command != data.get("program", data["engine"]):
                assert key.startswith("-") and all(a.startswith("-") for a in o["aliases"]), where


def test_tgi_tables():
    for path in (ROOT / "targets/tgi/engine_options").glob("*.json"):
        data = load(path)
        assert data["program"] == "text-generation-launcher" and re.fullmatch(r"4\.\d+\.\d+", data["parser_version"])
        assert data["source"]["repo"] == "huggingface/text-generation-inference"
        assert data["source"]["tag"] == "v" + data["version"]
        assert data["source"]["files"] == ["Cargo.lock", "launcher/src/main.rs"]
        enums = {v: e["values"] for v, e in data["value_enums"].items()}
        for key, o in data["options"].items():
            assert re.fullmatch(r"--[a-z0-9-]+", key) and o["dest"] == key[2:].replace("-", "_")
            assert o["env"] in (None, o["dest"].upper())
            if o["choices"] and o["choices"] != ["true", "false"]:
                assert o["choices"] in enums.values(), key
            if not o["takes_value"]:
                assert o["type"] == "bool" and o["default"] is False, key
        assert {"--model-id", "--port", "--max-input-tokens", "--max-total-tokens", "--quantize"} <= set(data["options"])
        assert data["options"]["--max-input-length"]["deprecated"]
        assert set(data["builtin_options"]) == {"--help", "--version"}


def test_tgi_short_flags_shared_only_where_the_source_shares_them():
    """clap gives `short` the field's first letter; 3.3.x declares it on both --port and --prometheus-port."""
    for path in (ROOT / "targets/tgi/engine_options").glob("*.json"):
        owners: dict[str, list] = {}
        for key, o in load(path)["options"].items():
            for a in o["aliases"]:
                owners.setdefault(a, []).append(key)
        shared = {a: k for a, k in owners.items() if len(k) > 1}
        assert shared in ({}, {"-p": ["--port", "--prometheus-port"]}), (path.name, shared)


def test_ollama_tables():
    for path in (ROOT / "targets/ollama/engine_options").glob("*.json"):
        data = load(path)
        assert data["source"]["repo"] == "ollama/ollama" and data["source"]["tag"] == "v" + data["version"]
        assert data["prerelease"] == ("-rc" in data["version"])
        assert {"from", "parameter", "template", "system", "adapter", "license", "message"} <= set(data["modelfile_commands"])
        params = data["options"]
        for name, o in params.items():
            assert re.fullmatch(r"[a-z_0-9]+", name)
            assert (o["type"] is None) == o["deprecated"], name
        assert params["stop"]["multiple"] and params["num_ctx"]["default"] is None
        assert "num_ctx" in data["dynamic_defaults"]
        for name, env in data["env_vars"].items():
            assert set(env) == {"kind", "default", "documented_default", "only_if"}, name
        assert data["env_vars"]["OLLAMA_NUM_PARALLEL"] == {"kind": "Uint", "default": 1, "documented_default": None,
                                                         "only_if": None}
        create = data["commands"]["ollama create"]["options"]
        assert create["--file"]["aliases"] == ["-f"] and create["--quantize"]["aliases"] == ["-q"]
        assert "Q4_K_M" in data["quantize_levels"] and "f16" in data["kv_cache_types"]


def test_ollama_versions_differ_where_the_source_does():
    by = {p.stem: load(p) for p in (ROOT / "targets/ollama/engine_options").glob("*.json")}
    old, new = by["0.12.11"], by["0.32.15"]
    assert {"draft", "requires"} <= set(new["modelfile_commands"])
    assert not {"draft", "requires"} & set(old["modelfile_commands"])
    assert new["options"]["draft_num_predict"]["default"] == 4 and "draft_num_predict" not in old["options"]
    assert (old["options"]["repeat_penalty"]["default"], new["options"]["repeat_penalty"]["default"]) == (1.1, 1.0)


def test_xinference_tables():
    for path in (ROOT / "targets/xinference/engine_options").glob("*.json"):
        data = load(path)
        assert data["program"] == "xinference-local" and data["parser"] == "click"
        assert set(data["commands"]) == {"xinference", "xinference launch", "xinference register",
                                         "xinference-supervisor", "xinference-worker"}
        launch = data["commands"]["xinference launch"]
        assert launch["context_settings"] == {"allow_extra_args": True, "ignore_unknown_options": True}
        assert launch["options"]["--trust-remote-code"]["default"] is True
        assert data["options"]["--port"]["default"] == 9997 and data["options"]["--host"]["default"] == "127.0.0.1"
        for cmd in data["commands"].values():
            for key, o in cmd["options"].items():
                assert {"is_flag", "secondary_opts", "required", "nargs", "hidden"} <= set(o), key
                assert o["takes_value"] == (not o["is_flag"]), key


@pytest.mark.parametrize("path", REGISTRIES, ids=ids(REGISTRIES))
def test_xinference_registry(path):
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    lines = text.splitlines()
    assert len(lines) == len(data["models"]) + 2, "one model per line"
    assert [json.loads("{" + line.rstrip(",") + "}").popitem()[0] for line in lines[1:-1]] == sorted(data["models"])
    assert data["engine"] == "xinference" and data["version"] == path.stem
    src = data["source"]
    assert src["package"] == f"xinference=={path.stem}" and SHA.fullmatch(src["sha256"])
    assert sorted(src["file_sha256"]) == src["files"] and all(SHA.fullmatch(h) for h in src["file_sha256"].values())
    assert len(data["models"]) > 100
    for name, entry in data["models"].items():
        assert set(entry) == {"architectures", "abilities", "context_length", "specs"} and entry["specs"], name
        assert all(isinstance(a, str) for a in entry["architectures"] + entry["abilities"]), name
        for s in entry["specs"]:
            assert set(s) == {"model_format", "model_size_in_billions", "hubs"}, name
            assert s["hubs"] and all(set(h) == {"model_id", "quantizations"} for h in s["hubs"].values()), name


def test_tensorrt_llm_tables():
    data = load(ROOT / "targets/tensorrt_llm/engine_options/0.19.0.json")
    assert data["program"] == "trtllm-serve" and COMMIT.fullmatch(data["source"]["pinned_commit"])
    assert {"trtllm-build", "launch_triton_server.py", "tritonserver", "quantize.py"} <= set(data["commands"])
    launcher = data["commands"]["launch_triton_server.py"]
    assert launcher["source"]["repo"] == "triton-inference-server/tensorrtllm_backend"
    assert launcher["source"]["tag"] == "v0.19.0" and COMMIT.fullmatch(launcher["source"]["commit"])
    assert launcher["options"]["--world_size"]["default"] == 1
    assert launcher["options"]["--force"]["aliases"] == ["-f"]
    for name, cmd in data["commands"].items():
        assert cmd["parser"] in {"argparse", "click", "tritonserver"}, name


def test_triton_container_pairing_cites_its_sources():
    data = load(ROOT / "targets/tensorrt_llm/triton_containers.json")
    assert all(re.fullmatch(r"\d\d\.\d\d", k) for k in data["containers"])
    assert data["containers"]["24.07"] == "0.11.0"
    assert all("http" in s or "README.md:" in s for s in data["sources"].values())


def test_tensorrt_llm_1x_table():
    data = load(ROOT / "targets/tensorrt_llm/engine_options/1.2.1.json")
    src = data["source"]
    assert COMMIT.fullmatch(src["commit"]) and src["docs"]["base"] == "https://nvidia.github.io/TensorRT-LLM/1.2.1/"
    assert data["options"]["--config"]["aliases"] == ["--extra_llm_api_options"]
    assert data["options"]["--tensor_parallel_size"]["aliases"] == ["--tp_size"]
    assert {"BaseLlmArgs", "TorchLlmArgs", "KvCacheConfig"} <= set(data["llm_api"])
    assert data["llm_api"]["KvCacheConfig"]["fields"]["free_gpu_memory_fraction"]["default"] == 0.9
    ptq = data["commands"]["hf_ptq.py"]["source"]
    assert ptq["repo"] == "NVIDIA/Model-Optimizer" and ptq["tag"] == "0.43.0" and COMMIT.fullmatch(ptq["commit"])


def test_sphinx_readers_on_a_page_of_their_own_shape():
    import sys
    sys.path.insert(0, str(ROOT / "conformance" / "extract"))
    try:
        from _sphinx import click_section, viewcode_source
    finally:
        sys.path.pop(0)
    page = ('<section id="x-serve"><dl class="std option"><dt class="sig sig-object std" id="a">'
            '<span class="sig-name descname"><span class="pre">--alpha</span></span>'
            '<span class="sig-prename descclassname"><span class="pre">,</span> </span>'
            '<span class="sig-name descname"><span class="pre">--a</span></span>'
            '<span class="sig-prename descclassname"> <span class="pre">&lt;alpha&gt;</span></span></dt>'
            '<dd><p><code class="tag beta docutils literal notranslate"><span class="pre">beta</span></code> A.</p>'
            '<dl class="field-list simple"><dt class="field-odd">Options<span class="colon">:</span></dt>'
            '<dd class="field-odd"><p>x | y</p></dd></dl></dd></dl>'
            '<dl class="std option"><dt class="sig sig-object std" id="b"><span class="sig-name descname">'
            '<span class="pre">--flag</span></span></dt><dd><p>F.</p></dd></dl></section>')
    got = [(o["names"], o["metavar"], o["stability"], o["choices"]) for o in click_section(page, "x-serve")]
    assert got == [(["--alpha", "--a"], "alpha", "beta", ["x", "y"]), (["--flag"], None, None, None)]
    code = ('<div class="highlight"><pre><span></span><span class="k">class</span> <span class="nc">A</span>:\n'
            '    <span class="n">x</span>: <span class="nb">int</span> = <span class="mi">1</span>\n</pre></div>')
    assert viewcode_source(code) == "class A:\n    x: int = 1\n"


def test_ollama_counterparts_name_their_sources():
    """targets/ollama/counterparts.json: every GGUF row cites a registry file of the xinference wheel the
    XInference target's registry comes from; every library row its ollama.com page."""
    data = json.loads((ROOT / "targets/ollama/counterparts.json").read_text(encoding="utf-8"))
    registry = json.loads((ROOT / "targets/xinference/registry/4.1.0.json").read_text(encoding="utf-8"))["source"]
    src = data["gguf_source"]
    assert (src["wheel"], src["sha256"]) == (registry["wheel"], registry["sha256"])
    assert all(src["file_sha256"][f] == h for f, h in registry["file_sha256"].items() if f in src["file_sha256"])
    hubs = [r["hub"].lower() for r in data["models"]]
    assert hubs == sorted(hubs) and len(set(hubs)) == len(hubs)
    for r in data["models"]:
        assert "gguf" in r or "library" in r, r
        if "gguf" in r:
            assert r["gguf"].lower().endswith("gguf") and r["quantizations"], r
            assert r["source"].split(" ")[0] in src["file_sha256"], r
        if "library" in r:
            assert r["library_source"] == "https://ollama.com/library/" + r["library"].split(":")[0], r


def trtllm_extractor():
    """conformance/extract/tensorrt_llm.py, loaded under a name of its own (not the engine's package name)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("trtllm_extract", ROOT / "conformance/extract/tensorrt_llm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLICK_SRC = '''
import click

@click.command("serve")
@click.argument("model", type=str)
@click.option("--free_gpu_memory_fraction", "--kv_cache_free_gpu_memory_fraction", type=float, default=0.9)
@click.option("--config", "--extra_llm_api_options", "extra_llm_api_options", type=str, default=None)
@click.option("-x", "--yy", "--zzzz-long", type=int)
@click.option("--Mixed-Case", is_flag=True)
@click.option("--dirs", type=str, multiple=True)
def serve(**kw):
    return kw
'''


def test_tensorrt_llm_click_reader_names_options_as_click_does():
    """The TensorRT-LLM extractor reads click decorators with ast; what it says of each option is what click
    builds from the same code (dest is the FIRST long spelling: trtllm-serve's --free_gpu_memory_fraction)."""
    click = pytest.importorskip("click")
    import ast
    reader = trtllm_extractor()
    opts, args = reader.click_options(reader.click_command(ast.parse(CLICK_SRC), "serve"))
    namespace: dict = {}
    exec(compile(CLICK_SRC, "<serve>", "exec"), namespace)
    built = {p.opts[0] if p.opts[0].startswith("--") else p.opts[1]: p
             for p in namespace["serve"].params if isinstance(p, click.Option)}
    assert sorted(opts) == sorted(built)
    assert {k: (o["dest"], sorted(o["aliases"]), o["multiple"], o["is_flag"]) for k, o in opts.items()} == {
        k: (p.name, sorted(o for o in p.opts if o != k), p.multiple, p.is_flag) for k, p in built.items()}
    assert opts["--free_gpu_memory_fraction"]["dest"] == "free_gpu_memory_fraction"
    assert args == [{"dest": "model", "type": "str"}]


def test_tensorrt_llm_compare_names_each_difference_once():
    import copy
    reader = trtllm_extractor()
    old = load(ROOT / "targets/tensorrt_llm/engine_options/1.2.1.json")
    assert reader.compare(old, old) == []
    new = copy.deepcopy(old)
    new["version"] = "1.3.0rc3"
    new["options"]["--grpc"] = dict(new["options"]["--trust_remote_code"], dest="grpc")
    new["options"]["--custom_module_dirs"]["multiple"] = True
    new["options"]["--tool_parser"].update(choices=None, choices_expr="ToolParserFactory.parsers.keys()")
    del new["llm_api"]["TorchLlmArgs"]["fields"]["perf_metrics_max_requests"]
    new["llm_api"]["KvCacheConfig"]["fields"]["free_gpu_memory_fraction"]["default"] = 0.8
    assert reader.compare(old, new) == [
        "serve --grpc: only in 1.3.0rc3",
        "serve --custom_module_dirs multiple: False -> True",
        "KvCacheConfig.free_gpu_memory_fraction default: 0.9 -> 0.8",
        "TorchLlmArgs.perf_metrics_max_requests: only in 1.2.1",
    ]


def test_ollama_feature_since_covers_the_newest_table_and_cites_each_tag():
    """targets/ollama/feature_since.json (conformance/extract/ollama.py --since): the first stable release of
    every Modelfile command and PARAMETER of the newest table, each with its tag and commit."""
    data = load(ROOT / "targets/ollama/feature_since.json")
    newest = load(ROOT / f"targets/ollama/engine_options/{data['newest'].lstrip('v')}.json")
    assert sorted(data["modelfile_commands"]) == sorted(newest["modelfile_commands"])
    assert sorted(data["parameters"]) == sorted(k for k, o in newest["options"].items() if not o["deprecated"])
    for entry in [*data["modelfile_commands"].values(), *data["parameters"].values()]:
        assert entry["tag"] == "v" + entry["version"] and COMMIT.fullmatch(entry["commit"]), entry
    assert data["modelfile_commands"]["draft"]["version"] == "0.23.1"
    assert data["parameters"]["draft_num_predict"]["version"] == "0.30.0"
    assert data["extractor"] == "conformance/extract/ollama.py"
