"""`lmdeploy serve api_server MODEL ...` read back into a spec: the reverse of options.py's TABLE, per parsed
setting (engine_options/<version>.json, extracted from lmdeploy/cli/serve.py SubCliServe.add_parser_api_server).

Plain argparse (prefixes allowed). --server-port's parsed default is None and the port then 23333
(lmdeploy/cli/serve.py 0.18.0: `server_port=args.server_port if args.server_port is not None else 23333`),
which the import states, since deploy.yaml's default is 8000. --cache-max-entry-count is LMDeploy's share of
the memory left after the weights, not deploy.yaml's share of the GPU: it stays raw.
"""

from __future__ import annotations

from typing import Any

from deployc.compiler.api.importing import Ctx, Dialect, Importer, Keep, Result, rev
from deployc.targets.lmdeploy.options import ENGINE_OPTIONS
from deployc.targets.lmdeploy.versions import VERSIONS

LMDEPLOY_PORT = 23333


def _format(value: Any, ctx: Ctx) -> Result:
    formats = getattr(VERSIONS.get(ctx.version) or next(iter(VERSIONS.values())), "model_formats", {})
    back = {v: k for k, v in formats.items()}
    if value == "hf":
        return {}
    return {"precision.quantization": back[value]} if value in back else Keep(
        f"deploy.yaml's precision.quantization has no LMDeploy format {value!r}")


# lmdeploy/cli/utils.py 0.18.0 quant_policy: a name or its QuantPolicy number (lmdeploy/messages.py:
# NONE 0, INT4 4, INT8 8, FP8 16 (also fp8_e4m3), FP8_E5M2 17, TURBO_QUANT 42).
POLICY = {"none": 0, "int4": 4, "int8": 8, "fp8": 16, "fp8_e4m3": 16, "fp8_e5m2": 17, "turbo_quant": 42}


def policy_number(value: Any) -> Any:
    text = str(value).lower()
    return POLICY.get(text, int(text) if text.lstrip("-").isdigit() else value)


def _policy(value: Any, ctx: Ctx) -> Result:
    number = policy_number(value)
    name = {4: "int4", 8: "int8", 16: "fp8"}.get(number)
    if number == 0:
        return {}
    if name is None:
        return Keep(f"an LMDeploy quant policy {value!r} deploy.yaml has no word for")
    return {"precision.kv_cache_dtype": "fp8"} if name == "fp8" else {"targets.lmdeploy.kv_quant": name}


def _adapters(value: Any, ctx: Ctx) -> Result:
    out = []
    for item in value or ():
        if "=" not in item:
            return Keep("an adapter without a name (name=path)")
        name, path = item.split("=", 1)
        out.append({"name": name, "source": path})
    return {"model.adapters": out}


def _port(value: Any, ctx: Ctx) -> Result:
    return {"server.port": LMDEPLOY_PORT if value is None else value}


def _served(value: Any, ctx: Ctx) -> Result:
    return {"model.served_name": value}


ROWS = (
    rev("model_path", "model.source", str),
    rev("model_name", fn=_served),
    rev("backend", "targets.lmdeploy.backend", str),
    rev("device", "targets.lmdeploy.device", str),
    rev("revision", "model.revision", str),
    rev("trust_remote_code", "model.trust_remote_code", bool),
    rev("dtype", "precision.dtype", str),
    rev("model_format", fn=_format),
    rev("quant_policy", fn=_policy),
    rev("tp", "parallelism.tensor", int),
    rev("session_len", "limits.max_model_len", int),
    rev("max_batch_size", "limits.max_concurrency", int),
    rev("max_prefill_token_num", "limits.max_batch_tokens", int),
    rev("adapters", fn=_adapters),
    rev("enable_prefix_caching", fn=lambda v, c: {"cache.prefix_caching": True} if v else {}),
    rev("tool_call_parser", "model.tool_parser", str),
    rev("reasoning_parser", "model.reasoning_parser", str),
    rev("server_name", "server.host", str),
    rev("server_port", fn=_port),
)


def _effective(config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    out["model_name"] = out.get("model_name") or out.get("model_path")
    out["server_port"] = out.get("server_port") or LMDEPLOY_PORT
    out["quant_policy"] = policy_number(out.get("quant_policy"))
    return out


IMPORTER = Importer(
    target="lmdeploy", title="LMDeploy",
    commands=(("lmdeploy", "serve", "api_server"),),
    table=lambda version: ENGINE_OPTIONS / f"{version}.json",
    versions=tuple(VERSIONS),
    dialect=Dialect(positional="model_path"),
    rows=ROWS,
    rebuilt_prefix=lambda version: ("lmdeploy", "serve", "api_server"),
    secrets={"api_keys": "LMDEPLOY_API_KEY"},
    restate=("server_port",),
    effective=_effective,
    images=("openmmlab/lmdeploy",),
    container_port=LMDEPLOY_PORT,
    inside=("server_port", "server_name"),
)
