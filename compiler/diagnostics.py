"""Diagnostics are values: every stage returns them, only the CLI prints them.

A diagnostic carries a code, a severity, a message, a hint and, once the
pipeline has located it, a 1-based file:line:column. Stages that know only the
spec path of the problem (``("parallelism", "tensor")``) set ``path``; the
pipeline turns it into a position with the loader's side table.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, replace
from enum import Enum
from typing import Iterable, Sequence

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
        where = self.file or "deployc"
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        text = f"{where}: {self.severity.value}[{self.code}]: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_json(self) -> dict:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "file": self.file,
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


def sort_key(d: Diagnostic) -> tuple:
    return (d.file or "", d.line or 0, d.column or 0, d.code, d.message)


def render_text(diagnostics: Sequence[Diagnostic]) -> str:
    return "\n".join(d.render() for d in sorted(diagnostics, key=sort_key))


def render_json(diagnostics: Sequence[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in sorted(diagnostics, key=sort_key)], indent=2)


def did_you_mean(word: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    """Closest candidates, for "did you mean ..." hints (case-insensitive)."""
    pool = {c.lower(): c for c in candidates}
    return [pool[m] for m in difflib.get_close_matches(word.lower(), list(pool), n=n, cutoff=0.6)]


def format_path(path: SpecPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
