"""`xinference launch ...` read back into a spec: the reverse of options.py's HEAD rows and the engines' kwargs,
per option of the version's `xinference launch` table (engine_options/<version>.json "commands", extracted from
xinference/deploy/cmdline.py: click with allow_extra_args and ignore_unknown_options, so an unknown
`--key value` is a keyword argument the model gets, e.g. vLLM's `--max_model_len 8192`).

--model-name with --size-in-billions, --model-format and --quantization names one built-in checkpoint of the
registry (registry/<version>.json): its hub id is model.source, and deployc derives the four back from it.
The launch talks to a running server (--endpoint); where that server listens is xinference-local's business
(start.sh), not the launch's, so the endpoint is not compared.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from deployc.compiler.api.importing import Ctx, Dialect, Importer, Keep, Result, rev
from deployc.targets.xinference import builtin
from deployc.targets.xinference.options import ENGINES
from deployc.targets.xinference.versions import VERSIONS

ENGINE_OPTIONS = Path(__file__).parent / "engine_options"
_ENGINE_BACK = {v.lower(): k for k, v in ENGINES.items()}


def _checkpoint(ctx: Ctx) -> builtin.Builtin | None:
    name, size, fmt, quant = (ctx["model_name"], ctx["size_in_billions"], ctx["model_format"],
                              ctx["quantization"])
    if not name:
        return None
    for cp in builtin.checkpoints(ctx.version, str(name)):
        if size is not None and builtin.size_value(cp.size) != builtin.size_value(str(size)):
            continue
        if fmt is not None and cp.format != fmt:
            continue
        if quant is not None and cp.quantizations and quant not in cp.quantizations:
            continue
        return cp
    return None


def _model_name(value: Any, ctx: Ctx) -> Result:
    cp = _checkpoint(ctx)
    if cp is None or not cp.model_id:
        return Keep(f"{value!r} (with this size, format and quantization) is no built-in checkpoint of "
                    f"XInference {ctx.version}'s registry deployc can name a hub model for")
    quant = ctx["quantization"] or (cp.quantizations[0] if cp.quantizations else "")
    return {"model.source": cp.model_id.replace("{quantization}", str(quant))}


def _with_checkpoint(value: Any, ctx: Ctx) -> Result:
    return {} if _checkpoint(ctx) is not None else Keep("goes with --model-name, which stays raw")


def _engine(value: Any, ctx: Ctx) -> Result:
    name = _ENGINE_BACK.get(str(value).lower())
    return {"targets.xinference.engine": name} if name else Keep(f"deployc serves no XInference engine {value!r}")


def _n_gpu(value: Any, ctx: Ctx) -> Result:
    """--n-gpu N: the model's GPUs; with no tensor size of its own, vLLM and SGLang take all of them as tensor
    parallelism (options.py: XInference sets tensor_parallel_size from the worker's GPUs when unset)."""
    if str(value) == "auto":
        return {}
    if not str(value).isdigit():
        return Keep(f"--n-gpu {value!r} is not a number")
    return {} if ctx["kw:tensor_parallel_size"] or ctx["kw:tp_size"] else {"parallelism.tensor": int(str(value))}


def _trust(value: Any, ctx: Ctx) -> Result:
    return {"model.trust_remote_code": value} if isinstance(value, bool) else Keep("not true or false")


def _kw(path: str, kind: type) -> Callable[[Any, Ctx], Result]:
    def fn(value: Any, ctx: Ctx) -> Result:
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else kind):
            return Keep(f"{path} takes {kind.__name__}, and the launch gives {value!r}")
        return {path: float(value) if kind is float and isinstance(value, (int, float)) else value}
    return fn


ROWS = (
    rev("model_name", fn=_model_name),
    rev("size_in_billions", fn=_with_checkpoint),
    rev("model_format", fn=_with_checkpoint),
    rev("quantization", fn=_with_checkpoint),
    rev("model_engine", fn=_engine),
    rev("model_uid", fn=lambda v, c: {"model.served_name": v or c["model_name"]}),
    rev("model_type", fn=lambda v, c: {} if v == "LLM" else Keep("deployc serves LLMs")),
    rev("replica", "parallelism.data", int),
    rev("n_gpu", fn=_n_gpu),
    rev("trust_remote_code", fn=_trust),
    rev("endpoint", fn=lambda v, c: {}),
    # the engines' own keyword arguments (options.py KWARGS)
    rev("kw:tensor_parallel_size", fn=_kw("parallelism.tensor", int)),
    rev("kw:tp_size", fn=_kw("parallelism.tensor", int)),
    rev("kw:pipeline_parallel_size", fn=_kw("parallelism.pipeline", int)),
    rev("kw:max_model_len", fn=_kw("limits.max_model_len", int)),
    rev("kw:context_length", fn=_kw("limits.max_model_len", int)),
    rev("kw:max_num_seqs", fn=_kw("limits.max_concurrency", int)),
    rev("kw:max_running_requests", fn=_kw("limits.max_concurrency", int)),
    rev("kw:max_num_batched_tokens", fn=_kw("limits.max_batch_tokens", int)),
    rev("kw:gpu_memory_utilization", fn=_kw("hardware.memory_utilization", float)),
)


def _effective(config: dict[str, Any]) -> dict[str, Any]:
    """The model's name as the served name when no uid is given (XInference's model_uid defaults to the model
    name); engine names compared as XInference does, case-insensitively (xinference/model/llm/llm_family.py
    4.1.0 check_engine_by_spec_parameters: get_model_engine_from_spell); the server's endpoint is not the
    launch's to compare."""
    out = dict(config)
    if isinstance(out.get("model_engine"), str):
        out["model_engine"] = out["model_engine"].lower()
    out["model_uid"] = out.get("model_uid") or out.get("model_name")
    out.pop("endpoint", None)
    if out.get("n_gpu") not in (None, "auto") and not out.get("kw:tensor_parallel_size"):
        out["kw:tensor_parallel_size"] = int(str(out["n_gpu"]))
    return out


def _launch(command: Sequence[str], artifacts: Mapping[str, str]) -> list[str] | None:
    """launch.sh's `xinference launch ...` line (start.sh runs the server)."""
    text = next((c for p, c in artifacts.items() if p.rsplit("/", 1)[-1] == "launch.sh"), "")
    line = next((ln for ln in text.splitlines() if ln.startswith("xinference launch ")), None)
    return shlex.split(line) if line else None


IMPORTER = Importer(
    target="xinference", title="XInference",
    commands=(("xinference", "launch"),),
    table=lambda version: ENGINE_OPTIONS / f"{version}.json",
    table_key="xinference launch",
    versions=tuple(VERSIONS),
    dialect=Dialect(abbreviations=False, glued_short=False, extra_kwargs=True),
    rows=ROWS,
    rebuilt_prefix=lambda version: ("xinference", "launch"),
    secrets={"api_key": "XINFERENCE_API_KEY"},
    restate=("trust_remote_code", "model_uid"),
    effective=_effective,
    rebuilt_argv=_launch,
)
