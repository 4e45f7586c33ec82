"""A small typed Modelfile writer, with quoting rules taken from Ollama's parser.

parser/parser.go (ParseFile, parseRuneForState, unquote; same at v0.12.11 and v0.32.15):
- A value starts after the first space following the command (or PARAMETER name) and
  ends at a newline once the text so far, trimmed of white space, "unquotes":
  bare text always does; text starting with `"` must end with `"`, text starting
  with `\"\"\"` must end with `\"\"\"` (at least six characters). There is no escape
  character, so a quoted value whose line ends in the closing quote ends there.
- Runes other than strconv.IsPrint ones, spaces, tabs and quoted newlines are dropped.

``encode`` picks the plainest form that reads back as exactly the value, or returns
None: the caller turns that into a diagnostic at the field the value came from.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

_WS = " \t\n"


def _printable(ch: str) -> bool:
    # Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space.
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def unprintable(value: str) -> str | None:
    """The first character Ollama's parser would drop (tabs and newlines are kept)."""
    return next((ch for ch in value if ch not in "\t\n" and not _printable(ch)), None)


def _line_ends(value: str) -> Iterator[str]:
    """The value's text up to each newline, trimmed on the right like strings.TrimSpace."""
    for i, ch in enumerate(value):
        if ch == "\n":
            yield value[:i].rstrip(_WS)


def _bare_ok(v: str) -> bool:
    return bool(v) and "\n" not in v and v == v.strip(_WS) and not v.startswith('"')


def _quoted_ok(v: str) -> bool:
    # `""...` would be read as the start of a triple-quoted value.
    return not v.startswith('""') and not any(t.endswith('"') for t in _line_ends(v))


def _triple_ok(v: str) -> bool:
    return not any(len(t) >= 3 and t.endswith('"""') for t in _line_ends(v))


def encode(value: str) -> str | None:
    """The value as Ollama's parser reads it back unchanged, or None if no form does."""
    if not value or unprintable(value) is not None:
        return None
    if _bare_ok(value):
        return value
    if _triple_ok(value):
        return f'"""{value}"""'
    if _quoted_ok(value):
        return f'"{value}"'
    return None


def why_not(value: str) -> str:
    """Why encode() returned None, for the diagnostic."""
    if not value:
        return "an empty value cannot be written"
    ch = unprintable(value)
    if ch is not None:
        return f"it contains {unicodedata.name(ch, f'U+{ord(ch):04X}')} (U+{ord(ch):04X}), which Ollama's " \
               "Modelfile parser silently drops"
    return ('a line ends in """ and another in ": a Modelfile value has no escape character, so every '
            "quoting would end it early")


@dataclass
class Modelfile:
    """Commands in order; values are already checked with encode()."""

    header: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def command(self, name: str, value: str) -> None:
        text = encode(value)
        assert text is not None, f"unchecked value for {name}"
        self.lines.append(f"{name} {text}")

    def parameter(self, name: str, value: str | int | float | bool) -> None:
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = encode(str(value))
        assert text is not None, f"unchecked value for PARAMETER {name}"
        self.lines.append(f"PARAMETER {name} {text}")

    def render(self) -> str:
        head = "".join(f"# {line}".rstrip() + "\n" for line in self.header)
        return head + "\n" + "\n".join(self.lines).rstrip("\n") + "\n"
