"""cache.prefix_caching / chunked_prefill, model.rope_scaling, limits.max_loras / mm_per_prompt and the reserved
disaggregation key (issue 20, item 4): each engine's own spelling, the extended context, refusals at the key."""

from __future__ import annotations

import json

import pytest

QWEN3 = "Qwen/Qwen3-32B"
YARN = "  rope_scaling: {rope_type: yarn, factor: 4.0, original_max_position_embeddings: 32768}\n"
LONG = "parallelism:\n  tensor: 4\nlimits:\n  max_model_len: 131072\n"


def value(out: dict, flag: str) -> str | None:
    argv = out["command"]
    return argv[argv.index(flag) + 1] if flag in argv else None


def errors(out: dict) -> list[tuple[str, int, int]]:
    return [(d["code"], d["line"], d["column"]) for d in out["diagnostics"] if d["severity"] == "error"]


def test_without_rope_scaling_the_extended_context_is_refused(specs):
    out = specs.build("vllm", LONG, "{}", source=QWEN3, expect=1)
    assert ("limits-context", 8, 18) in errors(out)


@pytest.mark.parametrize("version, expected", [
    ("0.34.0", {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768,
                                    "rope_theta": 1000000.0}, "max_position_embeddings": 131072}),
    ("0.33.0", {"rope_parameters": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768,
                                    "rope_theta": 1000000.0}, "max_position_embeddings": 131072}),
    ("0.11.2", {"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
                "max_position_embeddings": 131072}),
])
def test_vllm_takes_yarn_through_hf_overrides_as_each_version_reads_it(specs, version, expected):
    out = specs.build("vllm", LONG, f"{{version: {version}}}", model=YARN, source=QWEN3)
    assert json.loads(value(out, "--hf-overrides")) == expected
    assert value(out, "--max-model-len") == "131072"
    assert "--rope-scaling" not in out["command"]


def test_vllm_033_needs_rope_theta_since_it_replaces_rope_parameters_whole(specs):
    out = specs.build("vllm", "", "{}", model="  rope_scaling: {rope_type: linear, factor: 2.0}\n",
                      source="example/model", expect=1)
    assert errors(out) == [("vllm-rope-theta", 5, 17)]
    out = specs.build("vllm", "", "{}", model="  rope_scaling: {rope_type: linear, factor: 2.0}\n"
                      "  facts: {rope_theta: 500000}\n", source="example/model")
    assert json.loads(value(out, "--hf-overrides")) == {
        "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 500000.0}}


def test_sglang_gets_rope_type_never_the_legacy_type_key(specs):
    out = specs.build("sglang", LONG, "{}", model=YARN, source=QWEN3)
    assert json.loads(value(out, "--json-model-override-args")) == {
        "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
        "max_position_embeddings": 131072}
    assert value(out, "--context-length") == "131072"


def test_tgi_takes_linear_and_dynamic_only(specs):
    out = specs.build("tgi", "", "{}", model="  rope_scaling: {rope_type: dynamic, factor: 2.0}\n",
                      source="example/model")
    assert (value(out, "--rope-scaling"), value(out, "--rope-factor")) == ("dynamic", "2")
    out = specs.build("tgi", "", "{}", model=YARN, source=QWEN3, expect=1)
    [d] = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert (d["code"], d["line"], d["column"]) == ("rope-type-unsupported", 5, 17)
    assert d["message"] == "TGI 3.3.7's launcher (--rope-scaling) takes rope scaling of type linear and dynamic " \
                           "only, not yarn"


def test_a_target_without_rope_scaling_refuses_at_the_key(specs):
    out = specs.build("xinference", "", "{model_family: qwen3, size_in_billions: 32}", model=YARN, source=QWEN3,
                      expect=1)
    assert ("target-unsupported", 5, 17) in errors(out)


@pytest.mark.parametrize("target, options, cache, present, absent", [
    ("vllm", "{}", "{prefix_caching: true, chunked_prefill: true}",
     ["--enable-prefix-caching", "--enable-chunked-prefill"], ["--no-enable-prefix-caching"]),
    ("vllm", "{}", "{prefix_caching: false}", ["--no-enable-prefix-caching"], ["--enable-prefix-caching"]),
    ("sglang", "{}", "{prefix_caching: false}", ["--disable-radix-cache"], []),
    ("sglang", "{}", "{prefix_caching: true}", [], ["--disable-radix-cache"]),   # SGLang's default
    ("lmdeploy", "{}", "{prefix_caching: true}", ["--enable-prefix-caching"], []),
    ("tensorrt-llm", "{}", "{chunked_prefill: true}", ["--enable_chunked_prefill"], []),
])
def test_cache_toggles_as_each_engine_spells_them(specs, target, options, cache, present, absent):
    out = specs.build(target, f"cache: {cache}\n", options, source="example/model")
    assert all(f in out["command"] for f in present) and not any(f in out["command"] for f in absent)


def test_trtllm_prefix_caching_is_block_reuse_in_its_options_yaml(specs):
    out = specs.build("tensorrt-llm", "cache: {prefix_caching: false}\n", "{}", source="example/model")
    config = next(a["content"] for a in out["artifacts"] if a["path"] == "trtllm-config.yaml")
    assert "enable_block_reuse: false" in config


def test_chunked_prefill_off_needs_a_step_that_holds_the_context(specs):
    out = specs.build("sglang", "cache: {chunked_prefill: false}\nlimits:\n  max_model_len: 8192\n", "{}",
                      source="example/model", expect=1)
    [d] = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert (d["code"], d["line"], d["column"]) == ("cache-chunked-prefill", 5, 26)
    out = specs.build("sglang", "cache: {chunked_prefill: false}\nlimits:\n  max_model_len: 8192\n"
                      "  max_batch_tokens: 8192\n", "{}", source="example/model")
    assert (value(out, "--chunked-prefill-size"), value(out, "--max-prefill-tokens")) == ("-1", "8192")


def test_max_loras_and_multimodal_items(specs):
    adapters = "  adapters: [{name: a, source: org/a}, {name: b, source: org/b}]\n"
    out = specs.build("vllm", "limits:\n  max_loras: 1\n  mm_per_prompt: {video: 1, image: 4}\n", "{}",
                      model=adapters, source="example/model")
    assert (value(out, "--max-loras"), value(out, "--limit-mm-per-prompt")) == ("1", '{"image":4,"video":1}')
    out = specs.build("sglang", "limits:\n  max_loras: 1\n", "{}", model=adapters, source="example/model")
    assert value(out, "--max-loras-per-batch") == "2"   # SGLang counts the base model's slot
    out = specs.build("vllm", "limits:\n  max_loras: 2\n", "{}", source="example/model", expect=1)
    assert errors(out) == [("limits-max-loras", 6, 14)]


def test_disaggregation_is_answered_with_a_clear_error(specs):
    out = specs.build("vllm", "disaggregation: {prefill: 1, decode: 1}\n", "{}", source="example/model", expect=1)
    [d] = [d for d in out["diagnostics"] if d["severity"] == "error"]
    assert (d["line"], d["column"]) == (5, 17)
    assert "prefill/decode disaggregation is not expressible in deploy.yaml v1" in d["message"]


# --- speculative decoding (issue 20, item 2) -------------------------------------------------------------

EAGLE3 = "speculative: {method: eagle3, model: org/head, num_tokens: 3}\n"


@pytest.mark.parametrize("version", ["0.34.0", "0.33.0", "0.11.2"])
def test_vllm_speculative_config_names_the_method_as_each_version_does(specs, version):
    out = specs.build("vllm", "speculative: {method: draft, model: org/small, num_tokens: 4, tensor: 1}\n",
                      f"{{version: {version}}}", source="example/model")
    assert json.loads(value(out, "--speculative-config")) == {
        "method": "draft_model", "model": "org/small", "num_speculative_tokens": 4, "draft_tensor_parallel_size": 1}


def test_vllm_mtp_depth_stays_the_checkpoints_and_other_methods_need_a_number(specs):
    out = specs.build("vllm", "speculative: {method: mtp}\n", "{}", source="example/model")
    assert json.loads(value(out, "--speculative-config")) == {"method": "mtp"}
    out = specs.build("vllm", "speculative: {method: ngram, ngram: {min: 2, max: 5}}\n", "{}",
                      source="example/model", expect=1)
    assert errors(out) == [("vllm-speculative-tokens", 5, 23)]


def test_sglang_gets_all_three_numbers_or_none(specs):
    out = specs.build("sglang", EAGLE3, "{}", source="example/model")
    assert [value(out, f) for f in ("--speculative-algorithm", "--speculative-draft-model-path",
                                     "--speculative-num-steps", "--speculative-eagle-topk",
                                     "--speculative-num-draft-tokens")] == ["EAGLE3", "org/head", "3", "1", "4"]
    out = specs.build("sglang", "speculative: {method: mtp}\n", "{}", source="example/model")
    assert value(out, "--speculative-algorithm") == "NEXTN"
    assert not any(f in out["command"] for f in ("--speculative-num-steps", "--speculative-eagle-topk",
                                                 "--speculative-num-draft-tokens"))
    out = specs.build("sglang", "speculative: {method: ngram, num_tokens: 4}\n", "{version: 0.4.10.post2}",
                      source="example/model", expect=1)
    assert errors(out) == [("sglang-speculative-method", 5, 23)]


def test_tgi_speculates_by_ngram_only(specs):
    out = specs.build("tgi", "speculative: {method: ngram, num_tokens: 2}\n", "{}", source="example/model")
    assert value(out, "--speculate") == "2"
    out = specs.build("tgi", EAGLE3, "{}", source="example/model", expect=1)
    assert errors(out) == [("tgi-speculative-method", 5, 23)]


def test_speculative_methods_that_need_a_model_say_so(specs):
    out = specs.build("vllm", "speculative: {method: eagle3, num_tokens: 3}\n", "{}", source="example/model",
                      expect=1)
    assert ("speculative-model", 5, 23) in errors(out)
    out = specs.build("xinference", EAGLE3, "{model_family: qwen2.5-instruct, size_in_billions: 0.5}",
                      source="example/model", expect=1)
    assert ("target-unsupported", 5, 14) in errors(out)


def test_ollama_writes_a_draft_model_where_the_version_has_draft(specs):
    base = "  gguf: ./m.gguf\n  facts: {max_position_embeddings: 4096}\n"
    spec = "speculative: {method: draft, model: ./draft.gguf, num_tokens: 6}\n"
    out = specs.build("ollama", spec, "{}", model=base, source="example/model")
    modelfile = next(a["content"] for a in out["artifacts"] if a["path"] == "Modelfile")
    assert "\nDRAFT ../../draft.gguf\n" in modelfile and "\nPARAMETER draft_num_predict 6\n" in modelfile
    out = specs.build("ollama", spec, "{version: 0.12.11}", model=base, source="example/model", expect=1)
    assert ("target-unsupported", 7, 14) in errors(out)
    out = specs.build("ollama", "speculative: {method: ngram, num_tokens: 3}\n", "{}", model=base,
                      source="example/model", expect=1)
    assert errors(out) == [("ollama-speculative-method", 7, 23)]
