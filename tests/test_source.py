"""The loader: every malformed file is a positioned diagnostic, never a traceback."""

from __future__ import annotations

import time

import pytest

from deployc.compiler.source import loads


def one(raw: bytes):
    src = loads(raw, "d.yaml")
    assert src.data is None, "a malformed file must not produce data"
    assert len(src.diagnostics) == 1, src.diagnostics
    d = src.diagnostics[0]
    return d.code, d.line, d.column, d.message


@pytest.mark.parametrize("raw, expected", [
    (b"", ("yaml-empty", 1, 1)),
    (b"# only a comment\n\n", ("yaml-empty", 1, 1)),
    (b"a: 1\nb:\n\tc: 2\n", ("yaml-tab", 3, 1)),
    (b"a: 1\nb: 2\na: 3\n", ("yaml-duplicate-key", 3, 1)),
    (b"a: [1, 2\n", ("yaml-syntax", 1, 4)),
    (b"a: 1\n  b: 2\n", ("yaml-syntax", 2, 4)),
    (b"- 1\n- 2\n", ("yaml-not-mapping", 1, 1)),
    (b"just text\n", ("yaml-not-mapping", 1, 1)),
    (b"a: 1\n---\nb: 2\n", ("yaml-documents", 1, 1)),
    (b"name: ok\nsource: caf\xc3\n", ("yaml-encoding", 2, 12)),
    (b"a: \xff\xfe\n", ("yaml-encoding", 1, 4)),
    (b"a: 1\nb: x\x00y\n", ("yaml-syntax", 2, 5)),
    (b"a: !!python/object:os.system {x: 1}\n", ("yaml-tag", 1, 4)),
    (b"a:\n  b: !custom x\n", ("yaml-tag", 2, 6)),
    (b"1: x\n", ("yaml-key", 1, 1)),
    (b"? : :", ("yaml-key", 1, 3)),  # found by the property test below: a mapping as a key
    (b"a: 1\nb:\n  ? {c: 1}\n  : 2\n", ("yaml-key", 3, 5)),
])
def test_malformed_files_are_positioned_diagnostics(raw, expected):
    code, line, col, message = one(raw)
    assert (code, line, col) == expected
    if code == "yaml-key":
        assert message in ("mapping keys must be strings, not 1", "mapping keys must be strings, not a mapping")


def test_positions_are_one_based_for_keys_values_and_items():
    src = loads(b"apiVersion: deployc/v1\nmodel:\n  source: a/b\n  adapters:\n    - name: x\n      source: ./y\n")
    assert src.keys[("model", "source")] == (3, 3)
    assert src.values[("model", "source")] == (3, 11)
    assert src.values[("model", "adapters", 0)] == (5, 7)
    assert src.keys[("model", "adapters", 0, "source")] == (6, 7)
    # a missing key is reported at the key of the mapping that should hold it
    assert src.locate(("model", "revision"), "key") == (2, 1)
    assert src.locate(("hardware", "gpu"), "key") == (1, 1)


def test_data_is_plain_and_carries_no_positions():
    src = loads(b"a: 0.90\nb: [1, {c: yes}]\nd: 2024-01-01\ne: !!str 12\n")
    assert src.data == {"a": 0.9, "b": [1, {"c": "yes"}], "d": "2024-01-01", "e": "12"}
    assert type(src.data) is dict and type(src.data["b"]) is list and type(src.data["a"]) is float


def test_bom_and_crlf_are_accepted():
    src = loads(b"\xef\xbb\xbfa: 1\r\nb: x\r\n")
    assert src.diagnostics == [] and src.data == {"a": 1, "b": "x"}


def test_alias_bomb_is_rejected_quickly_without_expanding():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = f"*a{i-1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    start = time.perf_counter()
    code, *_ = one("\n".join(lines).encode())
    assert code == "yaml-too-large"
    assert time.perf_counter() - start < 5  # 10**12 nodes if expanded; bounded well below that


def test_merge_keys_work_and_digest_ignores_comments_and_layout():
    a = loads(b"base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n")
    assert a.data["m"] == {"y": 2, "x": 1} or a.data["m"] == {"x": 1, "y": 2}
    one_ = loads(b"a: 1\nb: [1, 2]\n")
    two = loads(b"# comment\nb:\n  - 1\n  - 2\na: 1\n")
    assert one_.digest == two.digest and one_.digest


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

YAMLISH = st.lists(st.sampled_from([b"a", b":", b" ", b"\n", b"-", b"[", b"]", b"{", b"}", b"&x", b"*x", b"!!", b"\t",
                                    b"'", b'"', b"#", b"\xff", b"\x00", b"apiVersion: deployc/v1\n", b"model:\n  ",
                                    b"<<: ", b"---\n", b"? ", b"|\n", b"\xc3\xa9"]), max_size=40).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.binary(max_size=200), YAMLISH))
def test_any_bytes_give_data_or_positioned_diagnostics_never_an_exception(raw):
    import tempfile
    from pathlib import Path

    from deployc.compiler.driver import compile_spec as load_spec

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "f.yaml")
        path.write_bytes(raw)
        compiled = load_spec(path, "f.yaml")  # loader, secrets scan, pydantic, resolve
    if not compiled.ok:
        assert compiled.diagnostics and all(d.file == "f.yaml" and d.line and d.column for d in compiled.diagnostics)


def test_a_key_ruamel_keeps_no_position_for_falls_back_to_its_mapping():
    """Found by tests/test_fuzz.py: `:base:` beside a merge key made ruamel return no key position."""
    src = loads(b":base: &b {source: org/m}\nmodel:\n  <<: *b\n")
    assert src.data == {":base": {"source": "org/m"}, "model": {"source": "org/m"}}
    assert src.diagnostics == []


@pytest.mark.parametrize("raw, where, message", [
    (b"name: x\nlimits: {max_model_len: !!float enable}\n", (2, 25), "'enable' cannot be read as !!float"),
    (b"name: x\nserver:\n  port: !!int eighty\n", (3, 9), "'eighty' cannot be read as !!int"),
])
def test_a_core_tag_its_value_cannot_fill_is_a_positioned_diagnostic(raw, where, message):
    """Found by fuzzing: ruamel raised a bare ValueError for these."""
    src = loads(raw, "d.yaml")
    [d] = src.diagnostics
    assert (d.code, (d.line, d.column), d.message) == ("yaml-tag", where, message)


def test_an_unpaired_surrogate_escape_is_not_text():
    """Found by fuzzing: `"\\ud800"` parsed into a str that no output could encode (a traceback on print)."""
    src = loads(b'name: x\nmodel:\n  source: "a/\\ud800b"\n', "d.yaml")
    [d] = src.diagnostics
    assert (d.code, d.line, d.column) == ("yaml-text", 3, 11) and src.data is None
