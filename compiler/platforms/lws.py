"""Kubernetes, multi-node: one copy of the model over several pods as a LeaderWorkerSet.

When a target's Lowered carries a ``group`` (targets/_shared/multinode.NodeGroup: the leader's
and the workers' engine containers), `--platform kubernetes` writes one
leaderworkerset.x-k8s.io/v1 LeaderWorkerSet (kubernetes-sigs/lws, pinned at v0.10.0, commit
2161f38ff333f9e24d3c44adef7cd5d9787cac00) plus a Service in front of the leaders, built from the
single-node building blocks of compiler/platforms/kubernetes.py (same env, Secret references,
probes, /dev/shm, GPU limits). The LWS controller must be installed in the cluster.

Decisions, with their place in the LWS source (api/leaderworkerset/v1/leaderworkerset_types.go
unless named otherwise):
- spec.replicas = parallelism.data x kubernetes.replicas groups; leaderWorkerTemplate.size = the
  node count (leader included, :158-165).
- restartPolicy RecreateGroupOnPodRestart (:170-173, :328-332): a restarted node cannot rejoin a
  running torch.distributed world, so the whole group restarts together.
- startupPolicy LeaderCreated (:135-138): workers start with the leader. LeaderReady would wait for
  a leader whose readiness (the HTTP /health route) needs the workers first: a deadlock.
- The workers' containers serve no HTTP (vLLM --headless, SGLang node_rank >= 1), so they get no
  HTTP port and no probes; the leader keeps the single-node startup/readiness/liveness probes.
- Each pod gets its own model-cache claim through leaderWorkerTemplate.volumeClaimTemplates
  (:180-185; ReadWriteOnce; every node reads the checkpoint), instead of one shared claim.
- The engines reach the leader through $(LWS_LEADER_ADDRESS) and learn their rank from
  $(LWS_WORKER_INDEX), the variables the LWS pod webhook injects into every container
  (:64-75; pkg/utils/pod/pod_utils.go AddLWSVariables): those references are the only `$(...)`
  left unescaped in args.
- The Service `<name>-leader` selects the leader pods: the leaderTemplate's own labels
  (app.kubernetes.io/component: leader, ...) and the ones the controller puts on them,
  leaderworkerset.sigs.k8s.io/name = <name> and leaderworkerset.sigs.k8s.io/worker-index = "0"
  (:37-45). Not `<name>`: the controller creates a headless Service of that name for the pods'
  DNS (pkg/controllers/leaderworkerset_controller.go, "Create headless service").
- Name limits (deployc's own checks; a schema cannot see them): the webhook validates the name as
  a DNS-1035 label (pkg/webhooks/leaderworkerset_webhook.go:127-129: starts with a letter, at most
  63), and the worker StatefulSet `<name>-<group>` must stay within 52 characters, because its pods
  get the label controller-revision-hash = `<statefulset>-<hash of up to 10 characters>`, at most 63
  (site/content/en/docs/troubleshooting/_index.md, "Unable to Create LWS Object with a Name
  Exceeding 51 Characters", whose own rule is 51 - int(replicas / 10); deployc counts the digits of
  the highest group index, which gives 50 for up to 10 groups: one stricter than that rule, whose
  51 leaves no room for the '-' and the single-digit index of `<name>-0`).
- Every LWS deployc writes is validated against the CRD's own OpenAPI schema (data/
  leaderworkerset.x-k8s.io_v1.schema.json, converted by conformance/lws_crd_to_jsonschema.py) in
  the fast test suite, since kubernetes-validate only warns on kinds it has no schema for.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from collections.abc import Mapping, Sequence

from deployc.compiler.diagnostics import Diagnostic, error
from deployc.compiler.plan import Plan
from deployc.compiler.platforms import kubernetes as k8s
from deployc.compiler.spec import Kubernetes
from deployc.compiler.api.container import NodeGroup, Service
from deployc.compiler.api.target import Artifact, BuildContext

API_VERSION = "leaderworkerset.x-k8s.io/v1"
KIND = "LeaderWorkerSet"
LWS_RELEASE = "v0.10.0"
LWS_COMMIT = "2161f38ff333f9e24d3c44adef7cd5d9787cac00"
SCHEMA_FILE = Path(__file__).parent / "data" / "leaderworkerset.x-k8s.io_v1.schema.json"

# The variables the LWS webhook injects (leaderworkerset_types.go:64-75).
LWS_ENV = ("LWS_LEADER_ADDRESS", "LWS_GROUP_SIZE", "LWS_WORKER_INDEX")
NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"
# A StatefulSet's pods carry controller-revision-hash = <statefulset name>-<hash>, a label value (<= 63),
# and the hash takes up to 10 characters (kubernetes/kubernetes#64023).
MAX_STATEFULSET_NAME = 63 - 1 - 10
_LWS_REF = re.compile(r"\$\$\((" + "|".join(LWS_ENV) + r")\)")


def max_name_length(groups: int) -> int:
    """Longest LWS name whose worker StatefulSets `<name>-<group index>` keep their pods' labels valid."""
    return MAX_STATEFULSET_NAME - 1 - len(str(max(groups - 1, 0)))


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return data


def check(plan: Plan, opts: Kubernetes, group: NodeGroup) -> list[Diagnostic]:
    """What the LWS controller would refuse or break on that a schema cannot see."""
    out: list[Diagnostic] = []
    groups = group.replicas * opts.replicas
    limit = max_name_length(groups)
    if len(plan.name) > limit:
        out.append(error(
            "kubernetes-lws-name", f"name {plan.name!r} has {len(plan.name)} characters; a LeaderWorkerSet of "
            f"{groups} group(s) takes at most {limit}: its worker StatefulSets `{plan.name}-<group>` would give "
            "their pods a controller-revision-hash label longer than 63 characters, and they would never start",
            hint=f"shorten name to {limit} characters or fewer", path=("name",)))
    # A name starting with a digit (not DNS-1035) is kubernetes.check's kubernetes-name error already.
    return out


def _lws_args(tokens: Sequence[str], node_args_at: int) -> list[str]:
    """Argv as Kubernetes text: every $ doubled (literal), except the LWS references in the node flags
    (from node_args_at on), which Kubernetes expands."""
    return [k8s.literal(t) if i < node_args_at else _LWS_REF.sub(r"$(\1)", k8s.literal(t))
            for i, t in enumerate(tokens)]


def _engine(svc: Service, plan: Plan, opts: Kubernetes, startup: int, worker: bool, group: NodeGroup) -> tuple[dict[str, Any], list[str]]:
    c, keys = k8s.container(svc, plan, opts, startup)
    tail = c["args"][len(svc.command):]
    c["args"] = _lws_args(svc.command, group.node_args_at) + tail
    if worker:  # serves nothing: no HTTP port, no probes on it
        c.pop("ports")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            c.pop(probe)
    else:
        c["ports"] = c["ports"] + [{"name": name, "containerPort": port, "protocol": "TCP"}
                                   for name, port in group.internal_ports]
    return c, keys


def _template(plan: Plan, svc: Service, opts: Kubernetes, container: dict[str, Any], lbls: Mapping[str, str]) -> dict[str, Any]:
    pod = k8s.pod_spec(plan, svc, opts, [container], k8s.init_containers(svc, plan, opts))
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "model-cache"]  # from volumeClaimTemplates
    return {"metadata": {"labels": dict(lbls)}, "spec": pod}


def claim_template(plan: Plan, opts: Kubernetes) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"]}
    if opts.storage_class:
        spec["storageClassName"] = opts.storage_class
    spec["resources"] = {"requests": {"storage": k8s.cache_size(plan, opts)}}
    return {"metadata": {"name": "model-cache"}, "spec": spec}


def leader_worker_set(plan: Plan, group: NodeGroup, opts: Kubernetes, *, target: str, version: str,
                      startup: int) -> tuple[dict[str, Any], list[str]]:
    lbls = k8s.labels(plan, target, version)
    leader, keys = _engine(group.leader, plan, opts, startup, False, group)
    worker, worker_keys = _engine(group.worker, plan, opts, startup, True, group)
    spec = {
        "replicas": group.replicas * opts.replicas,
        "startupPolicy": "LeaderCreated",
        "leaderWorkerTemplate": {
            "size": group.size,
            "restartPolicy": "RecreateGroupOnPodRestart",
            "leaderTemplate": _template(plan, group.leader, opts, leader, {**lbls, "app.kubernetes.io/component":
                                                                          "leader"}),
            "workerTemplate": _template(plan, group.worker, opts, worker, {**lbls, "app.kubernetes.io/component":
                                                                          "worker"}),
            "volumeClaimTemplates": [claim_template(plan, opts)],
        },
    }
    doc = {"apiVersion": API_VERSION, "kind": KIND, "metadata": k8s.metadata(plan.name, opts, lbls), "spec": spec}
    return doc, sorted(set(keys) | set(worker_keys))


def leader_selector(plan: Plan, target: str) -> dict[str, str]:
    """The leader pods: the leaderTemplate's own labels, and the ones the LWS controller adds to them."""
    return {**k8s.selector(plan, target, "leader"), NAME_LABEL: plan.name, WORKER_INDEX_LABEL: "0"}


def leader_service(plan: Plan, opts: Kubernetes, target: str, version: str) -> dict[str, Any]:
    doc = k8s.service(plan, opts, k8s.labels(plan, target, version), leader_selector(plan, target))
    doc["metadata"]["name"] = f"{plan.name}-leader"
    return doc


def lint(docs: Sequence[Mapping[str, Any]], min_startup_seconds: int) -> list[str]:
    """The single-node checks on every pod template, plus: the leader Service reaches the leader's HTTP port."""
    problems = k8s.lint([d for d in docs if d.get("kind") != "Service"], min_startup_seconds)
    lws = next(d for d in docs if d.get("kind") == KIND)
    leader = lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"]
    named = {p.get(k) for c in leader for p in c.get("ports", []) for k in ("name", "containerPort")}
    for doc in docs:
        if doc.get("kind") == "Service":
            sel = doc["spec"]["selector"]
            leader_labels = lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["metadata"]["labels"]
            own = {k: v for k, v in sel.items() if k not in (NAME_LABEL, WORKER_INDEX_LABEL)}
            if sel.get(NAME_LABEL) != lws["metadata"]["name"] or sel.get(WORKER_INDEX_LABEL) != "0" \
                    or any(leader_labels.get(k) != v for k, v in own.items()):
                problems.append(f"Service/{doc['metadata']['name']}: selector {sel} does not pick the leader pods")
            problems += [f"Service/{doc['metadata']['name']}: port {p['port']} forwards to {p['targetPort']!r}, "
                         "which the leader does not expose" for p in doc["spec"]["ports"] if p["targetPort"] not in named]
    return problems


def lower(plan: Plan, group: NodeGroup, k8s_opts: Kubernetes | None, *, target: str, title: str, version: str,
          ctx: BuildContext) -> k8s.PlatformOutput:
    opts = k8s.options(k8s_opts)
    startup = opts.startup_seconds or k8s.load_seconds(plan)
    lws, keys = leader_worker_set(plan, group, opts, target=target, version=version, startup=startup)
    docs = [lws, leader_service(plan, opts, target, version)]
    diags = tuple(error("kubernetes-lint", f"deployc produced a manifest its own checks reject: {p}",
                        hint="a deployc bug: please report it with the spec")
                  for p in lint(docs, min(startup, k8s.load_seconds(plan))))
    header = k8s.header(plan, ctx, target, title, version, opts, keys)
    header[header.index("") + 1] = (
        f"Kubernetes: {lws['spec']['replicas']} group(s) of {group.size} pods ({title} {version}, "
        f"{group.leader.gpus} GPU(s) each) as a LeaderWorkerSet ({API_VERSION}; install the LWS controller "
        f"{LWS_RELEASE} or newer first), behind Service {plan.name}-leader, port "
        f"{opts.service_port or plan.server.port}.")
    leader = group.leader
    command = tuple((leader.entrypoint or ()) + tuple(leader.command) + tuple(leader.command_tail))
    return k8s.PlatformOutput((Artifact(k8s.FILE, k8s.documents(header, docs)),), command, diags)
