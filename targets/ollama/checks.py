"""The Ollama target's checks behind each diagnostic (sources: targets/ollama/versions.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from deployc.compiler.api import Diagnostic, Plan, SpecPath, args_conflict, env_conflicts, error, is_local, warning
from deployc.targets.ollama import modelfile
from deployc.targets.ollama.model import (GGUF_REPO, SPEC_LEVEL, counterpart, from_ref, gguf_tag, normalize_level, num_ctx,
                                          quantized_source)
from deployc.targets.ollama.options import CREATE, OWNED_PARAMETERS, OllamaOptions, owned_env
from deployc.targets.ollama.versions import OllamaVersion

# types/model/name.go isValidPart: [namespace/]model[:tag]
_MODEL_NAME = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9_-]{0,79}/)?[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"
                         r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,79})?$")
# Files next to the Modelfiles: a FROM naming one of them would read it as a path, not a model.
_OUR_FILES = ("modelfile", "create.sh", "serve.env", "compose.yaml", "deployc-manifest.json")


def check(plan: Plan, opts: OllamaOptions, v: OllamaVersion) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    m, lim, p = plan.model, plan.limits, plan.precision
    source, problem = from_ref(plan, opts)
    if problem:
        out.append(problem)
    elif source is not None and source[0] != "file" and opts.library is None and (row := counterpart(m.source)) is not None:
        if source[0] == "library":
            what = (f"the Ollama library's {source[1]} ({row['library_source']}), in the quantization the library "
                    "publishes for that tag")
            hint = ("pick another tag of that page in targets.ollama.library (e.g. an -fp16 or -q8_0 one), or "
                    + (f"targets.ollama.quantize: one of {', '.join(row['quantizations'])} for {row['gguf']}"
                       if "gguf" in row else "set model.gguf to a .gguf file"))
        else:
            what = (f"{source[1]}, a GGUF repo of it ({row['source']} in the XInference registry "
                    "counterparts.json was read from)")
            hint = "name the quantization with targets.ollama.quantize (" + ", ".join(row["quantizations"]) + ")" \
                if ":" not in source[1].removeprefix("hf.co/") else "set model.gguf to use another file"
        out.append(warning("ollama-counterpart", f"Ollama cannot import {m.source} itself; FROM names {what}",
                           hint=hint, path=("model", "source")))
    s = plan.speculative
    if s is not None and s.method != "draft":
        out.append(error("ollama-speculative-method", f"Ollama {v.version} speculates only with a draft model "
                         f"(the Modelfile's DRAFT), not {s.method}", hint="use speculative.method: draft with a "
                         "local GGUF file or folder as speculative.model", path=("speculative", "method")))
    elif s is not None and s.model is not None and not is_local(s.model):
        out.append(error("ollama-speculative-model", "Ollama's DRAFT imports a local GGUF file or folder, like FROM",
                         hint="download the draft model and point speculative.model at it (./...)",
                         path=("speculative", "model")))
    if s is not None and (s.topk is not None or s.tensor is not None or s.revision is not None):
        out.append(error("ollama-speculative-fields", "Ollama takes only the draft model and num_tokens "
                         "(draft_num_predict)", hint="remove speculative.topk, tensor and revision for ollama",
                         path=("speculative", "method")))
    if p.quantization == "gguf" and m.gguf is None and not GGUF_REPO.search(m.source) and opts.library is None:
        out.append(error("ollama-gguf", "quantization gguf needs the .gguf file Ollama loads",
                         hint="set model.gguf to the file's path", path=("precision", "quantization")))
    out += check_weights(plan, opts, v)
    if num_ctx(plan) is None:
        out.append(error(
            "ollama-context", f"Ollama {v.version} needs an explicit context: without num_ctx it uses "
            f"{v.default_context} and silently truncates longer prompts",
            hint="set limits.max_model_len (or model.facts.max_position_embeddings)",
            path=("limits", "max_model_len") if lim.model_fields_set else ("model", "source")))
    out += check_names(plan)
    out += check_parameters(opts, v)
    for key in ("system", "template"):
        value = getattr(opts, key)
        if value is not None and modelfile.encode(value) is None:
            out.append(unwritable(("targets", "ollama", key), value))
    for i, stop in enumerate(opts.stop):
        if modelfile.encode(stop) is None:
            out.append(unwritable(("targets", "ollama", "stop", i), stop))
    return out + check_args(opts.args, v, plan.speculative is not None and plan.speculative.model is not None) + env_conflicts(opts.env, owned_env(plan), "ollama")


def check_names(plan: Plan) -> list[Diagnostic]:
    """Served and adapter names become Ollama model names; adapters must be local files or folders."""
    out: list[Diagnostic] = []
    m = plan.model
    named: list[tuple[str, SpecPath]] = [
        (plan.served_name, ("model", "served_name" if "served_name" in m.model_fields_set else "source"))]
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


def check_weights(plan: Plan, opts: OllamaOptions, v: OllamaVersion) -> list[Diagnostic]:
    """The --quantize level against the source's weights and the spec's dtype."""
    out: list[Diagnostic] = []
    quant, dtype = plan.precision.quantization, plan.precision.dtype
    wanted = SPEC_LEVEL.get(quant)
    if gguf_tag(plan, opts) is not None:
        return out   # quantize names the file of the counterpart GGUF repo (model.py from_ref)
    if opts.quantize is not None:
        level = normalize_level(opts.quantize, v)
        where: SpecPath = ("targets", "ollama", "quantize")
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
    source, _ = from_ref(plan, opts)
    if level is not None and source is not None and source[0] == "library":
        out.append(error(
            "ollama-quantize", f"FROM {source[1]} is an Ollama library build, already quantized; Ollama "
            f"{v.version} quantizes only {'/'.join(v.quantize_from)} models", hint="name the library tag of the "
            "quantization you want in targets.ollama.library (the model's library page lists them), and drop "
            "the quantize level", path=where))
    elif level is not None and quantized_source(plan, opts):
        out.append(error(
            "ollama-quantize", f"Ollama {v.version} quantizes only {'/'.join(v.quantize_from)} models; "
            "a quantized GGUF keeps its own type", hint="quantize from the 16-bit checkpoint (a local "
            "safetensors folder or an F16 GGUF with quantization: none), or drop the quantize level", path=where))
    elif level is not None and dtype in ("bfloat16", "float32"):
        out.append(error("ollama-dtype", f"--quantize {level} sets the stored weight type; Ollama has no separate "
                         f"{dtype} setting", hint="use dtype: auto with a quantize level",
                         path=("precision", "dtype")))
    elif level is None and quantized_source(plan, opts) and dtype in ("bfloat16", "float32"):
        out.append(error("ollama-dtype", f"a quantized GGUF keeps its own weight type; Ollama has no {dtype} "
                         "setting", hint="use dtype: auto", path=("precision", "dtype")))
    return out


def check_parameters(opts: OllamaOptions, v: OllamaVersion) -> list[Diagnostic]:
    out = []
    for name, value in opts.parameters.items():
        where = ("targets", "ollama", "parameters", name)
        kind = v.parameters.get(name)
        if name in OWNED_PARAMETERS:
            owner = ".".join(map(str, OWNED_PARAMETERS[name]))
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


def kind_ok(kind: str, value: int | float | bool | str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int)
    if kind == "float":
        return isinstance(value, (int, float))
    return isinstance(value, str)


def unwritable(path: SpecPath, value: str) -> Diagnostic:
    return error("ollama-modelfile-value", f"this value cannot be written into a Modelfile: "
                 f"{modelfile.why_not(value)}", hint="change the text (Ollama's parser has no escapes)", path=path)


def check_args(args: Sequence[str], v: OllamaVersion, draft: bool = False) -> list[Diagnostic]:
    """cobra/pflag parsing of `ollama create MODEL`: exact long names (`--quantize=x` or `--quantize x`),
    glued shorthands (`-qx`), unknown flags and extra positional arguments are errors (ExactArgs(1))."""
    out = []
    owners = CREATE.owners(v)
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
        owner = CREATE.parser.match(token, owners)
        if owner is not None:
            out.append(args_conflict(flag, owner, "ollama", i))
        elif kind is None:
            out.append(error("ollama-args", f"`ollama create` of Ollama {v.version} has no flag {flag}",
                             hint="flags: " + ", ".join(sorted(f for f in v.create_flags if f.startswith("--"))),
                             path=where))
        elif flag == "--draft-quantize" and not draft:
            out.append(error("ollama-args", "--draft-quantize needs a DRAFT model (speculative.method: draft)",
                             hint="remove it, or set speculative", path=where))
        value_next = kind == "string" and not glued
    return out
