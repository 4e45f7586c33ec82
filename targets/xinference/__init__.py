"""The XInference target: start.sh, launch.sh, launch.py, launch.json (and register.json).

XInference is a cluster that models are launched into, so a deployment is two steps:
start.sh runs `xinference-local --host H --port P`, then launch.sh (`xinference
launch ...`) or launch.py (xinference-client's RESTfulClient.launch_model) loads the
model; launch.json is the same request as the body of POST /v1/models. Every spelling is
checked against XInference's own source at each pinned release (versions.py names the
commits), chiefly:
  xinference/deploy/cmdline.py   `xinference-local`, `xinference launch`, `xinference register`
  xinference/deploy/utils.py     handle_click_args_type (how extra `--key value` pairs are typed)
  xinference/api/restful_api.py  launch_model (POST /v1/models)
  xinference/model/llm/vllm/core.py  VLLMModelConfig, _sanitize_model_config
  xinference_client/client/restful/restful_client.py  Client.launch_model
and the conformance tier feeds launch.py's call to the real client of each version and
compares the request it would send with launch.json.

Spec -> XInference, decisions worth knowing:
- Model: `targets.xinference.model_name` launches a built-in registry model (its size by
  `size_in_billions`, which the registry needs to pick the right checkpoint); a local
  model.source is then its model_path. Without model_name, register.json registers a
  custom LLM named after the spec (name) that points at the hub id and revision, borrowing
  chat template and architecture from `model_family` (XInference requires one); a local
  source is passed as the launch's model_path (a registered model_uri must be absolute).
- The model uid is model.served_name: XInference's OpenAI API takes the uid as "model".
- Engine: vllm only, spelled vLLM as XInference's registry does (the default a GPU user
  expects; the spec's limits and parallelism are vLLM engine arguments). Engine kwargs use
  vLLM's names: tensor_parallel_size, pipeline_parallel_size, gpu_memory_utilization,
  max_model_len, max_num_seqs, max_num_batched_tokens, dtype, kv_cache_dtype.
  n_gpu = tensor x pipeline; data -> replica.
- Quantization has two names: XInference's registry `quantization` (-q: none, Int4, ...)
  with model_format, and the engine's `model_quantization`. none -> pytorch/none; awq and
  gptq -> awq|gptq / Int4 (override with targets.xinference.quantization, e.g. Int8), the
  engine reads the method from the checkpoint; fp8 -> pytorch/none + model_quantization fp8
  (vLLM quantizes at load). int4, int8, bitsandbytes and gguf are refused.
- trust_remote_code is always spelled (`xinference launch` defaults it to TRUE, and
  1.17.1's vLLM engine does too); 4.1.0 honours it only when the server runs with
  XINFERENCE_TRUST_REMOTE_CODE=1, which start.sh exports (0 when the spec says false).
- API key (4.1.0): database auth is on by default there; start.sh exports
  XINFERENCE_AUTH_ADVANCED=1 with server.api_key_env (the key must be one XInference
  issued after its first-run setup) and 0 without, so a spec without a key gets an open
  server as it says. 1.17.1 authenticates only through an --auth-config file of users and
  passwords, which deployc cannot write without secrets: refused there.
- LoRA adapters: --lora-modules NAME PATH / peft_model_config.lora_list; XInference's vLLM
  engine enables LoRA with max_loras = their count itself, deployc adds max_lora_rank (the
  smallest vLLM choice that holds every known rank) when an adapter's rank exceeds 16.
  Local adapter paths resolve from the spec's folder like the model's.
- Refused everywhere: a separate tokenizer and a chat template file (the vLLM engine of
  XInference takes neither through launch kwargs), max_output_tokens (XInference sets each
  request's max_tokens itself), max_input_tokens other than max_model_len - 1.
- launch.json and launch.py carry what `xinference launch` sends without being told
  (4.1.0: enable_thinking false, i.e. hybrid reasoning off), so all three send one request.
- Multi-node (plan.nodes > 1): XInference's distributed mode. start-supervisor.sh runs
  `xinference-supervisor -H $SUPERVISOR_ADDR --port P` on node 0, start-worker.sh
  `xinference-worker -e http://$SUPERVISOR_ADDR:P -H $WORKER_ADDR` on every node (node 0
  included: the supervisor holds no GPUs), and the launch asks for n_worker = nodes with
  n_gpu = the GPUs of one node ("if n_worker>1, means number of GPUs per worker":
  cmdline.py model_launch --n-gpu help, 4.1.0 :863, 1.17.1 :800; --n-worker 4.1.0 :854,
  1.17.1 :791), which XInference's vLLM engine runs over its own xoscar executor
  (model/llm/vllm/core.py: n_worker, 4.1.0 :782, 1.17.1 :308). -H is both the address a process
  binds and the one it tells the others (cmdline.py supervisor/worker: address=f"{host}:{port}";
  the worker asks the supervisor's REST API for its internal address), so it must be the node's
  own reachable address, never 0.0.0.0: hence SUPERVISOR_ADDR and WORKER_ADDR, and launch.sh /
  launch.py reach the supervisor at http://$SUPERVISOR_ADDR:P. Flags checked by the real click
  commands in the conformance tier.
- targets.xinference.args are `--key value` pairs appended to `xinference launch` and
  typed the way handle_click_args_type types them in launch.json/launch.py.
"""

from __future__ import annotations

import json
import pprint
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from compiler import memory
from compiler.diagnostics import Diagnostic, error
from compiler.memory import Budget, EngineMemory
from compiler.plan import Plan
from compiler.render import render_template
from compiler.target_api import Artifact, BuildContext, Capability, Lowered, Target, TargetOptions
from targets._shared import container, multinode
from targets.xinference.versions import VERSIONS, XinferenceVersion

TEMPLATES = Path(__file__).parent / "templates"
NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

# targets.xinference.engine -> XInference's engine name (model/llm/__init__.py:288
# SUPPORTED_ENGINES["vLLM"]; matched case-insensitively, llm_family.py check_engine_by_spec_parameters).
ENGINES = {"vllm": "vLLM"}

# spec quantization -> (model_format, XInference quantization, engine model_quantization)
QUANT: dict[str, tuple[str, str, str | None]] = {
    "none": ("pytorch", "none", None),
    "fp8": ("pytorch", "none", "fp8"),
    "awq": ("awq", "Int4", None),
    "gptq": ("gptq", "Int4", None),
}

# Launch kwargs deployc derives, and the spec path that owns each (for `args` conflicts).
OWNED: dict[str, tuple[str, ...]] = {
    "model_path": ("model", "source"),
    "revision": ("model", "revision"),
    "trust_remote_code": ("model", "trust_remote_code"),
    "dtype": ("precision", "dtype"),
    "quantization": ("precision", "quantization"),
    "model_quantization": ("precision", "quantization"),
    "kv_cache_dtype": ("precision", "kv_cache_dtype"),
    "tensor_parallel_size": ("parallelism", "tensor"),
    "pipeline_parallel_size": ("parallelism", "pipeline"),
    "max_model_len": ("limits", "max_model_len"),
    "context_length": ("limits", "max_model_len"),
    "max_num_seqs": ("limits", "max_concurrency"),
    "max_num_batched_tokens": ("limits", "max_batch_tokens"),
    "gpu_memory_utilization": ("hardware", "memory_utilization"),
    # XInference's vLLM engine passes enable_lora and max_loras to AsyncEngineArgs itself
    # (vllm/core.py:1076-1111): an extra kwarg of either name would be passed twice.
    "enable_lora": ("model", "adapters"),
    "max_loras": ("model", "adapters"),
    "max_lora_rank": ("model", "adapters"),
}
# vLLM's --max-lora-rank choices (vllm/config/lora.py MaxLoRARanks, the same in vLLM 0.11 to 0.33)
# and its default; XInference leaves the rank to vLLM.
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
DEFAULT_LORA_RANK = 16
# Named fields of the launch request (restful_api.py launch_model; client launch_model params):
# as an extra `--key` they would be passed twice.
REQUEST_FIELDS = frozenset({
    "model_uid", "model_name", "model_engine", "model_size_in_billions", "model_format", "model_type",
    "replica", "n_worker", "n_gpu", "peft_model_config", "request_limits", "worker_ip", "gpu_idx",
    "download_hub", "enable_thinking", "enable_virtual_env", "virtual_env_packages", "virtual_env_find_links",
    "envs", "replica_config", "wait_ready", "endpoint", "api_key",
})


class XinferenceOptions(TargetOptions):
    """targets.xinference: which model XInference launches, and with which engine."""

    engine: Literal["vllm"] = Field(
        default="vllm", description="XInference's model_engine. deployc writes the vLLM engine's kwargs "
                                    "(the spec's limits and parallelism are vLLM engine arguments).")
    model_name: str | None = Field(
        default=None, pattern=NAME, max_length=200,
        description="A built-in XInference model name (e.g. qwen2.5-instruct). Default: register model.source "
                    "as a custom model (register.json) named after the spec.")
    model_family: str | None = Field(
        default=None, pattern=NAME, max_length=200,
        description="For a custom model: the built-in family whose chat template and architecture it shares "
                    "(e.g. qwen2.5-instruct). XInference requires one to register an LLM.")
    size_in_billions: float | None = Field(
        default=None, gt=0, le=100000,
        description="Model size in billions as XInference's registry lists it (0.5 is written 0_5). Required "
                    "with model_name; default for a custom model: model.facts.parameters, to one decimal.")
    quantization: str | None = Field(
        default=None, pattern=NAME, max_length=40,
        description="XInference's own quantization name for the checkpoint (e.g. Int4, Int8, none), not the "
                    "engine's. Default: none, or Int4 for awq and gptq.")


def _opts(opts: TargetOptions) -> XinferenceOptions:
    assert isinstance(opts, XinferenceOptions)
    return opts


def size_label(size: float) -> int | str:
    """XInference's spelling of a size: 7 stays an int, 0.5 becomes the string 0_5."""
    if float(size).is_integer():
        return int(size)
    return f"{size:g}".replace(".", "_")


def click_value(raw: str, v: XinferenceVersion) -> Any:
    """The value `xinference launch` makes of an extra argument (deploy/utils.py handle_click_args_type)."""
    if raw == "None":
        return None
    if raw in ("True", "true"):
        return True
    if raw in ("False", "false"):
        return False
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    if v.args_json and raw.startswith(("{", "[")):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    return raw


class XinferenceTarget(Target):
    name = "xinference"
    title = "XInference"
    versions = tuple(VERSIONS)
    options = XinferenceOptions

    def capabilities(self, version: str) -> frozenset[Capability]:
        return VERSIONS[version].capabilities

    def unsupported_hint(self, capability: Capability, version: str) -> str | None:
        return {
            Capability.API_KEY: f"XInference {version} authenticates only through an --auth-config file of users "
                                "and passwords: pin targets.xinference.version: 4.1.0, or put a gateway in front",
            Capability.CUSTOM_TOKENIZER: "ship the tokenizer files inside the model folder",
            Capability.CHAT_TEMPLATE: "a registered model takes its chat template from targets.xinference."
                                      "model_family; pick the family whose template fits",
            Capability.MAX_OUTPUT_TOKENS: "XInference fills each request's max_tokens up to the context window; "
                                          "let clients send max_tokens",
            Capability.QUANT_INT4: "name the checkpoint's format: quantization: awq or gptq "
                                   "(targets.xinference.quantization: Int4)",
            Capability.QUANT_INT8: "name the checkpoint's format: quantization: gptq with "
                                   "targets.xinference.quantization: Int8",
            Capability.QUANT_BITSANDBYTES: "serve a pre-quantized awq or gptq checkpoint",
            Capability.QUANT_GGUF: "XInference runs GGUF with its llama.cpp engine, which deployc does not write; "
                                   "use the ollama target",
        }.get(capability)

    def check(self, plan: Plan, opts: TargetOptions, version: str) -> list[Diagnostic]:
        o, v = _opts(opts), VERSIONS[version]
        out: list[Diagnostic] = []
        lim, m = plan.limits, plan.model
        if o.image is not None:
            out.append(error("xinference-image", "the xinference target writes scripts for a local XInference "
                             "install, not a container", hint="remove targets.xinference.image",
                             path=("targets", self.name, "image")))
        if lim.max_input_tokens is not None and (lim.max_model_len is None
                                                 or lim.max_input_tokens != lim.max_model_len - 1):
            out.append(error(
                "xinference-max-input", "XInference's vLLM engine has no prompt-length limit of its own: it admits "
                "any prompt that fits max_model_len together with the request's max_tokens",
                hint="remove limits.max_input_tokens for xinference, or set it to max_model_len - 1",
                path=("limits", "max_input_tokens")))
        if o.model_name is not None and m.revision is not None:
            out.append(error(
                "xinference-revision", f"built-in model {o.model_name!r} downloads the revision XInference's "
                "registry pins; a model revision applies to a registered model",
                hint="remove model.revision, or remove targets.xinference.model_name to register model.source",
                path=("model", "revision")))
        if o.model_name is None and o.model_family is None:
            out.append(error(
                "xinference-model-family", "XInference registers a custom LLM only with a model_family: the "
                "built-in family whose chat template and architecture it shares",
                hint="set targets.xinference.model_family (e.g. qwen2.5-instruct), or targets.xinference.model_name "
                     "to launch a built-in model", path=("targets", self.name)))
        if self._size(plan, o) is None:
            why = (f"built-in model {o.model_name!r} comes in several sizes and XInference launches the first "
                   "one listed" if o.model_name
                   else "a custom model needs a size and model.facts.parameters is unknown")
            out.append(error("xinference-size", why,
                             hint="set targets.xinference.size_in_billions (0.5 is written 0_5 on the command line)",
                             path=("targets", self.name)))
        for i, adapter in enumerate(m.adapters):
            if adapter.rank is not None and adapter.rank > max(LORA_RANKS):
                out.append(error(
                    "xinference-lora-rank", f"adapter {adapter.name!r} has LoRA rank {adapter.rank}; XInference's "
                    f"vLLM engine serves ranks up to {max(LORA_RANKS)}",
                    hint="retrain or merge the adapter with a lower rank",
                    path=("model", "adapters", i, "rank" if "rank" in adapter.model_fields_set else "source")))
        if o.model_name is not None and o.model_family is not None:
            out.append(error(
                "xinference-model-family", f"model_family applies to a registered model; built-in model "
                f"{o.model_name!r} brings its own chat template", hint="remove one of model_name and model_family",
                path=("targets", self.name, "model_family")))
        if (lim.max_concurrency is not None and lim.max_batch_tokens is not None
                and lim.max_batch_tokens < lim.max_concurrency):
            out.append(error(
                "xinference-batch-tokens", f"vLLM refuses to start when max_num_batched_tokens "
                f"({lim.max_batch_tokens}) is below max_num_seqs ({lim.max_concurrency})",
                hint=f"set limits.max_batch_tokens to {lim.max_concurrency} or more, or lower max_concurrency",
                path=("limits", "max_batch_tokens")))
        out += self._check_args(o, v)
        owned_env = {}
        if v.auth_env:
            owned_env[v.auth_env] = ("server", "api_key_env")
        if v.remote_code_env:
            owned_env[v.remote_code_env] = ("model", "trust_remote_code")
        out += container.env_conflicts(o.env, owned_env, self.name)
        return out

    def _check_args(self, o: XinferenceOptions, v: XinferenceVersion) -> list[Diagnostic]:
        """Extra args as `xinference launch` reads them: click options first, then `--key value` pairs."""
        out: list[Diagnostic] = []
        args, i = o.args, 0
        while i < len(args):
            token, at = args[i], ("targets", self.name, "args", i)
            key = token.split("=", 1)[0]
            if key in v.launch_options:
                out.append(error(
                    "xinference-args-option", f"{key} is an option of `xinference launch` {v.version}, not an "
                    "engine kwarg; deployc sets the launch options it needs and passes no others",
                    hint="remove it from targets.xinference.args", path=at))
                i += 2
                continue
            if not token.startswith("--") or len(token) == 2:
                out.append(error(
                    "xinference-args-pair", f"{token!r} is not a --key: XInference reads extra args two at a time "
                    "as --key value", hint="write each engine option as two items: \"--name\", \"value\"", path=at))
                i += 1
                while i < len(args) and not args[i].startswith("-"):  # one report per stray run
                    i += 1
                continue
            if "=" in token:
                out.append(error(
                    "xinference-args-spelling", f"XInference does not split {token}: it reads extra args two at "
                    "a time as --key value", hint=f"write it as two items: \"{key}\", \"{token.split('=', 1)[1]}\"",
                    path=at))
                i += 1
                continue
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                out.append(error(
                    "xinference-args-pair", f"{token} has no value: XInference reads extra args two at a time, so "
                    "a flag without a value shifts every pair after it",
                    hint=f"give it a value, e.g. {token} true", path=at))
                i += 1
                continue
            name = token[2:]
            if "-" in name:
                out.append(error(
                    "xinference-args-spelling", f"XInference passes {token} to the engine as the keyword "
                    f"{name!r} verbatim, which no engine takes",
                    hint=f"write it as \"--{name.replace('-', '_')}\" followed by its value",
                    path=at))
            elif name in OWNED:
                where = ".".join(OWNED[name])
                out.append(error(
                    "target-args-conflict", f"{token} in targets.xinference.args restates {where}, which deployc "
                    "derives from the spec", hint=f"set {where} instead and remove it from args", path=at))
            elif name in REQUEST_FIELDS:
                out.append(error(
                    "xinference-args-field", f"{name} is a field of the launch request, not an engine kwarg",
                    hint="remove it from targets.xinference.args", path=at))
            i += 2
        return out

    @staticmethod
    def _size(plan: Plan, o: XinferenceOptions) -> int | str | None:
        if o.size_in_billions is not None:
            return size_label(o.size_in_billions)
        if o.model_name is None and plan.model.facts.parameters is not None:
            return size_label(max(round(plan.model.facts.parameters / 1e9, 1), 0.1))
        return None

    def memory_model(self, plan: Plan, opts: TargetOptions, version: str) -> EngineMemory:
        """XInference runs the model in vLLM, which XInference installs at a version of its own choosing:
        vLLM's TOTAL budget (gpu_memory_utilization of total memory for weights, activations, runtime and
        CUDA graphs), with the overheads of a recent vLLM (targets/vllm/versions.py) and vLLM's defaults
        for the batch (2048 tokens, 256 sequences) on every GPU, as XInference does not tier them."""
        lim = plan.limits
        return EngineMemory(
            engine=f"XInference {version} (vLLM)", budget=Budget.TOTAL, fraction=plan.hardware.memory_utilization,
            fraction_flag="gpu_memory_utilization", batch_tokens=lim.max_batch_tokens or 2048,
            max_seqs=lim.max_concurrency or VLLM_DEFAULT_MAX_SEQS, non_torch_gib=0.3, cuda_graph_gib=0.25,
            block_size=16, source="targets/xinference")

    def lower(self, plan: Plan, opts: TargetOptions, version: str, ctx: BuildContext) -> Lowered:
        o, v = _opts(opts), VERSIONS[version]
        m, srv = plan.model, plan.server
        endpoint = container.client_url(srv.host, srv.port)
        body = launch_body(plan, o, v, memory.derived_concurrency(plan, ctx.memory, VLLM_DEFAULT_MAX_SEQS))
        register = None if o.model_name else register_json(plan, o, ctx, version)
        banner = container.banner(ctx, self.name, self.title, version)

        if plan.multi_node:
            return self._lower_nodes(plan, o, v, ctx, body, register, banner)
        start_argv = ["xinference-local", "--host", srv.host, "--port", str(srv.port)]
        env: list[tuple[str, str]] = []
        if v.auth_env:
            env.append((v.auth_env, "1" if srv.api_key_env else "0"))
        if v.remote_code_env:
            env.append((v.remote_code_env, "1" if m.trust_remote_code else "0"))
        env += container.user_env_shell(o)
        start_about = [
            f"Starts an XInference {version} cluster (supervisor and worker) on {srv.host}:{srv.port}; then run "
            f"launch.sh (or launch.py) to load {m.served_name} into it.",
            f"Needs `pip install \"xinference[vllm]=={version}\"` and {plan.gpus_needed} GPU(s) "
            f"({plan.hardware.gpu.name}); HF_TOKEN is read from the environment for gated models.",
        ]
        if srv.api_key_env and v.auth_env:
            start_about.append(f"Auth is on: finish the first-run setup (POST /v1/admin/setup, token in the log), "
                               f"create an API key and put it in {srv.api_key_env} for launch.sh and clients.")
        start = container.serve_script(ctx, banner, start_about, start_argv, env)

        commands = []
        if register is not None:
            commands.append(["xinference", "register", "--endpoint", endpoint, "--model-type", "LLM",
                             "--file", "register.json"])
        commands.append(launch_argv(body, endpoint, o))
        about = [f"Loads {m.served_name} into the XInference server that start.sh runs (model uid "
                 f"{body['model_uid']}, the name clients send as \"model\" to {endpoint}/v1)."]
        artifacts = [Artifact("start.sh", start, executable=True),
                     *self._launch_artifacts(plan, o, v, banner, body, register, commands, about, repr(endpoint))]
        return Lowered(artifacts=tuple(artifacts), command=tuple(start_argv),
                       service=self._service(plan, o, v, env, body, register, ctx))

    def _launch_artifacts(self, plan: Plan, o: XinferenceOptions, v: XinferenceVersion, banner: list[str],
                          body: dict, register: dict | None, commands: list[list[str]], about: list[str],
                          endpoint_py: str, lines: list[str] | None = None) -> list[Artifact]:
        """launch.sh, launch.py, launch.json (and register.json). lines: launch.sh's command lines already
        shell-quoted (default: each command shlex-joined)."""
        srv = plan.server
        if register is not None:
            about = about + [f"Registers the custom model {body['model_name']} first (register.json); run once "
                             "per server start."]
        launch_sh = render_template(TEMPLATES, "launch.sh.j2", banner=banner, about=about,
                                    lines=lines or [shlex.join(c) for c in commands], api_key_env=srv.api_key_env)
        launch_py = render_template(
            TEMPLATES, "launch.py.j2", banner=banner,
            about=about + [f"Needs `pip install xinference-client=={v.client}`."],
            endpoint=endpoint_py, api_key_env=repr(srv.api_key_env),
            register=repr("register.json" if register is not None else None),
            launch=py_dict(body))
        artifacts = [Artifact("launch.sh", launch_sh, executable=True),
                     Artifact("launch.py", launch_py, executable=True), Artifact("launch.json", _json(body))]
        if register is not None:
            artifacts.append(Artifact("register.json", _json(register)))
        return artifacts

    def _lower_nodes(self, plan: Plan, o: XinferenceOptions, v: XinferenceVersion, ctx: BuildContext, body: dict,
                     register: dict | None, banner: list[str]) -> Lowered:
        """start-supervisor.sh (node 0), start-worker.sh (every node), and the launch of n_worker workers."""
        m, srv, n, per = plan.model, plan.server, plan.nodes, plan.gpus_per_node_used
        sup = f"${{{SUPERVISOR_ENV}}}"
        supervisor_argv = ["xinference-supervisor", "-H", sup, "--port", str(srv.port)]
        worker_argv = ["xinference-worker", "-e", f"http://{sup}:{srv.port}", "-H", f"${{{WORKER_ENV}}}"]
        sup_check = (SUPERVISOR_ENV, f'"${{{SUPERVISOR_ENV}:?set {SUPERVISOR_ENV} to the address of node 0, where '
                                     'the supervisor runs, reachable from every node}"')
        worker_check = (WORKER_ENV, f'"${{{WORKER_ENV}:?set {WORKER_ENV} to the address of this node, reachable '
                                    'from the supervisor}"')
        remote = [(v.remote_code_env, "1" if m.trust_remote_code else "0")] if v.remote_code_env else []
        auth = [(v.auth_env, "1" if srv.api_key_env else "0")] if v.auth_env else []
        user = container.user_env_shell(o)
        sup_about = [f"Starts the XInference {v.version} supervisor of a {n}-node cluster on node 0 "
                     f"({SUPERVISOR_ENV}:{srv.port}); then start-worker.sh on every node (node 0 too) and "
                     f"launch.sh (or launch.py) to load {m.served_name} over {n} workers.",
                     f"Needs `pip install \"xinference[vllm]=={v.version}\"` on every node."]
        if srv.api_key_env and v.auth_env:
            sup_about.append(f"Auth is on: finish the first-run setup (POST /v1/admin/setup, token in the log), "
                             f"create an API key and put it in {srv.api_key_env} for launch.sh and clients.")
        start_sup = container.serve_script(ctx, banner, sup_about, supervisor_argv[:2],
                                           [sup_check, *auth, *remote, *user],
                                           shell_tail=[f'"{sup}"', *supervisor_argv[3:]])
        worker_about = [f"Starts an XInference worker with {per} {plan.hardware.gpu.name} GPU(s) on this node and "
                        f"joins it to the supervisor at {SUPERVISOR_ENV} (run on each of the {n} nodes).",
                        "HF_TOKEN is read from the environment for gated models."]
        start_worker = container.serve_script(ctx, banner, worker_about, worker_argv[:2],
                                              [sup_check, worker_check, *remote, *user],
                                              shell_tail=[f'"{worker_argv[2]}"', "-H", f'"{worker_argv[4]}"'])
        body = _with_workers(body, per, n)
        endpoint = f"http://{sup}:{srv.port}"
        commands = []
        if register is not None:
            commands.append(["xinference", "register", "--endpoint", endpoint, "--model-type", "LLM",
                             "--file", "register.json"])
        commands.append(launch_argv(body, endpoint, o))
        # the endpoint token expands in the shell: "http://${SUPERVISOR_ADDR:?...}:P"; every other token is quoted
        expanding = f'"http://${{{SUPERVISOR_ENV}:?set {SUPERVISOR_ENV} to the address of node 0}}:{srv.port}"'
        lines = [" ".join(expanding if t == endpoint else shlex.quote(t) for t in c) for c in commands]
        about = [f"Loads {m.served_name} over {n} XInference workers of {per} GPU(s) each (model uid "
                 f"{body['model_uid']}, the name clients send as \"model\" to http://{SUPERVISOR_ENV}:{srv.port}/v1); "
                 f"run with {SUPERVISOR_ENV} set, once every worker has joined."]
        endpoint_py = (f'"http://" + (os.environ.get({SUPERVISOR_ENV!r}) or sys.exit("set {SUPERVISOR_ENV} to the '
                       f'address of node 0")) + ":{srv.port}"')
        artifacts = [Artifact("start-supervisor.sh", start_sup, executable=True),
                     Artifact("start-worker.sh", start_worker, executable=True),
                     *self._launch_artifacts(plan, o, v, banner, body, register, commands, about, endpoint_py,
                                             lines)]
        # For Kubernetes: the supervisor (no GPUs, the API, the launch steps) and a pool of workers.
        env = [*auth, *remote, *container.user_env_shell(o)]
        server = self._service(plan, o, v, env, body, register, ctx)
        supervisor = replace(server, command=("xinference-supervisor",), command_tail=(
            "-H", container.NODE_ADDR, "--port", str(srv.port)), gpus=0, env_pass=())
        worker = replace(server, command=("xinference-worker",), command_tail=(
            "-e", container.SERVER_URL, "-H", container.NODE_ADDR), gpus=per, launch=None,
            env_set=tuple((k, val) for k, val in server.env_set if k != v.auth_env))
        group = multinode.NodeGroup(size=n, replicas=plan.parallelism.data, leader=supervisor, worker=worker,
                                    kind="pool")
        return Lowered(artifacts=tuple(artifacts), command=tuple(supervisor_argv), group=group)

    @staticmethod
    def _service(plan: Plan, o: XinferenceOptions, v: XinferenceVersion, env: list[tuple[str, str]],
                 body: dict[str, Any], register: dict[str, Any] | None, ctx: BuildContext) -> container.Service:
        """xinference-local in XInference's image (xprobe/xinference:v<version>, the tag scheme of its docs'
        doc/source/getting_started/using_docker_image.rst), GET /status as its health route
        (xinference/api/restful_api.py: the unauthenticated "internal interface" /status); the model is
        loaded by launch.sh's steps against the running server, and lives only in its memory."""
        port = str(plan.server.port)
        # The launch runs inside the server's container: local model and adapter folders are mounted
        # read-only at fixed paths and the body names those, as the other targets' containers do.
        mounts = container.LocalMounts(ctx)
        body = dict(body)
        if "model_path" in body:
            body["model_path"] = mounts.ref(body["model_path"], "/deployc/model")
        if "peft_model_config" in body:
            peft = body["peft_model_config"]
            body["peft_model_config"] = {**peft, "lora_list": [
                {**lora, "local_path": mounts.ref(lora["local_path"], f"/deployc/adapters/{lora['lora_name']}")}
                for lora in peft["lora_list"]]}
        steps = []
        if register is not None:
            steps.append(container.compose_literal(["xinference", "register", "--endpoint"]) + (container.SERVER_URL,)
                         + container.compose_literal(["--model-type", "LLM", "--file", "register.json"]))
        launch = launch_argv(body, "ENDPOINT", o)
        steps.append(tuple(container.SERVER_URL if t == "ENDPOINT" and i == 3 else t.replace("$", "$$")
                           for i, t in enumerate(launch)))
        key = plan.server.api_key_env
        if key:
            steps = [s + ("--api-key", container.api_key_ref(key)) for s in steps]
        files = (("register.json", _json(register)),) if register is not None else ()
        return container.service(
            plan=plan, image=o.image or f"xprobe/xinference:v{v.version}",
            command=["xinference-local", "--host", "0.0.0.0", "--port", port], env_pass=["HF_TOKEN"],
            env_set={k: val for k, val in env if k not in o.env} | container.compose_env(o),
            container_cache="/root/.cache/huggingface", health_path="/status", gpu_count=plan.gpus_needed,
            volumes=mounts.volumes, launch=container.Launch(steps=tuple(steps), files=files))


# The shell variables of the multi-node scripts: the node addresses XInference processes bind and announce.
SUPERVISOR_ENV = "SUPERVISOR_ADDR"
WORKER_ENV = "WORKER_ADDR"


def _with_workers(body: dict[str, Any], per_node: int, nodes: int) -> dict[str, Any]:
    """The launch body of a multi-node copy: n_gpu counts the GPUs of one worker, n_worker the workers."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        out[key] = per_node if key == "n_gpu" else value
        if key == "n_gpu":
            out["n_worker"] = nodes
    return out


VLLM_DEFAULT_MAX_SEQS = 256  # vLLM's max_num_seqs below its large-GPU tier (engine/arg_utils.py get_batch_defaults)


def py_dict(data: dict[str, Any]) -> str:
    """A dict as a Python literal, one key per line (repr quotes every string inertly)."""
    items = "".join(f"    {k!r}: {pprint.pformat(v, width=100, sort_dicts=False)},\n" for k, v in data.items())
    return "{\n" + items + "}"


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def launch_body(plan: Plan, o: XinferenceOptions, v: XinferenceVersion, seqs: int | None = None) -> dict[str, Any]:
    """The POST /v1/models body, which is also launch_model's keyword arguments. seqs is vLLM's
    max_num_seqs: the spec's max_concurrency, else what the memory plan fits."""
    m, p, par, lim = plan.model, plan.precision, plan.parallelism, plan.limits
    fmt, quant, engine_quant = QUANT[p.quantization]
    size = XinferenceTarget._size(plan, o)
    body: dict[str, Any] = {
        "model_name": o.model_name or plan.name,
        "model_type": "LLM",
        "model_engine": ENGINES[o.engine],
        "model_uid": m.served_name,
        "model_format": fmt,
        "model_size_in_billions": size,
        "quantization": o.quantization or quant,
        "replica": par.data,
        "n_gpu": plan.gpus_per_replica,
    }
    if m.adapters:  # the structure `xinference launch --lora-modules NAME PATH` builds (cmdline.py model_launch)
        body["peft_model_config"] = {
            "image_lora_load_kwargs": None, "image_lora_fuse_kwargs": None,
            "lora_list": [{"lora_name": a.name, "local_path": a.source} for a in m.adapters]}
    if plan.model_is_local:
        body["model_path"] = m.source
    body.update(v.cli_defaults)
    body["trust_remote_code"] = m.trust_remote_code
    body["dtype"] = p.dtype
    if engine_quant:
        body["model_quantization"] = engine_quant
    if p.kv_cache_dtype == "fp8":
        body["kv_cache_dtype"] = "fp8"
    body["tensor_parallel_size"] = par.tensor
    if par.pipeline > 1:
        body["pipeline_parallel_size"] = par.pipeline
    rank = max([a.rank for a in m.adapters if a.rank is not None] or [DEFAULT_LORA_RANK])
    if rank > DEFAULT_LORA_RANK:
        body["max_lora_rank"] = min(r for r in LORA_RANKS if r >= rank)
    if lim.max_model_len is not None:
        body["max_model_len"] = lim.max_model_len
    if seqs is not None:
        body["max_num_seqs"] = seqs
    if lim.max_batch_tokens is not None:
        body["max_num_batched_tokens"] = lim.max_batch_tokens
    body["gpu_memory_utilization"] = plan.hardware.memory_utilization
    args = o.args
    for i in range(0, len(args) - 1, 2):
        body[args[i][2:]] = click_value(args[i + 1], v)
    return body


# launch body key -> `xinference launch` option (cmdline.py model_launch)
_LAUNCH_FLAGS = {
    "model_name": "--model-name", "model_type": "--model-type", "model_engine": "--model-engine",
    "model_uid": "--model-uid", "model_format": "--model-format", "model_size_in_billions": "--size-in-billions",
    "quantization": "--quantization", "replica": "--replica", "n_gpu": "--n-gpu", "n_worker": "--n-worker",
    "model_path": "--model-path",
    "trust_remote_code": "--trust-remote-code",
}
_CLI_DEFAULTS = {"enable_thinking"}  # already the CLI's default: not spelled on the command line


def _cli(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def launch_argv(body: dict[str, Any], endpoint: str, o: XinferenceOptions) -> list[str]:
    """`xinference launch` with the body's fields as options and deployc's engine kwargs as --key value."""
    argv = ["xinference", "launch", "--endpoint", endpoint]
    extra = {a[2:] for a in o.args[::2]}
    for key, value in body.items():
        if key in extra or key in _CLI_DEFAULTS:
            continue
        if key == "peft_model_config":
            for lora in value["lora_list"]:
                argv += ["--lora-modules", lora["lora_name"], lora["local_path"]]
            continue
        argv += [_LAUNCH_FLAGS.get(key, f"--{key}"), _cli(value)]
    return argv + list(o.args)


def register_json(plan: Plan, o: XinferenceOptions, ctx: BuildContext, version: str) -> dict[str, Any]:
    """A CustomLLMFamilyV2 definition (model/llm/llm_family.py) for `xinference register`."""
    m, lim = plan.model, plan.limits
    fmt, quant, _ = QUANT[plan.precision.quantization]
    spec: dict[str, Any] = {
        "model_format": fmt,
        "model_size_in_billions": XinferenceTarget._size(plan, o),
        "quantization": o.quantization or quant,
        "model_id": None if plan.model_is_local else m.source,
    }
    if m.revision is not None:
        spec["model_revision"] = m.revision
    family: dict[str, Any] = {"version": 2}
    context = lim.max_model_len or m.facts.max_position_embeddings
    if context is not None:
        family["context_length"] = context
    family.update({
        "model_name": plan.name,
        "model_lang": ["en"],
        "model_ability": ["generate", "chat"],
        "model_description": f"{m.source}, generated by deployc from {ctx.spec_name} "
                             f"(spec sha256 {ctx.spec_digest[:16]}) for XInference {version}",
        "model_family": o.model_family,
        "model_specs": [spec],
    })
    return family

