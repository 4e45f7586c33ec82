"""Stage 2, validate: the spec's data against the pydantic models (compiler/spec.py), and each target's
options against its own model; pydantic's errors become diagnostics at the YAML key, in the words of
the field descriptions."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from deployc.compiler.api.target import Target, TargetOptions
from deployc.compiler.diagnostics import Diagnostic, SpecPath, did_you_mean, error, format_path
from deployc.compiler.secrets import SECRET, scan
from deployc.compiler.source import Source
from deployc.compiler.spec import API_VERSIONS, INERT, Spec


def validate_spec(src: Source) -> tuple[Spec | None, list[Diagnostic]]:
    """The Spec of loaded data, or None; diagnostics unplaced (paths, not positions). Secrets are
    reported once, where they are, and never echoed (no second diagnostic for the same value)."""
    diags: list[Diagnostic] = list(scan(src.data, ()))
    try:
        return Spec.model_validate(src.data), diags
    except ValidationError as exc:
        secret_paths = {d.path for d in diags}
        diags += [d for d in (_from_pydantic(dict(e), src.data, Spec, ()) for e in exc.errors()
                              if not _union_noise(dict(e), src.data)) if d.path not in secret_paths]
        return None, diags


def validate_options(target: Target[Any, Any], raw: Any, src: Source) -> tuple[TargetOptions | None, list[Diagnostic]]:
    base = ("targets", target.name)
    try:
        return target.options.model_validate(raw), []
    except ValidationError as exc:
        return None, [src.place(_from_pydantic(dict(e), raw, target.options, base)) for e in exc.errors()]


# ---------------------------------------------------------------------------------------------
# pydantic errors -> diagnostics


def _from_pydantic(err: dict[str, Any], data: Any, root: type[BaseModel], base: SpecPath) -> Diagnostic:
    path = _data_path(err["loc"], data, err["type"])
    full = base + path
    kind, msg, value = err["type"], err["msg"], err.get("input")
    model, field_name = _field_at(root, path)
    description = _description(model, field_name)
    if kind == "extra_forbidden":
        known = list(_field_keys(model)) if model else []
        close = did_you_mean(str(path[-1]), known)
        where = format_path(full[:-1]) or "the top level"
        return error("spec-unknown-key", f"unknown key {path[-1]!r} in {where}", path=full, anchor="key",
                     hint=(f"did you mean {close[0]}?" if close else "known keys: " + ", ".join(known)))
    if kind == "missing":
        return error("spec-missing-key", f"missing required key {path[-1]!r} in "
                     f"{format_path(full[:-1]) or 'the top level'}", path=full, anchor="key", hint=description)
    if kind == "literal_error":
        expected = _literal_choices(model, field_name)
        close = did_you_mean(str(value), expected) if isinstance(value, str) else []
        if field_name == "api_version":
            return error("spec-api-version", f"unsupported apiVersion {value!r}", path=full,
                         hint="supported: " + ", ".join(API_VERSIONS))
        return error("spec-value", f"{_show(value)} is not a valid {field_name}", path=full,
                     hint=(f"did you mean {close[0]}? " if close else "") + "expected one of: " + ", ".join(expected))
    if kind == "string_pattern_mismatch":
        return error("spec-value", f"{_show(value)} is not a valid {field_name}", path=full, hint=description)
    if kind.endswith(("_type", "_parsing")):
        return error("spec-type", f"{field_name or format_path(full)}: {msg[0].lower() + msg[1:]}, got "
                     f"{_show(value)}", path=full, hint=description)
    msg = msg.removeprefix("Value error, ")
    # a mapping's key failed (loc ends in "[key]"): the key is to blame, not its value
    anchor = "key" if err["loc"] and err["loc"][-1] == "[key]" else "value"
    return error("spec-value", f"{field_name or format_path(full)}: {msg[0].lower() + msg[1:]}", path=full,
                 hint=description, anchor=anchor)


def _union_noise(err: dict[str, Any], data: Any) -> bool:
    """A "should be a string" error from the other branch of a str | mapping union."""
    return (err["type"] in ("string_type", "int_type", "float_type", "bool_type")
            and isinstance(err.get("input"), (dict, list))
            and len(_data_path(err["loc"], data, err["type"])) < len(err["loc"]))


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    if isinstance(value, str) and SECRET.search(value):
        return "<redacted: looks like a secret>"
    return json.dumps(value) if value is None or isinstance(value, (bool, int, float)) else repr(value)


def _data_path(loc: tuple[Any, ...], data: Any, kind: str) -> SpecPath:
    """pydantic's loc, minus union-member tags that are not keys of the data."""
    out: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if (isinstance(cur, dict) and part in cur) or (isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)):
            out.append(part)
            cur = cur[part]
        elif last and kind in ("missing", "extra_forbidden"):
            out.append(part)
        # else: a union tag such as 'str' or 'GpuSpec': not part of the YAML
    return tuple(out)


def _unwrap(annotation: Any) -> type[BaseModel] | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, dict, tuple):
        for arg in typing.get_args(annotation):
            found = _unwrap(arg)
            if found is not None:
                return found
        return None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _field_keys(model: type[BaseModel]) -> dict[str, str]:
    """YAML key -> attribute name."""
    return {(f.alias or n): n for n, f in model.model_fields.items()}


def _field_at(root: type[BaseModel], path: SpecPath) -> tuple[type[BaseModel] | None, str | None]:
    """The model class holding the last key of path, and that key's attribute name."""
    model: type[BaseModel] | None = root
    keys = [p for p in path if isinstance(p, str)]  # list indices stay inside the element's model
    for i, part in enumerate(keys):
        if model is None:
            return None, None
        fields = _field_keys(model)
        if part not in fields:
            return model, part
        name = fields[part]
        if i == len(keys) - 1:
            return model, name
        nxt = _unwrap(model.model_fields[name].annotation)
        if nxt is None:  # e.g. targets: dict[str, Any]; their options are validated per target
            return model, name
        model = nxt
    return model, None


def _description(model: type[BaseModel] | None, name: str | None) -> str | None:
    if model is None or name is None or name not in model.model_fields:
        return None
    text = model.model_fields[name].description
    return text.replace(INERT, "") if text else text   # the quoting policy is for the schema, not each hint


def _literal_choices(model: type[BaseModel] | None, name: str | None) -> list[str]:
    if model is None or name is None or name not in model.model_fields:
        return []
    out: list[str] = []

    def walk(tp: Any) -> None:
        origin = typing.get_origin(tp)
        if origin is typing.Literal:
            out.extend(str(a) for a in typing.get_args(tp))
        elif origin is not None:
            for a in typing.get_args(tp):
                walk(a)

    walk(model.model_fields[name].annotation)
    for meta in model.model_fields[name].metadata:
        walk(meta)
    return out
