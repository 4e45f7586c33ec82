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

from collections.abc import Sequence
from dataclasses import replace

from deployc.compiler import api
from deployc.compiler.api import (
    Artifact,
    Budget,
    BuildContext,
    Capability,
    Diagnostic,
    EngineMemory,
    KvManager,
    Lowered,
    Plan,
    Target,
    error,
    warning,
)
from deployc.targets.vllm import parsers
from deployc.targets.vllm.options import (
    SPEC_METHODS,
    speculative_methods,
    MASTER_PORT,
    OWNED_ENV,
    PARSER,
    TABLE,
    Lowering,
    VllmOptions,
    engine_args,
    engine_table,
    DP_RPC_PORT,
    node_args,
    node_derived,
)
from deployc.targets.vllm.versions import LOG_FIELDS, VERSIONS, VllmVersion, memory_of, report_lines

__all__ = ["VllmOptions", "VllmTarget"]

def _parallel_modes(plan: Plan, v: VllmVersion) -> list[Diagnostic]:
    """vLLM's rules for data_mode and expert: --data-parallel-size with a MoE model is always data-parallel
    attention (the MoE layers run across all tensor x data ranks), and --enable-expert-parallel makes the
    expert-parallel size tensor x data, nothing in between (config/parallel.py)."""
    par, out = plan.parallelism, []
    span = par.tensor * par.data
    if plan.moe and par.data > 1 and plan.data_mode == "replicas" and not plan.multi_node:
        out.append(error(
            "vllm-data-replicas-moe", f"vLLM {v.version}'s --data-parallel-size on a mixture-of-experts model runs "
            "the MoE layers across all ranks (data-parallel attention), not as whole copies",
            hint="use data_mode: attention, or data: 1 with kubernetes.replicas for whole copies",
            path=("parallelism", "data_mode") if par.data_mode else ("parallelism", "data")))
    if par.expert > 1 and par.expert != span:
        out.append(error(
            "vllm-expert-size", f"vLLM's expert-parallel size is tensor x data ({span}) once "
            f"--enable-expert-parallel is on; {par.expert} cannot be expressed",
            hint=f"use expert: {span}, or expert: 1 (tensor parallelism shards the experts)",
            path=("parallelism", "expert")))
    return out


def decode_context_parallel(args: Sequence[str], v: VllmVersion) -> int:
    """--decode-context-parallel-size / -dcp in targets.vllm.args (1 when absent or not a number: check_args
    reports a malformed value)."""
    text = engine_table(v.data_version).value(args, "--decode-context-parallel-size", PARSER)
    return int(text) if text is not None and text.isdigit() and int(text) > 0 else 1


class VllmTarget(Target[VllmOptions, VllmVersion]):
    name = "vllm"
    title = "vLLM"
    runs_container = True
    versions = VERSIONS
    options = VllmOptions

    def unsupported_hint(self, capability: Capability, v: VllmVersion) -> str | None:
        if capability in (Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF):
            return (f"vLLM {v.version} moved this to an out-of-tree plugin that the official image lacks: pin "
                    "targets.vllm.version: 0.11.2, or serve a pre-quantized awq, gptq or fp8 checkpoint")
        return None

    def check(self, plan: Plan, opts: VllmOptions, v: VllmVersion) -> list[Diagnostic]:
        out: list[Diagnostic] = []
        lim, gpu, quant = plan.limits, plan.hardware.gpu, plan.precision.quantization
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
                    "vllm-lora-rank", f"adapter {adapter.name!r} has LoRA rank {adapter.rank}; vLLM {v.version} "
                    f"serves ranks up to {max(v.max_lora_ranks)}",
                    hint="retrain or merge the adapter with a lower rank",
                    path=("model", "adapters", i, "rank" if "rank" in adapter.model_fields_set else "source")))
        need = v.quant_min_sm.get(quant)
        if need is not None and gpu.sm is not None and gpu.sm < need and quant not in ("nvfp4", "mxfp4"):
            out.append(error(
                "vllm-quantization-gpu", f"vLLM {v.version}'s {quant} kernels need compute capability {need} or "
                f"newer; {gpu.name} has {gpu.compute_capability}",
                hint="serve a 16-bit checkpoint (quantization: none)"
                + ("" if quant == "gptq" else " or a gptq one") + " on this GPU",
                path=("precision", "quantization")))
        else:   # the FP4 families (declared by the spec or by the checkpoint), and the Marlin fallbacks
            out += api.quant_gpu(plan, f"vLLM {v.version}",
                                 {k: s for k, s in v.quant_min_sm.items() if k in ("nvfp4", "mxfp4")},
                                 v.quant_fallback)
        if quant == "gguf" and plan.model.gguf is None:
            out.append(error("vllm-gguf", "quantization gguf needs model.gguf, the .gguf file vLLM loads",
                             hint="set model.gguf to the file's path", path=("precision", "quantization")))
        out += _parallel_modes(plan, v)
        if plan.model.rope_scaling is not None and v.rope_key == "rope_parameters" and plan.facts.rope_theta is None:
            out.append(error(
                "vllm-rope-theta", f"vLLM {v.version} replaces the model's rope_parameters whole with --hf-overrides, "
                "so deployc must write the checkpoint's rope_theta with it, and no config.json read says it",
                hint="set model.facts.rope_theta to the checkpoint's config.json value, serve from a local folder or "
                     "the Hugging Face cache (build --hf-cache) so config.json is read, or pin targets.vllm.version: "
                     "0.11.2 (rope_scaling beside rope_theta)",
                path=("model", "rope_scaling")))
        out += _speculative_checks(plan, v)
        for _, port, what in _node_ports(plan):
            if plan.server.port == port:
                out.append(error("vllm-port-nodes", f"port {port} is where node 0 of a multi-node copy opens {what}; "
                                 "the HTTP server cannot take it too", hint="choose another server.port",
                                 path=("server", "port")))
        if plan.multi_node and plan.attention_dp and plan.gpus_per_replica == 1 and v.nnodes_needs_mp:
            out.append(error(
                "vllm-data-parallel-nodes", f"vLLM {v.version} cannot run data-parallel attention over "
                f"{plan.nodes} nodes with one GPU per data rank: its ParallelConfig picks the uni executor for "
                "one GPU and then refuses --nnodes > 1 (config/parallel.py: \"nnodes > 1 can only be set when "
                "distributed exectuor backend is mp\")", hint="pin targets.vllm.version: 0.33.0 or later, or use "
                "tensor 2 or more per data rank", path=("parallelism", "data_mode")))
        if plan.multi_node and plan.parallelism.tensor > plan.gpus_per_node_used:
            per = plan.gpus_per_node_used
            out.append(warning(
                "vllm-tensor-across-nodes", f"tensor parallel size {plan.parallelism.tensor} spans "
                f"{plan.parallelism.tensor // per} nodes of {per} GPUs: every layer's all-reduce crosses the network",
                hint=f"vLLM recommends tensor: {per} (the GPUs of one node) and pipeline: "
                     f"{plan.gpus_per_replica // per} (the nodes) on the same {plan.gpus_per_replica} GPUs",
                path=("parallelism", "tensor")))
        others = [engine_table(k) for k in VERSIONS if k != v.data_version]
        out += api.check_args(opts.args, engine_table(v.data_version), self.title, self.name, PARSER,
                              TABLE.owners(v), others, v.stale_flags)
        out += api.env_conflicts(opts.env, OWNED_ENV, self.name)
        return out

    def importer(self) -> api.Importer:
        from deployc.targets.vllm.importer import IMPORTER
        return IMPORTER

    def parsers(self, v: VllmVersion) -> api.ParserSupport:
        return parsers.support(v.data_version, v.version)

    def memory_model(self, plan: Plan, opts: VllmOptions, v: VllmVersion) -> EngineMemory:
        """vLLM's budget: gpu_memory_utilization x total memory holds weights, the profiling pass's
        activation peak, non-torch memory and (0.21 on) the CUDA-graph estimate; the rest is the KV
        cache, one block pool shared by groups of layers (the hybrid KV cache manager). Per release
        (versions.py MEMORY, with source lines): block size, how the token line is derived, what a
        sliding window holds, where CUDA graphs are paid. Flags in targets.vllm.args that change the
        sums: --enforce-eager (no CUDA graphs), --language-model-only (vision/audio towers not loaded),
        --decode-context-parallel-size (the KV cache interleaved over that many tensor ranks)."""
        gpu, lim = plan.hardware.gpu, plan.limits
        m = memory_of(v.version)   # the release itself: a pinned patch release keeps its minor's entry
        eager = "--enforce-eager" in opts.args
        dcp = decode_context_parallel(opts.args, v)
        share = plan.hardware.memory_utilization
        return EngineMemory(
            engine=f"vLLM {v.version}", budget=Budget.TOTAL, fraction=share or m.default_utilization,
            fraction_flag="--gpu-memory-utilization", fraction_default=share is None,
            batch_tokens=lim.max_batch_tokens or v.default_batch_tokens(gpu.name, gpu.memory_gib),
            max_seqs=lim.max_concurrency or v.default_max_seqs(gpu.name, gpu.memory_gib),
            max_seqs_default=lim.max_concurrency is None,
            non_torch_gib=m.non_torch_gib, tp_overhead_gib=m.tp_overhead_gib,
            cuda_graph_gib=m.cuda_graph_gib if m.graphs_in_budget and not eager else 0.0,
            block_size=m.block_size, kv_manager=KvManager.BLOCK_GROUPS, token_report=m.token_report,
            in_flight_batches=m.in_flight_batches, sampler_flat=True, sampler_bytes=m.sampler_bytes,
            act_mlp=m.act_mlp, act_hidden=m.act_hidden,
            load_towers="--language-model-only" not in opts.args, source=m.source,
            state_blocks=1 if plan.cache.prefix_caching is False else m.state_blocks,
            report=report_lines(m), log_fields=LOG_FIELDS, draft_kv=api.DraftKv.OWN, context_shards=dcp,
            notes=((f"--decode-context-parallel-size {dcp} (targets.vllm.args): each of {dcp} tensor ranks keeps "
                    f"every {dcp}th token of the attention KV cache, so the pool holds {dcp}x the tokens "
                    "(vllm/v1/core/kv_cache_utils.py resolve_dcp_kv_block_size at 0.34.0; the token line "
                    "multiplied by dcp_world_size at 0.11.2)",) if dcp > 1 else ()))

    def lower(self, plan: Plan, opts: VllmOptions, v: VllmVersion, ctx: BuildContext) -> Lowered:
        here = Lowering(plan, opts, v, plan.server.host, lambda ref, _where: ref)
        argv = ["vllm", "serve", *engine_args(here)]
        derived = api.derived_of(TABLE, here, v, plan)
        mounts = api.LocalMounts(ctx)
        in_container = engine_args(Lowering(plan, opts, v, "0.0.0.0", mounts.map))
        banner = api.banner(ctx, self.name, self.title, v.version)
        model = plan.model
        about = [
            f"Serves {model.served_name} ({model.source}) on {plan.server.host}:{plan.server.port} "
            f"with vLLM {v.version}, OpenAI-compatible API under /v1.",
            f"Needs `pip install vllm=={v.version}` and {plan.gpus_needed} GPU(s) "
            f"({plan.hardware.gpu.name}); HF_TOKEN is read from the environment for gated models.",
        ]
        env = api.api_key_export(plan, "VLLM_API_KEY") + api.user_env_shell(opts)
        if plan.multi_node:
            lowered = self._lower_nodes(plan, opts, v, ctx, banner, about, argv, in_container, mounts, env)
            return replace(lowered, derived=derived + node_derived(plan))
        script = api.serve_script(ctx, banner, about, argv, env)
        svc = api.service(
            plan=plan, image=opts.image or v.image, command=in_container, env_pass=["HF_TOKEN"],
            env_set={**api.compose_api_key(plan, "VLLM_API_KEY"), **api.compose_env(opts)},
            volumes=mounts.volumes, container_cache="/root/.cache/huggingface")
        compose = api.compose_file(banner + ["", f"docker compose up -d; the API is at "
                                                       f"{api.client_url(plan.server.host, plan.server.port, '/v1')} "
                                                       "once the health check passes."], svc)
        return Lowered(
            artifacts=(Artifact("serve.sh", script, executable=True), Artifact("compose.yaml", compose)),
            command=tuple(argv), service=svc, derived=derived)


    def _lower_nodes(self, plan: Plan, opts: VllmOptions, v: VllmVersion, ctx: BuildContext, banner: list[str],
                     about: list[str], argv: list[str], in_container: list[str], mounts: api.LocalMounts,
                     env: list[tuple[str, str]]) -> Lowered:
        """serve.sh on node 0, serve-worker.sh on nodes 1..N-1; the LeaderWorkerSet containers."""
        n, per = plan.nodes, plan.gpus_per_node_used
        leader_tail = node_args(plan, api.SCRIPT, "0")
        scripts = api.node_scripts(ctx, banner, plan, about[0], f"vllm=={v.version}", argv, env,
                                         api.user_env_shell(opts), leader_tail,
                                         node_args(plan, api.SCRIPT, api.SCRIPT.rank))

        def svc(command: list[str], api_key: bool) -> api.Service:
            return api.service(
                plan=plan, image=opts.image or v.image, command=command, env_pass=["HF_TOKEN"],
                env_set={**(api.compose_api_key(plan, "VLLM_API_KEY") if api_key else {}),
                         **api.compose_env(opts)},
                volumes=mounts.volumes, container_cache="/root/.cache/huggingface", gpu_count=per)

        group = api.NodeGroup(
            size=n, replicas=plan.copies,
            leader=svc(in_container + node_args(plan, api.LWS, "0"), True),
            worker=svc(in_container + node_args(plan, api.LWS, api.LWS.rank), False),
            internal_ports=tuple((name, port) for name, port, _ in _node_ports(plan)),
            node_args_at=len(in_container))
        return Lowered(artifacts=scripts, command=tuple(argv + leader_tail), group=group)


def _node_ports(plan: Plan) -> list[tuple[str, int, str]]:
    """(name, port, what it is) for each port node 0 of a multi-node engine opens besides HTTP: the
    torch.distributed store, and with data-parallel attention the data-parallel RPC port the other
    nodes' engines handshake on (ParallelConfig.data_parallel_rpc_port, 29550 in 0.11.2
    config/parallel.py:87, 0.33.0 :161, 0.34.0 :169; serve.py run_headless)."""
    if not plan.multi_node:
        return []
    ports = [("dist", MASTER_PORT, "the torch.distributed store (--master-port)")]
    if plan.attention_dp:
        ports.append(("dp-rpc", DP_RPC_PORT, "the data-parallel RPC socket (--data-parallel-rpc-port)"))
    return ports


def _speculative_checks(plan: Plan, v: VllmVersion) -> list[Diagnostic]:
    """What vLLM's SpeculativeConfig refuses at startup (vllm/config/speculative.py _verify_args)."""
    s = plan.speculative
    if s is None:
        return []
    out: list[Diagnostic] = []
    method = SPEC_METHODS[s.method]
    if method not in speculative_methods(v.data_version):
        out.append(error("vllm-speculative-method", f"vLLM {v.version} has no speculative method {method}",
                         hint="pick another speculative.method", path=("speculative", "method")))
    if s.num_tokens is None and s.method != "mtp":
        out.append(error("vllm-speculative-tokens", f"vLLM {v.version} needs num_speculative_tokens for {method}: it "
                         "reads a depth only from an MTP checkpoint (n_predict), and has no default",
                         hint="set speculative.num_tokens (e.g. what the head or recipe documents)",
                         path=("speculative", "method")))
    if s.topk is not None and s.topk > 1:
        out.append(error("vllm-speculative-topk", f"vLLM {v.version}'s speculative config proposes one chain, not a "
                         "tree", hint="remove speculative.topk (or set 1) for vllm", path=("speculative", "topk")))
    if s.tensor is not None and s.tensor not in (1, plan.parallelism.tensor):
        out.append(error("vllm-speculative-tensor", f"vLLM runs the draft model with tensor parallel size 1 or the "
                         f"target's ({plan.parallelism.tensor}), not {s.tensor}",
                         hint=f"use speculative.tensor: 1 or {plan.parallelism.tensor}",
                         path=("speculative", "tensor")))
    return out
