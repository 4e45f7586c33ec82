"""The model Ollama builds: what FROM names, its context (num_ctx) and the --quantize level
(sources: targets/ollama/versions.py)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Required, TypedDict

from deployc.compiler.api import BuildContext, Diagnostic, Plan, error, is_local, model_spellings
from deployc.targets.ollama.versions import OllamaVersion

if TYPE_CHECKING:
    from deployc.targets.ollama.options import OllamaOptions

DTYPE_LEVEL = {"float16": "F16", "bfloat16": "BF16", "float32": "F32"}
SPEC_LEVEL = {"int8": "Q8_0", "int4": "Q4_K_M"}
GGUF_REPO = re.compile(r"-gguf$", re.IGNORECASE)


COUNTERPARTS = Path(__file__).with_name("counterparts.json")


class Counterpart(TypedDict, total=False):
    """A row of counterparts.json: a GGUF repo of the hub model (gguf, its quantizations, and the
    XInference registry file it was read from), an Ollama library model, or both."""

    hub: Required[str]
    gguf: str
    quantizations: list[str]
    source: str
    library: str
    library_source: str


@lru_cache(maxsize=1)
def _counterparts() -> dict[str, Counterpart]:
    """counterparts.json (conformance/extract/ollama_counterparts.py): lower-cased hub id -> its row."""
    rows: list[Counterpart] = json.loads(COUNTERPARTS.read_text(encoding="utf-8"))["models"]
    return {r["hub"].lower(): r for r in rows}


def counterpart(repo_id: str) -> Counterpart | None:
    """The row of a hub id (under any of its spellings, api.model_spellings), or None."""
    table = _counterparts()
    return next((table[s.lower()] for s in model_spellings(repo_id) if s.lower() in table), None)


def gguf_tag(plan: Plan, opts: OllamaOptions) -> str | None:
    """The quantization tag of a counterpart GGUF repo that targets.ollama.quantize names (the repo's own
    spelling), or None: then quantize is `ollama create --quantize`."""
    m = plan.model
    if opts.quantize is None or opts.library is not None or m.gguf is not None or is_local(m.source):
        return None
    row = counterpart(m.source)
    if row is None or "gguf" not in row:
        return None
    return next((q for q in row["quantizations"] if q.lower() == opts.quantize.lower()), None)


def from_ref(plan: Plan, opts: OllamaOptions) -> tuple[tuple[str, str] | None, Diagnostic | None]:
    """(kind, reference) of what FROM names: a library model, a gguf file, a local folder, or a hf.co GGUF
    repo (model.source itself, or its counterpart in counterparts.json)."""
    m = plan.model
    if opts.library is not None:
        return ("library", opts.library), None
    if m.gguf is not None:
        return ("file", m.gguf), None
    if is_local(m.source):
        return ("file", m.source), None
    if GGUF_REPO.search(m.source):
        return ("hub", f"hf.co/{m.source}"), None
    row = counterpart(m.source)
    if row is not None:
        tag = gguf_tag(plan, opts)
        if tag is not None:
            return ("hub", f"hf.co/{row['gguf']}:{tag}"), None
        if "library" in row:
            return ("library", row["library"]), None
        if opts.quantize is None:
            return ("hub", f"hf.co/{row['gguf']}"), None
        return None, error(
            "ollama-quantize", f"{row['gguf']}, the GGUF repo of {m.source}, has no {opts.quantize} file",
            hint="set targets.ollama.quantize to one of " + ", ".join(row["quantizations"]),
            path=("targets", "ollama", "quantize"))
    return None, error(
        "ollama-model-source", f"Ollama cannot import the hub model {m.source}: it loads a GGUF file, a local "
        "safetensors folder, a Hugging Face repo of GGUF files (hf.co/org/name-GGUF) or an Ollama library "
        "model, and deployc knows no GGUF or library counterpart of this one (targets/ollama/counterparts.json)",
        hint=f"set targets.ollama.library to its Ollama library name (e.g. llama3.2:3b), set model.gguf to a "
             f".gguf file, or download the model (`hf download {m.source} --local-dir "
             f"./models/{m.source.rsplit('/', 1)[-1]}`) and point model.source at that folder",
        path=("model", "source"))


def modelfile_path(source: tuple[str, str], ctx: BuildContext) -> str:
    """FROM value: Ollama resolves relative paths against the Modelfile's own folder."""
    kind, ref = source
    if kind in ("hub", "library") or ref.startswith(("/", "~")):
        return ref
    return (PurePosixPath(ctx.spec_dir) / ref).as_posix()


def num_ctx(plan: Plan) -> int | None:
    return plan.limits.max_model_len or plan.facts.context


def quantized_source(plan: Plan, opts: OllamaOptions) -> bool:
    """Weights Ollama cannot quantize further: a GGUF, a hub repo or a library build."""
    return (plan.precision.quantization == "gguf" or opts.library is not None
            or (plan.model.gguf is None and not is_local(plan.model.source)))


def normalize_level(value: str, v: OllamaVersion) -> str | None:
    up = value.upper()
    up = v.quantize_aliases.get(up, up)
    return up if up in v.quantize_levels else None


def quantize_level(plan: Plan, opts: OllamaOptions, v: OllamaVersion) -> str | None:
    """The --quantize level: targets.ollama.quantize, int8/int4, or an explicit dtype of a 16-bit source."""
    if gguf_tag(plan, opts) is not None:
        return None   # the tag of the hf.co repo FROM names picks the file
    if opts.quantize is not None:
        return normalize_level(opts.quantize, v)
    if plan.precision.quantization in SPEC_LEVEL:
        return SPEC_LEVEL[plan.precision.quantization]
    if not quantized_source(plan, opts):
        return DTYPE_LEVEL.get(plan.precision.dtype)
    return None
