"""What differs between the vLLM versions deployc writes for: data, not if-statements.

Each entry was read from vLLM's own source at the release commit named in it.
Flag spellings that are the same in every pinned version live in
targets/vllm/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VllmVersion:
    version: str
    commit: str                       # the release tag's commit in vllm-project/vllm
    image: str                        # official OpenAI-compatible server image
    max_lora_ranks: tuple[int, ...]   # --max-lora-rank choices
    default_max_lora_rank: int
    fp8_min_sm: float                 # lowest compute capability with an fp8 weight kernel


VERSIONS: dict[str, VllmVersion] = {
    "0.33.0": VllmVersion("0.33.0", "TBD", "vllm/vllm-openai:v0.33.0", (1, 8, 16, 32, 64, 128, 256, 320, 512), 16, 8.0),
    "0.11.2": VllmVersion("0.11.2", "TBD", "vllm/vllm-openai:v0.11.2", (1, 8, 16, 32, 64, 128, 256, 320, 512), 16, 8.0),
}
