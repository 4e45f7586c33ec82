"""The vLLM target: `vllm serve` argv, serve.sh and compose.yaml.

Spellings and value choices are checked against vLLM's own source at each
pinned release (targets/vllm/versions.py names the commit), chiefly:
  vllm/engine/arg_utils.py            EngineArgs.add_cli_args (engine flags)
  vllm/entrypoints/openai/cli_args.py make_arg_parser, FrontendArgs (server flags)
  vllm/entrypoints/cli/serve.py       the `vllm serve <model_tag>` subcommand
  vllm/envs.py                        VLLM_API_KEY
and the conformance tier (tests/conformance) parses every sample's argv with
the real `vllm serve` parser of each pinned version.

Spec -> vLLM, decisions worth knowing:
- precision.quantization: awq, gptq, int8 and int4 name pre-quantized
  checkpoints. vLLM reads quantization_config.quant_method from config.json
  and picks its fastest kernel (awq -> awq_marlin, gptq -> gptq_marlin);
  passing --quantization would pin the slow one or fail the match check
  (vllm#5842), so deployc passes none. fp8 is passed as --quantization fp8:
  it equals an fp8 checkpoint's method and quantizes a 16-bit one at load
  (0.33.0 logs that fp8_per_tensor is the new name for the online case, but
  fp8_per_tensor would fail the match check on an fp8 checkpoint, and deployc
  cannot tell the two apart without the checkpoint's config). bitsandbytes
  (in-flight 4-bit) and gguf (model.gguf, with the hub model as tokenizer)
  exist only in 0.11.2; 0.33.0 moved both to plugins.
- limits.max_input_tokens: vLLM bounds prompts only by max_model_len (prompt
  + max_tokens); any other value cannot be expressed and is an error.
- limits.max_output_tokens: caps every request's max_tokens, through
  --override-generation-config {"max_new_tokens": N} (a server-wide limit
  in both versions, see versions.py).
- The API key travels by name: serve.sh exports VLLM_API_KEY from the
  variable server.api_key_env names, which vLLM reads (vllm/envs.py).
- Multi-node (plan.nodes > 1): vLLM's own multiprocessing executor across nodes, no Ray. Both
  pinned versions have it: every node runs `vllm serve` with --nnodes N --node-rank R
  --master-addr LEADER --master-port 29501, node 0 serves HTTP, nodes 1..N-1 add --headless
  (0.11.2 and 0.33.0 vllm/entrypoints/cli/serve.py run_headless: "Run headless workers (for
  multi-node PP/TP)" when node_rank_within_dp > 0; flags in vllm/engine/arg_utils.py
  add_cli_args, 0.11.2 :757-760, 0.33.0 :1175-1178; config/parallel.py picks the mp backend when
  nnodes > 1 on CUDA, 0.11.2 :560, 0.33.0 :1064, and asserts world_size % nnodes == 0). The
  plain platform writes serve.sh (node 0) and serve-worker.sh (LEADER_ADDR, NODE_RANK) and no
  compose.yaml (one Compose file is one machine); parallelism.data becomes that many groups, never
  --data-parallel-size. Tensor parallelism across nodes works but puts every layer's all-reduce
  on the network: a warning suggests vLLM's own recipe, tensor = GPUs per node and pipeline =
  nodes (docs/serving/distributed_serving.md, "Multi-Node Multi-GPU").
- In compose.yaml the engine listens on 0.0.0.0 inside the container and
  server.host picks the host address the port is published on; local paths
  are bind-mounted read-only under /deployc.
"""

from __future__ import annotations

import json
from typing import Sequence

from compiler import memory
from compiler.diagnostics import Diagnostic, error, warning
from compiler.memory import Budget, EngineMemory
from compiler.plan import Plan
from compiler.target_api import Artifact, BuildContext, Capability, Lowered, Target, TargetOptions
from targets._shared import container, multinode
from targets._shared.multinode import NodeRefs
from targets.vllm.versions import VERSIONS, VllmVersion

# Flags deployc derives from the spec, and the spec path that owns each (for `args` conflicts).
OWNED: dict[str, tuple[str, ...]] = {
    "--model": ("model", "source"),
    "--revision": ("model", "revision"),
    "--tokenizer": ("model", "tokenizer"),
    "--trust-remote-code": ("model", "trust_remote_code"),
    "--chat-template": ("model", "chat_template"),
    "--served-model-name": ("model", "served_name"),
    "--enable-lora": ("model", "adapters"),
    "--lora-modules": ("model", "adapters"),
    "--max-lora-rank": ("model", "adapters"),
    "--max-loras": ("model", "adapters"),
    "--dtype": ("precision", "dtype"),
    "--quantization": ("precision", "quantization"),
    "-q": ("precision", "quantization"),
    "--kv-cache-dtype": ("precision", "kv_cache_dtype"),
    "--tensor-parallel-size": ("parallelism", "tensor"),
    "-tp": ("parallelism", "tensor"),
    "--pipeline-parallel-size": ("parallelism", "pipeline"),
    "-pp": ("parallelism", "pipeline"),
    "--data-parallel-size": ("parallelism", "data"),
    "-dp": ("parallelism", "data"),
    "--max-model-len": ("limits", "max_model_len"),
    "--max-num-seqs": ("limits", "max_concurrency"),
    "--max-num-batched-tokens": ("limits", "max_batch_tokens"),
    "--override-generation-config": ("limits", "max_output_tokens"),
    "--gpu-memory-utilization": ("hardware", "memory_utilization"),
    "--host": ("server", "host"),
    "--port": ("server", "port"),
    "--api-key": ("server", "api_key_env"),
    "--nnodes": ("parallelism", "nodes"),
    "-n": ("parallelism", "nodes"),
    "--node-rank": ("parallelism", "nodes"),
    "-r": ("parallelism", "nodes"),
    "--master-addr": ("parallelism", "nodes"),
    "--master-port": ("parallelism", "nodes"),
    "--headless": ("parallelism", "nodes"),
}

# ParallelConfig.master_port's default (config/parallel.py: 0.11.2 :216, 0.33.0 :320), spelled out:
# the port node 0 opens for the torch.distributed store the other nodes join.
MASTER_PORT = 29501


def node_args(plan: Plan, refs: NodeRefs, rank: str) -> list[str]:
    """The flags that make one `vllm serve` node rank `rank` of plan.nodes (rank "0": the leader,
    which serves HTTP; any other: a --headless worker)."""
    args = ["--nnodes", str(plan.nodes), "--node-rank", rank, "--master-addr", refs.leader,
            "--master-port", str(MASTER_PORT)]
    return args if rank == "0" else args + ["--headless"]


# Environment variables vLLM reads for a setting the spec owns.
OWNED_ENV = {"VLLM_API_KEY": ("server", "api_key_env")}


def _normalize(flag: str) -> str:
    # FlexibleArgumentParser turns --max_model_len into --max-model-len; BooleanOptionalAction
    # adds --no-<flag>; 0.33's EnableDisableAction pairs --disable-X with --enable-X
    # (vllm/utils/argparse_utils.py).
    if flag.startswith("--"):
        flag = "--" + flag[2:].replace("_", "-")
        if flag.startswith("--no-") and "--" + flag[5:] in OWNED:
            flag = "--" + flag[5:]
        elif flag.startswith("--disable-") and "--enable-" + flag[10:] in OWNED:
            flag = "--enable-" + flag[10:]
    return flag


class VllmOptions(TargetOptions):
    """targets.vllm: the common options (version, image, args, env)."""


class VllmTarget(Target):
    name = "vllm"
    title = "vLLM"
    versions = tuple(VERSIONS)
    options = VllmOptions

    def capabilities(self, version: str) -> frozenset[Capability]:
        return VERSIONS[version].capabilities

    def unsupported_hint(self, capability: Capability, version: str) -> str | None:
        if capability in (Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF):
            return (f"vLLM {version} moved this to an out-of-tree plugin that the official image lacks: pin "
                    "targets.vllm.version: 0.11.2, or serve a pre-quantized awq, gptq or fp8 checkpoint")
        return None

    def check(self, plan: Plan, opts: TargetOptions, version: str) -> list[Diagnostic]:
        v = VERSIONS[version]
        out: list[Diagnostic] = []
        lim, gpu, quant = plan.limits, plan.hardware.gpu, plan.precision.quantization
        if lim.max_input_tokens is not None and (lim.max_model_len is None
                                                 or lim.max_input_tokens != lim.max_model_len - 1):
            out.append(error(
                "vllm-max-input", "vLLM has no prompt-length limit of its own: it admits any prompt that fits "
                "max_model_len together with the request's max_tokens",
                hint="remove limits.max_input_tokens for vllm, or set it to max_model_len - 1",
                path=("limits", "max_input_tokens")))
        batch = lim.max_batch_tokens
        if batch is None:
            batch = v.default_batch_tokens(gpu.name, gpu.memory_gib)
        if lim.max_concurrency is not None and batch < lim.max_concurrency:
            set_here = lim.max_batch_tokens is not None
            out.append(error(
                "vllm-batch-tokens", f"vLLM refuses to start when max_num_batched_tokens ({batch}"
                + ("" if set_here else f", its default on {gpu.name}")
                + f") is below max_num_seqs ({lim.max_concurrency})",
                hint=f"set limits.max_batch_tokens to {lim.max_concurrency} or more, or lower max_concurrency",
                path=("limits", "max_batch_tokens" if set_here else "max_concurrency")))
        for i, adapter in enumerate(plan.model.adapters):
            if adapter.rank is not None and adapter.rank > max(v.max_lora_ranks):
                out.append(error(
                    "vllm-lora-rank", f"adapter {adapter.name!r} has LoRA rank {adapter.rank}; vLLM {version} "
                    f"serves ranks up to {max(v.max_lora_ranks)}",
                    hint="retrain or merge the adapter with a lower rank",
                    path=("model", "adapters", i, "rank" if "rank" in adapter.model_fields_set else "source")))
        need = v.quant_min_sm.get(quant)
        if need is not None and gpu.sm is not None and gpu.sm < need:
            out.append(error(
                "vllm-quantization-gpu", f"vLLM {version}'s {quant} kernels need compute capability {need} or "
                f"newer; {gpu.name} has {gpu.compute_capability}",
                hint="serve a 16-bit checkpoint (quantization: none)"
                + ("" if quant == "gptq" else " or a gptq one") + " on this GPU",
                path=("precision", "quantization")))
        if quant == "gguf" and plan.model.gguf is None:
            out.append(error("vllm-gguf", "quantization gguf needs model.gguf, the .gguf file vLLM loads",
                             hint="set model.gguf to the file's path", path=("precision", "quantization")))
        if gpu.vendor == "amd" and opts.image is None:
            out.append(error(
                "vllm-rocm-image", f"{gpu.name} needs vLLM's ROCm build; deployc pins only the CUDA image",
                hint="set targets.vllm.image to a ROCm vLLM image pinned by tag", path=("hardware", "gpu")))
        _, problem = container.port_binding(plan.server.host, plan.server.port)
        if problem:
            out.append(problem)
        if plan.multi_node and plan.server.port == MASTER_PORT:
            out.append(error("vllm-port-nodes", f"port {MASTER_PORT} is where node 0 of a multi-node copy opens the "
                             "torch.distributed store (--master-port); the HTTP server cannot take it too",
                             hint="choose another server.port", path=("server", "port")))
        if plan.multi_node and plan.parallelism.tensor > plan.gpus_per_node_used:
            per = plan.gpus_per_node_used
            out.append(warning(
                "vllm-tensor-across-nodes", f"tensor parallel size {plan.parallelism.tensor} spans "
                f"{plan.parallelism.tensor // per} nodes of {per} GPUs: every layer's all-reduce crosses the network",
                hint=f"vLLM recommends tensor: {per} (the GPUs of one node) and pipeline: "
                     f"{plan.gpus_per_replica // per} (the nodes) on the same {plan.gpus_per_replica} GPUs",
                path=("parallelism", "tensor")))
        out += container.arg_conflicts(opts.args, OWNED, self.name, _normalize, v.stale_flags)
        out += container.env_conflicts(opts.env, OWNED_ENV, self.name)
        return out

    def memory_model(self, plan: Plan, opts: TargetOptions, version: str) -> EngineMemory:
        """vLLM's budget: gpu_memory_utilization x total memory holds weights, the profiling pass's
        activation peak, non-torch memory (and, in 0.33, the CUDA-graph estimate); the rest is KV
        cache in blocks of 16 tokens (v1/worker/gpu_worker.py determine_available_memory;
        config/cache.py DEFAULT_BLOCK_SIZE; v1/core/kv_cache_utils.py get_max_concurrency)."""
        v, gpu, lim = VERSIONS[version], plan.hardware.gpu, plan.limits
        return EngineMemory(
            engine=f"vLLM {version}", budget=Budget.TOTAL, fraction=plan.hardware.memory_utilization,
            fraction_flag="--gpu-memory-utilization",
            batch_tokens=lim.max_batch_tokens or v.default_batch_tokens(gpu.name, gpu.memory_gib),
            max_seqs=lim.max_concurrency or v.default_max_seqs(gpu.name, gpu.memory_gib),
            non_torch_gib=v.non_torch_gib,
            cuda_graph_gib=v.cuda_graph_gib, block_size=16, source="targets/vllm/versions.py")

    def lower(self, plan: Plan, opts: TargetOptions, version: str, ctx: BuildContext) -> Lowered:
        v = VERSIONS[version]
        gpu = plan.hardware.gpu
        seqs = memory.derived_concurrency(plan, ctx.memory, v.default_max_seqs(gpu.name, gpu.memory_gib))
        argv = ["vllm", "serve", *engine_args(plan, opts, v, plan.server.host, lambda ref, _where: ref, seqs)]
        mounts = container.LocalMounts(ctx)
        in_container = engine_args(plan, opts, v, "0.0.0.0", mounts.ref, seqs)
        banner = container.banner(ctx, self.name, self.title, version)
        model = plan.model
        about = [
            f"Serves {model.served_name} ({model.source}) on {plan.server.host}:{plan.server.port} "
            f"with vLLM {version}, OpenAI-compatible API under /v1.",
            f"Needs `pip install vllm=={version}` and {plan.gpus_needed} GPU(s) "
            f"({plan.hardware.gpu.name}); HF_TOKEN is read from the environment for gated models.",
        ]
        env = container.api_key_export(plan, "VLLM_API_KEY") + container.user_env_shell(opts)
        if plan.multi_node:
            return self._lower_nodes(plan, opts, v, ctx, banner, about, argv, in_container, mounts, env)
        script = container.serve_script(ctx, banner, about, argv, env)
        svc = container.service(
            plan=plan, image=opts.image or v.image, command=in_container, env_pass=["HF_TOKEN"],
            env_set={**container.compose_api_key(plan, "VLLM_API_KEY"), **container.compose_env(opts)},
            volumes=mounts.volumes, container_cache="/root/.cache/huggingface")
        compose = container.compose_file(banner + ["", f"docker compose up -d; the API is at "
                                                       f"{container.client_url(plan.server.host, plan.server.port, '/v1')} "
                                                       "once the health check passes."], svc)
        return Lowered(
            artifacts=(Artifact("serve.sh", script, executable=True), Artifact("compose.yaml", compose)),
            command=tuple(argv), service=svc)


    def _lower_nodes(self, plan: Plan, opts: TargetOptions, v: VllmVersion, ctx: BuildContext, banner: list[str],
                     about: list[str], argv: list[str], in_container: list[str], mounts, env) -> Lowered:
        """serve.sh on node 0, serve-worker.sh on nodes 1..N-1; the LeaderWorkerSet containers."""
        n, per = plan.nodes, plan.gpus_per_node_used
        leader_tail = node_args(plan, multinode.SCRIPT, "0")
        scripts = multinode.node_scripts(ctx, banner, plan, about[0], f"vllm=={v.version}", argv, env,
                                         container.user_env_shell(opts), leader_tail,
                                         node_args(plan, multinode.SCRIPT, multinode.SCRIPT.rank))

        def svc(command: list[str], api_key: bool) -> container.Service:
            return container.service(
                plan=plan, image=opts.image or v.image, command=command, env_pass=["HF_TOKEN"],
                env_set={**(container.compose_api_key(plan, "VLLM_API_KEY") if api_key else {}),
                         **container.compose_env(opts)},
                volumes=mounts.volumes, container_cache="/root/.cache/huggingface", gpu_count=per)

        group = multinode.NodeGroup(
            size=n, replicas=plan.parallelism.data,
            leader=svc(in_container + node_args(plan, multinode.LWS, "0"), True),
            worker=svc(in_container + node_args(plan, multinode.LWS, multinode.LWS.rank), False),
            internal_ports=(("dist", MASTER_PORT),), node_args_at=len(in_container))
        return Lowered(artifacts=scripts, command=tuple(argv + leader_tail), group=group)


def engine_args(plan: Plan, opts: TargetOptions, v: VllmVersion, host: str, where, seqs: int | None) -> list[str]:
    """Everything after `vllm serve`. where(ref, container_path) maps local paths for containers;
    seqs is --max-num-seqs: the spec's max_concurrency, else what the memory plan fits."""
    m, p, par, lim = plan.model, plan.precision, plan.parallelism, plan.limits
    args: list[str] = []
    if p.quantization == "gguf":
        args += [where(m.gguf, "/deployc/model.gguf"), "--tokenizer", where(m.tokenizer or m.source, "/deployc/model")]
    else:
        args.append(where(m.source, "/deployc/model"))
        if m.tokenizer:
            args += ["--tokenizer", where(m.tokenizer, "/deployc/tokenizer")]
    if m.revision:
        args += ["--revision", m.revision]
    if m.trust_remote_code:
        args.append("--trust-remote-code")
    if m.chat_template:
        args += ["--chat-template", where(m.chat_template, "/deployc/chat_template.jinja")]
    args += ["--served-model-name", m.served_name]
    args += ["--dtype", p.dtype]
    if p.quantization == "fp8":
        # A 16-bit checkpoint is quantized while loading; an fp8 one declares itself (facts.quant_method).
        known_16bit = plan.facts.from_checkpoint and plan.facts.quant_method is None
        args += ["--quantization", v.online_fp8 if known_16bit else "fp8"]
    elif p.quantization == "bitsandbytes":
        args += ["--quantization", p.quantization]
    if p.kv_cache_dtype == "fp8":
        args += ["--kv-cache-dtype", "fp8"]
    args += ["--tensor-parallel-size", str(par.tensor)]
    if par.pipeline > 1:
        args += ["--pipeline-parallel-size", str(par.pipeline)]
    if par.data > 1 and not plan.multi_node:  # multi-node: each copy is its own group of nodes
        args += ["--data-parallel-size", str(par.data)]
    if lim.max_model_len is not None:
        args += ["--max-model-len", str(lim.max_model_len)]
    if seqs is not None:
        args += ["--max-num-seqs", str(seqs)]
    if lim.max_batch_tokens is not None:
        args += ["--max-num-batched-tokens", str(lim.max_batch_tokens)]
    if lim.max_output_tokens is not None:
        args += ["--override-generation-config", json.dumps({"max_new_tokens": lim.max_output_tokens})]
    args += ["--gpu-memory-utilization", f"{plan.hardware.memory_utilization:g}"]
    if m.adapters:
        args += ["--enable-lora", "--lora-modules"]
        args += [json.dumps({"name": a.name, "path": where(a.source, f"/deployc/adapters/{a.name}")},
                            separators=(",", ":")) for a in m.adapters]
        args += ["--max-loras", str(len(m.adapters))]
        rank = _lora_rank(m.adapters, v)
        if rank != v.default_max_lora_rank:
            args += ["--max-lora-rank", str(rank)]
    args += ["--host", host, "--port", str(plan.server.port)]
    return args + list(opts.args)


def _lora_rank(adapters: Sequence, v: VllmVersion) -> int:
    """The smallest --max-lora-rank choice that holds every adapter (unknown ranks: vLLM's default)."""
    need = max([a.rank for a in adapters if a.rank is not None] or [v.default_max_lora_rank])
    return min(r for r in v.max_lora_ranks if r >= need) if need <= max(v.max_lora_ranks) else need
