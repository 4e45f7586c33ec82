"""Read an engine's argv the way its argparse parser does, from the version's option table alone.

The table (targets/<t>/engine_options/<version>.json, extracted from the engine's real parser) gives
each option's spellings, dest, action, nargs, type and default. This module applies argparse's rules
to it: `--flag=value`, unique-prefix abbreviations (when the parser allows them), glued short options
(`-tp4`), store_true and `--no-`/`--disable-` pairs, repeated options (the last one wins; `append`
collects), nargs `?`/`*`/`+`, the value types (int, float, JSON, vLLM's human-readable `32k` = 32000 and
`32K` = 32768), and vLLM's dotted JSON options (`--speculative-config.method ngram`).

The result is the parsed configuration (dest -> value, the engine's defaults for the rest) and, per
dest, the tokens that gave it, so an importer can keep any option verbatim.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from collections.abc import Mapping, Sequence

from deployc.compiler.api.importing import Dialect


@cache
def table_data(path: str) -> dict[str, Any]:
    """An option table in argparse's shape (dest, action, nargs, type, default), whatever parser recorded it."""
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("parser") in ("clap", "click"):
        return from_clap(data)
    if str(data.get("parser", "")).endswith("common_params_parse"):
        return from_llama(data)
    return data


def from_llama(data: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp's table (common/arg.cpp: spellings, nargs, `negative` spellings, a value hint, env names; no
    defaults) as argparse entries: a value hinted N is a number where it reads as one (`-ngl all` stays text)."""
    options = {}
    for name, o in data["options"].items():
        entry = {"dest": name.lstrip("-").replace("-", "_"), "aliases": list(o.get("aliases") or ()),
                 "choices": o.get("choices"), "default": None, "deprecated": o.get("deprecated", False),
                 "env": o.get("env"), "negative": list(o.get("negative") or ()),
                 "type": "int_or_text" if o.get("value_hint") in ("N", "PORT") else "str"}
        if o.get("nargs") == 0:
            entry.update(action="store_true", nargs=0)
        else:
            entry.update(action="store", nargs=None if o.get("nargs", 1) == 1 else o.get("nargs"))
        options[name] = entry
    return {**data, "options": options, "positionals": []}


_RUST_INT = re.compile(r"(Option<)?(u8|u16|u32|u64|usize|i32|i64|isize)>?$")
_RUST_FLOAT = re.compile(r"(Option<)?(f32|f64)>?$")


def from_clap(data: dict[str, Any]) -> dict[str, Any]:
    """A clap table (TGI's launcher: takes_value, multiple, Rust types, string defaults, env names), or a click
    one (trtllm-serve: the same keys, `arguments` for its positionals), as argparse entries: a value-less
    option is a switch, a repeatable one appends, Rust integers and floats convert."""
    options = {}
    for name, o in data["options"].items():
        rust = str(o.get("type") or "")
        kind = "int" if _RUST_INT.match(rust) else "float" if _RUST_FLOAT.match(rust) else "str"
        default = o.get("default")
        if default is not None and kind != "str":
            try:
                default = int(default) if kind == "int" else float(default)
            except ValueError:
                pass
        entry = {"dest": o.get("dest") or name[2:].replace("-", "_"), "aliases": list(o.get("aliases") or ()),
                 "choices": o.get("choices"), "default": default, "deprecated": o.get("deprecated", False),
                 "env": o.get("env"), "type": kind}
        if not o.get("takes_value"):
            entry.update(action="store_true", nargs=0, default=bool(default) if default is not None else False)
        elif o.get("type") == "bool":
            entry.update(action="store", nargs=None, type="bool")
        else:
            entry.update(action="append" if o.get("multiple") else "store", nargs=None)
        options[name] = entry
    return {**data, "options": options, "positionals": []}


class ParseError(ValueError):
    pass


@dataclass
class Given:
    """One option as the command gave it (its last occurrence): the option's name, the tokens, where."""

    dest: str
    name: str
    tokens: list[str]
    index: int
    repeated: int = 1
    spelling: str = ""                 # the full spelling the token selected (an abbreviation expanded)
    values: list[str] = field(default_factory=list)   # the value texts as written

    def canonical(self) -> list[str]:
        """The option spelled in full, as the engine's own parser reads it (for targets.<name>.args)."""
        if self.name == "(positional)" or "." in (self.tokens[0].split("=", 1)[0] if self.tokens else ""):
            return list(self.tokens)
        flag = self.spelling or self.name
        if len(self.values) == 1 and (self.values[0].startswith("-") or "=" in self.tokens[0]):
            return [f"{flag}={self.values[0]}"]
        return [flag, *self.values]


@dataclass
class Parsed:
    values: dict[str, Any] = field(default_factory=dict)      # dest -> value, for the dests given
    given: dict[str, Given] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    unknown: list[tuple[list[str], int, str]] = field(default_factory=list)   # tokens, index, why
    positionals: list[str] = field(default_factory=list)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)           # dest -> the table's entry

    @property
    def config(self) -> dict[str, Any]:
        return {**self.defaults, **self.values}


def human_readable_int(text: str) -> int:
    """vLLM's human_readable_int (vllm/utils/argparse_utils.py, 0.34.0): `k`, `m`, `g`, `t` are powers of
    1000 (decimals allowed: `25.6k`), `K`, `M`, `G`, `T` powers of 1024 (whole numbers only)."""
    text = text.strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgGtT])", text)
    if m:
        number, suffix = m.groups()
        if suffix.islower():
            return int(float(number) * 1000 ** "kmgt".index(suffix) * 1000)
        if "." in number:
            raise ParseError(f"decimals are not allowed with binary suffixes like {suffix}")
        scale: int = 1024 ** ("KMGT".index(suffix) + 1)   # int ** int is Any in typeshed (a negative power is a float)
        return int(number) * scale
    return int(text)


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def convert(text: str, type_name: str | None) -> Any:
    """A value as the option's type reads it (the names the extractor recorded)."""
    t = (type_name or "str").removeprefix("optional_type(").rstrip(")")
    if t in ("None",) or type_name is None:
        t = "str"
    if t == "int":
        return int(text)
    if t == "int_or_text":
        return int(text) if text.lstrip("-").isdigit() else text
    if t == "float":
        return float(text)
    if t.startswith("human_readable_int_or_auto"):
        return -1 if text.strip() in ("-1",) or text.strip().lower() == "auto" else human_readable_int(text)
    if t.startswith("human_readable_int"):
        return human_readable_int(text)
    if t.startswith(("json", "parse_type(json", "parse_dataclass", "union_dict_and_str", "json_list_type")):
        return _json_or_text(text)
    return text


def _default(raw: Any) -> Any:
    return f"<{raw['repr']}>" if isinstance(raw, dict) and set(raw) == {"repr"} else raw


def _negative(spelling: str, name: str, entry: Mapping[str, Any] | None = None) -> bool:
    if entry is not None and entry.get("negative"):
        return spelling in entry["negative"]
    return spelling != name and spelling.startswith(("--no-", "--disable-")) and not name.startswith(
        ("--no-", "--disable-"))


def is_option(token: str) -> bool:
    """argparse's _parse_optional, near enough: '-' then anything but a negative number, and no space before
    any '=' (`-x; rm` is a value)."""
    if not token.startswith("-") or token == "-" or " " in token.split("=", 1)[0]:
        return False
    try:
        float(token)
    except ValueError:
        return True
    return False


class Table:
    """An option table as a parser: spelling -> (name, entry)."""

    def __init__(self, data: Mapping[str, Any], dialect: Dialect):
        self.data = data
        self.dialect = dialect
        self.by_spelling: dict[str, tuple[str, dict[str, Any]]] = {}
        for name, entry in sorted(data["options"].items()):
            if entry.get("action") == "help":
                continue
            for spelling in (name, *entry.get("aliases", ())):
                self.by_spelling.setdefault(spelling, (name, entry))

    def resolve(self, flag: str) -> tuple[str, str, dict[str, Any]] | list[str] | None:
        """(spelling, name, entry) for a flag as written; a list of candidates when ambiguous; None: unknown."""
        if self.dialect.underscores and flag.startswith("--"):
            head, dot, tail = flag[2:].partition(".")
            flag = "--" + head.replace("_", "-") + dot + tail
        if flag in self.by_spelling:
            return (flag, *self.by_spelling[flag])
        if self.dialect.abbreviations and flag.startswith("--"):
            hits = {s: self.by_spelling[s] for s in self.by_spelling if s.startswith("--") and s.startswith(flag)}
            names = {n for n, _ in hits.values()}
            if len(names) == 1 and len(hits) == 1:
                spelling = next(iter(hits))
                return (spelling, *hits[spelling])
            if len(names) > 1 or len(hits) > 1:
                return sorted(hits)
        return None

    def glued(self, flag: str) -> tuple[str, str, dict[str, Any], str] | None:
        """-tp4: (spelling, name, entry, value)."""
        for spelling in sorted((s for s in self.by_spelling if not s.startswith("--")), key=len, reverse=True):
            name, entry = self.by_spelling[spelling]
            if flag.startswith(spelling) and flag != spelling and entry.get("nargs") != 0:
                return spelling, name, entry, flag[len(spelling):]
        return None


def parse(argv: Sequence[str], data: Mapping[str, Any], dialect: Dialect) -> Parsed:
    table = Table(data, dialect)
    out = Parsed()
    for name, entry in data["options"].items():
        if entry.get("action") != "help":
            out.defaults[entry["dest"]] = _default(entry.get("default"))
            out.options[entry["dest"]] = {**entry, "name": name}
    for p in data.get("positionals") or ():
        out.defaults[p["dest"]] = _default(p.get("default"))
    dotted: dict[str, tuple[dict[str, Any], list[str], int]] = {}
    i = 0
    while i < len(argv):
        token, start = argv[i], i
        i += 1
        if token == "--":
            out.positionals += argv[i:]
            break
        if not is_option(token):
            out.positionals.append(token)
            continue
        flag, eq, after = token.partition("=") if dialect.inline_values else (token, "", "")
        inline: str | None = after if eq else None
        if dialect.dotted_json and flag.startswith("-") and "." in flag:
            head, _, path = flag.partition(".")
            hit = table.resolve(head)
            if isinstance(hit, tuple):
                if inline is None:
                    if i >= len(argv):
                        out.unknown.append(([token], start, f"{token} takes a value"))
                        continue
                    inline, i = argv[i], i + 1
                keys = path.split(".")
                if keys[-1].endswith("+"):
                    keys[-1] = keys[-1][:-1]
                    value: Any = inline.split(",")
                else:
                    value = _json_or_text(inline)
                    if isinstance(value, str):
                        try:
                            value = human_readable_int(value)
                        except (ValueError, ParseError):
                            pass
                tree, tokens, _ = dotted.setdefault(hit[2]["dest"], ({}, [], start))
                node = tree
                for k in keys[:-1]:
                    if not isinstance(node.get(k), dict):
                        node[k] = {}
                    node = node[k]
                node[keys[-1]] = value
                tokens += [token] if "=" in token else [token, inline]
                dotted[hit[2]["dest"]] = (tree, tokens, dotted[hit[2]["dest"]][2])
                out.options.setdefault(hit[2]["dest"], {**hit[2], "name": hit[1]})
                continue
        hit = table.resolve(flag)
        glued_value = None
        if hit is None and not flag.startswith("--") and dialect.glued_short:
            g = table.glued(flag)
            if g is not None:
                hit, glued_value = g[:3], g[3] + (f"={inline}" if inline is not None else "")
                inline = glued_value
        if hit is None or isinstance(hit, list):
            # an unknown or ambiguous option: its value (a following non-option token) goes with it
            tokens = [token]
            if inline is None and i < len(argv) and not is_option(argv[i]):
                tokens.append(argv[i])
                i += 1
            why = (f"{flag} is ambiguous in {data['engine']} {data['version']}: it could be " + ", ".join(hit[:6])
                   if isinstance(hit, list) else f"{flag} is not an option of {data['engine']} {data['version']}")
            out.unknown.append((tokens, start, why))
            continue
        spelling, name, entry = hit
        action, nargs, dest = entry.get("action"), entry.get("nargs"), entry["dest"]
        tokens = [token]
        if nargs == 0 or action in ("store_true", "store_false", "BooleanOptionalAction", "EnableDisableAction",
                                    "DeprecatedStoreTrueAction", "store_const", "DeprecatedStoreConstAction",
                                    "count"):
            if inline is not None:
                out.unknown.append(([token], start, f"{spelling} takes no value"))
                continue
            if action == "store_false":
                value = False
            elif action == "count":
                value = (out.values.get(dest) or 0) + 1
            elif action in ("store_const", "DeprecatedStoreConstAction") and "const" in entry:
                value = entry["const"]
            else:
                value = not _negative(spelling, name, entry)
        elif nargs in ("+", "*", "?") or (isinstance(nargs, int) and nargs > 1):
            items: list[str] = []
            if inline is not None:
                items.append(inline)
            else:
                while i < len(argv) and not is_option(argv[i]) and argv[i] != "--":
                    items.append(argv[i])
                    tokens.append(argv[i])
                    i += 1
                    if nargs == "?" or (isinstance(nargs, int) and len(items) == nargs):
                        break
            if nargs == "+" and not items:
                out.unknown.append(([token], start, f"{spelling} takes at least one value"))
                continue
            try:
                conv = [convert(x, entry.get("type")) for x in items]
            except (ValueError, ParseError) as exc:
                out.unknown.append((tokens, start, f"{spelling}: {exc}"))
                continue
            value = (conv[0] if conv else entry.get("const")) if nargs == "?" else conv
        else:
            if inline is None:
                if i >= len(argv) or (is_option(argv[i]) and not _negative_number(argv[i])):
                    out.unknown.append(([token], start, f"{spelling} takes a value"))
                    continue
                inline = argv[i]
                tokens.append(argv[i])
                i += 1
            try:
                value = convert(inline, entry.get("type"))
            except (ValueError, ParseError) as exc:
                out.unknown.append((tokens, start, f"{spelling}: {exc}"))
                continue
            if entry.get("choices") and str(value) not in [str(c) for c in entry["choices"]]:
                out.unknown.append((tokens, start, f"{value!r} is not a choice of {name}"))
                continue
        if action == "append":
            value = [*(out.values.get(dest) or []), value]
        previous = out.given.get(dest)
        out.values[dest] = value
        texts = [inline] if inline is not None else tokens[1:]
        out.given[dest] = Given(dest, name, tokens if previous is None or action != "append"
                                else previous.tokens + tokens, start, (previous.repeated + 1) if previous else 1,
                                spelling if glued_value is None else name,
                                texts if previous is None or action != "append" else previous.values + texts)
    # vLLM appends the dotted options, merged, after the rest: they replace an earlier whole-JSON value
    for dest, (tree, tokens, start) in dotted.items():
        out.values[dest] = tree
        previous = out.given.get(dest)
        out.given[dest] = Given(dest, out.options[dest]["name"], (previous.tokens if previous else []) + tokens,
                                start, (previous.repeated + 1) if previous else 1)
    if dialect.positional and out.positionals:
        out.values[dialect.positional] = out.positionals[0]
        out.given[dialect.positional] = Given(dialect.positional, "(positional)", [out.positionals[0]],
                                              0)
        out.positionals = out.positionals[1:]
    return out


def _negative_number(token: str) -> bool:
    return not is_option(token)
