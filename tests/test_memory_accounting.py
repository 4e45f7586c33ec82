"""The memory plan's accounting rules, one by one, checked against figures the engines printed
(benchmarks/truth/runs.json) given the KV memory they printed: the KV side is exact engine logic,
so these hold to a fraction of a percent; the budget side is measured by benchmarks/plan_accuracy.py."""

from __future__ import annotations

import pytest

from deployc.compiler import memory_kv as kv
from deployc.compiler.arch import FULL, LINEAR, SLIDING
from deployc.compiler.facts import from_catalog
from deployc.compiler.memory_weights import Layout, stages
from dataclasses import replace as dataclasses_replace

GIB = float(1 << 30)


def caches(model: str, tensor: int = 1, kv_bytes: int = 2, state_bytes: int = 2) -> list[kv.LayerCache]:
    arch = from_catalog(model).arch
    assert arch is not None
    return kv.layer_caches(arch, arch.kinds, tensor, kv_bytes, state_bytes)


def test_gemma4_e4b_sliding_and_global_layers_share_one_pool_in_groups_vllm_0_25():
    # gemma-4-e4b-it-l40s-util085: "Available KV cache memory: 22.01 GiB", 1,033,831 tokens, 63.10x at 16,384.
    # 24 layers keep KV (18 share it): 4 global (2 heads x 512) + 20 sliding (2 x 256, window 512); the sliding
    # pages get 32-token blocks to match the global ones, 6 groups of 4 layers; one batch (2048) in flight.
    pool = kv.vllm_pool(caches("google/gemma-4-E4B-it"), 22.01 * GIB, 16384, 16, 2048, "concurrency")
    assert pool.groups == 6
    assert pool.concurrency == pytest.approx(63.10, rel=0.002)
    assert pool.tokens == pytest.approx(1_033_831, rel=0.002)


def test_two_batches_in_flight_from_0_26_widen_every_sliding_group():
    # gemma-4-e2b-it-qat-w4a16-t4 (vLLM 0.29): 4.66 GiB, 31.72x at 16,384 (async scheduling: 2 x 2048 tokens)
    e2b = caches("google/gemma-4-E2B-it")
    two = kv.vllm_pool(e2b, 4.66 * GIB, 16384, 16, 2 * 2048, "concurrency")
    one = kv.vllm_pool(e2b, 4.66 * GIB, 16384, 16, 2048, "concurrency")
    assert two.concurrency == pytest.approx(31.72, rel=0.005)
    assert one.concurrency > two.concurrency * 1.1


def test_the_token_line_before_0_21_is_blocks_over_groups_and_after_is_concurrency_times_length():
    # qwen3.5-2b-24gb-util050-262k (vLLM 0.17.1): 5.95 GiB -> "129,472 tokens", 1.97x at 262,144;
    # 6 full-attention + 18 Gated DeltaNet layers: 4 groups, attention blocks grown to hold one fp32 state.
    qwen = caches("Qwen/Qwen3.5-2B")
    old = kv.vllm_pool(qwen, 5.95 * GIB, 262144, 16, 2048, "groups")
    new = kv.vllm_pool(qwen, 5.95 * GIB, 262144, 16, 2048, "concurrency")
    assert old.groups == 4
    assert old.concurrency == pytest.approx(1.97, abs=0.01)
    assert old.tokens == pytest.approx(129_472, rel=0.01)
    assert new.tokens == int(new.concurrency * 262144)       # ~4x the old figure for the same pool


def test_prefix_caching_puts_linear_attention_groups_in_align_mode_two_blocks_a_request():
    # qwen3.6-35b-a3b-nvfp4-5090 (vLLM 0.24, fp8 KV, prefix caching): 5.98 GiB -> 4.33x, 567,978 tokens at 131,072
    q = caches("Qwen/Qwen3.6-35B-A3B", kv_bytes=1)
    aligned = kv.vllm_pool(q, 5.98 * GIB, 131072, 16, 8192, "concurrency", state_blocks=2)
    assert aligned.concurrency == pytest.approx(4.33, rel=0.005)
    assert aligned.tokens == pytest.approx(567_978, rel=0.005)
    assert kv.vllm_pool(q, 5.98 * GIB, 131072, 16, 8192, "concurrency").concurrency > aligned.concurrency


def test_a_dense_model_is_one_group_of_whole_blocks():
    q = caches("Qwen/Qwen3-14B")
    pool = kv.vllm_pool(q, 11.57 * GIB, 40960, 16, 2048, "concurrency")
    per_token = 40 * 2 * 8 * 128 * 2
    assert (pool.groups, pool.per_token) == (1, per_token)
    assert pool.tokens == pytest.approx(11.57 * GIB / per_token, rel=0.001)     # qwen3-14b-l40s: 75,824


def test_mla_caches_one_latent_per_layer_on_every_tensor_rank_and_sglang_counts_tokens_by_it():
    # kimi-k2.5-8xmi355x-tp8-sglang: 160.63 GiB for 2,454,421 tokens = 61 layers x (512 + 64) x 2 B per rank
    k = caches("moonshotai/Kimi-K2.5", tensor=8)
    assert sum(c.per_token for c in k) == 61 * 576 * 2
    pool = kv.sglang_pool(k, 160.63 * GIB, 262144, 0.8)
    assert pool.tokens == pytest.approx(2_454_421, rel=0.001)


def test_kv_heads_are_replicated_when_tensor_exceeds_them_and_sliding_windows_bound_per_layer_pools():
    q = caches("Qwen/Qwen2.5-7B-Instruct", tensor=8)               # 4 KV heads on 8 ranks: one head each
    assert {c.per_token for c in q} == {2 * 1 * 128 * 2}
    oss = caches("openai/gpt-oss-20b")
    assert sum(1 for c in oss if c.kind == SLIDING and c.span == 128) == 12
    simple = kv.simple_pool(oss, 10 * GIB, 131072, 16)
    assert simple.per_seq == 12 * 2048 * 131072 + 12 * 2048 * 128


def test_linear_attention_state_is_split_over_tensor_ranks_with_an_fp32_recurrent_part():
    one = [c for c in caches("Qwen/Qwen3.6-27B") if c.kind == LINEAR]
    two = [c for c in caches("Qwen/Qwen3.6-27B", tensor=2) if c.kind == LINEAR]
    # conv (16 x 128 x 2 + 48 x 128) x 3 x 2 B + recurrent 48 x 128 x 128 x 4 B
    assert one[0].per_seq == 10240 * 3 * 2 + 48 * 128 * 128 * 4
    assert two[0].per_seq * 2 == one[0].per_seq
    assert sum(1 for c in caches("Qwen/Qwen3.6-27B") if c.kind == FULL) == 16


def test_pipeline_stages_split_layers_like_vllm_get_pp_indices():
    assert [len(s) for s in stages(27, 2)] == [14, 13]
    assert [len(s) for s in stages(40, 3)] == [13, 14, 13]
    assert [len(s) for s in stages(64, 4)] == [16, 16, 16, 16]


def test_data_parallel_attention_replicates_attention_and_shards_experts_over_every_gpu():
    """Issue 20: DeepSeek-V3 on 8 x H200 with data-parallel attention (tensor 1, data 8, expert 8) was planned as
    8 whole copies, 626.7 GiB per GPU; the experts are split over the 8 GPUs, attention held by each rank."""
    from deployc.compiler.memory import weights_per_gpu
    from deployc.compiler.plan import resolve
    from deployc.compiler.spec import Spec

    def per_gpu(parallelism):
        spec = Spec.model_validate({"apiVersion": "deployc/v1", "name": "t", "model": {"source": "deepseek-ai/DeepSeek-V3"},
                                    "parallelism": parallelism, "hardware": {"gpu": "H200"}, "targets": {"vllm": {}}})
        plan, diags = resolve(spec, from_catalog("deepseek-ai/DeepSeek-V3"))
        diags = [d for d in diags if d.code != "server-open"]
        return plan, diags, weights_per_gpu(plan, plan.facts)[0] / GIB

    plan, diags, attention = per_gpu({"tensor": 1, "data": 8, "data_mode": "attention", "expert": 8})
    assert Layout.of(plan) == Layout(tensor=8, expert=8, attention_data=8) and diags == []
    assert attention == pytest.approx(93.8, abs=0.1)
    _, _, replicas = per_gpu({"tensor": 1, "data": 8, "data_mode": "replicas"})
    assert replicas > 600                                   # a whole copy per GPU: what the old plan said
    _, _, tensor8 = per_gpu({"tensor": 8})
    assert attention > tensor8                              # attention is not sharded by tensor parallelism here
    _, diags, _ = per_gpu({"data": 8})
    assert [(d.code, d.path) for d in diags] == [("parallelism-data-mode", ("parallelism", "data"))]
    _, diags, _ = per_gpu({"tensor": 1, "data": 8, "data_mode": "attention", "expert": 3})
    assert [(d.code, d.path) for d in diags] == [("parallelism-expert", ("parallelism", "expert"))]


def _plan(model: str, tensor: int = 1, pipeline: int = 1, towers: bool = True):
    from dataclasses import replace as _replace

    from deployc.compiler.plan import resolve
    from deployc.compiler.spec import Spec
    spec = Spec.model_validate({"apiVersion": "deployc/v1", "name": "t", "model": {"source": model},
                                "parallelism": {"tensor": tensor, "pipeline": pipeline}, "targets": {"vllm": {}}})
    plan, _ = resolve(spec, from_catalog(model))
    return plan, _replace


def test_weights_keep_embeddings_towers_and_gpt_oss_attention_in_16_bit():
    from deployc.compiler.memory_weights import weights
    plan, _ = _plan("openai/gpt-oss-120b")
    f = plan.facts
    w = weights(plan, f, Layout(tensor=1)).worst
    experts = f.expert_parameters * (4 + 8 / 32) / 8
    assert w > experts + (f.parameters - f.expert_parameters) * 2 * 0.95   # everything but the experts 16-bit
    assert w / GIB == pytest.approx(60.8, abs=1.5)                          # the 65.3 GB checkpoint
    vl, _ = _plan("Qwen/Qwen3-VL-30B-A3B-Instruct")
    with_towers = weights(vl, vl.facts, Layout()).worst
    without = weights(vl, vl.facts, Layout(), towers=False).worst
    assert (with_towers - without) == pytest.approx(vl.facts.vision_parameters * 2, rel=1e-6)


def test_experts_split_over_expert_parallel_ranks_cost_what_tensor_sharding_costs():
    from deployc.compiler.memory_weights import weights
    plan, _ = _plan("Qwen/Qwen3-30B-A3B", tensor=4)
    tp = weights(plan, plan.facts, Layout(tensor=4)).worst
    ep = weights(plan, plan.facts, Layout(tensor=4, expert=4)).worst
    dp_attention = weights(plan, plan.facts, Layout(tensor=4, expert=4, attention_data=4)).worst
    assert tp == pytest.approx(ep)
    assert dp_attention > ep                     # each rank then holds all of attention


def test_mla_down_projections_the_dsa_indexer_and_routers_stay_whole_on_every_tensor_rank():
    # vLLM 0.34.0 deepseek_v2.py: fused_qkv_a_proj (q_lora_rank + kv_lora_rank + rope) with disable_tp=True, the
    # Indexer "no tensor parallel, just replicated", GateLinear a ReplicatedLinear without quant_config
    from deployc.compiler.memory_weights import weights
    from deployc.compiler.params import count
    v31 = from_catalog("deepseek-ai/DeepSeek-V3.1")
    routers = 58 * 7168 * 256                                       # 58 MoE layers after 3 dense
    assert v31.replicated_parameters == 61 * 7168 * (1536 + 512 + 64) + routers
    assert v31.unquantized_parameters == routers
    glm = {"num_hidden_layers": 4, "hidden_size": 6144, "num_attention_heads": 64, "num_key_value_heads": 64,
           "head_dim": 192, "vocab_size": 154880, "intermediate_size": 12288, "kv_lora_rank": 512,
           "q_lora_rank": 2048, "qk_nope_head_dim": 192, "qk_rope_head_dim": 64, "v_head_dim": 256,
           "index_head_dim": 128, "index_n_heads": 32, "indexer_types": ["full", "shared", "shared", "full"]}
    parts = count(glm, glm, 4, 6144, 64, 64, 192, None, False)
    assert parts is not None
    # the indexer of the two "full" layers: wq_b 2048 -> 32 x 128, wk 6144 -> 128, weights_proj 6144 -> 32
    indexer = 2 * (2048 * 32 * 128 + 6144 * 128 + 6144 * 32)
    assert parts.replicated == 4 * 6144 * (2048 + 512 + 64) + indexer
    assert parts.unquantized == 2 * 6144 * 32
    # FP8 DeepSeek-V3.1 over 8 ranks: the whole model's sharded bytes / 8, plus the replicated ones on each
    plan, _ = _plan("deepseek-ai/DeepSeek-V3.1", tensor=8)
    f = plan.facts
    one, eight = (weights(plan, f, Layout(tensor=t)).worst for t in (1, 8))
    whole = (v31.replicated_parameters - routers) * 1 + routers * 2
    embeddings = 2 * 129280 * 7168 * 2                              # embeddings and LM head, 16-bit
    assert eight == pytest.approx((one - whole - embeddings) / 8 + whole + embeddings / 8, rel=1e-9)


def test_a_checkpoints_multi_token_prediction_layers_are_not_weights_without_speculative_mtp(tmp_path):
    # glm-5.2-nvfp4-4xgb200-tp4-ep-fp8kv-819k (vLLM 0.26.0): "Checkpoint size: 432.90 GiB", then "Model loading
    # took 106.69 GiB" on each of 4 ranks; the checkpoint's layer 78 (num_nextn_predict_layers 1) is skipped by
    # vLLM's load_weights (get_spec_layer_idx_from_weight_name) and so is not on the GPUs
    import json
    from pathlib import Path
    from deployc.compiler.memory_weights import weights
    from deployc.compiler.plan import resolve
    from deployc.compiler.spec import Spec
    truth = Path(__file__).resolve().parent.parent / "benchmarks/truth/model_configs.json"
    cfg = next(m for m in json.loads(truth.read_text(encoding="utf-8"))["models"] if m["id"] == "zai-org/GLM-5.2")
    folder = tmp_path / "glm"
    folder.mkdir()
    config = dict(cfg["config"], quantization_config={"quant_method": "modelopt", "quant_algo": "NVFP4"})
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": round(432.90 * GIB)}, "weight_map": {}}), encoding="utf-8")
    spec = Spec.model_validate({"apiVersion": "deployc/v1", "name": "t", "model": {"source": str(folder)},
                                "parallelism": {"tensor": 4, "expert": 4}, "targets": {"vllm": {}}})
    from deployc.compiler.facts import resolve_facts
    facts, _ = resolve_facts(str(folder), None, folder, spec.model.facts)
    plan, _ = resolve(spec, facts)
    w = weights(plan, plan.facts, Layout(tensor=4, expert=4))
    assert "weights: the checkpoint's 1 multi-token-prediction layer(s) are not loaded without speculative mtp" \
        in w.notes
    assert w.worst / GIB == pytest.approx(106.69, rel=0.01)
    # the layer left out is about one MoE layer: 256 experts x 3 x 6144 x 2048 at 4.5 bits = 5.06 GiB, and attention
    whole = weights(plan, plan.facts, Layout()).worst / GIB
    assert 432.90 - 6.0 < whole < 432.90 - 5.06
    no_mtp = dataclasses_replace(plan.facts, arch=dataclasses_replace(plan.facts.arch, mtp_layers=0))
    assert weights(plan, no_mtp, Layout()).worst / GIB == pytest.approx(432.90, abs=0.01)   # all of it, else


def test_vllm_sampler_pass_is_a_peak_of_its_own_that_tensor_parallelism_does_not_shrink():
    from deployc.compiler.memory import Budget, EngineMemory, activation_bytes
    plan, _ = _plan("openai/gpt-oss-120b")
    eng = EngineMemory("vLLM", Budget.TOTAL, 0.9, "x", batch_tokens=1024, max_seqs=1024, non_torch_gib=0,
                       sampler_flat=True, sampler_bytes=20.0)
    one, eight = (activation_bytes(plan, plan.facts, eng, Layout(tensor=t)) for t in (1, 8))
    assert one == eight == pytest.approx(20.0 * 1024 * 201088)


def test_vllm_runs_the_sampler_pass_on_the_last_pipeline_stage_only():
    # vLLM's profile_run calls _dummy_sampler_run only `if get_pp_group().is_last_rank`
    # (vllm/v1/worker/gpu_model_runner.py, 0.11.2 275de3417 and 0.33.0 4ba787ec9), and the engine keeps
    # the smallest stage's block count. Qwen3-30B-A3B over two GH200 nodes (TP4 x PP2, vLLM 0.10.1) printed
    # 76.15 GiB on the first stage and 70.58 GiB on the last: the earlier stages do not pay for the sampler.
    from deployc.compiler.memory import Budget, EngineMemory, activation_bytes, estimate
    from deployc.compiler.memory_weights import weights
    plan, _ = _plan("deepseek-ai/DeepSeek-V2-Lite-Chat", tensor=2, pipeline=2)
    eng = EngineMemory("vLLM", Budget.TOTAL, 0.9, "x", batch_tokens=1024, max_seqs=1024, non_torch_gib=0,
                       sampler_flat=True, sampler_bytes=20.0)
    layout = Layout(tensor=2, pipeline=2)
    last = activation_bytes(plan, plan.facts, eng, layout)
    first = activation_bytes(plan, plan.facts, eng, layout, last_stage=False)
    assert last == pytest.approx(20.0 * 1024 * 102400)          # 1.95 GiB of logits rows
    assert first < last / 20                                    # the forward pass alone
    mp = estimate(plan, plan.facts, eng, layout)
    w = weights(plan, plan.facts, layout)
    # the first stage (14 of 27 layers) holds the fewest sequences; its pool keeps the sampler's 1.95 GiB
    assert mp.kv_cache_gib_per_gpu == pytest.approx((mp.budget_gib * GIB - w.per_stage[0] - first) / GIB, abs=0.01)


def test_sglang_keeps_sliding_window_layers_in_a_pool_of_their_own():
    oss = caches("openai/gpt-oss-20b")
    pool = kv.sglang_pool(oss, 10 * GIB, 131072, 0.8)
    full = sum(c.per_token for c in oss if not c.span)
    swa = sum(c.per_token for c in oss if c.span)
    assert pool.tokens == int(10 * GIB // (full + 0.8 * swa))     # #tokens: the full-attention pool
    assert pool.kv_bytes == pytest.approx(pool.tokens * full + int(pool.tokens * 0.8) * swa)


@pytest.mark.parametrize("rule, gpu_mib, tp, expected", [
    ("0.4", 22.04 * 1024, 4, 0.855),    # qwq-32b-4xl4-tp4-sglang printed 0.85 (on its own 22.5 GB reading)
    ("0.4", 79.22 * 1024, 1, 0.874),
    ("0.5", 288 * 1024, 8, 0.965),
])
def test_sglang_picks_mem_fraction_static_itself_by_gpu_size(rule, gpu_mib, tp, expected):
    from deployc.targets.sglang.versions import auto_mem_fraction
    assert auto_mem_fraction(rule, gpu_mib, tp, 1, None) == pytest.approx(expected, abs=0.002)


def test_sglang_takes_linear_attention_state_slots_out_of_the_pool_before_the_kv_cache():
    # SGLang 0.5.23 _handle_max_mamba_cache: the state gets 0.9 / 1.9 of what is left after the weights, in whole
    # slots plus a padding slot; Qwen3.6-27B keeps a float32 recurrent state (its config says so) in 48 Gated
    # DeltaNet layers: 48 x (conv (16 x 128 x 2 + 48 x 128) x 3 x 2 B + ssm 48 x 128 x 128 x 4 B) per request.
    arch = from_catalog("Qwen/Qwen3.6-27B").arch
    assert arch is not None
    qwen = kv.layer_caches(arch, arch.kinds, 1, 2, 2, ssm_fp32_default=True)
    assert sum(c.per_seq for c in qwen) == 48 * (30720 * 2 + 786432 * 4) == 153_944_064
    pool = kv.sglang_pool(qwen, 20 * GIB, 262144, 0.8, kv.StatePool(slots_per_request=5))
    # slots = (20 GiB x 0.9 / 1.9 - 153,944,064) // 153,944,064 = 65; 66 x 153,944,064 B leave 11,314,528,256 B
    assert pool.kv_bytes == 20 * GIB - 66 * 153_944_064 == 11_314_528_256
    assert pool.tokens == 11_314_528_256 // (16 * 2 * 4 * 256 * 2) == 172_646
    assert pool.notes[0] == ("SGLang linear-attention state: 65 slots of 146.8 MiB (9.46 GiB, mamba_full_memory_ratio "
                             "0.9) taken before the KV pool; at most 13 running requests (5 state slots each)")
    # speculative decoding: slots solved with 4 draft tokens' intermediate states for min(48, 33 // 5) requests
    spec = kv.sglang_pool(qwen, 20 * GIB, 262144, 0.8, kv.StatePool(slots_per_request=5, draft_tokens=4, running=48))
    assert spec.kv_bytes == 20 * GIB - 34 * 153_944_064 - 153_944_064 * 7 * 4
    assert "33 slots" in spec.notes[0] and "at most 6 running requests" in spec.notes[0]
    # without a state pool (vLLM's block groups, SGLang 0.4.10.post2) the pool is the KV cache alone
    assert kv.sglang_pool(qwen, 20 * GIB, 262144, 0.8).kv_bytes == 20 * GIB


def test_the_sglang_plan_of_a_hybrid_model_reserves_the_state_pool_and_caps_running_requests(cli, tmp_path):
    import json
    path = tmp_path / "deploy.yaml"
    path.write_text("apiVersion: deployc/v1\nname: q\nmodel: {source: Qwen/Qwen3-Next-80B-A3B-Instruct}\n"
                    "server: {host: 127.0.0.1}\nparallelism: {tensor: 4}\nlimits: {max_model_len: 32768}\n"
                    "hardware: {gpu: H100-80GB}\ntargets: {sglang: {mem_fraction_static: 0.85}, vllm: {}}\n",
                    encoding="utf-8")
    result = cli("plan", path, "--json")
    assert result.exit_code == 0, result.stdout
    out = json.loads(result.stdout)["targets"]
    sglang, vllm = out["sglang"], out["vllm"]
    note = next(n for n in sglang["assumptions"] if n.startswith("SGLang linear-attention state"))
    assert note.endswith("taken before the KV pool; at most " + note.split("at most ")[1])
    assert "mamba_full_memory_ratio 0.9" in note and note.endswith("(5 state slots each)")
    cap = int(note.split("at most ")[1].split()[0])
    assert sglang["max_concurrency"] <= cap
    # vLLM keeps the state in its one block pool: no such note
    assert not any(n.startswith("SGLang linear-attention state") for n in vllm["assumptions"])
    text = cli("plan", path, "--target", "sglang").stdout
    assert "  state slots          14.10 GiB linear-attention state\n" in text
    assert "= KV cache 15.7  s state 14.1  . headroom 11.5" in text


def test_dsa_layers_that_reuse_an_earlier_top_k_keep_no_indexer_keys():
    # glm-5.2-nvfp4-4xgb200-tp4-ep-fp8kv-819k (vLLM 0.26.0, fp8 KV): 50.62 GiB for 1,139,456 tokens = 47,700 B a
    # token = 78 layers x 576 B of MLA latent + 21 "full" indexer layers x (128 + 4) B of indexer keys
    from deployc.compiler.arch import indexer_layers
    types = ["full"] * 3 + (["shared"] * 3 + ["full"]) * 18 + ["shared"] * 3
    assert sorted(indexer_layers({"indexer_types": types}, 78) or ()) == [0, 1, 2] + list(range(6, 78, 4))
    assert indexer_layers({"index_topk_freq": 4, "index_skip_topk_offset": 3}, 78) == indexer_layers(
        {"indexer_types": types}, 78)
    assert indexer_layers({}, 61) is None                    # DeepSeek-V3.2: every layer
    arch = from_catalog("deepseek-ai/DeepSeek-V3.2").arch
    assert arch is not None
    from dataclasses import replace
    glm = replace(arch, kinds=(FULL,) * 78, indexer_layers=indexer_layers({"indexer_types": types}, 78))
    per_token = sum(c.per_token for c in kv.layer_caches(glm, glm.kinds, 4, 1, 2, first=0))
    assert per_token == 78 * 576 + 21 * 132 == 47_700
    assert round(50.62 * GIB / per_token, -3) == 1_139_000


def test_decode_context_parallelism_interleaves_the_kv_cache_over_tensor_ranks(cli, tmp_path):
    import json
    path = tmp_path / "deploy.yaml"
    base = ("apiVersion: deployc/v1\nname: k\nmodel: {source: deepseek-ai/DeepSeek-V3}\nserver: {host: 127.0.0.1}\n"
            "parallelism: {tensor: 8}\nlimits: {max_model_len: 32768}\nhardware: {gpu: H200}\n")
    plans = []
    for args in ("[]", "['--decode-context-parallel-size', '8']"):
        path.write_text(base + f"targets: {{vllm: {{args: {args}}}}}\n", encoding="utf-8")
        result = cli("plan", path, "--json")
        assert result.exit_code == 0, result.stdout
        plans.append(json.loads(result.stdout)["targets"]["vllm"])
    plain, dcp = plans
    assert dcp["kv_cache_gib_per_gpu"] == pytest.approx(plain["kv_cache_gib_per_gpu"])
    assert dcp["kv_bytes_per_token"] * 8 == plain["kv_bytes_per_token"] == 61 * 576 * 2
    assert dcp["kv_cache_tokens"] == pytest.approx(8 * plain["kv_cache_tokens"], rel=0.001)
    assert any(n.startswith("--decode-context-parallel-size 8 (targets.vllm.args)") for n in dcp["assumptions"])


@pytest.mark.parametrize("args, dcp", [
    (["--decode-context-parallel-size", "8"], 8),
    (["--decode-context-parallel-size=4"], 4),
    (["-dcp", "2"], 2),
    (["-dcp8"], 8),                                              # argparse reads a glued short option
    (["-dcp", "2", "--enforce-eager", "--decode-context-parallel-size", "4"], 4),   # the last one wins
    (["--enforce-eager"], 1),
])
def test_the_vllm_plan_reads_decode_context_parallelism_as_vllms_parser_does(args, dcp):
    from deployc.targets.vllm import decode_context_parallel
    from deployc.targets.vllm.versions import VERSIONS
    assert decode_context_parallel(args, VERSIONS["0.34.0"]) == dcp


def test_plan_says_which_weights_every_tensor_rank_holds_whole(cli, tmp_path):
    vllm = cli.plan_json(tmp_path, "apiVersion: deployc/v1\nname: ds\nmodel: {source: deepseek-ai/DeepSeek-V3.1}\n"
                         "server: {host: 127.0.0.1}\nparallelism: {tensor: 8}\nlimits: {max_model_len: 32768}\n"
                         "hardware: {gpu: H200}\ntargets: {vllm: {}}\n")["targets"]["vllm"]
    # 61 x 7168 x 2112 fp8 down projections (0.86 GiB) + 58 x 7168 x 256 16-bit routers (0.20 GiB)
    assert "weights: 1.06 GiB on every tensor rank whole (MLA down projections, MoE routers)" in vllm["assumptions"]
    assert vllm["weights_gib_per_gpu"] == 79.27


@pytest.mark.parametrize("gpu, sglang_bytes", [("B200", 61 * (576 + 132)), ("H200", 61 * (2 * 576 + 132))])
def test_sglang_stores_a_dsa_models_kv_cache_as_fp8_by_itself_on_blackwell(cli, tmp_path, gpu, sglang_bytes):
    # SGLang 0.5.23 arg_groups/overrides.py _dsa_kv_cache_dtype_default: --kv-cache-dtype auto is fp8_e4m3 for a
    # DeepSeek sparse-attention model on SM >= 10 (bfloat16 below), whose trtllm backends keep the raw latent
    # (kv_cache_configurator.py calculate_mla_kv_cache_dim); the indexer keys are fp8 plus a scale either way
    out = cli.plan_json(tmp_path, "apiVersion: deployc/v1\nname: ds\nmodel: {source: deepseek-ai/DeepSeek-V3.2}\n"
                        "server: {host: 127.0.0.1}\nparallelism: {tensor: 8}\nlimits: {max_model_len: 32768}\n"
                        f"hardware: {{gpu: {gpu}}}\ntargets: {{sglang: {{mem_fraction_static: 0.85}}, vllm: {{}}}}\n"
                        )["targets"]
    assert out["sglang"]["kv_bytes_per_token"] == sglang_bytes
    assert out["vllm"]["kv_bytes_per_token"] == 61 * (2 * 576 + 132)      # vLLM keeps the model's dtype
    notes = [n for n in out["sglang"]["assumptions"] if "fp8_e4m3 by itself" in n]
    assert notes == (["SGLang 0.5.23 stores this DeepSeek sparse-attention model's KV cache as fp8_e4m3 by itself on "
                      "B200 (SM 10.0; bfloat16 before SM 10), the raw latent of the trtllm backends: "
                      "precision.kv_cache_dtype is auto, so nothing is written"] if gpu == "B200" else [])
