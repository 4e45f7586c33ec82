"""`llama-server ...` read back into a spec: the reverse of options.py's TABLE, per option of the pinned build's
table (engine_options/<build>.json, from common/arg.cpp). llama.cpp's parser (common_params_parse_ex) takes no
abbreviations, no `--x=v` and no glued short options; `_` is `-` after `--`; a switch's `negative` spellings
turn it off; every option also reads its LLAMA_ARG_* variable.

-c is the whole KV cache, split between -np slots unless --kv-unified (options.py ``slots``): back to
limits.max_model_len (per request) and limits.max_concurrency the same way. llama-server's own address,
127.0.0.1:8080 (common/common.h common_params: hostname "127.0.0.1", port 8080), is written out.
"""

from __future__ import annotations

from typing import Any

from deployc.compiler.api.importing import Ctx, Dialect, Importer, Keep, Result, rev
from deployc.targets.llama_cpp.options import ENGINE_OPTIONS
from deployc.targets.llama_cpp.versions import VERSIONS

HOST, PORT = "127.0.0.1", 8080


def _slots(value: Any, ctx: Ctx) -> Result:
    """-c, -np and --kv-unified together (options.py slots() in reverse)."""
    c, n, unified = ctx["ctx_size"], ctx["parallel"], ctx["kv_unified"]
    if not isinstance(c, int) or (n is not None and not isinstance(n, int)):
        return Keep("-c / -np that are not numbers")
    if n is None and not unified:
        return {"limits.max_model_len": c} if c > 0 else {}
    if n is not None and not unified and c > 0 and c % n == 0:
        return {"limits.max_model_len": c // n, "limits.max_concurrency": n}
    if n is not None and unified and c == 0:
        return {"limits.max_concurrency": n}
    return Keep("this -c / -np / --kv-unified combination is not one deploy.yaml's max_model_len and "
                "max_concurrency express")


def _with_slots(value: Any, ctx: Ctx) -> Result:
    return {} if not isinstance(_slots(value, ctx), Keep) else Keep("goes with -c, which stays raw")


def _hf(value: Any, ctx: Ctx) -> Result:
    repo, _, quant = str(value).partition(":")
    return {"model.source": repo, **({"targets.llama-cpp.quant": quant} if quant else {})}


def _local(path: str) -> str:
    """A path as deploy.yaml spells a local one (./ first): the engine reads `models/x.gguf` as ./models/x.gguf."""
    return path if path.startswith(("/", "./", "../", "~")) else f"./{path}"


def _model(value: Any, ctx: Ctx) -> Result:
    return {"model.source": _local(str(value))}


def _gpu_layers(value: Any, ctx: Ctx) -> Result:
    return {"targets.llama-cpp.gpu_layers": value}


ROWS = (
    rev("model", fn=_model),
    rev("hf_repo", fn=_hf),
    rev("alias", "model.served_name", str),
    rev("chat_template_file", "model.chat_template", str),
    rev("ctx_size", fn=_slots),
    rev("parallel", fn=_with_slots),
    rev("kv_unified", fn=_with_slots),
    rev("batch_size", "limits.max_batch_tokens", int),
    rev("gpu_layers", fn=_gpu_layers),
    rev("host", "server.host", str),
    rev("port", "server.port", int),
)


def _effective(config: dict[str, Any]) -> dict[str, Any]:
    """llama-server serves the model under --alias, else the model's own name; without -c the model's context."""
    out = dict(config)
    if isinstance(out.get("model"), str):
        out["model"] = _local(out["model"])
    out["alias"] = out.get("alias") or out.get("hf_repo") or out.get("model")
    out["host"] = out.get("host") or HOST
    out["port"] = out.get("port") or PORT
    return out


IMPORTER = Importer(
    target="llama-cpp", title="llama.cpp",
    commands=(("llama-server",),),
    table=lambda version: ENGINE_OPTIONS / f"{version}.json",
    versions=tuple(VERSIONS),
    dialect=Dialect(abbreviations=False, underscores=True, inline_values=False, glued_short=False),
    rows=ROWS,
    rebuilt_prefix=lambda version: ("llama-server",),
    secrets={"api_key": "LLAMA_API_KEY"},
    restate=("host", "port"),
    defaults={"host": HOST, "port": PORT},
    effective=_effective,
    images=("ghcr.io/ggml-org/llama.cpp",),
    container_port=PORT,
    inside=("host", "port"),
)
