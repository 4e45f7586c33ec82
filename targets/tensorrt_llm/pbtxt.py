"""A small typed serializer for protobuf text format (Triton's config.pbtxt).

Values map to text-format syntax by their Python type, never by string
substitution, so nothing like fill_template.py's leftover ``${...}`` can appear:

    bool -> true/false      int -> decimal        float -> repr      str -> "quoted"
    Enum("TYPE_INT32") -> bare enum identifier
    dict -> nested message  { ... }
    Map({...}) -> a protobuf map field: one `name { key: .. value: .. }` entry per item, keys sorted
    list of dicts -> repeated message `name [ {...}, {...} ]`; list of scalars -> `name: [ a, b ]`

Strings are escaped as protobuf's text format reads them (google.protobuf.text_encoding
CUnescape): backslash, both quotes, \\n \\r \\t, and every other byte outside printable
ASCII as a three-digit octal escape of its UTF-8 encoding. The conformance tier parses
every generated file with the real parser into Triton's ModelConfig.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Enum:
    """An enum value, written bare (TYPE_INT32, KIND_CPU)."""

    name: str

    def __post_init__(self) -> None:
        if not _IDENT.match(self.name):
            raise ValueError(f"not an enum identifier: {self.name!r}")


class Map(dict[str, Any]):
    """A protobuf map<K, V> field."""


_SIMPLE = {ord("\\"): "\\\\", ord('"'): '\\"', ord("'"): "\\'", ord("\n"): "\\n", ord("\r"): "\\r",
           ord("\t"): "\\t"}


def quote(text: str) -> str:
    """A protobuf text-format string literal for text (pure ASCII output)."""
    out = []
    for byte in text.encode("utf-8"):
        if byte in _SIMPLE:
            out.append(_SIMPLE[byte])
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Enum):
        return value.name
    raise TypeError(f"no text-format spelling for {type(value).__name__}")


def _field(name: str, value: Any, indent: str) -> list[str]:
    if not _IDENT.match(name):
        raise ValueError(f"not a field name: {name!r}")
    if isinstance(value, Map):
        out = []
        for key in sorted(value):
            out += [f"{indent}{name} {{", f"{indent}  key: {_scalar(key)}"]
            out += _field("value", value[key], indent + "  ")
            out.append(f"{indent}}}")
        return out
    if isinstance(value, Mapping):
        return [f"{indent}{name} {{", *_body(value, indent + "  "), f"{indent}}}"]
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, Mapping) for v in value):
            out = [f"{indent}{name} ["]
            for i, item in enumerate(value):
                out += [f"{indent}  {{", *_body(item, indent + "    "),
                        f"{indent}  }}" + ("," if i < len(value) - 1 else "")]
            return out + [f"{indent}]"]
        return [f"{indent}{name}: [ {', '.join(_scalar(v) for v in value)} ]" if value else f"{indent}{name}: [ ]"]
    return [f"{indent}{name}: {_scalar(value)}"]


def _body(message: Mapping[str, Any], indent: str) -> list[str]:
    out: list[str] = []
    for name, value in message.items():
        if value is None:
            continue
        out += _field(name, value, indent)
    return out


def dumps(message: Mapping[str, Any], header: str = "") -> str:
    """The message as protobuf text format, after a `#` comment header."""
    return header + "\n".join(_body(message, "")) + "\n"
