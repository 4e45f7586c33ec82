"""The GPU catalog that `hardware.gpu` names refer to.

memory_gib is the total device memory the driver reports (nvidia-smi / rocm-smi
"total", in GiB), not the marketing GB figure; engines take their
memory-utilization fraction of this number. compute_capability is NVIDIA's SM
version (AMD parts carry their gfx target instead). bf16 needs SM >= 8.0 in
vLLM's `_check_if_gpu_supports_dtype`; fp8 marks native FP8 tensor cores
(SM 8.9 / 9.0 / 10.0, CDNA3).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_gib: float
    compute_capability: str  # "9.0"; "gfx942" for AMD
    bf16: bool
    fp8: bool
    vendor: str = "nvidia"

    @property
    def sm(self) -> float | None:
        try:
            return float(self.compute_capability)
        except ValueError:
            return None


def _nv(name: str, mib: int, cc: str) -> Gpu:
    sm = float(cc)
    return Gpu(name, round(mib / 1024, 1), cc, bf16=sm >= 8.0, fp8=sm >= 8.9)


CATALOG: dict[str, Gpu] = {g.name: g for g in (
    _nv("H100-80GB", 81559, "9.0"),        # H100 SXM5 80GB HBM3
    _nv("H100-PCIE-80GB", 81559, "9.0"),
    _nv("H200", 143771, "9.0"),            # H200 SXM 141GB HBM3e
    _nv("B200", 183359, "10.0"),
    _nv("A100-80GB", 81920, "8.0"),
    _nv("A100-40GB", 40960, "8.0"),
    _nv("L40S", 46068, "8.9"),
    _nv("L4", 23034, "8.9"),
    _nv("A10G", 23028, "8.6"),
    _nv("RTX-4090", 24564, "8.9"),
    _nv("RTX-3090", 24576, "8.6"),
    _nv("T4", 15360, "7.5"),
    _nv("V100-16GB", 16384, "7.0"),
    _nv("V100-32GB", 32768, "7.0"),
    Gpu("MI300X", 192.0, "gfx942", bf16=True, fp8=True, vendor="amd"),
)}

# Other spellings people write; keys are compared case-insensitively with - _ and spaces ignored.
ALIASES = {
    "h100": "H100-80GB", "h100sxm": "H100-80GB", "h100sxm80gb": "H100-80GB", "h10080gbsxm": "H100-80GB",
    "h100pcie": "H100-PCIE-80GB", "h200141gb": "H200", "a100": "A100-80GB", "a10080gbsxm": "A100-80GB",
    "a10040gbsxm": "A100-40GB", "l40s48gb": "L40S", "a10g24gb": "A10G", "rtx4090": "RTX-4090",
    "rtx3090": "RTX-3090", "geforcertx4090": "RTX-4090", "geforcertx3090": "RTX-3090",
    "teslat4": "T4", "v100": "V100-16GB", "teslav100": "V100-16GB", "mi300": "MI300X",
}


def _squash(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_INDEX = {_squash(n): n for n in CATALOG} | ALIASES


def lookup(name: str) -> Gpu | None:
    key = _INDEX.get(_squash(name))
    return CATALOG[key] if key else None
