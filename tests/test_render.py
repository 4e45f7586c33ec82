"""dump_yaml: the direct emitter writes exactly what ruamel.yaml's dumper writes, or leaves it to ruamel."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from deployc.compiler import render
from deployc.compiler.render import dump_yaml, dump_yaml_ruamel

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(p for p in (ROOT / "samples").rglob("*.yaml") if p.name != "deploy.yaml" and "invalid" not in p.parts)


def direct(data) -> str | None:
    """The direct emitter alone; None where it declines."""
    out: list[str] = []
    try:
        render._mapping(data, 0, out)
    except render._Unsupported:
        return None
    return "".join(out)


def strings(data) -> list[str]:
    if isinstance(data, dict):
        return [s for k, v in data.items() for s in strings(k) + strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in strings(v)]
    return [data] if isinstance(data, str) else []


def floats(data) -> bool:
    if isinstance(data, dict):
        return any(floats(v) for v in data.values())
    if isinstance(data, list):
        return any(floats(v) for v in data)
    return isinstance(data, float)


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT / "samples")))
def test_committed_yaml_artifacts_are_written_directly_and_identically(path):
    for data in YAML(typ="safe").load_all(path.read_text()):
        # an embedded file (a ConfigMap's data), or a float (render.py leaves their spelling to ruamel): ruamel writes it
        if any("\n" in s for s in strings(data)) or floats(data):
            assert direct(data) is None and dump_yaml(data) == dump_yaml_ruamel(data)
        else:
            assert direct(data) == dump_yaml_ruamel(data)   # not None: the common case must take the fast path


@pytest.mark.parametrize("text, written", [
    ("8000:8000", "8000:8000"), ("0.0.0.0", "0.0.0.0"), ("30s", "30s"), ("--port", "--port"),
    ("12", "'12'"), ("true", "'true'"), ("null", "'null'"), ("", "''"), ("1_000", "'1_000'"),
    ("yes", "yes"), ("a: b", "'a: b'"), ("a #b", "'a #b'"), ("- a", "'- a'"), ("${X:?set X}", "${X:?set X}"),
    ("it's", "it's"), ("a: it's", '"a: it\'s"'), ("caf\u00e9", "café"), ("a\nb", '"a\\nb"'),
])
def test_scalars_are_quoted_as_ruamel_quotes_them(text, written):
    assert dump_yaml({"k": text}) == f"k: {written}\n" == dump_yaml_ruamel({"k": text})


KEYS = st.text(alphabet="abc-_.:", min_size=1, max_size=6)
TEXT = st.text(alphabet="aZ09 -_.:#'\"?!&*|>%@`,[]{}$~=+/\\\t", max_size=12) | st.sampled_from(
    ["yes", "No", "~", "1e3", "0x1F", "1:30", ".inf", "2024-01-01", "<<", "=", "0o7", "-1", "+.5"])
LEAVES = st.none() | st.booleans() | st.integers(-10**6, 10**6) | TEXT | st.builds(dict) | st.builds(list)
DATA = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                    max_leaves=12)


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.dictionaries(KEYS, DATA, min_size=1, max_size=4))
def test_generated_data_is_written_as_ruamel_writes_it(data):
    assert dump_yaml(data) == dump_yaml_ruamel(data)
    mine = direct(data)
    if mine is not None:
        assert YAML(typ="safe").load(mine) == data
