"""The quantized weights against the GPU: each engine version's kernels, as data the target gives."""

from __future__ import annotations

from collections.abc import Mapping

from deployc.compiler.diagnostics import Diagnostic, error, warning
from deployc.compiler.plan import Plan


def quant_gpu(plan: Plan, engine: str, min_sm: Mapping[str, float],
              fallback: Mapping[str, tuple[float, str]]) -> list[Diagnostic]:
    """The weight format (plan.weight_format: the spec's quantization or the checkpoint's own) against the
    GPU: an error below the engine's lowest compute capability for it (min_sm: format -> capability, from
    the kernel's get_min_capability), a warning between that and where the engine runs it natively
    (fallback: format -> (capability, what the engine does instead, with its source))."""
    fmt, gpu = plan.weight_format, plan.hardware.gpu
    if gpu.sm is None or gpu.vendor != "nvidia":
        return []
    where = ("precision", "quantization") if plan.precision.quantization != "none" else ("model", "source")
    need = min_sm.get(fmt)
    if need is not None and gpu.sm < need:
        return [error(
            "quantization-gpu", f"{engine}'s {fmt} kernels need compute capability {need:.1f} or newer; "
            f"{gpu.name} has {gpu.compute_capability}",
            hint="serve a 16-bit or a gptq/awq checkpoint on this GPU, or pick a newer GPU", path=where)]
    native = fallback.get(fmt)
    if native is not None and gpu.sm < native[0]:
        return [warning(
            "quantization-fallback", f"{engine} runs {fmt} natively from compute capability {native[0]:.1f}; on "
            f"{gpu.name} ({gpu.compute_capability}) {native[1]}",
            hint="expect less speed than the format promises; a GPU of compute capability "
                 f"{native[0]:.1f}+ runs it natively", path=where)]
    return []
