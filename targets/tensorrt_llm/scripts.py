"""The scripts the tensorrt-llm target writes: build.sh (download, convert, build the engine), launch.sh
(Triton under mpirun) and serve.sh (trtllm-serve).

Commands are argv lists (options.py), rendered with shlex.join; the only shell the scripts add around
them is fixed text (the converter lookup, the stamps). Sources: see versions.py.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path

from deployc.compiler import api
from deployc.compiler.api import Plan, render_template
from deployc.targets.tensorrt_llm import triton
from deployc.targets.tensorrt_llm.engine import TITLE, Paths
from deployc.targets.tensorrt_llm.engine import repository_name
from deployc.targets.tensorrt_llm.options import Lowering, TensorRtLlmOptions, checkpoint_argv, serve_argv, triton_ports
from deployc.targets.tensorrt_llm.versions import FAMILIES, TrtLlmVersion

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Step:
    title: str
    marker: str
    stamp: str
    lines: tuple[str, ...]


def downloads(plan: Plan, paths: Paths) -> list[tuple[str, str, list[str]]]:
    """(title, marker, huggingface-cli argv) of each download: the hub model, a hub tokenizer."""
    m = plan.model
    out = []
    if paths.download_model:
        revision = ["--revision", m.revision] if m.revision else []
        out.append((f"Download: {m.source}" + (f" at {m.revision}" if m.revision else ""), "download-model",
                    ["huggingface-cli", "download", m.source, *revision, "--local-dir", paths.model]))
    if paths.download_tokenizer:
        out.append((f"Download: tokenizer {m.tokenizer}", "download-tokenizer",
                    ["huggingface-cli", "download", str(m.tokenizer), "--local-dir", paths.tokenizer]))
    return out


def build_steps(c: Lowering, family: str, v: TrtLlmVersion, build: list[str]) -> list[Step]:
    """build.sh's steps; each stamp hashes its lines and the steps before it."""
    steps: list[Step] = []
    chain = ""

    def add(title: str, marker: str, lines: list[str]) -> None:
        nonlocal chain
        chain = hashlib.sha256((chain + "\n" + "\n".join(lines)).encode()).hexdigest()[:16]
        steps.append(Step(title, f"{c.paths.work}/.deployc-{marker}", chain, tuple(lines)))

    for title, marker, argv in downloads(c.plan, c.paths):
        add(title, marker, [shlex.join(argv)])
    tool, args = checkpoint_argv(c, family, v)
    if tool == "quantize.py":
        script = ['SCRIPT="$EXAMPLES/quantization/quantize.py"']
        title = "Quantize: ModelOpt quantize.py (calibration data cnn_dailymail comes from the Hub)"
    else:
        conv = FAMILIES[family].converter
        # examples/models/core/<family>/ since the examples were regrouped; examples/<family>/ before
        script = [f'SCRIPT="$EXAMPLES/models/core/{conv}/convert_checkpoint.py"',
                  f'[ -f "$SCRIPT" ] || SCRIPT="$EXAMPLES/{conv}/convert_checkpoint.py"']
        title = f"Convert: the {conv} convert_checkpoint.py"
    add(title, "checkpoint", [*script, shlex.join(["rm", "-rf", "--", c.paths.checkpoint]),
                              'python3 "$SCRIPT" ' + shlex.join(args)])
    add("Build: trtllm-build", "engine", [shlex.join(["rm", "-rf", "--", c.paths.engine]), shlex.join(build)])
    return steps


def build_script(c: Lowering, family: str, v: TrtLlmVersion, banner: list[str], env: list[tuple[str, str]],
                 build: list[str], ensemble: str) -> str:
    m = c.plan.model
    steps = build_steps(c, family, v, build)
    about = [
        f"Builds the {TITLE} {v.version} engine for {m.served_name} ({m.source}): "
        f"{', '.join(step.title.split(':')[0] for step in steps)}.",
        f"Run it inside a Triton TensorRT-LLM {v.version} image on {c.plan.gpus_per_replica} "
        f"{c.plan.hardware.gpu.name} GPU(s); HF_TOKEN is read from the environment for gated models.",
        f"TRTLLM_BACKEND_DIR: a checkout of tensorrtllm_backend {v.backend_tag} with its tensorrt_llm "
        "submodule (for the converter scripts and the Triton Python models).",
    ]
    return render_template(
        TEMPLATES, "build.sh.j2", banner=banner, about=about, backend_tag=v.backend_tag, env=env,
        steps=steps, engine_dir=c.paths.engine, work=c.paths.work,
        version_dirs=[f"model_repository/{triton.ENGINE_MODEL}/1", f"model_repository/{ensemble}/1"])


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


def launch_script(c: Lowering, opts: TensorRtLlmOptions, v: TrtLlmVersion, banner: list[str],
                  env: list[tuple[str, str]], ensemble: str) -> str:
    plan, world = c.plan, c.plan.gpus_per_replica
    host, port = plan.server.host, plan.server.port
    grpc, metrics = triton_ports(plan, opts)
    return render_template(
        TEMPLATES, "run.sh.j2", banner=banner, env=env,
        argv=launch_command(world, host, port, grpc, metrics),
        needed=[f"{c.paths.engine}/config.json", "model_repository/preprocessing/1/model.py"],
        about=[f"Serves {plan.model.served_name} with Triton + the TensorRT-LLM {v.version} backend on "
               f"{host}:{port}: POST {api.client_url(host, port, f'/v2/models/{ensemble}/generate')} "
               "with text_input and max_tokens (generate_stream when streaming).",
               f"One tritonserver rank per GPU ({world}) under mpirun, as the backend's "
               "scripts/launch_triton_server.py starts them, in the foreground; gRPC "
               f"{grpc}, metrics {metrics}."]
        + ([f"Served name {plan.model.served_name} is the Triton model {ensemble}: a model repository entry is "
            "a folder, whose name cannot hold it as written."] if ensemble != plan.model.served_name else []))


def serve_script(c: Lowering, v: TrtLlmVersion, banner: list[str], env: list[tuple[str, str]]) -> str:
    host, port = c.plan.server.host, c.plan.server.port
    return render_template(
        TEMPLATES, "run.sh.j2", banner=banner, env=env, argv=serve_argv(c, v), needed=[f"{c.paths.engine}/config.json"],
        about=[f"The simpler path: trtllm-serve {v.version}, OpenAI-compatible API under /v1 on {host}:{port}, "
               f"on the engine build.sh made (model name {repository_name(c.plan.model.served_name)}, its folder's).",
               "Run launch.sh or serve.sh, not both: each takes the GPUs."])
