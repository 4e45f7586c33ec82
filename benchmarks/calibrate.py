"""Fit the vLLM memory constants on the truth set's CALIBRATION runs only, and print them.

    python benchmarks/calibrate.py

The constants are those targets/vllm/versions.py MEMORY marks as fitted: memory outside PyTorch, its
growth with tensor parallelism, the CUDA-graph pool (0.21 on, in the budget), the sampler pass's bytes
per vocabulary entry, and the prefill activation weights. Everything else in the accounting is read
from the engines' source. The fit is a coordinate descent over small grids that minimises the mean
absolute error (KV GiB where the run prints it, else the token figure) over the calibration runs of
each accounting era (V0: vLLM 0.5-0.7; V1: 0.8 on); held-out runs are never read here. The result is
pasted into versions.py by hand, so the fit stays reviewable; benchmarks/plan_accuracy.py then reports
calibration and held-out errors with them.
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import plan_accuracy
from deployc.targets.vllm import versions

GRIDS = {
    "non_torch_gib": [0.1, 0.2, 0.3, 0.45, 0.6, 0.8],
    "tp_overhead_gib": [0.0, 0.5, 1.0, 1.5, 1.75, 2.0, 2.25],   # applies on NVLS boards only (gpus.py)
    "sampler_bytes": [4.0, 8.0, 12.0, 16.0, 20.0, 24.0, 28.0, 32.0],
    "act_mlp": [0.75, 1.0, 1.25, 1.5],
    "act_hidden": [2.0, 3.0, 4.0, 5.0, 6.0],
    "cuda_graph_gib": [0.0, 0.25, 0.5, 0.75, 1.0, 1.25],
}
# Every MEMORY entry that shares the V1 fit (versions.py _FIT), so a release added there is fitted too;
# 0.34.0 derives its own from _FIT (+ the extensible cache's reserve) and has no calibration run.
ERAS = {"V0": ["0.5.0"], "V1": [k for k in versions.MEMORY if k not in ("0.5.0", "0.34.0")]}
GRAPHS = {k for k, m in versions.MEMORY.items() if m.graphs_in_budget}
CAP = 0.25   # an error beyond 25% counts as 25%: a run the model cannot explain must not steer the fit


def objective(runs, configs, era_keys) -> float:
    rows = plan_accuracy.run_all(runs, configs)
    errs = []
    for r in rows:
        if "not_plannable" in r:
            continue
        m = versions.memory_of(r["release"].split()[-1])
        if not any(m is versions.MEMORY[k] for k in era_keys):
            continue
        e = r.get("err_gib", r.get("err_tokens"))
        if e is not None:
            errs.append(min(abs(e), CAP))   # one broken run must not steer the fit
    return statistics.mean(errs) if errs else 0.0


def apply(era_keys, values) -> None:
    for k in era_keys:
        m = versions.MEMORY[k]
        v = dict(values)
        if k not in GRAPHS:
            v.pop("cuda_graph_gib", None)
        versions.MEMORY[k] = replace(m, **v)


def main() -> None:
    runs, configs = plan_accuracy.load()
    calibration = [r for r in runs if r["split"] == "calibration" and r["engine"] == "vllm"]
    for era, keys in ERAS.items():
        values = {name: getattr(versions.MEMORY[keys[-1]], name) for name in GRIDS}
        best = None
        for _ in range(3):
            for name, grid in GRIDS.items():
                if era == "V0" and name == "cuda_graph_gib":
                    continue
                scores = []
                for x in grid:
                    apply(keys, {**values, name: x})
                    scores.append((objective(calibration, configs, keys), x))
                best, values[name] = min(scores)
            apply(keys, values)
        print(f"{era}: mean abs error {best:.1%} on calibration runs with {values}")


if __name__ == "__main__":
    main()
