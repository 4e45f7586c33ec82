"""The SGLang target: `sglang serve` / `python3 -m sglang.launch_server` argv, serve.sh, compose.yaml.

Spellings and value choices are read from SGLang's own source at each pinned release
(targets/sglang/versions.py names the file and line behind each), chiefly:
  0.4.10.post2  python/sglang/srt/server_args.py      ServerArgs.add_cli_args, prepare_server_args
  0.5.23        python/sglang/srt/arg_groups/fields/  the ServerArgs fields the parser is built from
                python/sglang/cli/serve.py            the `sglang serve` subcommand
and the conformance tier (tests/conformance/test_sglang_parser.py) parses every sample's argv
with the real prepare_server_args of each pinned version and compares the parsed values.
The spec -> option mapping is one table (targets/sglang/options.py): the argv and the check
of extra `args` both derive from it.

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
from deployc.targets.sglang.options import (
    ACTIVATION_SHARE,
    DIST_INIT_PORT,
    PARSER,
    TABLE,
    Lowering,
    SglangOptions,
    engine_table,
    mem_fraction,
    node_args,
    node_derived,
    server_options,
)
from deployc.targets.sglang.versions import (
    LOG_FIELDS,
    MEMORY,
    REPORT,
    AUTO_DRAFT_TOKENS,
    DEFAULT_DRAFT_TOKENS,
    DSA_ARCHS,
    MAMBA_EXTRA_BUFFER_ARCHS,
    SPECULATIVE_RUNNING_REQUESTS,
    VERSIONS,
    SglangMemory,
    SglangVersion,
    auto_mem_fraction,
)

__all__ = ["SglangOptions", "SglangTarget"]


def _speculative_cap(v: SglangVersion) -> str:
    """What SGLang does to its defaults when speculative decoding is on and --max-running-requests is unset
    (versions.py SPECULATIVE_RUNNING_REQUESTS, with source lines)."""
    n = SPECULATIVE_RUNNING_REQUESTS
    return (f"with speculative decoding SGLang {v.version} lowers its default cap on running requests to {n} "
            f"(--max-running-requests is unset) and captures decode CUDA graphs only up to {n} requests: the plan "
            f"counts at most {n} running sequences")


def _dsa_fp8_kv(plan: Plan, m: SglangMemory) -> bool:
    """SGLang's own fp8_e4m3 KV cache for a DSA model on Blackwell (versions.py DSA_ARCHS)."""
    f, cc = plan.facts, plan.hardware.gpu.compute_capability
    major = cc.split(".")[0]
    return (m.dsa_fp8_kv_sm is not None and plan.precision.kv_cache_dtype == "auto"
            and f.architecture in DSA_ARCHS and f.arch is not None and f.arch.indexer_dim is not None
            and major.isdigit() and int(major) >= m.dsa_fp8_kv_sm)


def _state_pool(plan: Plan, m: SglangMemory) -> api.StatePool | None:
    """How SGLang sizes a hybrid linear-attention model's state slots (compiler/memory_kv.py StatePool)."""
    if m.mamba_full_ratio is None:
        return None
    arch = plan.facts.architecture or ""
    s = plan.speculative
    draft = 0
    if s is not None and s.method != "ngram":
        draft = s.num_tokens + 1 if s.num_tokens is not None else AUTO_DRAFT_TOKENS.get(arch, DEFAULT_DRAFT_TOKENS)
    running = plan.limits.max_concurrency or (SPECULATIVE_RUNNING_REQUESTS if s is not None else 0)
    return api.StatePool(memory_ratio=m.mamba_full_ratio, draft_tokens=draft, running=running,
                         slots_per_request=3 + (2 if arch in MAMBA_EXTRA_BUFFER_ARCHS else 0))


class SglangTarget(Target[SglangOptions, SglangVersion]):
    name = "sglang"
    title = "SGLang"
    runs_container = True
    versions = VERSIONS
    # SGLang changes its options within a minor (0.5.x added --attn-dp-size, split --disable-cuda-graph): a
    # spec pins one of the versions deployc has read.
    patch_releases = False
    options = SglangOptions

    def unsupported_hint(self, capability: Capability, v: SglangVersion) -> str | None:
        if capability is Capability.MAX_OUTPUT_TOKENS:
            return ("SGLang has no server-wide cap on max_tokens: remove limits.max_output_tokens and let "
                    "clients send max_tokens (context_length still bounds prompt + completion)")
        if capability is Capability.QUANT_MXFP4:
            return "SGLang 0.4.10.post2 has no MXFP4 kernels: pin targets.sglang.version: 0.5.23"
        if capability in (Capability.QUANT_BITSANDBYTES, Capability.QUANT_GGUF):
            return ("deployc does not lower SGLang's load-format quantizations: serve a pre-quantized awq, gptq "
                    "or fp8 checkpoint, or use the vllm target with version 0.11.2")
        return None

    def check(self, plan: Plan, opts: SglangOptions, v: SglangVersion) -> list[Diagnostic]:
        out: list[Diagnostic] = self._speculative_checks(plan, v)
        fraction = mem_fraction(plan, opts)
        if opts.mem_fraction_static is None and fraction is not None and fraction < 0.1:
            out.append(error(
                "sglang-memory", f"memory_utilization {plan.hardware.memory_utilization:g} leaves SGLang "
                f"{fraction:.2f} of each GPU for weights and KV cache after the "
                f"{ACTIVATION_SHARE:g} it keeps for activations",
                hint="raise hardware.memory_utilization, or set targets.sglang.mem_fraction_static",
                path=("hardware", "memory_utilization")))
        share = plan.hardware.memory_utilization
        if opts.mem_fraction_static is not None and share is not None and opts.mem_fraction_static >= share:
            out.append(warning(
                "sglang-memory-override", f"mem_fraction_static {opts.mem_fraction_static:g} covers only weights "
                f"and KV cache, yet already reaches memory_utilization {share:g}: with activations SGLang takes "
                "more of each GPU than the spec allows",
                hint=f"use mem_fraction_static: {max(share - ACTIVATION_SHARE, 0.05):.2f} or less, or raise "
                     "hardware.memory_utilization", path=("targets", "sglang", "mem_fraction_static")))
        out += api.quant_gpu(plan, f"SGLang {v.version}", v.quant_min_sm, v.quant_fallback)
        if plan.multi_node and plan.server.port == DIST_INIT_PORT:
            out.append(error("sglang-port-nodes", f"port {DIST_INIT_PORT} is where node 0 of a multi-node copy opens "
                             "torch.distributed (--dist-init-addr); the HTTP server cannot take it too",
                             hint="choose another server.port", path=("server", "port")))
        others = [engine_table(k) for k in VERSIONS if k != v.data_version]
        out += api.check_args(opts.args, engine_table(v.data_version), self.title, self.name, PARSER,
                              TABLE.owners(v), others)
        return out

    @staticmethod
    def _speculative_checks(plan: Plan, v: SglangVersion) -> list[Diagnostic]:
        out = SglangTarget._speculative_errors(plan, v)
        if plan.speculative is not None and plan.limits.max_concurrency is None:
            out.append(warning("sglang-speculative-running-requests", _speculative_cap(v),
                               hint="set limits.max_concurrency to choose the cap yourself (deployc writes none)",
                               path=("speculative", "method")))
        return out

    @staticmethod
    def _speculative_errors(plan: Plan, v: SglangVersion) -> list[Diagnostic]:
        from deployc.targets.sglang.options import SPEC_ALGORITHMS, speculative_algorithms
        s = plan.speculative
        if s is None:
            return []
        out: list[Diagnostic] = []
        algorithm = SPEC_ALGORITHMS[s.method]
        if algorithm not in speculative_algorithms(v.data_version):
            out.append(error("sglang-speculative-method", f"SGLang {v.version} has no speculative algorithm {algorithm} "
                             f"(method {s.method})", hint="pick another speculative.method, or another SGLang version",
                             path=("speculative", "method")))
        if s.topk is not None and s.topk > 1:
            out.append(error("sglang-speculative-topk", "an SGLang draft tree needs its token budget "
                             "(--speculative-num-draft-tokens) as well, which deploy.yaml does not carry",
                             hint="remove speculative.topk (SGLang picks the tree itself when num_tokens is unset too), "
                                  "or set topk: 1", path=("speculative", "topk")))
        if s.tensor is not None and s.tensor != plan.parallelism.tensor:
            out.append(error("sglang-speculative-tensor", f"SGLang runs the draft model on the target's tensor "
                             f"parallel size ({plan.parallelism.tensor})", hint="remove speculative.tensor for sglang",
                             path=("speculative", "tensor")))
        if s.ngram.min is not None or s.ngram.max is not None:
            out.append(error("sglang-speculative-ngram", f"SGLang {v.version} takes no prompt-lookup window",
                             hint="remove speculative.ngram for sglang", path=("speculative", "ngram")))
        if s.revision is not None and "--speculative-draft-model-revision" not in engine_table(v.data_version).by_spelling:
            out.append(error("sglang-speculative-revision", f"SGLang {v.version} takes no draft model revision",
                             hint="remove speculative.revision, or pin SGLang 0.5.23", path=("speculative", "revision")))
        return out

    def importer(self) -> api.Importer:
        from deployc.targets.sglang.importer import IMPORTER
        return IMPORTER

    def parsers(self, v: SglangVersion) -> api.ParserSupport:
        from deployc.targets.sglang import parsers
        return parsers.support(v.data_version, v.version)

    def memory_model(self, plan: Plan, opts: SglangOptions, v: SglangVersion) -> EngineMemory:
        """SGLang's --mem-fraction-static x the memory free before the weights load holds weights and the
        KV pools only; activations, CUDA graphs and the runtime live in the rest. Full-attention and
        sliding-window layers have separate token pools, page size 1 (versions.py MEMORY, with source
        lines). The plan also says what SGLang would pick by itself (auto_mem_fraction)."""
        m = MEMORY.get(v.data_version) or MEMORY[max(MEMORY)]
        gpu = plan.hardware.gpu
        tp = plan.parallelism.tensor * (plan.parallelism.data if plan.attention_dp else 1)   # SGLang's --tp-size
        auto = auto_mem_fraction(m.auto_rule, gpu.memory_gib * 1024, tp,
                                 plan.parallelism.pipeline, plan.limits.max_batch_tokens, plan.speculative is not None)
        capped = plan.speculative is not None and plan.limits.max_concurrency is None
        given = mem_fraction(plan, opts)
        fp8_kv = _dsa_fp8_kv(plan, m)
        return EngineMemory(
            engine=f"SGLang {v.version}", budget=Budget.STATIC, fraction=auto if given is None else given,
            fraction_flag="--mem-fraction-static", fraction_default=given is None,
            batch_tokens=plan.limits.max_batch_tokens or 8192,
            max_seqs=plan.limits.max_concurrency or (SPECULATIVE_RUNNING_REQUESTS if capped else 256),
            non_torch_gib=0.5, block_size=1, source="targets/sglang",
            kv_manager=KvManager.SPLIT_POOLS, startup_gib=m.startup_gib, swa_full_ratio=m.swa_full_ratio,
            state_pool=_state_pool(plan, m),
            notes=(f"SGLang {v.version} picks --mem-fraction-static {auto:g} by itself on {gpu.name} "
                   + ("(memory_hook.py / server_args.py: the GPU less what it reserves for activations and CUDA "
                      "graphs)" if given is None else f"(deployc passes {given:g})"),)
            + ((_speculative_cap(v),) if capped else
               ("limits.max_concurrency is unset: SGLang caps running requests by itself from the size of its KV "
                "pool (no --max-running-requests written)",) if plan.limits.max_concurrency is None else ())
            + ((f"SGLang {v.version} stores this DeepSeek sparse-attention model's KV cache as fp8_e4m3 by itself "
                f"on {gpu.name} (SM {gpu.compute_capability}; bfloat16 before SM 10), the raw latent of the trtllm "
                "backends: precision.kv_cache_dtype is auto, so nothing is written",) if fp8_kv else ()),
            report=REPORT, log_fields=LOG_FIELDS, draft_kv=api.DraftKv.TARGET, kv_bytes=1 if fp8_kv else None)

    def lower(self, plan: Plan, opts: SglangOptions, v: SglangVersion, ctx: BuildContext) -> Lowered:
        here = Lowering(plan, opts, v, plan.server.host, lambda ref, _where: ref)
        options = server_options(here)
        derived = api.derived_of(TABLE, here, v, plan)
        key = plan.server.api_key_env
        argv = [*v.launcher, *options]
        command = argv + (["--api-key", f"${{{key}}}"] if key else [])
        mounts = api.LocalMounts(ctx)
        in_container = server_options(Lowering(plan, opts, v, "0.0.0.0", mounts.ref))
        key_tail = ["--api-key", api.api_key_ref(key)] if key else []   # SGLang reads no env variable
        banner = api.banner(ctx, self.name, self.title, v.version)
        model = plan.model
        about = [
            f"Serves {model.served_name} ({model.source}) on {plan.server.host}:{plan.server.port} "
            f"with SGLang {v.version}, OpenAI-compatible API under /v1.",
            f"Needs `pip install sglang=={v.version}` and {plan.gpus_needed} GPU(s) "
            f"({plan.hardware.gpu.name}); HF_TOKEN is read from the environment for gated models.",
        ]
        if key:   # SGLang reads no environment variable for the key (versions.py)
            about.append(f"SGLang takes the API key only as --api-key: other users of this machine can read "
                         f"${key} in the process list while the server runs.")
        if plan.multi_node:
            return replace(self._lower_nodes(plan, opts, v, ctx, banner, about, options, in_container, mounts),
                           derived=derived + node_derived(plan))
        tail = [f'"{api.api_key_ref(key)}"'] if key else []
        script = api.serve_script(ctx, banner, about, argv + (["--api-key"] if key else []),
                                  api.user_env_shell(opts), shell_tail=tail)
        svc = api.service(
            plan=plan, image=opts.image or v.image, entrypoint=v.launcher, command=in_container,
            command_tail=key_tail, env_pass=["HF_TOKEN"], env_set=api.compose_env(opts),
            volumes=mounts.volumes, container_cache="/root/.cache/huggingface")
        compose = api.compose_file(banner + ["", f"docker compose up -d; the API is at "
                                                 f"{api.client_url(plan.server.host, plan.server.port, '/v1')} "
                                                 "once the health check passes."], svc)
        return Lowered(
            artifacts=(Artifact("serve.sh", script, executable=True), Artifact("compose.yaml", compose)),
            command=tuple(command), service=svc, derived=derived)

    def _lower_nodes(self, plan: Plan, opts: SglangOptions, v: SglangVersion, ctx: BuildContext,
                     banner: list[str], about: list[str], options: list[str], in_container: list[str],
                     mounts: api.LocalMounts) -> Lowered:
        """serve.sh on node 0, serve-worker.sh on nodes 1..N-1; the LeaderWorkerSet containers."""
        n, per, key = plan.nodes, plan.gpus_per_node_used, plan.server.api_key_env
        argv = [*v.launcher, *options]
        leader_tail = node_args(plan, api.SCRIPT, "0")
        user_env = api.user_env_shell(opts)
        scripts = api.node_scripts(
            ctx, banner, plan, about[0], f"sglang=={v.version}", argv, user_env, user_env, leader_tail,
            node_args(plan, api.SCRIPT, api.SCRIPT.rank),
            leader_words=["--api-key", f'"{api.api_key_ref(key)}"'] if key else [])

        def svc(command: list[str], tail: list[str]) -> api.Service:
            return api.service(
                plan=plan, image=opts.image or v.image, entrypoint=v.launcher, command=command, command_tail=tail,
                env_pass=["HF_TOKEN"], env_set=api.compose_env(opts), volumes=mounts.volumes,
                container_cache="/root/.cache/huggingface", gpu_count=per)

        group = api.NodeGroup(
            size=n, replicas=plan.copies,
            leader=svc(in_container + node_args(plan, api.LWS, "0"),
                       ["--api-key", api.api_key_ref(key)] if key else []),
            worker=svc(in_container + node_args(plan, api.LWS, api.LWS.rank), []),
            internal_ports=(("dist", DIST_INIT_PORT),), node_args_at=len(in_container))
        command = argv + leader_tail + (["--api-key", f"${{{key}}}"] if key else [])
        return Lowered(artifacts=scripts, command=tuple(command), group=group)
