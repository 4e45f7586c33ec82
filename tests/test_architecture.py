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
    from compiler.registry import Registry

    names = Registry.discover().names
    for path in (ROOT / "compiler").rglob("*.py"):
        text = path.read_text(encoding="utf-8").lower()
        for name in names:
            assert f'"{name}"' not in text and f"'{name}'" not in text, f"{path} names target {name}"


def test_building_one_target_imports_only_that_target():
    code = ("import sys\nfrom compiler.cli import main\nsys.argv=['deployc','build','samples/qwen2.5-7b-h100/deploy.yaml',"
            "'--target','vllm','--json']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('targets.') and m.count('.') == 1), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.stderr.strip().splitlines()[-1] == "['targets._shared', 'targets.vllm']"
