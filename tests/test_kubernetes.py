"""--platform kubernetes: lint or refusal per sample x target, the manifests' invariants, deployc's own checks
(with negative controls), diagnostics with positions, and `check` on committed manifests.

kubernetes-validate --strict judges the same manifests in tests/conformance/test_kubernetes.py."""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import pytest
from ruamel.yaml import YAML

from deployc.compiler.platforms import kubernetes as k8s
from conftest import ROOT, SAMPLES, built_json, spec_text, text_extension
from sample_files import expected_warnings

TARGETS = ("vllm", "sglang", "tgi", "ollama", "tensorrt-llm", "xinference", "lmdeploy", "llama-cpp")


def _listed(sample):
    return list(YAML(typ="safe").load(sample / "deploy.yaml").get("targets") or {})


PAIRS = [(s, t) for s in SAMPLES for t in _listed(s)]


def docs_of(text: str) -> list[dict]:
    return [d for d in YAML(typ="safe").load_all(text) if d is not None]


def build(cli, spec, target, *more):
    result = cli("build", spec, "--target", target, "--platform", "kubernetes", "--json", *more)
    return result, json.loads(result.stdout)


def manifests(cli, spec, target="vllm") -> list[dict]:
    result, out = build(cli, spec, target)
    assert result.exit_code == 0, result.stdout
    assert [a["path"] for a in out["artifacts"]] == ["manifests.yaml"]
    return docs_of(out["artifacts"][0]["content"])


def engine(docs) -> dict:
    dep = next(d for d in docs if d["kind"] == "Deployment")
    return dep["spec"]["template"]["spec"]["containers"][0]


# --- every sample x target -------------------------------------------------------------------------

@pytest.mark.parametrize("sample, target", PAIRS, ids=lambda x: x if isinstance(x, str) else x.name)
def test_sample_manifests(sample, target, cli, snapshot):
    """Every sample x listed target: manifests that pass deployc's own lint, or the diagnostics that say why
    there are none. The manifests' goldens are the committed samples/<sample>/deploy/<target>/kubernetes/
    (tests/test_golden.py)."""
    result, out = build(cli, sample / "deploy.yaml", target)
    if result.exit_code == 0:
        assert out["platform"] == "kubernetes"
        drawn = [d["code"] for d in out["diagnostics"] if d["code"] not in expected_warnings(sample)]
        assert drawn in ([], ["kubernetes-launch-once"])
        (art,) = out["artifacts"]
        docs = docs_of(art["content"])
        from deployc.compiler.platforms import lws  # a multi-node copy: its LeaderWorkerSet's own lint

        assert (lws.lint if any(d["kind"] == lws.KIND for d in docs) else k8s.lint)(docs, 600) == []
    else:
        text = "".join(f"{d['severity']}[{d['code']}] {d['message']}\n" for d in out["diagnostics"]
                       if d["severity"] == "error")
        assert snapshot(name="refused", extension_class=text_extension("txt")) == text


OLLAMA = {"target": "ollama", "sections": "limits: {max_model_len: 8192}\n", "source": "Qwen/Qwen2.5-0.5B-Instruct-GGUF"}


def test_every_target_has_kubernetes_manifests(cli, specs):
    made = {t for s, t in PAIRS if build(cli, s / "deploy.yaml", t)[0].exit_code == 0}
    assert made == set(TARGETS) - {"ollama"}   # the Ollama sample serves a local .gguf file
    assert build(cli, specs.write(**OLLAMA), "ollama")[0].exit_code == 0


# --- what every manifest holds ------------------------------------------------------------------------

KEY = "server:\n  api_key_env: MY_KEY\n"


@pytest.mark.parametrize("target", ["vllm", "sglang", "tgi", "ollama"])
def test_kinds_labels_and_exec_form(target, specs, cli):
    spec = specs.write(**OLLAMA) if target == "ollama" else specs.write(target, KEY)
    docs = manifests(cli, spec, target)
    assert [d["kind"] for d in docs][:3] == ["PersistentVolumeClaim", "Deployment", "Service"]
    for d in docs:
        labels = d["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "deployc"
        assert labels["app.kubernetes.io/name"] == target and labels["app.kubernetes.io/instance"] == "demo"
    c = engine(docs)
    argv = c.get("command", []) + c["args"]
    assert all(isinstance(t, str) for t in argv)
    assert not {"sh", "/bin/sh", "bash", "-c"} & set(argv), argv
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1 and "requests" not in c["resources"]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in c["volumeMounts"]
    pod = docs[1]["spec"]["template"]["spec"]
    shm = next(v for v in pod["volumes"] if v["name"] == "dshm")["emptyDir"]
    assert shm["medium"] == "Memory" and shm["sizeLimit"].endswith("Gi")
    health = "/api/version" if target == "ollama" else "/health"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": health, "port": "http"}
    assert c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] >= 600
    assert pod["enableServiceLinks"] is False


def test_secrets_only_by_reference(specs, cli):
    spec = specs.write("vllm", KEY, "{env: {EXTRA: 'pre-${OTHER}-post', PLAIN: a$b}}")
    docs = manifests(cli, spec)
    env = {e["name"]: e for e in engine(docs)["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "demo-secrets", "key": "HF_TOKEN",
                                                            "optional": True}
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "demo-secrets", "key": "MY_KEY"}
    assert env["OTHER"]["valueFrom"]["secretKeyRef"] == {"name": "demo-secrets", "key": "OTHER"}
    assert env["EXTRA"] == {"name": "EXTRA", "value": "pre-$(OTHER)-post"}
    assert env["PLAIN"] == {"name": "PLAIN", "value": "a$$b"}   # Kubernetes reduces $$ to $
    names = [e["name"] for e in engine(docs)["env"]]
    assert names.index("OTHER") < names.index("EXTRA")   # $(OTHER) expands only from earlier entries


def test_api_key_argument_becomes_kubernetes_expansion(specs, cli):
    docs = manifests(cli, specs.write("sglang", KEY), "sglang")
    c = engine(docs)
    assert c["args"][-2:] == ["--api-key", "$(MY_KEY)"]
    assert {"name": "MY_KEY", "valueFrom": {"secretKeyRef": {"name": "demo-secrets", "key": "MY_KEY"}}} in c["env"]


def test_literal_dollars_are_escaped_in_args(specs, cli):
    spec = specs.write(model="  served_name: a$(HOME)b\n")
    args = engine(manifests(cli, spec))["args"]
    assert args[args.index("--served-model-name") + 1] == "a$$(HOME)b"


def test_options_reach_the_manifests(specs, cli):
    spec = specs.write(sections="""kubernetes:
  namespace: llm
  replicas: 3
  service_type: LoadBalancer
  service_port: 80
  storage_class: fast
  storage_size: 300Gi
  shm_size: 16Gi
  secret: hf
  node_selector: {pool: gpu}
  tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
  image_pull_secrets: [regcred]
  startup_seconds: 3600
""")
    pvc, dep, svc = manifests(cli, spec)
    assert {d["metadata"]["namespace"] for d in (pvc, dep, svc)} == {"llm"}
    assert pvc["spec"] == {"accessModes": ["ReadWriteMany"], "storageClassName": "fast",
                           "resources": {"requests": {"storage": "300Gi"}}}
    assert dep["spec"]["replicas"] == 3
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    pod = dep["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "gpu"} and pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["volumes"][1]["emptyDir"]["sizeLimit"] == "16Gi"
    c = pod["containers"][0]
    assert c["startupProbe"]["failureThreshold"] * c["startupProbe"]["periodSeconds"] == 3600
    assert c["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "hf"
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


def test_amd_gpus_are_amd_resources(specs, cli):
    spec = specs.write("vllm", "hardware: {gpu: MI300X}\n", "{image: 'rocm/vllm:rocm6.4.1_vllm_0.10.0'}")
    limits = engine(manifests(cli, spec))["resources"]["limits"]
    assert limits == {"amd.com/gpu": 1}


def test_tensorrt_llm_builds_in_init_containers_then_serves(cli):
    """0.19.0 (the sample pins it): download, quantize, build in initContainers, then trtllm-serve."""
    docs = manifests(cli, ROOT / "samples/qwen2.5-14b-fp8-tp2-pp2/deploy.yaml", "tensorrt-llm")
    pod = docs[1]["spec"]["template"]["spec"]
    steps = [c["command"][:2] for c in pod["initContainers"]]
    assert steps == [["huggingface-cli", "download"],
                     ["python3", "/app/tensorrt_llm/examples/quantization/quantize.py"],
                     ["trtllm-build", "--checkpoint_dir"]]
    c = pod["containers"][0]
    assert c["image"] == "nvcr.io/nvidia/tensorrt-llm/release:0.19.0"
    assert c["args"][0] == "trtllm-serve" and c["args"][c["args"].index("--host") + 1] == "0.0.0.0"
    assert all(i["resources"]["limits"]["nvidia.com/gpu"] == 4 for i in pod["initContainers"])


def test_default_platform_is_unchanged(specs, cli, tmp_path):
    spec = specs.write()
    result = cli("build", spec, "--target", "vllm")
    assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "deploy/vllm").iterdir()) == [
        "compose.yaml", "deployc-manifest.json", "serve.sh"]


def test_unknown_platform_is_a_usage_error(specs, cli):
    result = cli("build", specs.write(), "--target", "vllm", "--platform", "nomad")
    assert result.exit_code == 2 and "unknown platform 'nomad'; known: local, kubernetes" in result.stderr


# --- sizes and times ----------------------------------------------------------------------------------

def _plan(path):
    from deployc.compiler.driver import compile_spec as load_spec

    compiled = load_spec(path, "deploy.yaml")
    assert compiled.ok
    return compiled.plan


def test_load_time_grows_with_the_weights(specs):
    small = _plan(specs.write())
    big = _plan(specs.write(sections="parallelism: {tensor: 4}\n", source="meta-llama/Llama-3.1-70B-Instruct"))
    assert k8s.load_seconds(small) == 600            # the floor
    gib = k8s.weights_bytes(big) / k8s.GIB
    assert 125 < gib < 140                           # 70B in 16 bits
    assert k8s.load_seconds(big) == 300 + -(-int(k8s.weights_bytes(big)) // (100 << 20))
    assert k8s.cache_size(big, k8s.options(None)) == f"{-(-int(2 * k8s.weights_bytes(big)) // k8s.GIB)}Gi"


def test_docker_sizes_become_quantities():
    assert [k8s.quantity(x) for x in ("1g", "512m", "2GB", "64k", "8Gi")] == ["1Gi", "512Mi", "2Gi", "64Ki", "8Gi"]


# --- deployc's own checks of manifests: negative controls ---------------------------------------------

def _good(cli, specs):
    return manifests(cli, specs.write())


def test_lint_passes_what_deployc_writes(cli, specs):
    assert k8s.lint(_good(cli, specs), 600) == []


@pytest.mark.parametrize("mutate, problem", [
    (lambda c, s: c["resources"].update({"requests": {"nvidia.com/gpu": 1}, "limits": {}}),
     "nvidia.com/gpu only in requests; extended resources belong in limits"),
    (lambda c, s: c["resources"]["limits"].update({"nvidia.com/gpu": 0.5}), "nvidia.com/gpu 0.5 is not an integer"),
    (lambda c, s: c["resources"]["limits"].update({"nvidia.com/gpu": "1"}), "nvidia.com/gpu '1' is not an integer"),
    (lambda c, s: c["resources"].update({"requests": {"nvidia.com/gpu": 2}}),
     "nvidia.com/gpu requests 2 differ from limits 1"),
    (lambda c, s: c["startupProbe"].update({"failureThreshold": 6}),
     "startupProbe allows 60 s, less than the plausible load time of 600 s"),
    (lambda c, s: c.pop("startupProbe"), "startupProbe allows 0 s"),
    (lambda c, s: s["spec"]["ports"][0].update({"targetPort": 8080}),
     "Service/demo: port 8000 forwards to 8080, which no selected container exposes"),
    (lambda c, s: s["spec"]["ports"][0].update({"targetPort": "metrics"}), "forwards to 'metrics'"),
    (lambda c, s: s["spec"]["selector"].update({"app.kubernetes.io/name": "sglang"}), "forwards to 'http'"),
    (lambda c, s: c["env"].append({"name": "HF_TOKEN2", "value": "hf_" + "a1B2" * 8}), "carries a secret value"),
])
def test_lint_catches_what_schemas_cannot(cli, specs, mutate, problem):
    docs = _good(cli, specs)
    svc = next(d for d in docs if d["kind"] == "Service")
    mutate(engine(docs), svc)
    found = k8s.lint(docs, 600)
    assert any(problem in p for p in found), found


# --- diagnostics, placed in the spec ------------------------------------------------------------------

def _errors(cli, spec, target="vllm"):
    result = cli("build", spec, "--target", target, "--platform", "kubernetes")
    return result.exit_code, result.stderr


def test_short_startup_is_a_warning_at_its_key(specs, cli):
    spec = specs.write(sections="parallelism: {tensor: 4}\nkubernetes:\n  startup_seconds: 300\n",
                       source="meta-llama/Llama-3.1-70B-Instruct")
    code, err = _errors(cli, spec)
    assert code == 0
    assert (f"{spec}:7:20: warning[kubernetes-startup-short]: startup_seconds 300 is shorter than a plausible "
            "load time of 1646 s for 131.4 GiB of weights: Kubernetes would restart the pod mid-load, again and "
            "again\n  hint: remove it (default 1646) or raise it; deployc assumes 100 MiB/s plus 300 s of engine "
            "start") in err


def test_local_model_paths_cannot_reach_a_pod(specs, cli):
    spec = specs.write(source="./models/mine")
    code, err = _errors(cli, spec)
    assert code == 1
    assert (f"{spec}:4:11: error[kubernetes-local-path]: ./models/mine is a path on this machine; a pod on a "
            "cluster node cannot see it") in err


def test_a_service_name_must_start_with_a_letter(spec_file, cli):
    spec = spec_file(spec_text(name="7b-chat"))
    code, err = _errors(cli, spec)
    assert code == 1
    assert (f"{spec}:2:7: error[kubernetes-name]: '7b-chat' cannot name a Kubernetes Service: a Service name "
            "must start with a letter (RFC 1035 label)\n  hint: rename the deployment, e.g. m-7b-chat") in err


def test_servers_that_start_empty_get_a_launch_job(specs, cli):
    docs = manifests(cli, specs.write(**OLLAMA), "ollama")
    assert [d["kind"] for d in docs] == ["PersistentVolumeClaim", "Deployment", "Service", "ConfigMap", "Job"]
    cm, job = docs[3], docs[4]
    assert cm["data"]["Modelfile"].splitlines()[-1].startswith("PARAMETER") or "FROM" in cm["data"]["Modelfile"]
    pod = job["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["command"][:3] == ["ollama", "create", "qwen2.5-0.5b-instruct-gguf"]
    assert c["env"] == [{"name": "DEPLOYC_SERVER", "value": "http://demo:8000"},
                        {"name": "OLLAMA_HOST", "value": "$(DEPLOYC_SERVER)"}]
    assert c["workingDir"] == "/deployc/launch" and pod["restartPolicy"] == "OnFailure"
    probe = docs[1]["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    assert job["spec"]["backoffLimit"] == k8s.backoff_limit(probe["failureThreshold"] * probe["periodSeconds"])
    assert [k8s.backoff_limit(t) for t in (600, 1800, 3600)] == [8, 12, 18]
    assert job["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "launch"


def test_a_launch_into_memory_cannot_serve_replicas(cli, tmp_path):
    sample = (ROOT / "samples/qwen2.5-7b-h100/deploy.yaml").read_text()
    spec = tmp_path / "one" / "deploy.yaml"
    spec.parent.mkdir()
    spec.write_text(sample)
    code, err = _errors(cli, spec, "xinference")
    assert code == 0 and "warning[kubernetes-launch-once]" in err
    other = tmp_path / "deploy.yaml"
    other.write_text(sample + "kubernetes: {replicas: 2}\n")
    code, err = _errors(cli, other, "xinference")
    assert code == 1
    assert (f"{other}:31:24: error[kubernetes-launch-replicas]: the xinference server holds its model only in "
            "memory, and the launch Job loads it into one pod: 1 of 2 replicas would serve nothing") in err


def test_replicas_and_data_parallelism_together_warn(specs, cli):
    spec = specs.write(sections="parallelism: {data: 2}\nkubernetes: {replicas: 2}\n")
    code, err = _errors(cli, spec)
    assert code == 0 and "warning[kubernetes-replicas-data]: 2 replicas of an engine that already runs 2 " \
                         "data-parallel copies: 4 GPUs in all" in err


def test_kubernetes_options_are_strict(specs, cli):
    result = cli("validate", specs.write(sections="kubernetes:\n  replica: 2\n"))
    assert result.exit_code == 1
    assert "error[spec-unknown-key]: unknown key 'replica' in kubernetes" in result.stderr
    assert "did you mean replicas?" in result.stderr


# --- check notices stale and edited committed manifests ----------------------------------------------

def test_check_compares_committed_manifests(specs, cli, tmp_path):
    spec = specs.write(sections="kubernetes: {replicas: 2}\n")
    assert cli("build", spec, "--target", "vllm").exit_code == 0
    assert cli("build", spec, "--target", "vllm", "--platform", "kubernetes").exit_code == 0
    assert cli("check", spec).exit_code == 0
    spec.write_text(spec_text(sections="kubernetes: {replicas: 3}\n"))
    cli("build", spec, "--target", "vllm")
    result = cli("check", spec, "--format", "json")
    assert result.exit_code == 1
    drift = json.loads(result.stdout)["drift"]
    assert [(d["code"], d.get("platform"), PurePosixPath(d["file"]).name) for d in drift] == [
        ("output-stale", "kubernetes", "manifests.yaml")]
    assert drift[0]["regenerate"].endswith("--target vllm --platform kubernetes")
    assert "-  replicas: 2\n+  replicas: 3" in drift[0]["diff"]


def test_check_notices_a_hand_edit_even_without_a_kubernetes_key(specs, cli, tmp_path):
    spec = specs.write()
    cli("build", spec, "--target", "vllm")
    cli("build", spec, "--target", "vllm", "--platform", "kubernetes")
    path = tmp_path / "deploy/vllm/kubernetes/manifests.yaml"
    path.write_text(path.read_text().replace("failureThreshold: 60", "failureThreshold: 6"))
    result = cli("check", spec)
    assert result.exit_code == 1 and "error[output-edited]" in result.stderr


def test_json_contract(specs, cli):
    result, out = build(cli, specs.write(), "vllm")
    out = built_json(result)
    assert set(out) == {"target", "version", "platform", "artifacts", "command", "derived", "diagnostics"}
    assert out["command"][:1] == ["Qwen/Qwen2.5-0.5B-Instruct"]   # the container's args (the image runs vllm serve)


def test_lint_reads_leaderworkerset_templates(cli, specs):
    """The multi-node LeaderWorkerSet reuses lint: its leader and worker templates are checked too, and
    a Service may select on the labels the LWS controller adds to pods."""
    dep = next(d for d in _good(cli, specs) if d["kind"] == "Deployment")
    template = dep["spec"]["template"]
    lws = {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "metadata": {"name": "demo"},
           "spec": {"leaderWorkerTemplate": {"leaderTemplate": template, "workerTemplate": json.loads(
               json.dumps(template))}}}
    svc = {"kind": "Service", "metadata": {"name": "demo"}, "spec": {
        "selector": {**template["metadata"]["labels"], "leaderworkerset.sigs.k8s.io/worker-index": "0"},
        "ports": [{"port": 80, "targetPort": "http"}]}}
    assert k8s.lint([lws, svc], 600) == []
    worker = lws["spec"]["leaderWorkerTemplate"]["workerTemplate"]["spec"]["containers"][0]
    worker["resources"] = {"requests": {"nvidia.com/gpu": 8}}
    assert k8s.lint([lws, svc], 600) == [
        "LeaderWorkerSet/demo workerTemplate container engine: nvidia.com/gpu only in requests; extended "
        "resources belong in limits"]
