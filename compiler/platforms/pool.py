"""Kubernetes, multi-node, "pool" groups: a coordinator that serves the API plus workers that join it.

XInference spans nodes this way (targets/xinference: xinference-supervisor, xinference-worker -e
SUPERVISOR -H SELF, a launch with n_worker). The manifests, built from the single-node blocks of
compiler/platforms/kubernetes.py:
- Deployment `<name>` (one pod, no GPUs): the coordinator, with the probes on its health route;
  Service `<name>` in front of it (the API, and the URL the workers and the launch Job use).
- Deployment `<name>-workers`: size x replicas pods of the GPUs of one node each; they reach the
  coordinator at $(DEPLOYC_SERVER) (the Service's URL) and announce $(DEPLOYC_NODE_ADDR), the pod's
  own IP from the downward API (status.podIP): XInference's -H is both the address a process binds
  and the one the others dial, so it cannot be a Service name or 0.0.0.0. Their model cache is one
  ReadWriteMany claim (every worker pod mounts it).
- The coordinator's launch ConfigMap and Job (kubernetes.launch_objects), which load the model over
  the workers once they have joined (the Job retries while they start).
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from deployc.compiler.diagnostics import error
from deployc.compiler.plan import Plan
from deployc.compiler.platforms import kubernetes as k8s
from deployc.compiler.spec import Kubernetes
from deployc.compiler.api.container import NODE_ADDR_ENV, SERVER_ENV, NodeGroup, Service
from deployc.compiler.api.target import Artifact, BuildContext


def _fill_refs(c: dict[str, Any], keys: list[str], url: str) -> list[str]:
    """The platform's own references in a container's env: the coordinator's URL and the pod's IP,
    never Secret keys."""
    own = {SERVER_ENV: {"name": SERVER_ENV, "value": url},
           NODE_ADDR_ENV: {"name": NODE_ADDR_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}}
    env = [own.get(e["name"], e) for e in c.get("env", [])]
    if env:
        c["env"] = env
    return [k for k in keys if k not in own]


def _container(svc: Service, plan: Plan, opts: Kubernetes, startup: int, url: str, probes: bool) -> tuple[dict[str, Any], list[str]]:
    c, keys = k8s.container(svc, plan, opts, startup)
    keys = _fill_refs(c, keys, url)
    if svc.gpus == 0:
        c["resources"]["limits"].pop(k8s.gpu_resource(svc))
        if not c["resources"]["limits"]:
            c["resources"].pop("limits")
        if not c["resources"]:
            c.pop("resources")
        c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "model-cache"]
    if not probes:
        c.pop("ports")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            c.pop(probe)
    return c, keys


def _pod(plan: Plan, svc: Service, opts: Kubernetes, c: dict[str, Any]) -> dict[str, Any]:
    pod = k8s.pod_spec(plan, svc, opts, [c])
    if svc.gpus == 0:
        pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "model-cache"]
    return pod


def _deployment(name: str, replicas: int, opts: Kubernetes, lbls: Mapping[str, str], sel: Mapping[str, str],
                pod: dict[str, Any]) -> dict[str, Any]:
    strategy = {"type": "Recreate"} if replicas == 1 else {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": k8s.metadata(name, opts, lbls),
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(sel)}, "strategy": strategy,
                     "template": {"metadata": {"labels": dict(lbls)}, "spec": pod}}}


def lower(plan: Plan, group: NodeGroup, k8s_opts: Kubernetes | None, *, target: str, title: str, version: str,
          ctx: BuildContext) -> k8s.PlatformOutput:
    opts = k8s.options(k8s_opts)
    startup = opts.startup_seconds or k8s.load_seconds(plan)
    url = f"http://{plan.name}:{opts.service_port or plan.server.port}"
    coordinator, workers = group.leader, group.worker
    count = group.size * group.replicas * opts.replicas
    lbls, sel = k8s.labels(plan, target, version), k8s.selector(plan, target)
    wl, ws = k8s.labels(plan, target, version, "worker"), k8s.selector(plan, target, "worker")
    c_main, keys = _container(coordinator, plan, opts, startup, url, probes=True)
    c_worker, worker_keys = _container(workers, plan, opts, startup, url, probes=False)
    claim = k8s.pvc(plan, opts, wl, 2)
    claim["spec"]["accessModes"] = ["ReadWriteMany"]  # every worker pod mounts it
    docs = [claim,
            _deployment(plan.name, 1, opts, lbls, sel, _pod(plan, coordinator, opts, c_main)),
            k8s.service(plan, opts, lbls, sel),
            _deployment(f"{plan.name}-workers", count, opts, wl, ws, _pod(plan, workers, opts, c_worker))]
    more, launch_keys = k8s.launch_objects(plan, coordinator, opts, target, version, startup)
    docs += more
    keys = sorted(set(keys) | set(worker_keys) | set(launch_keys))
    diags = tuple(error("kubernetes-lint", f"deployc produced a manifest its own checks reject: {p}",
                        hint="a deployc bug: please report it with the spec")
                  for p in k8s.lint(docs, min(startup, k8s.load_seconds(plan))))
    header = k8s.header(plan, ctx, target, title, version, opts, keys, coordinator)
    header[header.index("") + 1] = (
        f"Kubernetes: {title} {version}, a coordinator without GPUs behind Service {plan.name} and {count} worker "
        f"pod(s) of {workers.gpus} GPU(s) ({group.size} per copy of the model) that join it; port "
        f"{opts.service_port or plan.server.port}.")
    command = tuple((coordinator.entrypoint or ()) + tuple(coordinator.command) + tuple(coordinator.command_tail))
    return k8s.PlatformOutput((Artifact(k8s.FILE, k8s.documents(header, docs)),), command, diags)
