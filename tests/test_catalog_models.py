"""The catalog covers the models people serve now, derivatives resolve to them, and each entry's
layers are read the way the engines read them (compiler/arch.py, compiler/params.py)."""

from __future__ import annotations

import pytest

from deployc.compiler.arch import CHUNKED, FULL, LINEAR, SHARED, SLIDING
from deployc.compiler.facts import catalog, catalog_derivatives, from_catalog


@pytest.mark.parametrize("family", [
    "deepseek-v3", "deepseek-v3.1", "deepseek-v3.2", "deepseek-r1", "qwen3-8b", "qwen3-next", "qwen3.5-27b",
    "qwen3.5-397b", "qwen3.6-35b", "gpt-oss-120b", "llama-4-scout", "llama-4-maverick", "gemma-3-4b", "gemma-3-12b",
    "gemma-2-2b", "gemma-4-31b", "gemma-4-e4b", "glm-4.5", "glm-4.6", "glm-4.7", "kimi-k2", "kimi-k2.5", "minimax-m2",
    "mistral-small-3", "mistral-large-3"])
def test_the_catalog_has_todays_families(family):
    assert any(family in i for i in catalog()), family


def test_every_derivative_names_a_catalog_base_and_resolves_with_its_quantization():
    cat = catalog()
    for key, d in catalog_derivatives().items():
        assert d["base"].lower() in cat, key
        f = from_catalog(d["id"])
        assert f.known and f.parameters, key
        if "quantization_config" in d:
            assert f.quant_method == d["quantization_config"]["quant_method"], key
    awq = from_catalog("Qwen/Qwen3-14B-AWQ")
    assert (awq.quant_method, awq.quant_bits, awq.layers) == ("awq", 4, 40)
    assert from_catalog("Qwen/Qwen3-235B-A22B-Instruct-2507-FP8").context == 262144   # overrides apply
    assert from_catalog("deepseek-ai/DeepSeek-R1-Distill-Qwen-14B").context == 131072


@pytest.mark.parametrize("model, counts", [
    ("google/gemma-3-4b-it", {SLIDING: 29, FULL: 5}),            # sliding_window_pattern 6
    ("google/gemma-2-2b-it", {SLIDING: 13, FULL: 13}),           # every other layer local
    ("google/gemma-4-E4B-it", {SLIDING: 20, FULL: 4, SHARED: 18}),  # the last 18 layers reuse KV
    ("google/gemma-4-E2B-it", {SLIDING: 12, FULL: 3, SHARED: 20}),
    ("Qwen/Qwen3-Next-80B-A3B-Instruct", {LINEAR: 36, FULL: 12}),  # full_attention_interval 4
    ("Qwen/Qwen3.5-2B", {LINEAR: 18, FULL: 6}),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", {CHUNKED: 36, FULL: 12}),  # every 4th layer global (NoPE)
    ("openai/gpt-oss-20b", {SLIDING: 12, FULL: 12}),
    ("deepseek-ai/DeepSeek-V3", {FULL: 61}),
])
def test_layer_kinds_follow_the_configs(model, counts):
    arch = from_catalog(model).arch
    assert arch is not None
    assert {k: arch.count(k) for k in counts} == counts


def test_gemma4_global_layers_have_their_own_heads_and_mla_and_linear_state_are_read():
    g = from_catalog("google/gemma-4-26B-A4B-it").arch
    assert (g.kv_heads, g.head_dim, g.swa_kv_heads, g.swa_head_dim, g.window) == (2, 512, 8, 256, 1024)
    ds = from_catalog("deepseek-ai/DeepSeek-V3.2").arch
    assert (ds.mla, ds.indexer_dim) == ((512, 64), 128)
    q = from_catalog("Qwen/Qwen3.6-27B").arch
    assert q.linear is not None and q.linear.ssm_fp32
    # conv (16 x 128 x 2 + 48 x 128) x 3, recurrent 48 x 128 x 128 (vLLM gated_delta_net_state_shape)
    assert (q.linear.conv_elems, q.linear.ssm_elems) == ((4096 + 6144) * 3, 48 * 128 * 128)


def test_parameters_come_in_parts_that_quantized_checkpoints_store_differently():
    oss = from_catalog("openai/gpt-oss-120b")
    assert oss.quant_dense and oss.expert_parameters / oss.parameters > 0.95     # MXFP4 experts, 16-bit rest
    vl = from_catalog("Qwen/Qwen3-VL-30B-A3B-Instruct")
    assert 0.3e9 < vl.vision_parameters < 0.6e9
    e4b = from_catalog("google/gemma-4-E4B-it")
    assert e4b.embedding_parameters > 2.5e9      # 262144 x 42 x 256 per-layer embeddings stay 16-bit


@pytest.mark.parametrize("name, gib, cc", [
    ("RTX-5090", 31.39, "12.0"), ("RTX-PRO-6000", 95.14, "12.0"), ("B300", 268.14, "10.3"), ("GB200", 184.58, "10.0"),
    ("H20", 95.13, "9.0"), ("H800", 79.2, "9.0"), ("A800", 79.55, "8.0"), ("L20", 44.54, "8.9"),
    ("MI325X", 256.0, "gfx942"), ("MI355X", 288.0, "gfx950")])
def test_the_gpu_catalog_covers_what_people_deploy_on_now(name, gib, cc):
    from deployc.compiler import gpus
    g = gpus.lookup(name)
    assert g is not None and (g.memory_gib, g.compute_capability) == (gib, cc)
    assert g.bf16 and (g.fp8 or name == "A800")


def test_mistral_large_3_is_the_deepseek_v3_shape_vllm_makes_of_its_params_json(cli, tmp_path):
    # vLLM 0.34.0 transformers_utils/configs/mistral.py adapt_config_dict: MistralLarge3ForCausalLM, MLA 512 + 64,
    # 128 experts (4 per token) after 3 dense layers, compressed-tensors FP8 blocks
    f = from_catalog("mistralai/Mistral-Large-3-675B-Instruct-2512")
    assert (f.architecture, f.layers, f.experts, f.experts_per_token, f.context) == (
        "MistralLarge3ForCausalLM", 61, 128, 4, 294912)
    assert (f.quant_method, f.quant_bits) == ("compressed-tensors", 8)
    assert f.parameters == pytest.approx(673.42e9, rel=1e-4)       # the published 675B less the unread vision encoder
    out = cli.plan_json(tmp_path, "apiVersion: deployc/v1\nname: ml3\n"
                        "model: {source: mistralai/Mistral-Large-3-675B-Instruct-2512}\nserver: {host: 127.0.0.1}\n"
                        "parallelism: {tensor: 8}\nlimits: {max_model_len: 65536}\nhardware: {gpu: H200}\n"
                        "targets: {vllm: {}, sglang: {mem_fraction_static: 0.85}}\n")["targets"]
    for target in ("vllm", "sglang"):
        assert out[target]["kv_bytes_per_token"] == 61 * (512 + 64) * 2      # the latent, on every tensor rank
        assert out[target]["weights_gib_per_gpu"] == 79.46                   # about 675 GB of FP8 over 8 ranks
