"""Issue 25, part 7: node_selector keys and values and toleration keys and values follow Kubernetes'
label syntax (apimachinery validation: IsQualifiedName, IsValidLabelValue), refused at the key."""

from __future__ import annotations

import pytest

from conftest import spec_text


@pytest.mark.parametrize("section, where", [
    ('  node_selector: {"": x}\n', ":6:19: error["),
    ('  node_selector: {"a: b": x}\n', ":6:19: error["),
    ('  node_selector: {"a\\nb": x}\n', ":6:19: error["),
    ('  node_selector: {"Bad_Prefix/x": x}\n', ":6:19: error["),
    ('  node_selector: {"' + "k" * 64 + '": x}\n', ":6:19: error["),
    ('  node_selector: {ok/x: "bad value"}\n', ":6:25: error["),
    ('  node_selector: {ok/x: "' + "v" * 64 + '"}\n', ":6:25: error["),
    ('  node_selector: {ok/x: "-x"}\n', ":6:25: error["),
    ("  tolerations: [{key: 'bad key', operator: Exists}]\n", ":6:23: error["),
    ("  tolerations: [{key: ok, operator: Equal, value: 'v v'}]\n", ":6:51: error["),
])
def test_label_syntax_is_checked_at_the_key(cli, spec_file, section, where):
    spec = spec_file(spec_text(sections="kubernetes:\n" + section))
    result = cli("validate", spec)
    assert result.exit_code == 1, result.stderr
    assert f"{spec}{where}" in result.stderr, result.stderr


@pytest.mark.parametrize("section", [
    "  node_selector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3, kubernetes.io/arch: amd64, tier: ''}\n",
    "  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}, {operator: Exists}]\n",
])
def test_real_labels_pass(cli, spec_file, section):
    result = cli("validate", spec_file(spec_text(sections="kubernetes:\n" + section)))
    assert result.exit_code == 0, result.stderr
