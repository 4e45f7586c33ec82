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
- Model (choice.py): a hub id that XInference's own registry holds (registry/<version>.json, read from
  each release's wheel, builtin.py) launches that built-in model with the registry's model_name, size,
  format and quantization (Qwen/Qwen2.5-7B-Instruct is qwen2.5-instruct 7B pytorch none); so does
  `targets.xinference.model_name` (e.g. for a local copy: model.source is then its model_path). Only a
  model the registry lacks is registered (register.json): a custom LLM named after the spec, pointing at
  the hub id and revision, borrowing chat template and architecture from `model_family` (XInference
  requires one; the hint lists the built-in families of the model's architecture), sized from the facts.
- The model uid is model.served_name: XInference's OpenAI API takes the uid as "model".
- Engine (targets.xinference.engine): vLLM (default), SGLang, llama.cpp (default for GGUF) or
  Transformers, each with its own kwargs as its core.py takes them (options.py KWARGS): vLLM
  tensor_parallel_size, pipeline_parallel_size (always over several workers: XInference would default it
  to n_worker), gpu_memory_utilization, max_model_len, max_num_seqs, max_num_batched_tokens, dtype,
  kv_cache_dtype; SGLang tp_size, pp_size, mem_fraction_static (utilization - 0.10, as the sglang
  target), context_length, max_running_requests, chunked_prefill_size; llama.cpp n_ctx, n_parallel,
  n_batch; Transformers torch_dtype, max_num_seqs. What an engine cannot take is refused (checks.py).
  n_gpu = tensor x pipeline; data -> replica.
- Quantization has two names: XInference's registry `quantization` (-q: none, Int4, ...)
  with model_format, and the engine's `model_quantization`. none -> pytorch/none; awq and
  gptq -> awq|gptq / Int4 (override with targets.xinference.quantization, e.g. Int8), the
  engine reads the method from the checkpoint; fp8 -> pytorch/none + model_quantization fp8
  (vLLM quantizes at load); gguf -> ggufv2 with the registry's quantization (q4_k_m, ...): a registry
  GGUF repo, or a local model.gguf file as the launch's model_path. int4, int8 and bitsandbytes are
  refused.
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

The package: options.py (the options model and the `xinference launch` option table), launch.py
(launch.sh's command and the request read back from it: launch.json, launch.py), register.py
(a custom model's register.json), checks.py, service.py (the server's container), nodes.py (the
supervisor and its workers), versions.py (what each release is).
"""

from __future__ import annotations

from deployc.compiler import api
from deployc.compiler.api import (Artifact, Budget, BuildContext, Capability, Diagnostic, EngineMemory, Lowered, Plan,
                                  Target)
from deployc.targets.xinference import checks
from deployc.targets.xinference.launch import launch_argv, launch_artifacts, quoted, request, to_json
from deployc.targets.xinference.nodes import lower_nodes
from deployc.targets.xinference.options import (
    AUTH,
    ENGINES,
    EXTRAS,
    LAUNCH,
    REMOTE_CODE,
    Lowering,
    XinferenceOptions,
    engine_of,
)
from deployc.targets.xinference.register import register_argv, register_json
from deployc.targets.xinference.service import server_service
from deployc.targets.xinference.versions import VERSIONS, XinferenceVersion

__all__ = ["XinferenceOptions", "XinferenceTarget"]

VLLM_DEFAULT_MAX_SEQS = 256  # XInference's max_num_seqs for vLLM (_sanitize_model_config; versions.py)
XINFERENCE_DEFAULT_UTILIZATION = 0.90   # XInference's gpu_memory_utilization for vLLM (_sanitize_model_config)


def _hints(v: XinferenceVersion) -> dict[Capability, str]:
    return {
        Capability.AMD_GPU: "deployc runs XInference from its CUDA image (xprobe/xinference): pick an NVIDIA "
                            "GPU, or serve AMD GPUs with the vllm or sglang target and a ROCm image",
        Capability.API_KEY: f"XInference {v.version} authenticates only through an --auth-config file of users "
                            "and passwords: pin targets.xinference.version: 4.1.0, or put a gateway in front",
        Capability.CUSTOM_TOKENIZER: "ship the tokenizer files inside the model folder",
        Capability.ATTENTION_DATA_PARALLEL: "XInference's vLLM engine takes n_gpu = tensor x pipeline GPUs, no "
                                            "data-parallel ranks: use data_mode: replicas (--replica), or the vllm "
                                            "target",
        Capability.QUANT_MXFP4: "deployc names no XInference registry format for MXFP4 checkpoints: serve it with the "
                                "vllm target",
        Capability.QUANT_NVFP4: "deployc names no XInference registry format for NVFP4 checkpoints: serve it with the "
                                "vllm target",
        Capability.CHAT_TEMPLATE: "a registered model takes its chat template from targets.xinference."
                                  "model_family; pick the family whose template fits",
        Capability.MAX_OUTPUT_TOKENS: "XInference fills each request's max_tokens up to the context window; "
                                      "let clients send max_tokens",
        Capability.QUANT_INT4: "name the checkpoint's format: quantization: awq or gptq "
                               "(targets.xinference.quantization: Int4)",
        Capability.QUANT_INT8: "name the checkpoint's format: quantization: gptq with "
                               "targets.xinference.quantization: Int8",
        Capability.QUANT_BITSANDBYTES: "serve a pre-quantized awq or gptq checkpoint",
    }


class XinferenceTarget(Target[XinferenceOptions, XinferenceVersion]):
    name = "xinference"
    title = "XInference"
    runs_container = True
    versions = VERSIONS
    options = XinferenceOptions

    def parsers(self, v: XinferenceVersion) -> api.ParserSupport:
        return api.ParserSupport(f"XInference {v.version}", {"tool": None, "reasoning": None},
                                 builtin=frozenset({"tool"}))

    def unsupported_hint(self, capability: Capability, v: XinferenceVersion) -> str | None:
        return _hints(v).get(capability)

    def check(self, plan: Plan, opts: XinferenceOptions, v: XinferenceVersion) -> list[Diagnostic]:
        return checks.check(plan, opts, v)

    def importer(self) -> api.Importer:
        from deployc.targets.xinference.importer import IMPORTER
        return IMPORTER

    def memory_model(self, plan: Plan, opts: XinferenceOptions, v: XinferenceVersion) -> EngineMemory | None:
        """With the vLLM engine, which XInference installs at a version of its own choosing: vLLM's TOTAL
        budget (gpu_memory_utilization of total memory for weights, activations, runtime and CUDA graphs),
        with the overheads of a recent vLLM (targets/vllm/versions.py) and vLLM's defaults for the batch
        (2048 tokens, 256 sequences) on every GPU, as XInference does not tier them. The other engines
        budget memory their own way, which deployc does not model for XInference: no memory plan."""
        if engine_of(plan, opts) != "vllm":
            return None
        lim, share = plan.limits, plan.hardware.memory_utilization
        return EngineMemory(
            engine=f"XInference {v.version} (vLLM)", budget=Budget.TOTAL,
            fraction=XINFERENCE_DEFAULT_UTILIZATION if share is None else share,
            fraction_flag="gpu_memory_utilization", fraction_default=share is None,
            batch_tokens=lim.max_batch_tokens or 2048,
            max_seqs=lim.max_concurrency or VLLM_DEFAULT_MAX_SEQS, max_seqs_default=lim.max_concurrency is None, non_torch_gib=0.3, cuda_graph_gib=0.25,
            block_size=16, source="targets/xinference")

    def lower(self, plan: Plan, opts: XinferenceOptions, v: XinferenceVersion, ctx: BuildContext) -> Lowered:
        seqs = plan.limits.max_concurrency   # unset: XInference's own default, never a derived number
        c = Lowering(plan, opts, v, seqs, lambda ref, _where: ref)
        register = None if c.choice.builtin else register_json(plan, c.choice, ctx, v.version)
        registered = to_json(register) if register is not None else None
        banner = api.banner(ctx, self.name, self.title, v.version)
        if plan.multi_node:
            return lower_nodes(plan, c, ctx, register, registered, banner)
        m, srv = plan.model, plan.server
        start_argv = ["xinference-local", "--host", srv.host, "--port", str(srv.port)]
        env = [*AUTH.env(plan, v), *REMOTE_CODE.env(plan, v), *api.user_env_shell(opts)]
        start_about = [
            f"Starts an XInference {v.version} cluster (supervisor and worker) on {srv.host}:{srv.port}; then run "
            f"launch.sh (or launch.py) to load {m.served_name} into it.",
            f"Needs `pip install \"xinference[{EXTRAS[c.engine]}]=={v.version}\"` and {plan.gpus_needed} GPU(s) "
            f"({plan.hardware.gpu.name}); HF_TOKEN is read from the environment for gated models.",
        ]
        if srv.api_key_env and v.auth_env:
            start_about.append(f"Auth is on: finish the first-run setup (POST /v1/admin/setup, token in the log), "
                               f"create an API key and put it in {srv.api_key_env} for launch.sh and clients.")
        endpoint = api.client_url(srv.host, srv.port)
        commands = ([register_argv(endpoint)] if register is not None else []) + [launch_argv(c, endpoint)]
        body = request(commands[-1], v)
        about = [f"Loads {m.served_name} into the XInference server that start.sh runs (model uid "
                 f"{body['model_uid']}, the name clients send as \"model\" to {endpoint}/v1).",
                 f"Model: {c.choice.why}; engine {ENGINES[c.engine]}."]
        artifacts = [Artifact("start.sh", api.serve_script(ctx, banner, start_about, start_argv, env), executable=True),
                     *launch_artifacts(plan, v, banner, body, register, quoted(commands), about, repr(endpoint))]
        return Lowered(artifacts=tuple(artifacts), command=tuple(start_argv),
                       service=server_service(plan, opts, v, seqs, env, registered, ctx),
                       derived=api.derived_of(LAUNCH[c.engine], c, v, plan))
