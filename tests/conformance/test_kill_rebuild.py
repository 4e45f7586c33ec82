"""Issue 25: SIGKILL a real `deployc build` process at seeded random moments, again and again, over
a sample with many targets and files. After every kill: `check` never calls deployc's own files hand
edits, the next build succeeds, leaves no temp file or journal, and `check` then passes."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conformance.conftest import ROOT

pytestmark = pytest.mark.conformance

SAMPLE = ROOT / "samples" / "llama-3.1-70b-awq-tp4"   # five targets, Triton's model repository among them
ROUNDS = 40
# The build under test, with each staged file and each rename slowed by 30 ms: the kill, a real
# SIGKILL from outside at a random moment, then lands inside the write phase (a few ms otherwise).
SLOW_BUILD = """
import os, sys, time
from deployc.compiler import writer
from deployc.compiler.cli import app
stage, replace = writer._stage, os.replace
def slow_stage(*a):
    time.sleep(0.03)
    return stage(*a)
def slow_replace(*a):
    time.sleep(0.03)
    return replace(*a)
writer._stage, writer.os.replace = slow_stage, slow_replace
app(sys.argv[1:], prog_name="deployc")
"""


def wait_for_write(root: Path, proc: subprocess.Popen, extra: float) -> None:
    """Return once the build stages its first temp file (then wait `extra` seconds more), or it ends."""
    while proc.poll() is None:
        for _folder, _dirs, files in os.walk(root):
            if any(f.startswith(".deployc-") for f in files):
                time.sleep(extra)
                return


def deployc(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deployc.compiler", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".deployc-")]


def test_kill_and_rebuild_loop(tmp_path):
    work = tmp_path / "s"
    shutil.copytree(SAMPLE, work, ignore=shutil.ignore_patterns("deploy"))
    spec = work / "deploy.yaml"
    original = spec.read_text(encoding="utf-8")
    assert deployc("build", spec, "--target", "all", cwd=work).returncode == 0
    rng = random.Random(25)
    interrupted = 0
    for n in range(ROUNDS):
        # every round changes the spec's data (so the banner's spec hash of every artifact): the build has work
        spec.write_text(original.replace("max_concurrency: 16", f"max_concurrency: {17 + n}"), encoding="utf-8")
        platform = rng.choice(["local", "kubernetes"])
        proc = subprocess.Popen([sys.executable, "-c", SLOW_BUILD, "build", str(spec), "--target", "all",
                                 "--platform", platform, "--force"], cwd=work,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if n % 2:   # at a random moment of the whole build
            time.sleep(rng.uniform(0.2, 2.5))
        else:       # while it writes: once its first temp file is on disk, and a little later
            wait_for_write(work / "deploy", proc, rng.uniform(0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        if list(work.rglob(".deployc-journal.json")) or leftovers(work):
            interrupted += 1
        checked = deployc("check", spec, cwd=work)
        assert "output-edited" not in checked.stderr, (n, checked.stderr)
        assert "Traceback" not in checked.stderr
        for plat in ("local", "kubernetes"):
            rebuilt = deployc("build", spec, "--target", "all", "--platform", plat, cwd=work)
            assert rebuilt.returncode == 0, (n, rebuilt.stderr)
        assert leftovers(work) == [], n
        final = deployc("check", spec, cwd=work)
        assert final.returncode == 0, (n, final.stderr)
    print(f"{ROUNDS} kills, {interrupted} of them mid-write")
