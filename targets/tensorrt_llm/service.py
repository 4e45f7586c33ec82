"""The engine as one container (compose.yaml, `deployc up`, Kubernetes): setup steps download, convert and
build the engine into the work volume (the steps of build.sh, each an exec-form argv), then trtllm-serve
serves it (serve.sh's path: OpenAI API and GET /health, tensorrt_llm/serve/openai_server.py register_routes).
"""

from __future__ import annotations

from deployc.compiler import api
from deployc.compiler.api import BuildContext, Plan
from deployc.targets.tensorrt_llm.engine import Paths, Shapes
from deployc.targets.tensorrt_llm.options import Lowering, TensorRtLlmOptions, build_argv, checkpoint_argv, serve_argv
from deployc.targets.tensorrt_llm.scripts import downloads
from deployc.targets.tensorrt_llm.versions import FAMILIES, TrtLlmVersion

# The TensorRT-LLM release image: trtllm-build, trtllm-serve and, under /app/tensorrt_llm/examples, the
# converter scripts (NVIDIA/TensorRT-LLM docker/Dockerfile.multi, stage `release`: WORKDIR
# /app/tensorrt_llm, COPY examples examples; docker/README.md: "release ... contains TensorRT-LLM examples
# in /app/tensorrt_llm"). Tags are the release versions (nvcr.io/nvidia/tensorrt-llm/release:<version>).
RELEASE_IMAGE = "nvcr.io/nvidia/tensorrt-llm/release:{version}"
EXAMPLES = "/app/tensorrt_llm/examples"
CONTAINER_WORK = "/deployc/work"


def engine_service(plan: Plan, opts: TensorRtLlmOptions, v: TrtLlmVersion, family: str, s: Shapes,
                   fraction: float | None) -> api.Service:
    paths = Paths.of(plan, CONTAINER_WORK, BuildContext(spec_dir=".", spec_name="", spec_digest=""))
    c = Lowering(plan, s, paths, fraction, host="0.0.0.0")
    setup: list[tuple[str, ...]] = [tuple(argv) for _, _, argv in downloads(plan, paths)]
    tool, args = checkpoint_argv(c, family, v)
    script = (f"{EXAMPLES}/quantization/quantize.py" if tool == "quantize.py"
              else f"{EXAMPLES}/models/core/{FAMILIES[family].converter}/convert_checkpoint.py")
    setup.append(("python3", script, *args))
    setup.append(tuple(build_argv(c, v, opts.args)))
    workdir = opts.workdir if opts.workdir.startswith("/") else "./" + opts.workdir
    return api.service(
        plan=plan, image=RELEASE_IMAGE.format(version=v.version), command=serve_argv(c, v),
        env_pass=["HF_TOKEN"], env_set=api.compose_env(opts), container_cache=CONTAINER_WORK,
        cache_volume=f"{workdir}:{CONTAINER_WORK}", gpu_count=plan.gpus_per_replica, setup=tuple(setup),
        start_period="30m")
