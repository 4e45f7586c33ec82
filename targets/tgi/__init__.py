"""The TGI target: Hugging Face text-generation-inference in its container.

Artifacts: run.sh (one `docker run` of the pinned image, argv rendered with shlex) and
compose.yaml (the same as a Compose service with a GPU reservation and a /health check).
Every launcher option and value is checked against text-generation-launcher's clap
definitions (launcher/src/main.rs `struct Args`) at the pinned tags; targets/tgi/versions.py
names the commits and the source lines behind each rule. The spec -> launcher option mapping is
one table (options.py); the argv, the check of extra `args` and of the clap `env` variables that
restate an owned option derive from it. checks.py holds TGI's own rules, docker.py run.sh's
`docker run`.

Spec -> TGI, decisions worth knowing:
- model.source -> --model-id; a local folder is bind-mounted read-only at /deployc/model.
- parallelism.tensor -> --num-shard (always written: the launcher would otherwise shard over
  every visible GPU). Docker sees GPUs 0..N-1 only (--gpus '"device=0,1"'; a Compose device
  reservation of N). Pipeline and data parallelism have no TGI spelling: errors.
- precision: dtype auto writes no --dtype: TGI's per-model default (FlashCausalLM default_dtype,
  float16 for most models, bfloat16 for some); float32 is refused (the launcher's Dtype is
  float16|bfloat16). quantization fp8/awq/gptq -> --quantize of that
  name, bitsandbytes (the spec's in-flight 4-bit) -> bitsandbytes-nf4; int8, int4 and gguf
  are errors whose hint names targets.tgi.quantize (eetq, bitsandbytes, bitsandbytes-fp4,
  marlin, exl2, compressed-tensors). TGI refuses --dtype with --quantize outside the
  bitsandbytes family, and runs awq/gptq/exl2/marlin in float16 anyway: dtype float16 there (and
  on GPUs without bfloat16) is left out, anything else is an error. kv_cache_dtype fp8 -> --kv-cache-dtype fp8_e4m3fn.
- limits: max_model_len -> --max-total-tokens, max_input_tokens (default max_model_len - 1)
  -> --max-input-tokens (never the legacy --max-input-length), max_batch_tokens ->
  --max-batch-prefill-tokens, max_concurrency -> --max-concurrent-requests (TGI answers 429
  beyond it instead of queueing), max_output_tokens: no server-wide cap in TGI, an error.
- hardware.memory_utilization -> --cuda-memory-fraction; unset, nothing is written and TGI's own
  1.0 holds (launcher/src/main.rs cuda_memory_fraction; engine_options/<version>.json), which the plan uses.
- LoRA adapters -> --lora-adapters `name=/deployc/adapters/name` for local ones; a hub adapter
  can only be loaded under its repo id (`id=path` takes a local path), which clients must then
  send as "model": a warning says so. Requests whose "model" is not an adapter id use the base
  model, so served_name works for clients; TGI's /v1/models reports the model id.
- server: --hostname 0.0.0.0 inside the container (docker's HOSTNAME would otherwise be read
  by clap's env fallback), --port = server.port, published as host:port:port on server.host.
  The API key travels as API_KEY (the launcher's clap env for --api-key), exported in run.sh
  from the variable server.api_key_env names; HF_TOKEN passes through by name.
- args: checked with clap's semantics: exact long names (no prefixes, no underscores), glued
  short options, flags unknown to the pinned launcher, and values that break TGI's own rules
  (--max-batch-total-tokens below max_model_len). env: a variable that the launcher reads for
  a flag deployc writes is an error, since the command line silently wins over it.
"""

from __future__ import annotations

from pathlib import Path

from deployc.compiler import api
from deployc.compiler.api import (
    Artifact,
    Budget,
    BuildContext,
    Capability,
    Diagnostic,
    EngineMemory,
    Lowered,
    Plan,
    Target,
    error,
    render_template,
)
from deployc.targets.tgi import checks
from deployc.targets.tgi.docker import SHM_SIZE, docker_run
from deployc.targets.tgi.options import TABLE, Lowering, TgiOptions, launcher_args, owned_env, prefill_tokens
from deployc.targets.tgi.versions import DEFAULT_PREFILL_TOKENS, VERSIONS, TgiVersion

__all__ = ["TgiOptions", "TgiTarget"]

TEMPLATES = Path(__file__).parent / "templates"

# What to do instead of a spec feature TGI cannot express (the core's target-unsupported hint).
UNSUPPORTED_HINTS = {
    Capability.ATTENTION_DATA_PARALLEL: "TGI has no data-parallel attention (one launcher, tensor-parallel shards "
                                        "only): serve the MoE model with the vllm or sglang target",
    Capability.EXPERT_PARALLEL: "TGI has no expert parallelism: remove parallelism.expert (--num-shard shards the "
                                "experts by tensor parallelism), or use the vllm or sglang target",
    Capability.QUANT_MXFP4: "TGI has no MXFP4 kernels (its --quantize choices name none): serve the checkpoint with "
                            "the vllm or sglang target",
    Capability.QUANT_NVFP4: "TGI loads no ModelOpt FP4 checkpoint (its --quantize choices name none): serve it with "
                            "the vllm or sglang target",
    Capability.AMD_GPU: "deployc writes TGI's CUDA image and NVIDIA device requests (ROCm needs TGI's -rocm "
                        "image and device mounts): pick an NVIDIA GPU for tgi",
    Capability.PIPELINE_PARALLEL: "TGI splits a model only by tensor parallelism: set parallelism.tensor "
                                  "to the GPU count and pipeline: 1",
    Capability.DATA_PARALLEL: "one TGI launcher serves one copy: write one deployment per copy (data: 1, "
                              "its own name, port and GPUs) behind a load balancer, or give the GPUs to "
                              "parallelism.tensor",
    Capability.CUSTOM_TOKENIZER: "TGI loads the model's own tokenizer: put the tokenizer files into the "
                                 "model's folder or repo",
    Capability.CHAT_TEMPLATE: "TGI reads chat_template from the model's tokenizer_config.json: put the "
                              "template there",
    Capability.MAX_OUTPUT_TOKENS: "TGI bounds prompt + max_new_tokens by max_model_len (--max-total-tokens); "
                                  "clients set max_tokens per request",
    Capability.QUANT_INT8: "use targets.tgi.quantize: eetq (8-bit at load, any model) or bitsandbytes, "
                           "with precision.quantization: none",
    Capability.QUANT_INT4: "use quantization: bitsandbytes (TGI's bitsandbytes-nf4), an awq or gptq "
                           "checkpoint, or targets.tgi.quantize: bitsandbytes-fp4",
    Capability.QUANT_GGUF: "TGI has no GGUF loader: serve the safetensors checkpoint (model.source)",
    Capability.MULTI_NODE: "TGI has no multi-node mode (its launcher starts --num-shard processes on one "
                           "machine): fit one copy on one node (parallelism.tensor <= "
                           "hardware.gpus_per_node, with a quantized checkpoint if it does not fit) and "
                           "run more copies as more deployments, or use the vllm or sglang target, which "
                           "span nodes",
}


class TgiTarget(Target[TgiOptions, TgiVersion]):
    name = "tgi"
    title = "TGI"
    runs_container = True
    # README.md of huggingface/text-generation-inference since commit 55f7f7cb (#3344, 2025-12-11), in the
    # v3.3.7 tag: "text-generation-inference is now in maintenance mode".
    notice = ("TGI has been in maintenance mode since 2025-12-11 (upstream takes minor bug fixes and documentation "
              "only); 3.3.7 is its newest release")
    versions = VERSIONS
    options = TgiOptions

    def parsers(self, v: TgiVersion) -> api.ParserSupport:
        return api.ParserSupport(f"TGI {v.version}", {"tool": None, "reasoning": None}, builtin=frozenset({"tool"}))

    def unsupported_hint(self, capability: Capability, v: TgiVersion) -> str | None:
        return UNSUPPORTED_HINTS.get(capability)

    def check(self, plan: Plan, opts: TgiOptions, v: TgiVersion) -> list[Diagnostic]:
        return (checks.precision(plan, opts, self.name) + checks.prefill(plan, opts, v) + checks.paths(plan)
                + checks.extra_args(plan, opts, v, self.name)
                + api.env_conflicts(opts.env, owned_env(v), self.name)
                + api.rope_type_check(plan, f"TGI {v.version}'s launcher (--rope-scaling)", ("linear", "dynamic"))
                + _speculative(plan, v))

    def importer(self) -> api.Importer:
        from deployc.targets.tgi.importer import IMPORTER
        return IMPORTER

    def memory_model(self, plan: Plan, opts: TgiOptions, v: TgiVersion) -> EngineMemory:
        """TGI sizes its KV cache after a warmup prefill of --max-batch-prefill-tokens: free memory minus
        (1 - cuda_memory_fraction x TGI_WIGGLE_ROOM) x total (server/text_generation_server/utils/
        import_utils.py get_cuda_free_memory; models/flash_causal_lm.py warmup; TGI_WIGGLE_ROOM 0.90 in
        models/globals.py, both pinned tags): a TOTAL budget of fraction x 0.90. --max-concurrent-requests
        is admission control (429 beyond it), so it stays the spec's value or TGI's default: the plan's
        concurrency is reported, not written."""
        share = plan.hardware.memory_utilization
        # The launcher's own default, from this tag's option table (engine_options/<version>.json: "1.0").
        default = float(v.options["--cuda-memory-fraction"]["default"])
        return EngineMemory(
            engine=f"TGI {v.version}", budget=Budget.TOTAL, fraction=round((share or default) * 0.90, 4),
            fraction_flag="--cuda-memory-fraction x TGI_WIGGLE_ROOM 0.90", fraction_default=share is None,
            batch_tokens=prefill_tokens(plan, opts, v) or DEFAULT_PREFILL_TOKENS,
            max_seqs=plan.limits.max_concurrency or 128, max_seqs_default=plan.limits.max_concurrency is None,
            non_torch_gib=0.3, block_size=16, source="targets/tgi")

    def lower(self, plan: Plan, opts: TgiOptions, v: TgiVersion, ctx: BuildContext) -> Lowered:
        image = opts.image or v.image
        banner = api.banner(ctx, self.name, self.title, v.version)
        # run.sh: docker run from the spec's folder; local paths become absolute via ${PWD}.
        argv, expand = docker_run(plan, opts, v, image)
        about = [
            f"Serves {plan.model.served_name} ({plan.model.source}) on {plan.server.host}:{plan.server.port} "
            f"with TGI {v.version} in Docker: OpenAI-compatible API under /v1, TGI's own under /generate.",
            f"Needs Docker with the NVIDIA Container Toolkit and {plan.gpus_needed} GPU(s) ({plan.hardware.gpu.name}), "
            "devices 0.. in order; HF_TOKEN is passed from the environment for gated models.",
        ]
        env = api.api_key_export(plan, "API_KEY") + api.user_env_shell(opts)
        script = render_template(TEMPLATES, "run.sh.j2", banner=banner, about=about, spec_dir=ctx.spec_dir, env=env,
                                 command=api.sh_join_expanding(argv, expand))

        mounts = api.LocalMounts(ctx)
        svc = api.service(
            plan=plan, image=image, command=launcher_args(Lowering(plan, opts, v, mounts.ref)), env_pass=["HF_TOKEN"],
            env_set={**api.compose_api_key(plan, "API_KEY"), **api.compose_env(opts)},
            volumes=mounts.volumes, container_cache="/data", shm_size=SHM_SIZE)
        compose = api.compose_file(banner + ["", f"docker compose up -d; the API is at "
                                                 f"{api.client_url(plan.server.host, plan.server.port, '/v1')} "
                                                 "once the health check passes."], svc)
        derived = api.derived_of(TABLE, Lowering(plan, opts, v, mounts.ref), v, plan)
        return Lowered(artifacts=(Artifact("run.sh", script, executable=True), Artifact("compose.yaml", compose)),
                       command=tuple(argv), service=svc, derived=derived)


def _speculative(plan: Plan, v: TgiVersion) -> list[Diagnostic]:
    """TGI speculates with --speculate N only: n-gram lookup (or the model's own Medusa/MLP heads)."""
    s = plan.speculative
    if s is None:
        return []
    if s.method != "ngram":
        return [error("tgi-speculative-method", f"TGI {v.version} speculates only by n-gram lookup (--speculate), or "
                      f"with heads built into the model; it loads no {s.method} model",
                      hint="use speculative.method: ngram for tgi, or leave tgi out of targets",
                      path=("speculative", "method"))]
    out = []
    if s.num_tokens is None:
        out.append(error("tgi-speculative-tokens", "TGI's --speculate is the number of tokens to speculate; it has "
                         "no default", hint="set speculative.num_tokens", path=("speculative", "method")))
    if s.ngram.min is not None or s.ngram.max is not None or (s.topk or 1) > 1:
        out.append(error("tgi-speculative-window", "TGI takes only the number of speculated tokens",
                         hint="remove speculative.ngram and speculative.topk for tgi", path=("speculative", "ngram")))
    return out
