"""Stage 3a, probe: the few local files a spec names are looked at (never the network, never the
environment): a missing path is a warning, a local adapter's LoRA rank is read from its
adapter_config.json, and a .gguf file's size replaces the estimate of its weights."""

from __future__ import annotations

import json
from pathlib import Path

from dataclasses import replace

from deployc.compiler.diagnostics import Diagnostic, SpecPath, warning
from deployc.compiler.facts import Facts
from deployc.compiler.spec import Spec, is_local


def probe_local(spec: Spec, spec_dir: Path) -> tuple[Spec, list[Diagnostic]]:
    """Warn about local paths that do not exist; read each local adapter's LoRA rank."""
    diags: list[Diagnostic] = []
    m = spec.model

    def exists(p: str, path: SpecPath) -> Path | None:
        if p.startswith("~"):
            return None  # the serving host's home, not ours
        full = spec_dir / p
        try:
            there = full.exists()
        except OSError as exc:  # ENAMETOOLONG, EACCES on a parent...: this machine cannot look
            diags.append(warning("path-unreadable", f"{_short(p)} cannot be looked at here "
                                 f"({exc.strerror or type(exc).__name__})",
                                 hint="fine if the path exists on the serving host; otherwise fix it", path=path))
            return None
        if not there:
            diags.append(warning("path-missing", f"{p} does not exist (relative to the spec's folder)",
                                 hint="fine if the path exists on the serving host; otherwise fix it", path=path))
            return None
        return full

    if is_local(m.source):
        exists(m.source, ("model", "source"))
    if m.tokenizer and is_local(m.tokenizer):
        exists(m.tokenizer, ("model", "tokenizer"))
    for key in ("chat_template", "gguf"):
        if getattr(m, key):
            exists(getattr(m, key), ("model", key))
    adapters = []
    for i, a in enumerate(m.adapters):
        found = exists(a.source, ("model", "adapters", i, "source")) if is_local(a.source) else None
        if a.rank is None and found is not None and _is_file(found / "adapter_config.json"):
            rank = _adapter_rank(found / "adapter_config.json")
            if rank is None:
                diags.append(warning("adapter-config", f"{a.source}/adapter_config.json has no readable LoRA "
                                     "rank (r)", hint="set the adapter's rank: in the spec",
                                     path=("model", "adapters", i, "source")))
            else:
                a = a.model_copy(update={"rank": rank})
        adapters.append(a)
    if adapters != list(m.adapters):
        spec = spec.model_copy(update={"model": m.model_copy(update={"adapters": adapters})})
    return spec, diags



def _adapter_rank(path: Path) -> int | None:
    """The largest LoRA rank in a PEFT adapter_config.json: r, and any per-module rank_pattern value."""
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
        ranks = [cfg.get("r"), *(cfg.get("rank_pattern") or {}).values()]
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    ranks = [r for r in ranks if isinstance(r, int) and not isinstance(r, bool) and r > 0]
    return max(ranks) if ranks else None


def local_source(spec: Spec, spec_dir: Path) -> Path | None:
    """The model's folder on this machine, for a local model.source (not ~: the serving host's home)."""
    source = spec.model.source
    return spec_dir / source if is_local(source) and not source.startswith("~") else None


def gguf_facts(spec: Spec, spec_dir: Path, facts: Facts) -> Facts:
    """facts with the weights' size read from model.gguf, when that file is here (and not a placeholder)."""
    if not spec.model.gguf or spec.model.gguf.startswith("~"):
        return facts
    gguf = spec_dir / spec.model.gguf
    try:
        size = gguf.stat().st_size if gguf.is_file() else 0
    except OSError:
        return facts
    return replace(facts, gguf_bytes=size) if size > 1 << 20 else facts


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _short(p: str) -> str:
    """A path for a message: a very long one (the reason it cannot be looked at) shortened."""
    return p if len(p) <= 80 else f"{p[:40]}...{p[-20:]} ({len(p)} characters)"
