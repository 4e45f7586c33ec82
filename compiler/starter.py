"""The commented starter spec `deployc init` writes: every section, its defaults, and what each field means.

The starter is sized from the plan: the smallest tensor-parallel size (1, 2, 4, 8) whose memory plan fits
every listed target (all registered ones when none is listed) with the heads divided evenly, and a
max_model_len within the model's context. Every commented line is valid YAML once uncommented.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

from deployc.compiler import driver
from deployc.compiler.api.target import BuildContext
from deployc.compiler.diagnostics import has_errors
from deployc.compiler.registry import Registry
from deployc.compiler.results import Compiled
from deployc.compiler.source import loads

STARTER = """\
# yaml-language-server: $schema={schema}
# deploy.yaml: one reviewed file, compiled by deployc into serving artifacts for each target below.
# Validate: deployc validate {spec_hint}    Build: deployc build {spec_hint} --target all
# Every field is described in the schema named above (`deployc schema` prints it).
apiVersion: deployc/v1
name: {name}                      # DNS label: lowercase letters, digits and '-'

model:
  source: {model}                 # hub id "org/name", or a local path (./, ../, / or ~)
  # revision: main                # branch, tag or commit (hub ids only)
  # served_name: my-model         # what clients send as "model"; default: last part of source, lower-cased
  # trust_remote_code: false
  # chat_template: ./chat_template.jinja
  # adapters:                     # LoRA adapters served beside the base model
  #   - {{name: sql, source: ./adapters/sql}}

precision:
  dtype: auto                     # auto | bfloat16 | float16 | float32
  quantization: none              # none | fp8 | awq | gptq | int8 | int4 | bitsandbytes | gguf
  kv_cache_dtype: auto            # auto | fp8

parallelism:
  tensor: {tensor}                       # GPUs that shard each layer (must divide the attention heads)
  pipeline: 1                     # pipeline stages
  data: 1                         # independent copies of the whole model

limits:
  max_model_len: {max_model_len}             # prompt + completion; remove to use the model's own context
  # max_output_tokens: 2048
  # max_concurrency: 64           # default: the engine's own (`deployc plan` says what fits)
  # max_batch_tokens: 8192

server:
  host: 0.0.0.0
  port: 8000
  # api_key_env: MY_API_KEY       # the NAME of the variable holding the key; never the key itself

hardware:
  gpu: {gpu}                      # `deployc gpus` lists the catalog
  # memory_utilization: 0.90     # default: the engine's own share (`deployc plan` says which)

{targets}"""


def starter_text(name: str, model: str, gpu: str, targets: Sequence[str], registered: Sequence[str], schema: str,
                 spec: str = "deploy.yaml", tensor: int = 1, max_model_len: int = 8192) -> str:
    """The starter; targets are listed, the other registered ones commented out (`  # vllm: {}`, which
    an editor's toggle-comment turns into a listed target)."""
    label = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")[:63] or "my-model"
    head = ("targets:                          # the engines to build for; each takes version, image, args, env"
            if targets else
            "targets:                          # uncomment the engines to build for (`deployc targets`)")
    lines = [head] + [f"  {t}: {{}}" for t in targets] + [f"  # {t}: {{}}" for t in registered if t not in targets]
    return STARTER.format(name=label, model=model, gpu=gpu, targets="\n".join(lines) + "\n", schema=schema,
                          spec_hint=spec, tensor=tensor, max_model_len=max_model_len)


@dataclass(frozen=True)
class Sizing:
    tensor: int
    max_model_len: int
    facts: str             # where the model facts come from ("none" when unknown)
    note: str              # how the tensor size was chosen


CONTEXT = 8192


def size(model: str, gpu: str, targets: Sequence[str], registry: Registry, spec_dir: Path) -> Sizing:
    """The smallest tensor size in 1, 2, 4, 8 whose memory plan fits every target that plans (the listed
    ones, or every registered one), as `deployc plan` computes it for the starter itself."""
    names = list(targets) or list(registry.names)
    first = _compile(model, gpu, names, 1, CONTEXT, spec_dir)
    facts = first.plan.facts if first.plan is not None else None
    if facts is None or not facts.known:
        return Sizing(1, CONTEXT, "none", "tensor 1: the model's facts are unknown, so the plan cannot size it")
    context = min(CONTEXT, facts.context or CONTEXT)
    for tensor in (1, 2, 4, 8):
        compiled = first if (tensor, context) == (1, CONTEXT) else _compile(model, gpu, names, tensor, context,
                                                                            spec_dir)
        if compiled.plan is None or has_errors(compiled.diagnostics):
            continue   # the heads do not divide
        planned = [r for r in (_checked(compiled, registry, n) for n in names) if r is not None]
        if planned and all(ok for _, ok in planned):
            fits = ", ".join(n for n, _ in planned)
            return Sizing(tensor, context, facts.origin, f"tensor {tensor}: the smallest whose memory plan fits "
                          f"{fits} on {gpu} (`deployc plan` shows it)")
    return Sizing(8, context, facts.origin, f"tensor 8: the weights do not fit fewer GPUs, and even 8 x {gpu} "
                  "may not hold them (see `deployc plan`; consider pipeline stages, nodes or a quantized checkpoint)")


def _compile(model: str, gpu: str, names: Sequence[str], tensor: int, context: int, spec_dir: Path
             ) -> Compiled:
    text = starter_text("starter", model, gpu, names, [], "x", tensor=tensor, max_model_len=context)
    return driver.compile_source(loads(text.encode()), spec_dir)


def _checked(compiled: Compiled, registry: Registry, name: str) -> tuple[str, bool] | None:
    """(target, its memory plan fits), or None when the target makes no memory plan for this model."""
    r = driver.compile_target(compiled, registry, name, BuildContext(".", "deploy.yaml", ""), lower_it=False)
    if r.memory is None:
        return None
    return name, not any(d.is_error and d.code in ("memory-weights", "memory-kv-sequence") for d in r.diagnostics)
