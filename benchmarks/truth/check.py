"""Check runs.json and model_configs.json for shape and consistency, and print the counts table.

    python benchmarks/truth/check.py

Fails (exit 1) when a run lacks a required field, uses an unknown engine / arch_class / split,
disagrees with split.py's rule, or names a model missing from model_configs.json without saying so
in its notes. Stdlib only.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from split import assign

ENGINES = {"vllm", "sglang", "tgi", "lmdeploy", "llama.cpp"}
CLASSES = ["dense", "moe", "mla", "sliding-window/hybrid", "linear-attention/mamba", "multimodal"]
REQUIRED = ["id", "url", "engine", "engine_version", "version_evidence", "gpu", "gpu_count", "model",
            "arch_class", "config", "reported", "log", "notes", "split"]
REPORTED = ["kv_tokens", "kv_gib", "max_concurrency", "max_concurrency_at", "weights_gib"]


def modern(r: dict) -> bool:
    """vLLM >= 0.10 or SGLang >= 0.4, from the run's own flag (set by hand from version_evidence)."""
    return bool(r.get("modern"))


def main() -> None:
    runs = json.loads((HERE / "runs.json").read_text(encoding="utf-8"))["runs"]
    models = json.loads((HERE / "model_configs.json").read_text(encoding="utf-8"))["models"]
    known = {m["id"] for m in models}
    errors = []
    ids = Counter(r.get("id") for r in runs)
    errors += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    side = assign(runs)
    for r in runs:
        rid = r.get("id")
        errors += [f"{rid}: missing {k}" for k in REQUIRED if k not in r]
        if r.get("engine") not in ENGINES:
            errors.append(f"{rid}: engine {r.get('engine')}")
        if r.get("arch_class") not in CLASSES:
            errors.append(f"{rid}: arch_class {r.get('arch_class')}")
        if r.get("split") != side.get(rid):
            errors.append(f"{rid}: split {r.get('split')} but the rule says {side.get(rid)}")
        errors += [f"{rid}: reported lacks {k}" for k in REPORTED if k not in r.get("reported", {})]
        if not r.get("log") and "not re-opened" not in r.get("notes", ""):
            errors.append(f"{rid}: no verbatim log lines and no note saying why")
        if r.get("model_config_id") not in known and "no config" not in r.get("notes", ""):
            errors.append(f"{rid}: model_config_id {r.get('model_config_id')} not in model_configs.json")
    sides_of_group: dict[str, set] = {}
    for r in runs:
        sides_of_group.setdefault(r.get("group") or r["id"], set()).add(r.get("split"))
    errors += [f"group {g} straddles the split" for g, s in sides_of_group.items() if len(s) > 1]
    for e in errors:
        print("ERROR", e)
    table = Counter((r["engine"], r["arch_class"], r["split"]) for r in runs)
    print(f"\n{len(runs)} runs; vLLM>=0.10 or SGLang>=0.4: {sum(map(modern, runs))}; "
          f"non-dense (moe/mla/sliding-window/linear-attention): "
          f"{sum(r['arch_class'] in CLASSES[1:5] for r in runs)}")
    print("\n| engine | class | calibration | held-out |\n|---|---|---|---|")
    for eng in sorted({k[0] for k in table}):
        for cls in CLASSES:
            c, h = table[(eng, cls, "calibration")], table[(eng, cls, "held-out")]
            if c or h:
                print(f"| {eng} | {cls} | {c} | {h} |")
    by_cls = Counter((r["arch_class"], r["split"]) for r in runs)
    print("\n| class | calibration | held-out |\n|---|---|---|")
    for cls in CLASSES:
        print(f"| {cls} | {by_cls[(cls, 'calibration')]} | {by_cls[(cls, 'held-out')]} |")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
