"""The Ollama target's mapping decisions, asserted on the exact Modelfile, argv, env and diagnostics.

Every Modelfile is read back with tests/ollama_parser.py, a port of Ollama's own parser
(parser/parser.go at v0.32.15 b7871fc0d1d82fe109536efa3e0e8e411c766c75 and v0.12.11
c1149875234a51aa1e5e60b74f3807f5982c60fa), and its commands and PARAMETER names are checked
against the pinned tables in targets/ollama/versions.py.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st
from ruamel.yaml import YAML

from conftest import SAMPLES, codes
from ollama_parser import ParseError, parse
from deployc.targets.ollama import modelfile
from deployc.targets.ollama.versions import VERSIONS

GGUF = "  gguf: ./m.gguf\n"
LIMITS = "limits:\n  max_model_len: 4096\n"


@pytest.fixture(autouse=True)
def _gguf_file(tmp_path):
    """The .gguf file GGUF names, next to the spec (no path-missing warning)."""
    (tmp_path / "m.gguf").write_text("placeholder")


def art(out, path):
    return next(a["content"] for a in out["artifacts"] if a["path"] == path)


def commands(out):
    """The Modelfile's commands as Ollama's parser reads them (after check_modelfiles)."""
    check_modelfiles(out)
    return parse(art(out, "Modelfile"), VERSIONS[out["version"]].commands)


def env(out):
    lines = [ln for ln in art(out, "serve.env").splitlines() if ln and not ln.startswith("#")]
    return dict(ln.split("=", 1) for ln in lines)


def check_modelfiles(out):
    """The Modelfile parses with Ollama's grammar, and names only commands and PARAMETERs the version has."""
    v = VERSIONS[out["version"]]
    for name, _ in parse(art(out, "Modelfile"), v.commands):
        assert name in v.commands or name == "model" or name in v.parameters, name
        assert name not in v.deprecated and name not in v.removed


def test_minimal_gguf_spec(specs):
    out = specs.build("ollama", LIMITS, model=GGUF)
    assert out["command"] == ["ollama", "create", "qwen2.5-0.5b-instruct", "-f", "Modelfile"]
    assert commands(out) == [("model", "../../m.gguf"), ("num_ctx", "4096")]
    # memory_utilization, max_concurrency and keep_alive unset: Ollama's own defaults, nothing written
    assert env(out) == {"OLLAMA_HOST": "0.0.0.0:8000", "OLLAMA_CONTEXT_LENGTH": "4096"}
    assert [(d["option"], d["value"]) for d in out["derived"]] == [
        ("(positional)", "qwen2.5-0.5b-instruct"), ("-f", "Modelfile"), ("OLLAMA_HOST", "0.0.0.0:8000")]
    out = specs.build("ollama", LIMITS + "hardware:\n  gpu: H100-80GB\n  memory_utilization: 0.9\n"
                      "  count: 1\n", model=GGUF)
    assert env(out)["OLLAMA_GPU_OVERHEAD"] == "8506182730"   # 10% of 79.22 GiB
    script = art(out, "create.sh")
    assert "export OLLAMA_HOST=http://localhost:8000\nollama create qwen2.5-0.5b-instruct -f Modelfile\n" in script
    assert [a["path"] for a in out["artifacts"]] == ["Modelfile", "create.sh", "serve.env", "compose.yaml"]


def test_every_spec_limit_lands_in_the_modelfile_or_the_environment(specs):
    out = specs.build("ollama", "limits:\n  max_model_len: 16384\n  max_output_tokens: 512\n  max_concurrency: 4\n"
                      "  max_batch_tokens: 1024\nprecision:\n  quantization: gguf\n  kv_cache_dtype: fp8\n", model=GGUF)
    assert commands(out)[1:] == [("num_ctx", "16384"), ("num_predict", "512"), ("num_batch", "1024")]
    e = env(out)
    assert (e["OLLAMA_NUM_PARALLEL"], e["OLLAMA_CONTEXT_LENGTH"]) == ("4", "16384")
    assert (e["OLLAMA_KV_CACHE_TYPE"], e["OLLAMA_FLASH_ATTENTION"]) == ("q8_0", "1")
    assert "16384 x 4 = 65536 tokens" in art(out, "Modelfile")


def test_context_comes_from_the_model_when_max_model_len_is_unset_and_is_required(specs):
    out = specs.build("ollama", model=GGUF + "  facts: {max_position_embeddings: 32768}\n")
    assert ("num_ctx", "32768") in commands(out)
    # the catalog knows Qwen2.5-0.5B's 32768 positions; a model nothing knows needs max_model_len
    assert ("num_ctx", "32768") in commands(specs.build("ollama", model=GGUF))
    out = specs.build("ollama", model=GGUF, expect=1, source="example/model")
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("ollama-context", 4, 11), "at the model, whose context is unknown"
    assert "4k, 32k or 256k tokens depending on VRAM" in d["message"]
    out = specs.build("ollama", options="{version: 0.12.11}", model=GGUF, expect=1, source="example/model")
    assert "uses 4096 tokens and silently truncates" in out["diagnostics"][0]["message"]


def test_model_sources(specs):
    out = specs.build("ollama", LIMITS, expect=1, source="example/model")
    assert codes(out) == [("ollama-model-source", 4, 11)]
    assert "hf download example/model --local-dir ./models/model" in out["diagnostics"][0]["hint"]
    assert "targets.ollama.library" in out["diagnostics"][0]["hint"]
    out = specs.build("ollama", LIMITS, source="bartowski/Qwen2.5-0.5B-Instruct-GGUF")
    assert commands(out)[0] == ("model", "hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF")
    out = specs.build("ollama", LIMITS, source="/srv/models/qwen")
    assert commands(out)[0] == ("model", "/srv/models/qwen")


@pytest.mark.parametrize("spec, level", [
    ("", None), ("  quantization: int8\n", "Q8_0"), ("  quantization: int4\n", "Q4_K_M"),
    ("  dtype: bf16\n", "BF16"), ("  dtype: float32\n", "F32"),
])
def test_quantize_levels_from_the_spec(specs, spec, level):
    out = specs.build("ollama", LIMITS + ("precision:\n" + spec if spec else ""), model=GGUF)
    check_modelfiles(out)
    assert out["command"][5:] == (["--quantize", level] if level else [])


@pytest.mark.parametrize("given_level, emitted", [("q4_K_M", "Q4_K_M"), ("Q8_0", "Q8_0"), ("q4_k", "Q4_K_M"),
                                                  ("bf16", "BF16")])
def test_quantize_option_is_case_insensitive_and_written_as_ollama_spells_it(specs, given_level, emitted):
    out = specs.build("ollama", LIMITS, options=f"{{quantize: {given_level}}}", model=GGUF)
    check_modelfiles(out)
    assert out["command"][-2:] == ["--quantize", emitted]


def test_quantize_errors(specs):
    out = specs.build("ollama", LIMITS, options="{quantize: q3_K_L}", model=GGUF, expect=1)
    assert codes(out) == [("ollama-quantize", 9, 22)]
    assert out["diagnostics"][0]["hint"] == "use one of: F32, F16, BF16, Q8_0, Q4_K_S, Q4_K_M (any case)"
    gguf = LIMITS + "precision:\n  quantization: gguf\n"
    out = specs.build("ollama", gguf, options="{quantize: q4_K_M}", model=GGUF, expect=1)
    assert codes(out) == [("ollama-quantize", 11, 22)]
    assert "quantizes only F16/BF16/F32 models" in out["diagnostics"][0]["message"]
    out = specs.build("ollama", gguf, options="{quantize: q4_K_M, version: 0.12.11}", model=GGUF, expect=1)
    assert "quantizes only F16/F32 models" in out["diagnostics"][0]["message"]
    out = specs.build("ollama", LIMITS + "precision:\n  quantization: int8\n", options="{quantize: q4_K_M}",
                      model=GGUF, expect=1)
    assert codes(out) == [("ollama-quantize", 11, 22)]
    out = specs.build("ollama", LIMITS + "precision:\n  dtype: bf16\n", options="{quantize: q4_K_M}", model=GGUF,
                      expect=1)
    assert codes(out) == [("ollama-dtype", 9, 10)]
    out = specs.build("ollama", gguf + "  dtype: float32\n", model=GGUF, expect=1)
    assert codes(out) == [("ollama-dtype", 10, 10)]


@pytest.mark.parametrize("quant", ["awq", "gptq", "fp8", "bitsandbytes"])
def test_quantization_methods_ollama_cannot_load(specs, quant):
    # example/model: a checkpoint the facts catalog does not know, so only Ollama's refusal speaks
    out = specs.build("ollama", LIMITS + f"precision:\n  quantization: {quant}\n", model=GGUF, expect=1,
                      source="example/model")
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("target-unsupported", 9, 17)
    assert "quantize" in d["hint"]


def test_parallelism_is_refused_with_what_ollama_does_instead(specs):
    out = specs.build("ollama", LIMITS + "parallelism:\n  tensor: 2\nhardware:\n  gpu: L4\n  count: 2\n", model=GGUF,
                      expect=1)
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("target-unsupported", 9, 11)
    assert "Ollama splits a model's layers across all the GPUs it sees on its own" in d["hint"]
    out = specs.build("ollama", LIMITS + "hardware:\n  gpu: L4\n  count: 2\n", model=GGUF)
    check_modelfiles(out)
    svc = YAML(typ="safe").load(art(out, "compose.yaml"))["services"]["demo"]
    assert svc["deploy"]["resources"]["reservations"]["devices"][0]["count"] == 2


def test_chat_template_and_api_key_say_why(specs):
    out = specs.build("ollama", LIMITS, model=GGUF + "  chat_template: ./t.jinja\n", expect=1)
    assert "Go template, not Jinja" in out["diagnostics"][-1]["hint"]
    out = specs.build("ollama", LIMITS + "server:\n  api_key_env: KEY\n", model=GGUF, expect=1)
    assert "reverse proxy" in out["diagnostics"][0]["hint"]


def test_max_input_tokens_only_as_num_ctx_minus_one(specs):
    out = specs.build("ollama", "limits:\n  max_model_len: 4096\n  max_input_tokens: 2048\n", model=GGUF, expect=1)
    assert codes(out) == [("target-unsupported", 8, 21)]


def test_parameters_are_checked_against_the_pinned_options(specs):
    out = specs.build("ollama", LIMITS, options="{parameters: {temperature: 0.2, seed: 7, use_mmap: false, min_p: 1}}",
                      model=GGUF)
    assert commands(out)[2:] == [("min_p", "1"), ("seed", "7"), ("temperature", "0.2"), ("use_mmap", "false")]
    for params, message in [
        ("{tfs_z: 0.9}", "has no PARAMETER tfs_z: tail-free sampling was removed in Ollama 0.6"),
        ("{mirostat: 2}", "ignores PARAMETER mirostat"),
        ("{num_ctx: 2048}", "PARAMETER num_ctx is limits.max_model_len"),
        ("{seed: 0.5}", "PARAMETER seed takes an int, got 0.5"),
        ("{use_mmap: 1}", "PARAMETER use_mmap takes a bool"),
    ]:
        out = specs.build("ollama", LIMITS, options=f"{{parameters: {params}}}", model=GGUF, expect=1)
        [d] = out["diagnostics"]
        assert d["code"] == "ollama-parameter" and message in d["message"], d
    out = specs.build("ollama", LIMITS, options="{version: 0.12.11, parameters: {draft_num_predict: 4}}", model=GGUF,
                      expect=1)
    # draft_num_predict is speculative.num_tokens now (DRAFT, issue 20)
    assert "PARAMETER draft_num_predict is speculative.num_tokens" in out["diagnostics"][0]["message"]
    assert ("draft_num_predict", "4") in commands(specs.build(
        "ollama", LIMITS + "speculative: {method: draft, model: ./draft.gguf, num_tokens: 4}\n", model=GGUF))


def test_draft_model_says_which_release_reads_it(specs):
    """DRAFT needs Ollama 0.23.1, PARAMETER draft_num_predict 0.30.0: the Modelfile says REQUIRES the newest."""
    spec = LIMITS + "speculative: {method: draft, model: ./draft.gguf%s}\n"
    (specs.tmp_path / "draft.gguf").write_text("placeholder")
    out = specs.build("ollama", spec % ", num_tokens: 6", model=GGUF)
    assert commands(out)[:4] == [("model", "../../m.gguf"), ("draft", "../../draft.gguf"), ("requires", "0.30.0"),
                                 ("num_ctx", "4096")]
    assert ("draft_num_predict", "6") in commands(out)
    out = specs.build("ollama", spec % "", model=GGUF)
    assert commands(out)[:3] == [("model", "../../m.gguf"), ("draft", "../../draft.gguf"), ("requires", "0.23.1")]
    assert "REQUIRES" not in art(specs.build("ollama", LIMITS, model=GGUF), "Modelfile")


def test_template_with_triple_quotes_is_written_when_the_grammar_allows_and_refused_when_not(specs):
    ok = 'Say """hi""" now\n{{ .Prompt }}'
    out = specs.build("ollama", LIMITS, options=json.dumps({"template": ok, "system": ' padded "quoted" '}),
                      model=GGUF)
    assert ("template", ok) in commands(out) and ("system", ' padded "quoted" ') in commands(out)
    bad = 'ends in triple quotes """\nand "quoted"\nend'
    out = specs.build("ollama", LIMITS, options=json.dumps({"template": bad}), model=GGUF, expect=1)
    [d] = out["diagnostics"]
    assert (d["code"], d["line"]) == ("ollama-modelfile-value", 9)
    assert 'a line ends in """ and another in "' in d["message"]
    out = specs.build("ollama", LIMITS, options=json.dumps({"stop": ["ok", "zero\u200bwidth"]}), model=GGUF,
                      expect=1)
    assert "ZERO WIDTH SPACE (U+200B)" in out["diagnostics"][0]["message"]


def test_args_go_to_ollama_create_and_may_not_restate_its_flags(specs):
    out = specs.build("ollama", LIMITS, options="{args: [--experimental]}", model=GGUF)
    check_modelfiles(out)
    assert out["command"][-1] == "--experimental"
    for arg in ["-q", "-qq8_0", "--quantize=q8_0", "-f", "--file"]:
        out = specs.build("ollama", LIMITS, options=f"{{args: [{json.dumps(arg)}]}}", model=GGUF, expect=1)
        assert codes(out) == [("target-args-conflict", 9, 19)]
    for args, message in [("[--quant]", "has no flag --quant"),  # pflag takes no abbreviations
                          ("[extra-name]", "would be a second model name"),
                          ("[--draft-quantize, q8_0]", "needs a DRAFT model")]:
        out = specs.build("ollama", LIMITS, options=f"{{args: {args}}}", model=GGUF, expect=1)
        [d] = out["diagnostics"]
        assert d["code"] == "ollama-args" and message in d["message"], d
    out = specs.build("ollama", LIMITS, options="{version: 0.12.11, args: [--experimental]}", model=GGUF,
                      expect=1)
    assert "Ollama 0.12.11 has no flag --experimental" in out["diagnostics"][0]["message"]


def test_env_may_not_restate_derived_variables(specs):
    out = specs.build("ollama", LIMITS, options="{env: {OLLAMA_NUM_PARALLEL: '4'}}", model=GGUF, expect=1)
    assert codes(out) == [("target-env-conflict", 9, 18)]
    out = specs.build("ollama", LIMITS, options="{env: {OLLAMA_FLASH_ATTENTION: '1', OLLAMA_DEBUG: '${DBG}'}}",
                      model=GGUF)
    check_modelfiles(out)
    assert env(out)["OLLAMA_DEBUG"] == '"${DBG}"'
    out = specs.build("ollama", LIMITS + "precision:\n  kv_cache_dtype: fp8\n", model=GGUF, expect=1,
                      options="{env: {OLLAMA_FLASH_ATTENTION: '0'}}")
    assert [d["code"] for d in out["diagnostics"]] == ["target-env-conflict"]


def test_hostile_served_names_are_not_ollama_model_names_and_paths_stay_inert(specs):
    out = specs.build("ollama", LIMITS, model="  served_name: 'x\";rm$(id)'\n" + GGUF, expect=1)
    [d] = out["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("ollama-model-name", 5, 16)
    assert d["hint"] == "set model.served_name (or the adapter's name) to e.g. x-rm-id"
    out = specs.build("ollama", LIMITS, model="  served_name: modelfile.x\n" + GGUF, expect=1)
    assert "not the name of a file deployc writes" in out["diagnostics"][0]["hint"]
    out = specs.build("ollama", LIMITS, model="  served_name: team/qwen:0.5b-q4\n  gguf: './my models/a b.gguf'\n")
    script = art(out, "create.sh")
    assert shlex.split(script.splitlines()[-1]) == ["ollama", "create", "team/qwen:0.5b-q4", "-f", "Modelfile"]
    assert commands(out)[0] == ("model", "../../my models/a b.gguf")


def test_each_lora_adapter_becomes_a_model_from_the_base(specs):
    out = specs.build("ollama", LIMITS + "precision:\n  quantization: int4\n",
                      model=GGUF + "  adapters:\n    - {name: sql, source: ./adapters/sql}\n"
                                   "    - {name: chat, source: /srv/lora/chat.gguf}\n")
    check_modelfiles(out)
    paths = [a["path"] for a in out["artifacts"]]
    assert paths == ["Modelfile", "Modelfile.sql", "Modelfile.chat", "create.sh", "serve.env", "compose.yaml"]
    v = VERSIONS[out["version"]]
    assert parse(art(out, "Modelfile.sql"), v.commands) == [("model", "qwen2.5-0.5b-instruct"),
                                                           ("adapter", "../../adapters/sql")]
    assert parse(art(out, "Modelfile.chat"), v.commands)[1] == ("adapter", "/srv/lora/chat.gguf")
    lines = art(out, "create.sh").splitlines()[-3:]
    assert [shlex.split(ln) for ln in lines] == [
        ["ollama", "create", "qwen2.5-0.5b-instruct", "-f", "Modelfile", "--quantize", "Q4_K_M"],
        ["ollama", "create", "sql", "-f", "Modelfile.sql"], ["ollama", "create", "chat", "-f", "Modelfile.chat"]]
    out = specs.build("ollama", LIMITS, model=GGUF + "  adapters:\n    - {name: hub, source: org/lora}\n",
                      expect=1)
    assert codes(out) == [("ollama-adapter-source", 7, 27)]


def test_compose_runs_ollama_serve_with_the_same_settings(specs):
    out = specs.build("ollama", LIMITS + "server:\n  host: 127.0.0.1\n  port: 11500\nhardware:\n  gpu: MI300X\n",
                      options="{keep_alive: '-1'}", model=GGUF)
    check_modelfiles(out)
    svc = YAML(typ="safe").load(art(out, "compose.yaml"))["services"]["demo"]
    assert svc["image"] == "ollama/ollama:0.32.15-rocm" and svc["command"] == ["serve"]
    assert svc["ports"] == ["127.0.0.1:11500:11500"]
    assert "OLLAMA_HOST=0.0.0.0:11500" in svc["environment"] and "OLLAMA_KEEP_ALIVE=-1" in svc["environment"]
    assert svc["volumes"] == ["${OLLAMA_MODELS_DIR:-~/.ollama}:/root/.ollama"]
    assert svc["healthcheck"]["test"] == ["CMD", "ollama", "list"]
    assert env(out)["OLLAMA_HOST"] == "127.0.0.1:11500"
    out = specs.build("ollama", LIMITS, options="{version: 0.12.11}", model=GGUF)
    check_modelfiles(out)
    assert "image: ollama/ollama:0.12.11\n" in art(out, "compose.yaml")
    assert "Ollama 0.12.11." in art(out, "Modelfile").splitlines()[0]


def test_keep_alive_must_be_a_go_duration(specs):
    check_modelfiles(specs.build("ollama", LIMITS, options="{keep_alive: 1h30m}", model=GGUF))
    out = specs.build("ollama", LIMITS, options="{keep_alive: forever}", model=GGUF, expect=1)
    assert out["diagnostics"][0]["code"] == "spec-value"


@pytest.mark.parametrize("sample", [s for s in SAMPLES if "ollama" in (YAML(typ="safe").load(s / "deploy.yaml")
                                                                        .get("targets") or {})],
                         ids=lambda p: p.name)
def test_committed_modelfiles_parse_with_ollamas_grammar(sample):
    text = (sample / "deploy" / "ollama" / "Modelfile").read_text()
    cmds = parse(text, VERSIONS["0.32.15"].commands)
    names = [name for name, _ in cmds]
    assert names[0] == "model" and "num_ctx" in names
    assert ("requires" in names) == ("draft" in names)   # REQUIRES states what DRAFT needs


# ---- the serializer against the parser ------------------------------------------------------

@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(list('ab "#\n\t{}$\\\'') + ['"""', '\u200b']), min_size=1, max_size=30).map("".join))
def test_encode_reads_back_exactly_or_refuses(value):
    text = modelfile.encode(value)
    if text is None:
        assert modelfile.why_not(value)
        return
    parsed = parse(f"FROM x\nSYSTEM {text}\nPARAMETER stop {text}\n", VERSIONS["0.32.15"].commands)
    assert parsed == [("model", "x"), ("system", value), ("stop", value)]


def test_the_parser_port_rejects_what_ollama_rejects():
    with pytest.raises(ParseError):
        parse("FROM x\nSYSTEM \"unterminated\n", ("from", "system"))
    with pytest.raises(ParseError):
        parse("FROM x\nDRAFT ./d.gguf\n", VERSIONS["0.12.11"].commands)
    assert parse("from x\nDRAFT ./d.gguf\n", VERSIONS["0.32.15"].commands) == [("model", "x"), ("draft", "./d.gguf")]
    assert parse('FROM x\nSYSTEM "a"b"\n', ("from", "system")) == [("model", "x"), ("system", 'a"b')]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_runs_create_sh_and_sources_serve_env_exactly(specs, tmp_path):
    """create.sh with `ollama` replaced by a probe; serve.env sourced the way its header says."""
    hostile = "lit $HOME `id` 'q' \"dq\" ${PROBE_REF} end; $(touch pwned)"
    out = specs.build("ollama", LIMITS, model="  served_name: team/x_1.0:q4\n  gguf: './my m.gguf'\n",
                      options=json.dumps({"args": ["--experimental"], "env": {"OLLAMA_ORIGINS": hostile, "EMPTY": ""}}))
    check_modelfiles(out)
    folder = tmp_path / "deploy" / "ollama"
    folder.mkdir(parents=True)
    for a in out["artifacts"]:
        (folder / a["path"]).write_text(a["content"])
    bindir = tmp_path / "bin"
    bindir.mkdir()
    probe = bindir / "ollama"
    probe.write_text("#!/usr/bin/env python3\nimport json, os, sys\n"
                     "json.dump({'argv': sys.argv[1:], 'cwd': os.getcwd(), 'host': os.environ['OLLAMA_HOST']}, "
                     "open(os.environ['PROBE_OUT'], 'w'))\n")
    probe.chmod(0o755)
    result = tmp_path / "probe.json"
    shell_env = {"PATH": f"{bindir}:/usr/bin:/bin", "PROBE_OUT": str(result), "PROBE_REF": "expanded", "HOME": "/h",
           "OLLAMA_HOST": "elsewhere:1"}
    subprocess.run(["bash", str(folder / "create.sh")], env=shell_env, check=True, cwd=tmp_path)
    seen = json.loads(result.read_text())
    assert seen == {"argv": out["command"][1:], "cwd": str(folder), "host": "http://localhost:8000"}
    dump = subprocess.run(["bash", "-c", "set -a; . ./serve.env; set +a; env -0"], env=shell_env, cwd=folder,
                          check=True, capture_output=True, text=True).stdout
    got = dict(item.split("=", 1) for item in dump.split("\0") if item)
    assert got["OLLAMA_ORIGINS"] == hostile.replace("${PROBE_REF}", "expanded") and got["EMPTY"] == ""
    assert {k: got[k] for k in env_keys(out)} == {k: v for k, v in env(out).items() if k in env_keys(out)}
    assert not (tmp_path / "pwned").exists() and not (folder / "pwned").exists()


def env_keys(out):
    return [k for k in env(out) if k.startswith("OLLAMA_") and k != "OLLAMA_ORIGINS"]


# --- issue 22 item 6: library names and hub ids with a GGUF or library counterpart ---------------------------

def test_a_hub_id_with_a_library_counterpart_builds_from_the_library(specs):
    """Before: every hub id was refused, even ones the Ollama library serves."""
    out = specs.build("ollama", LIMITS, source="meta-llama/Llama-3.2-3B-Instruct")
    assert commands(out)[0] == ("model", "llama3.2:3b")
    [d] = out["diagnostics"]
    assert (d["code"], d["severity"], d["line"]) == ("ollama-counterpart", "warning", 4)
    assert d["message"] == ("Ollama cannot import meta-llama/Llama-3.2-3B-Instruct itself; FROM names the Ollama "
                            "library's llama3.2:3b (https://ollama.com/library/llama3.2), in the quantization the "
                            "library publishes for that tag")
    assert "FROM llama3.2:3b\n" in art(out, "Modelfile")
    assert "--quantize" not in art(out, "create.sh")


def test_a_quantize_level_picks_the_file_of_the_counterpart_gguf_repo(specs):
    out = specs.build("ollama", LIMITS, options="{quantize: Q4_K_M}", source="Qwen/Qwen2.5-0.5B-Instruct")
    assert commands(out)[0] == ("model", "hf.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF:q4_k_m")
    assert "--quantize" not in art(out, "create.sh")
    # a level the repo lacks: Ollama would quantize the library build, which it cannot
    out = specs.build("ollama", LIMITS, options="{quantize: q4_K_S}", source="Qwen/Qwen2.5-0.5B-Instruct", expect=1)
    assert [d["code"] for d in out["diagnostics"] if d["severity"] == "error"] == ["ollama-quantize"]


def test_a_library_name_can_be_written(specs):
    """Before: a library name could not be written at all."""
    out = specs.build("ollama", LIMITS, options="{library: 'qwen2.5:0.5b-instruct-q8_0'}", source="example/model")
    assert commands(out)[0] == ("model", "qwen2.5:0.5b-instruct-q8_0")
    assert out["diagnostics"] == []
    out = specs.build("ollama", LIMITS, options="{library: 'bad name'}", source="example/model", expect=1)
    assert codes(out)[0] == ("spec-value", 8, 21)
