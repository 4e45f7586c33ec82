"""SGLang's own parser, at each pinned version, judges every argv deployc emits.

sglang.srt.server_args.prepare_server_args (what launch_server and `sglang serve` call) parses
each sample's and variant's command; the ServerArgs it builds must hold exactly the values the
spec meant. conformance/sglang_probe.py runs inside .conformance/sglang-<version>/
(conformance/install_sglang.sh).
"""

from __future__ import annotations

import copy
import json
import subprocess

import pytest

from deployc.compiler.api import EngineOptions
from ruamel.yaml import YAML

from deployc.compiler.driver import compile_spec as load_spec, compile_target
from deployc.compiler.api.target import BuildContext
from deployc.compiler.api import container as multinode
from deployc.targets.sglang.options import DIST_INIT_PORT, TABLE
from deployc.targets.sglang.versions import VERSIONS

from .conftest import HOME, REGISTRY, ROOT, dump, lower, require, spans_nodes, variant_of

pytestmark = pytest.mark.conformance

SAMPLES = sorted(p for p in (ROOT / "samples").glob("*/deploy.yaml")
                 if "sglang" in (YAML(typ="safe").load(p.read_text()).get("targets") or {}))
BASE = {"apiVersion": "deployc/v1", "name": "conf", "model": {"source": "org/model"}, "targets": {"sglang": {}}}
KEY_VALUE = "dummy-key-for-parsing"


def variant(**sections) -> dict:
    return variant_of(BASE, **sections)


# Every option the target can emit appears in at least one variant.
VARIANTS = {
    "minimal": variant(),
    "everything": variant(
        model={"source": "org/model", "revision": "v1.0", "tokenizer": "org/tok", "trust_remote_code": True,
               "chat_template": "./template.jinja", "served_name": "served/name",
               "adapters": [{"name": f"a{i}", "source": f"./lora/a{i}"} for i in range(8)]
               + [{"name": "hub", "source": "org/lora"}]},
        precision={"dtype": "bfloat16", "quantization": "fp8", "kv_cache_dtype": "fp8"},
        parallelism={"tensor": 2, "pipeline": 2, "data": 2},
        limits={"max_model_len": 32768, "max_input_tokens": 32767, "max_concurrency": 48,
                "max_batch_tokens": 8192},
        server={"host": "127.0.0.1", "port": 9123, "api_key_env": "KEY"},
        hardware={"gpu": "H100-80GB", "memory_utilization": 0.85},
        targets={"sglang": {"args": ["--enable-metrics", "--random-seed", "7"], "env": {"SGLANG_LOG": "x"}}}),
    "awq": variant(precision={"quantization": "awq", "dtype": "float16"}),
    "float16-t4": variant(hardware={"gpu": "T4"}, precision={"dtype": "auto"}),
    "local-model": variant(model={"source": "./model", "served_name": "local"}),
    "fraction-override": variant(targets={"sglang": {"mem_fraction_static": 0.7}}),
    # issue 20: parsers, cache toggles, rope scaling, LoRA limit, speculative decoding
    "recipes": variant(
        model={"source": "org/model", "tool_parser": "qwen25", "reasoning_parser": "qwen3",
               "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096},
               "adapters": [{"name": "a1", "source": "./lora/a1"}, {"name": "a2", "source": "./lora/a2"}],
               "facts": {"max_position_embeddings": 4096}},
        cache={"prefix_caching": False, "chunked_prefill": False},
        limits={"max_model_len": 16384, "max_batch_tokens": 16384, "max_loras": 1},
        speculative={"method": "eagle3", "model": "org/head", "num_tokens": 3}),
    "speculative-mtp": variant(speculative={"method": "mtp"}),
}


# Samples a pinned version cannot build, and why (the target refuses them at the key).
NOT_AT = {("gpt-oss-120b-eagle3-tools", "0.4.10.post2"): "SGLang 0.4.10.post2 registers no gpt-oss parsers"}


def cases(version: str, tmp_path) -> list[tuple[str, dict, list[str], str]]:
    """(id, spec, argv, folder the server starts in) for every sample and variant at this version."""
    judged = []
    for sample in SAMPLES:
        if (sample.parent.name, version) in NOT_AT:
            continue
        spec = YAML(typ="safe").load(sample.read_text())
        spec["targets"]["sglang"] = {**(spec["targets"].get("sglang") or {}), "version": version}
        result = lower(spec, "sglang", tmp_path / version / sample.parent.name)
        judged.append((sample.parent.name, spec, list(result.lowered.command), str(sample.parent)))
    for name, spec in VARIANTS.items():
        spec = copy.deepcopy(spec)
        spec["targets"]["sglang"] = {**spec["targets"]["sglang"], "version": version}
        folder = tmp_path / version / name
        result = lower(spec, "sglang", folder)
        judged.append((name, spec, list(result.lowered.command), str(folder)))
    return judged


def probe(version: str, items: list[dict]) -> dict:
    python = require(HOME / f"sglang-{version}" / "bin" / "python")
    run = subprocess.run([str(python), str(ROOT / "conformance" / "sglang_probe.py")], input=json.dumps(items),
                         capture_output=True, text=True, timeout=900,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(HOME)})
    assert run.returncode == 0, run.stderr[-4000:]
    report = json.loads(run.stdout)
    assert report["sglang_version"] == version
    return report


LEADER = "10.1.2.3"


def expanded(argv: list[str], rank: int = 0) -> list[str]:
    """The command as serve.sh runs it: the node references of a multi-node copy filled in, and the
    one `${KEY}` token is the API key's value."""
    return [KEY_VALUE if tok.startswith("${") else tok for tok in multinode.fill(argv, LEADER, rank)]


def lora_pairs(value) -> list[tuple[str, str]]:
    """lora_paths as parsed: a dict (0.4), NAME=PATH strings (0.5 before resolution) or records."""
    if isinstance(value, dict):
        return sorted(value.items())
    out = []
    for item in value:
        if isinstance(item, str):
            name, _, path = item.partition("=")
            out.append((name, path))
        else:
            out.append((item["lora_name"], item["lora_path"]))
    return sorted(out)


@pytest.mark.parametrize("version", list(VERSIONS))
def test_real_sglang_parser_accepts_every_argv_with_the_intended_values(version, tmp_path):
    judged = cases(version, tmp_path)
    report = probe(version, [{"id": n, "argv": expanded(argv), "cwd": cwd} for n, _, argv, cwd in judged])
    results = {r["id"]: r for r in report["results"]}
    # 0.4.10.post2 builds ServerArgs for a speculative algorithm by reading the model's config from the hub:
    # offline, those items are judged by the parser alone (stage "build" comes after a successful parse).
    hub_only = {n for n, spec, _, _ in judged if version == "0.4.10.post2" and spec.get("speculative")
                and results[n]["stage"] == "build" and "huggingface.co" in (results[n]["error"] or "")}
    assert {k: r["error"] for k, r in results.items() if not r["ok"] and k not in hub_only} == {}
    launcher = list(VERSIONS[version].launcher)
    for name, spec, argv, _ in judged:
        if name in hub_only:
            continue
        f = results[name]["fields"]
        m, p, par = spec["model"], spec.get("precision", {}), spec.get("parallelism", {})
        limits, server, hw = spec.get("limits", {}), spec.get("server", {}), spec.get("hardware", {})
        assert argv[:len(launcher)] == launcher, name
        assert f["model_path"] == m["source"], name
        assert f["tokenizer_path"] in (m.get("tokenizer"), None, m["source"]), name
        assert f["revision"] == m.get("revision"), name
        assert f["trust_remote_code"] is bool(m.get("trust_remote_code")), name
        assert f["chat_template"] == m.get("chat_template"), name
        assert f["served_model_name"] == m.get("served_name", m["source"].rstrip("/").rsplit("/", 1)[-1].lower())
        dtype = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32",
                 "float": "float32"}.get(p.get("dtype", "auto"), p.get("dtype", "auto"))
        if dtype == "auto" and hw.get("gpu") in ("T4", "V100-16GB", "V100-32GB"):
            dtype = "float16"
        assert f["dtype"] == dtype, name
        assert f["quantization"] == ("fp8" if p.get("quantization") == "fp8" else None), name
        assert f["kv_cache_dtype"] == ("fp8_e4m3" if p.get("kv_cache_dtype") == "fp8" else "auto"), name
        data = par.get("data", 1)
        attention = par.get("data_mode") == "attention" and data > 1
        if attention:   # --tp-size counts every GPU of the engine; attention data-parallel over `data` ranks
            assert (f["tp_size"], f["pp_size"]) == (par.get("tensor", 1) * data, par.get("pipeline", 1)), name
            if "attn_dp_size" in f:    # 0.5.23
                assert (f["attn_dp_size"], f["dp_size"]) == (data, 1), name
            else:                      # 0.4.10.post2
                assert (f["dp_size"], f["enable_dp_attention"]) == (data, True), name
        else:
            assert (f["tp_size"], f["pp_size"], f["dp_size"]) == (
                par.get("tensor", 1), par.get("pipeline", 1), data), name
        assert f["ep_size"] == par.get("expert", 1), name
        # Unset limits are left to SGLang (0.4.10.post2's __post_init__ fills in its own defaults).
        for field, key in (("context_length", "max_model_len"), ("max_running_requests", "max_concurrency"),
                           ("chunked_prefill_size", "max_batch_tokens")):
            flag = f"--{field.replace('_', '-')}"
            if field == "chunked_prefill_size" and spec.get("cache", {}).get("chunked_prefill") is False:
                continue   # -1 and --max-prefill-tokens instead (recipes below)
            if key in limits:   # max_concurrency is per data rank; SGLang's cap is the engine's total
                per = data if field == "max_running_requests" and attention else 1
                assert f[field] == limits[key] * per, (name, field)
            else:
                assert flag not in argv, (name, field)
        fraction = spec["targets"]["sglang"].get("mem_fraction_static")
        if fraction is None and hw.get("memory_utilization") is None:   # SGLang's own pick (issue 20, item 6)
            assert "--mem-fraction-static" not in argv, name
        else:
            assert f["mem_fraction_static"] == pytest.approx(
                fraction if fraction is not None else hw["memory_utilization"] - 0.1), name
        assert (f["host"], f["port"]) == (server.get("host", "0.0.0.0"), server.get("port", 8000)), name
        assert f["api_key"] == (KEY_VALUE if server.get("api_key_env") else None), name
        adapters = m.get("adapters") or []
        if adapters:
            assert f["enable_lora"] is True, name
            assert lora_pairs(f["lora_paths"]) == sorted((a["name"], a["source"]) for a in adapters), name
            assert f["max_loras_per_batch"] == (limits["max_loras"] + 1 if "max_loras" in limits
                                                else max(8, len(adapters) + 1)), name
        recipes(name, spec, argv, f)


def recipes(name: str, spec: dict, argv: list[str], f: dict) -> None:
    """Issue 20's settings reach SGLang's ServerArgs as the spec meant them."""
    def value(flag: str):
        return argv[argv.index(flag) + 1] if flag in argv else None
    m, cache, limits = spec["model"], spec.get("cache", {}), spec.get("limits", {})
    assert f["tool_call_parser"] == value("--tool-call-parser"), name
    assert f["reasoning_parser"] == value("--reasoning-parser"), name
    assert f["disable_radix_cache"] is (cache.get("prefix_caching") is False), name
    if cache.get("chunked_prefill") is False:
        assert (f["chunked_prefill_size"], f["max_prefill_tokens"]) == (-1, limits["max_batch_tokens"]), name
    if m.get("rope_scaling"):
        overrides = json.loads(f["json_model_override_args"])
        assert overrides["rope_scaling"]["rope_type"] == m["rope_scaling"]["rope_type"], name
        assert "type" not in overrides["rope_scaling"], name
    s = spec.get("speculative")
    if s:
        assert f["speculative_algorithm"] in (value("--speculative-algorithm"), "EAGLE3" if s["method"] == "eagle3"
                                              else value("--speculative-algorithm")), name
        if s.get("num_tokens"):
            assert (f["speculative_num_steps"], f["speculative_eagle_topk"], f["speculative_num_draft_tokens"]) == (
                s["num_tokens"], 1, s["num_tokens"] + 1), name
        if s.get("model"):
            assert f["speculative_draft_model_path"] == s["model"], name


@pytest.mark.parametrize("version", list(VERSIONS))
def test_every_flag_deployc_owns_exists_in_the_real_parser(version):
    """The option table drives the argv and the args-conflict check; a spelling there that SGLang lacks
    would be a typo."""
    base = list(VERSIONS[version].launcher) + ["--model-path", "org/m"]
    flags = sorted(f for f in TABLE.owners(VERSIONS[version]) if f not in ("--model-type", "--model-path"))
    table = EngineOptions.load(ROOT / "targets/sglang/engine_options" / f"{VERSIONS[version].data_version}.json")
    switches = {s for o in table.options if o.nargs == 0 for s in o.spellings}   # the option table's switches
    items = [{"id": flag, "argv": base + ([flag] if flag in switches else [flag, "1"])} for flag in flags]
    report = probe(version, items)
    unknown = {r["id"]: r["error"] for r in report["results"]
               if not r["ok"] and "unrecognized arguments" in (r["error"] or "")}
    assert unknown == {}


@pytest.mark.parametrize("version", list(VERSIONS))
def test_prefixes_the_real_parser_takes_are_args_conflicts_in_deployc(version, tmp_path):
    """SGLang's argparse takes `--tp 2` as --tp-size 2; deployc refuses the same token in args."""
    report = probe(version, [{"id": "prefix", "argv": list(VERSIONS[version].launcher)
                              + ["--model-path", "org/m", "--mem-fraction-static", "0.8",
                                 "--tp", "2", "--context-len=4096"]}])
    [r] = report["results"]
    assert r["ok"] and r["fields"]["tp_size"] == 2 and r["fields"]["context_length"] == 4096, r["error"]
    spec = variant(targets={"sglang": {"version": version, "args": ["--tp", "2", "--context-len=4096"]}})
    path = tmp_path / "deploy.yaml"
    path.write_text(dump(spec), encoding="utf-8")
    compiled = load_spec(path, "deploy.yaml")
    result = compile_target(compiled, REGISTRY, "sglang", BuildContext("../..", "deploy.yaml", "0" * 64))
    assert [d.code for d in result.diagnostics] == ["target-args-conflict", "target-args-conflict"]


# Multi-node: every node's argv (the scripts' leader, the LeaderWorkerSet leader and worker) must parse
# with the node flags intended, and --tp-size counts the GPUs of all nodes.
MULTI_NODE = {
    "2x8-tp16": variant(parallelism={"tensor": 16}, server={"api_key_env": "KEY"}),
    "2x8-tp8-pp2": variant(parallelism={"tensor": 8, "pipeline": 2}),
    "4x2-tp8-data2": variant(parallelism={"tensor": 8, "data": 2}, hardware={"gpus_per_node": 2}),
}


def node_cases(version: str, tmp_path) -> list[tuple[str, int, int, int, list[str]]]:
    """(id, nodes, rank, GPUs of all nodes, argv) for the leader and one worker of each multi-node copy."""
    specs = {p.parent.name: YAML(typ="safe").load(p.read_text()) for p in SAMPLES}
    specs = {k: v for k, v in specs.items() if "nodes" in v.get("parallelism", {}) or spans_nodes(v)}
    specs |= copy.deepcopy(MULTI_NODE)
    launcher = list(VERSIONS[version].launcher)
    out = []
    for name, spec in specs.items():
        spec["targets"]["sglang"] = {**(spec["targets"].get("sglang") or {}), "version": version}
        result = lower(spec, "sglang", tmp_path / version / name)
        group = result.lowered.group
        assert result.lowered.service is None and group is not None, name
        gpus = group.size * group.leader.gpus
        last = group.size - 1
        out.append((f"{name}/script-leader", group.size, 0, gpus, expanded(list(result.lowered.command))))
        for role, svc, rank in (("lws-leader", group.leader, 0), ("lws-worker", group.worker, last)):
            argv = launcher + multinode.fill(svc.command, LEADER, rank, multinode.LWS)
            out.append((f"{name}/{role}", group.size, rank, gpus,
                        argv + (["--api-key", KEY_VALUE] if svc.command_tail else [])))
    return out


@pytest.mark.parametrize("version", list(VERSIONS))
def test_real_sglang_parser_reads_every_node_of_a_multi_node_copy(version, tmp_path):
    judged = node_cases(version, tmp_path)
    report = probe(version, [{"id": n, "argv": argv} for n, _, _, _, argv in judged])
    results = {r["id"]: r for r in report["results"]}
    assert {k: r["error"] for k, r in results.items() if not r["ok"]} == {}
    for name, nodes, rank, gpus, _ in judged:
        f = results[name]["fields"]
        assert (f["nnodes"], f["node_rank"], f["dist_init_addr"]) == (nodes, rank, f"{LEADER}:{DIST_INIT_PORT}"), name
        assert f["tp_size"] * f["pp_size"] == gpus, name  # SGLang's sizes count the GPUs of every node
        if f.get("enable_dp_attention") or f.get("attn_dp_size", 1) > 1:
            # multi-node wide EP: one engine, attention data-parallel over every GPU of the nodes
            # (0.5.23 --attn-dp-size D; 0.4.10.post2 --dp-size D --enable-dp-attention)
            dp = f["attn_dp_size"] if "attn_dp_size" in f else f["dp_size"]
            assert dp == gpus // f["pp_size"] and f["ep_size"] == gpus, name
        else:
            assert f["dp_size"] == 1, name  # copies are separate groups: multi-node DP needs DP attention
        if rank > 0:
            assert f["api_key"] is None, name  # workers serve no HTTP: the key stays on node 0
