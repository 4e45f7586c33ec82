"""Triton's own ModelConfig message (tritonclient 2.58.0, model_config_pb2) parses every config.pbtxt
the tensorrt-llm target writes, and the parsed repository hangs together the way tritonserver
and the tensorrtllm_backend v0.19.0 models (commit c1e19638304d287f554f738c1411746555ed348c) need.

Only the 0.19.0 engine-build path writes config.pbtxt files: on 1.2.1 deployc writes the LLM-API
Python model's 1/model.yaml and launch.sh copies that model's config.pbtxt from the container
(test_tensorrt_llm_options.py checks model.yaml's keys against the 1.2.1 LLM-API table).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from .conftest import HOME, ROOT, lower, require, variant_of

pytestmark = pytest.mark.conformance

BASE = {"apiVersion": "deployc/v1", "name": "conf", "model": {"source": "Qwen/Qwen2.5-7B-Instruct"},
        "limits": {"max_model_len": 8192}, "targets": {"tensorrt-llm": {"version": "0.19.0"}}}


def variant(**sections) -> dict:
    return variant_of(BASE, **sections)


VARIANTS = {
    "minimal": variant(),
    "everything": variant(
        model={"source": "meta-llama/Llama-3.1-8B-Instruct", "revision": "main", "tokenizer": "./tok \"quoted\" $x ü",
               "served_name": "chat.v1", "facts": {"parameters": 8.03e9, "max_position_embeddings": 131072}},
        precision={"dtype": "bfloat16", "quantization": "fp8", "kv_cache_dtype": "fp8"},
        parallelism={"tensor": 2, "pipeline": 2},
        limits={"max_model_len": 32768, "max_input_tokens": 30000, "max_concurrency": 48, "max_batch_tokens": 4096},
        server={"host": "127.0.0.1", "port": 9123},
        targets={"tensorrt-llm": {"version": "0.19.0", "streaming": False, "max_queue_delay_microseconds": 250, "max_queue_size": 1000,
                                  "tokenizer_instances": 4, "args": ["--multiple_profiles", "enable"]}}),
}
SAMPLE_REPOS = sorted(p for p in (ROOT / "samples").glob("*/deploy/tensorrt-llm/model_repository")
                      if any(p.glob("*/config.pbtxt")))


def probe(paths):
    python = require(HOME / "tritonclient" / "bin" / "python")
    proc = subprocess.run([str(python), str(ROOT / "conformance" / "pbtxt_probe.py"), *map(str, paths)],
                          capture_output=True, text=True, check=False)
    results = json.loads(proc.stdout)
    for r in results:
        assert r["ok"], f"{r['path']}: {r['error']}"
    return {r["path"]: r["config"] for r in results}


def check_repository(files: dict[str, str]):
    """files: model folder name -> config.pbtxt path."""
    parsed = probe(files.values())
    models = {name: parsed[str(path)] for name, path in files.items()}
    for name, cfg in models.items():
        assert cfg["name"] == name, "Triton requires the config's name to match its folder"
    engine = models["tensorrt_llm"]
    params = {k: v["string_value"] for k, v in engine["parameters"].items()}
    assert params["gpt_model_type"] == "inflight_fused_batching"
    # written only when the spec sets memory_utilization (else the backend's own 0.9)
    assert "kv_cache_free_gpu_mem_fraction" not in params or 0 < float(params["kv_cache_free_gpu_mem_fraction"]) <= 1
    for key in ("tokenizer_dir", "multimodal_model_path"):  # preprocessing/1/model.py reads both with []
        assert key in models["preprocessing"]["parameters"]
    [ensemble] = [cfg for cfg in models.values() if cfg.get("platform") == "ensemble"]
    available = {t["name"] for t in ensemble["input"]}
    for step in ensemble["ensemble_scheduling"]["step"]:
        target = models[step["model_name"]]
        inputs = {t["name"] for t in target["input"]}
        outputs = {t["name"] for t in target["output"]}
        for model_input, tensor in step["input_map"].items():
            assert model_input in inputs, (step["model_name"], model_input)
            assert tensor in available, f"{tensor} is used before any step produces it"
        for model_output, tensor in step["output_map"].items():
            assert model_output in outputs, (step["model_name"], model_output)
            available.add(tensor)
    assert {t["name"] for t in ensemble["output"]} <= available
    return models


@pytest.mark.parametrize("repo", SAMPLE_REPOS, ids=lambda p: p.parents[2].name)
def test_committed_sample_configs_parse_into_modelconfig(repo):
    check_repository({p.parent.name: p for p in sorted(repo.glob("*/config.pbtxt"))})


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_configs_parse_into_modelconfig(name, tmp_path):
    result = lower(VARIANTS[name], "tensorrt-llm", tmp_path / "spec")
    out = tmp_path / "out"
    files = {}
    for art in result.lowered.artifacts:
        if art.path.endswith("config.pbtxt"):
            path = out / art.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(art.content, encoding="utf-8")
            files[path.parent.name] = path
    models = check_repository(files)
    if name == "everything":
        engine = models["tensorrt_llm"]
        assert engine["model_transaction_policy"].get("decoupled", False) is False
        assert engine["dynamic_batching"]["default_queue_policy"]["max_queue_size"] == 1000
        assert models["preprocessing"]["parameters"]["tokenizer_dir"]["string_value"] == "../../tok \"quoted\" $x ü"
        assert engine["parameters"]["max_tokens_in_paged_kv_cache"]["string_value"] == str(48 * 32768)
        assert engine["parameters"]["enable_chunked_context"]["string_value"] == "true"
        assert models["preprocessing"]["instance_group"][0]["count"] == 4
