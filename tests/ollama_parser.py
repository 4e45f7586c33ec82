"""Ollama's Modelfile parser, written from parser/parser.go (ParseFile, parseRuneForState,
unquote, isValidCommand) at ollama/ollama v0.32.15 (b7871fc0d1d82fe109536efa3e0e8e411c766c75);
the state machine is the same at v0.12.11 (c1149875234a51aa1e5e60b74f3807f5982c60fa).

A test oracle independent of targets/ollama/modelfile.py: it reads text the way Ollama
does, rune by rune, and returns (command, args) pairs; commands come back lower-cased,
FROM as "model", PARAMETER as its name, like parser.Command.
"""

from __future__ import annotations

import unicodedata

NIL, NAME, VALUE, PARAMETER, MESSAGE, COMMENT = range(6)


class ParseError(ValueError):
    pass


def _is_print(ch: str) -> bool:  # strconv.IsPrint
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def _alpha(ch: str) -> bool:
    return "a" <= ch <= "z" or "A" <= ch <= "Z"


def _space(ch: str) -> bool:
    return ch in " \t"


def _newline(ch: str) -> bool:
    return ch in "\r\n"


def _unquote(s: str) -> tuple[str, bool]:
    if s[:3] == '"""':
        return (s[3:-3], True) if len(s) >= 6 and s.endswith('"""') else ("", False)
    if s[:1] == '"':
        return (s[1:-1], True) if len(s) >= 2 and s.endswith('"') else ("", False)
    return s, True


def _next(ch: str, state: int) -> tuple[int, str | None]:
    if state == NIL:
        if ch == "#":
            return COMMENT, None
        if _space(ch) or _newline(ch):
            return NIL, None
        return NAME, ch
    if state == NAME:
        if _alpha(ch):
            return NAME, ch
        if _space(ch):
            return VALUE, None
        raise ParseError("invalid command")
    if state == VALUE:
        return (NIL, ch) if _newline(ch) or _space(ch) else (VALUE, ch)
    if state == PARAMETER:
        if _alpha(ch) or (ch.isdigit() and ch.isascii()) or ch == "_":
            return PARAMETER, ch
        if _space(ch):
            return VALUE, None
        raise ParseError("unexpected EOF")
    if state == MESSAGE:
        if _alpha(ch):
            return MESSAGE, ch
        if _space(ch):
            return VALUE, None
        raise ParseError("unexpected EOF")
    return (NIL, None) if _newline(ch) else (COMMENT, None)


def parse(text: str, commands: tuple[str, ...]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    state, buf, name, role = NIL, "", "", ""
    for ch in text:
        nxt, r = _next(ch, state)
        if nxt != state:
            if state == NAME:
                if buf.lower() not in commands:
                    raise ParseError(f"invalid command {buf!r}")
                low = buf.lower()
                if low == "from":
                    name = "model"
                elif low == "parameter":
                    nxt = PARAMETER
                elif low == "message":
                    nxt, name = MESSAGE, low
                else:
                    name = low
            elif state == PARAMETER:
                name = buf
            elif state == MESSAGE:
                if buf not in ("system", "user", "assistant"):
                    raise ParseError("invalid message role")
                role = buf
            elif state == VALUE:
                value, ok = _unquote(buf.strip(" \t\n\r\v\f"))
                if not ok or _space(r or ""):
                    buf += r or ""
                    continue
                if role:
                    value, role = f"{role}: {value}", ""
                out.append((name, value))
            buf, state = "", nxt
        if r is not None and _is_print(r):
            buf += r
    if state == VALUE:
        value, ok = _unquote(buf.strip(" \t\n\r\v\f"))
        if not ok:
            raise ParseError("unexpected EOF")
        out.append((name, f"{role}: {value}" if role else value))
    elif state not in (NIL, COMMENT):
        raise ParseError("unexpected EOF")
    if not any(n == "model" for n, _ in out):
        raise ParseError("no FROM line")
    return out
