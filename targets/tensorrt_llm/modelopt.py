"""TensorRT-LLM 1.x: offline quantization with NVIDIA ModelOpt, never at serve time.

The PyTorch backend reads a checkpoint's quantization from the checkpoint (hf_quant_config.json /
config.json quantization_config; TorchLlmArgs has no public quant_config), so a pre-quantized
checkpoint (ModelOpt FP8, NVFP4, W4A16 AWQ; GPTQ) is served as it is. An unquantized one is quantized
beforehand, as the 1.2.1 docs say (features/quantization.md, "Offline Quantization with ModelOpt":
clone NVIDIA/Model-Optimizer, examples/llm_ptq/scripts/huggingface_example.sh --model M --quant fp8).
deployc runs the step that script runs, examples/llm_ptq/hf_ptq.py (--pyt_ckpt_path, --export_path,
--qformat, --kv_cache_qformat), with its own paths, from the Model-Optimizer tag the version record pins;
the exported Hugging Face checkpoint (with hf_quant_config.json) is what trtllm-serve then serves.

Spec -> hf_ptq: quantization fp8 -> --qformat fp8 (FP8 per tensor), int4 and awq -> int4_awq (W4A16
AWQ; awq only of a checkpoint config.json says is 16-bit, an AWQ one is served as it is), int8 -> int8_sq
(INT8 SmoothQuant, W8A8); the names are hf_ptq.py's QUANT_CFG_CHOICES (engine_options/1.2.1.json);
kv_cache_dtype fp8 -> --kv_cache_qformat fp8 (calibrated), else none (hf_ptq's default, fp8_cast, would
put an FP8 KV cache into the checkpoint that the spec did not ask for).
"""

from __future__ import annotations

import posixpath

from deployc.compiler.api import ARGPARSE, OptionTable, Plan, opt
from deployc.targets.tensorrt_llm.engine import repository_name
from deployc.targets.tensorrt_llm.options import TensorRtLlmOptions
from deployc.targets.tensorrt_llm.versions import TrtLlmServeVersion

REPO_URL = "https://github.com/NVIDIA/Model-Optimizer.git"
HF_PTQ = "examples/llm_ptq/hf_ptq.py"
# spec quantization -> hf_ptq --qformat (QUANT_CFG_CHOICES of hf_ptq.py at the pinned tag)
QFORMAT = {"fp8": "fp8", "int4": "int4_awq", "awq": "int4_awq", "int8": "int8_sq"}


def decision(plan: Plan, opts: TensorRtLlmOptions) -> bool | None:
    """Whether deployc quantizes model.source (True), serves it as it is (False), or cannot tell (None:
    the spec asks for fp8/int4 and neither targets.tensorrt-llm.quantize nor config.json says)."""
    if plan.precision.quantization not in QFORMAT:
        return False
    if opts.quantize is not None:
        return opts.quantize
    f = plan.facts
    if f.quant_method is not None:
        return False
    if f.from_checkpoint:
        return True
    # awq names a checkpoint format: one nothing is known of is served as the AWQ checkpoint it says it is
    return False if plan.precision.quantization == "awq" else None


def quantizes(plan: Plan, opts: TensorRtLlmOptions) -> bool:
    """Quantize unless the checkpoint is known to be quantized already (an unknown one is quantized, with a
    warning: a pre-quantized checkpoint then fails loudly in hf_ptq instead of being served as 16-bit)."""
    return decision(plan, opts) is not False


def checkout(work: str) -> str:
    return f"{work}/Model-Optimizer"


def output(work: str, served_name: str) -> str:
    """The quantized checkpoint's folder, named after the served name (trtllm-serve names a local model
    after its folder); a served name a folder cannot hold as written becomes engine.repository_name's."""
    return f"{work}/quantized/{repository_name(served_name)}"


PTQ: OptionTable[tuple[Plan, str, str]] = OptionTable(ARGPARSE, [
    opt("--pyt_ckpt_path", "model.source", lambda c: c[1]),
    opt("--export_path", ("targets", "tensorrt-llm", "workdir"), lambda c: c[2]),
    opt("--qformat", "precision.quantization", lambda c: QFORMAT[c[0].precision.quantization]),
    opt("--kv_cache_qformat", "precision.kv_cache_dtype",
        lambda c: "fp8" if c[0].precision.kv_cache_dtype == "fp8" else "none"),
    opt("--trust_remote_code", "model.trust_remote_code", lambda c: c[0].model.trust_remote_code),
])


def steps(plan: Plan, v: TrtLlmServeVersion, work: str, source: str) -> list[tuple[str, ...]]:
    """The quantization as exec-form argv steps: a fresh checkout of Model-Optimizer at the pinned tag,
    then hf_ptq.py from source (a local checkpoint folder) into the output folder."""
    repo = checkout(work)
    script = posixpath.join(repo, HF_PTQ)
    return [("rm", "-rf", "--", repo),
            ("git", "clone", "--depth", "1", "--branch", v.modelopt_tag, REPO_URL, repo),
            ("python3", script, *PTQ.argv((plan, source, output(work, plan.model.served_name or "model")), v))]
