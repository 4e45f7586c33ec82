"""LMDeploy's own `lmdeploy serve api_server` parser, at each pinned version, judges every argv deployc writes.

The real lmdeploy package of each version (conformance/install_lmdeploy.sh: installed --no-deps with CPU
torch and only what the parser's imports reach, none of its GPU dependencies) builds its parser as the
console script does (lmdeploy/cli/entrypoint.py: CLI.add_parsers(), SubCliServe.add_parsers()) and
parses the exec line of every serve.sh deployc writes for the samples and for variants that use every
option the target writes, as bash expands it (the API key variable set, so `--api-keys "${KEY:?...}"`
becomes the key). Beyond "it parses", the namespace must carry every spec value: the model, served name,
backend, device, revision, dtype, checkpoint format, KV cache policy, tensor parallelism, session length,
batch size, prefill tokens, cache fraction, adapters, tool-call and reasoning parsers, host, port and key.
"""

from __future__ import annotations

import copy
import json
import subprocess

import pytest
from deployc.targets.lmdeploy.options import TABLE
from deployc.targets.lmdeploy.versions import VERSIONS
from ruamel.yaml import YAML

from .conftest import HOME, ROOT, lower, require, variant_of

pytestmark = pytest.mark.conformance

SAMPLES = sorted(p for p in (ROOT / "samples").glob("*/deploy.yaml")
                 if "lmdeploy" in (YAML(typ="safe").load(p.read_text()).get("targets") or {}))
KEY = "conformance-key-1"
BASE = {"apiVersion": "deployc/v1", "name": "conf", "model": {"source": "org/model"}, "targets": {"lmdeploy": {}}}


def variant(**sections) -> dict:
    return variant_of(BASE, **sections)


# Together with the samples, every option the target writes appears in at least one variant per version.
VARIANTS = {
    "minimal": variant(),
    "pytorch-everything": variant(
        model={"source": "org/model", "revision": "v1.0", "served_name": "served/name",
               "adapters": [{"name": "a1", "source": "./lora/a1"}, {"name": "a2", "source": "org/lora"}]},
        precision={"dtype": "float16", "quantization": "awq"},
        parallelism={"tensor": 2},
        limits={"max_model_len": 8192, "max_concurrency": 16, "max_batch_tokens": 2048},
        server={"host": "127.0.0.1", "port": 9123, "api_key_env": "KEY"},
        hardware={"gpu": "A100-80GB", "memory_utilization": 0.85}, cache={"prefix_caching": True},
        targets={"lmdeploy": {"kv_quant": "int4", "tool_parser": "qwen", "reasoning_parser": "deepseek-r1"}}),
    "gptq-turbomind": variant(precision={"quantization": "gptq", "dtype": "bfloat16"},
                              targets={"lmdeploy": {"backend": "turbomind", "kv_quant": "int8"}}),
    "ascend": variant(targets={"lmdeploy": {"device": "ascend", "image": "example.org/lmdeploy:ascend"}}),
}
ONLY = {"0.18.0": {
    "fp8-remote-code": variant(model={"source": "org/model", "trust_remote_code": True},
                               precision={"quantization": "fp8", "kv_cache_dtype": "fp8"},
                               hardware={"gpu": "H100-80GB"},
                               targets={"lmdeploy": {"tool_parser": "qwen3", "reasoning_parser": "qwen-qwq"}}),
}}

# Runs under the lmdeploy venv's python: build the parser as the console script does and parse each argv.
PROBE = r'''
import contextlib, enum, io, json, sys
sys.argv = ["lmdeploy"]
from lmdeploy.cli.cli import CLI
from lmdeploy.cli.serve import SubCliServe
import lmdeploy
CLI.add_parsers(); SubCliServe.add_parsers()

def enc(v):
    if isinstance(v, enum.Enum):
        return {"enum": type(v).__name__, "name": v.name, "value": v.value}
    if isinstance(v, (list, tuple)):
        return [enc(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return {"repr": repr(v)}

out = {"version": lmdeploy.__version__, "results": {}, "quant_policies": None}
try:  # 0.18: the names --quant-policy takes and the number each parses to
    from lmdeploy.messages import QuantPolicy
    out["quant_policies"] = {p.name.lower(): p.value for p in QuantPolicy}
except ImportError:  # 0.9: plain choices 0, 4, 8
    pass
for item in json.load(sys.stdin):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = CLI.parser.parse_args(item["argv"][1:])
    except SystemExit:
        out["results"][item["id"]] = {"ok": False, "error": err.getvalue()}
        continue
    out["results"][item["id"]] = {"ok": True, "namespace": {k: enc(v) for k, v in vars(ns).items() if k != "run"}}
print(json.dumps(out))
'''


def probe(version: str, argvs: list[dict]) -> dict:
    python = require(HOME / f"lmdeploy-{version}" / "bin" / "python")
    run = subprocess.run([str(python), "-c", PROBE], input=json.dumps(argvs), capture_output=True, text=True, check=False,
                         timeout=600, cwd=str(HOME), env={"PATH": "/usr/bin:/bin", "HOME": str(HOME),
                                                          "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout.splitlines()[-1])  # LMDeploy's logger writes a warning to stdout first


def exec_line(script: str) -> list[str]:
    """serve.sh's exec line as bash expands it, with the API key variables set."""
    line = next(x for x in script.splitlines() if x.startswith("exec "))
    words = subprocess.run(["bash", "-c", "printf '%s\\n' " + line.removeprefix("exec ")], capture_output=True,
                           text=True, check=True, env={"KEY": KEY, "QWEN_API_KEY": KEY, "PATH": "/usr/bin:/bin"})
    return words.stdout.splitlines()


def cases(version: str, tmp_path) -> list[tuple[str, dict, list[str]]]:
    judged = []
    specs = {p.parent.name: YAML(typ="safe").load(p.read_text()) for p in SAMPLES}
    specs |= copy.deepcopy({**VARIANTS, **ONLY.get(version, {})})
    for name, spec in specs.items():
        spec["targets"]["lmdeploy"] = {**(spec["targets"].get("lmdeploy") or {}), "version": version}
        result = lower(spec, "lmdeploy", tmp_path / version / name)
        serve = next(a.content for a in result.lowered.artifacts if a.path == "serve.sh")
        argv = exec_line(serve)
        assert argv[:3] == ["lmdeploy", "serve", "api_server"], (name, argv)
        judged.append((name, spec, argv))
    return judged


def value(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


@pytest.mark.parametrize("version", list(VERSIONS))
def test_real_lmdeploy_parser_reads_every_spec_value(version, tmp_path):
    judged = cases(version, tmp_path)
    assert {n for n, _, _ in judged} >= set(VARIANTS) | {p.parent.name for p in SAMPLES}
    report = probe(version, [{"id": name, "argv": argv} for name, _, argv in judged])
    assert report["version"] == version
    results = report["results"]
    assert {k: r["error"] for k, r in results.items() if not r["ok"]} == {}
    v = VERSIONS[version]
    written: set[str] = set()
    for name, spec, argv in judged:
        ns = results[name]["namespace"]
        written |= {a for a in argv if a.startswith("--")}
        model, limits, server = spec["model"], spec.get("limits", {}), spec.get("server", {})
        opts, hardware = spec["targets"]["lmdeploy"], spec.get("hardware", {})
        assert (ns["command"], ns["model_path"]) == ("serve", model["source"]), name
        assert ns["model_name"] == model.get("served_name", ns["model_name"]), name
        if "served_name" in model:
            assert ns["model_name"] == model["served_name"], name
        assert ns["backend"] == value(argv, "--backend"), name
        if opts.get("backend"):
            assert ns["backend"] == opts["backend"], name
        if model.get("adapters") or opts.get("device", "cuda") != "cuda":
            assert ns["backend"] == "pytorch", name
        assert ns["device"] == opts.get("device", "cuda"), name
        assert ns["revision"] == model.get("revision"), name
        if model.get("trust_remote_code"):
            assert ns["trust_remote_code"] is True, name
        assert ns["dtype"] == spec.get("precision", {}).get("dtype", "auto"), name
        quant = spec.get("precision", {}).get("quantization")
        assert ns["model_format"] == (v.model_formats[quant] if quant else None), name
        kv = opts.get("kv_quant") or ("fp8" if spec.get("precision", {}).get("kv_cache_dtype") == "fp8" else None)
        # 0.18 parses a QuantPolicy name to its number; 0.9 takes the numbers (choices 0, 4, 8)
        policies = report["quant_policies"] or {"int4": 4, "int8": 8}
        assert ns["quant_policy"] == (policies[kv] if kv else 0), name
        assert ns["tp"] == spec.get("parallelism", {}).get("tensor", 1), name
        assert ns["session_len"] == limits.get("max_model_len"), name
        batch = value(argv, "--max-batch-size")
        assert ns["max_batch_size"] == (int(batch) if batch else None), name
        if "max_concurrency" in limits:
            assert ns["max_batch_size"] == limits["max_concurrency"], name
        assert ns["max_prefill_token_num"] == limits.get("max_batch_tokens", v.default_prefill_tokens), name
        if value(argv, "--cache-max-entry-count") is not None:
            assert ns["cache_max_entry_count"] == float(value(argv, "--cache-max-entry-count")), name
            assert 0 < ns["cache_max_entry_count"] <= hardware["memory_utilization"], name
        else:   # hardware.memory_utilization unset: LMDeploy's own 0.8 of the free memory stands
            assert "memory_utilization" not in hardware and ns["cache_max_entry_count"] == 0.8, name
        assert ns["adapters"] == ([f"{a['name']}={a['source']}" for a in model["adapters"]]
                                  if model.get("adapters") else None), name
        assert ns["tool_call_parser"] == (opts.get("tool_parser") or model.get("tool_parser")), name
        assert ns["reasoning_parser"] == (opts.get("reasoning_parser") or model.get("reasoning_parser")), name
        assert (ns["server_name"], ns["server_port"]) == (server.get("host", "0.0.0.0"), server.get("port", 8000)), name  # the spec default
        assert ns["api_keys"] == ([KEY] if "api_key_env" in server else None), name
    # every option the target can write was written at least once at this version
    owned = {f for f in TABLE.owners(v) if f.startswith("--")}
    unused = owned - written
    assert unused == set(), f"no case writes {sorted(unused)}"


@pytest.mark.parametrize("version", list(VERSIONS))
def test_the_probe_reports_what_the_parser_refuses(version):
    """Negative controls: the same probe says no to an option LMDeploy lacks and a KV policy it does not know."""
    head = ["lmdeploy", "serve", "api_server", "org/model"]
    report = probe(version, [{"id": "unknown", "argv": [*head, "--max-model-len", "8192"]},
                             {"id": "policy", "argv": [*head, "--quant-policy", "int2"]},
                             {"id": "ok", "argv": [*head, "--tp", "2"]}])
    results = report["results"]
    assert "unrecognized arguments: --max-model-len 8192" in results["unknown"]["error"]
    assert "--quant-policy" in results["policy"]["error"] and not results["policy"]["ok"]
    assert results["ok"]["ok"] and results["ok"]["namespace"]["tp"] == 2
