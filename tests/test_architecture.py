"""The layering rules of docs/style: enforced, not hoped for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def test_import_linter_contracts_hold():
    """The core never imports a target; targets are independent; only the CLI uses typer."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_core_never_names_a_target():
    """No `if target == "vllm"` in compiler/: adding a target never touches the core."""
    from deployc.compiler.registry import Registry

    names = Registry.discover().names
    for path in (ROOT / "compiler").rglob("*.py"):
        text = path.read_text(encoding="utf-8").lower()
        for name in names:
            assert f'"{name}"' not in text and f"'{name}'" not in text, f"{path} names target {name}"


def test_building_one_target_imports_only_that_target():
    code = ("import sys\nfrom deployc.compiler.cli import main\nsys.argv=['deployc','build','samples/qwen2.5-7b-h100/deploy.yaml',"
            "'--target','vllm','--json']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('deployc.targets.') and m.count('.') == 2), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.stderr.strip().splitlines()[-1] == "['deployc.targets.vllm']"


def test_installed_code_lives_under_the_project_name():
    """pyproject maps compiler/ and targets/ to deployc.compiler and deployc.targets: every package
    folder is listed, and no module imports the bare folder names (which would import a second copy,
    or another project's `compiler`)."""
    import re
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {"deployc." + ".".join(p.parent.relative_to(ROOT).parts)
               for top in ("compiler", "targets") for p in (ROOT / top).rglob("__init__.py")}
    assert listed == folders
    bare = re.compile(r"^\s*(from|import)\s+(compiler|targets)\b", re.M)
    for top in ("compiler", "targets", "tests", "benchmarks", "conformance"):
        for path in (ROOT / top).rglob("*.py"):
            assert not bare.search(path.read_text(encoding="utf-8")), path


def test_the_public_api_contract_lists_every_other_core_module():
    """"Targets import the public API only" forbids each core module by name: a new core module must
    join that list, or targets could import it unchecked."""
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    contract = next(c for c in contracts if c["name"] == "Targets import the public API only")
    core = {"deployc.compiler." + (p.stem if p.suffix == ".py" else p.name) for p in (ROOT / "compiler").iterdir()
            if (p.suffix == ".py" and p.stem not in ("__init__", "__main__")) or (p / "__init__.py").is_file()}
    assert set(contract["forbidden_modules"]) == core - {"deployc.compiler.api"}
