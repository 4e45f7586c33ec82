"""The conformance tier: real engine parsers and validators judge deployc's artifacts.

They are installed by conformance/install.sh into .conformance/ (git-ignored).
Missing installs fail loudly: this tier runs only when asked for (-m conformance).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
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


@contextlib.contextmanager
def serving(serve_sh: Path, env: dict[str, str], log_path: Path, health_url: str, timeout: float,
            poll: float) -> Iterator[float]:
    """Start a generated serve.sh (from /, in its own process group, output to log_path), wait until health_url
    answers 200 (failing with the log's tail if it exits or takes longer than timeout), yield the seconds that took,
    and stop it afterwards."""
    import subprocess
    import time
    import urllib.request

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(health_url, timeout=5) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(serve_sh)], cwd="/", env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        while not healthy():
            if proc.poll() is not None:
                pytest.fail(f"serve.sh exited with {proc.returncode}:\n{log_path.read_text()[-5000:]}")
            if time.monotonic() - t0 > timeout:
                pytest.fail(f"no /health after {timeout}s:\n{log_path.read_text()[-5000:]}")
            time.sleep(poll)
        yield round(time.monotonic() - t0, 1)
    finally:
        stop_server(proc)


def engine_gpus(par: dict) -> int:
    """GPUs one engine of a spec's parallelism spans: tensor x pipeline, times data with data-parallel attention."""
    attention = par.get("data_mode") == "attention"
    return par.get("tensor", 1) * par.get("pipeline", 1) * (par.get("data", 1) if attention else 1)


def spans_nodes(spec: dict) -> bool:
    """The spec's engine needs more GPUs than one machine of hardware.gpus_per_node has."""
    return engine_gpus(spec.get("parallelism", {})) > spec.get("hardware", {}).get("gpus_per_node", 8)
