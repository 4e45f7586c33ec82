"""Issue 25: the hostile-input classes generated, not listed (seeded, so every run tries the same
inputs). Each asserts what a user would notice: no traceback (no internal-error diagnostic either),
every diagnostic at a file:line:col, no file written or deleted outside the output folder.

  - YAML tags, directives, anchors and merges spliced into the committed samples;
  - spec FILE names drawn from line breaks, quotes, shell syntax, dots and non-UTF-8 bytes;
  - symlink layouts (deploy/, deploy/<target>, subfolders) crossed with manifest corruptions.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path

import pytest

from deployc.compiler import driver
from deployc.compiler.registry import Registry
from deployc.compiler.source import loads
from conftest import MINIMAL, SAMPLES

REGISTRY = Registry.discover()
SEED = 25

TAGS = ["!!bool", "!!int", "!!float", "!!str", "!!null", "!!binary", "!!timestamp", "!!set", "!!omap", "!!map",
        "!!seq", "!!merge", "!<tag:yaml.org,2002:bool>", "!<tag:yaml.org,2002:int>", "!custom", "!!python/object",
        "!", "!e!x"]
SCALARS = ["maybe", "0x", "0o", "0b", "1e999", "-.inf", ".nan", "''", "~", "yes", "2024-13-45", "@@", "{a: 1}",
           "[1]", "0x_", "+", "1_000", "&a x", "*a", "*nope"]
DIRECTIVES = ["%YAML 1.1", "%YAML 1.2", "%YAML 1.3", "%YAML 2.0", "%YAML 9.9", "%YAML", "%YAML x", "%TAG ! tag:x,2000:",
              "%TAG !e! tag:e,2000:", "%TAG !e!", "%FOO bar", "%YAML 1.2\n%YAML 1.2"]
SPLICES = ["b: &b\n  c: 1\n  <<: *b\n", "a: &a {<<: *a}\n", "m: &m [*m]\n", "x: &x 1\ny: *x\n", "<<: 3\n",
           "<<: [*a]\n", "? [1]\n: 2\n", "...\n", "---\n", "--- !!map\n"]


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    for n in range(rng.randint(1, 2)):
        what = rng.random()
        # before a top-level line (or at the end): the insertion is well-formed YAML around it
        i = rng.choice([j for j, line in enumerate(lines) if line[:1].isalpha()] + [len(lines)])
        if what < 0.45:
            lines.insert(i, f"k{n}: {rng.choice(TAGS)} {rng.choice(SCALARS)}\n")
        elif what < 0.65:
            doc = rng.choice(["", "...\n"])
            lines.insert(i, f"{doc}{rng.choice(DIRECTIVES)}\n---\n")
        elif what < 0.9:
            lines.insert(i, rng.choice(SPLICES))
        elif lines:   # a tag in front of an existing value
            j = rng.randrange(len(lines))
            if ": " in lines[j]:
                k, v = lines[j].split(": ", 1)
                lines[j] = f"{k}: {rng.choice(TAGS)} {v}"
    return "".join(lines)


def yaml_cases(n: int) -> list[tuple[Path, str]]:
    rng = random.Random(SEED)
    out = []
    for _ in range(n):
        sample = rng.choice(SAMPLES)
        out.append((sample, mutate((sample / "deploy.yaml").read_text(encoding="utf-8"), rng)))
    return out


@pytest.mark.parametrize("fast", [True, False])
def test_generated_tags_directives_and_merges_never_crash_the_loader(fast):
    tried = 0
    for _sample, text in yaml_cases(400):
        src = loads(text.encode(), "d.yaml", fast=fast)   # an exception fails the test
        tried += 1
        for d in src.diagnostics:
            assert d.file == "d.yaml" and d.line and d.column, (text, d)
            assert d.code != "yaml-invalid", (text, d)   # every case the generator makes has a named cause
    assert tried == 400


def test_generated_specs_go_through_the_whole_build_without_an_internal_error(tmp_path):
    for n, (sample, text) in enumerate(yaml_cases(120)):
        folder = tmp_path / str(n)
        shutil.copytree(sample, folder, ignore=shutil.ignore_patterns("deploy"))
        (folder / "deploy.yaml").write_text(text, encoding="utf-8")
        done = driver.build(driver.Request(folder / "deploy.yaml"), REGISTRY)
        bad = [d for d in done.diagnostics if d.code == "internal-error" or (d.is_error and d.line is None)]
        assert not bad, (text, bad)


NAME_PARTS = ["\n", "\r", "\u2028", "\x85", "'", '"', "$(", "`", "${HOME}", ";", " ", "..", ".", "/", "#",
              "\u202e", "caf\u00e9", "*", "-", "a", os.fsdecode(b"\xff")]


def hostile_names(n: int) -> list[str]:
    rng = random.Random(SEED)
    names = []
    while len(names) < n:
        stem = "".join(rng.choice(NAME_PARTS) for _ in range(rng.randint(1, 6))).replace("/", "")
        names.append(stem + rng.choice([".deploy.yaml", ".deploy.yml"]))
    return names


SPEC_ALL = MINIMAL.replace("targets:\n  vllm: {}\n", "server:\n  host: 127.0.0.1\ntargets:\n  vllm: {}\n  sglang: {}\n"
                           "  tgi: {}\n  llama-cpp: {}\n  lmdeploy: {}\nlimits:\n  max_model_len: 4096\n")


def test_generated_file_names_never_write_outside_the_output(tmp_path, cli):
    for i, name in enumerate(hostile_names(40)):
        proj = tmp_path / str(i)
        proj.mkdir()
        spec = proj / name
        spec.write_text(SPEC_ALL, encoding="utf-8")
        for platform in ("local", "kubernetes"):
            result = cli("build", spec, "--target", "all", "--platform", platform)
            assert result.exit_code in (0, 1, 2), (name, result.stderr)
            assert "internal-error" not in result.stderr
            for line in (result.stdout + result.stderr).splitlines():
                assert line.isprintable(), (name, line)
        outside = [p for p in proj.rglob("*") if p != spec and proj / "deploy" not in p.parents
                   and p != proj / "deploy"]
        assert outside == [], (name, outside)
        for path in (p for p in proj.rglob("*") if p.is_file() and p != spec):
            text = path.read_text(encoding="utf-8")   # valid UTF-8: no lone surrogate from the name
            assert "\u2028" not in text and "\r" not in text, (name, path)


LINKABLE = ["deploy", "deploy/vllm", "deploy/vllm/kubernetes", "deploy/vllm/sub"]


def corruptions(victim_file: Path) -> list:
    h = hashlib.sha256(victim_file.read_bytes()).hexdigest()
    return [
        lambda m: "{",
        lambda m: "[" * 50_000,
        lambda m: json.dumps([1, 2]),
        lambda m: json.dumps({**m, "files": {"sub/precious.txt": {"sha256": h, "mode": "0644"}}}),
        lambda m: json.dumps({**m, "files": {**m["files"], "../../../victim/precious.txt": {"sha256": h}}}),
        lambda m: json.dumps({**m, "files": {**m["files"], str(victim_file): {"sha256": h, "mode": "0644"}}}),
        lambda m: json.dumps({**m, "files": {**m["files"], "sub/../../precious.txt": {"sha256": h}}}),
        lambda m: json.dumps({**m, "files": "nope"}),
        lambda m: json.dumps({**m, "files": {**m["files"], "serve.sh": {"sha256": 5}}}),
        lambda m: "",
    ]


def test_generated_symlink_layouts_and_manifest_corruptions_never_touch_a_file_outside(tmp_path, cli):
    rng = random.Random(SEED)
    cases = 0
    for layout in range(1 << len(LINKABLE)):
        for corrupt in range(10):
            if rng.random() < 0.5:
                continue
            cases += 1
            root = tmp_path / f"{layout}-{corrupt}"
            victim = root / "victim"
            victim.mkdir(parents=True)
            (victim / "precious.txt").write_text("precious\n")
            spec = root / "deploy.yaml"
            spec.write_text(MINIMAL)
            assert cli("build", spec, "--target", "vllm").exit_code == 0
            out = root / "deploy" / "vllm"
            manifest = json.loads((out / "deployc-manifest.json").read_text())
            (out / "deployc-manifest.json").write_text(corruptions(victim / "precious.txt")[corrupt](manifest))
            for i, rel in enumerate(LINKABLE):
                if layout >> i & 1:
                    path = root / rel
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    if not path.parent.exists() or path.parent.is_symlink():
                        continue
                    path.symlink_to(victim)
            for args in (["--target", "vllm"], ["--target", "vllm", "--force"],
                         ["--target", "vllm", "--platform", "kubernetes", "--force"]):
                result = cli("build", spec, *args)
                assert result.exit_code in (0, 1, 2), result.stderr
                assert "internal-error" not in result.stderr
                assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"], (layout, corrupt, args)
                assert (victim / "precious.txt").read_text() == "precious\n"
            checked = cli("check", spec)
            assert checked.exit_code in (0, 1, 2) and "internal-error" not in checked.stderr
            assert not [p for p in root.rglob("*") if p.name.startswith(".deployc-")], (layout, corrupt)
    assert cases > 50
