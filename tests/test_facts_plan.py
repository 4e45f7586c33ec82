"""Model facts (config.json, the HF cache, the catalog, model.facts), the checks they enable and `deployc plan`."""

from __future__ import annotations

import json

import pytest

from deployc.compiler.facts import catalog, from_catalog, from_config, hf_snapshot
from conftest import ROOT, built_json, codes, spec_text


# --- facts from config.json -----------------------------------------------------------------------

def test_catalog_has_the_popular_families_and_every_entry_parses():
    ids = set(catalog())
    assert len(ids) >= 25
    for family in ("llama-3.1-8b", "llama-3.1-70b", "qwen2.5-0.5b", "qwen2.5-72b", "qwen3-30b-a3b", "mixtral",
                   "gemma-2", "gemma-3", "phi-3", "phi-4", "deepseek-v2-lite", "deepseek-v3", "gpt-oss-20b"):
        assert any(family in i for i in ids), family
    for entry in catalog().values():
        f = from_catalog(entry["id"])
        assert f.layers and f.kv_heads and f.head_dim and f.vocab_size and f.context and f.parameters, entry["id"]
        # the model's own config: config.json, or params.json for a Mistral-format checkpoint that has none
        assert entry["source"] in (f"https://huggingface.co/{entry['id']}/blob/main/{name}"
                                   for name in ("config.json", "params.json"))
        assert entry["source"].endswith("config.json") or "params.json" in entry["note"]


@pytest.mark.parametrize("model, context, rope", [
    ("meta-llama/Llama-3.1-8B-Instruct", 131072, "llama3"),        # llama3 scaling is already in the limit
    ("deepseek-ai/DeepSeek-V2-Lite-Chat", 163840, "yarn x40"),     # yarn scales original_max_position_embeddings
    ("google/gemma-3-27b-it", 131072, None),                       # vLLM skips Gemma 3's factor
    ("Qwen/Qwen2.5-7B-Instruct", 32768, None),
])
def test_context_follows_vllms_rope_scaling_rules(model, context, rope):
    f = from_catalog(model)
    assert (f.context, f.rope_scaling) == (context, rope)


def test_sliding_window_counts_only_interleaved_layers_and_mla_and_moe_are_read():
    oss = from_catalog("openai/gpt-oss-20b")
    assert (oss.sliding_window, oss.sliding_layers, oss.layers - oss.sliding_layers, oss.experts, oss.quant_method) == (
        128, 12, 12, 32, "mxfp4")
    assert from_catalog("google/gemma-2-9b-it").sliding_layers == 21
    assert from_catalog("google/gemma-3-27b-it").sliding_layers == 52      # 5 of every 6 layers are local
    assert from_catalog("Qwen/Qwen2.5-7B-Instruct").sliding_window is None  # use_sliding_window: false
    assert from_catalog("microsoft/Phi-3-mini-4k-instruct").sliding_window is None  # vLLM attends fully
    ds = from_catalog("deepseek-ai/DeepSeek-V3")
    assert (ds.kv_lora_rank, ds.qk_rope_head_dim, ds.experts, ds.quant_method) == (512, 64, 256, "fp8")


def test_parameters_are_estimated_from_the_shapes_when_no_card_says():
    for entry in catalog().values():
        estimated = from_config(entry["config"], "x").parameters
        assert abs(estimated / entry["parameters"] - 1) < 0.01, entry["id"]


def test_local_config_json_and_safetensors_index_give_exact_facts(cli, tmp_path):
    (tmp_path / "m").mkdir()
    cfg = json.loads((ROOT / "samples/local-finetune-lora/model/config.json").read_text())
    (tmp_path / "m/config.json").write_text(json.dumps(cfg))
    (tmp_path / "m/model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 16060522496}}))
    (tmp_path / "deploy.yaml").write_text(spec_text(source="./m"))
    result = cli("plan", tmp_path / "deploy.yaml", "--json")
    out = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert out["facts"]["origin"] == "./m/config.json"
    assert out["facts"]["kv_heads"] == 8
    assert out["targets"]["vllm"]["weights_gib_per_gpu"] == round(16060522496 / 2**30, 2)


def test_hugging_face_cache_snapshot_is_read_offline_when_asked(cli, specs, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    repo = cache / "models--acme--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs/main").write_text("abc123\n")
    snap = repo / "snapshots/abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({
        "model_type": "llama", "num_hidden_layers": 4, "hidden_size": 256, "intermediate_size": 512,
        "num_attention_heads": 8, "num_key_value_heads": 3, "vocab_size": 1000, "max_position_embeddings": 2048}))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert hf_snapshot("acme/tiny", None, cache) == snap
    path = specs.write("vllm", "parallelism:\n  tensor: 2\nlimits:\n  max_model_len: 4096\n", source="acme/tiny")
    out = built_json(cli("build", path, "--target", "vllm", "--json", "--hf-cache"))
    # 3 KV heads and tensor 2; 4096 tokens past the cached config's 2048 positions
    assert codes(out) == [("parallelism-kv-heads", 6, 11), ("limits-context", 8, 18)]
    # without --hf-cache the cache is never read: the same spec builds the same everywhere
    out = built_json(cli("build", path, "--target", "vllm", "--json"))
    assert [d["code"] for d in out["diagnostics"]] == ["model-facts-unknown"]


def test_a_user_fact_that_contradicts_config_json_is_a_warning_at_the_fact(cli, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m/config.json").write_text((ROOT / "samples/local-finetune-lora/model/config.json").read_text())
    path = tmp_path / "deploy.yaml"
    path.write_text(spec_text(model="  facts:\n    kv_heads: 4\n", source="./m"))
    result = cli("validate", path)
    assert result.exit_code == 0
    assert ":6:15: warning[model-facts-mismatch]: model.facts.kv_heads is 4 but ./m/config.json says 8" \
        in result.stderr


# --- checks the facts enable ------------------------------------------------------------------------

def test_quantization_that_contradicts_the_checkpoint_fails_before_any_gpu(specs):
    out = specs.build("vllm", "precision:\n  quantization: awq\n", expect=1)
    assert codes(out) == [("precision-quant-checkpoint", 6, 17)]
    assert "has no quantization_config" in out["diagnostics"][0]["message"]
    out = specs.build("vllm", "precision:\n  quantization: gptq\nparallelism:\n  tensor: 4\n", expect=1,
                      source="hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4")
    assert codes(out) == [("precision-quant-checkpoint", 6, 17)]
    d = out["diagnostics"][0]
    assert "says is awq (4-bit)" in d["message"] and d["hint"].startswith("use quantization: awq")


def test_context_past_the_models_positions_names_the_rope_scaling(specs):
    out = specs.build("vllm", "limits:\n  max_model_len: 200000\n", source="meta-llama/Llama-3.1-8B-Instruct",
                      expect=1)
    assert codes(out) == [("limits-context", 6, 18)]
    assert out["diagnostics"][0]["message"].startswith("max_model_len 200000 exceeds the model's 131072 positions")


def test_weights_that_do_not_fit_say_how_many_gpus_would(specs):
    out = specs.build("vllm", source="meta-llama/Llama-3.1-70B-Instruct", expect=1)
    assert codes(out) == [("memory-weights", 4, 11)]  # at model.source: no parallelism written
    d = out["diagnostics"][0]
    assert d["message"].startswith("vLLM 0.34.0: the weights take 131.4 GiB per GPU")
    assert "tensor: 2" in d["hint"]


def test_kv_cache_below_one_sequence_is_an_error_with_the_length_that_fits(specs):
    out = specs.build("vllm", "limits:\n  max_model_len: 131072\nhardware:\n  gpu: L4\n",
                      source="meta-llama/Llama-3.1-8B-Instruct", expect=1)
    assert codes(out) == [("memory-kv-sequence", 6, 18)]
    d = out["diagnostics"][0]
    assert "less than one sequence of max_model_len 131072" in d["message"]
    assert d["hint"].startswith("set max_model_len: ")


def test_more_concurrency_than_the_cache_holds_is_a_warning_with_the_number_that_fits(specs):
    out = specs.build("vllm", "limits:\n  max_model_len: 32768\n  max_concurrency: 200\n",
                      source="Qwen/Qwen2.5-7B-Instruct")
    assert codes(out) == [("memory-concurrency", 7, 20)]
    assert "sequences of max_model_len 32768 fit at once, not 200" in out["diagnostics"][0]["message"]


# --- deployc plan -------------------------------------------------------------------------------------

def test_plan_prints_the_table_and_json_for_a_sample(cli):
    sample = ROOT / "samples/qwen2.5-7b-h100/deploy.yaml"
    text = cli("plan", sample)
    assert text.exit_code == 0, text.stderr
    assert "vllm: vLLM 0.34.0 on H100-80GB (79.2 GiB), per GPU" in text.stdout
    assert "KV cache" in text.stdout and "max concurrency" in text.stdout
    out = json.loads(cli("plan", sample, "--json").stdout)
    plan = out["targets"]["vllm"]
    assert set(plan) >= {"weights_gib_per_gpu", "kv_cache_gib_per_gpu", "kv_bytes_per_token", "kv_cache_tokens",
                         "max_concurrency", "headroom_gib", "assumptions"}
    assert plan["kv_bytes_per_token"] == 28 * 2 * 4 * 128 * 2
    assert out["facts"]["origin"] == "catalog (Qwen/Qwen2.5-7B-Instruct)"


def test_plan_without_facts_says_what_to_add_and_unknown_target_is_a_usage_error(cli, spec_file):
    path = spec_file(spec_text(source="example/model"))
    result = cli("plan", path)
    assert result.exit_code == 0
    assert "no memory plan (model facts unknown: set model.facts)" in result.stdout
    assert cli("plan", path, "--target", "nope").exit_code == 2


def test_gpus_lists_usable_memory_and_the_nvidia_smi_total(cli):
    out = cli("gpus").stdout
    assert out.splitlines()[0].split() == ["name", "usable", "GiB", "smi", "MiB", "compute", "bf16", "fp8"]
    row = next(line for line in out.splitlines() if line.startswith("H100-80GB "))
    assert row.split() == ["H100-80GB", "79.22", "81559", "9.0", "yes", "yes"]
    names = {line.split()[0] for line in out.splitlines()[1:-1]}
    assert {"A10G", "L4", "L40S", "A100-40GB", "A100-80GB", "H100-PCIE-80GB", "H200", "B200", "RTX-3090",
            "RTX-4090", "T4", "V100-16GB", "MI300X"} <= names


def test_plan_accuracy_benchmark_plans_every_run_or_says_why():
    """The benchmark measures; this proves it still runs: every truth-set run is planned or carries the
    reason it is not plannable yet, and none is dropped."""
    import importlib.util
    import sys
    sys.path.insert(0, str(ROOT / "benchmarks"))
    mod_spec = importlib.util.spec_from_file_location("plan_accuracy", ROOT / "benchmarks/plan_accuracy.py")
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    runs, configs = mod.load()
    rows = mod.run_all(runs, configs)
    assert [r["id"] for r in rows] == [r["id"] for r in runs]
    for r in rows:
        assert ("planned_tokens" in r) != ("not_plannable" in r), r
    assert sum("planned_tokens" in r for r in rows) >= 75


def test_each_engine_budgets_memory_its_own_way(cli):
    """vLLM: a share of total for everything; TGI: that share x TGI_WIGGLE_ROOM 0.90; SGLang: its static
    fraction of the memory free at start (total less the CUDA context) for weights + KV only (activations
    outside); XInference runs vLLM."""
    plans = json.loads(cli("plan", ROOT / "samples/qwen2.5-7b-h100/deploy.yaml", "--json").stdout)["targets"]
    total = plans["vllm"]["gpu_memory_gib"]
    assert plans["vllm"]["budget_gib"] == round(total * 0.90, 2)
    assert plans["tgi"]["budget_gib"] == round(total * 0.90 * 0.90, 2)
    assert plans["sglang"]["budget_gib"] == round((total - 0.5) * 0.80, 2)   # of the memory free at start
    sg = plans["sglang"]
    assert sg["kv_cache_gib_per_gpu"] == pytest.approx(sg["budget_gib"] - sg["weights_gib_per_gpu"], abs=0.02)
    assert plans["tgi"]["kv_cache_tokens"] < plans["vllm"]["kv_cache_tokens"]
    assert set(plans) == {"vllm", "tgi", "sglang", "xinference"}


def test_tensorrt_llm_takes_its_fraction_of_free_memory(cli):
    plan = json.loads(cli("plan", ROOT / "samples/qwen2.5-14b-fp8-tp2-pp2/deploy.yaml", "--json").stdout)
    trt = plan["targets"]["tensorrt-llm"]
    free = trt["gpu_memory_gib"] - trt["weights_gib_per_gpu"] - trt["activation_gib"] - trt["overhead_gib"]
    assert trt["kv_cache_gib_per_gpu"] < free and trt["headroom_gib"] == pytest.approx(
        free - trt["kv_cache_gib_per_gpu"], abs=0.02)


def test_ollama_warns_when_context_times_slots_spills_to_the_cpu(cli, spec_file):
    path = spec_file(spec_text("ollama", "precision:\n  quantization: gguf\nlimits:\n  max_model_len: 131072\n"
                                         "  max_concurrency: 4\nserver:\n  host: 127.0.0.1\nhardware:\n  gpu: RTX-4090\n",
                               model="  gguf: ./m.gguf\n", source="meta-llama/Llama-3.1-8B-Instruct"))
    (path.parent / "m.gguf").write_text("placeholder")
    result = cli("validate", path)
    assert result.exit_code == 0
    assert ":9:18: warning[memory-offload]: Ollama 0.32.15: weights (" in result.stderr
    assert "and a KV cache of 524288 tokens (64.0 GiB) exceed" in result.stderr


def test_tensor_parallel_on_an_nvswitch_board_reserves_nccls_nvlink_sharp_buffers(cli, tmp_path):
    # vLLM 0.19.0 on H100 SXM prints ~0.25 GiB non-torch memory at TP 1 and ~2.1 GiB at TP 2/4
    # (benchmarks/truth llmd-* runs); PCIe boards keep the TP 1 figure (L40S / RTX 4090 runs: 0.21-0.30).
    def other(gpu: str, tp: int) -> float:
        (tmp_path / "deploy.yaml").write_text(spec_text(sections=f"hardware:\n  gpu: {gpu}\nparallelism:\n"
                                                                 f"  tensor: {tp}\nlimits:\n  max_model_len: 8192\n",
                                                        source="meta-llama/Llama-3.1-8B-Instruct"))
        result = cli("plan", tmp_path / "deploy.yaml", "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)["targets"]["vllm"]["overhead_gib"]

    assert other("H100-80GB", 2) - other("H100-80GB", 1) == pytest.approx(1.5)
    assert other("H100-PCIE-80GB", 2) == other("H100-PCIE-80GB", 1)
    assert other("L40S", 4) == other("L40S", 1)
