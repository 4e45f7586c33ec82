"""Compose's interpolation and value syntax, resolved at `up` time as `docker compose up` resolves them.

Interpolation follows compose-spec interpolation.md (compose-go template/template.go); durations are Go's
time.ParseDuration, sizes docker/go-units RAMInBytes, bind sources compose-go paths/resolve.go. Values read
from the environment are returned, never printed: errors name the variable only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from deployc.compiler.runtime.errors import RunError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", "-", ":?", "?", ":+", "+")


def interpolate(text: str, env: Mapping[str, str], unset: list[str] | None = None) -> str:
    """Compose's interpolation: `$$` is `$`; `$NAME`, `${NAME}` (unset: empty, and the name is added
    to unset, which Compose warns about); `${NAME:-default}` / `${NAME-default}`; `${NAME:?err}` /
    `${NAME?err}` (a RunError naming NAME, never a value); `${NAME:+alt}` / `${NAME+alt}`. The colon
    forms treat an empty value as unset. Defaults may hold references themselves."""
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = _closing(text, i + 2)
            out.append(_braced(text[i + 2:end], env, unset, text))
            i = end + 1
        else:
            m = _NAME.match(text, i + 1)
            if not m:
                raise RunError(f"invalid interpolation format in {text!r}: a lone `$`",
                               hint="write `$$` for a literal dollar sign, as in a Compose file")
            out.append(_lookup(m.group(), env, unset))
            i = m.end()
    return "".join(out)


def _closing(text: str, start: int) -> int:
    depth, i = 1, start
    while i < len(text):
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise RunError(f"invalid interpolation format in {text!r}: `${{` is never closed")


def _lookup(name: str, env: Mapping[str, str], unset: list[str] | None) -> str:
    if name not in env and unset is not None and name not in unset:
        unset.append(name)
    return env.get(name, "")


def _braced(body: str, env: Mapping[str, str], unset: list[str] | None, text: str) -> str:
    m = _NAME.match(body)
    if not m:
        raise RunError(f"invalid interpolation format in {text!r}")
    name, rest = m.group(), body[m.end():]
    if rest == "":
        return _lookup(name, env, unset)
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise RunError(f"invalid interpolation format in {text!r}")
    arg, value = rest[len(op):], env.get(name)
    present = value is not None and (value != "" or ":" not in op)
    if op in (":-", "-"):
        return value if value is not None and present else interpolate(arg, env, unset)
    if op in (":?", "?"):
        if value is None or not present:
            raise _required(name, value, interpolate(arg, env, unset) if arg else None)
        return value
    return interpolate(arg, env, unset) if present else ""


def _required(name: str, value: str | None, message: str | None) -> RunError:
    return RunError(f"required variable {name} is {'empty' if value == '' else 'not set'}"
                    + (f": {message}" if message is not None else ""),
                    hint=f"export {name} in the shell that runs deployc (the same variable "
                         "`docker compose up` would read); deployc never stores its value")


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def duration_ns(text: str) -> int:
    """A Compose duration (Go's time.ParseDuration: `1m30s`, `30m`) in nanoseconds, as HealthConfig takes it."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return round(sum(float(n) * _UNITS_NS[u] for n, u in parts))


def size_bytes(text: str) -> int:
    """A Compose byte size (`1g`, `512m`; docker/go-units RAMInBytes: binary multiples) in bytes."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgtp]?)b?", text.strip().lower())
    if not m:
        raise ValueError(f"not a size: {text!r}")
    return int(float(m.group(1)) * 1024 ** "bkmgtp".index(m.group(2) or "b"))


def bind_source(source: str, env: Mapping[str, str], compose_dir: str, unset: list[str] | None = None) -> str:
    """A bind-mount source as Compose resolves it: interpolated, `~` is the caller's home, a relative
    path is relative to the compose file's folder (compose-go paths/resolve.go: absolute, cleaned)."""
    path = interpolate(source, env, unset)
    if path == "~" or path.startswith("~/"):
        path = (env.get("HOME") or os.path.expanduser("~")) + path[1:]
    if not os.path.isabs(path):
        path = os.path.join(compose_dir, path)
    return os.path.normpath(path)
