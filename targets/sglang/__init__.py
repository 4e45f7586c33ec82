"""The SGLang target: `sglang serve` / `python3 -m sglang.launch_server` argv, serve.sh, compose.yaml.

Spellings and value choices are read from SGLang's own source at each pinned release
(targets/sglang/versions.py names the file and line behind each), chiefly:
  0.4.10.post2  python/sglang/srt/server_args.py      ServerArgs.add_cli_args, prepare_server_args
  0.5.23        python/sglang/srt/arg_groups/fields/  the ServerArgs fields the parser is built from
                python/sglang/cli/serve.py            the `sglang serve` subcommand
and the conformance tier (tests/conformance/test_sglang_parser.py) parses every sample's argv
with the real prepare_server_args of each pinned version and compares the parsed values.

Spec -> SGLang, decisions worth knowing:
- The launcher: 0.5.23 runs `sglang serve --model-type llm --model-path ...`, the entry point
  SGLang recommends (its launch_server warns otherwise); `--model-type llm` skips the startup
  guess between an LLM and a diffusion model, which downloads model_index.json from the hub.
  0.4.10.post2 has only `python3 -m sglang.launch_server`. Both parse the same options.
- Options are always spelled in full (SGLang's argparse also takes unique prefixes, `--tp`):
  --model-path, --tp-size, --pp-size, --dp-size, ... Extra `args` are checked with the same
  prefix rule, so `--tp 2` or `--context-len=...` restating a spec field is an error.
- --host and --port are always emitted: SGLang's defaults (127.0.0.1:30000) are not the spec's.
- precision.kv_cache_dtype fp8 -> --kv-cache-dtype fp8_e4m3 (SGLang has no plain fp8; e4m3 is
  what vLLM's fp8 means on CUDA, and the format FP8 checkpoints carry KV scales for).
- precision.quantization: fp8 -> --quantization fp8 (an fp8 checkpoint, or a 16-bit one
  quantized at load). awq, gptq, int8 and int4 name pre-quantized checkpoints, which SGLang
  recognises from config.json's quantization_config and routes to its fastest kernel, so no
  flag is passed. bitsandbytes and gguf also need a --load-format and are refused for now.
- hardware.memory_utilization -> --mem-fraction-static. The two mean different things:
  vLLM's utilization bounds everything the engine allocates (weights, KV cache, activations,
  CUDA graphs), while SGLang's fraction covers only weights plus the KV pool, and activations
  and CUDA graphs live in the remaining 1 - fraction. deployc keeps the spec's meaning (the
  engine's whole share of the GPU) by reserving a tenth of the GPU inside it for activations:
  mem_fraction_static = memory_utilization - 0.10 (0.90 -> 0.80), close to what SGLang itself
  keeps free by default on an 80 GB GPU (0.5.23 arg_groups/memory_hook.py:309-325: 512 MB +
  1.5 x the prefill chunk + CUDA graph buffers, at least 10 GiB above 60 GiB).
  targets.sglang.mem_fraction_static overrides the result.
- limits: max_model_len -> --context-length, max_concurrency -> --max-running-requests,
  max_batch_tokens -> --chunked-prefill-size (the prefill chunk per scheduler step). SGLang
  rejects a prompt of context_length tokens or more, so max_input_tokens can only be
  max_model_len - 1; it has no server-wide cap on max_tokens, so max_output_tokens is refused.
- LoRA: --enable-lora --lora-paths NAME=PATH ...; --max-loras-per-batch only when the adapters
  plus the base model exceed SGLang's default of 8 slots per batch. The rank is inferred by
  SGLang from the adapters.
- The API key: SGLang reads it only from --api-key (no environment variable), so serve.sh ends
  with `--api-key "${VAR:?...}"` and compose.yaml passes `${VAR:?...}` for Compose to fill in:
  the value never appears in an artifact, but it is visible to `ps` on the serving host. In
  the --json command this one token is `${VAR}`, the reference the script expands.
- targets.sglang.env is passed through as given: SGLang reads no environment variable for a
  setting deployc derives (the API key above has none), so nothing there is refused.
- Multi-node (plan.nodes > 1): every node runs the same launcher with --nnodes N --node-rank R
  --dist-init-addr LEADER:20000 (0.4.10.post2 server_args.py:1180-1190, 0.5.23
  arg_groups/fields/parallel.py:32-44); --tp-size counts the GPUs of all nodes (0.4.10.post2
  srt/entrypoints/engine.py:702-712 gives each node tp_size // (nnodes // pp_size) of them) and
  (tp x pp) % nnodes must be 0 (0.4 server_args.py:1911, 0.5 arg_groups/validation_hook.py:179).
  Node 0 serves HTTP; the others start no tokenizer or HTTP server (engine.py: 0.4 :754,
  0.5 :1234 "Non-zero-rank nodes do not run tokenizer processes"), so only node 0 gets the API
  key. Port 20000 is the one SGLang's multi-node docs and the LeaderWorkerSet SGLang example use
  (kubernetes-sigs/lws v0.10.0 docs/examples/sglang/lws.yaml). Multi-node data parallelism needs
  DP attention (0.4 server_args.py:1922, 0.5 validation_hook.py:199), so parallelism.data becomes
  that many groups of nodes, never --dp-size. The plain platform writes serve.sh (node 0) and
  serve-worker.sh (LEADER_ADDR, NODE_RANK) and no compose.yaml (one Compose file is one machine).
- compose.yaml: the image sets no entrypoint of its own; deployc sets the launcher as the
  entrypoint (as SGLang's docker/compose.yaml does) and escapes `$` in the command for Compose.
"""

from __future__ import annotations

from pydantic import Field

from compiler import memory
from compiler.diagnostics import Diagnostic, error, warning
from compiler.memory import Budget, EngineMemory
from compiler.plan import Plan
from compiler.target_api import Artifact, BuildContext, Capability, Lowered, Target, TargetOptions
from targets._shared import container, multinode
from targets._shared.multinode import NodeRefs
from targets.sglang.versions import KV_FP8, VERSIONS, SglangVersion

# Share of the GPU kept out of --mem-fraction-static for activations and CUDA graphs.
ACTIVATION_SHARE = 0.10

# Flags deployc derives from the spec (every spelling of each, both versions), and the spec path
# that owns each (for `args` conflicts).
OWNED: dict[str, tuple[str, ...]] = {
    "--model-path": ("model", "source"),
    "--model": ("model", "source"),
    "--model-type": ("model", "source"),
    "--revision": ("model", "revision"),
    "--tokenizer-path": ("model", "tokenizer"),
    "--trust-remote-code": ("model", "trust_remote_code"),
    "--chat-template": ("model", "chat_template"),
    "--served-model-name": ("model", "served_name"),
    "--enable-lora": ("model", "adapters"),
    "--lora-paths": ("model", "adapters"),
    "--max-loras-per-batch": ("model", "adapters"),
    "--dtype": ("precision", "dtype"),
    "--quantization": ("precision", "quantization"),
    "--kv-cache-dtype": ("precision", "kv_cache_dtype"),
    "--tp-size": ("parallelism", "tensor"),
    "--tensor-parallel-size": ("parallelism", "tensor"),
    "--pp-size": ("parallelism", "pipeline"),
    "--pipeline-parallel-size": ("parallelism", "pipeline"),
    "--dp-size": ("parallelism", "data"),
    "--data-parallel-size": ("parallelism", "data"),
    "--context-length": ("limits", "max_model_len"),
    "--max-running-requests": ("limits", "max_concurrency"),
    "--chunked-prefill-size": ("limits", "max_batch_tokens"),
    "--mem-fraction-static": ("hardware", "memory_utilization"),
    "--host": ("server", "host"),
    "--port": ("server", "port"),
    "--api-key": ("server", "api_key_env"),
    "--nnodes": ("parallelism", "nodes"),
    "--node-rank": ("parallelism", "nodes"),
    "--dist-init-addr": ("parallelism", "nodes"),
    "--nccl-init-addr": ("parallelism", "nodes"),
}

# The port node 0 opens for torch.distributed initialization (--dist-init-addr LEADER:PORT).
DIST_INIT_PORT = 20000


def node_args(plan: Plan, refs: NodeRefs, rank: str) -> list[str]:
    """The flags that make one SGLang launcher node rank `rank` of plan.nodes (rank "0" serves HTTP)."""
    return ["--nnodes", str(plan.nodes), "--node-rank", rank, "--dist-init-addr", f"{refs.leader}:{DIST_INIT_PORT}"]


class SglangOptions(TargetOptions):
    """targets.sglang: the common options, and the static memory fraction."""

    mem_fraction_static: float | None = Field(
        default=None, gt=0, lt=1,
        description="SGLang's --mem-fraction-static (weights plus KV cache pool, as a share of each GPU). "
                    "Default: hardware.memory_utilization - 0.10, keeping a tenth of the GPU for activations.")


class SglangTarget(Target):
    name = "sglang"
    title = "SGLang"
    versions = tuple(VERSIONS)
    options = SglangOptions

    def capabilities(self, version: str) -> frozenset[Capability]:
        return VERSIONS[version].capabilities

    def unsupported_hint(self, capability: Capability, version: str) -> str | None:
        if capability is Capability.MAX_OUTPUT_TOKENS:
            return ("SGLang has no server-wide cap on max_tokens: remove limits.max_output_tokens and let "
                    "clients send max_tokens (context_length still bounds prompt + completion)")
        if capability in (Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF):
            return ("deployc does not lower SGLang's load-format quantizations: serve a pre-quantized awq, gptq "
                    "or fp8 checkpoint, or use the vllm target with version 0.11.2")
        return None

    def check(self, plan: Plan, opts: TargetOptions, version: str) -> list[Diagnostic]:
        assert isinstance(opts, SglangOptions)
        out: list[Diagnostic] = []
        lim = plan.limits
        if lim.max_input_tokens is not None and (lim.max_model_len is None
                                                 or lim.max_input_tokens != lim.max_model_len - 1):
            out.append(error(
                "sglang-max-input", "SGLang has no prompt-length limit of its own: it rejects prompts of "
                "context_length tokens or more",
                hint="remove limits.max_input_tokens for sglang, or set it to max_model_len - 1",
                path=("limits", "max_input_tokens")))
        if opts.mem_fraction_static is None and mem_fraction(plan, opts) < 0.1:
            out.append(error(
                "sglang-memory", f"memory_utilization {plan.hardware.memory_utilization:g} leaves SGLang "
                f"{mem_fraction(plan, opts):.2f} of each GPU for weights and KV cache after the "
                f"{ACTIVATION_SHARE:g} it keeps for activations",
                hint="raise hardware.memory_utilization, or set targets.sglang.mem_fraction_static",
                path=("hardware", "memory_utilization")))
        share = plan.hardware.memory_utilization
        if opts.mem_fraction_static is not None and opts.mem_fraction_static >= share:
            out.append(warning(
                "sglang-memory-override", f"mem_fraction_static {opts.mem_fraction_static:g} covers only weights "
                f"and KV cache, yet already reaches memory_utilization {share:g}: with activations SGLang takes "
                "more of each GPU than the spec allows",
                hint=f"use mem_fraction_static: {max(share - ACTIVATION_SHARE, 0.05):.2f} or less, or raise "
                     "hardware.memory_utilization", path=("targets", "sglang", "mem_fraction_static")))
        if plan.hardware.gpu.vendor == "amd" and opts.image is None:
            out.append(error(
                "sglang-rocm-image", f"{plan.hardware.gpu.name} needs SGLang's ROCm build; deployc pins only "
                "the CUDA image", hint="set targets.sglang.image to a ROCm SGLang image pinned by tag",
                path=("hardware", "gpu")))
        _, problem = container.port_binding(plan.server.host, plan.server.port)
        if problem:
            out.append(problem)
        if plan.multi_node and plan.server.port == DIST_INIT_PORT:
            out.append(error("sglang-port-nodes", f"port {DIST_INIT_PORT} is where node 0 of a multi-node copy opens "
                             "torch.distributed (--dist-init-addr); the HTTP server cannot take it too",
                             hint="choose another server.port", path=("server", "port")))
        out += container.arg_conflicts(opts.args, OWNED, self.name, shortest_prefix=len("--tp"))
        return out

    def memory_model(self, plan: Plan, opts: TargetOptions, version: str) -> EngineMemory:
        """SGLang's --mem-fraction-static x total memory holds weights and the KV pool only; activations,
        CUDA graphs and the runtime live in the rest (srt/model_executor/model_runner.py
        profile_max_num_token: rest_memory = available - total x (1 - mem_fraction_static)). Pages of
        one token (page_size 1)."""
        assert isinstance(opts, SglangOptions)
        return EngineMemory(
            engine=f"SGLang {version}", budget=Budget.STATIC, fraction=mem_fraction(plan, opts),
            fraction_flag="--mem-fraction-static", batch_tokens=plan.limits.max_batch_tokens or 8192,
            max_seqs=plan.limits.max_concurrency or 256, non_torch_gib=0.5, block_size=1, source="targets/sglang")

    def lower(self, plan: Plan, opts: TargetOptions, version: str, ctx: BuildContext) -> Lowered:
        assert isinstance(opts, SglangOptions)
        v = VERSIONS[version]
        seqs = memory.derived_concurrency(plan, ctx.memory, RUNNING_REQUESTS_CAP)
        options = server_options(plan, opts, v, plan.server.host, lambda ref, _where: ref, seqs)
        key = plan.server.api_key_env
        argv = [*v.launcher, *options]
        command = argv + (["--api-key", f"${{{key}}}"] if key else [])
        mounts = container.LocalMounts(ctx)
        in_container = server_options(plan, opts, v, "0.0.0.0", mounts.ref, seqs)
        key_tail = ["--api-key", container.api_key_ref(key)] if key else []   # SGLang reads no env variable
        banner = container.banner(ctx, self.name, self.title, version)
        model = plan.model
        about = [
            f"Serves {model.served_name} ({model.source}) on {plan.server.host}:{plan.server.port} "
            f"with SGLang {version}, OpenAI-compatible API under /v1.",
            f"Needs `pip install sglang=={version}` and {plan.gpus_needed} GPU(s) "
            f"({plan.hardware.gpu.name}); HF_TOKEN is read from the environment for gated models.",
        ]
        if plan.multi_node:
            return self._lower_nodes(plan, opts, v, ctx, banner, about, options, in_container, mounts)
        tail = [f'"{container.api_key_ref(key)}"'] if key else []
        script = container.serve_script(ctx, banner, about, argv + (["--api-key"] if key else []),
                                        container.user_env_shell(opts), shell_tail=tail)
        svc = container.service(
            plan=plan, image=opts.image or v.image, entrypoint=v.launcher, command=in_container,
            command_tail=key_tail, env_pass=["HF_TOKEN"], env_set=container.compose_env(opts),
            volumes=mounts.volumes, container_cache="/root/.cache/huggingface")
        compose = container.compose_file(banner + ["", f"docker compose up -d; the API is at "
                                                       f"{container.client_url(plan.server.host, plan.server.port, '/v1')} "
                                                       "once the health check passes."], svc)
        return Lowered(
            artifacts=(Artifact("serve.sh", script, executable=True), Artifact("compose.yaml", compose)),
            command=tuple(command), service=svc)


    def _lower_nodes(self, plan: Plan, opts: SglangOptions, v: SglangVersion, ctx: BuildContext,
                     banner: list[str], about: list[str], options: list[str], in_container: list[str],
                     mounts) -> Lowered:
        """serve.sh on node 0, serve-worker.sh on nodes 1..N-1; the LeaderWorkerSet containers."""
        n, per, key = plan.nodes, plan.gpus_per_node_used, plan.server.api_key_env
        argv = [*v.launcher, *options]
        leader_tail = node_args(plan, multinode.SCRIPT, "0")
        user_env = container.user_env_shell(opts)
        scripts = multinode.node_scripts(
            ctx, banner, plan, about[0], f"sglang=={v.version}", argv, user_env, user_env, leader_tail,
            node_args(plan, multinode.SCRIPT, multinode.SCRIPT.rank),
            leader_words=["--api-key", f'"{container.api_key_ref(key)}"'] if key else [])

        def svc(command: list[str], tail: list[str]) -> container.Service:
            return container.service(
                plan=plan, image=opts.image or v.image, entrypoint=v.launcher, command=command, command_tail=tail,
                env_pass=["HF_TOKEN"], env_set=container.compose_env(opts), volumes=mounts.volumes,
                container_cache="/root/.cache/huggingface", gpu_count=per)

        group = multinode.NodeGroup(
            size=n, replicas=plan.parallelism.data,
            leader=svc(in_container + node_args(plan, multinode.LWS, "0"),
                       ["--api-key", container.api_key_ref(key)] if key else []),
            worker=svc(in_container + node_args(plan, multinode.LWS, multinode.LWS.rank), []),
            internal_ports=(("dist", DIST_INIT_PORT),), node_args_at=len(in_container))
        command = argv + leader_tail + (["--api-key", f"${{{key}}}"] if key else [])
        return Lowered(artifacts=scripts, command=tuple(command), group=group)


# --max-running-requests deployc derives when the spec gives none: the full-length sequences the KV
# pool holds, at most this many (SGLang's own default grows with the pool and has no fixed cap).
RUNNING_REQUESTS_CAP = 1024


def mem_fraction(plan: Plan, opts: SglangOptions) -> float:
    if opts.mem_fraction_static is not None:
        return opts.mem_fraction_static
    return round(plan.hardware.memory_utilization - ACTIVATION_SHARE, 4)


def server_options(plan: Plan, opts: SglangOptions, v: SglangVersion, host: str, where,
                   seqs: int | None = None) -> list[str]:
    """Everything after the launcher. where(ref, container_path) maps local paths for containers;
    seqs is --max-running-requests: the spec's max_concurrency, else what the memory plan fits."""
    m, p, par, lim = plan.model, plan.precision, plan.parallelism, plan.limits
    args = ["--model-path", where(m.source, "/deployc/model")]
    if m.tokenizer:
        args += ["--tokenizer-path", where(m.tokenizer, "/deployc/tokenizer")]
    if m.revision:
        args += ["--revision", m.revision]
    if m.trust_remote_code:
        args.append("--trust-remote-code")
    if m.chat_template:
        args += ["--chat-template", where(m.chat_template, "/deployc/chat_template.jinja")]
    args += ["--served-model-name", m.served_name]
    args += ["--dtype", p.dtype]
    if p.quantization == "fp8":
        args += ["--quantization", "fp8"]
    if p.kv_cache_dtype == "fp8":
        args += ["--kv-cache-dtype", KV_FP8]
    args += ["--tp-size", str(par.tensor)]
    if par.pipeline > 1:
        args += ["--pp-size", str(par.pipeline)]
    if par.data > 1 and not plan.multi_node:  # multi-node: each copy is its own group of nodes
        args += ["--dp-size", str(par.data)]
    if lim.max_model_len is not None:
        args += ["--context-length", str(lim.max_model_len)]
    if seqs is not None:
        args += ["--max-running-requests", str(seqs)]
    if lim.max_batch_tokens is not None:
        args += ["--chunked-prefill-size", str(lim.max_batch_tokens)]
    args += ["--mem-fraction-static", f"{mem_fraction(plan, opts):g}"]
    if m.adapters:
        args += ["--enable-lora", "--lora-paths"]
        args += [f"{a.name}={where(a.source, f'/deployc/adapters/{a.name}')}" for a in m.adapters]
        if len(m.adapters) + 1 > v.default_max_loras_per_batch:
            args += ["--max-loras-per-batch", str(len(m.adapters) + 1)]
    args += ["--host", host, "--port", str(plan.server.port)]
    return args + list(opts.args)
