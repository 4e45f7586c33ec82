"""Diagnostics are values: every stage returns them, only the CLI prints them.

A diagnostic carries a code, a severity, a message, a hint and, once the
pipeline has located it, a 1-based file:line:column. Stages that know only the
spec path of the problem (``("parallelism", "tensor")``) set ``path``; the
pipeline turns it into a position with the loader's side table.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any
from collections.abc import Iterable, Sequence

SpecPath = tuple[str | int, ...]


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    severity: Severity = Severity.ERROR
    hint: str | None = None
    path: SpecPath | None = None
    # "key" points at the mapping key (unknown or missing keys), "value" at the value.
    anchor: str = "value"
    file: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def at(self, file: str, line: int | None, column: int | None) -> Diagnostic:
        return replace(self, file=file, line=line, column=column)

    def render(self) -> str:
        """One line (and a hint line); the file name and the text are untrusted: printable() keeps a
        line break in either from forging another diagnostic."""
        where = shown(self.file or "deployc")
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        text = f"{where}: {self.severity.value}[{self.code}]: {shown(self.message)}"
        if self.hint:
            text += f"\n  hint: {shown(self.hint)}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": mask_secrets(self.message),
            "hint": mask_secrets(self.hint) if self.hint is not None else None,
            "file": mask_secrets(self.file) if self.file is not None else None,
            "line": self.line,
            "column": self.column,
        }


def error(code: str, message: str, *, hint: str | None = None, path: SpecPath | None = None,
          anchor: str = "value") -> Diagnostic:
    return Diagnostic(code=code, message=message, hint=hint, path=path, anchor=anchor)


def warning(code: str, message: str, *, hint: str | None = None, path: SpecPath | None = None,
            anchor: str = "value") -> Diagnostic:
    return Diagnostic(code=code, message=message, severity=Severity.WARNING, hint=hint,
                      path=path, anchor=anchor)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple[Any, ...]:
    return (d.file or "", d.line or 0, d.column or 0, d.code, d.message)


def render_text(diagnostics: Sequence[Diagnostic]) -> str:
    return "\n".join(d.render() for d in sorted(diagnostics, key=sort_key))


def did_you_mean(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """Closest candidates, for "did you mean ..." hints (case-insensitive)."""
    pool = {c.lower(): c for c in candidates}
    return [pool[m] for m in difflib.get_close_matches(word.lower(), list(pool), n=n, cutoff=0.6)]


def format_path(path: SpecPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """text with every character that is not printable escaped (line breaks of any kind, controls,
    bidi overrides, lone surrogates from a file name that is not UTF-8): an untrusted string (a file
    name, a value) then stays on one line of a comment, a terminal or a log, and is valid UTF-8."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable():
            out.append(ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        else:
            n = ord(ch)
            out.append(f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}")
    return "".join(out)


def mask_secrets(text: str) -> str:
    """text with every secret-looking token (secrets.SECRET) cut to its prefix and `***`: a
    diagnostic may name a key or value that holds a token, but never repeats it."""
    spans = secret_spans(text)
    if not spans:
        return text
    out, at = [], 0
    for start, end in spans:
        if start < at:
            continue
        out += [text[at:start], text[start:start + 3], "***"]
        at = end
    return "".join(out) + text[at:]


def shown(text: str) -> str:
    """Untrusted text as a diagnostic shows it: secrets masked, then escaped to one printable line."""
    return printable(mask_secrets(text))


# Secret-looking text (compiler/secrets.py refuses it in a spec; every diagnostic masks it)
SECRET = re.compile(r"(?<![A-Za-z0-9])(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}"
                    r"|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abpr]-[A-Za-z0-9-]{10,}"
                    r"|AKIA[0-9A-Z]{16}|nvapi-[A-Za-z0-9_-]{20,}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
                    # a JWT (header.payload...), and a URL with a password that is not a ${NAME} reference
                    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}(?:\.[A-Za-z0-9_-]*)?"
                    r"|[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]+:(?!\$\{)[^\s/@]+@)")
# An AWS secret access key: 40 characters of base64 without padding, '/' and '+' included
_AWS = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


def secret_spans(text: str) -> list[tuple[int, int]]:
    """Where text holds a secret-looking token: SECRET's patterns and AWS-style secret keys."""
    spans = [m.span() for m in SECRET.finditer(text)]
    spans += [m.span() for m in _AWS.finditer(text) if _random_looking(m[0])]
    return sorted(spans)


def looks_secret(text: str) -> bool:
    return bool(secret_spans(text))


def _random_looking(token: str) -> bool:
    import math
    from collections import Counter

    if not (any(c.isdigit() for c in token) and any(c.isupper() for c in token) and any(c.islower() for c in token)):
        return False
    bits = -sum(n / len(token) * math.log2(n / len(token)) for n in Counter(token).values())
    return bits > 4.2
