"""`deployc plan`: the memory plan per GPU in each engine's own terms, the figures as the engine will
print them at startup, and (with --log) a startup log read back against the plan line by line.

The per-GPU picture is one stacked bar (weights, activations, runtime, KV cache, state, headroom) so the
split can be seen at a glance; --search answers the questions asked before buying hardware
(compiler/memory_search.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from deployc.compiler import driver
from deployc.compiler.cli_common import OK, SPEC_ERROR, emit, existing, registry as _registry, unknown_target, usage
from deployc.compiler.diagnostics import has_errors, sort_key
from deployc.compiler.memory import MemoryPlan
from deployc.compiler.memory_weights import GIB
from deployc.compiler.memory_report import compare, format_value, read_log

BAR = 60
PARTS = (("weights", "#"), ("activations", "a"), ("runtime", "r"), ("KV cache", "="), ("state", "s"),
         ("headroom", "."))


def bar(m: MemoryPlan) -> list[str]:
    """One GPU's memory as a stacked bar: weights #, activations a, runtime r, KV cache =, linear-attention
    state s (SGLang's slots beside the KV pool), headroom ."""
    used = [m.weights_gib_per_gpu, m.activation_gib, m.overhead_gib, m.kv_cache_gib_per_gpu, m.state_gib_per_gpu]
    sizes = used + [max(0.0, m.gpu_memory_gib - sum(used))]
    total = sum(sizes) or 1.0
    cells = [round(BAR * s / total) for s in sizes]
    cells[sizes.index(max(sizes))] += BAR - sum(cells)
    line = "".join(ch * n for (_, ch), n in zip(PARTS, cells))
    legend = "  ".join(f"{ch} {name} {s:.1f}" for (name, ch), s in zip(PARTS, sizes) if s > 0.005)
    return [f"  [{line}] {m.gpu_memory_gib:.1f} GiB", f"   {legend}"]


def _kv_line(m: MemoryPlan) -> str:
    """The KV pool as bytes that add up: pool = tokens x bytes per token of the layers that grow with the
    sequence. Where the engine counts its tokens otherwise (layer groups sharing one pool, windows that
    stop growing), its own figure follows; "will print" below repeats it as the engine does."""
    line = f"{m.kv_cache_gib_per_gpu:8.2f} GiB"
    if m.kv_bytes_per_token <= 0:
        return line
    tokens = int(m.kv_cache_gib_per_gpu * GIB // m.kv_bytes_per_token)
    line += f" = {tokens} tokens x {m.kv_bytes_per_token} B"
    if tokens != m.kv_cache_tokens:
        line += f"; the engine counts {m.kv_cache_tokens} tokens" + (
            f" ({m.kv_groups} layer groups)" if m.kv_groups > 1 else "")
    return line


def text(r: Any, m: MemoryPlan) -> None:
    typer.echo(f"{r.name}: {m.engine} on {m.gpu} ({m.gpu_memory_gib:.1f} GiB), per GPU")
    for label, value in (
            ("engine budget", f"{m.budget_gib:8.2f} GiB"),
            ("weights", f"{m.weights_gib_per_gpu:8.2f} GiB"),
            ("activation peak", f"{m.activation_gib:8.2f} GiB"),
            ("runtime overhead", f"{m.overhead_gib:8.2f} GiB"),
            ("KV cache", _kv_line(m)),
            *((("state slots", f"{m.state_gib_per_gpu:8.2f} GiB linear-attention state"),)
              if m.state_gib_per_gpu else ()),
            ("max concurrency", f"{m.max_concurrency:8.2f} x {m.max_model_len} tokens"),
            ("headroom", f"{m.headroom_gib:8.2f} GiB unused")):
        typer.echo(f"  {label:<17} {value}")
    for line in bar(m):
        typer.echo(line)
    if m.report_lines:
        typer.echo(f"  {m.engine.split()[0]} will print:")
        for line in m.report_lines:
            typer.echo(f"    {line}")
    for note in m.assumptions:
        typer.echo(f"  - {note}")


def log_rows(m: MemoryPlan, log_text: str) -> list[dict[str, Any]] | None:
    found = read_log(log_text, m.log_fields, m.block_size) if m.log_fields else {}
    if not found:
        return None
    return [{"figure": row.label, "plan": row.plan, "log": row.log, "error": row.error} for row in compare(m, found)]


def print_log(r: Any, rows: list[dict[str, Any]] | None, path: Path) -> None:
    if rows is None:
        typer.echo(f"  {path}: no {r.name} startup figures found in the log")
        return
    typer.echo(f"  plan vs {path}:")
    typer.echo(f"    {'':<22}{'plan':>14}{'log':>14}{'difference':>12}")
    for row in rows:
        err = "-" if row["error"] is None else f"{row['error']:+.1%}"
        typer.echo(f"    {row['figure']:<22}{format_value(row['figure'], row['plan']):>14}"
                   f"{format_value(row['figure'], row['log']):>14}{err:>12}")


def plan_command(spec: Path, target: str | None, as_json: bool, log: Path | None, search: bool,
                 hf_cache: bool = False) -> None:
    registry = _registry()
    existing([spec])
    if target is not None and target not in registry.points:
        raise unknown_target(target, registry)
    log_text = None
    if log is not None:
        try:
            log_text = log.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise usage(f"cannot read {log}: {exc.strerror or exc}") from exc
    done = driver.build(driver.Request(spec, [target] if target else None, hf_cache=hf_cache), registry)
    compiled, results = done.compiled, done.results
    every = done.diagnostics
    facts = compiled.plan.facts if compiled.plan is not None else None
    rows = [(r, r.memory) for r in results]
    answers = None
    if search and compiled.plan is not None:
        from deployc.compiler.memory_search import search as run_search
        answers = run_search(compiled, registry, [r.name for r, m in rows if m is not None])
    if as_json:
        typer.echo(json.dumps({
            "spec": str(spec),
            "facts": None if facts is None else {"origin": facts.origin, "cite": facts.cite, **{
                k: getattr(facts, k) for k in ("layers", "hidden_size", "attention_heads", "kv_heads", "head_dim",
                                               "vocab_size", "context", "sliding_window", "sliding_layers",
                                               "kv_lora_rank", "experts", "parameters", "quant_method")}},
            "layout": None if compiled.plan is None else {
                "nodes": compiled.plan.nodes, "gpus_per_node": compiled.plan.gpus_per_node_used,
                "copies": compiled.plan.copies},
            "targets": {r.name: (m.to_json() | {"version": r.version}
                                 | ({"log": log_rows(m, log_text)} if log_text is not None else {}))
                        if m is not None else {"version": r.version, "plan": None} for r, m in rows},
            **({"search": answers} if answers is not None else {}),
            "diagnostics": [d.to_json() for d in sorted(every, key=sort_key)],
        }, indent=2, default=str))
    else:
        if facts is not None:
            typer.echo(f"model facts: {facts.origin}" + (f" ({facts.cite})" if facts.cite else ""))
        if compiled.plan is not None and compiled.plan.multi_node:
            p = compiled.plan
            what = (f"one engine with data-parallel attention on {p.parallelism.data} ranks" if p.attention_dp
                    else f"{p.copies} cop{'y' if p.copies == 1 else 'ies'}")
            typer.echo(f"layout: each copy spans {p.nodes} nodes x {p.gpus_per_node_used} GPUs; {what}")
        for r, m in rows:
            typer.echo("")
            if m is None:
                typer.echo(f"{r.name} {r.version or ''}: no memory plan"
                           + (" (model facts unknown: set model.facts)" if facts is not None and not facts.known
                              else ""))
                continue
            text(r, m)
            if log_text is not None and log is not None:
                print_log(r, log_rows(m, log_text), log)
        if answers is not None:
            print_answers(answers)
        emit(every)
    raise typer.Exit(SPEC_ERROR if has_errors(every) else OK)


def print_answers(answers: dict[str, Any]) -> None:
    typer.echo("")
    typer.echo(f"search on {answers['gpu']} at max_model_len {answers['max_model_len']}:")
    for name, entry in answers["targets"].items():
        typer.echo(f"  {name}: layouts that hold at least one full-length sequence"
                   + (f" (fewest GPUs: {entry['fewest_gpus']})" if entry["fewest_gpus"] else ": none"))
        for lay in entry["layouts"]:
            typer.echo(f"    tensor {lay['tensor']:>2} x pipeline {lay['pipeline']}: {lay['concurrency']:>8.2f} sequences, "
                       f"longest context {lay['longest_context']:,}")
        if "gpus_for_concurrency" in entry:
            typer.echo(f"  {name}: GPUs for {answers['concurrency']} sequences at once (copies x tensor)")
            for row in entry["gpus_for_concurrency"][:12]:
                typer.echo(f"    {row['gpu']:<14} {row['gpus']:>3} GPUs = {row['copies']} x tensor {row['tensor']} "
                           f"({row['per_copy']} per copy)")
