"""The conformance tier: real engine parsers and validators judge deployc's artifacts.

They are installed by conformance/install.sh into .conformance/ (git-ignored).
Missing installs fail loudly: this tier runs only when asked for (-m conformance).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from deployc.compiler.driver import compile_spec as load_spec, compile_target
from deployc.compiler.registry import Registry
from deployc.compiler.api.target import BuildContext

ROOT = Path(__file__).resolve().parents[2]
HOME = Path(os.environ.get("DEPLOYC_CONFORMANCE", ROOT / ".conformance"))
REGISTRY = Registry.discover()

pytestmark = pytest.mark.conformance


def require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: run `bash conformance/install.sh` first", pytrace=False)
    return path


def dump(data: dict) -> str:
    """Block-style YAML: flow style may hold plain scalars YAML 1.1 readers (libyaml, PyYAML) refuse,
    such as `[--dist-init-addr, $(LWS_LEADER_ADDRESS):20000]`."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()


def lower(spec: dict, target: str, folder: Path):
    """Compile a spec given as data; return the TargetResult (must be ok)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "deploy.yaml"
    path.write_text(dump(spec), encoding="utf-8")
    compiled = load_spec(path, "deploy.yaml")
    assert compiled.ok, [d.render() for d in compiled.diagnostics]
    result = compile_target(compiled, REGISTRY, target, BuildContext("../..", "deploy.yaml", compiled.source.digest))
    assert result.ok, [d.render() for d in result.diagnostics]
    return result


def variant_of(base: dict, **sections) -> dict:
    """A copy of base with whole sections replaced, or (for mappings) updated key by key."""
    import copy

    spec = copy.deepcopy(base)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key].update(value)
        else:
            spec[key] = value
    return spec


def run_client(python: str, base: str, served: str, max_model_len: int, env: dict[str, str]) -> dict:
    """conformance/e2e_client.py (the openai client) against a running server: its JSON results."""
    import json
    import subprocess

    client = subprocess.run([python, str(ROOT / "conformance" / "e2e_client.py"), base + "/v1", served,
                             str(max_model_len)], capture_output=True, text=True, timeout=600, env=env)
    assert client.returncode == 0, client.stderr[-3000:]
    return json.loads(client.stdout)


def stop_server(proc) -> None:
    """SIGTERM the process group a serve.sh was started in (start_new_session), SIGKILL after 60 s."""
    import os
    import signal
    import subprocess

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
