"""Model facts that are the same everywhere (issue 22): the cache only when asked and recorded, the lock file
`deployc facts` writes (against a fake hub on 127.0.0.1, never the network), derivative checkpoints, and
unknown or partial facts said out loud."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deployc.compiler import factlock
from deployc.compiler.facts import catalog, catalog_facts
from conftest import ROOT, spec_text

TINY = {"model_type": "llama", "num_hidden_layers": 4, "hidden_size": 256, "intermediate_size": 512,
        "num_attention_heads": 8, "num_key_value_heads": 3, "vocab_size": 1000, "max_position_embeddings": 2048}
COMMIT = "0123456789abcdef0123456789abcdef01234567"
LOCAL = "server:\n  host: 127.0.0.1\n"


def cached(cache: Path, repo: str, config: dict, commit: str = COMMIT) -> None:
    """A Hugging Face cache laid out as huggingface_hub writes it (refs/main -> snapshots/<commit>/)."""
    folder = cache / ("models--" + repo.replace("/", "--"))
    (folder / "refs").mkdir(parents=True)
    (folder / "refs/main").write_text(commit)
    (folder / "snapshots" / commit).mkdir(parents=True)
    (folder / "snapshots" / commit / "config.json").write_text(json.dumps(config))


# --- 1. the Hugging Face cache: only when asked, and then recorded -------------------------------------------

def test_the_cache_is_read_only_when_asked_and_check_says_where_the_facts_came_from(cli, tmp_path, monkeypatch):
    """Built on a laptop whose cache holds the model, checked in CI without it: before, `check` failed
    with a diff (--max-num-seqs appeared and disappeared) and never said the facts' source changed."""
    cache = tmp_path / "hub"
    cached(cache, "Qwen/Qwen2.5-7B-Instruct", {**json.loads(json.dumps(catalog()["qwen/qwen2.5-7b-instruct"]
                                                                      ["config"])), "num_hidden_layers": 20})
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    spec = tmp_path / "deploy.yaml"
    spec.write_text(spec_text(sections=LOCAL, source="Qwen/Qwen2.5-7B-Instruct"))
    plain = json.loads(cli("plan", spec, "--json").stdout)["facts"]
    assert (plain["origin"], plain["layers"]) == ("catalog (Qwen/Qwen2.5-7B-Instruct)", 28)
    assert cli("build", spec, "--target", "vllm", "--hf-cache").exit_code == 0
    manifest = json.loads((tmp_path / "deploy/vllm/deployc-manifest.json").read_text())
    assert manifest["facts"].startswith(f"Hugging Face cache (Qwen/Qwen2.5-7B-Instruct@{COMMIT[:12]})")
    assert cli("check", spec, "--hf-cache").exit_code == 0            # the same machine, the same facts
    r = cli("check", spec)                                           # CI: no cache asked for
    # vLLM's argv no longer depends on the facts (no derived --max-num-seqs), yet check says where they came from
    assert r.exit_code == 0
    assert (f"warning[output-facts-source]: the outputs in {tmp_path}/deploy/vllm were built with model facts "
            f"from Hugging Face cache (Qwen/Qwen2.5-7B-Instruct@{COMMIT[:12]})") in r.stderr
    assert "here they come from catalog (Qwen/Qwen2.5-7B-Instruct)" in r.stderr
    assert "`deployc facts Qwen/Qwen2.5-7B-Instruct" in r.stderr
    assert cli("build", spec, "--target", "vllm").exit_code == 0      # rebuilt without: nothing recorded
    assert "facts" not in json.loads((tmp_path / "deploy/vllm/deployc-manifest.json").read_text())
    assert cli("check", spec).exit_code == 0


# --- 2. the lock file beside the spec -----------------------------------------------------------------------

def lock(folder: Path, model: str, config: dict, revision: str = "main", base: str | None = None,
         size: int | None = None) -> None:
    entry = factlock.Locked(model, revision, COMMIT, config, base, size)
    (folder / factlock.LOCK_NAME).write_text(factlock.updated_text(folder, entry))


def test_a_locked_config_is_read_after_the_spec_and_before_the_catalog(cli, tmp_path):
    lock(tmp_path, "acme/tiny", TINY, size=123 << 20)
    spec = tmp_path / "deploy.yaml"
    spec.write_text(spec_text(sections=LOCAL, source="acme/tiny"))
    out = json.loads(cli("plan", spec, "--json").stdout)
    assert out["facts"]["origin"] == f"model-facts.lock.json (acme/tiny@{COMMIT[:12]})"
    assert out["facts"]["cite"] == f"https://huggingface.co/acme/tiny/blob/{COMMIT}/config.json"
    assert out["targets"]["vllm"]["weights_gib_per_gpu"] == round((123 << 20) / 2**30, 2)
    assert out["diagnostics"] == []
    spec.write_text(spec_text(sections=LOCAL + "parallelism:\n  tensor: 2\n", source="acme/tiny"))
    assert "error[parallelism-kv-heads]" in cli("validate", spec).stderr   # 3 KV heads, tensor 2
    # a model.facts number still wins; another revision is not these facts, and says how to lock it
    spec.write_text(spec_text(sections=LOCAL, source="acme/tiny", model="  revision: v2\n"))
    r = cli("validate", spec)
    assert "warning[model-facts-lock]: model-facts.lock.json holds acme/tiny at main (0123456789ab), not at v2" \
        in r.stderr and "hint: run `deployc facts acme/tiny --revision v2` to lock them" in r.stderr
    spec.write_text(spec_text(sections=LOCAL, source="acme/tiny", model=f"  revision: {COMMIT}\n"))
    assert cli("validate", spec).stderr == ""                         # a pinned commit matches its entry


def test_a_lock_file_deployc_cannot_read_is_a_warning_not_a_crash(cli, tmp_path):
    (tmp_path / factlock.LOCK_NAME).write_text('{"models": {"acme/tiny": {"commit": "nope"}}}')
    spec = tmp_path / "deploy.yaml"
    spec.write_text(spec_text(sections=LOCAL, source="acme/tiny"))
    r = cli("validate", spec)
    assert r.exit_code == 0 and "warning[model-facts-lock]: model-facts.lock.json: the entry 'acme/tiny' is not " \
        "one `deployc facts` writes (rerun it)" in r.stderr


class FakeHub(BaseHTTPRequestHandler):
    """The two routes huggingface_hub uses here: /api/models/<repo>/revision/<rev> and
    /<repo>/resolve/<rev>/<file> (HEAD with X-Repo-Commit and ETag, then GET)."""

    repos: dict[str, dict] = {}
    requests: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def _repo(self, path: str) -> tuple[dict | None, str, str]:
        for name, repo in self.repos.items():
            for prefix in (f"/api/models/{name}/revision/", f"/api/models/{name}", f"/{name}/resolve/"):
                if path.startswith(prefix):
                    return repo, name, path[len(prefix):]
        return None, "", ""

    def _send(self, code: int, body: bytes = b"", headers: dict | None = None, head: bool = False) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.do_GET(head=True)

    def do_GET(self, head: bool = False) -> None:
        path = self.path.split("?", 1)[0]
        self.requests.append(f"{self.command} {path}")
        repo, name, rest = self._repo(path)
        if repo is None:
            return self._send(404, b"{}", {"X-Error-Code": "RepoNotFound"}, head)
        if repo.get("gated"):
            return self._send(403, b"{}", {"X-Error-Code": "GatedRepo"}, head)
        if path.startswith("/api/"):
            info = {"id": name, "sha": COMMIT, "cardData": {"base_model": repo.get("base")},
                    "siblings": [{"rfilename": f, "size": len(c)} for f, c in repo["files"].items()]}
            return self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, head)
        filename = rest.split("/", 1)[1]
        if filename not in repo["files"]:
            return self._send(404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT}, head)
        body = repo["files"][filename]
        self._send(200, body, {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha1(body).hexdigest()}"'}, head)


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeHub.repos, FakeHub.requests = {}, []
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield FakeHub
    server.shutdown()
    server.server_close()


def test_deployc_facts_locks_config_json_and_the_weight_size_at_the_commit(cli, hub, tmp_path):
    hub.repos["acme/Qwen2.5-7B-Instruct-AWQ"] = {"base": "Qwen/Qwen2.5-7B-Instruct", "files": {
        "config.json": json.dumps({**catalog()["qwen/qwen2.5-7b-instruct"]["config"],
                                   "quantization_config": {"quant_method": "awq", "bits": 4}}).encode(),
        "model.safetensors.index.json": json.dumps({"metadata": {"total_size": 5_583_457_024}}).encode()}}
    r = cli("facts", "acme/Qwen2.5-7B-Instruct-AWQ", "--dir", tmp_path)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[:2] == [
        f"{tmp_path}/model-facts.lock.json: acme/Qwen2.5-7B-Instruct-AWQ at main = {COMMIT}",
        "  28 layers, 28 attention heads, 4 KV heads, context 32768, quantization awq, 5.20 GiB of safetensors"]
    assert "  base model: Qwen/Qwen2.5-7B-Instruct (catalog (Qwen/Qwen2.5-7B-Instruct))" in r.stdout
    data = json.loads((tmp_path / "model-facts.lock.json").read_text())
    entry = data["models"]["acme/Qwen2.5-7B-Instruct-AWQ"]
    assert (entry["commit"], entry["weights_bytes"], entry["base_model"]) == (
        COMMIT, 5_583_457_024, "Qwen/Qwen2.5-7B-Instruct")
    assert all(not r.startswith(("GET /api/models/Qwen", "HEAD /Qwen")) for r in hub.requests)
    # every build now reads it; running it again gives the same bytes
    spec = tmp_path / "deploy.yaml"
    spec.write_text(spec_text(sections=LOCAL + "precision:\n  quantization: awq\n",
                              source="acme/Qwen2.5-7B-Instruct-AWQ"))
    out = json.loads(cli("plan", spec, "--json").stdout)
    assert out["facts"]["quant_method"] == "awq" and out["diagnostics"] == []
    assert out["targets"]["vllm"]["weights_gib_per_gpu"] == 5.2
    before = (tmp_path / "model-facts.lock.json").read_bytes()
    assert cli("facts", "acme/Qwen2.5-7B-Instruct-AWQ", "--dir", tmp_path).exit_code == 0
    assert (tmp_path / "model-facts.lock.json").read_bytes() == before


def test_deployc_facts_failures_exit_1_and_say_what_to_do(cli, hub, tmp_path, monkeypatch):
    hub.repos["meta/gated"] = {"gated": True, "files": {}}
    r = cli("facts", "meta/gated", "--dir", tmp_path)
    assert (r.exit_code, r.stderr) == (1, "deployc: error: meta/gated is gated: accept its terms on "
                                          "https://huggingface.co/meta/gated and log in\n"
                                          "  hint: run `hf auth login`, or set HF_TOKEN\n")
    r = cli("facts", "nobody/nothing", "--dir", tmp_path)
    assert r.exit_code == 1 and "no model nobody/nothing on the hub" in r.stderr
    hub.repos["acme/gguf-only"] = {"files": {"model.gguf": b"GGUF"}}
    r = cli("facts", "acme/gguf-only", "--dir", tmp_path)
    assert r.exit_code == 1 and "acme/gguf-only has no config.json" in r.stderr
    assert not (tmp_path / "model-facts.lock.json").exists()
    assert cli("facts", "./local", "--dir", tmp_path).exit_code == 2
    monkeypatch.setitem(__import__("sys").modules, "huggingface_hub", None)   # not installed
    r = cli("facts", "acme/tiny", "--dir", tmp_path)
    assert (r.exit_code, r.stderr) == (1, "deployc: error: `deployc facts` needs huggingface_hub, which is not "
                                          "installed\n  hint: install it: pip install 'deployc[hub]'   (or: pip "
                                          "install huggingface_hub)\n")


def test_deployc_facts_offline_locks_what_the_cache_holds(cli, tmp_path, monkeypatch):
    cache = tmp_path / "hf-cache"
    cached(cache, "acme/tiny", TINY)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")   # nothing listens: offline must not ask
    r = cli("facts", "acme/tiny", "--dir", tmp_path)
    assert r.exit_code == 0, r.stderr
    entry = json.loads((tmp_path / "model-facts.lock.json").read_text())["models"]["acme/tiny"]
    assert (entry["commit"], entry["config"]) == (COMMIT, TINY)
    r = cli("facts", "acme/absent", "--dir", tmp_path)
    assert r.exit_code == 1 and "HF_HUB_OFFLINE is set and acme/absent has no config.json in the cache" in r.stderr


# --- 3. derivative checkpoints ------------------------------------------------------------------------------

# Rows the catalog cites (model_catalog.json "derivatives") carry the checkpoint's own quantization_config;
# the rest are inferred from the name (model_aliases.json renames and suffixes).
CITED = "catalog ({model}: {base}'s architecture)"
NAMED = "catalog ({base}, the base of {model})"


@pytest.mark.parametrize("model, base, quant, inferred, origin", [
    ("deepseek-ai/DeepSeek-V3-0324", "deepseek-ai/DeepSeek-V3", ("fp8", None), False, CITED),
    ("deepseek-ai/DeepSeek-R1-0528", "deepseek-ai/DeepSeek-R1", ("fp8", None), False, CITED),
    ("nvidia/Llama-3.1-8B-Instruct-FP8", "meta-llama/Llama-3.1-8B-Instruct", ("modelopt", 8), True, NAMED),
    ("RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16", "meta-llama/Llama-3.1-8B-Instruct",
     ("compressed-tensors", 4), True, NAMED),
    ("Qwen/Qwen2.5-7B-Instruct-AWQ", "Qwen/Qwen2.5-7B-Instruct", ("awq", 4), False, CITED),
    ("unsloth/Llama-3.3-70B-Instruct-bnb-4bit", "meta-llama/Llama-3.3-70B-Instruct", ("bitsandbytes", 4), True, NAMED),
    ("nvidia/DeepSeek-R1-FP4", "deepseek-ai/DeepSeek-R1", ("modelopt", 4), True, NAMED),
    ("unsloth/DeepSeek-V3-bf16", "deepseek-ai/DeepSeek-V3", (None, None), True, NAMED),
])
def test_derivative_checkpoints_resolve_to_their_base_with_their_own_quantization(model, base, quant, inferred,
                                                                                   origin):
    f = catalog_facts(model)
    ref = catalog_facts(base)
    assert f.origin == origin.format(model=model, base=base)
    assert (f.layers, f.attention_heads, f.context, f.parameters) == (ref.layers, ref.attention_heads, ref.context,
                                                                      ref.parameters)
    assert ((f.quant_method, f.quant_bits) if quant[1] else (f.quant_method, None)) == quant
    assert bool(f.derived) is inferred


def test_unrelated_ids_do_not_resolve():
    for model in ("example/model", "acme/Llama-3.1-8B-Instruct-lora-sql", "nvidia/Unknown-FP8"):
        assert not catalog_facts(model).known, model


def test_a_derived_checkpoint_is_checked_and_its_inference_said(cli, tmp_path):
    spec = tmp_path / "deploy.yaml"
    spec.write_text(spec_text(sections=LOCAL + "parallelism:\n  tensor: 3\n",
                              source="nvidia/Llama-3.1-8B-Instruct-FP8"))
    r = cli("validate", spec)
    assert r.exit_code == 1 and "error[parallelism-heads]: tensor parallel size 3 does not divide the model's 32 " \
        "attention heads" in r.stderr
    assert "warning[model-facts-derived]: nvidia/Llama-3.1-8B-Instruct-FP8 is not in deployc's catalog: its facts " \
        "are inferred (named after meta-llama/Llama-3.1-8B-Instruct; its quantization, modelopt (8-bit), read " \
        "from the suffix '-FP8' of its name)" in r.stderr
    # a quantization that contradicts what the name says is a warning, not an error: the name is not the config
    spec.write_text(spec_text(sections=LOCAL + "precision:\n  quantization: awq\n",
                              source="nvidia/Llama-3.1-8B-Instruct-FP8"))
    r = cli("validate", spec)
    assert r.exit_code == 0 and "warning[precision-quant-checkpoint]: quantization awq contradicts the " \
        "checkpoint, which its name says is modelopt (8-bit)" in r.stderr


# --- 4. unknown or partial facts, said out loud -------------------------------------------------------------

def test_an_unknown_model_lists_the_checks_it_skipped_and_how_to_enable_them(cli, tmp_path):
    """Before: `validate` printed only `ok` for tensor 3 and max_model_len 1000000 of a model nobody knew."""
    (tmp_path / "svc").mkdir()
    spec = tmp_path / "svc" / "deploy.yaml"
    spec.write_text(spec_text(sections=LOCAL + "parallelism:\n  tensor: 3\nlimits:\n  max_model_len: 1000000\n"
                                               "hardware:\n  count: 3\n", source="acme/new-model"))
    r = cli("validate", "svc/deploy.yaml", cwd=tmp_path)
    assert r.exit_code == 0
    assert r.stderr == (
        "svc/deploy.yaml:4:11: warning[model-facts-unknown]: no model facts for acme/new-model (not in deployc's "
        "catalog and no entry in model-facts.lock.json): skipped the memory plan (weights, KV cache, concurrency); "
        "tensor 3 against the attention heads; tensor 3 against the KV heads; the context limits against the "
        "model's context\n"
        "  hint: run `deployc facts acme/new-model --dir svc` (it needs the network and huggingface_hub: pip "
        "install 'deployc[hub]'), or give model.facts: attention_heads, hidden_size, kv_heads, layers, "
        "max_position_embeddings, parameters, vocab_size\n")


def test_partial_model_facts_name_the_fields_that_would_enable_the_skipped_checks(cli, spec_file):
    spec = spec_file(spec_text(sections=LOCAL + "parallelism:\n  tensor: 2\n", source="acme/new-model",
                               model="  facts: {layers: 24, hidden_size: 2048, attention_heads: 16, "
                                     "vocab_size: 32000, parameters: 1.5e9}\n"))
    r = cli("validate", spec)
    assert r.exit_code == 0
    assert "warning[model-facts-partial]: model facts for acme/new-model (model.facts) lack kv_heads: skipped the " \
        "memory plan (weights, KV cache, concurrency); tensor 2 against the KV heads" in r.stderr
    assert "or give model.facts: kv_heads" in r.stderr
    full = "  facts: {layers: 24, hidden_size: 2048, attention_heads: 16, kv_heads: 4, vocab_size: 32000, " \
           "parameters: 1.5e9}\n"
    assert cli("validate", spec_file(spec_text(sections=LOCAL + "parallelism:\n  tensor: 2\n",
                                               source="acme/new-model", model=full))).stderr == ""


def test_catalog_models_and_committed_samples_draw_no_facts_warning(cli):
    for sample in sorted(ROOT.glob("samples/*/deploy.yaml")):
        assert "model-facts-" not in cli("validate", sample).stderr, sample
