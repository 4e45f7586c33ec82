"""TGI's artifacts judged offline: no TGI binary runs here (a Rust launcher in a CUDA image).

- Every `docker run` line (run.sh) is parsed back with shlex and its launcher part is parsed
  the way clap 4 parses text-generation-launcher's `struct Args`, using the option table
  extracted from launcher/src/main.rs at the pinned tag's commit (targets/tgi/engine_options/,
  conformance/extract/tgi.py), then checked against the launcher's own start-up rules.
- Every compose.yaml validates against the Compose specification's JSON Schema (compose-spec.json
  as vendored by check-jsonschema 0.39.0) with jsonschema, and with the real docker-compose binary.
"""

from __future__ import annotations

import copy
import json
import shlex
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from .conftest import HOME, ROOT, lower, require
from .test_compose import judge

pytestmark = pytest.mark.conformance

# The commits the option tables were read from (git rev-parse <tag>^{commit} in
# huggingface/text-generation-inference).
PINNED = {
    "3.3.7": ("v3.3.7", "dfb3fbe78e0d1d69251bd33065591c61bafdfaa8"),
    "2.4.1": ("v2.4.1", "d2ed52f531cf8098ca62375248e007022eaadc65"),
}
IMAGE = "ghcr.io/huggingface/text-generation-inference:"


def table(version: str) -> dict:
    """The launcher's clap options at the pinned tag (targets/tgi/engine_options/<version>.json, written by
    conformance/extract/tgi.py), each with its short spelling (`-p`) as `short`."""
    data = json.loads((ROOT / "targets" / "tgi" / "engine_options" / f"{version}.json").read_text())
    assert (data["source"]["tag"], data["source"]["commit"]) == PINNED[version], "option table is not from the pinned commit"
    return {name: {**o, "short": next((a for a in o["aliases"] if not a.startswith("--")), None)}
            for name, o in data["options"].items()}


_MINIMAL = {"apiVersion": "deployc/v1", "name": "tgi-check", "model": {"source": "Qwen/Qwen2.5-7B-Instruct"}}
VARIANTS: dict[str, dict] = {
    "minimal": {**_MINIMAL, "targets": {"tgi": {}}},
    "everything": {
        **_MINIMAL,
        "model": {"source": "org/model", "revision": "v1.0", "trust_remote_code": True, "served_name": "m",
                  "adapters": [{"name": "sql", "source": "./adapters/sql"}, {"name": "hub", "source": "org/lora"}]},
        "precision": {"dtype": "bfloat16", "kv_cache_dtype": "fp8"},
        "parallelism": {"tensor": 2},
        "limits": {"max_model_len": 8192, "max_input_tokens": 6000, "max_concurrency": 48, "max_batch_tokens": 4096},
        "server": {"host": "127.0.0.1", "port": 8443, "api_key_env": "SVC_KEY"},
        "hardware": {"gpu": "H100-80GB", "count": 2, "memory_utilization": 0.85},
        "targets": {"tgi": {"env": {"LOG_LEVEL": "debug"},
                            "args": ["--max-batch-total-tokens", "131072", "--json-output", "--cuda-graphs=1,2,4"]}},
    },
    "awq-tp4": {**_MINIMAL, "model": {"source": "Qwen/Qwen2.5-72B-Instruct-AWQ"},   # a checkpoint quantized so
                "precision": {"dtype": "float16", "quantization": "awq"}, "parallelism": {"tensor": 4},
                "hardware": {"gpu": "L40S"}, "targets": {"tgi": {}}},
    "bnb-2.4.1": {**_MINIMAL, "precision": {"dtype": "float16", "quantization": "bitsandbytes"},
                  "limits": {"max_model_len": 16384}, "hardware": {"gpu": "A10G"},
                  "targets": {"tgi": {"version": "2.4.1"}}},
    "eetq-local": {**_MINIMAL, "model": {"source": "./model"}, "hardware": {"gpu": "T4"},
                   "limits": {"max_model_len": 4096}, "targets": {"tgi": {"quantize": "eetq", "version": "2.4.1"}}},
    "fp8": {**_MINIMAL, "precision": {"quantization": "fp8"}, "targets": {"tgi": {}}},
}


def _samples() -> list[Path]:
    return sorted(p for p in (ROOT / "samples").glob("*/deploy.yaml")
                  if "tgi" in (YAML(typ="safe").load(p).get("targets") or {}))


def _built() -> list[tuple[str, dict, str, str]]:
    """(id, spec, run.sh, compose.yaml) for every sample that lists tgi and every variant."""
    out = []
    for path in _samples():
        run = path.parent / "deploy" / "tgi" / "run.sh"
        out.append((path.parent.name, YAML(typ="safe").load(path), run.read_text(),
                    (run.parent / "compose.yaml").read_text()))
    return out


def _variant(name: str, tmp_path: Path):
    result = lower(copy.deepcopy(VARIANTS[name]), "tgi", tmp_path / name)
    files = {a.path: a.content for a in result.lowered.artifacts}
    return result, files["run.sh"], files["compose.yaml"]


def clap_parse(argv: list[str], options: dict) -> dict[str, object]:
    """Parse launcher argv as clap 4 derive does for `struct Args` (no infer_long_args, no positionals)."""
    shorts: dict[str, str] = {}
    for long, o in options.items():
        if o["short"]:
            shorts.setdefault(o["short"], long)
    seen: dict[str, object] = {}
    i = 0
    while i < len(argv):
        token = argv[i]
        assert token.startswith("-") and token != "-", f"clap: unexpected argument {token!r}"
        if token.startswith("--"):
            name, eq, value = token.partition("=")
        else:
            name, eq, value = shorts[token[:2]], token[2:3], token[2:].lstrip("=")
        assert name in options, f"clap: unexpected argument {name!r}"
        o = options[name]
        if not o["takes_value"]:
            assert not eq, f"clap: {name} takes no value"
            parsed: object = True
        else:
            if not eq:
                i += 1
                assert i < len(argv), f"clap: {name} needs a value"
                value = argv[i]
            parsed = _typed(name, value, o)
        assert name not in seen or o["multiple"], f"clap: {name} cannot be used multiple times"
        seen[name] = parsed
        i += 1
    return seen


def _typed(name: str, value: str, o: dict):
    ty = o["type"].removeprefix("Option<").removeprefix("Vec<").rstrip(">")
    if o["choices"]:
        assert value in o["choices"], f"clap: invalid value {value!r} for {name}; possible: {o['choices']}"
        return value
    if ty in ("usize", "u32", "u16", "u64"):
        parts = value.split(",") if o["multiple"] else [value]
        nums = [int(p) for p in parts]  # ValueError fails the test
        bits = {"u16": 16, "u32": 32}.get(ty, 64)
        assert all(0 <= n < 2 ** bits for n in nums), f"clap: {value!r} out of range for {name} ({ty})"
        return nums if o["multiple"] else nums[0]
    if ty == "f32":
        return float(value)
    if ty == "bool":
        assert value in ("true", "false"), value
        return value == "true"
    return value


def launcher_rules(args: dict, version: str) -> None:
    """What text-generation-launcher and its router refuse at start-up (versions.py cites the lines)."""
    inp, total = args.get("--max-input-tokens"), args.get("--max-total-tokens")
    assert not ("--max-input-tokens" in args and "--max-input-length" in args)
    if inp is not None and total is not None:
        assert inp < total, "`max_input_tokens` must be < `max_total_tokens`"
    batch_total = args.get("--max-batch-total-tokens")
    if batch_total is not None and total is not None:
        assert total <= batch_total, "`max_total_tokens` must be <= `max_batch_total_tokens`"
    if args.get("--quantize") == "exl2":
        assert args.get("--num-shard", 1) == 1, "Sharding is currently not supported with `exl2` quantization"
    if "--dtype" in args and args.get("--quantize") is not None:
        assert args["--quantize"] in ("bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4"), \
            "Only 1 can be set between `dtype` and `quantize`"
    assert args["--hostname"] == "0.0.0.0"  # else docker's HOSTNAME (the container id) is read through clap env
    if "--cuda-memory-fraction" in args:   # only when hardware.memory_utilization is set (TGI's default: 1.0)
        assert 0 < args["--cuda-memory-fraction"] <= 1


def check_run_sh(spec: dict, run_sh: str, compose_yaml: str) -> None:
    version = (spec["targets"]["tgi"] or {}).get("version", "3.3.7")
    line = run_sh.rstrip("\n").splitlines()[-1]
    assert line.startswith("exec docker run ")
    argv = shlex.split(line)[1:]
    image_at = next(i for i, t in enumerate(argv) if t.startswith(IMAGE) or t == spec["targets"]["tgi"].get("image"))
    assert argv[image_at] == IMAGE + version
    docker, launcher = argv[2:image_at], argv[image_at + 1:]
    # docker run's own options: each of these takes exactly one value, except --rm.
    pairs, i = {}, 0
    while i < len(docker):
        if docker[i] == "--rm":
            i += 1
            continue
        assert docker[i] in ("--name", "--gpus", "--shm-size", "-p", "-v", "-e"), docker[i]
        pairs.setdefault(docker[i], []).append(docker[i + 1])
        i += 2
    args = clap_parse(launcher, table(version))
    launcher_rules(args, version)
    shards = args["--num-shard"]
    assert pairs["--gpus"] == ['"device=' + ",".join(map(str, range(shards))) + '"']
    assert pairs["--shm-size"] == ["1g"]
    assert pairs["-p"][0].rsplit(":", 1)[1] == str(args["--port"])
    assert "${TGI_DATA}:/data" in pairs["-v"]
    assert "HF_TOKEN" in pairs["-e"] and all("=" not in e for e in pairs["-e"])  # by name only
    # compose.yaml runs the very same launcher argv
    service = next(iter(YAML(typ="safe").load(compose_yaml)["services"].values()))
    assert service["command"] == launcher
    assert service["image"] == argv[image_at]


@pytest.mark.parametrize("version", sorted(PINNED))
def test_option_tables_name_their_commits_and_know_the_flags_deployc_writes(version):
    options = table(version)
    for flag in ("--model-id", "--revision", "--num-shard", "--quantize", "--dtype", "--kv-cache-dtype",
                 "--max-input-tokens", "--max-total-tokens", "--max-batch-prefill-tokens", "--max-concurrent-requests",
                 "--cuda-memory-fraction", "--trust-remote-code", "--lora-adapters", "--hostname", "--port",
                 "--api-key"):
        assert flag in options, flag
    assert options["--quantize"]["choices"] == ["awq", "compressed-tensors", "eetq", "exl2", "gptq", "marlin",
                                                "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "fp8"]
    assert options["--dtype"]["choices"] == ["float16", "bfloat16"]
    assert options["--api-key"]["env"] == "API_KEY" and options["--hostname"]["env"] == "HOSTNAME"


def test_every_sample_that_lists_tgi_is_checked():
    assert [s.parent.name for s in _samples()] == ["llama-3.1-70b-awq-tp4", "mistral-lora-tgi", "phi-3-mini-t4",
                                                   "qwen2.5-7b-h100", "qwen2.5-7b-k8s-replicas"]


@pytest.mark.parametrize("name, spec, run_sh, compose_yaml", _built(), ids=lambda x: x if isinstance(x, str) else "")
def test_committed_run_sh_parses_as_the_pinned_launcher_would(name, spec, run_sh, compose_yaml):
    check_run_sh(spec, run_sh, compose_yaml)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_run_sh_parses_as_the_pinned_launcher_would(name, tmp_path):
    _, run_sh, compose_yaml = _variant(name, tmp_path)
    check_run_sh(VARIANTS[name], run_sh, compose_yaml)


def test_the_clap_check_rejects_what_clap_would():
    options = table("3.3.7")
    for bad in (["--max-total", "10"], ["--max_total_tokens", "10"], ["--port", "1", "--port", "2"],
                ["--quantize", "int8"], ["--dtype", "float32"], ["--trust-remote-code=true"], ["model"],
                ["--port", "70000"]):
        with pytest.raises((AssertionError, ValueError, KeyError)):
            clap_parse(bad, options)
    with pytest.raises(AssertionError):
        clap_parse(["--prometheus-port", "9100"], table("2.4.1"))
    with pytest.raises(AssertionError):
        launcher_rules(clap_parse(["--max-input-tokens", "10", "--max-total-tokens", "10", "--hostname", "0.0.0.0"],
                                  options), "3.3.7")


def _schema_judge(documents: list[tuple[str, str]]) -> dict[str, list[str]]:
    python = require(HOME / "compose-schema" / "bin" / "python")
    payload = json.dumps([{"id": i, "document": YAML(typ="safe").load(text)} for i, text in documents])
    proc = subprocess.run([str(python), str(ROOT / "conformance" / "compose_schema_probe.py")], input=payload,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return {r["id"]: r["errors"] for r in json.loads(proc.stdout)["results"]}


def test_compose_files_validate_against_the_compose_spec_schema(tmp_path):
    documents = [(name, compose_yaml) for name, _, _, compose_yaml in _built()]
    documents += [(name, _variant(name, tmp_path)[2]) for name in sorted(VARIANTS)]
    errors = _schema_judge(documents)
    assert errors == {name: [] for name, _ in documents}


def test_the_schema_judge_rejects_a_broken_file():
    good = (ROOT / "samples" / "qwen2.5-7b-h100" / "deploy" / "tgi" / "compose.yaml").read_text()
    errors = _schema_judge([("typo", good.replace("shm_size:", "shm_sise:")),
                            ("restart", good.replace("restart: unless-stopped", "restart: [unless-stopped]"))])
    assert errors["typo"] and errors["restart"]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_compose_files_pass_the_docker_compose_binary(name, tmp_path):
    _, _, compose_yaml = _variant(name, tmp_path)
    path = tmp_path / name / "deploy" / "tgi" / "compose.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(compose_yaml)
    ok, output = judge(path)
    assert ok, output
