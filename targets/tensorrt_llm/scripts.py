"""The commands the tensorrt-llm target writes: build.sh steps, launch.sh's mpirun, serve.sh.

Commands are argv lists, rendered with shlex.join; the only shell the scripts add around
them is fixed text (the converter lookup, the stamps). Sources: see versions.py.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
from dataclasses import dataclass
from typing import Sequence

from compiler.plan import Plan
from compiler.spec import is_local
from compiler.target_api import BuildContext
from targets.tensorrt_llm import triton
from targets.tensorrt_llm.versions import FAMILIES


@dataclass(frozen=True)
class Shapes:
    """The engine's build-time limits."""

    max_batch_size: int
    max_input_len: int | None   # None: trtllm-build's default (1024)
    max_seq_len: int | None     # None: trtllm-build reads it from config.json
    max_num_tokens: int


@dataclass(frozen=True)
class Paths:
    """Every path the scripts and configs use, relative to the output folder (or absolute)."""

    model: str
    tokenizer: str
    checkpoint: str
    engine: str
    work: str
    download_model: bool
    download_tokenizer: bool

    @classmethod
    def of(cls, plan: Plan, workdir: str, ctx: BuildContext) -> "Paths":
        work = workdir.rstrip("/") or "/"
        m = plan.model

        def local(p: str) -> str:
            return p if p.startswith("/") else posixpath.normpath(posixpath.join(ctx.spec_dir, p))

        model = local(m.source) if is_local(m.source) else f"{work}/hf/model"
        if m.tokenizer is None:
            tokenizer = model
        else:
            tokenizer = local(m.tokenizer) if is_local(m.tokenizer) else f"{work}/hf/tokenizer"
        return cls(model=model, tokenizer=tokenizer, checkpoint=f"{work}/checkpoint",
                   engine=f"{work}/engines/{m.served_name}", work=work,
                   download_model=not is_local(m.source),
                   download_tokenizer=m.tokenizer is not None and not is_local(m.tokenizer))


@dataclass(frozen=True)
class Step:
    title: str
    marker: str
    stamp: str
    lines: tuple[str, ...]


def _sh(argv: list[str]) -> str:
    return shlex.join(argv)


def checkpoint_command(plan: Plan, family: str, paths: Paths) -> tuple[str, list[str]]:
    """(script prefix, args) of the conversion step: the family's converter or quantize.py."""
    p, par = plan.precision, plan.parallelism
    common = ["--model_dir", paths.model, "--output_dir", paths.checkpoint, "--dtype", p.dtype,
              "--tp_size", str(par.tensor), "--pp_size", str(par.pipeline)]
    kv8 = p.kv_cache_dtype == "fp8"
    if p.quantization == "fp8" or (p.quantization == "none" and kv8):
        args = common + ["--qformat", "fp8" if p.quantization == "fp8" else "full_prec"]
        if kv8:
            args += ["--kv_cache_dtype", "fp8"]
        return "quantize.py", args
    args = list(common)
    if p.quantization in ("int8", "int4"):
        args += ["--use_weight_only", "--weight_only_precision", p.quantization]
    if kv8:
        args.append("--fp8_kv_cache")
    return f"convert_checkpoint.py:{FAMILIES[family].converter}", args


def build_steps(plan: Plan, family: str, paths: Paths, build_argv: list[str]) -> list[Step]:
    m = plan.model
    steps: list[Step] = []
    chain = ""

    def add(title: str, marker: str, lines: list[str]) -> None:
        nonlocal chain
        chain = hashlib.sha256((chain + "\n" + "\n".join(lines)).encode()).hexdigest()[:16]
        steps.append(Step(title, f"{paths.work}/.deployc-{marker}", chain, tuple(lines)))

    if paths.download_model:
        argv = ["huggingface-cli", "download", m.source, "--local-dir", paths.model]
        if m.revision:
            argv[3:3] = ["--revision", m.revision]
        add(f"Download: {m.source}" + (f" at {m.revision}" if m.revision else ""), "download-model", [_sh(argv)])
    if paths.download_tokenizer:
        add(f"Download: tokenizer {m.tokenizer}", "download-tokenizer",
            [_sh(["huggingface-cli", "download", m.tokenizer, "--local-dir", paths.tokenizer])])
    tool, args = checkpoint_command(plan, family, paths)
    if tool == "quantize.py":
        script = ['SCRIPT="$EXAMPLES/quantization/quantize.py"']
        title = "Quantize: ModelOpt quantize.py (calibration data cnn_dailymail comes from the Hub)"
    else:
        conv = FAMILIES[family].converter
        # examples/models/core/<family>/ since the examples were regrouped; examples/<family>/ before
        script = [f'SCRIPT="$EXAMPLES/models/core/{conv}/convert_checkpoint.py"',
                  f'[ -f "$SCRIPT" ] || SCRIPT="$EXAMPLES/{conv}/convert_checkpoint.py"']
        title = f"Convert: the {conv} convert_checkpoint.py"
    add(title, "checkpoint", [*script, _sh(["rm", "-rf", "--", paths.checkpoint]),
                              'python3 "$SCRIPT" ' + _sh(args)])
    add("Build: trtllm-build", "engine", [_sh(["rm", "-rf", "--", paths.engine]), _sh(build_argv)])
    return steps


def build_command(plan: Plan, extra: Sequence[str], s: Shapes, paths: Paths) -> list[str]:
    argv = ["trtllm-build", "--checkpoint_dir", paths.checkpoint, "--output_dir", paths.engine,
            "--max_batch_size", str(s.max_batch_size)]
    if s.max_input_len is not None:
        argv += ["--max_input_len", str(s.max_input_len)]
    if s.max_seq_len is not None:
        argv += ["--max_seq_len", str(s.max_seq_len)]
    return argv + [
            "--max_num_tokens", str(s.max_num_tokens),
            "--gemm_plugin", "auto", "--gpt_attention_plugin", "auto", "--kv_cache_type", "paged",
            "--remove_input_padding", "enable", "--context_fmha", "enable", "--use_paged_context_fmha", "enable",
            "--workers", str(plan.gpus_per_replica), *extra]


def launch_command(world: int, host: str, port: int, grpc_port: int, metrics_port: int) -> list[str]:
    """scripts/launch_triton_server.py get_cmd, written out so the server runs in the foreground."""
    argv = ["mpirun", "--allow-run-as-root"]
    for rank in range(world):
        argv += ["-n", "1", "tritonserver", "--model-repository=model_repository",
                 f"--grpc-port={grpc_port}", f"--http-port={port}", f"--metrics-port={metrics_port}"]
        if host not in ("0.0.0.0", "::"):
            argv += [f"--http-address={host}", f"--grpc-address={host}"]  # metrics follow the HTTP address
        if rank:
            argv += ["--model-control-mode=explicit", f"--load-model={triton.ENGINE_MODEL}"]
        argv += ["--disable-auto-complete-config", f"--backend-config=python,shm-region-prefix-name=prefix{rank}_"]
        if rank < world - 1:
            argv.append(":")
    return argv


def serve_command(plan: Plan, s: Shapes, paths: Paths, fraction: float) -> list[str]:
    par = plan.parallelism
    argv = ["trtllm-serve", paths.engine, "--tokenizer", paths.tokenizer,
            "--host", plan.server.host, "--port", str(plan.server.port),
            "--max_batch_size", str(s.max_batch_size), "--max_num_tokens", str(s.max_num_tokens)]
    if s.max_seq_len is not None:
        argv += ["--max_seq_len", str(s.max_seq_len)]
    return argv + ["--tp_size", str(par.tensor), "--pp_size", str(par.pipeline),
                   "--kv_cache_free_gpu_memory_fraction", f"{fraction:g}"]
