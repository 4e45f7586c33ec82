"""deployc's memory plan next to two public planners, on the same real vLLM startups.

    python benchmarks/compare_planners.py [--runs] [--json]

The runs are the vLLM startups of benchmarks/truth/runs.json that deployc can plan (calibration and
held-out; the split is printed per row). Each is planned by deployc (the code `deployc plan` runs,
with the accounting of the run's own vLLM build, as benchmarks/plan_accuracy.py does) and by
llm-d-planner 0.3.3 and aiconfigurator 0.12.0 from the same inputs (benchmarks/planners_other.py).
The two packages live in the benchmark's own venv, benchmarks/.venv-planners, which this script
creates on first use with pip from the package registry; they are not deployc dependencies. The
measure is the KV cache GiB per GPU vLLM printed ("Available KV cache memory"), the figure all three
planners give; the error is |planned - reported| / reported. Mean and median are over the runs every
planner could plan; a planner's failures are listed, never dropped silently. aiconfigurator falls
back to its naive estimator (allow_naive_fallback) for GPUs or models it has no data for; the rows
say which.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import plan_accuracy
from deployc.compiler.check import check_target
from deployc.compiler.driver import compile_spec
from deployc.compiler.registry import Registry
from deployc.targets.vllm.versions import memory_of
from deployc.compiler import gpus
from truth_specs import Planned, load, plan_inputs

VENV = HERE / ".venv-planners"
PACKAGES = ["llm-d-planner==0.3.3", "aiconfigurator==0.12.0"]
PLANNERS = ("deployc", "llm-d-planner", "aiconfigurator")


def planners_python() -> Path:
    py = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    if not stamp.exists() or stamp.read_text() != " ".join(PACKAGES):
        print(f"creating {VENV} with {' '.join(PACKAGES)} (once)", file=sys.stderr)
        venv.create(VENV, with_pip=True, clear=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PACKAGES], check=True)
        stamp.write_text(" ".join(PACKAGES))
    return py


def weight_dtype(config: dict[str, Any], plan) -> str:
    """How the checkpoint stores most weights, for llm-d-planner's parameter-count-by-dtype input."""
    q = (config.get("quantization_config") or {})
    method = str(q.get("quant_method", "")).lower()
    if plan.precision.quantization == "fp8" or method == "fp8":
        return "F8_E4M3"
    if method == "mxfp4":
        return "mxfp4"
    if method in ("awq", "gptq") or (method == "compressed-tensors" and "num_bits" in json.dumps(q)):
        return "I4"
    return "F32" if plan.precision.dtype == "float32" else "BF16"


def cases(runs: list[dict[str, Any]], configs: dict[str, dict[str, Any]], tmp: Path) -> list[dict[str, Any]]:
    registry = Registry.discover()
    versions = {name: list(registry.load(name)[0].versions) for name in ("vllm", "sglang", "tgi")}
    names = {n.lower() for n in gpus.CATALOG}
    out = []
    for run in runs:
        if run["engine"] != "vllm" or not run["reported"].get("kv_gib"):
            continue
        planned = plan_inputs(run, configs, versions, plan_accuracy.lookup, names,
                              lambda r: memory_of(r).default_utilization)
        if not isinstance(planned, Planned):
            continue
        folder = tmp / run["id"]
        folder.mkdir()
        (folder / "deploy.yaml").write_text(planned.spec, encoding="utf-8")
        config = planned.config
        if config is None:
            found = plan_accuracy.lookup(run["model"])
            config = found[0] if found else None
        if config is None:
            continue
        (folder / "model").mkdir()
        (folder / "model/config.json").write_text(json.dumps(config), encoding="utf-8")
        if planned.config is not None:
            pass
        compiled = compile_spec(folder / "deploy.yaml", "deploy.yaml")
        if compiled.plan is None:
            continue
        checked = check_target(compiled, registry, planned.target)
        if checked.memory is None or checked.target is None or checked.v is None:
            continue
        plan = compiled.plan
        eng = checked.target.memory_model(plan, checked.opts, checked.v)
        if eng is None or not plan.facts.parameters:
            continue
        out.append({"id": run["id"], "model": run["model"], "config": config, "config_dir": str(folder / "model"),
                    "parameters": plan.facts.parameters, "weight_dtype": weight_dtype(config, plan),
                    "gpu": plan.hardware.gpu.name, "gpu_gib": plan.hardware.gpu.memory_gib,
                    "util": plan.hardware.memory_utilization, "tp": plan.parallelism.tensor,
                    "pp": plan.parallelism.pipeline, "max_model_len": checked.memory.max_model_len,
                    "batch_tokens": eng.batch_tokens, "max_seqs": eng.max_seqs,
                    "kv_fp8": plan.precision.kv_cache_dtype == "fp8"})
    return out


def stats(errs: list[float]) -> tuple[float, float]:
    return statistics.mean(errs), statistics.median(errs)


def main() -> None:
    runs, configs = load()
    deployc = {r["id"]: r for r in plan_accuracy.run_all(runs, configs) if "not_plannable" not in r}
    by_id = {r["id"]: r for r in runs}
    with tempfile.TemporaryDirectory() as t:
        cs = [c for c in cases(runs, configs, Path(t)) if c["id"] in deployc]
        proc = subprocess.run([str(planners_python()), str(HERE / "planners_other.py")], input=json.dumps(cs),
                              capture_output=True, text=True, check=True)
    other = json.loads(proc.stdout)
    rows = []
    for c in cs:
        rep = by_id[c["id"]]["reported"]["kv_gib"]
        row: dict[str, Any] = {"id": c["id"], "split": by_id[c["id"]]["split"], "class": by_id[c["id"]]["arch_class"],
                               "gpu": f"{c['gpu']} x{c['tp'] * c['pp']}", "reported_gib": rep}
        row["deployc"] = {"kv_gib": deployc[c["id"]]["planned_gib"]}
        row.update(other[c["id"]])
        for p in PLANNERS:
            if "kv_gib" in row[p]:
                row[p]["err"] = abs(row[p]["kv_gib"] - rep) / rep
        rows.append(row)
    common = [r for r in rows if all("err" in r[p] for p in PLANNERS)]
    if "--json" in sys.argv:
        print(json.dumps({"rows": rows}, indent=1))
        return
    if "--runs" in sys.argv:
        print(f"{'run':<50} {'split':<5} {'GiB':>6} " + " ".join(f"{p:>15}" for p in PLANNERS))
        for r in rows:
            cells = []
            for p in PLANNERS:
                cells.append(f"{r[p]['kv_gib']:7.2f} {r[p]['err']:6.1%}" if "err" in r[p] else f"{'failed':>15}")
            note = " (aic naive)" if r["aiconfigurator"].get("source") == "naive_fallback" else ""
            print(f"{r['id'][:50]:<50} {r['split'][:5]:<5} {r['reported_gib']:>6} " + " ".join(cells) + note)
        print()
    print(f"KV cache GiB per GPU vs vLLM's 'Available KV cache memory', {len(common)} vLLM runs of "
          f"benchmarks/truth that all three planners plan (of {len(rows)} deployc plans):")
    print(f"{'planner':<16} {'mean':>7} {'median':>7} {'worst':>7}  {'held-out mean':>13} {'median':>7}")
    result = {}
    for p in PLANNERS:
        errs = [r[p]["err"] for r in common]
        held = [r[p]["err"] for r in common if r["split"] == "held-out"]
        mean, median = stats(errs)
        hm, hmed = stats(held) if held else (float("nan"), float("nan"))
        result[p] = (mean, median)
        print(f"{p:<16} {mean:>7.1%} {median:>7.1%} {max(errs):>7.1%}  {hm:>13.1%} {hmed:>7.1%}")
    llmd = sum(r["id"].startswith("llmd-") for r in common)
    print(f"({llmd} of them are llm-d-planner's own vLLM 0.19.0 sweep, on which it fitted its constants)")
    naive = sum(r["aiconfigurator"].get("source") == "naive_fallback" for r in common)
    print(f"(aiconfigurator used its naive fallback on {naive} of them: GPU or model outside its data)")
    best = all(result["deployc"][i] < min(result[p][i] for p in PLANNERS[1:]) for i in (0, 1))
    print("deployc is ahead on both mean and median" if best else
          "deployc is NOT ahead on both mean and median: " + ", ".join(
              f"{k} {'ahead' if result['deployc'][i] < min(result[p][i] for p in PLANNERS[1:]) else 'behind'}"
              for i, k in ((0, "mean"), (1, "median"))))
    for p in PLANNERS[1:]:
        failed = [r["id"] for r in rows if "err" not in r[p]]
        if failed:
            print(f"{p} could not plan {len(failed)}: " + "; ".join(
                f"{i} ({next(r for r in rows if r['id'] == i)[p]['error'][:80]})" for i in failed))


if __name__ == "__main__":
    main()
