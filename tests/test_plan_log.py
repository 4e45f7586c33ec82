"""`deployc plan` in the engine's own words, `--log` reading real startup logs back (tests/startup_logs/:
verbatim lines of benchmarks/truth/runs.json), and `--search`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT
from deployc.compiler.memory_report import read_log
from deployc.targets.sglang.versions import LOG_FIELDS as SGLANG
from deployc.targets.vllm.versions import LOG_FIELDS as VLLM

LOGS = Path(__file__).parent / "startup_logs"
RUNS = json.loads((ROOT / "benchmarks/truth/runs.json").read_text())["runs"]
FIELDS = {"vllm": VLLM, "sglang": SGLANG}


@pytest.mark.parametrize("run", [r for r in RUNS if r["engine"] in FIELDS], ids=lambda r: r["id"])
def test_every_figure_the_parser_finds_in_a_truth_log_is_the_one_the_run_reports(run):
    found = read_log("\n".join(run["log"]), FIELDS[run["engine"]])
    rep = run["reported"]
    for field, key in (("tokens", "kv_tokens"), ("kv_gib", "kv_gib"), ("concurrency", "max_concurrency"),
                       ("weights_gib", "weights_gib")):
        if field in found and rep.get(key) is not None:
            assert found[field] == pytest.approx(rep[key], rel=0.01), (field, found)


def test_the_parser_reads_vllm_v1_v0_and_sglang_lines():
    v1 = read_log((LOGS / "vllm-0.24-qwen3.6-35b-a3b-nvfp4-rtx5090.log").read_text(), VLLM)
    assert v1 == {"kv_gib": 5.98, "tokens": 567978, "concurrency": 4.33, "max_model_len": 131072}
    v0 = read_log((LOGS / "vllm-0.6.4-v0-llama3.1-8b-rtx3090.log").read_text(), VLLM)
    assert (v0["tokens"], v0["kv_gib"], v0["weights_gib"]) == (23648, 2.89, 14.9888)
    pp = read_log((LOGS / "vllm-0.10-deepseek-v2-lite-tp2-pp2.log").read_text(), VLLM)
    assert pp["kv_gib"] == 11.33           # one line per rank: the engine sizes every rank to the smallest
    sg = read_log((LOGS / "sglang-0.4.3-qwq-32b-4xl4.log").read_text(), SGLANG)
    assert sg == {"tokens": 46611, "kv_gib": 2.84, "weights_gib": 15.54, "max_model_len": 131072}
    mla = read_log((LOGS / "sglang-0.5.8-kimi-k2.5-mi355x.log").read_text(), SGLANG)
    assert (mla["tokens"], mla["kv_gib"]) == (2454421, 160.63)


def test_pipeline_stages_print_their_own_capacity_and_the_smallest_is_what_the_engine_keeps():
    # qwen3-30b-a3b-2507-2xgh200-node-tp4-pp2 (vLLM 0.10.1): the first stage prints 6,654,432 tokens and 25.38x,
    # the last (sampler) stage 6,167,536 and 23.53x; vLLM keeps the smallest rank's block count
    run = next(r for r in RUNS if r["id"] == "qwen3-30b-a3b-2507-2xgh200-node-tp4-pp2")
    found = read_log("\n".join(run["log"]), VLLM)
    assert (found["tokens"], found["concurrency"], found["kv_gib"]) == (6167536, 23.53, 70.58)


SPEC = """apiVersion: deployc/v1
name: q36
model:
  source: nvidia/Qwen3.6-35B-A3B-NVFP4
precision:
  kv_cache_dtype: fp8
limits:
  max_model_len: 131072
  max_concurrency: 1
  max_batch_tokens: 8192
server:
  host: 127.0.0.1
hardware:
  gpu: RTX-5090
  memory_utilization: 0.92
targets:
  vllm: {version: "0.33.0"}   # the log is 0.24's: 0.34 sizes blocks of 64
"""


def test_plan_prints_the_engines_lines_and_compares_a_log_line_by_line(cli, tmp_path):
    (tmp_path / "deploy.yaml").write_text(SPEC)
    log = LOGS / "vllm-0.24-qwen3.6-35b-a3b-nvfp4-rtx5090.log"
    out = cli("plan", tmp_path / "deploy.yaml", "--log", log)
    assert out.exit_code == 0, out.stderr
    assert "vLLM will print:" in out.stdout
    assert "GPU KV cache size: " in out.stdout and "Maximum concurrency for 131,072 tokens per request: " in out.stdout
    assert f"plan vs {log}:" in out.stdout and "KV cache tokens" in out.stdout and "567,978" in out.stdout
    assert "[####" in out.stdout                                  # the stacked bar of one GPU
    data = json.loads(cli("plan", tmp_path / "deploy.yaml", "--log", log, "--json").stdout)["targets"]["vllm"]
    rows = {r["figure"]: r for r in data["log"]}
    assert rows["KV cache tokens"]["log"] == 567978
    assert abs(rows["KV cache GiB per GPU"]["error"]) < 0.05       # 6.05 planned vs 5.98 printed
    assert data["engine_log"][1].startswith("Available KV cache memory: ")


def test_a_log_of_another_engine_or_a_missing_file(cli, tmp_path):
    (tmp_path / "deploy.yaml").write_text(SPEC)
    out = cli("plan", tmp_path / "deploy.yaml", "--log", LOGS / "sglang-0.4.3-qwq-32b-4xl4.log")
    assert "KV cache tokens" not in out.stdout or "no vllm startup figures" in out.stdout
    assert cli("plan", tmp_path / "deploy.yaml", "--log", tmp_path / "nope.log").exit_code == 2


def test_search_lists_layouts_longest_contexts_and_gpus_for_a_concurrency(cli, tmp_path):
    (tmp_path / "deploy.yaml").write_text(SPEC.replace("max_concurrency: 1", "max_concurrency: 8"))
    data = json.loads(cli("plan", tmp_path / "deploy.yaml", "--search", "--json").stdout)["search"]
    vllm = data["targets"]["vllm"]
    assert vllm["fewest_gpus"] == 1
    one = next(lay for lay in vllm["layouts"] if (lay["tensor"], lay["pipeline"]) == (1, 1))
    assert 1 <= one["concurrency"] < 8 and one["longest_context"] >= 131072
    rows = {r["gpu"]: r for r in vllm["gpus_for_concurrency"]}
    assert rows["RTX-5090"]["gpus"] >= 2 and rows["H100-80GB"]["gpus"] == 1
