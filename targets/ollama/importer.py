"""An Ollama Modelfile read back into a spec (`deployc import Modelfile`).

Read the way Ollama's parser reads it (parser/parser.go ParseFile at v0.32.15, the rules modelfile.py
writes by): one instruction per line, a case-insensitive command, then its value, which is bare text, "..."
or \"\"\"...\"\"\" (the triple-quoted form spans lines); `#` starts a comment line. FROM names what the model
is built from, PARAMETER name value sets one option (stop may repeat), TEMPLATE, SYSTEM, ADAPTER, LICENSE,
MESSAGE and REQUIRES the rest.

FROM goes back to model.source through counterparts.json (the hub id whose library build or GGUF repo it
names), or is model.source itself (a local path, a hf.co GGUF repo); a library name with no known hub id
needs one from the user.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Mapping

from deployc.compiler.api.importing import Dialect, FileImport, Importer, Refused
from deployc.targets.ollama.model import _counterparts
from deployc.targets.ollama.versions import VERSIONS

COMMANDS = ("from", "parameter", "template", "system", "adapter", "license", "message", "requires")


class NotAModelfile(ValueError):
    pass


def _unquote(text: str) -> str:
    t = text.strip()
    if t.startswith('"""') and t.endswith('"""') and len(t) >= 6:
        return t[3:-3]
    if t.startswith('"') and t.endswith('"') and len(t) >= 2:
        return t[1:-1]
    return t


def parse(text: str) -> list[tuple[str, str, str]]:
    """(command, parameter name or "", value) per instruction."""
    out: list[tuple[str, str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = re.match(r"([A-Za-z]+)[ \t]+(.*)$", stripped)
        if m is None or m.group(1).lower() not in COMMANDS:
            raise NotAModelfile(f"line {i}: {stripped[:40]!r} is not a Modelfile instruction")
        command, rest = m.group(1).lower(), m.group(2)
        name = ""
        if command == "parameter":
            pm = re.match(r"([A-Za-z0-9_]+)[ \t]+(.*)$", rest)
            if pm is None:
                raise NotAModelfile(f"line {i}: PARAMETER needs a name and a value")
            name, rest = pm.group(1).lower(), pm.group(2)
        elif command == "message":
            mm = re.match(r"([A-Za-z]+)[ \t]+(.*)$", rest)
            name, rest = (mm.group(1), mm.group(2)) if mm else ("", rest)
        value = rest
        opener = '"""' if rest.lstrip().startswith('"""') else None
        while opener and not (len(value.strip()) >= 6 and value.rstrip().endswith('"""')) and i < len(lines):
            value += "\n" + lines[i]
            i += 1
        out.append((command, name, _unquote(value)))
    if not any(c == "from" for c, _, _ in out):
        raise NotAModelfile("no FROM line")
    return out


def _typed(value: str) -> int | float | bool | str:
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d*\.\d+(e-?\d+)?|-?\d+e-?\d+", value, re.IGNORECASE):
        return float(value)
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def config(text: str) -> dict[str, Any]:
    """What Ollama builds from a Modelfile: FROM, each PARAMETER (stop as a list), TEMPLATE, SYSTEM, ADAPTER."""
    out: dict[str, Any] = {}
    for command, name, value in parse(text):
        if command == "parameter":
            if name == "stop":
                out.setdefault("parameter stop", []).append(value)
            else:
                out[f"parameter {name}"] = _typed(value)
        elif command in ("message", "adapter"):
            out.setdefault(command, []).append((name, value))
        else:
            out[command] = value
    return out


def _from(ref: str) -> tuple[dict[str, tuple[Any, str]], list[str]]:
    rows = _counterparts().values()
    notes: list[str] = []
    if ref.startswith(("hf.co/", "huggingface.co/")):
        repo, _, tag = ref.split("/", 1)[1].partition(":")
        row = next((r for r in rows if r.get("gguf", "").lower() == repo.lower()), None)
        fields: dict[str, tuple[Any, str]] = {}
        if row is not None:
            fields["model.source"] = (row["hub"], f"the hub model whose GGUF repo FROM {ref} names "
                                                  "(targets/ollama/counterparts.json)")
        else:
            fields["model.source"] = (repo, f"from FROM {ref}: a Hugging Face repo of GGUF files")
        if tag:
            fields["targets.ollama.quantize"] = (tag, f"the file FROM {ref} pulls")
        return fields, notes
    if ref.startswith(("./", "../", "/", "~")):
        return {"model.source": (ref, f"from FROM {ref}")}, notes
    name = ref
    hits = [r for r in rows if r.get("library") in (name, f"{name}:latest")]
    if not hits and ":" not in name:
        hits = [r for r in rows if str(r.get("library", "")).split(":", 1)[0] == name]
    fields = {"targets.ollama.library": (ref, f"from FROM {ref}: the Ollama library model")}
    if len(hits) == 1:
        fields["model.source"] = (hits[0]["hub"], f"the hub model of the library's {hits[0]['library']} "
                                                  "(targets/ollama/counterparts.json): its facts size the plan")
        if hits[0]["library"] != ref:
            notes.append(f"FROM {ref}: the library's default tag; counterparts.json knows {hits[0]['library']}")
        return fields, notes
    known = ", ".join(sorted(r["hub"] for r in hits)) or "none"
    raise Refused(f"FROM {ref} names an Ollama library model whose hub model deployc cannot tell "
                        f"(targets/ollama/counterparts.json knows: {known})",
                  hint=f"name the tag (FROM {name}:<tag>) of a model counterparts.json lists, or write the spec's "
                       "model.source by hand")


def read_modelfile(name: str, text: str) -> FileImport | None:
    if not (name.lower().endswith("modelfile") or re.match(r"\s*(#.*\n\s*)*FROM\s", text, re.IGNORECASE)):
        return None
    try:
        instructions = parse(text)
    except NotAModelfile:
        return None
    fields: dict[str, tuple[Any, str]] = {}
    entries: list[tuple[str, str, str | None, str]] = []
    notes: list[str] = []
    stops: list[str] = []
    params: dict[str, Any] = {}
    for command, pname, value in instructions:
        shown = f"{command.upper()} {pname + ' ' if pname else ''}{value}"[:80]
        if command == "from":
            got, more = _from(value)
            fields.update(got)
            notes += more
            entries.append(("mapped", shown, ", ".join(got), ""))
        elif command == "parameter" and pname == "num_ctx":
            fields["limits.max_model_len"] = (_typed(value), f"from PARAMETER num_ctx {value} (per request)")
            entries.append(("mapped", shown, "limits.max_model_len", ""))
        elif command == "parameter" and pname == "num_predict":
            fields["limits.max_output_tokens"] = (_typed(value), f"from PARAMETER num_predict {value}")
            entries.append(("mapped", shown, "limits.max_output_tokens", ""))
        elif command == "parameter" and pname == "stop":
            stops.append(value)
            entries.append(("mapped", shown, "targets.ollama.stop", ""))
        elif command == "parameter":
            params[pname] = _typed(value)
            entries.append(("mapped", shown, "targets.ollama.parameters", "Ollama's own parameter"))
        elif command in ("template", "system"):
            fields[f"targets.ollama.{command}"] = (value, f"from the Modelfile's {command.upper()}")
            entries.append(("mapped", shown, f"targets.ollama.{command}", ""))
        else:
            entries.append(("unknown", shown, None, f"deploy.yaml has no field for {command.upper()}: left out"))
            notes.append(f"{command.upper()} is not imported: deploy.yaml has no field for it")
    if stops:
        fields["targets.ollama.stop"] = (stops, "from the Modelfile's PARAMETER stop lines")
    if params:
        fields["targets.ollama.parameters"] = (params, "Modelfile PARAMETERs deploy.yaml has no field for")
    return FileImport(fields, entries, notes, config(text))


def rebuilt(artifacts: Mapping[str, str]) -> dict[str, Any]:
    text = next((c for p, c in artifacts.items() if p.rsplit("/", 1)[-1] == "Modelfile"), "")
    return config(text) if text else {}


IMPORTER = Importer(
    target="ollama", title="Ollama", commands=(), table=lambda version: None,  # type: ignore[arg-type,return-value]
    versions=tuple(VERSIONS), dialect=Dialect(), rows=(), rebuilt_prefix=lambda version: (),
    read_file=read_modelfile, rebuilt_file=rebuilt)
