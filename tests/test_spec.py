"""Spec values: what the models accept, normalize and reject (as the JSON Schema says)."""

from __future__ import annotations

import pytest

from deployc.compiler.driver import compile_spec as load_spec
from conftest import spec_text


def diags(tmp_path, extra: str):
    """The spec with `extra` right after model.source (more model lines, or sections), loaded: its errors."""
    path = tmp_path / "deploy.yaml"
    path.write_text(spec_text(sections=extra, source="a/b", name="x"))
    compiled = load_spec(path, "deploy.yaml")
    return compiled, [(d.code, d.line, d.column, d.message) for d in compiled.diagnostics if d.is_error]


@pytest.mark.parametrize("extra, code, line, col, text", [
    ("parallelism:\n  tensor: true\n", "spec-type", 6, 11, "tensor: input should be a valid integer, got true"),
    ("server:\n  port: '8000'\n", "spec-type", 6, 9, "port: input should be a valid integer, got '8000'"),
    ("hardware:\n  memory_utilization: .nan\n", "spec-value", 6, 23, "should be a finite number"),
    ("  facts: {parameters: .inf}\n", "spec-value", 5, 23, "should be a finite number"),
    ("precision:\n  dtype: bf32\n", "spec-value", 6, 10, "'bf32' is not a valid dtype"),
    ("model2: {}\n", "spec-unknown-key", 5, 1, "unknown key 'model2' in the top level"),
    ("hardware:\n  gpu: {name: x, memory_gib: 24}\n", "spec-missing-key", 6, 3,
     "missing required key 'compute_capability' in hardware.gpu"),
    ("  served_name: '-x'\n", "spec-value", 5, 16, "'-x' is not a valid served_name"),
    ("  served_name: \"a\\u202eb\"\n", "spec-value", 5, 16, "bidi controls"),
])
def test_rejected_values_point_at_the_value_or_key(tmp_path, extra, code, line, col, text):
    _, found = diags(tmp_path, extra)
    assert [(c, ln, co) for c, ln, co, _ in found] == [(code, line, col)]
    assert text in found[0][3]


def test_normalized_values(tmp_path):
    compiled, found = diags(tmp_path, "precision:\n  dtype: half\nhardware:\n  gpu: {name: My GPU, memory_gib: 24, "
                                      "compute_capability: 8.9}\n")
    assert found == []
    assert compiled.plan.precision.dtype == "float16"
    gpu = compiled.plan.hardware.gpu
    assert (gpu.compute_capability, gpu.bf16, gpu.fp8) == ("8.9", True, True)
    assert compiled.plan.model.served_name == "b"


@pytest.mark.parametrize("name, canonical", [("h100-80gb", "H100-80GB"), ("H100_PCIE_80GB", "H100-PCIE-80GB"),
                                             ("rtx 4090", "RTX-4090"), ("Tesla T4", "T4"), ("a100", "A100-80GB")])
def test_gpu_names_are_matched_case_insensitively(tmp_path, name, canonical):
    compiled, found = diags(tmp_path, f"hardware:\n  gpu: {name}\n")
    assert found == [] and compiled.plan.hardware.gpu.name == canonical
