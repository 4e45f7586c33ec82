"""The llama.cpp target's mapping decisions, asserted on the exact argv and diagnostics."""

from __future__ import annotations

import pytest

from conftest import codes

GGUF = "  gguf: ./m.gguf\n"


@pytest.fixture(autouse=True)
def _gguf_file(tmp_path):
    """The ./m.gguf the specs name (a missing local path is a warning of its own)."""
    (tmp_path / "m.gguf").write_bytes(b"GGUF")


def flag(out, name):
    a = out["command"]
    return a[a.index(name) + 1] if name in a else None


def test_local_gguf_minimal(specs):
    out = specs.build("llama-cpp", model=GGUF, source="example/model")
    assert out["command"] == ["llama-server", "--model", "./m.gguf", "--alias", "model", "--ctx-size", "0",
                              "--gpu-layers", "all", "--host", "0.0.0.0", "--port", "8000"]


@pytest.mark.parametrize("limits, ctx, np, unified", [
    ("limits:\n  max_model_len: 4096\n", "4096", None, False),                          # auto slots share it
    ("limits:\n  max_model_len: 4096\n  max_concurrency: 3\n", "12288", "3", False),    # split: 3 x 4096
    ("limits:\n  max_concurrency: 3\n", "0", "3", True),                                # context unknown
])
def test_context_and_slots(specs, limits, ctx, np, unified):
    out = specs.build("llama-cpp", limits, model=GGUF, source="example/model")
    assert (flag(out, "--ctx-size"), flag(out, "--parallel"), "--kv-unified" in out["command"]) == (ctx, np, unified)


def test_hub_gguf_repo_with_quant_tag(specs):
    out = specs.build("llama-cpp", options="{quant: Q8_0}", source="Qwen/Qwen2.5-0.5B-Instruct-GGUF")
    assert flag(out, "--hf-repo") == "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q8_0"
    out = specs.build("llama-cpp", source="Qwen/Qwen2.5-0.5B-Instruct", expect=1)
    assert [c for c, *_ in codes(out)] == ["llama-cpp-gguf"]


def test_kv_cache_split_and_key(specs):
    out = specs.build("llama-cpp", "precision:\n  kv_cache_dtype: fp8\nparallelism:\n  tensor: 2\n"
                      "server:\n  api_key_env: K\n", model=GGUF, source="example/model")
    assert (flag(out, "--cache-type-k"), flag(out, "--cache-type-v"), flag(out, "--split-mode")) == ("q8_0", "q8_0", "row")
    serve = next(a["content"] for a in out["artifacts"] if a["path"] == "serve.sh")
    assert 'export LLAMA_API_KEY="${K:?set K to the API key}"' in serve and "--api-key" not in serve


def test_context_not_a_multiple_of_256_is_said(specs):
    out = specs.build("llama-cpp", "limits:\n  max_model_len: 1000\n", model=GGUF, source="example/model")
    assert [c for c, *_ in codes(out)] == ["llama-cpp-context"]


@pytest.mark.parametrize("args, code", [
    (["-c", "4096"], "target-args-conflict"),
    (["--ctx_size", "4096"], "target-args-conflict"),   # llama.cpp reads '_' as '-' after --
    (["--no-kv-unified"], "target-args-conflict"),
    (["--ctx-siz", "4096"], "target-args-unknown"),     # no abbreviations
    (["--threads=4"], "target-args-unknown"),           # no --opt=value
    (["--threads", "4"], None),
    (["--lora-scaled", "a.gguf:0.5"], None),
    (["-c", "4096", "--ctx-siz", "1"], "target-args-conflict,target-args-unknown"),  # once a traceback
])
def test_extra_args_are_read_as_llama_cpp_reads_them(specs, args, code):
    out = specs.build("llama-cpp", options="{args: %s}" % args, model=GGUF, source="example/model",
                      expect=1 if code else 0)
    assert [c for c, *_ in codes(out)] == (code.split(",") if code else [])


def test_env_restating_an_owned_option_is_refused(specs):
    out = specs.build("llama-cpp", options="{env: {LLAMA_ARG_CTX_SIZE: '4096', LLAMA_API_KEY: '${KEY}'}}", model=GGUF,
                      source="example/model", expect=1)
    assert sorted(c for c, *_ in codes(out)) == ["target-env-conflict", "target-env-conflict"]


def test_plan_weights_follow_the_quant_type(cli, specs):
    path = specs.write("llama-cpp", "precision:\n  quantization: gguf\nlimits:\n  max_model_len: 4096\n",
                       "{quant: Q8_0}",
                       source="Qwen/Qwen2.5-7B-Instruct-GGUF",
                       model="  facts: {layers: 28, hidden_size: 3584, attention_heads: 28, kv_heads: 4, "
                             "head_dim: 128, vocab_size: 152064, parameters: 7.62e9}\n")
    r = cli("plan", path)
    assert "linear layers at 8.50 bits (gguf)" in r.stdout
