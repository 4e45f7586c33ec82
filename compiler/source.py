"""Load deploy.yaml with ruamel.yaml into plain data plus a side table of positions.

The data handed to validation is plain ``dict``/``list``/scalars: positions are
never injected into it. ``Source.locate(path, anchor)`` answers 1-based
(line, column) for the key or the value at a spec path, falling back to the
nearest enclosing node that has a position.

Every way a file can fail to be YAML (syntax errors, tabs, duplicate keys,
invalid UTF-8, an empty file, a document that is not a mapping, custom tags,
alias bombs) becomes a Diagnostic, never an exception.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic, SpecPath, error

# A spec is a few dozen nodes; anything near this is an alias bomb or junk.
MAX_NODES = 20_000
MAX_DEPTH = 64
MAX_BYTES = 1_000_000

Position = tuple[int, int]  # 1-based line, column
_CORE_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}


@dataclass
class Source:
    """A loaded spec: display name, plain data, positions, and load diagnostics."""

    name: str
    data: dict[str, Any] | None
    diagnostics: list[Diagnostic]
    keys: dict[SpecPath, Position] = field(default_factory=dict)
    values: dict[SpecPath, Position] = field(default_factory=dict)
    digest: str = ""

    def locate(self, path: SpecPath | None, anchor: str = "value") -> Position | None:
        if path is None:
            return None
        path = tuple(path)
        while True:
            table = self.keys if anchor == "key" else self.values
            if path in table:
                return table[path]
            other = self.values if anchor == "key" else self.keys
            if path in other:
                return other[path]
            if not path:
                return (1, 1)
            # A missing key is reported at the mapping that should hold it.
            path = path[:-1]
            anchor = "key"

    def place(self, diagnostic: Diagnostic) -> Diagnostic:
        if diagnostic.line is not None:
            return diagnostic
        pos = self.locate(diagnostic.path, diagnostic.anchor)
        return diagnostic.at(self.name, *(pos or (None, None)))


def load(path: Path, display: str | None = None) -> Source:
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:  # the CLI checks existence first; this is the race/permission case
        return Source(name, None, [error("io", f"cannot read file: {exc.strerror or exc}")])
    return loads(raw, name)


def loads(raw: bytes, name: str = "deploy.yaml", fast: bool = True) -> Source:
    """fast=False: always the round-trip loader (tests compare the two)."""
    src = Source(name, None, [])

    def fail(code: str, message: str, line: int = 1, col: int = 1, hint: str | None = None) -> Source:
        src.diagnostics.append(error(code, message, hint=hint).at(name, line, col))
        return src

    if len(raw) > MAX_BYTES:
        return fail("yaml-too-large", f"file is {len(raw)} bytes; a deploy.yaml is at most {MAX_BYTES}",
                    hint="this does not look like a deployment spec")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return fail("yaml-encoding", f"invalid UTF-8 (byte 0x{raw[exc.start]:02x})", line, col,
                    hint="save the file as UTF-8")
    if "\x00" in text:
        off = text.index("\x00")
        return fail("yaml-syntax", "NUL character in file", *_offset_position(text, off),
                    hint="a deploy.yaml is plain text")
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        return fail("yaml-empty", "the file is empty",
                    hint="start from `deployc init`, or see the deploy.yaml reference in README.md")

    plain = _fast_load(text) if fast else None
    if plain is not None:
        src.data, src.keys, src.values = plain
        src.digest = _digest(src.data)
        return src

    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        docs = list(yaml.load_all(text))
    except MarkedYAMLError as exc:
        return _yaml_error(src, exc)
    except YAMLError as exc:
        return fail("yaml-syntax", str(exc).splitlines()[0] if str(exc) else "invalid YAML")
    except RecursionError:
        return fail("yaml-too-deep", "the document nests too deeply")
    except TypeError:  # a mapping used as a mapping key (`? {a: 1} : x`) cannot be hashed
        line, col = _complex_key(text)
        return fail("yaml-key", "mapping keys must be strings, not a mapping", line, col, hint="quote the key")
    except (ValueError, OverflowError):  # `!!float enable`, `!!int x`: a core tag its value cannot fill
        line, col, tag, value = _bad_tagged_scalar(text)
        return fail("yaml-tag", f"{value!r} cannot be read as {tag}", line, col,
                    hint="remove the tag, or give a value of that type")
    if len(docs) != 1:
        return fail("yaml-documents", f"expected one YAML document, found {len(docs)}",
                    hint="remove the extra `---` separators")
    doc = docs[0]
    if not isinstance(doc, dict):
        kind = "empty" if doc is None else type(_plain_scalar(doc)).__name__
        if isinstance(doc, list):
            kind = "a list"
        return fail("yaml-not-mapping", f"the document must be a mapping of keys to values, not {kind}",
                    hint="a deploy.yaml starts with `apiVersion: deployc/v1`")
    walker = _Walker(src)
    data = walker.convert(doc, (), 0)
    if src.diagnostics:
        src.data = None
        return src
    src.data = data
    src.digest = _digest(data)
    return src


def _digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


# Anchors, aliases, tags and merge keys: what the fast path leaves to the round-trip loader.
_UNUSUAL = re.compile(r"[&*!]|<<")
_fast_yaml: Any = None


def _fast_load(text: str) -> tuple[dict[str, Any], dict[SpecPath, Position], dict[SpecPath, Position]] | None:
    """A plain, valid spec through libyaml's composer (ruamel.yaml.clib), five to ten times faster
    than the pure-Python round-trip loader; None sends the text to that loader, which alone
    reports problems (syntax, duplicate keys, tags, aliases, non-string keys, limits). Both give
    the same data and positions (tests/test_source.py checks it over the samples and fuzz input)."""
    global _fast_yaml
    if _UNUSUAL.search(text):
        return None
    if _fast_yaml is None:
        from ruamel.yaml import YAML

        _fast_yaml = YAML(typ="safe", pure=False)
        if _fast_yaml.Parser.__name__ != "CParser":  # ruamel.yaml.clib is not installed
            _fast_yaml = False
    if _fast_yaml is False:
        return None
    try:
        docs = list(_fast_yaml.compose_all(text))
    except Exception:  # noqa: BLE001 - any trouble: the round-trip loader gives the diagnostic
        return None
    if len(docs) != 1 or type(docs[0]).__name__ != "MappingNode":
        return None
    keys: dict[SpecPath, Position] = {}
    values: dict[SpecPath, Position] = {}
    construct = _fast_yaml.constructor.construct_object
    count = 0

    def convert(node: Any, path: SpecPath, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            raise _Slow
        kind = type(node).__name__
        if kind == "MappingNode":
            out: dict[str, Any] = {}
            for knode, vnode in node.value:
                key = knode.value
                if knode.tag != "tag:yaml.org,2002:str" or key in out or _SURROGATE.search(key):
                    raise _Slow
                if vnode.value == "" and not vnode.style:
                    # `key:` with no value: libyaml places the null after the colon, the round-trip
                    # loader at the next token; that loader decides, so diagnostics do not move.
                    raise _Slow
                child = path + (key,)
                keys[child] = (knode.start_mark.line + 1, knode.start_mark.column + 1)
                values[child] = (vnode.start_mark.line + 1, vnode.start_mark.column + 1)
                out[key] = convert(vnode, child, depth + 1)
            return out
        if kind == "SequenceNode":
            items = []
            for i, item in enumerate(node.value):
                child = path + (i,)
                keys[child] = values[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
                items.append(convert(item, child, depth + 1))
            return items
        value = _plain_scalar(construct(node))
        if isinstance(value, str) and _SURROGATE.search(value):
            raise _Slow
        return value

    try:
        data = convert(docs[0], (), 0)
    except (_Slow, ValueError, OverflowError, TypeError, RecursionError):
        return None
    finally:
        _fast_yaml.constructor.constructed_objects.clear()
    return data, keys, values


class _Slow(Exception):
    """The fast path declines: the round-trip loader decides."""


def _complex_key(text: str) -> Position:
    """Where the first non-scalar mapping key starts; the composer builds nodes without hashing them."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    stack = list(YAML(typ="rt").compose_all(text))
    while stack:
        node = stack.pop(0)
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if not isinstance(key, ScalarNode):
                    return key.start_mark.line + 1, key.start_mark.column + 1
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return 1, 1


def _bad_tagged_scalar(text: str) -> tuple[int, int, str, str]:
    """The first scalar whose explicit core tag (!!float, !!int, ...) its value does not fit."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

    yaml = YAML(typ="safe", pure=True)
    stack = list(yaml.compose_all(text))
    while stack:
        node = stack.pop(0)
        if isinstance(node, MappingNode):
            for key, value in node.value:
                stack += [key, value]
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, ScalarNode) and node.tag.startswith("tag:yaml.org,2002:"):
            try:
                yaml.constructor.construct_object(node, deep=True)
            except Exception:  # noqa: BLE001 - any failure of the constructor is the answer
                return (node.start_mark.line + 1, node.start_mark.column + 1,
                        "!!" + node.tag.rsplit(":", 1)[1], str(node.value))
    return 1, 1, "its tag", ""


def _key_kind(key: Any) -> str:
    if isinstance(key, Mapping):  # ruamel's CommentedKeyMap is a Mapping, not a dict
        return "a mapping"
    if isinstance(key, (list, tuple)):
        return "a list"
    return repr(_plain_scalar(key))


def _offset_position(text: str, offset: int) -> Position:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _yaml_error(src: Source, exc: Any) -> Source:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    code, hint = "yaml-syntax", "check indentation, colons and quotes around this point"
    if "\\t" in problem or "'\\t'" in problem or "\t" in problem:
        code, problem = "yaml-tab", "tab character used for indentation"
        hint = "YAML indents with spaces; replace the tab with spaces"
    elif "duplicate key" in problem:
        code = "yaml-duplicate-key"
        first = exc.context_mark
        problem = problem.split(" with value")[0]
        hint = "each key may appear once in a mapping; remove or merge the repeated one"
        if first is not None:
            hint += f" (the mapping starts at line {first.line + 1})"
    elif "<stream end>" in problem and exc.context_mark is not None and exc.context:
        # "expected ']' but got end of file": the useful place is where the bracket opened.
        mark = exc.context_mark
        what = exc.context.removeprefix("while parsing ").removeprefix("a ")
        problem = f"{what} opened here is never closed ({problem})"
        hint = "close it, or write the list as indented `- item` lines"
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    src.diagnostics.append(error(code, problem, hint=hint).at(src.name, line, col))
    return src


def _plain_scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


class _Walker:
    """Converts ruamel's round-trip nodes to plain data, recording positions."""

    def __init__(self, src: Source) -> None:
        self.src = src
        self.nodes = 0

    def convert(self, node: Any, path: SpecPath, depth: int) -> Any:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            if not any(d.code == "yaml-too-large" for d in self.src.diagnostics):
                pos = self.src.locate(path) or (1, 1)
                self.src.diagnostics.append(error(
                    "yaml-too-large", f"the document expands to more than {MAX_NODES} nodes or "
                    f"{MAX_DEPTH} levels (anchors and aliases count each time they are used)",
                    hint="a deploy.yaml is a few dozen keys; remove the aliases").at(self.src.name, *pos))
            return None
        tag = getattr(getattr(node, "tag", None), "value", None)
        if tag and tag not in _CORE_TAGS:
            pos = self.src.locate(path) or (1, 1)
            self.src.diagnostics.append(error(
                "yaml-tag", f"YAML tag {tag} is not allowed in a deploy.yaml",
                hint="remove the tag; values are plain strings, numbers, booleans, lists and mappings",
            ).at(self.src.name, *pos))
            return None
        if isinstance(node, TaggedScalar):  # `!!str 12`: a core tag on a scalar
            return self.text(str(node.value), path)
        if isinstance(node, CommentedMap):
            out: dict[str, Any] = {}
            for key in node:
                try:
                    kpos, vpos = node.lc.key(key), node.lc.value(key)
                except (KeyError, TypeError):  # merged in by `<<:`: no record of its own
                    kpos = vpos = None
                if kpos is None or vpos is None:   # ruamel keeps none for some merged keys
                    kpos = vpos = (node.lc.line, node.lc.col)
                if not isinstance(key, str):
                    self.src.diagnostics.append(error(
                        "yaml-key", f"mapping keys must be strings, not {_key_kind(key)}",
                        hint="quote the key").at(self.src.name, kpos[0] + 1, kpos[1] + 1))
                    continue
                child = path + (key,)
                if _SURROGATE.search(key):
                    self.src.diagnostics.append(error(
                        "yaml-text", "a key holds an unpaired UTF-16 surrogate (a `\\ud800`-style escape), "
                        "which is not text", hint="write the character itself, or remove it")
                        .at(self.src.name, kpos[0] + 1, kpos[1] + 1))
                    continue
                self.src.keys[child] = (kpos[0] + 1, kpos[1] + 1)
                self.src.values[child] = (vpos[0] + 1, vpos[1] + 1)
                out[key] = self.convert(node[key], child, depth + 1)
            return out
        if isinstance(node, CommentedSeq):
            items = []
            for i, item in enumerate(node):
                try:
                    ipos = node.lc.item(i) or (node.lc.line, node.lc.col)
                except (KeyError, TypeError):
                    ipos = (node.lc.line, node.lc.col)
                child = path + (i,)
                self.src.keys[child] = self.src.values[child] = (ipos[0] + 1, ipos[1] + 1)
                items.append(self.convert(item, child, depth + 1))
            return items
        value = _plain_scalar(node)
        return self.text(value, path) if isinstance(value, str) else value

    def text(self, value: str, path: SpecPath) -> str | None:
        """Strings must be encodable text: a `"\\ud800"` escape yields a lone surrogate, which is not."""
        if not _SURROGATE.search(value):
            return value
        self.src.diagnostics.append(error(
            "yaml-text", "the value holds an unpaired UTF-16 surrogate (a `\\ud800`-style escape), which is "
            "not text", hint="write the character itself, or remove it").at(
                self.src.name, *(self.src.locate(path) or (1, 1))))
        return None
