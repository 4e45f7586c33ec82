"""Cold-start and throughput of the deployc CLI, as whole processes, beside check-jsonschema.

    python benchmarks/speed.py [--runs N] [--quick]

Prints a table of medians over N runs (default 5) and the ratios the project aims for:
  validate of 100 specs          <= 0.5 x check-jsonschema on the same 100 files
  build --target all, cold       <= the import time of pydantic+typer+jinja2+ruamel.yaml
  check: cost per extra spec     < 5 ms
check-jsonschema (the usual pre-commit schema validator) is taken from $CHECK_JSONSCHEMA, the
PATH, or installed once into .bench/ (git-ignored) from the package registry. Stdlib only.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
DEPLOYC = [PY, "-m", "deployc.compiler"]
CHECK_JSONSCHEMA_VERSION = "0.39.0"

SPEC = """\
# yaml-language-server: $schema=../schemas/deploy.schema.json
apiVersion: deployc/v1
name: svc-{i}
model:
  source: Qwen/Qwen2.5-7B-Instruct
  served_name: qwen-{i}
precision:
  dtype: bfloat16
limits:
  max_model_len: {ctx}
  max_concurrency: 16
server:
  port: {port}
  api_key_env: API_KEY_{i}
hardware:
  gpu: H100-80GB
targets:
  vllm: {{}}
"""


# Children run as users run them: bytecode caches written and read (a PYTHONDONTWRITEBYTECODE=1
# shell would otherwise recompile every deployc module on every run), one warm-up run each.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class Timing(NamedTuple):
    """Medians of one command: wall-clock seconds, and CPU seconds (user + system) of the child,
    which other load on the machine disturbs far less than the wall clock."""

    wall: float
    cpu: float


def timed(cmd: list[str], cwd: Path, runs: int) -> Timing:
    walls, cpus = [], []
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, check=False)
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
        err = proc.stderr.read() if proc.stderr else b""
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        walls.append(time.perf_counter() - t0)
        cpus.append(usage.ru_utime + usage.ru_stime)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(map(str, cmd[:6]))} failed ({proc.returncode}): {err.decode()[-400:]}")
    return Timing(statistics.median(walls), statistics.median(cpus))


def make_specs(folder: Path, n: int) -> list[Path]:
    paths = []
    for i in range(n):
        d = folder / f"svc{i:04d}"
        d.mkdir(parents=True, exist_ok=True)
        p = d / "deploy.yaml"
        p.write_text(SPEC.format(i=i, ctx=4096 + 1024 * (i % 8), port=8000 + i % 1000))
        paths.append(p)
    return paths


def check_jsonschema() -> list[str] | None:
    exe = os.environ.get("CHECK_JSONSCHEMA") or shutil.which("check-jsonschema")
    if exe:
        return [exe]
    venv = ROOT / ".bench" / "check-jsonschema"
    exe = venv / "bin" / "check-jsonschema"
    if not exe.exists():
        print(f"installing check-jsonschema=={CHECK_JSONSCHEMA_VERSION} into {venv} (once)", file=sys.stderr)
        subprocess.run([PY, "-m", "venv", str(venv)], check=True)
        proc = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"check-jsonschema=={CHECK_JSONSCHEMA_VERSION}"],
                              check=False)
        if proc.returncode != 0:
            return None
    return [str(exe)]


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5
    quick = "--quick" in sys.argv
    rows: list[tuple[str, Timing, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "schemas").mkdir()
        shutil.copy(ROOT / "schemas" / "deploy.schema.json", base / "schemas")
        one = make_specs(base / "one", 1)
        hundred = make_specs(base / "hundred", 100)
        thousand = [] if quick else make_specs(base / "thousand", 1000)
        rel = lambda ps: [str(p.relative_to(base)) for p in ps]

        floor = timed([PY, "-c", "import pydantic, typer, jinja2, ruamel.yaml"], base, runs)
        interp = timed([PY, "-c", "pass"], base, runs)
        rows += [("python -c pass", interp, 0), ("import pydantic+typer+jinja2+ruamel.yaml", floor, 0)]
        rows.append(("deployc --help", timed(DEPLOYC + ["--help"], base, runs), 0))
        v1 = timed(DEPLOYC + ["validate", *rel(one)], base, runs)
        rows.append(("deployc validate (1 spec)", v1, 1))
        v100 = timed(DEPLOYC + ["validate", *rel(hundred)], base, runs)
        rows.append(("deployc validate (100 specs)", v100, 100))
        if thousand:
            rows.append(("deployc validate (1000 specs)", timed(DEPLOYC + ["validate", *rel(thousand)], base,
                                                               max(1, runs // 2)), 1000))
        sample = ROOT / "samples" / "qwen2.5-7b-h100" / "deploy.yaml"
        out = base / "out"
        b_all = timed(DEPLOYC + ["build", str(sample), "--target", "all", "--out", str(out), "--force"], base, runs)
        rows.append(("deployc build --target all (1 sample)", b_all, 1))
        rows.append(("deployc build --target vllm (1 sample)",
                     timed(DEPLOYC + ["build", str(sample), "--target", "vllm", "--out", str(out), "--force"], base,
                           runs), 1))
        for p in hundred:
            subprocess.run(DEPLOYC + ["build", str(p), "--target", "vllm"], cwd=base, check=True,
                           stdout=subprocess.DEVNULL)
        c1 = timed(DEPLOYC + ["check", *rel(hundred[:1])], base, runs)
        c100 = timed(DEPLOYC + ["check", *rel(hundred)], base, runs)
        rows.append(("deployc check (1 deployment)", c1, 1))
        rows.append(("deployc check (100 deployments)", c100, 100))
        cj = check_jsonschema()
        cj100 = cj1 = None
        if cj:
            schema = str(base / "schemas" / "deploy.schema.json")
            cj1 = timed(cj + ["--schemafile", schema, *rel(one)], base, runs)
            cj100 = timed(cj + ["--schemafile", schema, *rel(hundred)], base, runs)
            rows.append(("check-jsonschema (1 spec)", cj1, 1))
            rows.append(("check-jsonschema (100 specs)", cj100, 100))

    width = max(len(r[0]) for r in rows)
    print(f"{'command':<{width}}  {'wall s':>7}  {'cpu s':>7}  {'ms/spec':>8}   (medians of {runs} runs, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]})")
    for name, t, n in rows:
        print(f"{name:<{width}}  {t.wall:7.3f}  {t.cpu:7.3f}  {(t.wall / n * 1000 if n else 0):8.2f}")
    print(f"\n{'ratio':<40}{'wall':>7}  {'cpu':>7}   target")
    ratios = []
    if cj100:
        ratios.append(("validate 100 / check-jsonschema 100", v100.wall / cj100.wall, v100.cpu / cj100.cpu, "<= 0.50"))
        ratios.append(("validate 1 / check-jsonschema 1", v1.wall / cj1.wall, v1.cpu / cj1.cpu, ""))
    ratios.append(("build --target all / import floor", b_all.wall / floor.wall, b_all.cpu / floor.cpu, "<= 1.00"))
    ratios.append(("check: ms per extra spec", (c100.wall - c1.wall) / 99 * 1000, (c100.cpu - c1.cpu) / 99 * 1000,
                   "< 5 ms"))
    for name, wall, cpu, target in ratios:
        print(f"{name:<40}{wall:7.2f}  {cpu:7.2f}   {target}")


if __name__ == "__main__":
    main()
