"""The committed option tables are what the engines' real parsers say, byte for byte.

For every targets/<engine>/engine_options/<version>.json, the extractor it names runs again under
.conformance/<engine>-<version>/bin/python (conformance/install.sh builds those venvs) and its
output must equal the committed file. A difference means the table is stale (an extractor or pin
changed) or the engine's parser is not the one the table was taken from; the failure lists the
options added, removed and changed before the raw diff. Regenerate: conformance/README.md,
"Option tables".

Only the JSON files and subprocesses are used here, no deployc module, so the tables stay a
contract of their own.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.conformance

ROOT = Path(__file__).resolve().parents[2]
HOME = Path(os.environ.get("DEPLOYC_CONFORMANCE", ROOT / ".conformance"))
TABLES = sorted(p for engine in ("vllm", "sglang", "lmdeploy") for p in ROOT.glob(f"targets/{engine}/engine_options/*.json"))


def _id(path: Path) -> str:
    return f"{path.parent.parent.name}-{path.stem}"


def _extract(path: Path) -> tuple[int, str, str]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    python = HOME / f"{doc['engine']}-{doc['version']}" / "bin" / "python"
    if not python.exists():
        return -1, "", f"{python} is missing: run `bash conformance/install.sh` first"
    run = subprocess.run([str(python), str(ROOT / doc["extractor"]), "--out", "-"], capture_output=True,
                         text=True, timeout=900, cwd=ROOT)
    return run.returncode, run.stdout, run.stderr


@pytest.fixture(scope="module")
def extracted(request) -> dict[str, tuple[int, str, str]]:
    """The selected tables' extractors, each run once, as many at a time as there are cores (each
    one imports its engine: 7-35 s)."""
    wanted = [item.callspec.params["path"] for item in request.session.items
              if item.module.__name__ == __name__ and "path" in getattr(getattr(item, "callspec", None), "params", {})]
    with ThreadPoolExecutor(max_workers=max(1, min(len(wanted), os.cpu_count() or 2))) as pool:
        return dict(zip(map(_id, wanted), pool.map(_extract, wanted)))


def summary(old: dict, new: dict) -> list[str]:
    """Options added (+, only in new), removed (-, only in old) and changed (~, field by field),
    then any other top-level change."""
    lines = []
    before, after = old.get("options", {}), new.get("options", {})
    for key in sorted(after.keys() - before.keys()):
        lines.append(f"+ {key}")
    for key in sorted(before.keys() - after.keys()):
        lines.append(f"- {key}")
    for key in sorted(before.keys() & after.keys()):
        for field in sorted(set(before[key]) | set(after[key])):
            if before[key].get(field) != after[key].get(field):
                lines.append(f"~ {key} {field}: {json.dumps(before[key].get(field))} -> "
                             f"{json.dumps(after[key].get(field))}"[:300])
    for field in sorted((set(old) | set(new)) - {"options"}):
        if old.get(field) != new.get(field):
            lines.append(f"~ {field}: {json.dumps(old.get(field))[:140]} -> {json.dumps(new.get(field))[:140]}")
    return lines


@pytest.mark.parametrize("path", TABLES, ids=_id)
def test_table_is_what_the_real_parser_says(path: Path, extracted) -> None:
    code, out, err = extracted[_id(path)]
    if code == -1:
        pytest.fail(err, pytrace=False)
    assert code == 0, f"{path.relative_to(ROOT)}: the extractor failed (exit {code}):\n{err[-4000:]}"
    committed = path.read_text(encoding="utf-8")
    if out == committed:
        return
    try:
        changes = summary(json.loads(committed), json.loads(out))
    except ValueError as e:
        changes = [f"(output is not JSON: {e})"]
    diff = list(difflib.unified_diff(committed.splitlines(), out.splitlines(), f"committed {path.name}",
                                     "extracted now", n=2, lineterm=""))
    pytest.fail(f"{path.relative_to(ROOT)} differs from what its extractor writes now "
                f"({len(changes)} changes, + only in the extracted table, - only in the committed one; "
                "regenerate as conformance/README.md 'Option tables' says):\n"
                + "\n".join(changes[:80]) + ("\n..." if len(changes) > 80 else "")
                + "\n\n" + "\n".join(diff[:150]) + ("\n..." if len(diff) > 150 else ""), pytrace=False)


def test_every_table_is_judged() -> None:
    """The glob found the tables (a moved folder must not make this file pass by judging nothing)."""
    engines = {p.parent.parent.name for p in TABLES}
    assert {"vllm", "sglang"} <= engines, TABLES
