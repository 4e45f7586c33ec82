"""Secrets never enter a spec, and never leave deployc in an artifact."""

from __future__ import annotations

import re

import pytest

from deployc.compiler.secrets import SECRET, high_entropy as _high_entropy
from conftest import ROOT, spec_text


@pytest.mark.parametrize("value", [
    "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5",          # random key
    "ZXhhbXBsZS1zZWNyZXQta2V5LTEyMzQ1Njc4OTA=",       # base64
    "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",    # a JWT header in a bearer string
    "hf_abcdefghijklmnopqrstuvwxyz0123",              # known prefixes
    "sk_live_51HxYz2KqP9mN3rT8vW4jL6",
])
def test_a_secret_looking_env_value_is_an_error_at_the_value_and_never_echoed(cli, spec_file, value):
    result = cli("validate", spec_file(spec_text(options=f"{{env: {{X: {value}}}}}")))
    assert result.exit_code == 1
    assert ":6:19: error[secret-in-spec]: targets.vllm.env.X looks like a secret token" in result.stderr
    assert value not in result.stderr


@pytest.mark.parametrize("value", [
    "${HF_TOKEN}", "INFO", "/models/llama-3.1-8b-instruct-awq-int4-group128", "expandable_segments:True",
    "http://otel-collector.monitoring.svc.cluster.local:4317", "NousResearchHermes3Llama31Model8B",
    "MistralNemoInstruct2407FP8Dynamic", "4f2b8c9e1d3a5f7b9c1e3a5d7f9b1c3e4f2b8c9e",   # a commit
])
def test_ordinary_env_values_are_not_mistaken_for_secrets(value):
    assert not SECRET.search(value) and not _high_entropy(value)


ARTIFACTS = [p for p in (ROOT / "samples").glob("*/deploy/**/*") if p.is_file()] + \
    [p for p in (ROOT / "tests" / "__snapshots__").rglob("*") if p.is_file()]


def test_no_committed_artifact_or_golden_carries_a_secret():
    assert len(ARTIFACTS) > 100
    for path in ARTIFACTS:
        text = path.read_text(encoding="utf-8", errors="replace")
        found = SECRET.search(text)
        assert found is None, f"{path}: {found.group(0)[:6]}..."
        for token in re.findall(r"[A-Za-z0-9+=/_.-]{24,}", text):
            assert not _high_entropy(token), f"{path}: a random-looking token"
