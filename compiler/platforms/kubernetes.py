"""The Kubernetes platform: one target's engine container as PersistentVolumeClaim + Deployment + Service.

`deployc build SPEC --target T --platform kubernetes` writes deploy/<T>/kubernetes/manifests.yaml
(one multi-document file: `kubectl apply -f` it; applying the folder would also feed kubectl
deployc-manifest.json). Input: the target's ``Lowered.service`` (targets/_shared/container.Service,
read by attribute: the core never imports a target), the Plan and the spec's ``kubernetes:``
options. The same Service is what compose.yaml is written from, so both run the same container.

Public building blocks (the multi-node LeaderWorkerSet builds on them): ``options``, ``check``,
``labels``, ``env``, ``container``, ``pod_spec``, ``volumes``, ``pvc``, ``deployment``,
``service``, ``probes``, ``load_seconds``, ``cache_size``, ``launch_objects``, ``backoff_limit``,
``documents``, ``lint``, ``lower``.

Decisions worth knowing:
- Secrets by reference only: HF_TOKEN (optional) and every `${NAME}` an env value or argv tail
  references come from ``secretKeyRef`` keys of one Secret (kubernetes.secret, default
  NAME-secrets); argv/env references become Kubernetes' own `$(NAME)` expansion, and every
  literal `$` is written `$$`, which Kubernetes reduces back to `$` (its expansion rules:
  kubernetes/kubernetes third_party/forked/golang/expansion/expand.go @02604f7d: `$$` is an
  escaped `$`, `$(NAME)` a reference, an undefined NAME stays as written).
- argv is exec form: Docker's ENTRYPOINT is Kubernetes' `command`, Docker's CMD its `args`.
- Probes: readiness and liveness GET Service.health_path on the named port `http`; a startupProbe
  holds them off for ``load_seconds``: max(600, 300 + ceil(weights bytes / 100 MiB/s)), about
  10 s per GiB: weights read at 100 MiB/s from the hub or a network volume, plus five minutes of
  engine start, CUDA graphs and warm-up. vLLM's own Kubernetes guide names probes that fire before the server is up as the
  failure users hit (vllm-project/vllm docs/deployment/k8s.md @051f9b87, "Troubleshooting").
  Health routes are the targets' Service.health_path: vLLM, SGLang, TGI and trtllm-serve /health
  (tensorrt_llm/serve/openai_server.py register_routes), Ollama /api/version, XInference /status.
- /dev/shm: an emptyDir of medium Memory, sizeLimit kubernetes.shm_size, else the engine's own
  (Service.shm_size), else 2Gi, the value of vLLM's guide (same file: `name: shm`, sizeLimit 2Gi).
- GPUs: `nvidia.com/gpu` (AMD: `amd.com/gpu`) as an integer in limits only (the device plugin
  sets requests equal to limits for extended resources).
- Model cache: a PVC (ReadWriteOnce; ReadWriteMany when replicas > 1, since every pod mounts it)
  at the container's cache path; size kubernetes.storage_size or 2 x weights (3 x with setup steps:
  checkpoint and engine too), at least 20Gi.
- Rollout: Recreate with one replica (a ReadWriteOnce claim and a full GPU node cannot hold two
  pods), else RollingUpdate with maxSurge 0 (no extra GPUs needed during a rollout).
- enableServiceLinks: false. Kubernetes would otherwise inject `<SERVICE>_PORT=tcp://...`
  variables for every Service in the namespace, and a Service named `vllm` yields VLLM_PORT,
  which vLLM reads as its own setting and refuses as "a URI ... caused by a Kubernetes service
  discovery issue" (vllm-project/vllm vllm/envs.py get_vllm_port @f218f9c2).
- Servers that start empty (Service.launch: Ollama, XInference): a ConfigMap of the launch files
  and a Job that runs the launch steps against the Service with $(DEPLOYC_SERVER) as its URL,
  retrying while the server loads (backoffLimit from the startup budget: ``backoff_limit``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

from deployc.compiler.diagnostics import Diagnostic, SpecPath, error, warning
from deployc.compiler.plan import Plan
from deployc.compiler.render import comment_block, dump_yaml
from deployc.compiler.spec import Kubernetes, is_local
from deployc.compiler.api.container import SERVER_ENV, Service
from deployc.compiler.api.target import Artifact, BuildContext

FILE = "manifests.yaml"
PORT_NAME = "http"
GIB = 1 << 30
DEFAULT_SHM = "2Gi"
MIN_STARTUP_SECONDS = 600
PROBE_PERIOD = 10
LOAD_BYTES_PER_SECOND = 100 * (1 << 20)
ENGINE_START_SECONDS = 300
MIN_CACHE_GIB = 20
OPTIONAL_SECRETS = frozenset({"HF_TOKEN"})

# A Compose-syntax value: `$$` is a literal $, `${NAME}` / `${NAME:?msg}` / `${NAME:-x}` a reference.
_COMPOSE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+][^}]*)?\}")


def options(k8s: Kubernetes | None) -> Kubernetes:
    return k8s if k8s is not None else Kubernetes()


def secret_name(plan: Plan, opts: Kubernetes) -> str:
    return opts.secret or f"{plan.name}-secrets"


# ---------------------------------------------------------------------------------------------
# sizes and times


def weights_bytes(plan: Plan) -> float:
    """All the weights of one copy of the model; without model facts, what the GPUs could hold at most."""
    f = plan.facts
    if f.parameters or f.checkpoint_bytes or f.gguf_bytes:
        from deployc.compiler.memory import weights_per_gpu
        from deployc.compiler.memory_weights import Layout

        whole, _ = weights_per_gpu(plan, f, Layout())    # one copy on one rank: what the download holds
        return whole
    hw = plan.hardware
    return plan.gpus_per_replica * hw.gpu.memory_gib * (hw.memory_utilization or 1.0) * GIB


def load_seconds(plan: Plan) -> int:
    """A plausible worst case for reading the weights and starting the engine: max(600, 300 + weights / 100 MiB/s)."""
    return max(MIN_STARTUP_SECONDS, ENGINE_START_SECONDS + math.ceil(weights_bytes(plan) / LOAD_BYTES_PER_SECOND))


def cache_size(plan: Plan, opts: Kubernetes, copies: int = 2) -> str:
    """The claim: storage_size, else `copies` x the weights (2: the download and room to spare; 3 where setup
    steps also write a converted checkpoint and an engine), at least 20Gi."""
    if opts.storage_size:
        return opts.storage_size
    return f"{max(MIN_CACHE_GIB, math.ceil(copies * weights_bytes(plan) / GIB))}Gi"


def quantity(docker_size: str) -> str:
    """Docker's 1g / 512m / 2GB as a Kubernetes quantity (1Gi, 512Mi)."""
    m = re.fullmatch(r"(\d+)\s*([kmgt]?)i?b?", docker_size.strip().lower())
    if not m:
        return docker_size
    return m.group(1) + {"": "", "k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti"}[m.group(2)]


# ---------------------------------------------------------------------------------------------
# checks on the spec


def check(plan: Plan, opts: Kubernetes, svc: Service | None, target: str) -> list[Diagnostic]:
    """What a Kubernetes pod cannot do that the spec asks for, placed at the spec key."""
    out: list[Diagnostic] = []
    if svc is None:
        out.append(error(
            "kubernetes-unsupported", f"the {target} target runs no engine container deployc can put in a pod",
            hint="build it with the default platform, or pick a target that runs a container (`deployc targets` "
                 "says which)",
            path=("targets", target), anchor="key"))
        return out
    if not re.match(r"^[a-z]", plan.name):
        out.append(error("kubernetes-name", f"{plan.name!r} cannot name a Kubernetes Service: a Service name must "
                         "start with a letter (RFC 1035 label)", hint="rename the deployment, e.g. m-" + plan.name,
                         path=("name",)))
    m = plan.model
    local: list[tuple[SpecPath, str]] = [(("model", "source"), m.source)] if is_local(m.source) else []
    local += [(("model", "tokenizer"), m.tokenizer)] if m.tokenizer and is_local(m.tokenizer) else []
    local += [(("model", k), getattr(m, k)) for k in ("chat_template", "gguf") if getattr(m, k)]
    local += [(("model", "adapters", i, "source"), a.source) for i, a in enumerate(m.adapters) if is_local(a.source)]
    for path, value in local:
        out.append(error(
            "kubernetes-local-path", f"{value} is a path on this machine; a pod on a cluster node cannot see it",
            hint="publish it to a hub repo and name that (the pod downloads it into the cache claim), or build "
                 "an image that contains it and set targets.<name>.image", path=path))
    if opts.startup_seconds is not None and opts.startup_seconds < (need := load_seconds(plan)):
        out.append(warning(
            "kubernetes-startup-short", f"startup_seconds {opts.startup_seconds} is shorter than a plausible load "
            f"time of {need} s for {weights_bytes(plan) / GIB:.1f} GiB of weights: Kubernetes would restart the "
            "pod mid-load, again and again",
            hint=f"remove it (default {need}) or raise it; deployc assumes 100 MiB/s plus 300 s of engine start",
            path=("kubernetes", "startup_seconds")))
    launch = svc.launch
    if launch is not None and not launch.persistent:
        if opts.replicas > 1:
            out.append(error(
                "kubernetes-launch-replicas", f"the {target} server holds its model only in memory, and the launch "
                f"Job loads it into one pod: {opts.replicas - 1} of {opts.replicas} replicas would serve nothing",
                hint="use kubernetes.replicas: 1 (and parallelism.data for copies inside the server)",
                path=("kubernetes", "replicas")))
        else:
            out.append(warning(
                "kubernetes-launch-once", f"the {target} server holds its model only in memory: Job "
                f"{plan.name}-launch loads it once, and a restarted pod comes back empty",
                hint=f"after a pod restart: kubectl delete job {plan.name}-launch, then apply manifests.yaml again",
                path=("targets", target), anchor="key"))
    if opts.replicas > 1 and plan.parallelism.data > 1:
        out.append(warning(
            "kubernetes-replicas-data", f"{opts.replicas} replicas of an engine that already runs "
            f"{plan.parallelism.data} data-parallel copies: {opts.replicas * plan.gpus_needed} GPUs in all",
            hint="use one of the two: parallelism.data inside one pod, or kubernetes.replicas pods",
            path=("kubernetes", "replicas")))
    return out


# ---------------------------------------------------------------------------------------------
# objects


def labels(plan: Plan, target: str, version: str, component: str = "server") -> dict[str, str]:
    return {
        "app.kubernetes.io/name": target,
        "app.kubernetes.io/instance": plan.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/version": version,
        "app.kubernetes.io/managed-by": "deployc",
    }


def selector(plan: Plan, target: str, component: str = "server") -> dict[str, str]:
    """The labels a Service and a Deployment select on: stable across engine versions."""
    return {"app.kubernetes.io/name": target, "app.kubernetes.io/instance": plan.name,
            "app.kubernetes.io/component": component}


def metadata(name: str, opts: Kubernetes, lbls: Mapping[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if opts.namespace:
        meta["namespace"] = opts.namespace
    meta["labels"] = dict(lbls)
    return meta


def literal(text: str) -> str:
    """A literal string where Kubernetes expands $(NAME) (command, args, env values): every $ doubled."""
    return text.replace("$", "$$")


@dataclass
class Env:
    """A container's env list: secret references first, so later values may expand them as $(NAME)."""

    secret: str
    entries: list[dict[str, Any]] = field(default_factory=list)

    def _names(self) -> set[str]:
        return {e["name"] for e in self.entries}

    def from_secret(self, name: str, key: str | None = None) -> None:
        if name not in self._names():
            self.entries.append({"name": name, "valueFrom": {"secretKeyRef": {
                "name": self.secret, "key": key or name, **({"optional": True} if (key or name) in OPTIONAL_SECRETS
                                                             else {})}}})

    def compose_value(self, text: str) -> str:
        """A Compose-syntax value or argv token as Kubernetes text; each referenced NAME comes from the Secret."""
        out, pos = [], 0
        for m in _COMPOSE.finditer(text):
            out.append(literal(text[pos:m.start()]))
            if m.group(0) == "$$":
                out.append("$$")
            else:
                self.from_secret(m.group(1))
                out.append(f"$({m.group(1)})")
            pos = m.end()
        out.append(literal(text[pos:]))
        return "".join(out)

    def set(self, name: str, text: str) -> None:
        whole = _COMPOSE.fullmatch(text)
        if whole and whole.group(1) and whole.group(1) not in {e["name"] for e in self.entries if "value" in e}:
            self.from_secret(name, whole.group(1))
            return
        value = self.compose_value(text)
        self.entries = [e for e in self.entries if e["name"] != name] + [{"name": name, "value": value}]

    @property
    def secret_keys(self) -> list[str]:
        return sorted({e["valueFrom"]["secretKeyRef"]["key"] for e in self.entries if "valueFrom" in e})


def env(svc: Service, secret: str) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """(env list, the argv tail as Kubernetes text, the Secret keys read)."""
    e = Env(secret)
    if not svc.env_pass and not svc.env_set and not svc.command_tail:
        return [], [], []
    for name in svc.env_pass:
        if name not in {k for k, _ in svc.env_set}:
            e.from_secret(name)
    tail = [e.compose_value(t) for t in svc.command_tail]
    for name, value in svc.env_set:
        e.set(name, value)
    return e.entries, tail, e.secret_keys


def probes(svc: Service, startup_seconds: int) -> dict[str, Any]:
    get = {"httpGet": {"path": svc.health_path, "port": PORT_NAME}}
    return {
        "startupProbe": {**get, "periodSeconds": PROBE_PERIOD, "timeoutSeconds": 5,
                         "failureThreshold": math.ceil(startup_seconds / PROBE_PERIOD)},
        "readinessProbe": {**get, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**get, "periodSeconds": 30, "timeoutSeconds": 10, "failureThreshold": 3},
    }


def gpu_resource(svc: Service) -> str:
    return "amd.com/gpu" if svc.amd else "nvidia.com/gpu"


def resources(svc: Service, opts: Kubernetes) -> dict[str, Any]:
    limits: dict[str, Any] = {gpu_resource(svc): svc.gpus}
    requests: dict[str, Any] = {}
    if opts.cpu:
        requests["cpu"] = opts.cpu
    if opts.memory:
        requests["memory"] = opts.memory
        limits["memory"] = opts.memory
    return {"limits": limits, **({"requests": requests} if requests else {})}


def container(svc: Service, plan: Plan, opts: Kubernetes, startup_seconds: int, *, name: str | None = None,
              argv: Sequence[str] | None = None, extra_env: Iterable[dict[str, Any]] = ()) -> tuple[dict[str, Any], list[str]]:
    """The engine container from a Service; (container, Secret keys it reads). argv replaces svc.command."""
    entries, tail, keys = env(svc, secret_name(plan, opts))
    out: dict[str, Any] = {"name": name or "engine", "image": svc.image}
    if svc.entrypoint is not None:
        out["command"] = [literal(t) for t in svc.entrypoint]
    out["args"] = [literal(t) for t in (svc.command if argv is None else argv)] + tail
    out["ports"] = [{"name": PORT_NAME, "containerPort": svc.port, "protocol": "TCP"}]
    all_env = entries + list(extra_env)
    if all_env:
        out["env"] = all_env
    out["resources"] = resources(svc, opts)
    out["volumeMounts"] = mounts(svc)
    out |= probes(svc, startup_seconds)
    return out, keys


def mounts(svc: Service) -> list[dict[str, Any]]:
    """The model cache (the claim, at the Service's cache path) and the in-memory /dev/shm (volumes())."""
    return [{"name": "model-cache", "mountPath": svc.cache.target}, {"name": "dshm", "mountPath": "/dev/shm"}]


def init_containers(svc: Service, plan: Plan, opts: Kubernetes) -> list[dict[str, Any]]:
    """Service.setup steps (argv lists run to completion before the engine starts), if the Service has any."""
    steps = svc.setup
    out = []
    for i, argv in enumerate(steps):
        # each container its own env objects: shared ones would be written as YAML anchors and aliases
        entries, _, _ = env(svc, secret_name(plan, opts))
        c: dict[str, Any] = {"name": f"setup-{i + 1}", "image": svc.image, "command": [literal(t) for t in argv]}
        if entries:
            c["env"] = entries
        c["resources"] = resources(svc, opts)
        c["volumeMounts"] = mounts(svc)
        out.append(c)
    return out


def volumes(plan: Plan, svc: Service, opts: Kubernetes) -> list[dict[str, Any]]:
    shm = opts.shm_size or (quantity(svc.shm_size) if svc.shm_size else DEFAULT_SHM)
    return [{"name": "model-cache", "persistentVolumeClaim": {"claimName": f"{plan.name}-cache"}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm}}]


LAUNCH_DIR = "/deployc/launch"


def backoff_limit(seconds: int) -> int:
    """Failed attempts a Job needs to keep retrying for `seconds`: the kubelet waits 10 s, 20 s, 40 s ...
    at most 300 s between them; two more for luck."""
    total, n = 0, 0
    while total < seconds:
        total += min(10 * 2 ** n, 300)
        n += 1
    return n + 2


def launch_objects(plan: Plan, svc: Service, opts: Kubernetes, target: str, version: str,
                   startup_seconds: int) -> tuple[list[dict[str, Any]], list[str]]:
    """For a server that starts empty (Service.launch): a ConfigMap of the launch files and a Job that runs the
    steps against the Service, retrying while the server loads. (objects, Secret keys read)."""
    launch = svc.launch
    assert launch is not None
    lbls = labels(plan, target, version, "launch")
    url = f"http://{plan.name}:{opts.service_port or plan.server.port}"
    e = Env(secret_name(plan, opts), [{"name": SERVER_ENV, "value": url}])
    for name, value in launch.env:
        e.set(name, value)
    steps = [[e.compose_value(t) for t in step] for step in launch.steps]
    mounts = [{"name": "launch", "mountPath": LAUNCH_DIR, "readOnly": True}] if launch.files else []
    containers = []
    for i, argv in enumerate(steps):
        c: dict[str, Any] = {"name": f"launch-{i + 1}", "image": svc.image, "command": argv}
        if mounts:
            c["workingDir"] = LAUNCH_DIR
        c["env"] = e.entries
        if mounts:
            c["volumeMounts"] = mounts
        containers.append(c)
    pod: dict[str, Any] = {"restartPolicy": "OnFailure", "enableServiceLinks": False, "automountServiceAccountToken": False}
    if len(containers) > 1:
        pod["initContainers"] = containers[:-1]
    pod["containers"] = containers[-1:]
    if launch.files:
        pod["volumes"] = [{"name": "launch", "configMap": {"name": f"{plan.name}-launch"}}]
    if opts.image_pull_secrets:
        pod["imagePullSecrets"] = [{"name": s} for s in opts.image_pull_secrets]
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata(f"{plan.name}-launch", opts, lbls),
           "spec": {"backoffLimit": backoff_limit(startup_seconds),
                    "template": {"metadata": {"labels": dict(lbls)}, "spec": pod}}}
    objects = [job]
    if launch.files:
        objects.insert(0, {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": metadata(f"{plan.name}-launch", opts, lbls),
                           "data": dict(launch.files)})
    return objects, e.secret_keys


def pod_spec(plan: Plan, svc: Service, opts: Kubernetes, containers: list[dict[str, Any]], init: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {"enableServiceLinks": False, "automountServiceAccountToken": False}
    if init:
        spec["initContainers"] = list(init)
    spec["containers"] = containers
    spec["volumes"] = volumes(plan, svc, opts)
    if opts.node_selector:
        spec["nodeSelector"] = dict(sorted(opts.node_selector.items()))
    if opts.tolerations:
        spec["tolerations"] = [{k: v for k, v in t.model_dump().items() if v is not None} for t in opts.tolerations]
    if opts.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in opts.image_pull_secrets]
    return spec


def pvc(plan: Plan, opts: Kubernetes, lbls: Mapping[str, str], copies: int = 2) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteMany" if opts.replicas > 1 else "ReadWriteOnce"]}
    if opts.storage_class:
        spec["storageClassName"] = opts.storage_class
    spec["resources"] = {"requests": {"storage": cache_size(plan, opts, copies)}}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": metadata(f"{plan.name}-cache", opts, lbls), "spec": spec}


def deployment(plan: Plan, opts: Kubernetes, lbls: Mapping[str, str], sel: Mapping[str, str], pod: dict[str, Any]) -> dict[str, Any]:
    strategy = {"type": "Recreate"} if opts.replicas == 1 else {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(plan.name, opts, lbls),
            "spec": {"replicas": opts.replicas, "selector": {"matchLabels": dict(sel)}, "strategy": strategy,
                     "template": {"metadata": {"labels": dict(lbls)}, "spec": pod}}}


def service(plan: Plan, opts: Kubernetes, lbls: Mapping[str, str], sel: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata(plan.name, opts, lbls),
            "spec": {"type": opts.service_type, "selector": dict(sel),
                     "ports": [{"name": PORT_NAME, "port": opts.service_port or plan.server.port,
                                "targetPort": PORT_NAME, "protocol": "TCP"}]}}


def documents(header: Sequence[str], docs: Sequence[dict[str, Any]]) -> str:
    """One multi-document YAML file, a comment header first."""
    import json

    # through JSON: a dict shared by two places would otherwise come out as a YAML anchor and alias
    return comment_block(header) + "".join(("---\n" if i else "") + dump_yaml(json.loads(json.dumps(d)))
                                           for i, d in enumerate(docs))


# ---------------------------------------------------------------------------------------------
# deployc's own checks of produced manifests: what a schema cannot see


def _pod_specs(doc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """(where, pod spec, pod labels) of every pod template in a Deployment, Job or LeaderWorkerSet."""
    spec = doc.get("spec") or {}
    found = []
    if isinstance(spec.get("template"), Mapping):
        t = spec["template"]
        found.append(("template", t.get("spec") or {}, (t.get("metadata") or {}).get("labels") or {}))
    lwt = spec.get("leaderWorkerTemplate") or {}
    for key in ("leaderTemplate", "workerTemplate"):
        if isinstance(lwt.get(key), Mapping):
            t = lwt[key]
            found.append((key, t.get("spec") or {}, (t.get("metadata") or {}).get("labels") or {}))
    return found


INJECTED_LABELS = ("leaderworkerset.sigs.k8s.io/",)


def lint(docs: Sequence[Mapping[str, Any]], min_startup_seconds: int) -> list[str]:
    """Problems schemas miss: GPUs only in requests or not an integer, requests != limits, startup
    budgets shorter than the load time, a Service port that reaches no container port, secrets by value."""
    problems: list[str] = []
    pods_by_labels: list[tuple[Mapping[str, Any], set[str]]] = []
    for doc in docs:
        kind, name = doc.get("kind"), (doc.get("metadata") or {}).get("name")
        for where, pod, labels_ in _pod_specs(doc):
            named: set[str] = set()
            for c in list(pod.get("initContainers") or []) + list(pod.get("containers") or []):
                at = f"{kind}/{name} {where} container {c.get('name')}"
                res = c.get("resources") or {}
                lim, req = res.get("limits") or {}, res.get("requests") or {}
                for key in ("nvidia.com/gpu", "amd.com/gpu"):
                    if key in req and key not in lim:
                        problems.append(f"{at}: {key} only in requests; extended resources belong in limits")
                    if key in lim and (isinstance(lim[key], bool) or not isinstance(lim[key], int)):
                        problems.append(f"{at}: {key} {lim[key]!r} is not an integer count of GPUs")
                    if key in req and key in lim and req[key] != lim[key]:
                        problems.append(f"{at}: {key} requests {req[key]!r} differ from limits {lim[key]!r}")
                for e in c.get("env") or []:
                    if "value" in e and re.search(r"(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,})", str(e["value"])):
                        problems.append(f"{at}: env {e['name']} carries a secret value; use secretKeyRef")
                for p in c.get("ports") or []:
                    named.add(p.get("name"))
                    named.add(p.get("containerPort"))
                sp = c.get("startupProbe")
                if c in (pod.get("containers") or []) and (c.get("readinessProbe") or c.get("livenessProbe")):
                    budget = (sp or {}).get("failureThreshold", 3) * (sp or {}).get("periodSeconds", 10) \
                        if sp else 0
                    if budget < min_startup_seconds:
                        problems.append(f"{at}: startupProbe allows {budget} s, less than the plausible load time "
                                        f"of {min_startup_seconds} s; probes would kill the pod mid-load")
            pods_by_labels.append((labels_, named))
    for doc in docs:
        if doc.get("kind") != "Service":
            continue
        sel = (doc.get("spec") or {}).get("selector") or {}
        # labels the LeaderWorkerSet controller adds to its pods are not in the templates
        sel = {k: v for k, v in sel.items() if not k.startswith(INJECTED_LABELS)}
        targets = [named for lbls, named in pods_by_labels if sel and all(lbls.get(k) == v for k, v in sel.items())]
        for p in (doc.get("spec") or {}).get("ports") or []:
            tp = p.get("targetPort", p.get("port"))
            if not any(tp in named for named in targets):
                problems.append(f"Service/{doc['metadata']['name']}: port {p.get('port')} forwards to {tp!r}, "
                                "which no selected container exposes")
    return problems


# ---------------------------------------------------------------------------------------------
# the platform


@dataclass(frozen=True)
class PlatformOutput:
    artifacts: tuple[Artifact, ...]
    command: tuple[str, ...] | None
    diagnostics: tuple[Diagnostic, ...] = ()


def header(plan: Plan, ctx: BuildContext, target: str, title: str, version: str, opts: Kubernetes,
           keys: Sequence[str], svc: Service | None = None) -> list[str]:
    from deployc.compiler.render import banner_lines

    ns = f" -n {opts.namespace}" if opts.namespace else ""
    secret = secret_name(plan, opts)
    literals = " ".join(f"--from-literal={k}=..." for k in keys)
    return banner_lines(ctx.spec_name, ctx.spec_digest, target, title, version) + [
        "",
        f"Kubernetes: {opts.replicas} x {title} {version} behind Service {plan.name}, port "
        f"{opts.service_port or plan.server.port}.",
        f"1. the Secret, by you (deployc writes no values): kubectl{ns} create secret generic {secret} {literals}",
        f"   keys: {', '.join(keys)}" + (" (HF_TOKEN optional: gated models only)" if "HF_TOKEN" in keys else ""),
        f"2. kubectl{ns} apply -f manifests.yaml   (this file, not the folder: it also holds deployc-manifest.json)",
    ] + ([f"3. Job {plan.name}-launch loads the model once the server answers (it retries while the server "
          "starts): kubectl" + ns + f" wait --for=condition=complete job/{plan.name}-launch --timeout=2h"]
         if svc is not None and svc.launch is not None else [])


def lower(plan: Plan, svc: Service, k8s: Kubernetes | None, *, target: str, title: str, version: str,
          ctx: BuildContext) -> PlatformOutput:
    """The manifests of one target (single node: PVC, Deployment, Service)."""
    opts = options(k8s)
    startup = opts.startup_seconds or load_seconds(plan)
    lbls, sel = labels(plan, target, version), selector(plan, target)
    engine, keys = container(svc, plan, opts, startup)
    init = init_containers(svc, plan, opts)
    pod = pod_spec(plan, svc, opts, [engine], init)
    docs = [pvc(plan, opts, lbls, 3 if init else 2), deployment(plan, opts, lbls, sel, pod), service(plan, opts, lbls, sel)]
    if svc.launch is not None:
        more, launch_keys = launch_objects(plan, svc, opts, target, version, startup)
        docs += more
        keys = sorted(set(keys) | set(launch_keys))
    diags = [error("kubernetes-lint", f"deployc produced a manifest its own checks reject: {p}",
                   hint="a deployc bug: please report it with the spec")
             for p in lint(docs, min(startup, load_seconds(plan)))]
    text = documents(header(plan, ctx, target, title, version, opts, keys, svc), docs)
    command = tuple((svc.entrypoint or ()) + tuple(svc.command) + tuple(svc.command_tail))
    return PlatformOutput((Artifact(FILE, text),), command, tuple(diags))
