"""End to end: deployc's serve.sh for llama.cpp, run as generated, serves a converted model with the real
llama-server of a pinned build (b10454), built for CPU from the llama.cpp tree PyPI's llama-cpp-python
0.3.35 sdist vendors (conformance/install_llama_cpp.sh).

One module-scoped server: conformance/tiny_llama.py builds the random two-layer Llama the vLLM test uses;
conformance/tiny_spm.py adds a SentencePiece tokenizer.model (the tree's converter recognizes a BPE
tokenizer.json only by a hash of known pre-tokenizers) whose byte pieces <0x80>..<0xFF> become CONTROL
tokens, so every token the random model emits renders as valid UTF-8 (a stray byte of a multi-byte
character made llama-server's chat output parser answer 500); the tree's own convert_hf_to_gguf.py writes
model.gguf (f32). The test compiles a spec for it with the real CLI (`deployc build --target llama-cpp`),
starts deploy/llama-cpp/serve.sh unmodified with the build's bin/ first on PATH and the API key variable
set (serve.sh exports LLAMA_API_KEY), waits for GET /health, and conformance/e2e_client.py (the real
`openai` client) sends bounded requests to 127.0.0.1 only; the server is stopped at the end.

The spec asks for max_model_len 256 and max_concurrency 2, so serve.sh runs -c 512 -np 2: two slots
of 256 tokens (src/llama-context.cpp n_ctx_seq = n_ctx / n_seq_max), and a longer prompt is refused.
-ngl all on this CPU build is accepted and ignored ("no usable GPU found"), as on any CPU-only build.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

from .conftest import HOME, ROOT, dump, require, run_client, serving
from .test_e2e_vllm import _deployc

pytestmark = pytest.mark.conformance

BUILD = "b10454"
SERVER = HOME / f"llama-cpp-{BUILD}" / "bin" / "llama-server"
VENV = HOME / "llama-cpp-convert"
SRC = HOME / "llama-cpp-src" / "0.3.35" / "llama_cpp_python-0.3.35" / "vendor" / "llama.cpp"
SERVED = "tiny-llama-gguf"
MAX_MODEL_LEN = 256
SLOTS = 2
KEY_ENV = "DEPLOYC_E2E_LLAMA_KEY"
HEALTH_TIMEOUT = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spec(port: int) -> dict:
    return {
        "apiVersion": "deployc/v1", "name": "tiny-llama-gguf",
        "model": {"source": "./model", "gguf": "./model.gguf", "served_name": SERVED},
        "precision": {"quantization": "gguf"},
        "limits": {"max_model_len": MAX_MODEL_LEN, "max_concurrency": SLOTS},
        "server": {"host": "127.0.0.1", "port": port, "api_key_env": KEY_ENV},
        "hardware": {"gpu": "H100-80GB"},
        "targets": {"llama-cpp": {"version": BUILD}},
    }


def _run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    return r


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    require(SERVER)
    require(VENV / "bin" / "python")
    python = str(VENV / "bin" / "python")
    work = tmp_path_factory.mktemp("e2e-llama-cpp")
    timings: dict[str, float] = {}
    seconds = SERVER.parent.parent / "build-seconds.txt"
    if seconds.exists():
        timings["llama-server build (cold, s)"] = float(seconds.read_text())
    t0 = time.monotonic()
    model = json.loads(_run([python, str(ROOT / "conformance" / "tiny_llama.py"), str(work / "model")],
                            timeout=600).stdout.strip().splitlines()[-1])
    _run([python, str(ROOT / "conformance" / "tiny_spm.py"), str(work / "model")], timeout=300)
    timings["model build (s)"] = round(time.monotonic() - t0, 1)
    t0 = time.monotonic()
    _run([python, str(SRC / "convert_hf_to_gguf.py"), str(work / "model"), "--outfile", str(work / "model.gguf"),
          "--outtype", "f32"], timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    timings["convert_hf_to_gguf (s)"] = round(time.monotonic() - t0, 1)

    port = _free_port()
    (work / "deploy.yaml").write_text(dump(_spec(port)), encoding="utf-8")
    t0 = time.monotonic()
    build = _run([_deployc(), "build", "deploy.yaml", "--target", "llama-cpp"], cwd=work, timeout=120)
    timings["deployc build (s)"] = round(time.monotonic() - t0, 1)
    serve_sh = work / "deploy" / "llama-cpp" / "serve.sh"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLAMA_", "HF_"))}
    env.update({"PATH": f"{SERVER.parent}{os.pathsep}{env.get('PATH', '')}", KEY_ENV: "e2e-llama-key",
                "HF_HUB_OFFLINE": "1"})
    log_path = work / "server.log"
    base = f"http://127.0.0.1:{port}"
    try:
        with serving(serve_sh, env, log_path, base + "/health", HEALTH_TIMEOUT, poll=1) as started:
            timings["serve.sh start to /health 200 (s)"] = started
            t0 = time.monotonic()
            results = run_client(python, base, SERVED, MAX_MODEL_LEN, {**env, "E2E_CLIENT_KEY": env[KEY_ENV]})
            timings["client script, all requests (s)"] = round(time.monotonic() - t0, 1)
            timings["first chat completion (s)"] = results["chat"]["seconds"]
            yield {"results": results, "model": model, "serve_sh": serve_sh.read_text(), "log": log_path,
                   "build_output": build.stdout + build.stderr, "timings": timings}
    finally:
        print("\n[e2e llama.cpp timings] " + json.dumps(timings))


def test_serve_sh_is_what_deployc_wrote(served):
    assert "warning" not in served["build_output"] and "error" not in served["build_output"], served["build_output"]
    script = served["serve_sh"]
    assert (f"exec llama-server --model ./model.gguf --alias {SERVED} --ctx-size {MAX_MODEL_LEN * SLOTS} "
            f"--parallel {SLOTS} --gpu-layers all --host 127.0.0.1") in script
    assert f'export LLAMA_API_KEY="${{{KEY_ENV}:?' in script


def test_the_server_runs_the_slots_deployc_planned(served):
    log = served["log"].read_text()
    assert f"n_slots = {SLOTS}, n_ctx_slot = {MAX_MODEL_LEN}" in log, log[-3000:]


def test_chat_completion_with_served_name_and_key(served):
    chat = served["results"]["chat"]
    assert chat["status"] == 200, chat
    assert chat["body"]["model"] == SERVED and chat["body"]["role"] == "assistant"
    assert chat["body"]["usage"]["completion_tokens"] >= 1


def test_api_key_is_enforced(served):
    assert served["results"]["no_key"]["status"] == 401, served["results"]["no_key"]
    assert served["results"]["wrong_key"]["status"] == 401, served["results"]["wrong_key"]


def test_prompt_over_max_model_len_is_refused(served):
    for case in ("too_long", "too_long_text"):
        r = served["results"][case]
        assert r["status"] == 400, (case, r)
        assert "context" in r["message"], (case, r)


def test_models_lists_served_name(served):
    models = served["results"]["models"]
    assert models["status"] == 200, models
    assert SERVED in [m["id"] for m in models["body"]]


def test_help_of_the_build_lists_every_option_deployc_writes(served):
    """`llama-server --help` of the pinned build names each option of the argv deployc wrote (samples too)."""
    helptext = subprocess.run([str(SERVER), "--help"], capture_output=True, text=True, timeout=60).stdout
    spellings = {t for line in helptext.splitlines() for t in line.replace(",", " ").split() if t.startswith("-")}
    from deployc.compiler.registry import Registry
    from .conftest import lower
    written = [t for t in served["serve_sh"].split("exec llama-server", 1)[1].split() if t.startswith("--")]
    for sample in sorted(ROOT.glob("samples/*/deploy.yaml")):
        if "llama-cpp" in sample.read_text():
            out = subprocess.run([_deployc(), "build", str(sample), "--target", "llama-cpp", "--json"],
                                 capture_output=True, text=True, timeout=120)
            written += [t for t in json.loads(out.stdout)["command"] if t.startswith("-")]
    assert Registry.discover() and lower  # the same CLI and registry as the rest of the tier
    assert sorted(set(written) - spellings) == [], "options deployc writes that this build's --help lacks"


def test_help_of_the_build_lists_every_spelling_the_target_owns():
    """Every spelling deployc's option table owns at this build (written, or refused in targets.llama-cpp.args
    as restating the spec) is one `llama-server --help` of the build lists: a typo in the table would fail here."""
    from deployc.targets.llama_cpp.options import TABLE
    from deployc.targets.llama_cpp.versions import VERSIONS

    helptext = subprocess.run([str(require(SERVER)), "--help"], capture_output=True, text=True, timeout=60,
                              check=True).stdout
    spellings = {t for line in helptext.splitlines() for t in line.replace(",", " ").split() if t.startswith("-")}
    owned = set(TABLE.owners(VERSIONS[BUILD]))
    assert {"--ctx-size", "--parallel", "--api-key", "--alias"} <= owned
    assert sorted(owned - spellings) == []
