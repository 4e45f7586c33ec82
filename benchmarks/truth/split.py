"""Assign every run in runs.json to the calibration or the held-out part, by a rule fixed before any prediction.

    python benchmarks/truth/split.py          # print the assignment and the counts
    python benchmarks/truth/split.py --write  # also write the "split" field back into runs.json

The rule (also in README.md):
  0. Runs whose "origin" starts with "held-out collection" were gathered after the constants were last
     fitted, by a round declared held-out before any of its runs was planned: always "held-out"
     (never moved by step 3). They can measure the plan; calibrate.py never reads them.
  1. Runs whose "origin" is "plan_cases.json" were already used to fit constants: always "calibration".
  2. Every other run is split by its "group" (runs from one source document on the same hardware
     share a group; a run alone in its group has group == id):
     h = first 8 hex digits of sha256("deployc-truth-v1:" + group) / 2**32.
     h < 0.40 -> "held-out", otherwise "calibration" (about 60/40).
  3. Stratification repair: for each arch_class with at least 4 rule-2 runs, if one side is empty,
     the group (of that class) whose h is closest to 0.40 moves, whole, to the empty side
     (repeat until both sides have one).
A run's side depends only on its own group (plus step 3 for a lopsided class), so adding runs later
does not move existing ones unless step 3 fires. Groups keep near-duplicates (the same deployment
with one knob or the engine version changed) from straddling the split. Stdlib only.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
THRESHOLD = 0.40
SALT = "deployc-truth-v1:"
HELD_OUT_ORIGIN = "held-out collection"


def score(key: str) -> float:
    return int(hashlib.sha256((SALT + key).encode()).hexdigest()[:8], 16) / 2**32


def group(run: dict) -> str:
    return run.get("group") or run["id"]


def assign(runs: list[dict]) -> dict[str, str]:
    side: dict[str, str] = {}
    free: list[dict] = []
    for r in runs:
        if str(r.get("origin", "")).startswith(HELD_OUT_ORIGIN):
            side[r["id"]] = "held-out"
        elif r.get("origin") == "plan_cases.json":
            side[r["id"]] = "calibration"
        else:
            side[r["id"]] = "held-out" if score(group(r)) < THRESHOLD else "calibration"
            free.append(r)
    for cls in sorted({r["arch_class"] for r in free}):
        members = [r for r in free if r["arch_class"] == cls]
        if len(members) < 4:
            continue
        for empty in ("held-out", "calibration"):
            while not any(side[r["id"]] == empty for r in members):
                mover = min((r for r in members if side[r["id"]] != empty),
                            key=lambda r: abs(score(group(r)) - THRESHOLD))
                for r in free:
                    if group(r) == group(mover):
                        side[r["id"]] = empty
    return side


def main() -> None:
    path = HERE / "runs.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    runs = doc["runs"]
    side = assign(runs)
    for r in runs:
        print(f"{side[r['id']]:<12} {score(group(r)):.3f}  {r['arch_class']:<24} {r['id']}")
    print(Counter(side.values()))
    if "--write" in sys.argv:
        for r in runs:
            r["split"] = side[r["id"]]
        path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
