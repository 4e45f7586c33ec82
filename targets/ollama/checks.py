"""The Ollama target's rules: what FROM names, which quantize level, and the checks behind each
diagnostic (sources: targets/ollama/versions.py)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from compiler.diagnostics import Diagnostic, error
from compiler.plan import Plan
from compiler.spec import is_local
from compiler.target_api import BuildContext
from targets.ollama import modelfile
from targets.ollama.versions import OllamaVersion

if TYPE_CHECKING:
    from targets.ollama import OllamaOptions

# PARAMETERs deployc writes from the spec, and the spec path that owns each.
OWNED_PARAMETERS = {
    "num_ctx": ("limits", "max_model_len"),
    "num_predict": ("limits", "max_output_tokens"),
    "num_batch": ("limits", "max_batch_tokens"),
    "stop": ("targets", "ollama", "stop"),
}


# `ollama create` flags deployc sets (cobra/pflag: exact long names, `-qLEVEL` glued shorthands).
OWNED_FLAGS = {"--file": ("targets", "ollama"), "-f": ("targets", "ollama"),
               "--quantize": ("targets", "ollama", "quantize"), "-q": ("targets", "ollama", "quantize")}

_DTYPE_LEVEL = {"float16": "F16", "bfloat16": "BF16", "float32": "F32"}
_SPEC_LEVEL = {"int8": "Q8_0", "int4": "Q4_K_M"}
GGUF_REPO = re.compile(r"-gguf$", re.IGNORECASE)
# types/model/name.go isValidPart: [namespace/]model[:tag]
_MODEL_NAME = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_-]{0,79}/)?[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"
                         r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,79})?$")
# Files next to the Modelfiles: a FROM naming one of them would read it as a path, not a model.
_OUR_FILES = ("modelfile", "create.sh", "serve.env", "compose.yaml", "deployc-manifest.json")


def from_ref(plan: Plan) -> tuple[tuple[str, str] | None, Diagnostic | None]:
    """(kind, reference) of what FROM names: a gguf file, a local folder, or a hf.co GGUF repo."""
    m = plan.model
    if m.gguf is not None:
        return ("file", m.gguf), None
    if is_local(m.source):
        return ("file", m.source), None
    if GGUF_REPO.search(m.source):
        return ("hub", f"hf.co/{m.source}"), None
    return None, error(
        "ollama-model-source", f"Ollama cannot import the hub model {m.source}: it loads a GGUF file, a local "
        "safetensors folder, or a Hugging Face repo of GGUF files (hf.co/org/name-GGUF)",
        hint=f"set model.gguf to a .gguf file, or download the model (`hf download {m.source} --local-dir "
             f"./models/{m.source.rsplit('/', 1)[-1]}`) and point model.source at that folder",
        path=("model", "source"))


def check_names(plan: Plan) -> list[Diagnostic]:
    """Served and adapter names become Ollama model names; adapters must be local files or folders."""
    out = []
    m = plan.model
    named = [(m.served_name, ("model", "served_name" if "served_name" in m.model_fields_set else "source"))]
    named += [(a.name, ("model", "adapters", i, "name")) for i, a in enumerate(m.adapters)]
    for name, path in named:
        if not _MODEL_NAME.match(name) or name.lower().startswith(_OUR_FILES):
            out.append(error(
                "ollama-model-name", f"{name!r} is not an Ollama model name" + (
                    "" if _MODEL_NAME.match(name) else ": [namespace/]model[:tag], each part 1-80 letters, "
                    "digits, '_', '-' or '.', starting with a letter, digit or '_'"),
                hint="set model.served_name (or the adapter's name) to e.g. " + (
                    re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")[:80] or "my-model")
                + (" (not the name of a file deployc writes)" if _MODEL_NAME.match(name) else ""), path=path))
    for i, a in enumerate(m.adapters):
        if not is_local(a.source):
            out.append(error("ollama-adapter-source", f"Ollama imports a LoRA adapter from a local safetensors "
                             f"folder or .gguf file, not the hub id {a.source}",
                             hint=f"download it (`hf download {a.source} --local-dir ./adapters/{a.name}`) and "
                                  "point the adapter's source there", path=("model", "adapters", i, "source")))
    return out


def modelfile_path(source: tuple[str, str], ctx: BuildContext) -> str:
    """FROM value: Ollama resolves relative paths against the Modelfile's own folder."""
    kind, ref = source
    if kind == "hub" or ref.startswith(("/", "~")):
        return ref
    return (PurePosixPath(ctx.spec_dir) / ref).as_posix()


def num_ctx(plan: Plan) -> int | None:
    return plan.limits.max_model_len or plan.facts.context


def quantized_source(plan: Plan) -> bool:
    return plan.precision.quantization == "gguf" or (plan.model.gguf is None and not is_local(plan.model.source))


def normalize_level(value: str, v: OllamaVersion) -> str | None:
    up = value.upper()
    up = v.quantize_aliases.get(up, up)
    return up if up in v.quantize_levels else None


def quantize_level(plan: Plan, opts: OllamaOptions, v: OllamaVersion) -> str | None:
    """The --quantize level: targets.ollama.quantize, int8/int4, or an explicit dtype of a 16-bit source."""
    if opts.quantize is not None:
        return normalize_level(opts.quantize, v)
    if plan.precision.quantization in _SPEC_LEVEL:
        return _SPEC_LEVEL[plan.precision.quantization]
    if not quantized_source(plan):
        return _DTYPE_LEVEL.get(plan.precision.dtype)
    return None


def check_weights(plan: Plan, opts: OllamaOptions, v: OllamaVersion) -> list[Diagnostic]:
    out = []
    quant, dtype = plan.precision.quantization, plan.precision.dtype
    wanted = _SPEC_LEVEL.get(quant)
    if opts.quantize is not None:
        level = normalize_level(opts.quantize, v)
        where = ("targets", "ollama", "quantize")
        if level is None:
            out.append(error("ollama-quantize", f"Ollama {v.version} has no quantize level {opts.quantize!r}",
                             hint="use one of: " + ", ".join(v.quantize_levels) + " (any case)", path=where))
            return out
        if wanted is not None and level != wanted:
            out.append(error("ollama-quantize", f"quantize {level} contradicts precision.quantization {quant}, "
                             f"which deployc writes as --quantize {wanted}",
                             hint=f"remove one of them, or set quantize: {wanted}", path=where))
    else:
        level, where = wanted, ("precision", "quantization")
    if level is not None and quantized_source(plan):
        out.append(error(
            "ollama-quantize", f"Ollama {v.version} quantizes only {'/'.join(v.quantize_from)} models; "
            "a quantized GGUF keeps its own type", hint="quantize from the 16-bit checkpoint (a local "
            "safetensors folder or an F16 GGUF with quantization: none), or drop the quantize level", path=where))
    elif level is not None and dtype in ("bfloat16", "float32"):
        out.append(error("ollama-dtype", f"--quantize {level} sets the stored weight type; Ollama has no separate "
                         f"{dtype} setting", hint="use dtype: auto with a quantize level",
                         path=("precision", "dtype")))
    elif level is None and quantized_source(plan) and dtype in ("bfloat16", "float32"):
        out.append(error("ollama-dtype", f"a quantized GGUF keeps its own weight type; Ollama has no {dtype} "
                         "setting", hint="use dtype: auto", path=("precision", "dtype")))
    return out


def check_parameters(opts: OllamaOptions, v: OllamaVersion) -> list[Diagnostic]:
    out = []
    for name, value in opts.parameters.items():
        where = ("targets", "ollama", "parameters", name)
        kind = v.parameters.get(name)
        if name in OWNED_PARAMETERS:
            owner = ".".join(OWNED_PARAMETERS[name])
            out.append(error("ollama-parameter", f"PARAMETER {name} is {owner}, which deployc writes",
                             hint=f"set {owner} instead", path=where, anchor="key"))
        elif name in v.deprecated:
            out.append(error("ollama-parameter", f"Ollama {v.version} ignores PARAMETER {name} "
                             "(parser.go deprecatedParameters)", hint="remove it", path=where, anchor="key"))
        elif kind is None:
            why = v.removed.get(name, "not a field of api.Options")
            out.append(error("ollama-parameter", f"Ollama {v.version} has no PARAMETER {name}: {why}",
                             hint="known: " + ", ".join(sorted(set(v.parameters) - set(OWNED_PARAMETERS))),
                             path=where, anchor="key"))
        elif not kind_ok(kind, value):
            out.append(error("ollama-parameter", f"PARAMETER {name} takes {'an' if kind == 'int' else 'a'} {kind}, "
                             f"got {value!r}", hint=f"write a YAML {kind}", path=where))
        elif isinstance(value, str) and modelfile.encode(value) is None:
            out.append(unwritable(where, value))
    return out


def kind_ok(kind: str, value) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int)
    if kind == "float":
        return isinstance(value, (int, float))
    return isinstance(value, str)


def unwritable(path, value: str) -> Diagnostic:
    return error("ollama-modelfile-value", f"this value cannot be written into a Modelfile: "
                 f"{modelfile.why_not(value)}", hint="change the text (Ollama's parser has no escapes)", path=path)


def check_args(args, v: OllamaVersion) -> list[Diagnostic]:
    """cobra/pflag parsing of `ollama create MODEL`: exact long names (`--quantize=x` or `--quantize x`),
    glued shorthands (`-qx`), unknown flags and extra positional arguments are errors (ExactArgs(1))."""
    out = []
    value_next = False
    for i, token in enumerate(args):
        where = ("targets", "ollama", "args", i)
        if value_next:
            value_next = False
            continue
        if token.startswith("--") and len(token) > 2:
            flag, glued = token.split("=", 1)[0], "=" in token
        elif token.startswith("-") and len(token) > 1 and token != "--":
            flag, glued = token[:2], len(token) > 2
        else:
            out.append(error("ollama-args", f"{token!r} would be a second model name: `ollama create` takes "
                             "exactly one", hint="pass flags only", path=where))
            continue
        kind = v.create_flags.get(flag)
        if flag in OWNED_FLAGS:
            owner = ".".join(OWNED_FLAGS[flag])
            out.append(error("target-args-conflict", f"{flag} in targets.ollama.args restates {owner}, which "
                             "deployc derives from the spec", hint=f"set {owner} instead and remove it from args",
                             path=where))
        elif kind is None:
            out.append(error("ollama-args", f"`ollama create` of Ollama {v.version} has no flag {flag}",
                             hint="flags: " + ", ".join(sorted(f for f in v.create_flags if f.startswith("--"))),
                             path=where))
        elif flag == "--draft-quantize":
            out.append(error("ollama-args", "--draft-quantize needs a DRAFT model, which deployc does not write",
                             hint="remove it", path=where))
        value_next = kind == "string" and not glued
    return out
