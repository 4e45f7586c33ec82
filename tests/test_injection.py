"""Every target, every string field that reaches an artifact: rejected at its position, or inert.

The same hostile values go into each field for each registered target (at its default version).
A build either fails with positioned diagnostics (never a traceback), or every artifact still
parses as its format and the value arrives intact:
  - shell scripts: `bash -n` accepts them, and bash itself, running each exec / export line with
    no PATH, hands the value over unchanged (command substitution never runs);
  - YAML / JSON: parse; some scalar holds the value (Compose's `$$` read back as `$`);
  - Python (launch.py): parses; a string constant holds the value;
  - Modelfiles: Ollama's own grammar (tests/ollama_parser.py) reads the value back.
Triton's config.pbtxt files are judged by the real protobuf parser in the conformance tier.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from deployc.compiler.driver import compile_spec as load_spec, compile_target
from deployc.compiler.registry import Registry
from deployc.compiler.api.target import BuildContext
from ollama_parser import parse as parse_modelfile

REGISTRY = Registry.discover()
VALUES = ["x\"; rm -rf / #", "$(reboot)", "`id`", "it's", "a b", "${HOME}", "back\\slash", "semi;colon|pipe&",
          "caf\u00e9 \u4e2d", "new\nline", "-flag", "*"]

# What each target needs to build a spec at all (a GGUF for Ollama, a converter family for
# TensorRT-LLM, a model family for XInference's custom registration).
NEEDS = {
    "ollama": ({"gguf": "./m.gguf", "facts": {"max_position_embeddings": 4096}}, {}),
    "tensorrt-llm": ({"facts": {"max_position_embeddings": 4096}}, {"family": "llama"}),
    "xinference": ({}, {"model_family": "llama-3.1-instruct", "size_in_billions": 8}),
}

FIELDS = {
    "model.served_name": lambda s, t, v: s["model"].__setitem__("served_name", v),
    "model.source": lambda s, t, v: s["model"].__setitem__("source", "./" + v),
    "model.revision": lambda s, t, v: s["model"].__setitem__("revision", v),
    "model.chat_template": lambda s, t, v: s["model"].__setitem__("chat_template", "./" + v),
    "model.adapters.source": lambda s, t, v: s["model"].__setitem__("adapters", [{"name": "a1", "source": "./" + v}]),
    "targets.env": lambda s, t, v: s["targets"][t].__setitem__("env", {"EXTRA": v}),
}


def spec_for(target: str) -> dict:
    model, opts = NEEDS.get(target, ({}, {}))
    return {"apiVersion": "deployc/v1", "name": "hostile",
            "model": {"source": "example/model", **model},
            "server": {"host": "127.0.0.1"},
            "targets": {target: dict(opts)}}


def lower(spec: dict, target: str, folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "m.gguf").write_text("placeholder")
    path = folder / "deploy.yaml"
    path.write_text(json.dumps(spec))            # JSON is YAML: no quoting of our own in the way
    compiled = load_spec(path, "deploy.yaml")
    if not compiled.ok:
        return compiled.diagnostics, None
    result = compile_target(compiled, REGISTRY, target, BuildContext("../..", "deploy.yaml", compiled.source.digest))
    return result.diagnostics, (result if result.ok else None)


def scalars(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from scalars(v)
    elif isinstance(node, list):
        for v in node:
            yield from scalars(v)
    elif node is not None:
        yield str(node)


def carried(value: str, strings) -> bool:
    # env values may be ${NAME} references by contract: the shell expands them (HOME is set so below)
    forms = {value, value.replace("${HOME}", "/nonexistent-home")}
    return any(f in s or f in s.replace("$$", "$") for s in strings for f in forms)


def shell_words(bash: str, script: str, cwd: Path) -> list[str]:
    """What bash itself makes of each exec / export line: run with no PATH (a `$(reboot)` that escaped
    its quotes finds no command), exec replaced by printf of its argv, export followed by a print
    of the variable."""
    words: list[str] = []
    env = {"PATH": "/nonexistent", "HOME": "/nonexistent-home"}
    for line in script.splitlines():
        if line.startswith("exec "):
            probe = "printf '%s\\0' " + line[len("exec "):]
        elif line.startswith("export ") and "=" in line:
            name = line[len("export "):].split("=", 1)[0]
            probe = f"{line}; printf '%s\\0' \"${name}\""
        else:
            continue
        out = subprocess.run([bash, "-c", probe], cwd=cwd, env=env, capture_output=True, check=False)
        words += out.stdout.decode("utf-8", "replace").split("\0")
    return words


CASES = [(t, f) for t in REGISTRY.names for f in FIELDS]


@pytest.mark.parametrize("target, field", CASES, ids=[f"{t}-{f}" for t, f in CASES])
def test_hostile_values_are_rejected_or_arrive_intact(target, field, tmp_path):
    bash = shutil.which("bash")
    for i, value in enumerate(VALUES):
        spec = spec_for(target)
        FIELDS[field](spec, target, value)
        diags, result = lower(spec, target, tmp_path / str(i))
        if result is None:
            errors = [d for d in diags if d.severity == "error"]
            assert errors, f"{target} {field} {value!r}: refused without saying why"
            assert all(d.file == "deploy.yaml" and d.line and d.column for d in errors), errors
            continue
        found = False
        for art in result.lowered.artifacts:
            name, text = art.path, art.content
            if name.endswith(".sh"):
                if bash:
                    check = subprocess.run([bash, "-n"], input=text, text=True, capture_output=True, check=False)
                    assert check.returncode == 0, f"{target} {name} with {value!r}: {check.stderr}"
                    found |= carried(value, shell_words(bash, text, tmp_path))
            elif name.endswith((".yaml", ".yml")):
                found |= carried(value, scalars(YAML(typ="safe", pure=True).load(text)))
            elif name.endswith(".json"):
                found |= carried(value, scalars(json.loads(text)))
            elif name.endswith(".py"):
                tree = ast.parse(text)
                found |= carried(value, [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                                         and isinstance(n.value, str)])
            elif name.startswith("Modelfile"):
                from deployc.targets.ollama.versions import VERSIONS as OLLAMA
                found |= carried(value, [v for _, v in parse_modelfile(text, OLLAMA[result.version].commands)])
        # TGI answers any "model" a request names and takes no served name (targets/tgi docstring); nor does
        # trtllm-serve 1.x (no --served_model_name: it names the model after its MODEL argument)
        takes_name = target != "tgi" and not (target == "tensorrt-llm" and not result.version.startswith("0."))
        if field == "targets.env" or (field == "model.served_name" and takes_name):
            assert found, f"{target}: {field} = {value!r} built, but no artifact carries it intact"
