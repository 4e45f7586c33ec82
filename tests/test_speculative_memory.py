"""Speculative decoding in the memory plan (compiler/memory_draft.py): the drafter's weights and KV cache on the
target's GPUs, in vLLM's terms (the draft layers at their own shape in the one block pool) and SGLang's (the
target's per-layer bytes times the draft's layers, in the target's token pool); an unknown drafter is said."""

from __future__ import annotations

import json

TARGET = "Qwen/Qwen2.5-7B-Instruct"        # 28 layers x 4 KV heads x 128: 57344 B per token
DRAFT = "Qwen/Qwen2.5-0.5B-Instruct"       # 24 layers x 2 KV heads x 64: 12288 B per token

EAGLE3_CONFIG = {   # an EAGLE3 head in the shape of Llama 3.1 8B's (one layer, a 32000-token draft vocabulary)
    "architectures": ["LlamaForCausalLMEagle3"], "model_type": "llama", "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 1, "num_attention_heads": 32, "num_key_value_heads": 8,
    "head_dim": 128, "vocab_size": 128256, "draft_vocab_size": 32000, "max_position_embeddings": 131072,
    "torch_dtype": "bfloat16", "tie_word_embeddings": False}


def spec(speculative: str, source: str = TARGET, parallel: str = "", gpu: str = "H100-80GB") -> str:
    return (f"apiVersion: deployc/v1\nname: demo\nmodel:\n  source: {source}\nserver:\n  host: 127.0.0.1\n"
            f"{speculative}{parallel}limits:\n  max_model_len: 32768\nhardware:\n  gpu: {gpu}\n"
            "targets:\n  vllm: {}\n  sglang: {}\n")


def plan(cli, tmp_path, text: str) -> dict:
    path = tmp_path / "deploy.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli("plan", path, "--json")
    assert result.exit_code == 0, result.stdout
    return json.loads(result.stdout)


def figures(out: dict, target: str) -> tuple[float, int, int]:
    m = out["targets"][target]
    return m["weights_gib_per_gpu"], m["kv_bytes_per_token"], m["kv_cache_tokens"]


def warnings_of(out: dict) -> list[dict]:
    """The diagnostics but SGLang's report of its speculative running-request cap (its own test below)."""
    return [d for d in out["diagnostics"] if d["code"] != "sglang-speculative-running-requests"]


def spec_notes(out: dict, target: str) -> list[str]:
    return [a for a in out["targets"][target]["assumptions"] if a.startswith("speculative")]


def test_a_draft_model_adds_its_weights_and_kv_cache_in_each_engines_terms(cli, tmp_path):
    alone = plan(cli, tmp_path, spec(""))
    assert figures(alone, "vllm") == (14.19, 57344, 1135872)
    assert figures(alone, "sglang") == (14.19, 57344, 1022662)
    out = plan(cli, tmp_path, spec(f"speculative:\n  method: draft\n  model: {DRAFT}\n  num_tokens: 4\n"))
    # vLLM: 24 draft layers of 2 x 2 x 64 x 2 B join the pool at their own shape: 57344 + 12288 B per token
    assert figures(out, "vllm") == (15.11, 69632, 921216)
    assert spec_notes(out, "vllm") == [
        f"speculative draft: {DRAFT} (catalog ({DRAFT})), 0.494B parameters at 16 bits, 0.92 GiB per GPU over tensor "
        "1; KV cache of 24 layer(s) at its own shape (2 KV heads x 64) in the one pool"]
    # SGLang sizes each draft layer like a target layer (4 x 128 x 2 x 2 B): 57344 + 24 x 2048 B per token, and
    # loads the draft's weights after sizing its pool: they take the room outside --mem-fraction-static
    assert figures(out, "sglang") == (14.19, 106496, 550664)
    assert out["targets"]["sglang"]["overhead_gib"] == round(0.5 + 0.92, 2)
    assert spec_notes(out, "sglang") == [
        f"speculative draft: {DRAFT} (catalog ({DRAFT})), 0.494B parameters at 16 bits, 0.92 GiB per GPU over tensor "
        "1; KV cache of 24 layer(s) at the target's per-layer size, in the target's token pool; SGLang 0.5.23 loads "
        "these weights after sizing its KV pool, so they take the memory outside --mem-fraction-static (runtime "
        "overhead below)"]
    assert warnings_of(out) == []


def test_mtp_layers_come_from_the_checkpoint_and_cache_like_a_target_layer(cli, tmp_path):
    source, par = "deepseek-ai/DeepSeek-V3.1", "parallelism:\n  tensor: 8\n"
    alone = plan(cli, tmp_path, spec("", source, par, "H200"))
    # 61 MLA layers x (512 + 64) x 2 B; the weights hold MLA's down projections and the routers whole on every rank
    assert figures(alone, "vllm") == (79.27, 70272, 842752)
    out = plan(cli, tmp_path, spec("speculative:\n  method: mtp\n  num_tokens: 1\n", source, par, "H200"))
    assert figures(out, "vllm") == (80.76, 71424, 806848)      # + one MLA layer
    assert figures(out, "sglang") == (79.27, 71424, 755835)     # the MTP weights outside the static fraction
    assert spec_notes(out, "vllm") == [
        "speculative mtp: 1 MTP layer(s) of deepseek-ai/DeepSeek-V3.1, 1.48 GiB per GPU (a decoder layer and eh_proj "
        "each; embeddings and LM head shared with the target; an MTP module that keeps its own LM head copy adds "
        "0.22 GiB), KV cache of 1 more layer(s) at the target's shape"]


def test_an_eagle3_head_from_a_local_folder_is_counted_from_its_config(cli, tmp_path):
    head = tmp_path / "eagle3"
    head.mkdir()
    (head / "config.json").write_text(json.dumps(EAGLE3_CONFIG), encoding="utf-8")
    out = plan(cli, tmp_path, spec("speculative:\n  method: eagle3\n  model: ./eagle3\n  num_tokens: 3\n",
                                   "meta-llama/Llama-3.1-8B-Instruct"))
    # one Llama layer (q/k/v read 2 x hidden in EAGLE3), fc 3 x 4096 -> 4096, LM head 32000 x 4096; the
    # 128256 x 4096 embeddings are the target's: 424,673,280 parameters, 849,346,560 B
    assert spec_notes(out, "vllm") == [
        "speculative eagle3: ./eagle3 (./eagle3/config.json), 0.425B parameters at 16 bits (embeddings shared with "
        "the target), 0.79 GiB per GPU over tensor 1; KV cache of 1 layer(s) at its own shape (8 KV heads x 128) "
        "in the one pool"]
    alone = plan(cli, tmp_path, spec("", "meta-llama/Llama-3.1-8B-Instruct"))
    assert figures(out, "vllm")[1] == figures(alone, "vllm")[1] + 2 * 8 * 128 * 2
    assert round(figures(out, "vllm")[0] - figures(alone, "vllm")[0], 2) == 0.79


def test_an_unknown_draft_is_said_out_loud_never_guessed(cli, tmp_path):
    out = plan(cli, tmp_path, spec("speculative:\n  method: eagle3\n  model: example/eagle3-head\n  num_tokens: 3\n"))
    [d] = warnings_of(out)
    assert (d["severity"], d["code"], d["line"], d["column"]) == ("warning", "speculative-draft-facts", 9, 10)
    assert d["message"] == (
        "the memory plan leaves out the draft example/eagle3-head: no config.json of it is known here (no local "
        "folder, no entry in model-facts.lock.json, not in the catalog), so its weights and KV cache are not counted")
    assert d["hint"] == "run `deployc facts example/eagle3-head` to lock its config.json"
    assert figures(out, "vllm") == (14.19, 57344, 1135872)    # the target alone
    assert spec_notes(out, "sglang") == [
        "speculative eagle3: example/eagle3-head has no known config.json, so its weights and KV cache are not in "
        "this plan"]


def test_mtp_of_a_checkpoint_without_mtp_layers_is_a_warning(cli, tmp_path):
    out = plan(cli, tmp_path, spec("speculative:\n  method: mtp\n"))
    [d] = warnings_of(out)
    assert (d["code"], d["line"], d["column"]) == ("speculative-draft-facts", 8, 11)
    assert d["message"].startswith(f"speculative mtp: {TARGET}'s config.json (facts from catalog ({TARGET})) "
                                   "declares no multi-token-prediction layers")
    assert figures(out, "vllm") == (14.19, 57344, 1135872)


def build(cli, tmp_path, text: str, target: str) -> dict:
    path = tmp_path / "deploy.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli("build", path, "--target", target, "--json")
    assert result.exit_code == 0, result.stdout
    return json.loads(result.stdout)


def test_sglang_reports_its_lower_running_request_cap_and_writes_none(cli, tmp_path):
    text = spec(f"speculative:\n  method: draft\n  model: {DRAFT}\n  num_tokens: 4\n")
    out = build(cli, tmp_path, text, "sglang")
    [d] = out["diagnostics"]
    assert (d["severity"], d["code"], d["line"], d["column"]) == ("warning", "sglang-speculative-running-requests", 8, 11)
    assert d["message"] == (
        "with speculative decoding SGLang 0.5.23 lowers its default cap on running requests to 48 "
        "(--max-running-requests is unset) and captures decode CUDA graphs only up to 48 requests: the plan counts "
        "at most 48 running sequences")
    assert d["hint"] == "set limits.max_concurrency to choose the cap yourself (deployc writes none)"
    assert "--max-running-requests" not in out["command"]
    assert not [x for x in out["derived"] if x["setting"] == "limits.max_concurrency"]
    notes = plan(cli, tmp_path, text)["targets"]["sglang"]["assumptions"]
    assert d["message"] in notes
    assert any("batch 8192 tokens, 48 sequences;" in n for n in notes)
    # stated, the cap is the user's: written, and nothing to report
    stated = build(cli, tmp_path, text.replace("limits:\n", "limits:\n  max_concurrency: 16\n"), "sglang")
    assert stated["diagnostics"] == []
    assert stated["command"][stated["command"].index("--max-running-requests") + 1] == "16"


def test_sglang_0_4_reserves_two_more_gib_for_the_drafter_in_its_own_fraction():
    from deployc.targets.sglang.versions import auto_mem_fraction
    plain = auto_mem_fraction("0.4", 81559, 1, 1, None)
    spec_on = auto_mem_fraction("0.4", 81559, 1, 1, None, speculative=True)
    assert (plain, spec_on) == (round((81559 - 10240) / 81559, 3), round((81559 - 12288) / 81559, 3))
    assert auto_mem_fraction("0.5", 81559, 1, 1, None, speculative=True) == auto_mem_fraction("0.5", 81559, 1, 1, None)


def test_a_gguf_draft_draws_no_facts_warning(cli, tmp_path):
    """A .gguf draft belongs to Ollama or llama.cpp, whose plans say they leave drafters out."""
    (tmp_path / "draft.gguf").write_bytes(b"GGUF")
    out = plan(cli, tmp_path, spec("speculative:\n  method: draft\n  model: ./draft.gguf\n  num_tokens: 4\n"))
    assert [d["code"] for d in warnings_of(out)] == []


def test_vllm_runs_a_draft_of_tensor_1_whole_on_every_rank(cli, tmp_path):
    text = spec(f"speculative:\n  method: draft\n  model: {DRAFT}\n  num_tokens: 4\n  tensor: 1\n",
                parallel="parallelism:\n  tensor: 2\n").replace("  sglang: {}\n", "")   # SGLang: the target's TP
    out = plan(cli, tmp_path, text)
    # per rank: the target's 2 of 4 KV heads (28 x 2 x 2 x 128 x 2 B) and the draft's 2 heads unsharded (24 x 2 x 2 x 64 x 2 B)
    assert figures(out, "vllm")[1] == 28672 + 12288
    assert spec_notes(out, "vllm") == [
        f"speculative draft: {DRAFT} (catalog ({DRAFT})), 0.494B parameters at 16 bits, 0.92 GiB per GPU over tensor "
        "1; KV cache of 24 layer(s) at its own shape (2 KV heads x 64) in the one pool"]
