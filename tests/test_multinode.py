"""Multi-node: the node count deployc derives or checks, the diagnostics at the YAML key at fault,
and what each target writes (or refuses) when one copy of the model spans machines."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from deployc.compiler.driver import compile_spec as load_spec, compile_target
from deployc.compiler.plan import derive_nodes
from deployc.compiler.registry import Registry
from deployc.compiler.api.target import BuildContext
from deployc.compiler.api import container as multinode
from conftest import spec_text

REGISTRY = Registry.discover()


def compiled(tmp_path, extra: str, target: str = "vllm", options: str = "{}", model: str = ""):
    """The spec with `extra` sections for one target, compiled; model a/b has no catalog facts."""
    path = tmp_path / "deploy.yaml"
    path.write_text(spec_text(target, extra, options, model=model, source="a/b", name="x"))
    return load_spec(path, "deploy.yaml")


@pytest.mark.parametrize("gpus, per_node, nodes", [(1, 8, 1), (8, 8, 1), (16, 8, 2), (12, 8, 2), (24, 8, 3),
                                                    (10, 8, 2), (7, 4, 7), (64, 8, 8)])
def test_derived_nodes_are_the_fewest_that_split_the_gpus_evenly(gpus, per_node, nodes):
    assert derive_nodes(gpus, per_node) == nodes


@pytest.mark.parametrize("extra, nodes", [
    ("parallelism:\n  tensor: 8\n  pipeline: 2\n", 2),
    ("parallelism:\n  tensor: 16\n", 2),
    ("parallelism:\n  tensor: 4\n  pipeline: 2\nhardware:\n  gpus_per_node: 4\n", 2),
    ("parallelism:\n  tensor: 8\n  data: 4\n", 1),                       # copies do not add nodes
    ("parallelism:\n  tensor: 2\n  pipeline: 2\n  nodes: 2\n", 2),       # fewer GPUs per node, on request
])
def test_plan_node_count(tmp_path, extra, nodes):
    c = compiled(tmp_path, extra)
    assert c.ok, [d.render() for d in c.diagnostics]
    assert c.plan.nodes == nodes


@pytest.mark.parametrize("extra, code, line, col, text", [
    ("parallelism:\n  tensor: 8\n  pipeline: 3\n  nodes: 5\n", "parallelism-nodes", 8, 10,
     "tensor 8 x pipeline 3 = 24 GPU(s) cannot be split evenly over 5 nodes"),
    ("parallelism:\n  tensor: 16\n  nodes: 1\n", "parallelism-nodes", 7, 10,
     "1 node(s) of 8 GPUs cannot run tensor 16 x pipeline 1 = 16 GPU(s)"),
    ("parallelism:\n  nodes: 2\n", "parallelism-nodes", 6, 10, "one GPU per copy of the model cannot span nodes"),
    ("parallelism:\n  tensor: 4\n  pipeline: 2\n  nodes: 2\nhardware:\n  gpus_per_node: 2\n",
     "parallelism-nodes", 8, 10, "2 node(s) of 2 GPUs cannot run"),
    ("hardware:\n  gpus_per_node: 0\n", "spec-value", 6, 18, "greater than or equal to 1"),
])
def test_node_errors_point_at_the_key(tmp_path, extra, code, line, col, text):
    c = compiled(tmp_path, extra)
    errors = [d for d in c.diagnostics if d.is_error]
    assert [(d.code, d.line, d.column) for d in errors] == [(code, line, col)], [d.render() for d in errors]
    assert text in errors[0].message
    assert errors[0].hint


def test_hints_name_node_counts_that_work(tmp_path):
    c = compiled(tmp_path, "parallelism:\n  tensor: 8\n  pipeline: 3\n  nodes: 5\n")
    assert "use nodes: 3, 4, 6, 8, 12, 24" in c.diagnostics[0].hint


def test_idle_gpus_per_node_are_a_warning(tmp_path):
    c = compiled(tmp_path, "parallelism:\n  tensor: 4\n  pipeline: 3\n")
    assert c.ok and c.plan.nodes == 2
    assert [d.code for d in c.diagnostics] == ["parallelism-nodes-partial", "server-open", "model-facts-unknown"]
    assert "2 GPU(s) of every node stay idle" in c.diagnostics[0].message


def lower(tmp_path, extra: str, target: str, model: str = ""):
    c = compiled(tmp_path, extra, target, model=model)
    assert c.ok, [d.render() for d in c.diagnostics]
    return compile_target(c, REGISTRY, target, BuildContext("../..", "deploy.yaml", "0" * 64))


def test_vllm_warns_about_tensor_parallelism_across_nodes(tmp_path):
    r = lower(tmp_path, "parallelism:\n  tensor: 16\n", "vllm")
    assert r.ok
    (w,) = [d for d in r.diagnostics if d.code == "vllm-tensor-across-nodes"]
    assert "tensor: 8" in w.hint and "pipeline: 2" in w.hint and w.line == 6
    r = lower(tmp_path, "parallelism:\n  tensor: 16\n", "sglang")   # SGLang's tp counts every node's GPUs
    assert r.ok and not [d for d in r.diagnostics if "across" in d.code]


@pytest.mark.parametrize("target, words", [
    ("tgi", "TGI has no multi-node mode"),
    ("ollama", "no distributed mode"),
    ("tensorrt-llm", "one-node TensorRT-LLM deployments"),
])
def test_targets_without_a_multi_node_mode_say_what_to_do(tmp_path, target, words):
    c = compiled(tmp_path, "parallelism:\n  tensor: 8\n  pipeline: 2\n", target,
                 model="  facts: {max_position_embeddings: 4096}\n")
    r = compile_target(c, REGISTRY, target, BuildContext("../..", "deploy.yaml", "0" * 64))
    (d,) = [d for d in r.diagnostics if d.code == "target-unsupported" and "several nodes" in d.message]
    assert words in d.hint and ("vllm or sglang" in d.hint)
    assert d.line == 6  # the parallelism key: nodes is derived, not written


@pytest.mark.parametrize("target", ["vllm", "sglang"])
def test_multi_node_scripts_run_the_intended_argv(tmp_path, target):
    r = lower(tmp_path, "parallelism:\n  tensor: 8\n  pipeline: 2\n  data: 2\nserver:\n  api_key_env: KEY\n",
              target)
    assert r.ok
    files = {a.path: a for a in r.lowered.artifacts}
    assert set(files) == {"serve.sh", "serve-worker.sh"} and all(a.executable for a in files.values())
    assert r.lowered.service is None and r.lowered.group.size == 2 and r.lowered.group.replicas == 2
    assert r.lowered.group.leader.gpus == r.lowered.group.worker.gpus == 8
    for name, rank in (("serve.sh", "0"), ("serve-worker.sh", "3")):
        line = files[name].content.splitlines()[-1]
        # bash expands the node variables exactly where the argv has them, and nothing else
        env = {"LEADER_ADDR": "10.0.0.9", "NODE_RANK": rank, "KEY": "k", "PATH": "/usr/bin:/bin"}
        out = subprocess.run(["bash", "-c", "printf '%s\\n' " + line.removeprefix("exec ")], env=env,
                             capture_output=True, text=True, check=True).stdout.splitlines()
        assert out[out.index("--node-rank") + 1] == rank
        assert ("--headless" in out) is (target == "vllm" and rank != "0")
        assert not any(t in out for t in ("--data-parallel-size", "--dp-size"))
        assert "10.0.0.9" in " ".join(out)
    for svc in (r.lowered.group.leader, r.lowered.group.worker):
        assert any("$(LWS_LEADER_ADDRESS)" in t for t in svc.command)
    assert r.lowered.group.leader.command[r.lowered.group.leader.command.index("--node-rank") + 1] == "0"
    assert r.lowered.group.worker.command[r.lowered.group.worker.command.index("--node-rank") + 1] == \
        multinode.LWS.rank


def test_single_node_specs_are_untouched(tmp_path):
    r = lower(tmp_path, "parallelism:\n  tensor: 8\n", "vllm")
    assert r.lowered.group is None and r.lowered.service is not None
    assert "--nnodes" not in r.lowered.command
    assert {a.path for a in r.lowered.artifacts} == {"serve.sh", "compose.yaml"}
    assert shlex.split(r.lowered.artifacts[0].content.splitlines()[-1])[1:3] == ["vllm", "serve"]


XINFERENCE = "{model_family: llama-3.1-instruct, size_in_billions: 70, version: '%s'}"


@pytest.mark.parametrize("version", ["4.1.0", "1.17.1"])
def test_xinference_runs_a_supervisor_and_one_worker_per_node(tmp_path, version):
    import json
    from pathlib import Path

    c = compiled(tmp_path, "parallelism:\n  tensor: 8\n  pipeline: 2\n", "xinference", XINFERENCE % version)
    r = compile_target(c, REGISTRY, "xinference", BuildContext("../..", "deploy.yaml", "0" * 64))
    assert r.ok, [d.render() for d in r.diagnostics]
    files = {a.path: a.content for a in r.lowered.artifacts}
    assert set(files) == {"start-supervisor.sh", "start-worker.sh", "launch.sh", "launch.py", "launch.json",
                          "register.json"}
    body = json.loads(files["launch.json"])
    assert (body["n_worker"], body["n_gpu"]) == (2, 8)
    assert "--n-gpu 8 --n-worker 2" in files["launch.sh"]
    table = json.loads((Path(__file__).parent / "conformance" / "data" / "xinference_cli_options.json")
                       .read_text())["versions"][version]["commands"]
    env = {"SUPERVISOR_ADDR": "10.0.0.1", "WORKER_ADDR": "10.0.0.2", "PATH": "/usr/bin:/bin"}
    for name, command in (("start-supervisor.sh", "xinference-supervisor"), ("start-worker.sh", "xinference-worker")):
        line = files[name].splitlines()[-1].removeprefix("exec ")
        argv = subprocess.run(["bash", "-c", "printf '%s\\n' " + line], env=env, capture_output=True, text=True,
                              check=True).stdout.splitlines()
        assert argv[0] == command and {t for t in argv if t.startswith("-")} <= set(table[command])
        assert "10.0.0.1" in " ".join(argv)  # never 0.0.0.0: -H is also the address the others dial
    for name in ("start-supervisor.sh", "start-worker.sh", "launch.sh"):
        out = subprocess.run(["bash", "-n", "-c", files[name]], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
    assert r.lowered.command[:3] == ("xinference-supervisor", "-H", "${SUPERVISOR_ADDR}")


def test_plan_shows_the_layout(cli):
    from conftest import ROOT

    spec = ROOT / "samples" / "llama-3.1-70b-vllm-2x8" / "deploy.yaml"
    assert "layout: each copy spans 2 nodes x 8 GPUs; 1 copy" in cli("plan", spec).stdout
    import json
    assert json.loads(cli("plan", spec, "--json").stdout)["layout"] == {"nodes": 2, "gpus_per_node": 8, "copies": 1}


@pytest.mark.parametrize("target, port, code", [("vllm", 29501, "vllm-port-nodes"), ("sglang", 20000, "sglang-port-nodes")])
def test_the_http_port_cannot_be_the_port_the_nodes_meet_on(tmp_path, target, port, code):
    r = lower(tmp_path, f"parallelism:\n  tensor: 16\nserver:\n  port: {port}\n", target)
    assert [d.code for d in r.diagnostics if d.is_error] == [code]
    r = lower(tmp_path, f"parallelism:\n  tensor: 8\nserver:\n  port: {port}\n", target)  # one node: fine
    assert r.ok


@pytest.mark.parametrize("target", ["vllm", "sglang"])
def test_hostile_values_stay_inert_in_the_node_scripts(tmp_path, target):
    name = "a$(id)`x`${NODE_RANK}\"'b"
    r = lower(tmp_path, "parallelism:\n  tensor: 16\n", target,
              model=f"  served_name: '{name.replace(chr(39), chr(39) * 2)}'\n")
    assert r.ok, [d.render() for d in r.diagnostics]
    for art in r.lowered.artifacts:
        line = art.content.splitlines()[-1].removeprefix("exec ")
        env = {"LEADER_ADDR": "10.0.0.9", "NODE_RANK": "1", "PATH": "/usr/bin:/bin"}
        out = subprocess.run(["bash", "-c", "printf '%s\\n' " + line], env=env, capture_output=True, text=True,
                             check=True).stdout.splitlines()
        assert out[out.index("--served-model-name") + 1] == name, art.path
