"""The GPU catalog that `hardware.gpu` names refer to.

memory_gib is the memory CUDA reports as the device total (torch.cuda.mem_get_info()[1],
printed by vLLM as total_gpu_memory): the number engines multiply by their
memory fraction. It is about 0.45 GiB below nvidia-smi's "total" (the driver's
reservation) and well below the marketing GB. Where a CUDA total was seen in a
log it is used as is; otherwise it is nvidia-smi's MiB total minus that
reservation (460 MiB). compute_capability is NVIDIA's SM version (AMD parts
carry their gfx target). bf16 needs SM >= 8.0 (vLLM's
`_check_if_gpu_supports_dtype`); fp8 marks native FP8 tensor cores (SM 8.9 / 9.0
/ 10.0, CDNA3).

Sources: compute capabilities from https://developer.nvidia.com/cuda-gpus (A10G
as its sibling A10); nvidia-smi totals from logs users pasted, e.g.
https://github.com/modal-labs/modal-client/pull/2797 (H100, A100 80/40, L40S,
L4, T4), https://github.com/NVIDIA/nccl/issues/1264 (H100),
https://github.com/wilicc/gpu-burn/issues/114 (H100); CUDA totals from vLLM
"total_gpu_memory" log lines (H100 79.22, L40S 44.42, RTX 3090 23.58, T4
14.56 GiB: benchmarks/truth/runs.json cites each) and deviceQuery (A100 40GB
42298834944 bytes). The 48 GB workstation cards are listed with ECC off.

Added for issue 24, each with its source (AIC = ai-dynamo/aiconfigurator at
095f58a51c4ca8e61b66ec108d86f223f8d559ce, aic-core/src/aiconfigurator_core/systems/<name>.yaml,
whose mem_capacity comments quote nvidia-smi):
- B300 275040 MiB (AIC b300_sxm.yaml, sm_version 103); GB200 189471 MiB (AIC gb200.yaml, sm 100);
  RTX PRO 6000 Blackwell 97887 MiB (AIC rtx_pro_6000_server.yaml, sm 120; the truth set's
  Qwen3-VL runs print the same total); RTX 5090 32607 MiB (AIC src/aiconfigurator/systems/
  rtx_5090.yaml at 2388232336b0f7b9ab2c808197ba1b279997e471, sm 120; the truth set's llama.cpp run
  prints 32606 MiB); H20 141GB (H20-3e) 143771 MiB (AIC h20_3e.yaml at 744b3ac0a2, sm 90).
- H20 (96 GB HBM3, the common board), H800 and A800 are export variants of Hopper/Ampere boards
  with the same memory as H100 96GB (97871 MiB, as GH200), H100 SXM (81559 MiB) and A100 80GB
  (81920 MiB): NVIDIA's product pages give the same capacities; no nvidia-smi total of their own
  was read, so the sibling's is used. L20 (48 GB GDDR6, AD102 like L40) takes L40's 46068 MiB on
  the same grounds.
- AMD Instinct MI325X 256 GB and MI355X 288 GB HBM3E (AMD's product pages; the driver reports
  them in GiB, as for MI300X's 192). The truth set's Kimi-K2.5 run on MI355X fits: 209.98 GiB free
  after 73.58 GiB of weights.

nvls marks the HGX/NVL boards whose GPUs meet on third-generation NVSwitch (Hopper and
Blackwell SXM: H100, H800, H20, H200, B200, B300, GB200). There NCCL turns on NVLink SHARP by
itself and its buffers take GPU memory outside PyTorch once a tensor-parallel group exists
(vllm#9699 measures it on H100/H200; vllm#10511 prints non_torch_memory 1.79 -> 3.58 GiB for
Llama-3-8B at TP 1 -> 2 on H100; vLLM 0.19.0 on an H100 SXM prints "non-torch forward increase
memory" 0.24-0.27 GiB at TP 1 and 2.06-2.21 GiB at TP 2 and 4, benchmarks/truth llmd-* runs).
PCIe boards and A100 (no SHARP) keep the TP 1 figure: 0.21-0.30 GiB at TP 2-4 on L40S and
RTX 4090 in the same truth set. GH200, H100 PCIe/NVL are single-board or PCIe parts: not marked.
"""

from __future__ import annotations

from dataclasses import dataclass

RESERVED_MIB = 460


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_gib: float
    compute_capability: str  # "9.0"; "gfx942" for AMD
    bf16: bool
    fp8: bool
    vendor: str = "nvidia"
    smi_mib: int | None = None  # nvidia-smi / rocm-smi total
    nvls: bool = False          # an HGX board on third-generation NVSwitch: NCCL's NVLink SHARP buffers (below)

    @property
    def sm(self) -> float | None:
        try:
            return float(self.compute_capability)
        except ValueError:
            return None


def _nv(name: str, smi_mib: int, cc: str, cuda_gib: float | None = None, nvls: bool = False) -> Gpu:
    sm = float(cc)
    gib = cuda_gib if cuda_gib is not None else round((smi_mib - RESERVED_MIB) / 1024, 2)
    return Gpu(name, gib, cc, bf16=sm >= 8.0, fp8=sm >= 8.9, smi_mib=smi_mib, nvls=nvls)


CATALOG: dict[str, Gpu] = {g.name: g for g in (
    _nv("H100-80GB", 81559, "9.0", 79.22, nvls=True),       # NVIDIA H100 80GB HBM3 (SXM5)
    _nv("H100-PCIE-80GB", 81559, "9.0", 79.22),  # NVIDIA H100 PCIe
    _nv("H100-NVL", 95830, "9.0"),               # NVIDIA H100 NVL (94 GB)
    _nv("GH200", 97871, "9.0"),                  # NVIDIA GH200 480GB (96 GB HBM3)
    _nv("H200", 143771, "9.0", nvls=True),                  # NVIDIA H200 (141 GB HBM3e)
    _nv("B200", 183359, "10.0", nvls=True),
    _nv("B300", 275040, "10.3", nvls=True),                 # NVIDIA B300 (Blackwell Ultra, 288 GB HBM3e)
    _nv("GB200", 189471, "10.0", nvls=True),                # one B200 GPU of a GB200 superchip (186 GB HBM3e)
    _nv("H20", 97871, "9.0", nvls=True),                    # NVIDIA H20 96 GB (China export Hopper)
    _nv("H20-141GB", 143771, "9.0", nvls=True),             # NVIDIA H20 141 GB (H20-3e)
    _nv("H800", 81559, "9.0", nvls=True),                   # NVIDIA H800 80GB HBM3 (SXM)
    _nv("A800", 81920, "8.0"),                   # NVIDIA A800-SXM4-80GB
    _nv("A100-80GB", 81920, "8.0"),              # NVIDIA A100-SXM4-80GB
    _nv("A100-40GB", 40960, "8.0", 39.39),       # NVIDIA A100-SXM4-40GB
    _nv("L40S", 46068, "8.9", 44.42),
    _nv("L40", 46068, "8.9"),
    _nv("L4", 23034, "8.9"),
    _nv("L20", 46068, "8.9"),                    # NVIDIA L20 48 GB
    _nv("A10G", 23028, "8.6"),                   # AWS g5
    _nv("A10", 23028, "8.6"),
    _nv("A40", 46068, "8.6"),
    _nv("RTX-A6000", 49140, "8.6"),
    _nv("RTX-6000-ADA", 49140, "8.9"),           # NVIDIA RTX 6000 Ada Generation
    _nv("RTX-5090", 32607, "12.0"),              # NVIDIA GeForce RTX 5090
    _nv("RTX-PRO-6000", 97887, "12.0"),          # NVIDIA RTX PRO 6000 Blackwell (Server/Workstation Edition)
    _nv("RTX-4090", 24564, "8.9"),
    _nv("RTX-3090", 24576, "8.6", 23.58),
    _nv("T4", 15360, "7.5", 14.56),
    _nv("V100-16GB", 16160, "7.0"),              # Tesla V100-SXM2-16GB
    _nv("V100-32GB", 32510, "7.0"),              # Tesla V100-SXM2-32GB
    Gpu("MI300X", 192.0, "gfx942", bf16=True, fp8=True, vendor="amd", smi_mib=196592),  # rocm-smi 206141652992 B
    Gpu("MI325X", 256.0, "gfx942", bf16=True, fp8=True, vendor="amd", smi_mib=262144),
    Gpu("MI355X", 288.0, "gfx950", bf16=True, fp8=True, vendor="amd", smi_mib=294912),
    Gpu("MI250X", 64.0, "gfx90a", bf16=True, fp8=False, vendor="amd", smi_mib=65520),   # per GCD; 2 GCDs a card
)}

# Other spellings people write; keys are compared case-insensitively with - _ and spaces ignored.
ALIASES = {
    "h100": "H100-80GB", "h100sxm": "H100-80GB", "h100sxm80gb": "H100-80GB", "h10080gbsxm": "H100-80GB",
    "h100pcie": "H100-PCIE-80GB", "h200141gb": "H200", "a100": "A100-80GB", "a10080gbsxm": "A100-80GB",
    "a10040gbsxm": "A100-40GB", "l40s48gb": "L40S", "a10g24gb": "A10G", "rtx4090": "RTX-4090",
    "rtx3090": "RTX-3090", "geforcertx4090": "RTX-4090", "geforcertx3090": "RTX-3090",
    "teslat4": "T4", "v100": "V100-16GB", "teslav100": "V100-16GB", "mi300": "MI300X",
    "h100nvl94gb": "H100-NVL", "gh200480gb": "GH200", "rtx6000ada": "RTX-6000-ADA",
    "rtx6000adageneration": "RTX-6000-ADA", "a6000": "RTX-A6000", "mi250": "MI250X",
    "b300sxm": "B300", "h2096gb": "H20", "h20141gb": "H20-141GB", "h203e": "H20-141GB", "h800sxm": "H800",
    "a80080gb": "A800", "a800sxm480gb": "A800", "l2048gb": "L20", "geforcertx5090": "RTX-5090",
    "rtxpro6000": "RTX-PRO-6000", "rtxpro6000blackwell": "RTX-PRO-6000", "rtxpro6000blackwellserveredition": "RTX-PRO-6000",
    "rtxpro6000blackwellworkstationedition": "RTX-PRO-6000", "mi325": "MI325X", "mi355": "MI355X", "mi350x": "MI355X",
}


def _squash(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


_INDEX = {_squash(n): n for n in CATALOG} | ALIASES


def lookup(name: str) -> Gpu | None:
    key = _INDEX.get(_squash(name))
    return CATALOG[key] if key else None
