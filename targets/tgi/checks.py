"""What TGI refuses that the core's capability table does not say: its dtype and quantization rules,
prefills below the longest prompt, paths docker cannot mount, and extra `args` read the way clap
reads them against the pinned launcher's option table (versions.py names the source lines)."""

from __future__ import annotations

from deployc.compiler import api
from deployc.compiler.api import Diagnostic, Plan, SpecPath, error, is_local, warning
from deployc.targets.tgi.docker import host_path, local_paths
from deployc.targets.tgi.options import TABLE, TgiOptions, chunking, chunking_gpu, input_tokens, prefill_tokens, quantize
from deployc.targets.tgi.versions import QUANTIZE_FLOAT16, QUANTIZE_WITH_DTYPE, VERSIONS, TgiVersion


def precision(plan: Plan, opts: TgiOptions, target: str) -> list[Diagnostic]:
    """dtype float16|bfloat16 only; one --quantize; exl2 unsharded; --dtype next to --quantize as TGI allows."""
    out: list[Diagnostic] = []
    p = plan.precision
    if p.dtype == "float32":
        out.append(error("tgi-dtype", "TGI runs models in float16 or bfloat16 only (--dtype float16|bfloat16)",
                         hint="use dtype: auto, bfloat16 or float16", path=("precision", "dtype")))
    if opts.quantize is not None and p.quantization != "none":
        out.append(error(
            "tgi-quantize-conflict", f"targets.tgi.quantize ({opts.quantize}) and precision.quantization "
            f"({p.quantization}) both pick TGI's --quantize", hint="keep one of them",
            path=("targets", target, "quantize")))
    q = quantize(plan, opts)
    if q == "exl2" and plan.parallelism.tensor > 1:
        out.append(error("tgi-exl2-shard", "TGI cannot shard an exl2 model (num_shard > 1)",
                         hint="use tensor: 1 with a GPU that holds the model, or an awq/gptq checkpoint",
                         path=("parallelism", "tensor")))
    # float16 needs no flag where TGI runs float16 anyway: awq-like kernels, and on GPUs without
    # bfloat16 (where dtype auto resolves to float16) the models' own default, float16 for most.
    if q and p.dtype in ("float16", "bfloat16") and q not in QUANTIZE_WITH_DTYPE \
            and not (p.dtype == "float16" and (q in QUANTIZE_FLOAT16 or not plan.hardware.gpu.bf16)):
        runs = "float16 only" if q in QUANTIZE_FLOAT16 else "its model's default dtype"
        out.append(error(
            "tgi-dtype-quantize", f"TGI refuses --dtype {p.dtype} together with --quantize {q}: it runs {q} "
            f"in {runs}", hint="use dtype: auto", path=("precision", "dtype")))
    return out


def prefill(plan: Plan, opts: TgiOptions, v: TgiVersion) -> list[Diagnostic]:
    """The router refuses max_batch_prefill_tokens below max_input_tokens unless prefills are chunked."""
    batch, prompt = plan.limits.max_batch_tokens, input_tokens(plan)
    if batch is None or prompt is None or batch >= prompt or chunking(plan, opts, v):
        return []
    why = (f"{plan.hardware.gpu.name} gets paged attention" if not chunking_gpu(plan)
           else f"TGI {v.version} does not chunk prefills unless PREFILL_CHUNKING=1")
    return [error(
        "tgi-prefill-tokens", f"max_batch_tokens ({batch}) is below the longest prompt ({prompt}), which TGI "
        f"refuses without chunked prefill ({why})",
        hint=f"set limits.max_batch_tokens to {prompt} or more", path=("limits", "max_batch_tokens"))]


def paths(plan: Plan) -> list[Diagnostic]:
    """Hub adapters go by their repo id (a warning); local paths must be ones docker can bind-mount."""
    out: list[Diagnostic] = []
    for i, adapter in enumerate(plan.model.adapters):
        if not is_local(adapter.source):
            out.append(warning(
                "tgi-lora-hub", f"TGI loads a hub adapter under its repo id: clients send model "
                f"{adapter.source!r}, not {adapter.name!r}",
                hint="download the adapter and give its local path to use the name",
                path=("model", "adapters", i, "source")))
    for path, value in local_paths(plan):
        if ":" in value or host_path(value) is None:
            out.append(error("tgi-local-path", f"docker cannot bind-mount {value!r}",
                             hint="use a path without ':' (and ~ only as ~/...)", path=path))
    return out


def extra_args(plan: Plan, opts: TgiOptions, v: TgiVersion, target: str) -> list[Diagnostic]:
    """args read as clap reads them against the pinned launcher's own option table (owned options,
    unknown ones, stray positionals, choices), then the values TGI's own rules refuse."""
    table = api.EngineOptions.from_data(v.launcher)
    others = [api.EngineOptions.from_data(o.launcher) for k, o in VERSIONS.items() if k != v.data_version]
    out = api.check_args(opts.args, table, "text-generation-launcher", target, api.CLAP, TABLE.owners(v), others)
    args = opts.args
    for i, token in enumerate(args):
        if token == "--max-batch-total-tokens" or token.startswith("--max-batch-total-tokens="):
            value = token.partition("=")[2] or (args[i + 1] if i + 1 < len(args) else None)
            out += _batch_total(plan, opts, v, value, ("targets", target, "args", i))
    return out


def _batch_total(plan: Plan, opts: TgiOptions, v: TgiVersion, value: str | None, at: SpecPath) -> list[Diagnostic]:
    """--max-batch-total-tokens: ignored by flash-attention models, yet the launcher checks it first."""
    out = [warning(
        "tgi-batch-total-ignored", "TGI ignores --max-batch-total-tokens for flash-attention models (most "
        "models): it sizes the batch from the memory left after warmup",
        hint="use limits.max_batch_tokens, limits.max_concurrency or hardware.memory_utilization", path=at)]
    if value is None or not value.isdigit():
        return out
    total, window = int(value), plan.limits.max_model_len
    if window is not None and window > total:
        out.append(error("tgi-batch-total", f"TGI refuses max_total_tokens ({window}, limits.max_model_len) "
                         f"above --max-batch-total-tokens ({total})",
                         hint=f"raise --max-batch-total-tokens to {window} or more", path=at))
    budget = prefill_tokens(plan, opts, v)
    if budget is not None and budget > total:
        origin = ("limits.max_batch_tokens" if plan.limits.max_batch_tokens is not None
                  else "the longest prompt, as TGI does not chunk prefills here")
        out.append(error("tgi-batch-total", f"TGI refuses --max-batch-prefill-tokens ({budget}, {origin}) "
                         f"above --max-batch-total-tokens ({total})",
                         hint=f"raise --max-batch-total-tokens to {budget} or more", path=at))
    return out
