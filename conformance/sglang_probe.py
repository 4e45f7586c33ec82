#!/usr/bin/env python3
"""Parse SGLang server argvs with SGLang's REAL parser (conformance tier).

Run with the python of a venv made by conformance/install_sglang.sh, e.g.

    echo '[{"id": "a", "argv": ["sglang", "serve", "--model-type", "llm",
            "--model-path", "Qwen/Qwen2.5-7B-Instruct"]}]' \
        | .conformance/sglang-0.5.23/bin/python conformance/sglang_probe.py

stdin:  JSON list of {"id": str, "argv": [launcher..., options...]}
stdout: JSON {"sglang_version", "results": [{"id", "ok", "stage", "error", "fields"}]}

The launcher is taken off the way SGLang takes it off:
- ["python3", "-m", "sglang.launch_server", ...]: the rest goes to prepare_server_args
  (sglang/launch_server.py __main__).
- ["sglang", "serve", ...]: sglang/cli/serve.py's own _extract_model_type_override removes
  --model-type (which must say "llm") and _normalize_positional_model_path applies, as serve()
  does before the LLM backend calls prepare_server_args.
Then sglang.srt.server_args.prepare_server_args(rest) parses (argparse, prefixes allowed) and
builds ServerArgs. "fields" holds every field of the resulting ServerArgs (JSON-able values only).
"stage": "argv" (not a launcher this probe knows), "parse" (argparse exited; "error" holds its
stderr), "build" (prepare_server_args raised). Only stdout carries the JSON document.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sys
import traceback

for _k, _v in {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               "SGLANG_DISABLE_REQUEST_LOGGING": "1"}.items():
    os.environ.setdefault(_k, _v)


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name, None)) for f in dataclasses.fields(value)}
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        with contextlib.suppress(Exception):
            return _plain(to_dict())
    return repr(value)


def _field_names(obj) -> list[str]:
    """ServerArgs is a dataclass in 0.4 and a msgspec-style record in 0.5."""
    if dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj)]
    names = getattr(type(obj), "__struct_fields__", None)
    if names:
        return list(names)
    return sorted(k for k in vars(obj) if not k.startswith("_"))


def options_of(argv: list[str]) -> list[str]:
    if argv[:3] == ["python3", "-m", "sglang.launch_server"]:
        return argv[3:]
    if argv[:2] == ["sglang", "serve"]:
        from sglang.cli.serve import _extract_model_type_override, _normalize_positional_model_path

        backend, rest = _extract_model_type_override(argv[2:])
        if backend != "llm":
            raise ValueError(f"--model-type {backend!r}: deployc serves language models (llm)")
        rest, _positional = _normalize_positional_model_path(rest)
        return rest
    raise ValueError(f"not an SGLang launcher: {argv[:3]}")


def _no_gpu_here() -> None:
    """0.4.10.post2 asks for the accelerator inside ServerArgs.__post_init__ (srt/utils.py
    get_device raises "No accelerator" on a CPU machine). Answer "cuda", as a GPU host does;
    the GPU memory stays unknown (get_device_memory_capacity -> None), so no memory-based
    default is computed. 0.5.23 builds ServerArgs without looking at the device."""
    import sglang.srt.server_args as sa

    if hasattr(sa, "get_device"):
        import sglang.srt.utils as su

        sa.get_device = su.get_device = lambda *_a, **_k: "cuda"
        # Built for torch 2.7.1, it probes torch._C._cpu._is_amx_tile_supported (srt/utils.py:217)
        # when __post_init__ imports model code; torch 2.13 no longer has it. A CUDA host never
        # takes the CPU/AMX path, so "no AMX" is the answer it would act on.
        su.cpu_has_amx_support = lambda: False


def probe(item: dict) -> dict:
    from sglang.srt.server_args import prepare_server_args

    out = {"id": item.get("id"), "ok": False, "stage": None, "error": None, "fields": None}
    try:
        rest = options_of(list(item["argv"]))
    except Exception as e:
        out.update(stage="argv", error=f"{type(e).__name__}: {e}")
        return out
    import sglang.srt.server_args as sa

    stand_in = None
    if hasattr(sa, "get_device") and "--mem-fraction-static" not in rest:
        # 0.4.10.post2's __post_init__ sizes mem_fraction_static from the GPU's memory when none is given,
        # importing model code (compressed_tensors, ...) this parser-only venv does not carry; deployc leaves
        # it unset (SGLang's own default). A stand-in lets the rest of __post_init__ run; it is reported.
        rest, stand_in = [*rest, "--mem-fraction-static", "0.88"], "mem_fraction_static"
    cwd = os.getcwd()
    err = io.StringIO()
    try:
        if item.get("cwd"):
            os.chdir(item["cwd"])
        with contextlib.redirect_stderr(err):
            args = prepare_server_args(rest)
    except SystemExit:
        out.update(stage="parse", error=err.getvalue().strip())
        return out
    except Exception as e:
        out.update(stage="build", error=f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-4)}")
        return out
    finally:
        os.chdir(cwd)
    out["fields"] = {name: _plain(getattr(args, name, None)) for name in _field_names(args)}
    if stand_in:
        out["fields"][stand_in] = None   # the engine's own choice on a GPU host: not judged here
    out["ok"] = True
    return out


def main() -> int:
    items = json.load(sys.stdin)
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # SGLang may print; only the JSON document goes to stdout
    try:
        try:
            from sglang.version import __version__ as version
        except Exception:
            from importlib.metadata import version as _v
            version = _v("sglang")
        _no_gpu_here()
        results = [probe(item) for item in items]
    finally:
        sys.stdout = real_stdout
    json.dump({"sglang_version": version, "results": results}, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
