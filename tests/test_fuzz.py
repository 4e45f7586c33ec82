"""Fuzzing the whole pipeline, every registered target listed: never a traceback, always a position.

Two generators, both run through `deployc validate` in-process (an exception fails the test):
  - structured specs: the real key tree with random values (wrong types, huge numbers, odd strings,
    nested junk) and random extra keys;
  - mutated YAML: the committed samples with bytes inserted, deleted and duplicated, plus the classics
    (alias bombs, merge keys, !!python/object tags, deep nesting, BOM, CRLF, NUL, invalid UTF-8).
A run is 0 (valid) or 1 (spec error) with every diagnostic at a file:line:col; never 2 (that is for
command-line mistakes), and each case finishes within hypothesis' deadline.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployc.compiler.registry import Registry
from deployc.compiler.source import _fast_load, loads
from conftest import SAMPLES

TARGETS = Registry.discover().names
ALL_TARGETS = "targets:\n" + "".join(f"  {t}: {{}}\n" for t in TARGETS)
FUZZ = settings(max_examples=150, deadline=timedelta(seconds=5), derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70), st.floats(allow_nan=True),
    st.text(max_size=40), st.sampled_from(["auto", "fp8", "awq", "H100-80GB", "T4", "0.0.0.0", "./m", "org/m",
                                           "${HOME}", "hf_" + "a" * 30, "1e309", "-1", "\u202e", "a\nb"]))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)
SECTIONS = {
    "model": ["source", "revision", "served_name", "tokenizer", "trust_remote_code", "chat_template", "gguf",
              "adapters", "facts"],
    "precision": ["dtype", "quantization", "kv_cache_dtype"],
    "parallelism": ["tensor", "pipeline", "data"],
    "limits": ["max_model_len", "max_input_tokens", "max_output_tokens", "max_concurrency", "max_batch_tokens"],
    "server": ["host", "port", "api_key_env"],
    "hardware": ["gpu", "count", "memory_utilization"],
}


@st.composite
def structured(draw) -> dict:
    spec: dict = {"apiVersion": draw(st.sampled_from(["deployc/v1", "deployc/v1", "v2", 1])),
                  "name": draw(st.sampled_from(["ok", "Bad Name", "", "x" * 70]) | st.text(max_size=10))}
    for section, keys in SECTIONS.items():
        if draw(st.booleans()):
            chosen = draw(st.lists(st.sampled_from(keys + ["bogus_key"]), max_size=4, unique=True))
            spec[section] = {k: draw(VALUES) for k in chosen}
    spec["targets"] = {t: draw(st.one_of(st.just({}), st.dictionaries(
        st.sampled_from(["version", "image", "args", "env", "nope"]), VALUES, max_size=2))) for t in TARGETS}
    if spec.get("model") is None or "source" not in spec.get("model", {}):
        spec.setdefault("model", {})["source"] = draw(st.sampled_from(["org/m", "./m", "Qwen/Qwen2.5-7B-Instruct"]))
    return spec


CLASSICS = [
    b"a: &a [x, x, x, x, x, x, x, x]\n" + b"".join(b"%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c]\n" % ((98 + i,) * 2 + (97 + i,) * 6)
                                                 for i in range(8)),
    b"model: !!python/object/apply:os.system ['id']\n",
    b"base: &b {source: org/m}\nmodel:\n  <<: *b\n",
    b"model: " + b"[" * 500 + b"]" * 500 + b"\n",
    b"\xef\xbb\xbfapiVersion: deployc/v1\r\nname: x\r\n",
    b"apiVersion: deployc/v1\x00\n",
    b"name: \xff\xfe\n",
    b"? [a, b]\n: c\n",
    b"limits: {max_model_len: !!float enable}\n", b"server: {port: !!int x}\n",
]


@st.composite
def mutated(draw) -> bytes:
    base = draw(st.sampled_from([(s / "deploy.yaml").read_bytes() for s in SAMPLES] + CLASSICS))
    data = bytearray(base)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        op = draw(st.sampled_from(["insert", "delete", "dup", "swap"]))
        pos = draw(st.integers(min_value=0, max_value=len(data)))
        if op == "insert":
            data[pos:pos] = draw(st.sampled_from([b":", b"- ", b"\t", b"&x ", b"*x", b"!!str ", b"{", b"]", b"\n  ",
                                                  b"\x00", b"\xff", b"\r\n", b"'", b'"', b"#", b"<<: *x\n"]))
        elif op == "delete":
            del data[pos:pos + draw(st.integers(min_value=1, max_value=12))]
        elif op == "dup":
            data[pos:pos] = data[pos:pos + draw(st.integers(min_value=1, max_value=40))]
        else:
            end = min(len(data), pos + draw(st.integers(min_value=1, max_value=20)))
            data[pos:end] = bytes(reversed(data[pos:end]))
    return bytes(data)


def _judge(cli, path) -> None:
    result = cli("validate", path, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    import json

    for d in json.loads(result.stdout)["diagnostics"]:
        assert d["file"] and d["line"] >= 1 and d["column"] >= 1, d
        assert "Traceback" not in d["message"]


@FUZZ
@given(spec=structured(), target=st.sampled_from(TARGETS))
def test_structured_specs_never_crash(spec, target, cli, tmp_path_factory):
    import json

    path = tmp_path_factory.mktemp("fuzz") / "deploy.yaml"
    path.write_text(json.dumps(spec, default=str, allow_nan=True))
    _judge(cli, path)
    built = cli("build", path, "--target", target, "--json")   # lowering too: validate stops before it
    assert built.exit_code in (0, 1), built.output
    assert all(d["line"] and d["column"] for d in json.loads(built.stdout)["diagnostics"])


@FUZZ
@given(raw=mutated())
def test_mutated_yaml_never_crashes(raw, cli, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "deploy.yaml"
    path.write_bytes(raw if b"targets:" in raw else raw + b"\n" + ALL_TARGETS.encode())
    _judge(cli, path)


def _same_load(raw: bytes) -> None:
    """The libyaml fast path, where it takes a file, gives exactly what the round-trip loader gives."""
    fast, slow = loads(raw), loads(raw, fast=False)
    assert (fast.data, fast.keys, fast.values, fast.digest) == (slow.data, slow.keys, slow.values, slow.digest)
    assert repr(fast.data) == repr(slow.data)  # key order and scalar types too
    assert [(d.code, d.line, d.column, d.message) for d in fast.diagnostics] == \
        [(d.code, d.line, d.column, d.message) for d in slow.diagnostics]


def test_samples_take_the_fast_path_and_load_the_same():
    for sample in SAMPLES:
        raw = (sample / "deploy.yaml").read_bytes()
        assert _fast_load(raw.decode()) is not None, sample   # else the properties below prove nothing
        _same_load(raw)


def test_a_tab_inside_a_key_loads_the_same_both_ways():
    # found by the fuzzer: libyaml read `s<TAB>ource:` as a key, the round-trip loader refuses the tab
    _same_load(b"apiVersion: deployc/v1\nname: x\nmodel:\n  s\tource: org/m\n")


@FUZZ
@given(raw=mutated())
def test_fast_loader_agrees_on_mutated_yaml(raw):
    _same_load(raw)


@FUZZ
@given(spec=structured())
def test_fast_loader_agrees_on_flow_style_specs(spec):
    import json

    _same_load(json.dumps(spec, default=str, allow_nan=True).encode())
