"""How close is `deployc plan` to what the engines really allocated? Measured on benchmarks/truth/runs.json.

    python benchmarks/plan_accuracy.py [--json] [--runs]

Every run of the truth set (real startups with links and verbatim log lines, README.md there) is
turned into a deploy.yaml with the run's settings (benchmarks/truth_specs.py) and planned through
the same code `deployc plan` runs, with the memory data of the engine version whose accounting the
run's build shares. The error of a run is (planned - reported) / reported, on the engine's own
token figure ("GPU KV cache size", SGLang's #tokens, TGI's max batch total tokens) and on the KV
cache GiB per GPU. The tables give, per engine and architecture class, calibration and held-out
runs apart (the split is fixed in truth/split.py; constants are fitted on calibration runs only):
the number of runs, the mean and the worst absolute error. A class with fewer than five runs is
printed and marked. Runs deployc cannot express yet are listed with the reason, never dropped.
Stdlib + deployc only; no GPU.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from deployc.compiler import gpus
from deployc.compiler.check import check_target
from deployc.compiler.driver import compile_spec
from deployc.compiler.memory import estimate
from deployc.targets.vllm.versions import memory_of
from deployc.compiler.facts import catalog, catalog_derivatives
from deployc.compiler.registry import Registry
from truth_specs import Planned, load, plan_inputs

FEW = 5
DENSE_TARGET, HARD_TARGET = 0.05, 0.10


def plan_run(run: dict[str, Any], planned: Planned, registry: Registry, tmp: Path) -> dict[str, Any]:
    folder = tmp / run["id"]
    folder.mkdir()
    (folder / "deploy.yaml").write_text(planned.spec, encoding="utf-8")
    if planned.config is not None:
        (folder / "model").mkdir()
        (folder / "model/config.json").write_text(json.dumps(planned.config), encoding="utf-8")
        if planned.checkpoint_bytes:   # what deployc reads from a local checkpoint: its safetensors index
            index = {"metadata": {"total_size": planned.checkpoint_bytes}, "weight_map": {}}
            (folder / "model/model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    compiled = compile_spec(folder / "deploy.yaml", "deploy.yaml")
    if compiled.plan is None:
        return {"error": "; ".join(d.render() for d in compiled.diagnostics)}
    checked = check_target(compiled, registry, planned.target)
    mp = checked.memory
    if mp is None or checked.target is None or checked.v is None:
        errors = [d.message for d in checked.diagnostics if d.severity == "error"]
        return {"error": "no memory plan" + (f": {errors[0]}" if errors else "")}
    if planned.release:
        # the run's own build: its accounting data (versions.MEMORY via memory_of) on the target version record
        v = replace(checked.v, version=planned.release, based_on=checked.v.data_version)
        eng = checked.target.memory_model(compiled.plan, checked.opts, v)
        mp = estimate(compiled.plan, compiled.plan.facts, eng) if eng is not None else None
        if mp is None:
            return {"error": "no memory plan"}
    rep = run["reported"]
    out: dict[str, Any] = {"planned_tokens": mp.kv_cache_tokens, "planned_gib": round(mp.kv_cache_gib_per_gpu, 2),
                           "planned_concurrency": round(mp.max_concurrency, 2),
                           "weights_gib": round(mp.weights_gib_per_gpu, 2), "release": mp.engine,
                           "other_gib": round(mp.activation_gib + mp.overhead_gib, 2)}
    if rep.get("kv_tokens"):
        out["err_tokens"] = (mp.kv_cache_tokens - rep["kv_tokens"]) / rep["kv_tokens"]
    if rep.get("kv_gib"):
        out["err_gib"] = (mp.kv_cache_gib_per_gpu - rep["kv_gib"]) / rep["kv_gib"]
    return out


def lookup(model: str) -> tuple[dict[str, Any], float | None] | None:
    """A model's config.json and parameter count as deployc's catalog has them (derivatives resolved)."""
    entry, deriv = catalog().get(model.lower()), catalog_derivatives().get(model.lower())
    if entry is None and deriv is not None:
        base = catalog().get(deriv["base"].lower())
        if base is not None:
            cfg = json.loads(json.dumps(base["config"]))
            if "quantization_config" in deriv:
                cfg["quantization_config"] = deriv["quantization_config"]
            text = cfg["text_config"] if isinstance(cfg.get("text_config"), dict) else cfg
            text.update(deriv.get("overrides", {}))
            return cfg, base.get("parameters")
    return (json.loads(json.dumps(entry["config"])), entry.get("parameters")) if entry else None


def run_all(runs: list[dict[str, Any]], configs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    registry = Registry.discover()
    versions = {name: list(registry.load(name)[0].versions) for name in ("vllm", "sglang", "tgi")}
    names = {n.lower() for n in gpus.CATALOG}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in runs:
            row = {k: run[k] for k in ("id", "engine", "engine_version", "arch_class", "split")}
            row["reported_tokens"], row["reported_gib"] = run["reported"].get("kv_tokens"), run["reported"].get("kv_gib")
            row["reported_weights"] = run["reported"].get("weights_gib")
            planned = plan_inputs(run, configs, versions, lookup, names, lambda r: memory_of(r).default_utilization)
            if isinstance(planned, str):
                row["not_plannable"] = planned
            else:
                row["deployc_version"], row["notes"] = planned.version, planned.notes
                row.update(plan_run(run, planned, registry, Path(tmp)))
                if "error" in row:
                    row["not_plannable"] = row.pop("error")
            rows.append(row)
    return rows


def stats(errors: list[float]) -> dict[str, Any]:
    a = [abs(e) for e in errors]
    return {"n": len(a), "mean": statistics.mean(a) if a else None, "median": statistics.median(a) if a else None,
            "worst": max(a) if a else None}


def table(rows: list[dict[str, Any]], key) -> dict[tuple[str, ...], dict[str, dict[str, Any]]]:
    out: dict[tuple[str, ...], dict[str, dict[str, Any]]] = defaultdict(dict)
    groups: dict[tuple[tuple[str, ...], str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if "not_plannable" not in r:
            groups[(key(r), r["split"])].append(r)
    for (k, split), members in sorted(groups.items()):
        out[k][split] = {"runs": len(members),
                         "tokens": stats([m["err_tokens"] for m in members if "err_tokens" in m]),
                         "gib": stats([m["err_gib"] for m in members if "err_gib" in m])}
    return dict(out)


def pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def print_table(title: str, tab: dict[tuple[str, ...], dict[str, dict[str, Any]]]) -> None:
    print(f"\n{title}")
    head = f"{'':<34}{'runs':>5} {'tokens: n':>10} {'mean':>7} {'worst':>7} {'GiB: n':>7} {'mean':>7} {'worst':>7}"
    print(head)
    for k, sides in tab.items():
        for split in ("calibration", "held-out"):
            s = sides.get(split)
            if s is None:
                continue
            few = " *" if s["runs"] < FEW else ""
            label = f"{' / '.join(k)} [{split}]{few}"
            t, g = s["tokens"], s["gib"]
            print(f"{label:<34}{s['runs']:>5} {t['n']:>10} {pct(t['mean']):>7} {pct(t['worst']):>7} "
                  f"{g['n']:>7} {pct(g['mean']):>7} {pct(g['worst']):>7}")
    print(f"* fewer than {FEW} runs: read as anecdotes, not a rate")


def headline(rows: list[dict[str, Any]]) -> list[str]:
    """Per class, the held-out mean absolute error against the targets (dense < 5%, each hard class < 10%),
    with the calibration mean beside it (a run's error: the mean of its token and GiB errors)."""
    out = []
    by_class: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in rows:
        if "not_plannable" not in r:
            errs = [abs(r[k]) for k in ("err_tokens", "err_gib") if k in r]
            if errs:
                by_class[(r["arch_class"], r["split"])].append(statistics.mean(errs))
    for cls in sorted({c for c, _ in by_class}):
        held, cal = by_class.get((cls, "held-out"), []), by_class.get((cls, "calibration"), [])
        cal_text = f"; calibration {statistics.mean(cal):.1%} over {len(cal)}" if cal else "; no calibration run"
        if not held:
            out.append(f"held-out {cls}: no plannable run{cal_text}")
            continue
        goal = DENSE_TARGET if cls == "dense" else HARD_TARGET
        mean = statistics.mean(held)
        out.append(f"held-out {cls}: {mean:.1%} over {len(held)} runs (target < {goal:.0%}: "
                   f"{'met' if mean < goal else 'NOT met'}{', fewer than 5 runs' if len(held) < FEW else ''})"
                   + cal_text)
    return out


def main() -> None:
    runs, configs = load()
    rows = run_all(runs, configs)
    by_class = table(rows, lambda r: (r["engine"], r["arch_class"]))
    if "--json" in sys.argv:
        print(json.dumps({"runs": rows, "by_engine_class": {" / ".join(k): v for k, v in by_class.items()}},
                         indent=1, default=str))
        return
    if "--runs" in sys.argv:
        print(f"{'run':<46} {'split':<5} {'planned with':<14} {'tokens':>9} {'planned':>9} {'err':>7} "
              f"{'GiB':>6} {'planned':>7} {'err':>7} {'weights':>7} {'planned':>7} {'act+oh':>6}")
        for r in rows:
            if "not_plannable" in r:
                continue
            print(f"{r['id'][:46]:<46} {r['split'][:5]:<5} {r['release'][:14]:<14} {r['reported_tokens'] or '-':>9} "
                  f"{r['planned_tokens']:>9} {pct(r.get('err_tokens')):>7} {r['reported_gib'] or '-':>6} "
                  f"{r['planned_gib']:>7} {pct(r.get('err_gib')):>7} {r['reported_weights'] or '-':>7} "
                  f"{r['weights_gib']:>7} {r['other_gib']:>6}")
    print_table("per engine and architecture class (absolute error of the plan; tokens = the engine's own figure)",
                by_class)
    print_table("per architecture class, all engines", table(rows, lambda r: (r["arch_class"],)))
    print()
    for line in headline(rows):
        print(line)
    skipped = [r for r in rows if "not_plannable" in r]
    print(f"\nnot plannable yet ({len(skipped)} of {len(rows)} runs):")
    for r in skipped:
        print(f"  {r['id']} [{r['split']}]: not plannable yet: {r['not_plannable']}")


if __name__ == "__main__":
    main()
