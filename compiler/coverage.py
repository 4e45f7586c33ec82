"""What the model facts could not check, said out loud.

A model outside the catalog, with no config.json and no lock entry, or model.facts that leave out a
number, silently disables the checks that need it. Each such spec gets one warning at model.source
that lists the checks skipped and the exact command or fields that would enable them; a checkpoint
whose facts were inferred from its name (compiler/derivatives.py) gets one that says so.
"""

from __future__ import annotations

from pathlib import Path

from deployc.compiler.diagnostics import Diagnostic, warning
from deployc.compiler.factlock import LOCK_NAME
from deployc.compiler.facts import Facts
from deployc.compiler.plan import Plan

# Facts field -> the model.facts key that gives it (head_dim follows from hidden_size / attention_heads).
_FIELD = {"layers": "layers", "hidden_size": "hidden_size", "attention_heads": "attention_heads",
          "kv_heads": "kv_heads", "vocab_size": "vocab_size", "context": "max_position_embeddings",
          "parameters": "parameters"}


def _skipped(plan: Plan, f: Facts) -> list[tuple[str, list[str]]]:
    """(check, the facts it lacks) for every check this spec would run and the facts cannot."""
    par, lim = plan.parallelism, plan.limits
    memory = [n for n in ("layers", "hidden_size", "attention_heads", "vocab_size") if getattr(f, n) is None]
    if f.kv_heads is None and not f.mla:
        memory.append("kv_heads")
    if f.parameters is None and f.checkpoint_bytes is None:
        memory.append("parameters")
    checks = [("the memory plan (weights, KV cache, concurrency)", memory)]
    if par.tensor > 1:
        checks += [(f"tensor {par.tensor} against the attention heads", f.missing("attention_heads")),
                   (f"tensor {par.tensor} against the KV heads", f.missing("kv_heads"))]
    if par.pipeline > 1:
        checks.append((f"{par.pipeline} pipeline stages against the layers", f.missing("layers")))
    if lim.max_model_len is not None or lim.max_input_tokens is not None:
        checks.append(("the context limits against the model's context", f.missing("context")))
    out = [(what, lacks) for what, lacks in checks if lacks]
    if not f.from_checkpoint and plan.precision.quantization not in ("none", "gguf"):
        out.append((f"quantization {plan.precision.quantization} against the checkpoint's own", ["config.json"]))
    return out


def facts_coverage(plan: Plan, shown_dir: Path) -> list[Diagnostic]:
    """The warnings for one plan; shown_dir: the spec's folder as the user named it (for the command)."""
    f, source, revision = plan.facts, plan.model.source, plan.model.revision
    out: list[Diagnostic] = []
    command = (f"deployc facts {source}" + (f" --revision {revision}" if revision else "")
               + (f" --dir {shown_dir}" if str(shown_dir) not in ("", ".") else ""))
    if f.derived:
        out.append(warning(
            "model-facts-derived", f"{source} is not in deployc's catalog: its facts are inferred ({f.derived})",
            hint=f"run `{command}` to lock the checkpoint's own config.json", path=("model", "source")))
    skipped = _skipped(plan, f)
    if not skipped:
        return out
    fields = sorted({_FIELD[n] for _, lacks in skipped for n in lacks if n in _FIELD})
    where = (f"put the checkpoint's config.json in {source}" if plan.model_is_local else
             f"run `{command}` (it needs the network and huggingface_hub: pip install 'deployc[hub]')")
    hint = where + (f", or give model.facts: {', '.join(fields)}" if fields else "")
    checks = "; ".join(what for what, _ in skipped)
    if f.origin == "none":
        found = ("no config.json in it" if plan.model_is_local
                 else f"not in deployc's catalog and no entry in {LOCK_NAME}")
        message = f"no model facts for {source} ({found}): skipped {checks}"
    else:
        lacks = sorted({_FIELD.get(n, n) for _, ls in skipped for n in ls})
        message = f"model facts for {source} ({f.origin}) lack {', '.join(lacks)}: skipped {checks}"
    out.append(warning("model-facts-unknown" if f.origin == "none" else "model-facts-partial", message,
                       hint=hint, path=("model", "source")))
    return out
