"""vLLM's own `vllm serve` parser, at each pinned version, judges every argv deployc emits.

Beyond "it parses", the parsed namespace must hold exactly the values the spec
asked for, and --quantization / --kv-cache-dtype (free strings at parse time in
some versions) must be in vLLM's own QUANTIZATION_METHODS / CacheDType tables.
"""

from __future__ import annotations

import copy
import json
import subprocess

import pytest

from deployc.compiler.api import EngineOptions
from ruamel.yaml import YAML

from deployc.compiler.api import container as multinode
from deployc.targets.vllm.options import MASTER_PORT, TABLE
from deployc.targets.vllm.versions import VERSIONS

from .conftest import HOME, ROOT, engine_gpus, lower, require, spans_nodes, variant_of

pytestmark = pytest.mark.conformance

SAMPLES = sorted(p for p in (ROOT / "samples").glob("*/deploy.yaml")  # the samples meant for vllm
                 if "vllm" in (YAML(typ="safe").load(p.read_text()).get("targets") or {}))

BASE = {"apiVersion": "deployc/v1", "name": "conf", "model": {"source": "org/model"}, "targets": {"vllm": {}}}


def variant(**sections) -> dict:
    return variant_of(BASE, **sections)


# Every flag the target can emit appears in at least one variant.
VARIANTS = {
    "minimal": variant(),
    "everything": variant(
        model={"source": "org/model", "revision": "v1.0", "tokenizer": "org/tok", "trust_remote_code": True,
               "chat_template": "./template.jinja", "served_name": "served/name",
               "adapters": [{"name": "a1", "source": "./lora/a1", "rank": 64}, {"name": "a2", "source": "org/lora"}]},
        precision={"dtype": "bfloat16", "quantization": "fp8", "kv_cache_dtype": "fp8"},
        parallelism={"tensor": 2, "pipeline": 2, "data": 2},
        limits={"max_model_len": 32768, "max_output_tokens": 4096, "max_concurrency": 48, "max_batch_tokens": 8192},
        server={"host": "127.0.0.1", "port": 9123, "api_key_env": "KEY"},
        hardware={"gpu": "H100-80GB", "memory_utilization": 0.85},
        targets={"vllm": {"args": ["--disable-log-stats", "--seed", "7"], "env": {"VLLM_LOGGING_LEVEL": "DEBUG"}}}),
    "awq": variant(precision={"quantization": "awq", "dtype": "float16"}),
    "float16-t4": variant(hardware={"gpu": "T4"}, precision={"dtype": "auto"}),
    "local-model": variant(model={"source": "./model", "served_name": "local"}),
    # issue 20: parsers, cache toggles, rope scaling, LoRA/multimodal limits, speculative decoding
    "recipes": variant(
        model={"source": "org/model", "tool_parser": "hermes", "reasoning_parser": "qwen3",
               "rope_scaling": {"rope_type": "linear", "factor": 2.0}, "facts": {"rope_theta": 10000},
               "adapters": [{"name": "a1", "source": "org/lora"}, {"name": "a2", "source": "org/lora2"}]},
        cache={"prefix_caching": False, "chunked_prefill": True},
        limits={"max_loras": 1, "mm_per_prompt": {"image": 2, "video": 0}},
        speculative={"method": "ngram", "num_tokens": 3, "ngram": {"min": 2, "max": 4}}),
    "speculative-draft": variant(
        model={"source": "org/model", "rope_scaling": {"rope_type": "yarn", "factor": 4.0,
                                                       "original_max_position_embeddings": 4096},
               "facts": {"max_position_embeddings": 4096, "rope_theta": 500000}},
        cache={"prefix_caching": True},
        speculative={"method": "draft", "model": "org/small", "num_tokens": 4, "tensor": 1}),
}
ONLY = {"0.11.2": {
    "bitsandbytes": variant(precision={"quantization": "bitsandbytes"}),
    "gguf": variant(model={"source": "org/model", "gguf": "./model-q4.gguf"}, precision={"quantization": "gguf"}),
}}


def refused_for(version: str, spec: dict) -> bool:
    """One-GPU data ranks over nodes, which deployc refuses for a version whose ParallelConfig does
    (vllm-data-parallel-nodes; test_real_vllm_0_11_2_refuses_one_gpu_data_ranks_over_nodes_as_deployc_says)."""
    par = spec.get("parallelism", {})
    return (VERSIONS[version].nnodes_needs_mp and spans_nodes(spec)
            and par.get("tensor", 1) * par.get("pipeline", 1) == 1 < engine_gpus(par))


def cases(version: str, tmp_path) -> list[tuple[str, dict, list[str], str]]:
    """(id, spec, argv, folder the server starts in) for every sample and variant at this version."""
    judged = []
    for sample in SAMPLES:
        spec = YAML(typ="safe").load(sample.read_text())
        spec["targets"]["vllm"] = {**(spec["targets"].get("vllm") or {}), "version": version}
        if refused_for(version, spec):
            continue
        result = lower(spec, "vllm", tmp_path / version / sample.parent.name)
        # serve.sh runs from the spec's folder: the real sample folder holds its chat template.
        command = multinode.fill(result.lowered.command, LEADER, 0)  # a multi-node sample's leader
        judged.append((sample.parent.name, spec, command, str(sample.parent)))
    for name, spec in {**VARIANTS, **ONLY.get(version, {})}.items():
        spec = copy.deepcopy(spec)
        spec["targets"]["vllm"] = {**spec["targets"]["vllm"], "version": version}
        folder = tmp_path / version / name
        result = lower(spec, "vllm", folder)
        template = spec["model"].get("chat_template")
        if template:
            (folder / template).write_text("{{ messages }}")
        judged.append((name, spec, list(result.lowered.command), str(folder)))
    return judged


def probe(version: str, argvs: list[dict]) -> dict:
    python = require(HOME / f"vllm-{version}" / "bin" / "python")
    script = ROOT / "conformance" / "vllm_probe.py"
    run = subprocess.run([str(python), str(script)], input=json.dumps(argvs), capture_output=True, text=True,
                         timeout=900, env={"VLLM_TARGET_DEVICE": "cpu", "PATH": "/usr/bin:/bin", "HOME": str(HOME)})
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(run.stdout)


@pytest.mark.parametrize("version", list(VERSIONS))
def test_real_vllm_parser_accepts_every_argv_with_the_intended_values(version, tmp_path):
    judged = cases(version, tmp_path)
    report = probe(version, [{"id": name, "argv": argv, "cwd": cwd} for name, _, argv, cwd in judged])
    assert report["vllm_version"] == version
    results = {r["id"]: r for r in report["results"]}
    failures = {k: r["error"] for k, r in results.items() if not r["ok"]}
    assert failures == {}
    for name, spec, argv, _ in judged:
        ns = results[name]["namespace"]
        assert ns["model_tag"] == argv[2], name
        assert ns["served_model_name"] == [argv[argv.index("--served-model-name") + 1]], name
        assert ns["port"] == spec.get("server", {}).get("port", 8000), name
        par = spec.get("parallelism", {})
        assert ns["tensor_parallel_size"] == par.get("tensor", 1), name
        attention = par.get("data_mode") == "attention" and par.get("data", 1) > 1
        if attention:   # one engine: attention data-parallel, experts over tensor x data
            assert ns["data_parallel_size"] == par["data"], name
        assert bool(ns.get("enable_expert_parallel")) is (par.get("expert", 1) > 1), name
        # unset memory_utilization / max_concurrency: nothing written, vLLM's own defaults (issue 20, item 6)
        share = spec.get("hardware", {}).get("memory_utilization")
        if share is None:
            assert "--gpu-memory-utilization" not in argv, name
        else:
            assert ns["gpu_memory_utilization"] == share, name
        limits = spec.get("limits", {})
        assert ns["max_model_len"] == limits.get("max_model_len"), name
        if "max_concurrency" in limits:
            assert ns["max_num_seqs"] == limits["max_concurrency"], name
        else:
            assert "--max-num-seqs" not in argv, name
        if "max_output_tokens" in limits:
            assert ns["override_generation_config"] == {"max_new_tokens": limits["max_output_tokens"]}
        if spec["model"].get("adapters"):
            assert ns["enable_lora"] is True and len(ns["lora_modules"]) == len(spec["model"]["adapters"]), name
        if "--quantization" in argv:
            assert argv[argv.index("--quantization") + 1] in report["quantization_methods"], name
        if "--kv-cache-dtype" in argv:
            assert argv[argv.index("--kv-cache-dtype") + 1] in report["kv_cache_dtypes"], name
        if "--dtype" in argv:
            assert argv[argv.index("--dtype") + 1] in ("bfloat16", "float16", "float32"), name
        recipes(name, spec, argv, ns, report)


def recipes(name: str, spec: dict, argv: list[str], ns: dict, report: dict) -> None:
    """Issue 20's settings reach vLLM's namespace as the spec meant them."""
    def value(flag: str):
        return argv[argv.index(flag) + 1] if flag in argv else None
    m, cache, limits = spec["model"], spec.get("cache", {}), spec.get("limits", {})
    if m.get("tool_parser"):
        assert ns["enable_auto_tool_choice"] is True and ns["tool_call_parser"] == value("--tool-call-parser"), name
        assert ns["tool_call_parser"] in report["tool_call_parsers"], name
    if m.get("reasoning_parser"):
        assert ns["reasoning_parser"] == value("--reasoning-parser"), name
        assert ns["reasoning_parser"] in report["reasoning_parsers"], name
    for key, dest in (("prefix_caching", "enable_prefix_caching"), ("chunked_prefill", "enable_chunked_prefill")):
        assert ns[dest] == cache.get(key), (name, key)   # None: vLLM's own default
    if m.get("rope_scaling"):
        overrides = ns["hf_overrides"]
        overrides = json.loads(overrides) if isinstance(overrides, str) else overrides
        rope = overrides.get("rope_parameters") or overrides.get("rope_scaling")
        assert rope["rope_type"] == m["rope_scaling"]["rope_type"] and rope["factor"] == m["rope_scaling"]["factor"]
        if "rope_parameters" in overrides:   # vLLM 0.33 on sets it whole: rope_theta must be in it
            assert rope["rope_theta"] == m.get("facts", {}).get("rope_theta", rope["rope_theta"]) > 0, name
    if "mm_per_prompt" in limits:
        assert {k: (v if isinstance(v, int) else v.get("count")) for k, v in ns["limit_mm_per_prompt"].items()} \
            == limits["mm_per_prompt"], name
    if "max_loras" in limits:
        assert ns["max_loras"] == limits["max_loras"], name
    s = spec.get("speculative")
    if s:
        config = ns["speculative_config"]
        config = json.loads(config) if isinstance(config, str) else config
        assert config["method"] == {"draft": "draft_model"}.get(s["method"], s["method"]), name
        assert config.get("num_speculative_tokens") == s.get("num_tokens"), name
        assert config.get("model") == s.get("model"), name


@pytest.mark.parametrize("version", list(VERSIONS))
def test_every_flag_deployc_owns_exists_in_the_real_parser(version):
    """The option table drives the argv and the args-conflict check; a spelling there that vLLM lacks
    would be a typo."""
    table = EngineOptions.load(ROOT / "targets/vllm/engine_options" / f"{VERSIONS[version].data_version}.json")
    switches = {s for o in table.options if o.nargs == 0 for s in o.spellings}   # the option table's switches
    argvs = [{"id": flag, "argv": ["vllm", "serve", "org/m", flag, "1"] if flag not in switches
              else ["vllm", "serve", "org/m", flag]}
             for flag in sorted(TABLE.owners(VERSIONS[version])) if flag not in ("--model",)]
    report = probe(version, argvs)
    unknown = {r["id"]: r["error"] for r in report["results"] if not known_flag(r["id"], r)}
    assert unknown == {}


def known_flag(flag: str, result: dict) -> bool:
    """Did the parser know the flag? Values are dummies ("1"): an error about the value, or a stray "1"
    after a boolean flag, still means the flag itself exists."""
    error = result["error"] or ""
    if result["ok"] or "unrecognized arguments:" not in error:
        return True
    return flag not in error.split("unrecognized arguments:", 1)[1].split()


# Flags deployc calls stale that the parser still accepts, with no effect: deprecated, not removed.
DEPRECATED_BUT_PARSED = {
    "0.34.0": {"--disable-log-requests"},  # now the inverse of --enable-log-requests
    "0.33.0": {"--disable-log-requests"},
    "0.11.2": {"--task", "--guided-decoding-backend", "--disable-log-requests"},  # parser._deprecated
}


@pytest.mark.parametrize("version", list(VERSIONS))
def test_flags_called_stale_are_rejected_unless_known_deprecated(version):
    flags = sorted(f for f in VERSIONS[version].stale_flags if f != "-O")
    report = probe(version, [{"id": f, "argv": ["vllm", "serve", "org/m", f, "1"]} for f in flags])
    parsed = {r["id"] for r in report["results"] if known_flag(r["id"], r)}
    assert parsed == DEPRECATED_BUT_PARSED[version]


# Multi-node: every node's argv, as the scripts (leader) and the LeaderWorkerSet containers (leader and
# worker) run it once the node references are filled in, must parse with the node flags intended.
MULTI_NODE = {
    "2x8-tp8-pp2": variant(parallelism={"tensor": 8, "pipeline": 2}, server={"api_key_env": "KEY"}),
    "4x4-tp16-data2": variant(parallelism={"tensor": 16, "data": 2}, hardware={"gpus_per_node": 4}),
    "3-nodes-explicit": variant(parallelism={"tensor": 2, "pipeline": 3, "nodes": 3}),
}
LEADER = "10.1.2.3"


def node_cases(version: str, tmp_path) -> list[tuple[str, int, int, int, list[str]]]:
    """(id, nodes, rank, GPUs per node, argv) for the leader and one worker of every multi-node copy."""
    specs = {p.parent.name: YAML(typ="safe").load(p.read_text()) for p in SAMPLES}
    specs = {k: v for k, v in specs.items() if v.get("parallelism", {}).get("nodes", 1) > 1 or spans_nodes(v)}
    specs |= copy.deepcopy(MULTI_NODE)
    out = []
    for name, spec in specs.items():
        spec["targets"]["vllm"] = {**(spec["targets"].get("vllm") or {}), "version": version}
        if refused_for(version, spec):
            continue
        result = lower(spec, "vllm", tmp_path / version / name)
        group = result.lowered.group
        assert result.lowered.service is None and group is not None, name
        worker_rank, per = group.size - 1, group.leader.gpus
        out.append((f"{name}/script-leader", group.size, 0, per, multinode.fill(result.lowered.command, LEADER, 0)))
        out.append((f"{name}/lws-leader", group.size, 0, per,
                    ["vllm", "serve", *multinode.fill(group.leader.command, LEADER, 0, multinode.LWS)]))
        out.append((f"{name}/lws-worker", group.size, worker_rank, per,
                    ["vllm", "serve", *multinode.fill(group.worker.command, LEADER, worker_rank, multinode.LWS)]))
    return out


@pytest.mark.parametrize("version", list(VERSIONS))
def test_real_vllm_parser_reads_every_node_of_a_multi_node_copy(version, tmp_path):
    judged = node_cases(version, tmp_path)
    report = probe(version, [{"id": name, "argv": argv, "parallel": True} for name, _, _, _, argv in judged])
    results = {r["id"]: r for r in report["results"]}
    assert {k: r["error"] for k, r in results.items() if not r["ok"]} == {}
    for name, nodes, rank, per_node, _argv in judged:
        ns = results[name]["namespace"]
        assert (ns["nnodes"], ns["node_rank"], ns["master_addr"], ns["master_port"]) == (nodes, rank, LEADER,
                                                                                        MASTER_PORT), name
        assert ns["headless"] is (rank > 0), name
        world = ns["tensor_parallel_size"] * ns["pipeline_parallel_size"]
        dp = ns["data_parallel_size"]
        pc = results[name]["parallel"]
        assert pc["distributed_executor_backend"] == "mp", name
        if dp == 1:  # copies are separate groups, never vLLM's own DP
            assert world % nodes == 0, name  # the executor asserts it when the engine starts
            # vLLM's own ParallelConfig: each node runs the GPUs its container gets
            assert (pc["world_size"], pc["nnodes_within_dp"], pc["node_rank_within_dp"]) == (world, nodes, rank), name
            assert pc["local_world_size"] == per_node, name
        else:
            # Multi-node wide EP (data-parallel attention over the nodes, the engine's experts over all GPUs):
            # every node holds whole data ranks, so vLLM's ParallelConfig keeps each rank on one node
            # (node_rank_within_dp 0: run_headless starts data-parallel engines, not a TP/PP executor) and
            # create_engine_config infers (tp x pp x dp) / nnodes / (tp x pp) local ranks per node.
            assert ns["enable_expert_parallel"] and (world * dp) % nodes == 0, name
            assert (world * dp) // nodes == per_node, name
            assert (pc["world_size"], pc["nnodes_within_dp"], pc["node_rank_within_dp"]) == (world, 1, 0), name


def test_real_vllm_0_11_2_refuses_one_gpu_data_ranks_over_nodes_as_deployc_says(tmp_path):
    """deployc refuses multi-node data-parallel attention with one GPU per rank for 0.11.2
    (vllm-data-parallel-nodes, tests/test_parallel_modes.py); the same argv as deployc writes it for 0.33.0
    fails 0.11.2's own ParallelConfig."""
    spec = YAML(typ="safe").load((ROOT / "samples" / "deepseek-v3-2x8-h100" / "deploy.yaml").read_text())
    spec["targets"]["vllm"] = {"version": "0.33.0"}
    argv = multinode.fill(lower(spec, "vllm", tmp_path / "b").lowered.command, LEADER, 0)
    [r] = probe("0.11.2", [{"id": "wide", "argv": argv, "parallel": True}])["results"]
    assert (r["ok"], r["stage"]) == (False, "parallel") and "nnodes > 1 can only be set" in r["error"]
