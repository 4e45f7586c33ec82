"""`docker run ... ghcr.io/huggingface/text-generation-inference:<tag> ...` (and `text-generation-launcher ...`)
read back into a spec: the reverse of options.py's TABLE, per launcher option (engine_options/<version>.json,
extracted from launcher/src/main.rs; each option's clap `env` name lets `-e MAX_TOTAL_TOKENS=...` set it).

The image sets PORT=80 (versions.py: its Dockerfile `ENV ... PORT=80`), so the launcher listens on 80 inside
the container unless told; the host port published for it (`-p 8080:80`) is what clients use: server.port.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deployc.compiler.api.importing import Ctx, Dialect, Importer, Keep, Result, rev
from deployc.targets.tgi.versions import KV_CACHE_FP8, QUANTIZE, VERSIONS

ENGINE_OPTIONS = Path(__file__).parent / "engine_options"
_QUANT = {v: k for k, v in QUANTIZE.items()}
_TGI_ONLY = {"eetq", "bitsandbytes-fp4", "marlin", "exl2", "compressed-tensors", "bitsandbytes"}


def _quantize(value: Any, ctx: Ctx) -> Result:
    if value in _QUANT:
        return {"precision.quantization": _QUANT[value]}
    if value in _TGI_ONLY:
        return {"targets.tgi.quantize": value}   # TGI's own method, a knob of the target
    return Keep(f"deploy.yaml has no quantization {value!r}")


def _sharded(value: Any, ctx: Ctx) -> Result:
    return {} if ctx["num_shard"] else Keep("--sharded without --num-shard: TGI shards over every visible GPU")


def _kv(value: Any, ctx: Ctx) -> Result:
    return {"precision.kv_cache_dtype": "fp8"} if value == KV_CACHE_FP8 else Keep(
        f"deploy.yaml's precision.kv_cache_dtype fp8 is TGI's {KV_CACHE_FP8}, not {value!r}")


def _rope(value: Any, ctx: Ctx) -> Result:
    factor = ctx["rope_factor"]
    if factor is None:
        return Keep("--rope-scaling without --rope-factor")
    return {"model.rope_scaling": {"rope_type": value, "factor": float(factor)}}


def _rope_factor(value: Any, ctx: Ctx) -> Result:
    return {} if ctx["rope_scaling"] else Keep("--rope-factor without --rope-scaling")


ROWS = (
    rev("model_id", "model.source", str),
    rev("revision", "model.revision", str),
    rev("num_shard", "parallelism.tensor", int),
    rev("sharded", fn=_sharded),
    rev("quantize", fn=_quantize),
    rev("dtype", "precision.dtype", str),
    rev("kv_cache_dtype", fn=_kv),
    rev("trust_remote_code", "model.trust_remote_code", bool),
    rev("max_input_tokens", "limits.max_input_tokens", int),
    rev("max_input_length", "limits.max_input_tokens", int),
    rev("max_total_tokens", "limits.max_model_len", int),
    rev("max_batch_prefill_tokens", "limits.max_batch_tokens", int),
    rev("max_concurrent_requests", "limits.max_concurrency", int),
    rev("cuda_memory_fraction", "hardware.memory_utilization", float),
    rev("rope_scaling", fn=_rope),
    rev("rope_factor", fn=_rope_factor),
    rev("port", "server.port", int),
)


def _effective(config: dict[str, Any]) -> dict[str, Any]:
    """The launcher's legacy --max-input-length is --max-input-tokens (main.rs: both set one value)."""
    out = dict(config)
    if out.get("max_input_tokens") is None and out.get("max_input_length") is not None:
        out["max_input_tokens"] = out["max_input_length"]
    out.pop("max_input_length", None)
    return out


IMPORTER = Importer(
    target="tgi", title="TGI",
    commands=(("text-generation-launcher",),),
    table=lambda version: ENGINE_OPTIONS / f"{version}.json",
    versions=tuple(VERSIONS),
    dialect=Dialect(abbreviations=False),   # clap without infer_long_args: long options match exactly
    rows=ROWS,
    rebuilt_prefix=lambda version: (),
    secrets={"api_key": "API_KEY"},         # the launcher's clap env for --api-key
    effective=_effective,
    images=("ghcr.io/huggingface/text-generation-inference",),
    container_port=80,
    inside=("port", "hostname"),
)
