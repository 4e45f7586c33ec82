"""LeaderWorkerSet manifests (--platform kubernetes for a copy of the model over several nodes).

Every LWS deployc writes is validated against the CRD's own OpenAPI schema as published by
kubernetes-sigs/lws (compiler/platforms/data/, converted by conformance/lws_crd_to_jsonschema.py),
with negative controls showing the schema does reject what it should; plus deployc's own checks
(name length, the leader Service, the LWS references left unescaped).
"""

from __future__ import annotations

import copy
import functools

import jsonschema
import pytest
from ruamel.yaml import YAML

from deployc.compiler import driver
from deployc.compiler.platforms import lws
from deployc.compiler.registry import Registry
from conftest import ROOT, spec_text
from deployc.compiler.api import container as multinode

REGISTRY = Registry.discover()
SAMPLES = {"vllm": ROOT / "samples" / "llama-3.1-70b-vllm-2x8" / "deploy.yaml",
           "sglang": ROOT / "samples" / "llama-3.1-70b-sglang-2x8" / "deploy.yaml"}


@functools.cache
def validator() -> jsonschema.Draft7Validator:
    schema = lws.schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def build(path, target: str):
    """The target's result on the Kubernetes platform (its diagnostics: the platform's own)."""
    done = driver.build(driver.Request(path, [target], "kubernetes"), REGISTRY)
    assert done.compiled.ok, [d.render() for d in done.compiled.diagnostics]
    assert not [d for d in done.target_diagnostics if d.is_error], done.target_diagnostics
    return done.results[0]


def docs(result) -> list[dict]:
    (artifact,) = result.lowered.artifacts
    return list(YAML(typ="safe").load_all(artifact.content))


def variant(tmp_path, target: str, **changes):
    """The target's multi-node sample with `changes` (section__field=value, or section=value)."""
    data = YAML(typ="safe").load(SAMPLES[target].read_text())
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            data.setdefault(section, {})[field] = value
        else:
            data[section] = value
    path = tmp_path / "deploy.yaml"
    buf = __import__("io").StringIO()
    YAML(typ="safe", pure=True).dump(data, buf)
    path.write_text(buf.getvalue())
    return path


def test_schema_records_its_source():
    src = lws.schema()["x-deployc-source"]
    assert (src["tag"], src["commit"]) == (lws.LWS_RELEASE, lws.LWS_COMMIT)
    assert src["path"] == "config/crd/bases/leaderworkerset.x-k8s.io_leaderworkersets.yaml" and len(src["sha256"]) == 64


@pytest.mark.parametrize("target", sorted(SAMPLES))
def test_sample_leader_worker_sets_match_the_published_crd_schema(target):
    result = build(SAMPLES[target], target)
    assert result.ok, [d.render() for d in result.diagnostics]
    found = docs(result)
    assert [d["kind"] for d in found] == ["LeaderWorkerSet", "Service"]
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(found[0])]
    assert errors == []
    spec = found[0]["spec"]
    assert spec["leaderWorkerTemplate"]["size"] == 2 and spec["replicas"] == 1
    assert spec["leaderWorkerTemplate"]["restartPolicy"] == "RecreateGroupOnPodRestart"
    assert spec["startupPolicy"] == "LeaderCreated"
    sel = found[1]["spec"]["selector"]
    assert (sel[lws.NAME_LABEL], sel[lws.WORKER_INDEX_LABEL]) == (found[0]["metadata"]["name"], "0")
    leader = spec["leaderWorkerTemplate"]["leaderTemplate"]["metadata"]["labels"]
    assert sel["app.kubernetes.io/component"] == leader["app.kubernetes.io/component"] == "leader"
    from deployc.compiler.platforms import kubernetes as k8s

    assert lws.lint(found, 600) == [] and k8s.lint(found, 600) == []


@pytest.mark.parametrize("break_it, where", [
    (lambda d: d["spec"]["leaderWorkerTemplate"].update(sizee=2), "leaderWorkerTemplate"),   # a typo
    (lambda d: d["spec"]["leaderWorkerTemplate"].update(size="2"), "size"),                  # a string count
    (lambda d: d["spec"]["leaderWorkerTemplate"].update(restartPolicy="Always"), "restartPolicy"),
    (lambda d: d["spec"].update(startupPolicy="WorkersFirst"), "startupPolicy"),
    (lambda d: d["spec"]["leaderWorkerTemplate"].pop("workerTemplate"), "workerTemplate"),
    (lambda d: d["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
     .update(imagePullPolicy=3), "imagePullPolicy"),
    (lambda d: d.update(apiVersion="leaderworkerset.x-k8s.io/v2"), "apiVersion"),
])
def test_the_schema_rejects_broken_leader_worker_sets(break_it, where):
    """Negative controls: the schema is not vacuous."""
    (good, _) = docs(build(SAMPLES["vllm"], "vllm"))
    bad = copy.deepcopy(good)
    break_it(bad)
    errors = list(validator().iter_errors(bad))
    assert errors and any(where in (str(list(e.absolute_path)) + e.message) for e in errors), errors


def test_lws_references_expand_and_everything_else_stays_literal(tmp_path):
    path = variant(tmp_path, "vllm", model__served_name="a$(LWS_WORKER_INDEX)$HOME")
    (doc, _) = docs(build(path, "vllm"))
    worker = doc["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]["args"]
    assert "a$$(LWS_WORKER_INDEX)$$HOME" in worker          # the served name, as typed
    assert worker[worker.index("--node-rank") + 1] == "$(LWS_WORKER_INDEX)"
    assert worker[worker.index("--master-addr") + 1] == "$(LWS_LEADER_ADDRESS)"


def test_the_targets_use_the_variables_lws_injects():
    assert {multinode.LWS.leader, multinode.LWS.rank} <= {f"$({name})" for name in lws.LWS_ENV}


@pytest.mark.parametrize("groups, limit", [(1, 50), (10, 50), (11, 49), (101, 48)])
def test_name_limit_grows_with_the_group_index(groups, limit):
    assert lws.max_name_length(groups) == limit


def test_a_name_too_long_for_the_worker_statefulsets_is_an_error(tmp_path):
    ok = variant(tmp_path, "vllm", name="m" * 50)
    assert build(ok, "vllm").ok
    long = variant(tmp_path, "vllm", name="m" * 51)
    result = build(long, "vllm")
    (d,) = [d for d in result.diagnostics if d.code == "kubernetes-lws-name"]
    assert "at most 50" in d.message and d.line is not None and result.lowered is None
    copies = variant(tmp_path, "vllm", name="m" * 50, parallelism__data=11)
    assert [d.code for d in build(copies, "vllm").diagnostics if d.is_error] == ["kubernetes-lws-name"]


def test_data_parallel_copies_are_groups(tmp_path):
    (doc, _) = docs(build(variant(tmp_path, "sglang", parallelism__data=3), "sglang"))
    assert doc["spec"]["replicas"] == 3
    args = doc["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]["args"]
    assert "--dp-size" not in args


def test_workers_serve_nothing_and_get_no_probes():
    (doc, _) = docs(build(SAMPLES["sglang"], "sglang"))
    lwt = doc["spec"]["leaderWorkerTemplate"]
    worker = lwt["workerTemplate"]["spec"]["containers"][0]
    leader = lwt["leaderTemplate"]["spec"]["containers"][0]
    assert "ports" not in worker and "readinessProbe" not in worker and "--api-key" not in worker["args"]
    assert leader["readinessProbe"]["httpGet"]["port"] == "http" and "--api-key" in leader["args"]
    assert lwt["volumeClaimTemplates"][0]["metadata"] == {"name": "model-cache"}
    assert all(v["name"] != "model-cache" for v in lwt["leaderTemplate"]["spec"]["volumes"])


@pytest.mark.parametrize("target", sorted(SAMPLES))
def test_committed_leader_worker_set_is_current(target, cli):
    """The multi-node samples' --platform kubernetes output, committed under deploy/<target>/kubernetes/
    (the golden snapshot is tests/test_kubernetes.py's, like every sample's manifests)."""
    import json

    result = cli("build", SAMPLES[target], "--target", target, "--platform", "kubernetes", "--json")
    assert result.exit_code == 0, result.output + result.stderr
    out = json.loads(result.stdout)
    assert out["diagnostics"] == []
    (art,) = out["artifacts"]
    committed = SAMPLES[target].parent / "deploy" / target / "kubernetes" / "manifests.yaml"
    assert committed.read_text() == art["content"]


def test_xinference_spans_nodes_as_a_coordinator_and_a_pool_of_workers(tmp_path):
    """A "pool" group: no LeaderWorkerSet, but the supervisor (no GPUs, the API, the launch Job) and
    nodes x copies worker pods that join it at the Service's URL and announce their pod IP."""
    from deployc.compiler.platforms import kubernetes as k8s

    path = tmp_path / "deploy.yaml"
    path.write_text(spec_text("xinference", "parallelism:\n  tensor: 8\n  pipeline: 2\n  data: 2\nserver:\n"
                                            "  api_key_env: KEY\n", "{model_family: llama-3.1-instruct, size_in_billions: 70}",
                              source="meta-llama/Llama-3.1-70B-Instruct", name="xi"))
    result = build(path, "xinference")
    assert result.ok, [d.render() for d in result.diagnostics]
    found = docs(result)
    assert [d["kind"] for d in found] == ["PersistentVolumeClaim", "Deployment", "Service", "Deployment",
                                          "ConfigMap", "Job"]
    pvc, sup, svc, workers = found[:4]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    (c,) = sup["spec"]["template"]["spec"]["containers"]
    assert c["args"] == ["xinference-supervisor", "-H", "$(DEPLOYC_NODE_ADDR)", "--port", "8000"]
    assert "resources" not in c and sup["spec"]["replicas"] == 1
    assert svc["spec"]["selector"] == sup["spec"]["selector"]["matchLabels"]
    (w,) = workers["spec"]["template"]["spec"]["containers"]
    assert workers["spec"]["replicas"] == 4 and w["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert w["args"] == ["xinference-worker", "-e", "$(DEPLOYC_SERVER)", "-H", "$(DEPLOYC_NODE_ADDR)"]
    env = {e["name"]: e for e in w["env"]}
    assert env["DEPLOYC_SERVER"]["value"] == "http://xi:8000"
    assert env["DEPLOYC_NODE_ADDR"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert "readinessProbe" not in w and "XINFERENCE_AUTH_ADVANCED" not in env
    header = result.lowered.artifacts[0].content.split("apiVersion", 1)[0]
    assert "--from-literal=KEY=" in header and "DEPLOYC_" not in header    # never asked of the user as secrets
    launch = found[-1]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert launch[launch.index("--n-worker") + 1] == "2" and launch[launch.index("--n-gpu") + 1] == "8"
    assert launch[launch.index("--replica") + 1] == "2"
    assert k8s.lint(found, 600) == []
